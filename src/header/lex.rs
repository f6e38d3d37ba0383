//! The lexical pieces every header grammar shares (RFC 3261 §25.1): linear white space, tokens,
//! quoted strings, `;name=value` parameters and comma-separated lists.
//!
//! Linear white space includes line breaks followed by white space, so a view parses a folded
//! value as it lies in the message: no copy, and error offsets point into the message.

use crate::error::{ParseError, ParseErrorKind, ParseResult};
use crate::uri::class;
use std::borrow::Cow;

pub(crate) fn bad(why: &'static str, at: usize) -> ParseError {
    ParseError::new(ParseErrorKind::BadValue(why), at)
}

static TOKEN: [bool; 256] = class(b"-.!%*_+`'~");
/// A token or a host (IPv6 references included, with or without brackets: RFC 5118 §4.5).
static VALUE: [bool; 256] = class(b"-.!%*_+`'~[]:");

/// The `token` characters of RFC 3261 §25.1.
pub(crate) fn is_token_char(c: u8) -> bool {
    TOKEN[c as usize]
}

fn is_value_char(c: u8) -> bool {
    VALUE[c as usize]
}

fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// A position in one header value.
pub(crate) struct Cursor<'a> {
    pub b: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Cursor { b, pos: 0 }
    }

    pub fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.b.len()
    }

    /// Skips linear white space; true when there was some.
    pub fn lws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_lws) {
            self.pos += 1;
        }
        self.pos > start
    }

    pub fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `SWS c SWS`, the separators of RFC 3261 §25.1 (SLASH, EQUAL, SEMI, COMMA, COLON).
    pub fn sep(&mut self, c: u8) -> bool {
        let back = self.pos;
        self.lws();
        if self.eat(c) {
            self.lws();
            true
        } else {
            self.pos = back;
            false
        }
    }

    /// The longest run of bytes that satisfy `f` (possibly empty).
    pub fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.b[start..self.pos]
    }

    pub fn token(&mut self, why: &'static str) -> ParseResult<&'a [u8]> {
        let t = self.take_while(is_token_char);
        if t.is_empty() {
            return Err(bad(why, self.pos));
        }
        Ok(t)
    }

    /// A quoted string, quotes included; `\` escapes any byte but CR and LF.
    pub fn quoted(&mut self) -> ParseResult<&'a [u8]> {
        let start = self.pos;
        if !self.eat(b'"') {
            return Err(bad("expected a quoted string", start));
        }
        loop {
            match self.peek() {
                None => return Err(bad("unterminated quoted string", start)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(&self.b[start..self.pos]);
                }
                Some(b'\\') => match self.b.get(self.pos + 1) {
                    Some(b'\r' | b'\n') | None => {
                        return Err(bad("bad escape in a quoted string", self.pos))
                    }
                    Some(_) => self.pos += 2,
                },
                Some(_) => self.pos += 1,
            }
        }
    }

    pub fn expect_end(&mut self, why: &'static str) -> ParseResult<()> {
        self.lws();
        if self.at_end() {
            Ok(())
        } else {
            Err(bad(why, self.pos))
        }
    }
}

/// The content of a quoted string (quotes included in `quoted`) with `\x` escapes decoded and
/// folding undone; a value that is not quoted is returned as it is.
pub fn unquote(quoted: &[u8]) -> Cow<'_, [u8]> {
    let Some(inner) = quoted
        .strip_prefix(b"\"")
        .and_then(|q| q.strip_suffix(b"\""))
        .filter(|_| quoted.len() >= 2)
    else {
        return Cow::Borrowed(quoted);
    };
    if !inner
        .iter()
        .any(|&c| c == b'\\' || c == b'\r' || c == b'\n')
    {
        return Cow::Borrowed(inner);
    }
    let unfolded = crate::message::unfold(inner);
    let mut out = Vec::with_capacity(unfolded.len());
    let mut i = 0;
    while i < unfolded.len() {
        if unfolded[i] == b'\\' && i + 1 < unfolded.len() {
            i += 1;
        }
        out.push(unfolded[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// One `name[=value]` parameter; a quoted value keeps its quotes (see [`unquote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    pub name: &'a [u8],
    pub value: Option<&'a [u8]>,
}

impl<'a> Param<'a> {
    /// The value with quotes and escapes removed.
    pub fn unquoted(&self) -> Option<Cow<'a, [u8]>> {
        self.value.map(unquote)
    }
}

/// Reads one `name [= value]` at the cursor.
fn param_at<'a>(c: &mut Cursor<'a>) -> ParseResult<Param<'a>> {
    let name = c.token("empty parameter")?;
    let value = if c.sep(b'=') {
        Some(if c.peek() == Some(b'"') {
            c.quoted()?
        } else {
            let v = c.take_while(is_value_char);
            if v.is_empty() {
                return Err(bad("parameter without a value after =", c.pos));
            }
            v
        })
    } else {
        None
    };
    Ok(Param { name, value })
}

/// Where `;name[=value]…` parameters starting at `start` end, for the common shape only: no
/// white space anywhere, no quoted value. `None` leaves everything else (and every refusal) to
/// the general reader, which gives the same end for what this accepts (a proptest holds them
/// together). One loop instead of a separator, white-space and token call per step: every From
/// and To has a tag.
fn plain_params_end(b: &[u8], start: usize) -> Option<usize> {
    let run = |from: usize, f: fn(u8) -> bool| {
        from + b
            .get(from..)
            .unwrap_or_default()
            .iter()
            .position(|&c| !f(c))
            .unwrap_or(b.len().saturating_sub(from))
    };
    let mut i = start;
    loop {
        match b.get(i) {
            Some(b';') => {}
            // White space may hide a `;` after it: the general reader decides.
            Some(&c) if is_lws(c) => return None,
            _ => return Some(i),
        }
        let name_end = run(i + 1, is_token_char);
        if name_end == i + 1 {
            return None;
        }
        i = name_end;
        if b.get(i) == Some(&b'=') {
            let value_end = run(i + 1, is_value_char);
            if value_end == i + 1 {
                return None;
            }
            i = value_end;
        }
    }
}

/// `*( SEMI name [EQUAL value] )`, checked once at parse time and re-read lazily on lookup, so
/// a view holds one slice instead of a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a [u8],
}

impl<'a> Params<'a> {
    /// Reads parameters at the cursor (each introduced by `;`) and stops before anything else.
    pub(crate) fn parse(c: &mut Cursor<'a>) -> ParseResult<Params<'a>> {
        match plain_params_end(c.b, c.pos) {
            Some(end) => {
                let raw = &c.b[c.pos..end];
                c.pos = end;
                Ok(Params { raw })
            }
            None => Self::parse_general(c),
        }
    }

    /// [`Params::parse`] by the general rules: white space around separators, quoted values.
    fn parse_general(c: &mut Cursor<'a>) -> ParseResult<Params<'a>> {
        let start = c.pos;
        let mut end = start;
        while c.sep(b';') {
            param_at(c)?;
            end = c.pos;
        }
        c.pos = end;
        Ok(Params {
            raw: &c.b[start..end],
        })
    }

    /// The parameters as written (from the first `;`), for re-serialisation.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// Parameters written without a separator before the first (auth-params).
    pub(crate) fn from_first(raw: &'a [u8]) -> Params<'a> {
        Params { raw }
    }

    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            c: Cursor::new(self.raw),
            started: false,
        }
    }

    /// A parameter by name (case-insensitive): `Some(None)` when present without a value.
    pub fn get(&self, name: &str) -> Option<Option<&'a [u8]>> {
        self.iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|p| p.value)
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

pub struct ParamIter<'a> {
    c: Cursor<'a>,
    started: bool,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        self.c.lws();
        // The separator is `;` or `,`: whichever the grammar used, it is the only other byte.
        // Only the first parameter of an auth-param list has none.
        if !self.c.eat(b';') && !self.c.eat(b',') && self.started {
            return None;
        }
        self.started = true;
        self.c.lws();
        param_at(&mut self.c).ok()
    }
}

/// Splits a list header value at the commas that separate its elements (RFC 3261 §7.3.1),
/// ignoring commas inside quoted strings and `<…>`. Yields (offset, element without
/// surrounding white space); an empty element is yielded too, for the element parser to refuse.
pub fn split_list(value: &[u8]) -> ListIter<'_> {
    ListIter {
        value,
        pos: 0,
        done: false,
    }
}

pub struct ListIter<'a> {
    value: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for ListIter<'a> {
    type Item = ParseResult<(usize, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let start = self.pos;
        let mut i = start;
        let mut in_angle = false;
        let b = self.value;
        // Only `"`, `<`, `>` and `,` matter: jump between them. Outside `<…>` a `>` changes
        // nothing, inside it `<` and `,` change nothing, so each state looks for three or two.
        loop {
            let next = if in_angle {
                memchr::memchr2(b'"', b'>', &b[i..])
            } else {
                memchr::memchr3(b'"', b'<', b',', &b[i..])
            };
            let Some(skip) = next else {
                i = b.len();
                break;
            };
            i += skip;
            match b[i] {
                b'"' => {
                    let mut c = Cursor { b, pos: i };
                    if let Err(e) = c.quoted() {
                        self.done = true;
                        return Some(Err(e));
                    }
                    i = c.pos;
                    continue;
                }
                b'<' => in_angle = true,
                b'>' => in_angle = false,
                b',' if !in_angle => break,
                _ => {}
            }
            i += 1;
        }
        if i >= b.len() {
            self.done = true;
        }
        self.pos = i + 1;
        let elem = &b[start..i.min(b.len())];
        let lead = elem.iter().take_while(|&&c| is_lws(c)).count();
        let trail = elem[lead..]
            .iter()
            .rev()
            .take_while(|&&c| is_lws(c))
            .count();
        Some(Ok((start + lead, &elem[lead..elem.len() - trail])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[u8]) -> Vec<&[u8]> {
        split_list(v).map(|r| r.unwrap().1).collect()
    }

    #[test]
    fn list_split_respects_quotes_and_angles() {
        assert_eq!(
            list(b"\"a, b\" <sip:x@y;p=1,2>, <sip:z> ,w"),
            [&b"\"a, b\" <sip:x@y;p=1,2>"[..], b"<sip:z>", b"w"]
        );
        assert_eq!(list(b"a,,b"), [&b"a"[..], b"", b"b"]);
        assert_eq!(list(b"\"q\\\"\", b"), [&b"\"q\\\"\""[..], b"b"]);
        let offsets: Vec<usize> = split_list(b"a , b").map(|r| r.unwrap().0).collect();
        assert_eq!(offsets, [0, 4]);
        let err = split_list(b"a, \"open").nth(1).unwrap().unwrap_err();
        assert_eq!(
            err.kind,
            ParseErrorKind::BadValue("unterminated quoted string")
        );
        assert_eq!(err.offset, 3);
    }

    #[test]
    fn params_with_folding_and_lookup() {
        let mut c = Cursor::new(b" ;  tag =\r\n 1918 ; lr;q=\"a\\\"b\" rest");
        let p = Params::parse(&mut c).unwrap();
        assert_eq!(p.get("TAG"), Some(Some(&b"1918"[..])));
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(
            p.iter().nth(2).unwrap().unquoted().unwrap().as_ref(),
            b"a\"b"
        );
        assert_eq!(p.get("x"), None);
        assert_eq!(&c.b[c.pos..], b" rest");
    }

    #[test]
    fn params_refusals() {
        let e = Params::parse(&mut Cursor::new(b";;")).unwrap_err();
        assert_eq!(
            (e.kind, e.offset),
            (ParseErrorKind::BadValue("empty parameter"), 1)
        );
        let e = Params::parse(&mut Cursor::new(b";a=")).unwrap_err();
        assert_eq!(
            e.kind,
            ParseErrorKind::BadValue("parameter without a value after =")
        );
    }

    /// The one-loop reader takes the plain shapes (so the proptest below compares something)
    /// and leaves white space, quotes and empty parts to the general reader.
    #[test]
    fn plain_params_take_the_one_loop_reader() {
        assert_eq!(plain_params_end(b";tag=18799SIPpTag001", 0), Some(20));
        assert_eq!(plain_params_end(b">;lr;q=0.5,x", 1), Some(10));
        assert_eq!(plain_params_end(b"", 0), Some(0));
        for v in [
            &b" ;a"[..],
            b";a ",
            b";a =b",
            b";a=\"b\"",
            b";;",
            b";a=",
            b";=b",
        ] {
            assert_eq!(
                plain_params_end(v, 0),
                None,
                "{:?}",
                String::from_utf8_lossy(v)
            );
        }
    }

    proptest::proptest! {
        /// `Params::parse` reads, stops and refuses exactly as the general reader does.
        #[test]
        fn one_loop_params_agree_with_the_general_reader(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    ";", "=", "tag", "1.5", " ", "\t", "\r\n ", "\"q\"", "\"", "\\", ",", ">",
                    "[::1]", ":", "é", ";lr", ";tag=x", ";a=", ";a", "=b", ";=", ";;",
                ]),
                0..8,
            ),
            start in 0usize..2,
        ) {
            let v = pieces.concat().into_bytes();
            let start = start.min(v.len());
            let (mut fast, mut general) = (Cursor::new(&v), Cursor::new(&v));
            fast.pos = start;
            general.pos = start;
            let read = Params::parse(&mut fast);
            proptest::prop_assert_eq!(&read, &Params::parse_general(&mut general));
            proptest::prop_assert_eq!(fast.pos, general.pos);
            if let Some(end) = plain_params_end(&v, start) {
                proptest::prop_assert_eq!(read.map(|p| p.raw), Ok(&v[start..end]));
            }
        }
    }

    #[test]
    fn unquote_decodes_escapes_and_folding() {
        assert_eq!(
            unquote(b"\"J Rosenberg \\\\\\\"\"").as_ref(),
            b"J Rosenberg \\\""
        );
        assert_eq!(unquote(b"\"a\r\n  b\"").as_ref(), b"a b");
        assert_eq!(unquote(b"token").as_ref(), b"token");
        assert_eq!(unquote(b"\"").as_ref(), b"\"");
    }
}
