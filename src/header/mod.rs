//! Typed views of header values, and the [`Message`] accessors that find, parse and check them.
//!
//! A view borrows the message's bytes. Folded values are parsed where they lie (line breaks
//! followed by white space count as white space), so there is no copy on any path and every
//! error offset points into the message.

mod address;
mod auth;
mod content;
mod cseq;
mod date;
mod lex;
mod simple;
mod via;

pub use address::{parse_address_list, Address, Contacts};
pub use auth::{parse_auth_list, Auth};
pub use content::{ContentDisposition, MediaType};
pub use cseq::CSeq;
pub use date::SipDate;
pub use lex::{split_list, unquote, ListIter, Param, ParamIter, Params};
pub use simple::{parse_call_id, parse_expires, parse_max_forwards, parse_subject};
pub use via::{parse_via_list, Via};

use crate::error::{ParseError, ParseErrorKind, ParseResult};
use crate::message::{HeaderField, HeaderKind, Message};
use crate::uri::Uri;
use std::borrow::Cow;

/// Headers that RFC 3261 §8.1.1 and §8.2.6 require exactly once in every message.
const SINGLE_REQUIRED: [HeaderKind; 4] = [
    HeaderKind::From,
    HeaderKind::To,
    HeaderKind::CallId,
    HeaderKind::CSeq,
];

/// Headers that may appear at most once (`field-name: value` without a list grammar).
const SINGLE_VALUED: [HeaderKind; 9] = [
    HeaderKind::From,
    HeaderKind::To,
    HeaderKind::CallId,
    HeaderKind::CSeq,
    HeaderKind::MaxForwards,
    HeaderKind::ContentType,
    HeaderKind::ContentDisposition,
    HeaderKind::Date,
    HeaderKind::Expires,
];

impl Message {
    fn fields_of(&self, kind: HeaderKind) -> impl Iterator<Item = &HeaderField> + '_ {
        self.fields().iter().filter(move |f| f.kind == kind)
    }

    /// Makes a view's error point into the message and name the header.
    fn in_field(&self, f: &HeaderField) -> impl Fn(ParseError) -> ParseError + '_ {
        let base = f.value.start as usize;
        let name = self.field_name(f);
        move |e| e.at_base(base).in_header(name)
    }

    fn missing(&self, kind: HeaderKind) -> ParseError {
        ParseError::new(
            ParseErrorKind::MissingHeader,
            self.body_span().start as usize,
        )
        .in_header(kind.name().unwrap_or_default().as_bytes())
    }

    fn first_field(&self, kind: HeaderKind) -> ParseResult<&HeaderField> {
        self.fields_of(kind)
            .next()
            .ok_or_else(|| self.missing(kind))
    }

    fn required_view<'a, T>(
        &'a self,
        kind: HeaderKind,
        parse: impl Fn(&'a [u8]) -> ParseResult<T>,
    ) -> ParseResult<T> {
        let f = self.first_field(kind)?;
        parse(self.field_value(f)).map_err(self.in_field(f))
    }

    fn optional_view<'a, T>(
        &'a self,
        kind: HeaderKind,
        parse: impl Fn(&'a [u8]) -> ParseResult<T>,
    ) -> ParseResult<Option<T>> {
        match self.fields_of(kind).next() {
            Some(f) => parse(self.field_value(f))
                .map(Some)
                .map_err(self.in_field(f)),
            None => Ok(None),
        }
    }

    /// Every element of every field of a list header, in order.
    fn list_view<'a, T>(
        &'a self,
        kind: HeaderKind,
        parse: impl Fn(&'a [u8], &mut Vec<T>) -> ParseResult<()>,
    ) -> ParseResult<Vec<T>> {
        let mut out = Vec::new();
        for f in self.fields_of(kind) {
            parse(self.field_value(f), &mut out).map_err(self.in_field(f))?;
        }
        Ok(out)
    }

    /// The From address (first From field; [`Message::validate`] checks there is one).
    pub fn from(&self) -> ParseResult<Address<'_>> {
        self.required_view(HeaderKind::From, Address::parse)
    }

    pub fn to(&self) -> ParseResult<Address<'_>> {
        self.required_view(HeaderKind::To, Address::parse)
    }

    pub fn call_id(&self) -> ParseResult<&[u8]> {
        self.required_view(HeaderKind::CallId, parse_call_id)
    }

    pub fn cseq(&self) -> ParseResult<CSeq<'_>> {
        self.required_view(HeaderKind::CSeq, CSeq::parse)
    }

    /// Every via-parm across all Via fields, topmost first.
    pub fn vias(&self) -> ParseResult<Vec<Via<'_>>> {
        self.list_view(HeaderKind::Via, parse_via_list)
    }

    /// The topmost via-parm only, without parsing the rest.
    pub fn top_via(&self) -> ParseResult<Via<'_>> {
        let f = self.first_field(HeaderKind::Via)?;
        let value = self.field_value(f);
        let (at, elem) = split_list(value)
            .next()
            .unwrap_or(Ok((0, value)))
            .map_err(self.in_field(f))?;
        Via::parse(elem).map_err(|e| self.in_field(f)(e.at_base(at)))
    }

    /// The Contact addresses of all Contact fields, or `*` (which must stand alone).
    pub fn contacts(&self) -> ParseResult<Contacts<'_>> {
        let mut star = None;
        let mut count = 0;
        for f in self.fields_of(HeaderKind::Contact) {
            count += 1;
            if self.field_value(f) == b"*" {
                star = Some(f);
            }
        }
        match star {
            Some(_) if count == 1 => Ok(Contacts::Star),
            Some(f) => Err(self.in_field(f)(lex::bad(
                "Contact * with other contacts",
                0,
            ))),
            None => self
                .list_view(HeaderKind::Contact, parse_address_list)
                .map(Contacts::List),
        }
    }

    pub fn routes(&self) -> ParseResult<Vec<Address<'_>>> {
        self.list_view(HeaderKind::Route, parse_address_list)
    }

    pub fn record_routes(&self) -> ParseResult<Vec<Address<'_>>> {
        self.list_view(HeaderKind::RecordRoute, parse_address_list)
    }

    pub fn max_forwards(&self) -> ParseResult<Option<u8>> {
        self.optional_view(HeaderKind::MaxForwards, parse_max_forwards)
    }

    pub fn expires(&self) -> ParseResult<Option<u32>> {
        self.optional_view(HeaderKind::Expires, parse_expires)
    }

    pub fn content_type(&self) -> ParseResult<Option<MediaType<'_>>> {
        self.optional_view(HeaderKind::ContentType, MediaType::parse)
    }

    pub fn content_disposition(&self) -> ParseResult<Option<ContentDisposition<'_>>> {
        self.optional_view(HeaderKind::ContentDisposition, ContentDisposition::parse)
    }

    /// The Date; a folded value is unfolded first, since the RFC 1123 form is fixed-width.
    pub fn date(&self) -> ParseResult<Option<SipDate>> {
        self.optional_view(HeaderKind::Date, |v| {
            SipDate::parse(&crate::message::unfold(v))
        })
    }

    /// The Subject text with folding undone.
    pub fn subject(&self) -> Option<Cow<'_, [u8]>> {
        self.value(HeaderKind::Subject).map(parse_subject)
    }

    pub fn authorizations(&self) -> ParseResult<Vec<Auth<'_>>> {
        self.list_view(HeaderKind::Authorization, parse_auth_list)
    }

    pub fn proxy_authorizations(&self) -> ParseResult<Vec<Auth<'_>>> {
        self.list_view(HeaderKind::ProxyAuthorization, parse_auth_list)
    }

    pub fn www_authenticates(&self) -> ParseResult<Vec<Auth<'_>>> {
        self.list_view(HeaderKind::WwwAuthenticate, parse_auth_list)
    }

    pub fn proxy_authenticates(&self) -> ParseResult<Vec<Auth<'_>>> {
        self.list_view(HeaderKind::ProxyAuthenticate, parse_auth_list)
    }

    /// The parsed Request-URI, for requests; errors carry its offset in the message.
    pub fn request_uri_parsed(&self) -> Option<ParseResult<Uri<'_>>> {
        let raw = self.request_uri()?;
        let base = raw.as_ptr() as usize - self.as_bytes().as_ptr() as usize;
        Some(Uri::parse(raw).map_err(|e| e.at_base(base)))
    }

    /// The checks a proxy makes before trusting a message (RFC 3261 §8.1.1, §8.2.6, §16.3):
    /// From, To, Call-ID and CSeq exactly once and well-formed; at least one Via, all
    /// well-formed; a request's CSeq method equal to its method and its Request-URI well-formed
    /// and free of headers (§19.1.1); single-valued headers at most once; Max-Forwards,
    /// Expires, Date, Contact, Route, Record-Route, Content-Type and Content-Disposition
    /// well-formed when present; Content-Type present when there is a body.
    ///
    /// Max-Forwards may be absent: a proxy adds it (§16.6 step 3), and RFC 2543 peers omit it
    /// (RFC 4475 inv2543). Application-layer refusals (unknown scheme, Max-Forwards 0, unknown
    /// Require) are for the caller.
    pub fn validate(&self) -> ParseResult<()> {
        self.validated().map(drop)
    }

    /// [`Message::validate`], handing back what it parsed on the way that a proxy reads next
    /// (reading them again through the accessors would parse them a second time).
    pub fn validated(&self) -> ParseResult<Validated<'_>> {
        if self.start_line().is_none() {
            return Err(ParseError::new(
                ParseErrorKind::BadStartLine("a fragment without a start line"),
                0,
            ));
        }
        // One bit per kind of SINGLE_VALUED seen so far.
        let mut seen = 0u16;
        for f in self.fields() {
            if let Some(bit) = SINGLE_VALUED.iter().position(|k| *k == f.kind) {
                if seen & (1 << bit) != 0 {
                    return Err(ParseError::new(
                        ParseErrorKind::RepeatedHeader,
                        f.line.start as usize,
                    )
                    .in_header(self.field_name(f)));
                }
                seen |= 1 << bit;
            }
        }
        for kind in SINGLE_REQUIRED.into_iter().chain([HeaderKind::Via]) {
            self.first_field(kind)?;
        }
        let from = self.from()?;
        let to = self.to()?;
        let call_id = self.call_id()?;
        let cseq = self.cseq()?;
        let vias = self.vias()?;
        if let Some(method) = self.method() {
            if cseq.method != method {
                let f = self.first_field(HeaderKind::CSeq)?;
                return Err(self.in_field(f)(lex::bad(
                    "CSeq method differs from the request method",
                    0,
                )));
            }
        }
        let request_uri = match self.request_uri_parsed() {
            Some(uri) => {
                let uri = uri?;
                if uri.has_headers() {
                    let at = uri.as_str().find('?').unwrap_or(0);
                    let base = uri.as_str().as_ptr() as usize - self.as_bytes().as_ptr() as usize;
                    return Err(ParseError::new(
                        ParseErrorKind::BadUri("headers are not allowed in a Request-URI"),
                        base + at,
                    ));
                }
                Some(uri)
            }
            None => None,
        };
        let max_forwards = self.max_forwards()?;
        self.expires()?;
        self.date()?;
        self.contacts()?;
        let routes = self.routes()?;
        self.record_routes()?;
        if self.content_type()?.is_none() && !self.body().is_empty() {
            return Err(self.missing(HeaderKind::ContentType));
        }
        self.content_disposition()?;
        Ok(Validated {
            from,
            to,
            call_id,
            cseq,
            vias,
            request_uri,
            max_forwards,
            routes,
        })
    }
}

/// What [`Message::validated`] parsed, borrowing the message.
#[derive(Debug, Clone)]
pub struct Validated<'a> {
    pub from: Address<'a>,
    pub to: Address<'a>,
    pub call_id: &'a [u8],
    pub cseq: CSeq<'a>,
    /// Every via-parm, topmost first; never empty.
    pub vias: Vec<Via<'a>>,
    /// For a request.
    pub request_uri: Option<Uri<'a>>,
    pub max_forwards: Option<u8>,
    /// Every Route element in order.
    pub routes: Vec<Address<'a>>,
}

#[cfg(test)]
mod tests;
