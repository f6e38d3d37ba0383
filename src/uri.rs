//! SIP, SIPS and tel URIs (RFC 3261 §19.1 and §25.1, RFC 3966) and the address-of-record key.
//!
//! A [`Uri`] borrows the bytes it was parsed from: every component is a slice of the input, so
//! the common path allocates nothing. Escapes stay as written; [`unescape`] decodes on demand.
//! Schemes other than sip, sips and tel parse as opaque URIs so that a proxy can still route
//! them (RFC 4475 §3.3.2–3.3.4).

use crate::error::{ParseError, ParseErrorKind, ParseResult};
use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The URI scheme. Only `Sip`, `Sips` and `Tel` have typed components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Sip,
    Sips,
    Tel,
    /// Any other scheme; see [`Uri::scheme_str`] and [`Uri::opaque`].
    Other,
}

/// The host of a SIP URI (or of a Via sent-by).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A domain name, as written.
    Name(&'a str),
    Ipv4(Ipv4Addr),
    /// An IPv6 reference; `text` is what was inside the brackets (kept for byte-exactness:
    /// it may be the RFC 5118 §4.10 three-colon form).
    Ipv6 {
        addr: Ipv6Addr,
        text: &'a str,
    },
}

impl Host<'_> {
    /// Case-insensitive for names; address comparison for IP literals.
    pub fn equivalent(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
            (Host::Ipv6 { addr: a, .. }, Host::Ipv6 { addr: b, .. }) => a == b,
            _ => false,
        }
    }
}

/// The host as written in a URI (IPv6 with its brackets, in its original text).
impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6 { text, .. } => write!(f, "[{text}]"),
        }
    }
}

/// One `;name[=value]` URI parameter, escapes kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UriParam<'a> {
    pub name: &'a str,
    pub value: Option<&'a str>,
}

/// A parsed URI, borrowing the text it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uri<'a> {
    raw: &'a str,
    scheme: Scheme,
    scheme_text: &'a str,
    /// For sip/sips: the user part; for tel: the subscriber number.
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: Option<Host<'a>>,
    port: Option<u16>,
    /// The parameters without the leading `;` (empty when none).
    params: &'a str,
    /// The headers without the leading `?` (empty when none).
    headers: &'a str,
    has_headers: bool,
}

fn bad(why: &'static str, at: usize) -> ParseError {
    ParseError::new(ParseErrorKind::BadUri(why), at)
}

/// A byte-class lookup table: ASCII letters and digits plus `extra`. Tables instead of
/// `contains` scans keep the per-byte checks of the hot path to one load.
pub(crate) const fn class(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
}

/// `unreserved` is alphanum and `mark` (`-_.!~*'()`).
static USER: [bool; 256] = class(b"-_.!~*'()&=+$,;?/");
static PASSWORD: [bool; 256] = class(b"-_.!~*'()&=+$,");
static PARAM: [bool; 256] = class(b"-_.!~*'()[]/:&+$");
static HEADER: [bool; 256] = class(b"-_.!~*'()[]/?:+$");
static HOSTNAME: [bool; 256] = class(b"-.");
/// RFC 3986 characters, for opaque URIs.
static OPAQUE: [bool; 256] = class(b"-._~:/?#[]@!$&'()*+,;=");

fn is_user_char(c: u8) -> bool {
    USER[c as usize]
}

pub(crate) fn is_hostname_char(c: u8) -> bool {
    HOSTNAME[c as usize]
}

/// Checks `text` (starting `base` bytes into the URI) against a character class where `%HH`
/// escapes are also allowed.
fn check_chars(
    text: &str,
    base: usize,
    allowed: &[bool; 256],
    why: &'static str,
) -> ParseResult<()> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err(bad("% not followed by two hex digits", base + i));
            }
            i += 3;
        } else if allowed[usize::from(b[i])] {
            i += 1;
        } else {
            return Err(bad(why, base + i));
        }
    }
    Ok(())
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.to_ascii_lowercase().wrapping_sub(b'a').wrapping_add(10),
    }
}

/// Decodes `%HH` escapes; borrows when there are none. A `%` not followed by two hex digits is
/// kept as it is (the parsers refuse those where the grammar does).
pub fn unescape(text: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'%', text).is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        match (c, text.get(i + 1), text.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                out.push(hex_val(h) << 4 | hex_val(l));
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// Parses a host: a bracketed IPv6 reference, a dotted IPv4 address or a domain name.
/// `base` is the offset of `text` in the caller's input, for errors.
pub fn parse_host(text: &str, base: usize) -> ParseResult<Host<'_>> {
    let b = text.as_bytes();
    if b.first() == Some(&b'[') {
        let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) else {
            return Err(bad("unbalanced [ in host", base));
        };
        return parse_ipv6(inner, base + 1).map(|addr| Host::Ipv6 { addr, text: inner });
    }
    if b.is_empty() {
        return Err(bad("empty host", base));
    }
    if b.iter().all(|&c| c.is_ascii_digit() || c == b'.') {
        return parse_ipv4(b)
            .map(Host::Ipv4)
            .ok_or_else(|| bad("malformed IPv4 address", base));
    }
    if let Some(i) = b.iter().position(|&c| !is_hostname_char(c)) {
        return Err(bad("character not allowed in a host name", base + i));
    }
    if !well_formed_name(text) {
        return Err(bad("malformed host name", base));
    }
    Ok(Host::Name(text))
}

/// No label of a host name (of host-name characters) starts or ends with `-`.
fn well_formed_name(text: &str) -> bool {
    text.trim_end_matches('.')
        .as_bytes()
        .split(|&c| c == b'.')
        .all(|l| l.first().is_some_and(|&c| c != b'-') && l.last() != Some(&b'-'))
}

/// A dotted quad of digits and dots, read as `Ipv4Addr::from_str` reads it (four decimal
/// octets up to 255, no leading zeros) without its general-purpose parser: every From and
/// To of a capture from a lab network has one.
fn parse_ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    // Octet by octet rather than a state machine over every byte: a quarter fewer instructions.
    let digit = |c: u8| c.is_ascii_digit().then(|| c - b'0');
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&c| c == b'.');
    for octet in &mut octets {
        *octet = match *parts.next()? {
            [a] => digit(a)?,
            [a, b] if a != b'0' => digit(a)? * 10 + digit(b)?,
            [a, b, c] if a != b'0' => {
                let n = u16::from(digit(a)?) * 100 + u16::from(digit(b)?) * 10;
                u8::try_from(n + u16::from(digit(c)?)).ok()?
            }
            _ => return None,
        };
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// An IPv6 address as in RFC 4291, tolerating the `:::` form the RFC 3261 ABNF allows
/// (RFC 5118 §4.10).
fn parse_ipv6(text: &str, base: usize) -> ParseResult<Ipv6Addr> {
    if let Ok(a) = text.parse() {
        return Ok(a);
    }
    if text.matches(":::").count() == 1 {
        if let Ok(a) = text.replacen(":::", "::", 1).parse() {
            return Ok(a);
        }
    }
    Err(bad("malformed IPv6 address", base))
}

fn parse_port(text: &str, base: usize) -> ParseResult<u16> {
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad("port is not a number", base));
    }
    // Digits only: the value (leading zeros allowed) either fits in 16 bits or is too large.
    text.bytes()
        .try_fold(0u16, |n, c| {
            n.checked_mul(10)?.checked_add(u16::from(c - b'0'))
        })
        .ok_or_else(|| bad("port is larger than 65535", base))
}

/// `str::find` for an ASCII byte, with memchr: URIs are parsed for every address of every
/// message, and the char searcher was a tenth of the views' time.
fn find_byte(text: &str, b: u8) -> Option<usize> {
    // A plain loop: URI pieces are a few dozen bytes, shorter than memchr's set-up pays for.
    text.bytes().position(|c| c == b)
}

/// `str::split_once` for an ASCII byte (an ASCII byte's index is always a char boundary).
fn split_once_byte(text: &str, b: u8) -> Option<(&str, &str)> {
    find_byte(text, b).map(|i| (&text[..i], &text[i + 1..]))
}

/// Splits `host[:port]` where the host may be a bracketed IPv6 reference.
pub fn parse_hostport(text: &str, base: usize) -> ParseResult<(Host<'_>, Option<u16>)> {
    let host_end = if text.starts_with('[') {
        find_byte(text, b']')
            .map(|i| i + 1)
            .ok_or_else(|| bad("unbalanced [ in host", base))?
    } else {
        match find_byte(text, b':') {
            Some(colon) if find_byte(&text[colon + 1..], b':').is_some() => {
                return Err(bad("IPv6 address without brackets", base));
            }
            Some(colon) => colon,
            None => text.len(),
        }
    };
    let host = parse_host(&text[..host_end], base)?;
    let rest = &text[host_end..];
    let port = match rest.strip_prefix(':') {
        Some(p) => Some(parse_port(p, base + host_end + 1)?),
        None if rest.is_empty() => None,
        None => return Err(bad("junk after the host", base + host_end)),
    };
    Ok((host, port))
}

/// `;name[=value]` parameters (text after the first `;`).
fn check_params(text: &str, base: usize) -> ParseResult<()> {
    let mut at = base;
    for p in text.split(';') {
        let (name, value) = match split_once_byte(p, b'=') {
            Some((n, v)) => (n, Some(v)),
            None => (p, None),
        };
        if name.is_empty() {
            return Err(bad("empty URI parameter name", at));
        }
        check_chars(name, at, &PARAM, "character not allowed in a URI parameter")?;
        if let Some(v) = value {
            if v.is_empty() {
                return Err(bad("empty URI parameter value", at + name.len() + 1));
            }
            check_chars(
                v,
                at + name.len() + 1,
                &PARAM,
                "character not allowed in a URI parameter",
            )?;
        }
        at += p.len() + 1;
    }
    Ok(())
}

/// `name=value` headers joined by `&` (text after the `?`).
fn check_headers(text: &str, base: usize) -> ParseResult<()> {
    let mut at = base;
    for h in text.split('&') {
        let Some((name, value)) = h.split_once('=') else {
            return Err(bad("URI header without =", at));
        };
        if name.is_empty() {
            return Err(bad("empty URI header name", at));
        }
        check_chars(name, at, &HEADER, "character not allowed in a URI header")?;
        check_chars(
            value,
            at + name.len() + 1,
            &HEADER,
            "character not allowed in a URI header",
        )?;
        at += h.len() + 1;
    }
    Ok(())
}

/// `scheme ":"` (RFC 3986 §3.1); returns the index of the colon.
fn scheme_end(b: &[u8]) -> Option<usize> {
    let colon = memchr::memchr(b':', b)?;
    (colon > 0
        && b[0].is_ascii_alphabetic()
        && b[1..colon]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"+-.".contains(&c)))
    .then_some(colon)
}

/// The user characters the one-pass reader takes: [`USER`] without `;` and `?`, which a user
/// part may only hold because the first `@` ends it (RFC 4475 semiuri), a rule that needs the
/// general parser's look-ahead.
static PLAIN_USER: [bool; 256] = class(b"-_.!~*'()&=+$,/");

/// `name[=value]` parameters joined by `;` without escapes, as [`check_params`] accepts them.
fn plain_params(b: &[u8]) -> bool {
    let mut i = 0;
    loop {
        let name = i;
        while b.get(i).is_some_and(|&c| PARAM[usize::from(c)]) {
            i += 1;
        }
        if i == name {
            return false;
        }
        if b.get(i) == Some(&b'=') {
            i += 1;
            let value = i;
            while b.get(i).is_some_and(|&c| PARAM[usize::from(c)]) {
                i += 1;
            }
            if i == value {
                return false;
            }
        }
        match b.get(i) {
            None => return true,
            Some(b';') => i += 1,
            Some(_) => return false,
        }
    }
}

impl<'a> Uri<'a> {
    /// Parses a URI occupying all of `bytes` (no surrounding white space or angle brackets).
    /// Errors are `BadUri` with the offset into `bytes`.
    pub fn parse(bytes: &'a [u8]) -> ParseResult<Uri<'a>> {
        match Uri::parse_plain_sip(bytes) {
            Some(uri) => Ok(uri),
            None => Uri::parse_general(bytes),
        }
    }

    /// `sip:user@host[:port][;name[=value]]…` (or sips) without escapes, password, IPv6
    /// reference or headers, read in one pass: the shape of nearly every From and To, for
    /// which the general parser's splits and re-scans were two thirds of reading the address.
    /// `None` for anything else, which the general parser then reads or refuses: this accepts
    /// only what that one accepts, with the same components (a proptest holds them together).
    fn parse_plain_sip(bytes: &'a [u8]) -> Option<Uri<'a>> {
        let scheme_len = match bytes {
            [s, i, p, b':', ..] if [*s, *i, *p].eq_ignore_ascii_case(b"sip") => 3,
            [s, i, p, s2, b':', ..] if [*s, *i, *p, *s2].eq_ignore_ascii_case(b"sips") => 4,
            _ => return None,
        };
        let user_start = scheme_len + 1;
        let mut i = user_start;
        while bytes.get(i).is_some_and(|&c| PLAIN_USER[usize::from(c)]) {
            i += 1;
        }
        if i == user_start || bytes.get(i) != Some(&b'@') {
            return None;
        }
        let user_end = i;
        i += 1;
        let host_start = i;
        // A letter or `-` makes it a name; digits and dots alone must be an IPv4 address.
        let mut name = false;
        while let Some(&c) = bytes.get(i).filter(|&&c| is_hostname_char(c)) {
            name |= !(c.is_ascii_digit() || c == b'.');
            i += 1;
        }
        let host_end = i;
        let mut port = None;
        if bytes.get(i) == Some(&b':') {
            i += 1;
            let digits = i;
            let mut n = 0u16;
            while let Some(&c) = bytes.get(i).filter(|c| c.is_ascii_digit()) {
                n = n.checked_mul(10)?.checked_add(u16::from(c - b'0'))?;
                i += 1;
            }
            if i == digits {
                return None;
            }
            port = Some(n);
        }
        let params_start = match bytes.get(i) {
            None => i,
            Some(b';') if plain_params(&bytes[i + 1..]) => i + 1,
            Some(_) => return None,
        };
        // Every byte taken above is printable ASCII, so this cannot fail.
        let raw = std::str::from_utf8(bytes).ok()?;
        let host_text = &raw[host_start..host_end];
        let host = if host_text.is_empty() {
            return None;
        } else if name {
            well_formed_name(host_text).then_some(Host::Name(host_text))?
        } else {
            Host::Ipv4(parse_ipv4(host_text.as_bytes())?)
        };
        Some(Uri {
            raw,
            scheme: if scheme_len == 3 {
                Scheme::Sip
            } else {
                Scheme::Sips
            },
            scheme_text: &raw[..scheme_len],
            user: Some(&raw[user_start..user_end]),
            password: None,
            host: Some(host),
            port,
            params: &raw[params_start..],
            headers: "",
            has_headers: false,
        })
    }

    /// Any URI, by the general rules (see [`Uri::parse`]).
    fn parse_general(bytes: &'a [u8]) -> ParseResult<Uri<'a>> {
        if let Some(i) = bytes.iter().position(|&c| !(0x21..0x7f).contains(&c)) {
            return Err(bad(
                "white space, control or non-ASCII character in a URI",
                i,
            ));
        }
        let raw = std::str::from_utf8(bytes).map_err(|_| bad("not ASCII", 0))?;
        let colon = scheme_end(bytes).ok_or_else(|| bad("no scheme", 0))?;
        let scheme_text = &raw[..colon];
        let scheme = if scheme_text.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if scheme_text.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else if scheme_text.eq_ignore_ascii_case("tel") {
            Scheme::Tel
        } else {
            Scheme::Other
        };
        let mut uri = Uri {
            raw,
            scheme,
            scheme_text,
            user: None,
            password: None,
            host: None,
            port: None,
            params: "",
            headers: "",
            has_headers: false,
        };
        let rest = &raw[colon + 1..];
        let base = colon + 1;
        match scheme {
            Scheme::Sip | Scheme::Sips => uri.parse_sip(rest, base)?,
            Scheme::Tel => uri.parse_tel(rest, base)?,
            Scheme::Other if rest.is_empty() => {
                return Err(bad("empty URI after the scheme", base))
            }
            Scheme::Other => {
                // RFC 3986 characters only: no quotes, angle brackets or braces.
                check_chars(rest, base, &OPAQUE, "character not allowed in a URI")?;
            }
        }
        Ok(uri)
    }

    fn parse_sip(&mut self, rest: &'a str, base: usize) -> ParseResult<()> {
        // No raw `@` may follow the userinfo (host, params and headers exclude it), so the first
        // `@` ends the userinfo even when the user part holds `;` or `?` (RFC 4475 semiuri).
        let (hostpart, hp_base) = match find_byte(rest, b'@') {
            Some(at) => {
                let userinfo = &rest[..at];
                let (user, password) = match split_once_byte(userinfo, b':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (userinfo, None),
                };
                if user.is_empty() {
                    return Err(bad("empty user part before @", base));
                }
                check_chars(user, base, &USER, "character not allowed in the user part")?;
                if let Some(p) = password {
                    check_chars(
                        p,
                        base + user.len() + 1,
                        &PASSWORD,
                        "character not allowed in the password",
                    )?;
                }
                self.user = Some(user);
                self.password = password;
                (&rest[at + 1..], base + at + 1)
            }
            None => (rest, base),
        };
        let (before_headers, headers) = match split_once_byte(hostpart, b'?') {
            Some((b, h)) => (b, Some(h)),
            None => (hostpart, None),
        };
        let (hostport, params) = match split_once_byte(before_headers, b';') {
            Some((h, p)) => (h, Some(p)),
            None => (before_headers, None),
        };
        if hostport.is_empty() {
            return Err(bad("empty host", hp_base));
        }
        let (host, port) = parse_hostport(hostport, hp_base)?;
        self.host = Some(host);
        self.port = port;
        if let Some(p) = params {
            check_params(p, hp_base + hostport.len() + 1)?;
            self.params = p;
        }
        if let Some(h) = headers {
            check_headers(h, hp_base + before_headers.len() + 1)?;
            self.headers = h;
            self.has_headers = true;
        }
        Ok(())
    }

    /// RFC 3966: a global number (`+` digits and visual separators) or a local number, which
    /// needs a `phone-context` parameter; then parameters.
    fn parse_tel(&mut self, rest: &'a str, base: usize) -> ParseResult<()> {
        let (number, params) = match rest.split_once(';') {
            Some((n, p)) => (n, Some(p)),
            None => (rest, None),
        };
        let is_sep = |c: u8| b"-.()".contains(&c);
        let (digits, allowed): (&str, fn(u8) -> bool) = match number.strip_prefix('+') {
            Some(d) => (d, |c| c.is_ascii_digit() || b"-.()".contains(&c)),
            None => (number, |c| c.is_ascii_hexdigit() || b"*#-.()".contains(&c)),
        };
        if !digits.bytes().any(|c| !is_sep(c)) {
            return Err(bad("tel URI without digits", base));
        }
        if let Some(i) = digits.bytes().position(|c| !allowed(c)) {
            return Err(bad(
                "character not allowed in a telephone number",
                base + number.len() - digits.len() + i,
            ));
        }
        self.user = Some(number);
        if let Some(p) = params {
            check_params(p, base + number.len() + 1)?;
            self.params = p;
        }
        if !number.starts_with('+') && self.param("phone-context").is_none() {
            return Err(bad("local telephone number without phone-context", base));
        }
        Ok(())
    }

    /// Parses a URI given as text.
    pub fn parse_str(text: &'a str) -> ParseResult<Uri<'a>> {
        Uri::parse(text.as_bytes())
    }

    /// The URI exactly as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The scheme as written (any case).
    pub fn scheme_str(&self) -> &'a str {
        self.scheme_text
    }

    /// Everything after `scheme:` — the whole content of an opaque URI.
    pub fn opaque(&self) -> &'a str {
        &self.raw[self.scheme_text.len() + 1..]
    }

    /// The user part, escapes as written (for tel: the number).
    pub fn user(&self) -> Option<&'a str> {
        self.user
    }

    /// The user part with escapes decoded (`%00` stays a NUL byte; nothing is truncated).
    pub fn user_unescaped(&self) -> Option<Cow<'a, [u8]>> {
        self.user.map(|u| unescape(u.as_bytes()))
    }

    pub fn password(&self) -> Option<&'a str> {
        self.password
    }

    /// The host, for sip and sips URIs.
    pub fn host(&self) -> Option<Host<'a>> {
        self.host
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The URI parameters in order, escapes as written.
    pub fn params(&self) -> impl Iterator<Item = UriParam<'a>> + 'a {
        let raw = self.params;
        raw.split(';')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((name, value)) => UriParam {
                    name,
                    value: Some(value),
                },
                None => UriParam {
                    name: p,
                    value: None,
                },
            })
    }

    /// A parameter by name (case-insensitive): `Some(None)` when present without a value.
    /// Escaped names match their characters (`;%6C%72` is `;lr`, RFC 4475 esc01).
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.params()
            .find(|p| unescape(p.name.as_bytes()).eq_ignore_ascii_case(name.as_bytes()))
            .map(|p| p.value)
    }

    pub fn transport(&self) -> Option<&'a str> {
        self.param("transport").flatten()
    }

    /// The `user=` parameter (`phone`, `ip`).
    pub fn user_param(&self) -> Option<&'a str> {
        self.param("user").flatten()
    }

    pub fn method_param(&self) -> Option<&'a str> {
        self.param("method").flatten()
    }

    pub fn ttl(&self) -> Option<&'a str> {
        self.param("ttl").flatten()
    }

    pub fn maddr(&self) -> Option<&'a str> {
        self.param("maddr").flatten()
    }

    /// The loose-routing flag `;lr`.
    pub fn lr(&self) -> bool {
        self.param("lr").is_some()
    }

    pub fn has_headers(&self) -> bool {
        self.has_headers
    }

    /// The `?name=value&…` headers in order, escapes as written.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let raw = self.headers;
        raw.split('&')
            .filter(|h| !h.is_empty())
            .map(|h| h.split_once('=').unwrap_or((h, "")))
    }

    /// The address-of-record: `user@host` (host lower-cased, user escapes normalised, no port
    /// or parameters) for sip/sips, the number without visual separators for tel, `None` for
    /// other schemes.
    pub fn aor(&self) -> Option<Aor> {
        match self.scheme {
            Scheme::Sip | Scheme::Sips => {
                let mut host = String::new();
                push_host_key(&mut host, self.host?);
                let user = self.user.map(|u| {
                    let mut text = String::with_capacity(u.len());
                    push_canonical_user(&mut text, u);
                    text
                });
                Some(Aor { user, host })
            }
            Scheme::Tel => {
                let mut host = String::new();
                push_tel_number(&mut host, self.user?);
                Some(Aor { user: None, host })
            }
            Scheme::Other => None,
        }
    }

    /// What `self.aor().map(|a| a.key())` gives, built in one string: the report writes one
    /// for the From and the To of every message.
    pub fn aor_key(&self) -> Option<String> {
        let mut key = String::with_capacity(self.raw.len());
        match self.scheme {
            Scheme::Sip | Scheme::Sips => {
                let host = self.host?;
                if let Some(user) = self.user {
                    push_canonical_user(&mut key, user);
                    key.push('@');
                }
                push_host_key(&mut key, host);
            }
            Scheme::Tel => push_tel_number(&mut key, self.user?),
            Scheme::Other => return None,
        }
        Some(key)
    }

    /// URI equivalence per RFC 3261 §19.1.4 for sip/sips and RFC 3966 §4 for tel; other
    /// schemes compare their unescaped text case-insensitively.
    pub fn equivalent(&self, other: &Uri<'_>) -> bool {
        if self.scheme != other.scheme {
            return false;
        }
        match self.scheme {
            Scheme::Sip | Scheme::Sips => self.sip_equivalent(other),
            Scheme::Tel => self.tel_equivalent(other),
            Scheme::Other => {
                self.scheme_text.eq_ignore_ascii_case(other.scheme_text)
                    && unescape(self.opaque().as_bytes())
                        .eq_ignore_ascii_case(&unescape(other.opaque().as_bytes()))
            }
        }
    }

    /// RFC 3966 §4: the same number once visual separators are removed, and the same set of
    /// parameters in any order.
    fn tel_equivalent(&self, other: &Uri<'_>) -> bool {
        let digits = |u: &Uri<'_>| -> Vec<u8> {
            u.user
                .unwrap_or_default()
                .bytes()
                .filter(|c| !b"-.()".contains(c))
                .map(|c| c.to_ascii_lowercase())
                .collect()
        };
        let covers = |a: &Uri<'_>, b: &Uri<'_>| {
            a.params().all(|p| {
                b.params()
                    .any(|q| same_ci(Some(p.name), Some(q.name)) && same_ci(p.value, q.value))
            })
        };
        digits(self) == digits(other) && covers(self, other) && covers(other, self)
    }

    fn sip_equivalent(&self, other: &Uri<'_>) -> bool {
        let same_escaped = |a: Option<&str>, b: Option<&str>| match (a, b) {
            (Some(a), Some(b)) => unescape(a.as_bytes()) == unescape(b.as_bytes()),
            (None, None) => true,
            _ => false,
        };
        let same_host = match (self.host, other.host) {
            (Some(a), Some(b)) => a.equivalent(&b),
            _ => false,
        };
        if !(same_escaped(self.user, other.user)
            && same_escaped(self.password, other.password)
            && same_host
            && self.port == other.port)
        {
            return false;
        }
        // These must match when either URI carries them. A repeated name compares all its
        // values in order: comparing only the first would make equivalence non-reflexive
        // (found by the `uri` fuzz target) and let a second value ride along unseen.
        for name in ["user", "ttl", "method", "maddr", "transport"] {
            if !same_values(
                &param_values(self, name.as_bytes()),
                &param_values(other, name.as_bytes()),
            ) {
                return false;
            }
        }
        // Any other parameter is compared only when both carry it.
        for p in self.params() {
            let name = unescape(p.name.as_bytes());
            let theirs = param_values(other, &name);
            if !theirs.is_empty() && !same_values(&param_values(self, &name), &theirs) {
                return false;
            }
        }
        // Headers are never ignored: the same set on both sides, in any order.
        let contains_all = |a: &Uri<'_>, b: &Uri<'_>| {
            a.headers().all(|(n, v)| {
                b.headers().any(|(n2, v2)| {
                    unescape(n.as_bytes()).eq_ignore_ascii_case(&unescape(n2.as_bytes()))
                        && unescape(v.as_bytes()) == unescape(v2.as_bytes())
                })
            })
        };
        contains_all(self, other) && contains_all(other, self)
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// Equal once unescaped, ignoring ASCII case; both absent counts as equal.
/// Every value `uri` gives the parameter `name` (unescaped, any case), in order.
fn param_values<'u>(uri: &Uri<'u>, name: &[u8]) -> Vec<Option<&'u str>> {
    uri.params()
        .filter(|p| unescape(p.name.as_bytes()).eq_ignore_ascii_case(name))
        .map(|p| p.value)
        .collect()
}

fn same_values(a: &[Option<&str>], b: &[Option<&str>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_ci(*x, *y))
}

fn same_ci(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => unescape(a.as_bytes()).eq_ignore_ascii_case(&unescape(b.as_bytes())),
        (None, None) => true,
        _ => false,
    }
}

/// Decodes every escape, then escapes again exactly the bytes a user part may not hold raw, so
/// that `%61lice` and `alice` give one key.
fn push_canonical_user(out: &mut String, user: &str) {
    if user.bytes().all(is_user_char) {
        // Nothing escaped, nothing to escape: the common case, copied as it is (in one copy,
        // not char by char).
        out.push_str(user);
        return;
    }
    for &c in unescape(user.as_bytes()).iter() {
        if is_user_char(c) {
            out.push(c as char);
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(c >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(c & 15)]));
        }
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The host as an address-of-record names it: a name in lower case without a final dot, an
/// address in its canonical text.
fn push_host_key(out: &mut String, host: Host<'_>) {
    match host {
        Host::Name(n) => {
            // Copied, then lower-cased in place: cheaper than pushing char by char.
            let start = out.len();
            out.push_str(n.trim_end_matches('.'));
            out[start..].make_ascii_lowercase();
        }
        Host::Ipv4(a) => push_ipv4(out, a),
        Host::Ipv6 { addr, .. } => {
            use fmt::Write;
            // Writing to a String cannot fail.
            let _ = write!(out, "[{addr}]");
        }
    }
}

/// A tel number without visual separators, in lower case (RFC 3966 §4).
fn push_tel_number(out: &mut String, number: &str) {
    out.extend(
        number
            .chars()
            .filter(|c| !"-.()".contains(*c))
            .map(|c| c.to_ascii_lowercase()),
    );
}

/// An address-of-record, `user@host` with the host in lower case: the identity key used
/// everywhere (store, groups, identity checks). For a tel URI it is the bare number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aor {
    user: Option<String>,
    host: String,
}

impl Aor {
    /// Accepts a sip/sips/tel URI or a bare `user@host` (read as a sip URI).
    pub fn parse(text: &str) -> ParseResult<Aor> {
        let uri = if scheme_end(text.as_bytes()).is_some_and(|i| {
            let s = &text[..i];
            ["sip", "sips", "tel"]
                .iter()
                .any(|k| s.eq_ignore_ascii_case(k))
        }) {
            Uri::parse_str(text)?
        } else {
            let with_scheme = format!("sip:{text}");
            return Uri::parse_str(&with_scheme)
                .map_err(|e| ParseError::new(e.kind, e.offset.saturating_sub(4)))?
                .aor()
                .ok_or_else(|| bad("no address-of-record", 0));
        };
        uri.aor()
            .ok_or_else(|| bad("no address-of-record for this scheme", 0))
    }

    /// The user part (escapes normalised), `None` for a host-only or tel address.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The lower-cased host (or, for tel, the number).
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl Aor {
    /// `user@host` as a string, built directly (report records make one per message; the
    /// `Display` route through the formatter cost more than parsing the URI).
    pub fn key(&self) -> String {
        match &self.user {
            Some(u) => {
                let mut text = String::with_capacity(u.len() + 1 + self.host.len());
                text.push_str(u);
                text.push('@');
                text.push_str(&self.host);
                text
            }
            None => self.host.clone(),
        }
    }
}

impl fmt::Display for Aor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

#[cfg(test)]
mod tests;

/// Appends `a.b.c.d` as `Ipv4Addr`'s `Display` writes it, without the formatting machinery
/// (identity keys and report records are made for every message).
pub(crate) fn push_ipv4(text: &mut String, addr: Ipv4Addr) {
    text.push_str(Ipv4Text::new(addr).as_str());
}

/// `a.b.c.d` as `Ipv4Addr`'s `Display` writes it, on the stack.
pub(crate) struct Ipv4Text {
    buf: [u8; 15],
    len: usize,
}

impl Ipv4Text {
    pub(crate) fn new(addr: Ipv4Addr) -> Ipv4Text {
        let mut text = Ipv4Text {
            buf: [0; 15],
            len: 0,
        };
        for (i, &octet) in addr.octets().iter().enumerate() {
            if i > 0 {
                text.push(b'.');
            }
            if octet >= 100 {
                text.push(b'0' + octet / 100);
            }
            if octet >= 10 {
                text.push(b'0' + octet / 10 % 10);
            }
            text.push(b'0' + octet % 10);
        }
        text
    }

    fn push(&mut self, digit: u8) {
        self.buf[self.len] = digit;
        self.len += 1;
    }

    pub(crate) fn as_str(&self) -> &str {
        // Digits and dots only.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// Appends `n` in decimal (itoa: numbers are most of a capture record's report line).
pub(crate) fn push_u64(text: &mut String, n: u64) {
    text.push_str(itoa::Buffer::new().format(n));
}
