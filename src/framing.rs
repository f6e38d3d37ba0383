//! Finding SIP messages in bytes (RFC 3261 §18.3), sans-IO.
//!
//! [`StreamFramer`] is TCP-like: the caller pushes bytes as they arrive and pulls
//! [`FrameEvent`]s. CRLF keep-alives between messages are skipped, Content-Length is required and
//! delimits the body, and memory is bounded by the largest message accepted: a message over the
//! cap is refused and its body skipped without being buffered.
//!
//! Bytes that are not a SIP message are reported with their offset and length and the offset of
//! the next start line. What happens next is the caller's choice, made once at construction
//! ([`OnGarbage`]): a file being inspected resynchronises; a live connection stops, because
//! resynchronising there would let a peer smuggle a request past a proxy.
//!
//! [`datagram`] frames one datagram (or one file): without Content-Length the body runs to the
//! end, and octets after the body are kept aside (RFC 4475 `dblreq`).

use crate::error::{ParseError, ParseErrorKind};
use crate::message::{
    body_end, parse_start_line, scan_head_after_start, Framing, LineEnding, Message, ParseOptions,
    DEFAULT_MAX_SIZE,
};

/// What a [`StreamFramer`] does after bytes that are not SIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnGarbage {
    /// Skip to the next start line and go on (inspecting a file or a capture).
    Resync,
    /// Yield nothing more (a live connection: close it).
    Stop,
}

/// One result of framing, with offsets counted from the first byte ever pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameEvent {
    /// A complete message that starts at `offset`.
    Message { offset: u64, message: Message },
    /// A message whose start line was found but which was refused. `raw` holds its bytes when
    /// they were buffered and are within the size cap (not for a message refused for its size,
    /// nor for a refused head whose extent runs past the cap).
    Refused {
        offset: u64,
        len: u64,
        error: ParseError,
        raw: Option<Vec<u8>>,
    },
    /// Bytes that are not SIP. `resume_at` is where the next start line begins, if one was found.
    Garbage {
        offset: u64,
        len: u64,
        resume_at: Option<u64>,
    },
}

impl FrameEvent {
    /// Where the event's bytes start in the stream.
    pub fn offset(&self) -> u64 {
        match self {
            FrameEvent::Message { offset, .. }
            | FrameEvent::Refused { offset, .. }
            | FrameEvent::Garbage { offset, .. } => *offset,
        }
    }
}

/// Frames a byte stream into messages.
#[derive(Debug)]
pub struct StreamFramer {
    /// Bytes read, in `buf[..filled]`; past it, room that [`StreamFramer::read_from`] reads into.
    buf: Vec<u8>,
    filled: usize,
    /// Index in `buf` of the first byte not yet framed.
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Bytes of an oversized body still to discard.
    skip: u64,
    /// How many bytes from `pos` are known not to hold the empty line that ends a head.
    head_searched: usize,
    /// Where the search for the next start line in garbage at `pos` goes on (a line start).
    garbage_searched: usize,
    eof: bool,
    stopped: bool,
    max_size: usize,
    on_garbage: OnGarbage,
    /// Start and end offsets of garbage consumed and not yet reported: a long run is reported
    /// once, when it ends, however many buffers it spans.
    garbage_run: Option<(u64, u64)>,
    /// The event that ended a garbage run, given out after the run's report.
    held: Option<FrameEvent>,
}

impl StreamFramer {
    pub fn new(on_garbage: OnGarbage) -> Self {
        Self::with_max_size(on_garbage, DEFAULT_MAX_SIZE)
    }

    pub fn with_max_size(on_garbage: OnGarbage, max_size: usize) -> Self {
        Self {
            buf: Vec::new(),
            filled: 0,
            pos: 0,
            base: 0,
            skip: 0,
            head_searched: 0,
            garbage_searched: 0,
            eof: false,
            stopped: false,
            max_size,
            on_garbage,
            garbage_run: None,
            held: None,
        }
    }

    /// Adds bytes read from the stream. Bytes of an oversized body that is being skipped are
    /// dropped here, never buffered.
    pub fn push(&mut self, mut data: &[u8]) {
        if self.stopped {
            return;
        }
        if self.skip > 0 {
            let n = (self.skip.min(data.len() as u64)) as usize;
            self.skip -= n as u64;
            self.base += n as u64;
            data = &data[n..];
        }
        self.compact();
        self.buf.truncate(self.filled);
        self.buf.extend_from_slice(data);
        self.filled = self.buf.len();
    }

    /// One `read` of at most `max` bytes from `reader`, straight into the buffer: what
    /// [`StreamFramer::push`] of the bytes read would do, without copying them from a buffer
    /// of the caller's. Returns what `read` returned (0 at the end of the stream).
    pub fn read_from(
        &mut self,
        reader: &mut dyn std::io::Read,
        max: usize,
    ) -> std::io::Result<usize> {
        self.compact();
        let start = self.filled;
        if self.buf.len() < start + max {
            self.buf.resize(start + max, 0);
        }
        let n = reader.read(&mut self.buf[start..start + max])?;
        if self.stopped {
            return Ok(n);
        }
        let skipped = self.skip.min(n as u64) as usize;
        if skipped > 0 {
            self.buf.copy_within(start + skipped..start + n, start);
            self.skip -= skipped as u64;
            self.base += skipped as u64;
        }
        self.filled = start + n - skipped;
        Ok(n)
    }

    /// Moves the bytes not yet framed to the front once at least half the buffer is framed.
    fn compact(&mut self) {
        if self.pos > 0 && self.pos >= self.filled / 2 {
            self.buf.copy_within(self.pos..self.filled, 0);
            self.filled -= self.pos;
            self.base += self.pos as u64;
            self.pos = 0;
        }
    }

    /// Marks the end of the stream: what is left is reported by the next calls to
    /// [`StreamFramer::next_event`].
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// True when the framer yields nothing more because it met garbage in [`OnGarbage::Stop`]
    /// mode.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Stream offset of the next byte to frame.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Bytes buffered and not yet framed.
    pub fn buffered(&self) -> usize {
        self.filled - self.pos
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.head_searched = 0;
        self.garbage_searched = 0;
    }

    /// The next event, or `None` when more bytes are needed (or, after `finish`, when all is
    /// reported). Consecutive garbage is one event, however long it is.
    pub fn next_event(&mut self) -> Option<FrameEvent> {
        if let Some(event) = self.held.take() {
            return Some(event);
        }
        loop {
            let event = self.next_framed();
            if let Some(FrameEvent::Garbage {
                offset,
                len,
                resume_at,
            }) = event
            {
                let start = self.garbage_run.map_or(offset, |(start, _)| start);
                let end = offset + len;
                if resume_at.is_none() && !self.eof && self.on_garbage == OnGarbage::Resync {
                    self.garbage_run = Some((start, end));
                    continue;
                }
                self.garbage_run = None;
                return Some(FrameEvent::Garbage {
                    offset: start,
                    len: end - start,
                    resume_at,
                });
            }
            let Some((start, end)) = self.garbage_run else {
                return event;
            };
            let resume_at = match &event {
                Some(event) => Some(event.offset()),
                None if self.eof => None,
                None => return None,
            };
            self.garbage_run = None;
            self.held = event;
            return Some(FrameEvent::Garbage {
                offset: start,
                len: end - start,
                resume_at,
            });
        }
    }

    /// One framing step: garbage is reported as far as it is buffered.
    fn next_framed(&mut self) -> Option<FrameEvent> {
        if self.stopped || self.skip > 0 {
            return None;
        }
        // Keep-alives (RFC 5626 CRLF pings, and blank lines between messages) are not messages.
        let keepalive = self.buf[self.pos..self.filled]
            .iter()
            .take_while(|&&c| c == b'\r' || c == b'\n')
            .count();
        self.consume(keepalive);
        let data = &self.buf[self.pos..self.filled];
        if data.is_empty() {
            return None;
        }
        let offset = self.offset();
        let Some(first_lf) = memchr::memchr(b'\n', data) else {
            if self.eof || data.len() > self.max_size {
                return Some(self.garbage_or_truncated(offset, data.len()));
            }
            return None;
        };
        let first_line = trim_cr(&data[..first_lf]);
        let Ok(start) = parse_start_line(first_line) else {
            return self.garbage(offset);
        };
        let ending = if first_line.len() < first_lf {
            LineEnding::CrLf
        } else {
            LineEnding::Lf
        };
        let separator: &[u8] = match ending {
            LineEnding::CrLf => b"\r\n\r\n",
            LineEnding::Lf => b"\n\n",
        };
        // A head still arriving: search only the new bytes for its empty line, so a peer that
        // sends a large head in tiny pieces costs linear, not quadratic, time.
        let waiting_for_head = self.head_searched > 0 && {
            let from = self.head_searched.saturating_sub(separator.len() - 1);
            memchr::memmem::find(&data[from..], separator).is_none()
        };
        // One pass in the common case: the scan stops at the empty line. Only when it fails is
        // the empty line searched for, to tell a defective head from one not yet complete.
        let scanned = if waiting_for_head {
            Err(ParseError::new(ParseErrorKind::Incomplete, data.len()))
        } else {
            scan_head_after_start(data, start)
        };
        let head = match scanned {
            Ok(head) => head,
            Err(error) => {
                if !waiting_for_head && memchr::memmem::find(data, separator).is_some() {
                    return Some(self.refuse_unframed(offset, error));
                }
                self.head_searched = data.len();
                if data.len() > self.max_size {
                    let error = ParseError::new(
                        ParseErrorKind::TooLarge {
                            limit: self.max_size,
                        },
                        self.max_size,
                    );
                    return Some(self.refuse_unframed(offset, error));
                }
                if self.eof {
                    let len = data.len();
                    let raw = data.to_vec();
                    self.consume(len);
                    return Some(FrameEvent::Refused {
                        offset,
                        len: len as u64,
                        error: ParseError::new(ParseErrorKind::Incomplete, len),
                        raw: Some(raw),
                    });
                }
                return None;
            }
        };
        let head_len = head.body_start;
        let body_len = head.content_length.unwrap_or(0);
        let total = head_len as u64 + body_len as u64;
        if head.content_length.is_none() {
            let error = ParseError::new(ParseErrorKind::MissingContentLength, head_len);
            let raw = data[..head_len].to_vec();
            self.consume(head_len);
            return Some(FrameEvent::Refused {
                offset,
                len: head_len as u64,
                error,
                raw: Some(raw),
            });
        }
        if total > self.max_size as u64 {
            // Refused by size: drop what is buffered of it and skip the rest as it arrives.
            let buffered = data.len().min(total as usize);
            self.consume(buffered);
            self.skip = total - buffered as u64;
            if self.skip > 0 {
                self.base += self.pos as u64;
                self.filled = 0;
                self.pos = 0;
            }
            return Some(FrameEvent::Refused {
                offset,
                len: total,
                error: ParseError::new(
                    ParseErrorKind::TooLarge {
                        limit: self.max_size,
                    },
                    self.max_size,
                ),
                raw: None,
            });
        }
        let total = total as usize;
        if data.len() < total {
            if self.eof {
                let available = data.len() - head_len;
                let raw = data.to_vec();
                let len = data.len();
                self.consume(len);
                return Some(FrameEvent::Refused {
                    offset,
                    len: len as u64,
                    error: ParseError::new(
                        ParseErrorKind::BodyTooShort {
                            declared: body_len,
                            available,
                        },
                        len,
                    ),
                    raw: Some(raw),
                });
            }
            return None;
        }
        let bytes = data[..total].to_vec();
        self.consume(total);
        let end = match body_end(&head, total, Framing::Stream) {
            Ok(end) => end,
            Err(error) => {
                return Some(FrameEvent::Refused {
                    offset,
                    len: total as u64,
                    error,
                    raw: Some(bytes),
                })
            }
        };
        Some(FrameEvent::Message {
            offset,
            message: Message::from_head(bytes, head, end),
        })
    }

    /// A message whose start line was valid but whose head is not: its extent is unknown, so
    /// the bytes up to the next start line (or all of them when stopping) are refused.
    fn refuse_unframed(&mut self, offset: u64, error: ParseError) -> FrameEvent {
        let data = &self.buf[self.pos..self.filled];
        let len = match self.on_garbage {
            OnGarbage::Resync => next_start_line(data).unwrap_or(data.len()),
            OnGarbage::Stop => data.len(),
        };
        let raw = (len <= self.max_size).then(|| data[..len].to_vec());
        self.consume(len);
        if self.on_garbage == OnGarbage::Stop {
            self.stopped = true;
        }
        FrameEvent::Refused {
            offset,
            len: len as u64,
            error,
            raw,
        }
    }

    /// Bytes that do not start with a start line: report them up to the next start line.
    fn garbage(&mut self, offset: u64) -> Option<FrameEvent> {
        let data = &self.buf[self.pos..self.filled];
        // Garbage arriving in small pieces: lines already checked are not checked again.
        match next_start_line_from(data, self.garbage_searched) {
            Ok(next) => {
                let resume_at = offset + next as u64;
                if self.on_garbage == OnGarbage::Stop {
                    self.stopped = true;
                } else {
                    self.consume(next);
                }
                Some(FrameEvent::Garbage {
                    offset,
                    len: next as u64,
                    resume_at: Some(resume_at),
                })
            }
            Err(searched) => {
                self.garbage_searched = searched;
                // The next start line may still arrive: wait, unless the stream has ended, the
                // garbage already exceeds what one message may hold, or this is a live
                // connection, which ends at the garbage anyway (a peer must not hold it open
                // with bytes that can never be a message).
                let live = self.on_garbage == OnGarbage::Stop;
                if !self.eof && !live && data.len() <= self.max_size {
                    return None;
                }
                // Keep an unterminated last line: it may be the start of a message.
                let len = match memchr::memrchr(b'\n', data) {
                    Some(lf) if !self.eof && !live => lf + 1,
                    _ => data.len(),
                };
                Some(self.garbage_or_truncated(offset, len))
            }
        }
    }

    fn garbage_or_truncated(&mut self, offset: u64, len: usize) -> FrameEvent {
        self.consume(len);
        if self.on_garbage == OnGarbage::Stop {
            self.stopped = true;
        }
        FrameEvent::Garbage {
            offset,
            len: len as u64,
            resume_at: None,
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The offset of the first complete line after the one at offset 0 that parses as a start line.
fn next_start_line(data: &[u8]) -> Option<usize> {
    next_start_line_from(data, 0).ok()
}

/// As [`next_start_line`], starting at `from` (0, or a line start returned earlier as `Err`):
/// `Ok(offset)` of the start line, or `Err(offset)` of the first line not yet complete, where a
/// later search may go on.
fn next_start_line_from(data: &[u8], from: usize) -> Result<usize, usize> {
    let mut line_start = from.min(data.len());
    while let Some(lf) = memchr::memchr(b'\n', &data[line_start..]) {
        let line = trim_cr(&data[line_start..line_start + lf]);
        if line_start > 0 && parse_start_line(line).is_ok() {
            return Ok(line_start);
        }
        line_start += lf + 1;
    }
    Err(line_start)
}

/// One datagram (or one file) holding one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub message: Message,
    /// Octets after the body that Content-Length delimits: not part of the message.
    pub trailing: Option<Vec<u8>>,
}

/// Frames one datagram: the body runs to the end unless Content-Length says otherwise.
pub fn datagram(bytes: impl Into<Vec<u8>>, max_size: usize) -> Result<Datagram, ParseError> {
    let options = ParseOptions {
        framing: Framing::Datagram,
        fragment: false,
        max_size,
    };
    let (message, trailing) = Message::parse_with(bytes, &options)?;
    Ok(Datagram { message, trailing })
}

#[cfg(test)]
mod tests;
