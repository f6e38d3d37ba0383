//! The I/O adapter: reads pcap or pcapng from any `Read` (a file, stdin) with a fixed buffer and
//! feeds the decoder record by record.

use super::{
    CaptureError, CaptureEvent, CaptureSummary, Decoder, Frame, Limits, ProblemKind, Timestamp,
};
use pcap_file::pcap::{PcapReader, PcapTsResolution};
use pcap_file::pcapng::{Block, PcapNgReadError, PcapNgReader};
use std::collections::VecDeque;
use std::io::{Chain, Cursor, ErrorKind, Read};

/// The read buffer; a record larger than this cannot be read (256 KiB is the largest any capture
/// tool writes).
const BUFFER: usize = 4 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    Pcap,
    PcapNg,
}

/// Recognises a capture by its first four bytes (both byte orders, µs and ns pcap).
pub fn sniff_format(magic: [u8; 4]) -> Option<CaptureFormat> {
    match u32::from_le_bytes(magic) {
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 => Some(CaptureFormat::Pcap),
        0x0a0d_0d0a => Some(CaptureFormat::PcapNg),
        _ => None,
    }
}

type Sniffed<R> = Chain<Cursor<[u8; 4]>, R>;

enum Source<R: Read> {
    Pcap {
        reader: PcapReader<Sniffed<R>>,
        linktype: u32,
        micro: bool,
    },
    PcapNg(PcapNgReader<Sniffed<R>>),
}

/// Reads a capture and yields [`CaptureEvent`]s, in capture order, with constant memory.
pub struct CaptureReader<R: Read> {
    source: Source<R>,
    decoder: Decoder,
    queue: VecDeque<CaptureEvent>,
    scratch: Vec<CaptureEvent>,
    done: bool,
    last_ts: Timestamp,
}

impl<R: Read> CaptureReader<R> {
    /// Sniffs the format from the first four bytes and reads the file header.
    pub fn new(mut input: R, limits: Limits) -> Result<Self, CaptureError> {
        let mut magic = [0u8; 4];
        input.read_exact(&mut magic)?;
        let format = sniff_format(magic).ok_or(CaptureError::NotACapture(magic))?;
        let chained = Cursor::new(magic).chain(input);
        let source = match format {
            CaptureFormat::Pcap => {
                let reader = PcapReader::with_capacity(chained, BUFFER)
                    .map_err(|e| CaptureError::BadHeader(e.to_string()))?;
                let header = reader.header();
                Source::Pcap {
                    linktype: u32::from(header.datalink),
                    micro: header.ts_resolution == PcapTsResolution::MicroSecond,
                    reader,
                }
            }
            CaptureFormat::PcapNg => Source::PcapNg(
                PcapNgReader::with_capacity(chained, BUFFER)
                    .map_err(|e| CaptureError::BadHeader(e.to_string()))?,
            ),
        };
        Ok(Self {
            source,
            decoder: Decoder::new(limits),
            queue: VecDeque::new(),
            scratch: Vec::new(),
            done: false,
            last_ts: Timestamp::default(),
        })
    }

    pub fn format(&self) -> CaptureFormat {
        match self.source {
            Source::Pcap { .. } => CaptureFormat::Pcap,
            Source::PcapNg(_) => CaptureFormat::PcapNg,
        }
    }

    pub fn summary(&self) -> &CaptureSummary {
        self.decoder.summary()
    }

    pub fn next_event(&mut self) -> Option<CaptureEvent> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            self.read_record();
            self.queue.extend(self.scratch.drain(..));
        }
    }

    /// Reads one record (or block) and decodes it into `scratch`.
    fn read_record(&mut self) {
        let out = &mut self.scratch;
        let decoder = &mut self.decoder;
        let number = decoder.summary().frames + 1;
        let fatal = match &mut self.source {
            Source::Pcap {
                reader,
                linktype,
                micro,
            } => match reader.next_raw_packet() {
                None => None,
                Some(Ok(raw)) => {
                    // Duration::new carries an out-of-range fraction into the seconds.
                    let frac = if *micro {
                        u64::from(raw.ts_frac) * 1000
                    } else {
                        u64::from(raw.ts_frac)
                    };
                    let ts = std::time::Duration::new(u64::from(raw.ts_sec), 0)
                        + std::time::Duration::from_nanos(frac);
                    let timestamp = Timestamp::from_duration(ts);
                    self.last_ts = timestamp;
                    let frame = Frame {
                        number,
                        linktype: *linktype,
                        timestamp,
                        data: &raw.data,
                        orig_len: raw.orig_len,
                    };
                    decoder.push(&frame, out);
                    return;
                }
                Some(Err(e)) => Some(describe(e.to_string(), source_eof(&e))),
            },
            Source::PcapNg(reader) => match reader.next_block() {
                None => None,
                Some(Ok((block, state))) => {
                    let (interface, timestamp, data, orig_len) = match block {
                        Block::EnhancedPacket(p) => (
                            p.interface_id,
                            Timestamp::from_duration(p.timestamp),
                            p.data,
                            p.original_len,
                        ),
                        Block::Packet(p) => (
                            u32::from(p.interface_id),
                            Timestamp::from_duration(p.timestamp),
                            p.data,
                            p.original_len,
                        ),
                        Block::SimplePacket(p) => (0, self.last_ts, p.data, p.original_len),
                        _ => return,
                    };
                    self.last_ts = timestamp;
                    let Some(idb) = state.interfaces().get(interface as usize) else {
                        let frame = decoder.skip_frame();
                        decoder.report(frame, ProblemKind::UnknownInterface { interface }, out);
                        return;
                    };
                    let frame = Frame {
                        number,
                        linktype: u32::from(idb.linktype),
                        timestamp,
                        data: &data,
                        orig_len,
                    };
                    decoder.push(&frame, out);
                    return;
                }
                Some(Err(PcapNgReadError::Io(e))) => Some(describe(
                    e.to_string(),
                    e.kind() == ErrorKind::UnexpectedEof,
                )),
                Some(Err(e)) => {
                    // A block whose content is bad but whose frame is sound: skip it and go on.
                    let detail = e.to_string();
                    match reader.next_raw_block() {
                        Some(Ok((raw, _))) => {
                            if matches!(raw.type_, 2 | 3 | 6) {
                                let frame = decoder.skip_frame();
                                decoder.report(frame, ProblemKind::BadRecord { detail }, out);
                            } else {
                                decoder.report(number, ProblemKind::BadRecord { detail }, out);
                            }
                            return;
                        }
                        _ => Some(ProblemKind::BadRecord { detail }),
                    }
                }
            },
        };
        if let Some(kind) = fatal {
            decoder.report(number, kind, out);
        }
        decoder.finish(out);
        self.done = true;
    }
}

fn source_eof(e: &pcap_file::pcap::PcapReadError) -> bool {
    matches!(e, pcap_file::pcap::PcapReadError::Io(io) if io.kind() == ErrorKind::UnexpectedEof)
}

fn describe(detail: String, eof: bool) -> ProblemKind {
    if eof {
        ProblemKind::TruncatedFile {
            detail: "the file ends inside a record, or a record claims more bytes than any capture holds".into(),
        }
    } else {
        ProblemKind::BadRecord { detail }
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = CaptureEvent;

    fn next(&mut self) -> Option<CaptureEvent> {
        self.next_event()
    }
}
