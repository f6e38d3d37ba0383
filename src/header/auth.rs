//! WWW-Authenticate, Proxy-Authenticate, Authorization and Proxy-Authorization
//! (RFC 3261 §20.7, §20.27, §20.28, §20.44; digest parameters of §25.1): a scheme and
//! comma-separated `name=value` parameters.

use super::lex::{bad, is_token_char, unquote, Cursor, Params};
use crate::error::ParseResult;
use std::borrow::Cow;

/// One challenge or one set of credentials: `scheme name=value, name=value…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auth<'a> {
    pub scheme: &'a [u8],
    params: Params<'a>,
}

impl<'a> Auth<'a> {
    /// Parses one header value holding exactly one challenge or credentials.
    pub fn parse(value: &'a [u8]) -> ParseResult<Auth<'a>> {
        let mut out = Vec::with_capacity(1);
        parse_auth_list(value, &mut out)?;
        match out.as_slice() {
            [one] => Ok(*one),
            _ => Err(bad("more than one challenge in the value", 0)),
        }
    }

    /// True when the scheme is `name`, in any case (`Digest`).
    pub fn is_scheme(&self, name: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The parameters as written (values keep their quotes).
    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// A parameter's value, unquoted (`realm`, `nonce`, `response`, `uri`, …).
    pub fn param(&self, name: &str) -> Option<Cow<'a, [u8]>> {
        self.params.get(name).flatten().map(unquote)
    }
}

/// Parses one header value into its challenges (RFC 3261 allows several, comma-separated,
/// in one value: a new one starts where a list element is `token LWS token=`), appending to
/// `out`.
pub fn parse_auth_list<'a>(value: &'a [u8], out: &mut Vec<Auth<'a>>) -> ParseResult<()> {
    let mut c = Cursor::new(value);
    c.lws();
    loop {
        let scheme = c.token("authentication scheme missing")?;
        if !c.lws() {
            return Err(bad("no white space after the authentication scheme", c.pos));
        }
        let params_start = c.pos;
        auth_param(&mut c)?;
        loop {
            let back = c.pos;
            if !c.sep(b',') {
                break;
            }
            if starts_new_challenge(&c) {
                c.pos = back;
                break;
            }
            auth_param(&mut c)?;
        }
        out.push(Auth {
            scheme,
            params: Params::from_first(&c.b[params_start..c.pos]),
        });
        if !c.sep(b',') {
            break;
        }
    }
    c.expect_end("junk after the authentication parameters")
}

/// `name EQUAL (token / quoted-string)`.
fn auth_param(c: &mut Cursor<'_>) -> ParseResult<()> {
    c.token("empty authentication parameter")?;
    if !c.sep(b'=') {
        return Err(bad("authentication parameter without =", c.pos));
    }
    if c.peek() == Some(b'"') {
        c.quoted()?;
    } else {
        c.token("authentication parameter without a value")?;
    }
    Ok(())
}

/// `token LWS token` (not `token =`): the start of the next challenge.
fn starts_new_challenge(c: &Cursor<'_>) -> bool {
    let rest = &c.b[c.pos..];
    let tok = rest.iter().take_while(|&&b| is_token_char(b)).count();
    let ws = rest[tok..]
        .iter()
        .take_while(|&&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .count();
    tok > 0 && ws > 0 && rest.get(tok + ws).is_some_and(|&b| is_token_char(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;

    #[test]
    fn digest_credentials() {
        let a = Auth::parse(b"Digest username=\"bob\", realm=\"biloxi.com\",\r\n nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:bob@biloxi.com\", qop=auth, nc=00000001, response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5").unwrap();
        assert!(a.is_scheme("DIGEST"));
        assert_eq!(a.param("username").unwrap().as_ref(), b"bob");
        assert_eq!(a.param("uri").unwrap().as_ref(), b"sip:bob@biloxi.com");
        assert_eq!(a.param("qop").unwrap().as_ref(), b"auth");
        assert_eq!(a.param("algorithm").unwrap().as_ref(), b"MD5");
        assert_eq!(a.params().iter().count(), 8);
    }

    #[test]
    fn unknown_scheme_and_several_challenges() {
        let a = Auth::parse(b"NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(a.scheme, b"NoOneKnowsThisScheme");
        assert_eq!(a.param("opaque-data").unwrap().as_ref(), b"here");
        let mut out = Vec::new();
        parse_auth_list(
            b"Digest realm=\"a\", nonce=\"1\", Digest realm=\"b\", nonce=\"2\"",
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].param("realm").unwrap().as_ref(), b"b");
        assert_eq!(
            Auth::parse(b"Digest realm=\"a\", Other x=1")
                .unwrap_err()
                .kind,
            ParseErrorKind::BadValue("more than one challenge in the value")
        );
    }

    #[test]
    fn refusals() {
        let k = |v: &[u8]| Auth::parse(v).unwrap_err().kind;
        assert_eq!(
            k(b"Digest"),
            ParseErrorKind::BadValue("no white space after the authentication scheme")
        );
        assert_eq!(
            k(b"Digest realm"),
            ParseErrorKind::BadValue("authentication parameter without =")
        );
        assert_eq!(
            k(b"Digest ,"),
            ParseErrorKind::BadValue("empty authentication parameter")
        );
        assert_eq!(
            k(b"Digest realm=\"x"),
            ParseErrorKind::BadValue("unterminated quoted string")
        );
        assert_eq!(
            k(b"Digest realm=x,,"),
            ParseErrorKind::BadValue("empty authentication parameter")
        );
        assert_eq!(
            k(b"Digest realm=x;y"),
            ParseErrorKind::BadValue("junk after the authentication parameters")
        );
        assert_eq!(
            k(b""),
            ParseErrorKind::BadValue("authentication scheme missing")
        );
    }
}
