//! Reads a capture (a path, or `-` for stdin) through the capture layer and parses every UDP
//! SIP message; prints one line per message (frame, Call-ID, CSeq) unless `--count`, then the
//! summary on stderr. Used by `scripts/bench/capture.sh` until the filter tools exist.

use anyhow::{Context, Result};
use sipsec::capture::{CaptureEvent, CaptureReader, Limits};
use sipsec::{HeaderKind, Message};
use std::io::{BufWriter, Read, Write};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count_only = args.iter().any(|a| a == "--count");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .context("usage: capture_scan [--count] FILE|-")?;
    let input: Box<dyn Read> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(path)?)
    };
    let mut reader = CaptureReader::new(input, Limits::default())?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let (mut messages, mut unparsed, mut stream_bytes) = (0u64, 0u64, 0u64);
    while let Some(event) = reader.next_event() {
        match event {
            CaptureEvent::Datagram { origin, payload } => match Message::parse(payload) {
                Ok(m) => {
                    messages += 1;
                    if !count_only {
                        let field = |k| {
                            String::from_utf8_lossy(m.value(k).unwrap_or_default()).into_owned()
                        };
                        let frame = origin.frames.last().copied().unwrap_or_default();
                        writeln!(
                            out,
                            "{frame}\t{}\t{}",
                            field(HeaderKind::CallId),
                            field(HeaderKind::CSeq)
                        )?;
                    }
                }
                Err(_) => unparsed += 1,
            },
            CaptureEvent::StreamData { bytes, .. } => stream_bytes += bytes.len() as u64,
            CaptureEvent::Problem(p) if !count_only => eprintln!("{p}"),
            _ => {}
        }
    }
    out.flush()?;
    eprintln!(
        "{} | UDP messages parsed {messages}, unparsed {unparsed}, TCP stream bytes {stream_bytes}",
        reader.summary()
    );
    Ok(())
}
