//! The byte-exact SIP message: the bytes as received plus an index of where the start line, each
//! header field and the body lie. Nothing is re-rendered: serialising an unedited message returns
//! the input, and an edit splices only the bytes it changes (signatures are computed over exact
//! octets, RFC 3261 §23).

mod name;
mod parse;

pub use name::{is_token_char, HeaderKind};
pub(crate) use parse::{
    body_end, detect_line_ending, parse_content_length, parse_start_line, scan_head,
    scan_head_after_start,
};
pub use parse::{Framing, ParseOptions, DEFAULT_MAX_SIZE};

use crate::error::{ParseError, ParseErrorKind, ParseResult};
use std::borrow::Cow;
use std::ops::Range;

/// A byte range inside a message. `u32` keeps the index small; messages are capped far below 4 GiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Self {
        Self {
            start: start as u32,
            end: end as u32,
        }
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// Adjusts a span for the replacement of bytes `a..b` by a run `delta` bytes longer: a span
    /// after the range moves, a span before it stays, a span that contains the range grows.
    fn adjust(&mut self, a: usize, b: usize, delta: isize) {
        let (a, b) = (a as u32, b as u32);
        let moved = |x: u32| (x as isize + delta) as u32;
        if self.start >= b {
            self.start = moved(self.start);
            self.end = moved(self.end);
        } else if self.end >= b && self.end > a {
            self.end = moved(self.end);
        }
    }
}

/// How the lines of a message end. LF-only messages (as in the RFC 5118 archive) are recognised
/// as a whole and reported; a message never mixes the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnding {
    CrLf,
    Lf,
}

impl LineEnding {
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnding::CrLf => b"\r\n",
            LineEnding::Lf => b"\n",
        }
    }
}

/// The parsed start line, borrowing the message's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request { method: &'a [u8], uri: &'a [u8] },
    Response { code: u16, reason: &'a [u8] },
}

/// Where the parts of the start line are, kept at indexing time so the view needs no re-parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartIndex {
    Request { method: Span, uri: Span },
    Response { code: u16, reason: Span },
}

/// One header field: where its name, value and whole line (with continuation lines and the line
/// end) lie in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField {
    pub kind: HeaderKind,
    /// The name as written, without surrounding white space.
    pub name: Span,
    /// The value from its first to its last non-white-space byte; folded values keep their
    /// continuation line breaks (see [`unfold`]).
    pub value: Span,
    /// The whole field, from the first byte of the name to the end of its last line end.
    pub line: Span,
}

/// A SIP message (or a message/sipfrag, which may lack the start line or the headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    bytes: Vec<u8>,
    start: Option<StartIndex>,
    start_line: Span,
    fields: Vec<HeaderField>,
    /// The empty line that ends the header section (empty span when the fragment has none).
    separator: Span,
    body: Span,
    line_ending: LineEnding,
}

impl Message {
    /// Parses one complete message (the bytes hold exactly one message, as in a datagram or a
    /// `message/sip` body). Bytes after Content-Length are an error here; use
    /// [`Message::parse_with`] with [`Framing::Datagram`] to keep them aside instead.
    pub fn parse(bytes: impl Into<Vec<u8>>) -> ParseResult<Message> {
        exactly_one(parse::parse(bytes.into(), &ParseOptions::default())?)
    }

    /// Parses one message with explicit framing rules; returns the message and the range of
    /// any octets after the body that Content-Length delimits (RFC 4475 `dblreq`), which are
    /// not part of the message.
    pub fn parse_with(
        bytes: impl Into<Vec<u8>>,
        options: &ParseOptions,
    ) -> ParseResult<(Message, Option<Vec<u8>>)> {
        let parsed = parse::parse(bytes.into(), options)?;
        Ok((parsed.message, parsed.trailing_bytes))
    }

    /// Parses a `message/sipfrag` (RFC 3420): a start line alone, headers alone, or both, with
    /// a body only after the empty line.
    pub fn parse_fragment(bytes: impl Into<Vec<u8>>) -> ParseResult<Message> {
        let options = ParseOptions {
            fragment: true,
            ..ParseOptions::default()
        };
        exactly_one(parse::parse(bytes.into(), &options)?)
    }

    /// The message exactly as it is now: the input bytes, with only the edits applied.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// A copy with room for `extra` more bytes and a few more fields, for a tool that is about
    /// to add headers (a plain clone has no spare capacity, so the first insertion would copy
    /// the whole message again).
    pub fn clone_with_room(&self, extra: usize) -> Message {
        let mut bytes = Vec::with_capacity(self.bytes.len() + extra);
        bytes.extend_from_slice(&self.bytes);
        let mut fields = Vec::with_capacity(self.fields.len() + 4);
        fields.extend_from_slice(&self.fields);
        Message {
            bytes,
            fields,
            ..*self
        }
    }

    /// A copy of the start line and the header section with an empty body, for an edit that
    /// ends with [`Message::set_body`]: the body is not copied only to be replaced (until then
    /// Content-Length still counts the old body). Room for `extra` more bytes.
    pub(crate) fn clone_head(&self, extra: usize) -> Message {
        let head = self.body.start as usize;
        let mut bytes = Vec::with_capacity(head + extra);
        bytes.extend_from_slice(&self.bytes[..head]);
        let mut fields = Vec::with_capacity(self.fields.len() + 4);
        fields.extend_from_slice(&self.fields);
        Message {
            bytes,
            fields,
            body: Span::new(head, head),
            ..*self
        }
    }

    /// Makes room for `bytes` more bytes and `fields` more fields, so that the edits a caller
    /// is about to make copy the message once, not at every insertion.
    pub fn reserve(&mut self, bytes: usize, fields: usize) {
        self.bytes.reserve(bytes);
        self.fields.reserve(fields);
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn line_ending(&self) -> LineEnding {
        self.line_ending
    }

    fn slice(&self, span: Span) -> &[u8] {
        &self.bytes[span.range()]
    }

    /// The start line, or `None` for a sipfrag without one.
    pub fn start_line(&self) -> Option<StartLine<'_>> {
        self.start.map(|s| match s {
            StartIndex::Request { method, uri } => StartLine::Request {
                method: self.slice(method),
                uri: self.slice(uri),
            },
            StartIndex::Response { code, reason } => StartLine::Response {
                code,
                reason: self.slice(reason),
            },
        })
    }

    /// The start line's bytes without its line end.
    pub fn start_line_bytes(&self) -> &[u8] {
        self.slice(self.start_line)
    }

    pub fn is_request(&self) -> bool {
        matches!(self.start, Some(StartIndex::Request { .. }))
    }

    /// The request method (case-sensitive, RFC 3261 §7.1), for requests.
    pub fn method(&self) -> Option<&[u8]> {
        match self.start_line()? {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code, for responses.
    pub fn status_code(&self) -> Option<u16> {
        match self.start? {
            StartIndex::Response { code, .. } => Some(code),
            StartIndex::Request { .. } => None,
        }
    }

    /// The Request-URI's bytes, for requests.
    pub fn request_uri(&self) -> Option<&[u8]> {
        match self.start_line()? {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// Every header field, in order.
    pub fn fields(&self) -> &[HeaderField] {
        &self.fields
    }

    /// The name of a field as written.
    pub fn field_name(&self, field: &HeaderField) -> &[u8] {
        self.slice(field.name)
    }

    /// The raw value of a field (continuation line breaks kept).
    pub fn field_value(&self, field: &HeaderField) -> &[u8] {
        self.slice(field.value)
    }

    /// The raw bytes of a whole field line, with its line end.
    pub fn field_line(&self, field: &HeaderField) -> &[u8] {
        self.slice(field.line)
    }

    /// The indices of the fields of a known kind, in order.
    pub fn indices_of(&self, kind: HeaderKind) -> impl Iterator<Item = usize> + '_ {
        self.fields
            .iter()
            .enumerate()
            .filter(move |(_, f)| f.kind == kind)
            .map(|(i, _)| i)
    }

    /// The raw values of every field of a known kind (several lines of one name), in order.
    pub fn values(&self, kind: HeaderKind) -> impl Iterator<Item = &[u8]> + '_ {
        self.fields
            .iter()
            .filter(move |f| f.kind == kind)
            .map(|f| self.slice(f.value))
    }

    /// The first value of a known kind.
    pub fn value(&self, kind: HeaderKind) -> Option<&[u8]> {
        self.values(kind).next()
    }

    /// The raw values of every field with this name (any case; a known name also finds its
    /// compact form).
    pub fn values_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        let kind = HeaderKind::from_name(name.as_bytes());
        self.fields
            .iter()
            .filter(move |f| {
                if kind == HeaderKind::Other {
                    f.kind == HeaderKind::Other
                        && self.slice(f.name).eq_ignore_ascii_case(name.as_bytes())
                } else {
                    f.kind == kind
                }
            })
            .map(|f| self.slice(f.value))
    }

    /// The body, binary-safe.
    pub fn body(&self) -> &[u8] {
        self.slice(self.body)
    }

    /// Where the body lies in the message.
    pub fn body_span(&self) -> Span {
        self.body
    }

    /// The header section: the bytes from the start of the message to the start of the body
    /// (start line, fields and the empty line).
    pub fn head(&self) -> &[u8] {
        &self.bytes[..self.body.start as usize]
    }

    // ----- edits: each splices only the bytes it changes -----

    /// Replaces `range` with `with`, moving every span after it.
    fn splice(&mut self, range: Range<usize>, with: &[u8]) {
        self.splice_parts(range, &[with]);
    }

    /// [`Message::splice`] with the new bytes given in pieces, so that a caller need not join
    /// them in a buffer of its own first (the verifier adds a header to every message).
    fn splice_parts(&mut self, range: Range<usize>, parts: &[&[u8]]) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let delta = len as isize - range.len() as isize;
        let (a, b) = (range.start, range.end);
        // Moves the tail once and copies the new bytes in one go: `Vec::splice` refills byte by
        // byte, which showed in the signing tool's profile for bodies of a few kilobytes.
        let tail = self.bytes.len() - b;
        if len > range.len() {
            self.bytes.resize(self.bytes.len() + len - range.len(), 0);
        }
        self.bytes.copy_within(b..b + tail, a + len);
        self.bytes.truncate(a + len + tail);
        let mut at = a;
        for part in parts {
            self.bytes[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        if delta == 0 {
            return;
        }
        for f in &mut self.fields {
            f.name.adjust(a, b, delta);
            f.value.adjust(a, b, delta);
            f.line.adjust(a, b, delta);
        }
        self.separator.adjust(a, b, delta);
        self.body.adjust(a, b, delta);
    }

    /// Refuses a value or name that would break out of its line (header injection).
    fn check_line_safe(bytes: &[u8]) -> ParseResult<()> {
        match memchr::memchr2(b'\r', b'\n', bytes) {
            Some(at) => Err(ParseError::new(ParseErrorKind::BareLineBreak, at)),
            None => Ok(()),
        }
    }

    fn check_name(name: &str) -> ParseResult<()> {
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(
                ParseError::new(ParseErrorKind::BadHeaderName, 0).in_header(name.as_bytes())
            );
        }
        Ok(())
    }

    /// Replaces the value of field `index`; the name and everything else stay as they were.
    /// The value may hold no line break: a new value made from a folded one goes through
    /// [`unfold_checked`] first.
    pub fn set_field_value(&mut self, index: usize, value: &[u8]) -> ParseResult<()> {
        Self::check_line_safe(value)?;
        let field = self.fields[index];
        let end_of_value_line = self.line_end_after(field.value.end as usize);
        // A folded value is replaced as a whole, continuation lines included.
        self.splice(field.value.start as usize..end_of_value_line, value);
        // Set both ends: an empty value is an insertion point, which `splice` moves.
        let start = field.value.start;
        let field = &mut self.fields[index];
        field.value = Span {
            start,
            end: start + value.len() as u32,
        };
        // On a sipfrag's unterminated last line the line ends where the value did: it grows.
        field.line.end = field.line.end.max(field.value.end);
        Ok(())
    }

    /// The offset of the line end that follows `at` (trailing white space of a value included in
    /// what a replacement removes).
    fn line_end_after(&self, at: usize) -> usize {
        let rest = &self.bytes[at..];
        let eol = memchr::memchr(b'\n', rest).map_or(self.bytes.len(), |i| at + i);
        match self.line_ending {
            LineEnding::CrLf if eol > at && self.bytes[eol - 1] == b'\r' => eol - 1,
            _ => eol,
        }
    }

    /// Removes field `index` with its line end.
    pub fn remove_field(&mut self, index: usize) {
        let field = self.fields.remove(index);
        self.splice(field.line.range(), b"");
    }

    /// Removes every field of a kind; returns how many were removed.
    pub fn remove_all(&mut self, kind: HeaderKind) -> usize {
        let mut removed = 0;
        while let Some(i) = self.fields.iter().position(|f| f.kind == kind) {
            self.remove_field(i);
            removed += 1;
        }
        removed
    }

    /// Removes every field with this name (any case; compact forms of known names included).
    pub fn remove_named(&mut self, name: &str) -> usize {
        let kind = HeaderKind::from_name(name.as_bytes());
        if kind != HeaderKind::Other {
            return self.remove_all(kind);
        }
        let mut removed = 0;
        while let Some(i) = self.fields.iter().position(|f| {
            f.kind == HeaderKind::Other && self.slice(f.name).eq_ignore_ascii_case(name.as_bytes())
        }) {
            self.remove_field(i);
            removed += 1;
        }
        removed
    }

    /// Inserts `name: value` before field `index` (or after the last field when `index` equals
    /// the number of fields), in the message's own line ending.
    pub fn insert_field(&mut self, index: usize, name: &str, value: &[u8]) -> ParseResult<()> {
        Self::check_name(name)?;
        Self::check_line_safe(value)?;
        if index >= self.fields.len() {
            self.terminate_last_line();
        }
        let at = match self.fields.get(index) {
            Some(f) => f.line.start as usize,
            None => self.separator.start as usize,
        };
        if self.start.is_none() && self.fields.is_empty() && self.separator.is_empty() {
            // A start-line-only sipfrag has no header section yet: create it.
            return Err(ParseError::new(
                ParseErrorKind::BadValue("a fragment without a header section"),
                at,
            ));
        }
        let eol = self.line_ending.as_bytes();
        self.splice_parts(at..at, &[name.as_bytes(), b": ", value, eol]);
        let name_end = at + name.len();
        let value_start = name_end + 2;
        let line_end = value_start + value.len() + eol.len();
        self.fields.insert(
            index.min(self.fields.len()),
            HeaderField {
                kind: HeaderKind::from_name(name.as_bytes()),
                name: Span::new(at, name_end),
                value: Span::new(value_start, value_start + value.len()),
                line: Span::new(at, line_end),
            },
        );
        Ok(())
    }

    /// A sipfrag may end in a line without its line end (RFC 3420). Before anything is added
    /// after that line it gets one: otherwise the addition would run into it, and the index
    /// would show a header the bytes do not hold.
    fn terminate_last_line(&mut self) {
        let at = self.body.start as usize;
        if !self.separator.is_empty() || at == 0 || self.bytes[at - 1] == b'\n' {
            return;
        }
        let eol = self.line_ending.as_bytes();
        let last_before = self.fields.last().copied();
        self.splice(at..at, eol);
        if let (Some(before), Some(last)) = (last_before, self.fields.last_mut()) {
            if before.line.end as usize == at {
                // The line end goes after the value, even an empty one that `splice` moved.
                last.value = before.value;
                last.line.end = (at + eol.len()) as u32;
            }
        }
    }

    /// Appends `name: value` after the last field.
    pub fn append_field(&mut self, name: &str, value: &[u8]) -> ParseResult<()> {
        self.insert_field(self.fields.len(), name, value)
    }

    /// Sets a single-valued header: replaces the first field of the kind (removing any others)
    /// or appends it.
    pub fn set_header(&mut self, kind: HeaderKind, value: &[u8]) -> ParseResult<()> {
        let name = kind
            .name()
            .ok_or(ParseError::new(ParseErrorKind::BadHeaderName, 0))?;
        let indices: Vec<usize> = self.indices_of(kind).collect();
        match indices.split_first() {
            Some((&first, extra)) => {
                for &i in extra.iter().rev() {
                    self.remove_field(i);
                }
                self.set_field_value(first, value)
            }
            None => self.append_field(name, value),
        }
    }

    /// Replaces the body and sets Content-Length to its length (added when missing).
    pub fn set_body(&mut self, body: &[u8]) -> ParseResult<()> {
        let len = body.len().to_string();
        if self.separator.is_empty() && self.body.is_empty() {
            // A message with no empty line yet (a headers-only sipfrag): add one.
            self.terminate_last_line();
            let at = self.body.start as usize;
            let eol = self.line_ending.as_bytes();
            self.bytes.splice(at..at, eol.iter().copied());
            self.separator = Span::new(at, at + eol.len());
            self.body = Span::new(at + eol.len(), at + eol.len());
        }
        let range = self.body.range();
        self.splice(range.clone(), body);
        self.body = Span::new(range.start, range.start + body.len());
        self.set_header(HeaderKind::ContentLength, len.as_bytes())
    }

    /// Whether [`Message::set_start_line`] would take `line`, for a caller that decides
    /// before it edits.
    pub fn check_start_line(line: &[u8]) -> ParseResult<()> {
        Self::check_line_safe(line)?;
        parse::parse_start_line(line).map(drop)
    }

    /// Replaces the start line (e.g. a new Request-URI); refuses one that does not parse.
    pub fn set_start_line(&mut self, line: &[u8]) -> ParseResult<()> {
        Self::check_line_safe(line)?;
        let old = self.start_line;
        let parsed = parse::parse_start_line(line)?;
        self.splice(old.range(), line);
        self.start_line = Span::new(old.start as usize, old.start as usize + line.len());
        self.start = Some(parsed.shifted(old.start as usize));
        Ok(())
    }
}

/// The message of bytes that must hold exactly one: octets after the body that Content-Length
/// delimits are refused, not silently dropped.
fn exactly_one(parsed: parse::Parsed) -> ParseResult<Message> {
    match parsed.trailing_bytes {
        None => Ok(parsed.message),
        Some(_) => Err(ParseError::new(
            ParseErrorKind::BadValue("bytes after the body that Content-Length delimits"),
            parsed.message.len(),
        )),
    }
}

/// A header value with folding undone: each line break and the white space around it become one
/// SP (RFC 3261 §7.3.1). Borrows when there is nothing to unfold.
pub fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\n', value).is_none() {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let c = value[i];
        if c == b'\r' || c == b'\n' {
            while out.last().is_some_and(|&b| b == b' ' || b == b'\t') {
                out.pop();
            }
            while i < value.len() && matches!(value[i], b'\r' | b'\n' | b' ' | b'\t') {
                i += 1;
            }
            out.push(b' ');
            continue;
        }
        out.push(c);
        i += 1;
    }
    Cow::Owned(out)
}

/// A field value made fit to be written back by [`Message::set_field_value`] (which takes no
/// line breaks): each line fold, a CRLF or LF followed by SP or HTAB, becomes one SP with the
/// white space around it, as [`unfold`] does (semantically equivalent, RFC 3261 §7.3.1). A CR
/// or LF that is not part of a fold is refused as [`Message::set_field_value`] refuses it:
/// unfolding joins continuation lines, it never lets a line break through. Borrows when there
/// is nothing to unfold.
pub fn unfold_checked(value: &[u8]) -> ParseResult<Cow<'_, [u8]>> {
    for at in memchr::memchr2_iter(b'\r', b'\n', value) {
        let fold = match value[at] {
            // The LF that follows is checked next.
            b'\r' => value.get(at + 1) == Some(&b'\n'),
            _ => matches!(value.get(at + 1), Some(b' ' | b'\t')),
        };
        if !fold {
            let start = match at.checked_sub(1) {
                Some(cr) if value[at] == b'\n' && value[cr] == b'\r' => cr,
                _ => at,
            };
            return Err(ParseError::new(ParseErrorKind::BareLineBreak, start));
        }
    }
    Ok(unfold(value))
}

#[cfg(test)]
mod tests;
