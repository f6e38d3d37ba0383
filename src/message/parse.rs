//! Indexing a message's bytes: one pass over the header section that records spans, never copies.

use super::{HeaderField, HeaderKind, LineEnding, Message, Span, StartIndex};
use crate::error::{ParseError, ParseErrorKind, ParseResult};
use crate::message::name::is_token_char;

/// How the end of a message is found (RFC 3261 §18.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// TCP-like: Content-Length is required and delimits the body.
    Stream,
    /// One message per datagram or file: without Content-Length the body runs to the end;
    /// octets after the body Content-Length delimits are kept aside.
    #[default]
    Datagram,
}

/// Rules for parsing one message.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    pub framing: Framing,
    /// Parse as a `message/sipfrag` (RFC 3420): start line and headers optional.
    pub fragment: bool,
    /// Largest message accepted, in bytes.
    pub max_size: usize,
}

/// 1 MiB: far above any real SIP message, S/MIME included, yet small enough to hold in memory.
pub const DEFAULT_MAX_SIZE: usize = 1 << 20;

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            framing: Framing::Datagram,
            fragment: false,
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}

/// The index of a header section, with spans relative to the bytes scanned.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub start: Option<StartIndex>,
    pub start_line: Span,
    pub fields: Vec<HeaderField>,
    pub separator: Span,
    /// Where the body starts (after the empty line, or the end of the input for a fragment
    /// without one).
    pub body_start: usize,
    pub line_ending: LineEnding,
    pub content_length: Option<usize>,
}

pub(crate) struct Parsed {
    pub message: Message,
    pub trailing_bytes: Option<Vec<u8>>,
}

fn err(kind: ParseErrorKind, at: usize) -> ParseError {
    ParseError::new(kind, at)
}

/// The line ending a message uses, judged by its first line.
pub(crate) fn detect_line_ending(bytes: &[u8]) -> Option<LineEnding> {
    let lf = memchr::memchr(b'\n', bytes)?;
    Some(if lf > 0 && bytes[lf - 1] == b'\r' {
        LineEnding::CrLf
    } else {
        LineEnding::Lf
    })
}

/// Finds the end of the line that starts at `from`: returns (end of content, start of next
/// line), or `None` when the line is not terminated within `bytes`. Refuses bare CR / LF.
fn next_line(bytes: &[u8], from: usize, ending: LineEnding) -> ParseResult<Option<(usize, usize)>> {
    let rest = &bytes[from..];
    match ending {
        LineEnding::CrLf => match memchr::memchr2(b'\r', b'\n', rest) {
            None => Ok(None),
            Some(i) if rest[i] == b'\n' => Err(err(ParseErrorKind::BareLineBreak, from + i)),
            Some(i) => match rest.get(i + 1) {
                Some(b'\n') => Ok(Some((from + i, from + i + 2))),
                Some(_) => Err(err(ParseErrorKind::BareLineBreak, from + i)),
                None => Ok(None),
            },
        },
        LineEnding::Lf => match memchr::memchr2(b'\r', b'\n', rest) {
            None => Ok(None),
            Some(i) if rest[i] == b'\n' => Ok(Some((from + i, from + i + 1))),
            Some(i) if rest.get(i + 1) == Some(&b'\n') => {
                Err(err(ParseErrorKind::MixedLineEnds, from + i))
            }
            Some(i) => Err(err(ParseErrorKind::BareLineBreak, from + i)),
        },
    }
}

fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Parses a start line (without its line end). Strict: exactly one SP between the parts of a
/// request line (RFC 4475 `lwsstart`, `trws`), no white space or angle brackets in the
/// Request-URI (`lwsruri`, `ltgtruri`), version SIP/2.0 (`badvers`), a 3-digit code.
pub(crate) fn parse_start_line(line: &[u8]) -> ParseResult<StartIndex> {
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        return parse_status_line(line);
    }
    let method_end = line.iter().position(|&c| c == b' ').ok_or(err(
        ParseErrorKind::BadStartLine("no space after the method"),
        0,
    ))?;
    if method_end == 0 || !line[..method_end].iter().all(|&c| is_token_char(c)) {
        return Err(err(
            ParseErrorKind::BadStartLine("method is not a token"),
            0,
        ));
    }
    let version_start = line.iter().rposition(|&c| c == b' ').unwrap_or(0) + 1;
    if version_start <= method_end + 1 {
        return Err(err(
            ParseErrorKind::BadStartLine("request line needs method, Request-URI and version"),
            method_end,
        ));
    }
    check_version(&line[version_start..], version_start)?;
    let uri = &line[method_end + 1..version_start - 1];
    if let Some(i) = uri.iter().position(|&c| is_ws(c)) {
        return Err(err(
            ParseErrorKind::BadStartLine("white space in or around the Request-URI"),
            method_end + 1 + i,
        ));
    }
    if uri.is_empty() {
        return Err(err(
            ParseErrorKind::BadStartLine("white space in or around the Request-URI"),
            method_end + 1,
        ));
    }
    if !has_scheme(uri) {
        return Err(err(
            ParseErrorKind::BadStartLine("Request-URI has no scheme (angle brackets?)"),
            method_end + 1,
        ));
    }
    Ok(StartIndex::Request {
        method: Span::new(0, method_end),
        uri: Span::new(method_end + 1, version_start - 1),
    })
}

/// `scheme ":"` with scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1).
fn has_scheme(uri: &[u8]) -> bool {
    let Some(colon) = uri.iter().position(|&c| c == b':') else {
        return false;
    };
    colon > 0
        && uri[0].is_ascii_alphabetic()
        && uri[1..colon]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
}

/// `SIP/2.0`, with "SIP" in any case (RFC 3261 §7.1); any other well-formed version is
/// unsupported, anything else is not a version at all.
fn check_version(v: &[u8], at: usize) -> ParseResult<()> {
    let well_formed = v.len() >= 7
        && v[..4].eq_ignore_ascii_case(b"SIP/")
        && v[4..].iter().filter(|&&c| c == b'.').count() == 1
        && v[4..].iter().all(|&c| c.is_ascii_digit() || c == b'.')
        && v[4] != b'.'
        && v[v.len() - 1] != b'.';
    if !well_formed {
        return Err(err(ParseErrorKind::BadStartLine("no SIP version"), at));
    }
    if &v[4..] != b"2.0" {
        return Err(err(ParseErrorKind::UnsupportedVersion, at));
    }
    Ok(())
}

fn parse_status_line(line: &[u8]) -> ParseResult<StartIndex> {
    let version_end = line.iter().position(|&c| c == b' ').ok_or(err(
        ParseErrorKind::BadStartLine("status line without a status code"),
        line.len(),
    ))?;
    check_version(&line[..version_end], 0)?;
    let code_start = version_end + 1;
    let code_end = line[code_start..]
        .iter()
        .position(|&c| c == b' ')
        .map_or(line.len(), |i| code_start + i);
    let code = &line[code_start..code_end];
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(err(ParseErrorKind::BadStatusCode, code_start));
    }
    let value = code
        .iter()
        .fold(0u16, |acc, &c| acc * 10 + u16::from(c - b'0'));
    if !(100..=699).contains(&value) {
        return Err(err(ParseErrorKind::BadStatusCode, code_start));
    }
    let reason_start = (code_end + 1).min(line.len());
    Ok(StartIndex::Response {
        code: value,
        reason: Span::new(reason_start, line.len()),
    })
}

impl StartIndex {
    pub(crate) fn shifted(self, by: usize) -> StartIndex {
        let shift = |s: Span| Span::new(s.start as usize + by, s.end as usize + by);
        match self {
            StartIndex::Request { method, uri } => StartIndex::Request {
                method: shift(method),
                uri: shift(uri),
            },
            StartIndex::Response { code, reason } => StartIndex::Response {
                code,
                reason: shift(reason),
            },
        }
    }
}

/// True when a line is a header line (`token [WS] ":"`) rather than a start line; decides what
/// the first line of a sipfrag is.
fn looks_like_header(line: &[u8]) -> bool {
    let name_end = line
        .iter()
        .position(|&c| !is_token_char(c))
        .unwrap_or(line.len());
    name_end > 0
        && line[name_end..]
            .iter()
            .find(|&&c| !is_ws(c))
            .is_some_and(|&c| c == b':')
}

/// Parses a Content-Length value: decimal digits that fit in 32 bits (RFC 4475 `ncl`,
/// `scalarlg`).
pub(crate) fn parse_content_length(value: &[u8]) -> Option<usize> {
    if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = value
        .iter()
        .fold(0u64, |acc, &c| acc * 10 + u64::from(c - b'0'));
    u32::try_from(n).ok().map(|n| n as usize)
}

/// Indexes the header section of `bytes`. For a full message the empty line must be present
/// (`Incomplete` otherwise); a fragment may end without one.
pub(crate) fn scan_head(bytes: &[u8], fragment: bool) -> ParseResult<Head> {
    let line_ending = match detect_line_ending(bytes) {
        Some(e) => e,
        None if fragment => LineEnding::CrLf,
        None => return Err(err(ParseErrorKind::Incomplete, bytes.len())),
    };
    let mut head = Head {
        start: None,
        start_line: Span::default(),
        fields: Vec::with_capacity(16),
        separator: Span::new(bytes.len(), bytes.len()),
        body_start: bytes.len(),
        line_ending,
        content_length: None,
    };
    let mut pos = 0;
    let mut first = true;
    let mut content_length_field: Option<usize> = None;
    loop {
        let (content_end, next) = match next_line(bytes, pos, line_ending)? {
            Some(line) => line,
            // A fragment's last line need not be terminated.
            None if fragment && pos < bytes.len() => (bytes.len(), bytes.len()),
            None if fragment => break,
            None => return Err(err(ParseErrorKind::Incomplete, bytes.len())),
        };
        let line = &bytes[pos..content_end];
        if line.is_empty() {
            if first && !fragment {
                return Err(err(ParseErrorKind::BadStartLine("empty line"), pos));
            }
            head.separator = Span::new(pos, next);
            head.body_start = next;
            break;
        }
        if first && !(fragment && looks_like_header(line)) {
            head.start = Some(
                parse_start_line(line)
                    .map_err(|e| e.at_base(pos))?
                    .shifted(pos),
            );
            head.start_line = Span::new(pos, content_end);
        } else if is_ws(line[0]) {
            let Some(field) = head.fields.last_mut() else {
                return Err(err(ParseErrorKind::FoldingWithoutHeader, pos));
            };
            // A continuation: the value grows to the last non-white-space byte of this line.
            if let Some(last) = line.iter().rposition(|&c| !is_ws(c)) {
                if field.value.is_empty() {
                    let first_non_ws = line.iter().position(|&c| !is_ws(c)).unwrap_or(0);
                    field.value.start = (pos + first_non_ws) as u32;
                }
                field.value.end = (pos + last + 1) as u32;
            }
            field.line.end = next as u32;
        } else {
            let field = scan_field(line, pos, next)?;
            if field.kind == HeaderKind::ContentLength {
                if content_length_field.is_some() {
                    return Err(err(ParseErrorKind::MultipleContentLength, pos)
                        .in_header(&bytes[field.name.range()]));
                }
                content_length_field = Some(head.fields.len());
            }
            head.fields.push(field);
        }
        first = false;
        pos = next;
        if pos == bytes.len() && fragment {
            break;
        }
    }
    if let Some(i) = content_length_field {
        let field = head.fields[i];
        let value = &bytes[field.value.range()];
        head.content_length = Some(parse_content_length(value).ok_or_else(|| {
            err(ParseErrorKind::BadContentLength, field.value.start as usize)
                .in_header(&bytes[field.name.range()])
        })?);
    }
    Ok(head)
}

/// Indexes one header line `name [WS] ":" [WS] value [WS]`.
fn scan_field(line: &[u8], pos: usize, next: usize) -> ParseResult<HeaderField> {
    // One pass: `token *WS ":"`. (':' and white space are not token characters, so this is
    // the first colon with a token before it.)
    let name_end = line
        .iter()
        .position(|&c| !is_token_char(c))
        .unwrap_or(line.len());
    let colon = line[name_end..]
        .iter()
        .position(|&c| !is_ws(c))
        .map(|i| name_end + i)
        .filter(|&i| name_end > 0 && line[i] == b':')
        .ok_or(err(ParseErrorKind::BadHeaderName, pos))?;
    let name = &line[..name_end];
    let value_start = line[colon + 1..]
        .iter()
        .position(|&c| !is_ws(c))
        .map_or(line.len(), |i| colon + 1 + i);
    let value_end = line
        .iter()
        .rposition(|&c| !is_ws(c))
        .map_or(value_start, |i| (i + 1).max(value_start));
    Ok(HeaderField {
        kind: HeaderKind::from_name(name),
        name: Span::new(pos, pos + name_end),
        value: Span::new(pos + value_start, pos + value_end),
        line: Span::new(pos, next),
    })
}

impl Message {
    /// Builds a message from bytes whose head has been indexed; `body_end` ends the message.
    pub(crate) fn from_head(bytes: Vec<u8>, head: Head, body_end: usize) -> Message {
        Message {
            bytes,
            start: head.start,
            start_line: head.start_line,
            fields: head.fields,
            separator: head.separator,
            body: Span::new(head.body_start, body_end),
            line_ending: head.line_ending,
        }
    }
}

/// Where a message's body ends, given the bytes available after its head.
pub(crate) fn body_end(head: &Head, available_end: usize, framing: Framing) -> ParseResult<usize> {
    let available = available_end - head.body_start;
    match (head.content_length, framing) {
        (None, Framing::Stream) => Err(err(ParseErrorKind::MissingContentLength, head.body_start)),
        (None, Framing::Datagram) => Ok(available_end),
        (Some(declared), _) if declared > available => Err(err(
            ParseErrorKind::BodyTooShort {
                declared,
                available,
            },
            available_end,
        )),
        (Some(declared), _) => Ok(head.body_start + declared),
    }
}

/// Parses bytes that hold one message.
pub(crate) fn parse(mut bytes: Vec<u8>, options: &ParseOptions) -> ParseResult<Parsed> {
    if bytes.len() > options.max_size {
        return Err(err(
            ParseErrorKind::TooLarge {
                limit: options.max_size,
            },
            options.max_size,
        ));
    }
    let head = scan_head(&bytes, options.fragment)?;
    let end = body_end(&head, bytes.len(), options.framing)?;
    let trailing_bytes = (end < bytes.len()).then(|| bytes.split_off(end));
    Ok(Parsed {
        message: Message::from_head(bytes, head, end),
        trailing_bytes,
    })
}
