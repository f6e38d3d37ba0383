//! From, To, Contact, Route and Record-Route: `name-addr / addr-spec` with header parameters
//! (RFC 3261 §20.10, §20.20, §20.39, §20.30, §20.34; grammar §25.1).

use super::lex::{bad, is_token_char, split_list, unquote, Cursor, Params};
use crate::error::{ParseError, ParseResult};
use crate::uri::Uri;
use std::borrow::Cow;

/// One address: optional display name, the URI, the header parameters after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address<'a> {
    display: Option<&'a [u8]>,
    uri: Uri<'a>,
    bracketed: bool,
    params: Params<'a>,
}

impl<'a> Address<'a> {
    /// Parses one address value (a single list element).
    pub fn parse(value: &'a [u8]) -> ParseResult<Address<'a>> {
        let mut c = Cursor::new(value);
        let a = Self::parse_at(&mut c)?;
        c.expect_end("junk after the address")?;
        Ok(a)
    }

    fn parse_at(c: &mut Cursor<'a>) -> ParseResult<Address<'a>> {
        c.lws();
        let start = c.pos;
        let display = match c.peek() {
            Some(b'"') => {
                let q = c.quoted()?;
                c.lws();
                if c.peek() != Some(b'<') {
                    return Err(bad("display name not followed by <", c.pos));
                }
                Some(q)
            }
            Some(b'<') => None,
            _ => {
                // `*(token LWS)` before `<`; without `<` it was an addr-spec.
                let mut end = start;
                while !c.take_while(is_token_char).is_empty() {
                    end = c.pos;
                    c.lws();
                }
                if c.peek() == Some(b'<') {
                    Some(&c.b[start..end])
                } else if memchr::memchr(b'<', &c.b[c.pos..]).is_some() {
                    return Err(bad(
                        "display name is neither tokens nor a quoted string",
                        c.pos,
                    ));
                } else {
                    c.pos = start;
                    None
                }
            }
        };
        let bracketed = c.eat(b'<');
        let uri = if bracketed {
            let from = c.pos;
            let len =
                memchr::memchr(b'>', &c.b[from..]).ok_or_else(|| bad("< without >", from - 1))?;
            c.pos = from + len + 1;
            Uri::parse(&c.b[from..from + len]).map_err(|e| e.at_base(from))?
        } else {
            // An addr-spec ends where header parameters start (RFC 3261 §20.10).
            let from = c.pos;
            let len = c.b[from..]
                .iter()
                .position(|&b| matches!(b, b';' | b',' | b' ' | b'\t' | b'\r' | b'\n'))
                .unwrap_or(c.b.len() - from);
            let text = &c.b[from..from + len];
            if let Some(q) = memchr::memchr(b'?', text) {
                return Err(bad("a URI with headers must be enclosed in <>", from + q));
            }
            c.pos = from + len;
            Uri::parse(text).map_err(|e| e.at_base(from))?
        };
        let params = Params::parse(c)?;
        Ok(Address {
            display,
            uri,
            bracketed,
            params,
        })
    }

    /// The display name as written (quotes kept), if any.
    pub fn display_raw(&self) -> Option<&'a [u8]> {
        self.display
    }

    /// The display name with quotes and escapes removed.
    pub fn display_name(&self) -> Option<Cow<'a, [u8]>> {
        self.display.map(unquote)
    }

    pub fn uri(&self) -> &Uri<'a> {
        &self.uri
    }

    /// True for the `name-addr` form (`<uri>`), false for a bare addr-spec.
    pub fn is_bracketed(&self) -> bool {
        self.bracketed
    }

    /// The header parameters (after the URI, outside `<>`).
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    pub fn tag(&self) -> Option<&'a [u8]> {
        self.params.get("tag").flatten()
    }
}

/// A Contact header value: `*` or a list of addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contacts<'a> {
    Star,
    List(Vec<Address<'a>>),
}

impl<'a> Contacts<'a> {
    /// The addresses (none for `*`).
    pub fn addresses(&self) -> &[Address<'a>] {
        match self {
            Contacts::Star => &[],
            Contacts::List(l) => l,
        }
    }
}

/// Parses the comma-separated addresses of one header value, appending to `out`.
pub fn parse_address_list<'a>(value: &'a [u8], out: &mut Vec<Address<'a>>) -> ParseResult<()> {
    for item in split_list(value) {
        let (at, elem) = item?;
        if elem.is_empty() {
            return Err(bad("empty list element", at));
        }
        out.push(Address::parse(elem).map_err(|e: ParseError| e.at_base(at))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;
    use crate::uri::{Host, Scheme};

    fn kind(v: &[u8]) -> (ParseErrorKind, usize) {
        let e = Address::parse(v).unwrap_err();
        (e.kind, e.offset)
    }

    #[test]
    fn quoted_display_name_with_escapes_and_folded_params() {
        let a = Address::parse(
            b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(a.display_name().unwrap().as_ref(), b"J Rosenberg \\\"");
        assert_eq!(a.uri().user(), Some("jdrosen"));
        assert_eq!(a.tag(), Some(&b"98asjd8"[..]));
        assert!(a.is_bracketed());
    }

    #[test]
    fn token_display_names() {
        let a = Address::parse(b"caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display_raw(), Some(&b"caller"[..]));
        let a = Address::parse(b"token1~` token2'+_ <sip:m@example.com>").unwrap();
        assert_eq!(a.display_raw(), Some(&b"token1~` token2'+_"[..]));
        let a = Address::parse(b"<sip:m@example.com>").unwrap();
        assert_eq!(a.display_raw(), None);
    }

    #[test]
    fn addr_spec_params_belong_to_the_header() {
        let a = Address::parse(b"sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(!a.is_bracketed());
        assert_eq!(a.params().get("unknownparam"), Some(None));
        assert_eq!(a.uri().params().count(), 0);
        let a = Address::parse(b"<sip:+19725552222@gw1.example.net;unknownparam>").unwrap();
        assert!(a.params().is_empty());
        assert_eq!(a.uri().param("unknownparam"), Some(None));
    }

    #[test]
    fn ipv6_and_unknown_schemes() {
        let a = Address::parse(b"\"Caller\" <sip:caller@[2001:db8::1]>").unwrap();
        assert!(matches!(a.uri().host(), Some(Host::Ipv6 { .. })));
        let a = Address::parse(b"isbn:2983792873").unwrap();
        assert_eq!(a.uri().scheme(), Scheme::Other);
        let a = Address::parse(b"<http://www.example.com>;tag=3234233").unwrap();
        assert_eq!(a.uri().scheme_str(), "http");
    }

    #[test]
    fn refusals() {
        assert_eq!(
            kind(b"\"Mr. J. User <sip:j.user@example.com>"),
            (ParseErrorKind::BadValue("unterminated quoted string"), 0)
        );
        assert_eq!(
            kind(b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43").0,
            ParseErrorKind::BadValue("display name is neither tokens nor a quoted string")
        );
        assert_eq!(
            kind(b"\"Watson, Thomas\" < sip:t.watson@example.org >"),
            (
                ParseErrorKind::BadUri("white space, control or non-ASCII character in a URI"),
                18
            )
        );
        assert_eq!(
            kind(b"sip:user@example.com?Route=%3Csip:sip.example.com%3E").0,
            ParseErrorKind::BadValue("a URI with headers must be enclosed in <>")
        );
        assert_eq!(
            kind(b"\"Joe\" <sip:joe@example.org>;;;;").0,
            ParseErrorKind::BadValue("empty parameter")
        );
        assert_eq!(kind(b"<sip:a@b").0, ParseErrorKind::BadValue("< without >"));
        assert_eq!(
            kind(b"\"x\" sip:a@b").0,
            ParseErrorKind::BadValue("display name not followed by <")
        );
        assert_eq!(
            kind(b"<sip:a@b> junk").0,
            ParseErrorKind::BadValue("junk after the address")
        );
        assert_eq!(kind(b"").0, ParseErrorKind::BadUri("no scheme"));
    }

    #[test]
    fn lists() {
        let mut out = Vec::new();
        parse_address_list(b"<sip:a@x>, \"b, c\" <sip:b@y>;q=0.5", &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].params().get("q"), Some(Some(&b"0.5"[..])));
        let e = parse_address_list(b"<sip:a@x>,,<sip:b@y>", &mut out).unwrap_err();
        assert_eq!(
            (e.kind, e.offset),
            (ParseErrorKind::BadValue("empty list element"), 10)
        );
        let e = parse_address_list(b"<sip:a@x>, <sip:b@y", &mut out).unwrap_err();
        assert_eq!(e.offset, 11);
    }
}
