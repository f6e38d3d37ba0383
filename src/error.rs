//! The parse error shared by every layer that reads SIP bytes: framing, the message model, typed
//! header views, URIs and MIME. Each error says what was wrong, at which byte offset (relative to
//! the input the caller handed in) and, where it applies, in which header.

use std::fmt;

/// What was wrong with the input. Variants are precise so that callers (and tests) can tell one
/// refusal from another without matching on strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The input ended before the element was complete.
    Incomplete,
    /// The first line is neither a request line nor a status line.
    BadStartLine(&'static str),
    /// `SIP/x.y` other than `SIP/2.0` (RFC 4475 `badvers`).
    UnsupportedVersion,
    /// A status code outside 100..=699 (RFC 4475 `bigcode`).
    BadStatusCode,
    /// A header line without a colon, or with an empty or non-token name.
    BadHeaderName,
    /// A lone CR or lone LF inside a CRLF-framed message: header injection.
    BareLineBreak,
    /// The message mixes CRLF and bare-LF line ends.
    MixedLineEnds,
    /// A continuation line (folding) before any header.
    FoldingWithoutHeader,
    /// Content-Length is not a non-negative decimal that fits in 32 bits (`ncl`, `scalarlg`).
    BadContentLength,
    /// More than one Content-Length value (RFC 4475 `mcl01`).
    MultipleContentLength,
    /// Content-Length is missing where the framing needs it (stream mode).
    MissingContentLength,
    /// The body is shorter than Content-Length says (`clerr`).
    BodyTooShort { declared: usize, available: usize },
    /// The message is larger than the configured cap; it was refused, not buffered.
    TooLarge { limit: usize },
    /// A header value that does not follow its grammar.
    BadValue(&'static str),
    /// A URI that does not follow RFC 3261 §19.1 / RFC 3966.
    BadUri(&'static str),
    /// A MIME body that does not follow RFC 2046.
    BadMime(&'static str),
    /// A header the message must carry is absent (RFC 3261 §8.1.1; RFC 4475 `insuf`).
    MissingHeader,
    /// A single-valued header appears more than once (RFC 4475 `multi01`).
    RepeatedHeader,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Incomplete => f.write_str("input ends before the element is complete"),
            Self::BadStartLine(why) => write!(f, "not a SIP start line: {why}"),
            Self::UnsupportedVersion => f.write_str("SIP version is not SIP/2.0"),
            Self::BadStatusCode => f.write_str("status code is not a number from 100 to 699"),
            Self::BadHeaderName => f.write_str("header line has no valid `name:`"),
            Self::BareLineBreak => {
                f.write_str("bare CR or LF inside a CRLF message (possible header injection)")
            }
            Self::MixedLineEnds => f.write_str("message mixes CRLF and bare LF line ends"),
            Self::FoldingWithoutHeader => f.write_str("continuation line before any header"),
            Self::BadContentLength => {
                f.write_str("Content-Length is not a non-negative 32-bit decimal")
            }
            Self::MultipleContentLength => f.write_str("more than one Content-Length"),
            Self::MissingContentLength => {
                f.write_str("Content-Length is required on a stream (RFC 3261 §18.3)")
            }
            Self::BodyTooShort {
                declared,
                available,
            } => write!(
                f,
                "Content-Length says {declared} bytes but only {available} follow"
            ),
            Self::TooLarge { limit } => {
                write!(f, "message exceeds the size limit of {limit} bytes")
            }
            Self::BadValue(why) => write!(f, "malformed value: {why}"),
            Self::BadUri(why) => write!(f, "malformed URI: {why}"),
            Self::BadMime(why) => write!(f, "malformed MIME body: {why}"),
            Self::MissingHeader => f.write_str("a required header is missing"),
            Self::RepeatedHeader => f.write_str("a single-valued header appears more than once"),
        }
    }
}

/// A refusal of some input, with the byte offset where the defect was found and the header it
/// was found in, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// Byte offset of the defect, relative to the start of the bytes handed to the parser.
    pub offset: usize,
    /// The header (as spelt in the message) the defect is in.
    pub header: Option<String>,
}

impl ParseError {
    pub fn new(kind: ParseErrorKind, offset: usize) -> Self {
        Self {
            kind,
            offset,
            header: None,
        }
    }

    /// Attaches the header name, as it was written in the message.
    pub fn in_header(mut self, name: &[u8]) -> Self {
        self.header = Some(String::from_utf8_lossy(name).into_owned());
        self
    }

    /// Shifts the offset, for errors found in a slice that starts `base` bytes into the input.
    pub fn at_base(mut self, base: usize) -> Self {
        self.offset += base;
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.header {
            Some(h) => write!(f, "{} (in {h}, at byte {})", self.kind, self.offset),
            None => write!(f, "{} (at byte {})", self.kind, self.offset),
        }
    }
}

impl std::error::Error for ParseError {}

pub type ParseResult<T> = Result<T, ParseError>;
