//! The scripted relay: NDJSON in, NDJSON out, the same core without sockets.
//!
//! Each input line is `{"from":"udp:192.0.2.7:5060","time":12,"message":"INVITE …"}` (`time`
//! in seconds, optional, defaults to the previous line's; `message` the SIP text, JSON-escaped,
//! bytes kept: only valid UTF-8 messages can be scripted). For each message the relay would
//! send, one line `{"in":1,"to":"udp:192.0.2.9:5060","message":"…"}` is written, `in` being
//! the input line number it answers.

use super::core::{Relay, Verdict};
use super::Peer;
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, Write};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    from: String,
    #[serde(default)]
    time: Option<u64>,
    message: String,
}

#[derive(Debug, Serialize)]
struct Output<'a> {
    #[serde(rename = "in")]
    line: usize,
    to: String,
    /// Where a stream response goes if its connection is gone (RFC 3261 §18.2.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback: Option<String>,
    message: &'a str,
}

/// What a stdio run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StdioSummary {
    pub messages: u64,
    pub sent: u64,
    pub answered: u64,
    pub dropped: u64,
    /// Input lines that were not a valid record.
    pub bad_lines: u64,
}

/// Runs the relay over NDJSON lines; `log` gets one line per decision (and per bad line).
pub fn run(
    relay: &mut Relay,
    input: impl BufRead,
    mut output: impl Write,
    mut log: Option<&mut dyn Write>,
) -> io::Result<StdioSummary> {
    let mut summary = StdioSummary::default();
    let mut now = 0;
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        let number = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str::<Input>(&line)
            .map_err(|e| e.to_string())
            .and_then(|r| {
                let from: Peer = r.from.parse().map_err(|e: super::BadPeer| e.to_string())?;
                Ok((from, r))
            });
        let (from, record) = match record {
            Ok(r) => r,
            Err(e) => {
                summary.bad_lines += 1;
                if let Some(l) = log.as_mut() {
                    writeln!(l, "line {number}: not a relay input record: {e}")?;
                }
                continue;
            }
        };
        now = record.time.unwrap_or(now);
        summary.messages += 1;
        let decision = relay.handle_bytes(record.message.as_bytes(), from, now);
        match decision.verdict {
            Verdict::Forwarded => {}
            Verdict::Answered(_) => summary.answered += 1,
            Verdict::Dropped => summary.dropped += 1,
        }
        if let Some(l) = log.as_mut() {
            writeln!(l, "line {number}: {}", decision.note)?;
        }
        for transmit in &decision.transmits {
            summary.sent += 1;
            let text = String::from_utf8_lossy(&transmit.bytes);
            let out = Output {
                line: number,
                to: transmit.to.to_string(),
                fallback: transmit.fallback.map(|p| p.to_string()),
                message: &text,
            };
            serde_json::to_writer(&mut output, &out)?;
            output.write_all(b"\n")?;
        }
    }
    output.flush()?;
    Ok(summary)
}
