//! MIME bodies of SIP messages: `multipart/*` (RFC 2046 §5.1) parsed as a zero-copy index over
//! the body and built with a verified boundary, and the `message/sip` / `message/sipfrag` bodies
//! (RFC 3261 §23.4, RFC 3420).
//!
//! Every part keeps its exact octets and their range in the body: a `multipart/signed` signature
//! (RFC 1847 §2.1, RFC 5751 §3.5) covers the first part from after its delimiter line's line end
//! up to, not including, the line end that precedes the next delimiter, so nothing here is ever
//! re-rendered.
//!
//! The parser is strict where leniency would let two readers disagree about which bytes were
//! signed: a line that starts with `--boundary` must be a well-formed delimiter, a CRLF body may
//! not hold a delimiter after a bare LF, and the close delimiter is required.

use crate::error::{ParseError, ParseErrorKind, ParseResult};
use crate::message::{
    detect_line_ending, is_token_char, parse_content_length, scan_head, unfold, HeaderField,
    HeaderKind, LineEnding, Message,
};
use std::ops::Range;

/// RFC 2046 §5.1.1: a boundary is 1 to 70 characters.
pub const MAX_BOUNDARY_LEN: usize = 70;

fn bad(why: &'static str, at: usize) -> ParseError {
    ParseError::new(ParseErrorKind::BadMime(why), at)
}

/// `bcharsnospace` of RFC 2046 §5.1.1; `bchars` adds the space.
fn is_bchar_nospace(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(&c)
}

/// Checks a boundary against RFC 2046 §5.1.1: 1..=70 `bchars`, not ending in a space.
pub fn check_boundary(boundary: &[u8]) -> ParseResult<()> {
    if boundary.is_empty() {
        return Err(bad("missing boundary", 0));
    }
    if boundary.len() > MAX_BOUNDARY_LEN {
        return Err(bad("boundary longer than 70 characters", MAX_BOUNDARY_LEN));
    }
    if let Some(i) = boundary
        .iter()
        .position(|&c| !(is_bchar_nospace(c) || c == b' '))
    {
        return Err(bad("boundary has a character outside RFC 2046 bchars", i));
    }
    if boundary.last() == Some(&b' ') {
        return Err(bad("boundary ends with a space", boundary.len() - 1));
    }
    Ok(())
}

fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// The `boundary` parameter of a raw Content-Type value (`multipart/signed; ...;
/// boundary="b"`), quoted or token, with folding tolerated. Deliberately minimal: it only
/// splits parameters (respecting quoted strings) so that multipart bodies can be read before
/// the typed Content-Type view exists; offsets are relative to `content_type`.
pub fn boundary_param(content_type: &[u8]) -> ParseResult<&[u8]> {
    let mut i =
        memchr::memchr(b';', content_type).ok_or(bad("missing boundary", content_type.len()))?;
    while i < content_type.len() {
        // `i` is at a ';'.
        i += 1;
        while content_type.get(i).is_some_and(|&c| is_lws(c)) {
            i += 1;
        }
        let name_start = i;
        while content_type.get(i).is_some_and(|&c| is_token_char(c)) {
            i += 1;
        }
        let name = &content_type[name_start..i];
        while content_type.get(i).is_some_and(|&c| is_lws(c)) {
            i += 1;
        }
        let mut value: &[u8] = &[];
        if content_type.get(i) == Some(&b'=') {
            i += 1;
            while content_type.get(i).is_some_and(|&c| is_lws(c)) {
                i += 1;
            }
            if content_type.get(i) == Some(&b'"') {
                let start = i + 1;
                let len = memchr::memchr2(b'"', b'\\', &content_type[start..])
                    .ok_or(bad("unterminated quoted parameter value", i))?;
                if content_type[start + len] == b'\\' {
                    // No bchar needs escaping, so a quoted-pair cannot be part of a boundary.
                    return Err(bad("escape in a quoted parameter value", start + len));
                }
                value = &content_type[start..start + len];
                i = start + len + 1;
            } else {
                let start = i;
                while content_type
                    .get(i)
                    .is_some_and(|&c| c != b';' && !is_lws(c))
                {
                    i += 1;
                }
                value = &content_type[start..i];
            }
        }
        if name.eq_ignore_ascii_case(b"boundary") {
            check_boundary(value).map_err(|e| e.at_base(i - value.len()))?;
            return Ok(value);
        }
        match memchr::memchr(b';', &content_type[i..]) {
            Some(j) => i += j,
            None => break,
        }
    }
    Err(bad("missing boundary", content_type.len()))
}

/// True when a raw Content-Type value names a `multipart/*` type.
pub fn is_multipart(content_type: &[u8]) -> bool {
    let start = content_type.iter().position(|&c| !is_lws(c)).unwrap_or(0);
    content_type[start..]
        .get(..10)
        .is_some_and(|t| t.eq_ignore_ascii_case(b"multipart/"))
}

/// One MIME entity: header fields, an optional empty line, a body. As a body part it borrows
/// the multipart body and knows where it lies in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    bytes: &'a [u8],
    range: Range<usize>,
    /// Spans relative to `bytes`.
    fields: Vec<HeaderField>,
    body_start: usize,
}

impl<'a> Part<'a> {
    /// Indexes a standalone MIME entity (a decrypted `application/pkcs7-mime` content, an RFC
    /// 3893 AIB body part): headers, then the empty line and the body. An entity that starts
    /// with its empty line has no headers, which is legal.
    pub fn parse(bytes: &'a [u8]) -> ParseResult<Part<'a>> {
        Self::index(bytes, 0..bytes.len())
    }

    fn index(bytes: &'a [u8], range: Range<usize>) -> ParseResult<Part<'a>> {
        let head = scan_head(bytes, true)?;
        if head.start.is_some() {
            return Err(bad("part begins with a start line, not MIME headers", 0));
        }
        Ok(Part {
            bytes,
            range,
            fields: head.fields,
            body_start: head.body_start,
        })
    }

    /// The exact octets of the part: what a `multipart/signed` signature covers.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Where the part lies in the multipart body it was parsed from.
    pub fn range(&self) -> Range<usize> {
        self.range.clone()
    }

    /// The part's header fields, in order; their spans are relative to [`Part::bytes`].
    pub fn fields(&self) -> &[HeaderField] {
        &self.fields
    }

    pub fn field_name(&self, field: &HeaderField) -> &'a [u8] {
        &self.bytes[field.name.range()]
    }

    /// The raw value (folding kept; see [`unfold`]).
    pub fn field_value(&self, field: &HeaderField) -> &'a [u8] {
        &self.bytes[field.value.range()]
    }

    /// The first raw value of a known header.
    pub fn value(&self, kind: HeaderKind) -> Option<&'a [u8]> {
        self.fields
            .iter()
            .find(|f| f.kind == kind)
            .map(|f| self.field_value(f))
    }

    /// The first raw value of a header named `name` (any case; compact forms of known names).
    pub fn value_named(&self, name: &str) -> Option<&'a [u8]> {
        let kind = HeaderKind::from_name(name.as_bytes());
        self.fields
            .iter()
            .find(|f| {
                f.kind == kind
                    && (kind != HeaderKind::Other
                        || self.field_name(f).eq_ignore_ascii_case(name.as_bytes()))
            })
            .map(|f| self.field_value(f))
    }

    pub fn content_type(&self) -> Option<&'a [u8]> {
        self.value(HeaderKind::ContentType)
    }

    /// The header section with the empty line, if any.
    pub fn head(&self) -> &'a [u8] {
        &self.bytes[..self.body_start]
    }

    /// The part's content after the empty line, binary-safe.
    pub fn body(&self) -> &'a [u8] {
        &self.bytes[self.body_start..]
    }

    /// Where the content lies inside [`Part::bytes`].
    pub fn body_range(&self) -> Range<usize> {
        self.body_start..self.bytes.len()
    }

    /// Parses the content as a nested multipart body, with the boundary of this part's
    /// Content-Type. Error offsets are relative to the multipart body this part came from.
    pub fn multipart(&self) -> ParseResult<Multipart<'a>> {
        let base = self.range.start + self.body_start;
        let ct = self
            .content_type()
            .ok_or(bad("part has no Content-Type", self.range.start))?;
        Multipart::with_content_type(ct, self.body()).map_err(|e| e.at_base(base))
    }
}

/// A parsed `multipart/*` body: preamble, parts and epilogue, all borrowing the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart<'a> {
    body: &'a [u8],
    line_ending: LineEnding,
    preamble: Range<usize>,
    parts: Vec<Part<'a>>,
    epilogue: Range<usize>,
}

/// What follows `--boundary` on a line.
enum Delimiter {
    /// A delimiter line; the next part starts at this offset.
    Open(usize),
    /// The close delimiter; the epilogue starts at this offset.
    Close(usize),
}

impl<'a> Multipart<'a> {
    /// Parses `body` as a multipart body whose Content-Type carries `boundary` (without the
    /// leading `--`). Line ends are CRLF or, for LF-converted files, LF, judged by the first
    /// delimiter line. Error offsets are relative to `body`.
    pub fn parse(body: &'a [u8], boundary: &[u8]) -> ParseResult<Multipart<'a>> {
        check_boundary(boundary)?;
        let mut dash = Vec::with_capacity(boundary.len() + 2);
        dash.extend_from_slice(b"--");
        dash.extend_from_slice(boundary);
        let mut line_starts =
            memchr::memmem::find_iter(body, &dash).filter(|&p| p == 0 || body[p - 1] == b'\n');

        let first = line_starts
            .next()
            .ok_or(bad("no delimiter line with this boundary", 0))?;
        let (mut part_start, line_ending) = match delimiter_end(body, first + dash.len()) {
            Some((Delimiter::Open(next), ending)) => (next, ending),
            Some((Delimiter::Close(_), _)) => {
                return Err(bad("close delimiter before any part", first))
            }
            None => return Err(bad("delimiter line does not end with a line break", first)),
        };
        let preamble = match first {
            0 => 0..0,
            _ => 0..line_break_before(body, first, line_ending)?,
        };

        let mut parts = Vec::new();
        for at in line_starts {
            let part_end = line_break_before(body, at, line_ending)?;
            if part_end < part_start {
                return Err(bad(
                    "a part without the line break before the next delimiter",
                    at,
                ));
            }
            parts.push(body_part(body, part_start..part_end, line_ending)?);
            match delimiter_end(body, at + dash.len()) {
                Some((Delimiter::Open(next), ending)) if ending == line_ending => {
                    part_start = next;
                }
                Some((Delimiter::Close(epilogue), _)) => {
                    return Ok(Multipart {
                        body,
                        line_ending,
                        preamble,
                        parts,
                        epilogue: epilogue..body.len(),
                    });
                }
                _ => {
                    return Err(bad(
                        "a line starts with the boundary but is not a delimiter",
                        at,
                    ))
                }
            }
        }
        Err(bad("no close delimiter", body.len()))
    }

    /// Parses `body` with the boundary of a raw Content-Type value (folding allowed).
    pub fn with_content_type(content_type: &[u8], body: &'a [u8]) -> ParseResult<Multipart<'a>> {
        if !is_multipart(content_type) {
            return Err(bad("Content-Type is not multipart/*", 0));
        }
        let ct = unfold(content_type);
        // Offsets of boundary errors point into the header value, not the body: report 0.
        let boundary = boundary_param(&ct).map_err(|e| ParseError { offset: 0, ..e })?;
        Multipart::parse(body, boundary)
    }

    /// Parses the body of a message whose Content-Type is `multipart/*`. Error offsets are
    /// relative to the message body.
    pub fn of_message(message: &'a Message) -> ParseResult<Multipart<'a>> {
        let ct = message
            .value(HeaderKind::ContentType)
            .ok_or(bad("message has no Content-Type", 0))?;
        Multipart::with_content_type(ct, message.body())
    }

    pub fn line_ending(&self) -> LineEnding {
        self.line_ending
    }

    /// The bytes before the first delimiter line (without the line break that ends them).
    pub fn preamble(&self) -> &'a [u8] {
        &self.body[self.preamble.clone()]
    }

    pub fn preamble_range(&self) -> Range<usize> {
        self.preamble.clone()
    }

    /// The body parts, in order; there is at least one.
    pub fn parts(&self) -> &[Part<'a>] {
        &self.parts
    }

    /// The bytes after the line break that ends the close delimiter line.
    pub fn epilogue(&self) -> &'a [u8] {
        &self.body[self.epilogue.clone()]
    }

    pub fn epilogue_range(&self) -> Range<usize> {
        self.epilogue.clone()
    }
}

/// Reads what follows `--boundary` at `after`: transport padding and a line end (a delimiter
/// line), or `--`, padding and a line end or the end of the body (the close delimiter). `None`
/// when the line is neither.
fn delimiter_end(body: &[u8], after: usize) -> Option<(Delimiter, LineEnding)> {
    let rest = body.get(after..)?;
    let close = rest.starts_with(b"--");
    let mut i = if close { 2 } else { 0 };
    while rest.get(i).is_some_and(|&c| c == b' ' || c == b'\t') {
        i += 1;
    }
    let ending = if rest[i..].starts_with(b"\r\n") {
        LineEnding::CrLf
    } else if rest[i..].starts_with(b"\n") {
        LineEnding::Lf
    } else if close && i == rest.len() {
        return Some((Delimiter::Close(body.len()), LineEnding::CrLf));
    } else {
        return None;
    };
    let next = after + i + ending.as_bytes().len();
    Some((
        if close {
            Delimiter::Close(next)
        } else {
            Delimiter::Open(next)
        },
        ending,
    ))
}

/// Where the line break before the delimiter line at `at` (> 0, after an LF) starts. A
/// delimiter after a bare LF in a CRLF body is refused: another reader would not split there.
fn line_break_before(body: &[u8], at: usize, ending: LineEnding) -> ParseResult<usize> {
    match ending {
        LineEnding::Lf => Ok(at - 1),
        LineEnding::CrLf if at >= 2 && body[at - 2] == b'\r' => Ok(at - 2),
        LineEnding::CrLf => Err(bad("delimiter after a bare LF in a CRLF body", at - 1)),
    }
}

/// Indexes a body part and checks its header lines end like the body's delimiter lines.
fn body_part(body: &[u8], range: Range<usize>, ending: LineEnding) -> ParseResult<Part<'_>> {
    let start = range.start;
    let part = Part::index(&body[range.clone()], range).map_err(|e| e.at_base(start))?;
    if detect_line_ending(part.head()).is_some_and(|e| e != ending) {
        return Err(ParseError::new(ParseErrorKind::MixedLineEnds, start));
    }
    Ok(part)
}

// ----- building -----

/// A body part to write: header fields in order, then the content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewPart {
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl NewPart {
    pub fn new(body: impl Into<Vec<u8>>) -> NewPart {
        NewPart {
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a header field (builder style).
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> NewPart {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// A written multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The boundary, for the Content-Type's `boundary=` parameter (token characters only, so
    /// it needs no quoting).
    pub boundary: String,
    pub body: Vec<u8>,
    /// Where each part's exact octets lie in `body`.
    pub parts: Vec<Range<usize>>,
}

impl Built {
    /// The exact octets of part `index` as written: what a signer signs for the first part of
    /// `multipart/signed`.
    pub fn part(&self, index: usize) -> Option<&[u8]> {
        self.body.get(self.parts.get(index)?.clone())
    }
}

/// Why a multipart body could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("a multipart body needs at least one part (RFC 2046 §5.1.1)")]
    NoParts,
    #[error("part {part}: {error}")]
    BadHeader { part: usize, error: ParseError },
    #[error("bad boundary: {0}")]
    BadBoundary(ParseError),
    #[error("the boundary occurs inside part {0}")]
    BoundaryInContent(usize),
    /// The written body does not parse back (a part header the index refuses, such as a
    /// Content-Length that is not a number); nothing unreadable is handed out.
    #[error("the written body does not parse back: {0}")]
    Unreadable(ParseError),
    #[error("no random bytes for a boundary: {0}")]
    Random(#[from] openssl::error::ErrorStack),
}

/// How many boundaries to try before giving up; each retry draws fresh randomness, so a
/// collision means the content was made to contain the boundary, which no retry count would fix.
const BOUNDARY_ATTEMPTS: usize = 4;

/// What every boundary starts with.
const BOUNDARY_TAG: &str = "sipsec-";

/// The boundaries of one thread: `sipsec-`, 16 hex digits drawn once from OpenSSL, then 16 more
/// that a bijective mix of a random key and a counter gives, so no two are equal until the
/// counter wraps. Drawing 16 random bytes from OpenSSL and running `format!` per byte for every
/// multipart stood out in the signing tool's profile. The boundary only needs to be absent from
/// the content, which is checked for every part; the randomness makes that check fail only for
/// content built to fail it (say by someone who saw an earlier boundary of the thread and worked
/// out the next), and a failure draws everything afresh.
#[derive(Clone)]
struct BoundarySource {
    /// `sipsec-` and the random hex digits: the searcher finds them once, for any counter.
    prefix: memchr::memmem::Finder<'static>,
    key: u64,
    counter: u64,
}

thread_local! {
    static BOUNDARIES: std::cell::RefCell<Option<BoundarySource>> =
        const { std::cell::RefCell::new(None) };
}

/// Appends `value` as 16 lower-case hex digits.
fn push_hex(out: &mut String, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.extend(
        (0..16)
            .rev()
            .map(|i| char::from(DIGITS[(value >> (i * 4)) as usize & 15])),
    );
}

/// SplitMix64's finaliser: a bijection on u64 whose outputs for consecutive inputs look
/// unrelated.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl BoundarySource {
    fn fresh() -> Result<BoundarySource, BuildError> {
        let mut random = [0u8; 16];
        openssl::rand::rand_bytes(&mut random)?;
        let random = u128::from_be_bytes(random);
        let mut prefix = String::from(BOUNDARY_TAG);
        push_hex(&mut prefix, (random >> 64) as u64);
        Ok(BoundarySource {
            prefix: memchr::memmem::Finder::new(prefix.as_bytes()).into_owned(),
            key: random as u64,
            counter: 0,
        })
    }

    fn next(&mut self) -> String {
        self.counter = self.counter.wrapping_add(1);
        let prefix = self.prefix.needle();
        let mut boundary = String::with_capacity(prefix.len() + 16);
        boundary.push_str(std::str::from_utf8(prefix).unwrap_or_default());
        push_hex(&mut boundary, mix(self.key.wrapping_add(self.counter)));
        boundary
    }

    /// True when `boundary` occurs in `content`: at some occurrence of the shared prefix
    /// (a multipart that nests one of this thread's holds some, with other counters), the
    /// rest of it follows.
    fn occurs(&self, boundary: &str, content: &[u8]) -> bool {
        self.prefix
            .find_iter(content)
            .any(|at| content[at..].starts_with(boundary.as_bytes()))
    }
}

/// Writes `parts` as a multipart body with a fresh boundary that occurs in no part.
pub fn build_multipart(parts: &[NewPart], line_ending: LineEnding) -> Result<Built, BuildError> {
    let written = write_parts(parts, line_ending)?;
    let written: Vec<&WrittenPart> = written.iter().collect();
    build_multipart_written(&written, line_ending)
}

/// [`build_multipart`] of parts already written: a signer writes the first part of
/// `multipart/signed` once, signs those octets and hands them here.
pub fn build_multipart_written(
    parts: &[&WrittenPart],
    line_ending: LineEnding,
) -> Result<Built, BuildError> {
    if parts.is_empty() {
        return Err(BuildError::NoParts);
    }
    BOUNDARIES.with_borrow_mut(|source| {
        for _ in 0..BOUNDARY_ATTEMPTS {
            let current = match source {
                Some(current) => current,
                None => source.insert(BoundarySource::fresh()?),
            };
            let boundary = current.next();
            if parts.iter().any(|p| current.occurs(&boundary, &p.bytes)) {
                // Whoever wrote the content may have learnt this thread's boundaries from its
                // output: draw afresh.
                *source = None;
                continue;
            }
            return assemble(parts, boundary, line_ending);
        }
        Err(BuildError::BoundaryInContent(0))
    })
}

/// Writes `parts` as a multipart body with the caller's boundary, refused if it occurs in a
/// part (deterministic output for tests and reproducible fixtures).
pub fn build_multipart_with(
    parts: &[NewPart],
    boundary: &str,
    line_ending: LineEnding,
) -> Result<Built, BuildError> {
    check_boundary(boundary.as_bytes()).map_err(BuildError::BadBoundary)?;
    let written = write_parts(parts, line_ending)?;
    let finder = memchr::memmem::Finder::new(boundary.as_bytes());
    if let Some(i) = written.iter().position(|p| finder.find(&p.bytes).is_some()) {
        return Err(BuildError::BoundaryInContent(i));
    }
    let written: Vec<&WrittenPart> = written.iter().collect();
    assemble(&written, boundary.to_owned(), line_ending)
}

fn write_parts(parts: &[NewPart], line_ending: LineEnding) -> Result<Vec<WrittenPart>, BuildError> {
    if parts.is_empty() {
        return Err(BuildError::NoParts);
    }
    parts
        .iter()
        .enumerate()
        .map(|(index, part)| {
            let mut head = PartHead::new(line_ending);
            for (name, value) in &part.headers {
                head.field(name, value).map_err(|error| match error.kind {
                    // The field can be written, but the part index would refuse it.
                    ParseErrorKind::BadContentLength | ParseErrorKind::MultipleContentLength => {
                        BuildError::Unreadable(error)
                    }
                    _ => BuildError::BadHeader { part: index, error },
                })?;
            }
            Ok(head.content(&part.body))
        })
        .collect()
}

/// The head of a body part being written; [`PartHead::content`] ends it.
#[derive(Debug)]
pub struct PartHead {
    bytes: Vec<u8>,
    line_ending: LineEnding,
    content_length: bool,
}

/// A body part that reads back exactly as written: each header field passed [`write_field`],
/// a Content-Length is a number and the only one (as the part index requires), and one line
/// ending runs through the head. A multipart of such parts therefore needs no re-parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenPart {
    bytes: Vec<u8>,
    line_ending: LineEnding,
}

impl PartHead {
    pub fn new(line_ending: LineEnding) -> PartHead {
        PartHead {
            bytes: Vec::with_capacity(256),
            line_ending,
            content_length: false,
        }
    }

    /// Adds a header field; nothing is written when it is refused.
    pub fn field(&mut self, name: &str, value: &[u8]) -> ParseResult<&mut PartHead> {
        if HeaderKind::from_name(name.as_bytes()) == HeaderKind::ContentLength {
            let refused = if self.content_length {
                Some(ParseErrorKind::MultipleContentLength)
            } else {
                parse_content_length(value)
                    .is_none()
                    .then_some(ParseErrorKind::BadContentLength)
            };
            if let Some(kind) = refused {
                return Err(ParseError::new(kind, 0).in_header(name.as_bytes()));
            }
            self.content_length = true;
        }
        write_field(&mut self.bytes, name, value, self.line_ending)?;
        Ok(self)
    }

    /// Ends the head with the empty line and adds the content.
    pub fn content(mut self, content: &[u8]) -> WrittenPart {
        self.bytes.extend_from_slice(self.line_ending.as_bytes());
        self.bytes.extend_from_slice(content);
        WrittenPart {
            bytes: self.bytes,
            line_ending: self.line_ending,
        }
    }
}

impl WrittenPart {
    /// The part's octets: what a signature over it covers.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Appends `name: value` and a line end to `out`, for a field the parser reads back as
/// written: a token name, a value without line breaks and without surrounding white space
/// (which the index would trim). Nothing is written when it is refused.
pub fn write_field(
    out: &mut Vec<u8>,
    name: &str,
    value: &[u8],
    line_ending: LineEnding,
) -> ParseResult<()> {
    if name.is_empty() || !name.bytes().all(is_token_char) {
        return Err(ParseError::new(ParseErrorKind::BadHeaderName, 0).in_header(name.as_bytes()));
    }
    if let Some(at) = memchr::memchr2(b'\r', b'\n', value) {
        return Err(ParseError::new(ParseErrorKind::BareLineBreak, at).in_header(name.as_bytes()));
    }
    let ws = |c: &u8| *c == b' ' || *c == b'\t';
    if value.first().is_some_and(ws) || value.last().is_some_and(ws) {
        return Err(
            ParseError::new(ParseErrorKind::BadValue("white space around a value"), 0)
                .in_header(name.as_bytes()),
        );
    }
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(line_ending.as_bytes());
    Ok(())
}

/// Writes the delimiters around parts that do not contain the boundary. The body parses back
/// by construction: a line starting with `--boundary` can only be one written here, as the
/// boundary has no line-break character, so no occurrence can run from a part into the line end
/// after it; and a [`WrittenPart`]'s head reads back as written. Only a part written in another
/// line ending than the body's is refused, as the parser would.
fn assemble(
    parts: &[&WrittenPart],
    boundary: String,
    line_ending: LineEnding,
) -> Result<Built, BuildError> {
    let eol = line_ending.as_bytes();
    let total: usize = parts
        .iter()
        .map(|p| p.bytes.len() + boundary.len() + 8)
        .sum();
    let mut body = Vec::with_capacity(total + boundary.len() + 8);
    let mut ranges = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            body.extend_from_slice(eol);
        }
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary.as_bytes());
        body.extend_from_slice(eol);
        if part.line_ending != line_ending {
            let error = ParseError::new(ParseErrorKind::MixedLineEnds, body.len());
            return Err(BuildError::Unreadable(error));
        }
        ranges.push(body.len()..body.len() + part.bytes.len());
        body.extend_from_slice(&part.bytes);
    }
    body.extend_from_slice(eol);
    body.extend_from_slice(b"--");
    body.extend_from_slice(boundary.as_bytes());
    body.extend_from_slice(b"--");
    body.extend_from_slice(eol);
    Ok(Built {
        boundary,
        body,
        parts: ranges,
    })
}

// ----- message bodies -----

/// A `message/sip` body (RFC 3261 §23.4): one complete message, datagram rules (no
/// Content-Length means the body runs to the end; bytes after it are refused).
pub fn parse_message_sip(body: &[u8]) -> ParseResult<Message> {
    Message::parse(body)
}

/// A `message/sipfrag` body (RFC 3420): start line, headers, or both, and a body only after
/// the empty line. Like [`parse_message_sip`], octets after the body that a Content-Length
/// delimits are refused.
pub fn parse_sipfrag(body: &[u8]) -> ParseResult<Message> {
    Message::parse_fragment(body)
}

#[cfg(test)]
mod tests;
