//! Single-token headers: Call-ID (§20.8), Max-Forwards (§20.22), Expires (§20.19) and the
//! free-text Subject (§20.36).

use super::cseq::parse_decimal;
use super::lex::bad;
use crate::error::ParseResult;
use std::borrow::Cow;

/// Characters of a Call-ID `word` (RFC 3261 §25.1).
static WORD: [bool; 256] = crate::uri::class(b"-.!%*_+`'~()<>:\\\"/[]?{}");

fn is_word_char(c: u8) -> bool {
    WORD[c as usize]
}

/// `word ["@" word]`; returns the value as written.
pub fn parse_call_id(value: &[u8]) -> ParseResult<&[u8]> {
    let (left, right) = match memchr::memchr(b'@', value) {
        Some(at) => (&value[..at], Some((at + 1, &value[at + 1..]))),
        None => (value, None),
    };
    if left.is_empty() {
        return Err(bad("empty Call-ID", 0));
    }
    if let Some(i) = left.iter().position(|&c| !is_word_char(c)) {
        return Err(bad("character not allowed in a Call-ID", i));
    }
    if let Some((base, r)) = right {
        if r.is_empty() {
            return Err(bad("empty Call-ID host part", base));
        }
        if let Some(i) = r.iter().position(|&c| !is_word_char(c)) {
            return Err(bad("character not allowed in a Call-ID", base + i));
        }
    }
    Ok(value)
}

/// `1*DIGIT` from 0 to 255 (RFC 3261 §20.22; RFC 4475 scalar02's 300 is refused).
pub fn parse_max_forwards(value: &[u8]) -> ParseResult<u8> {
    parse_decimal(value, 255)
        .map(|n| n as u8)
        .ok_or_else(|| bad("Max-Forwards is not a number from 0 to 255", 0))
}

/// `delta-seconds`, which must fit in 32 bits (RFC 4475 scalar02's huge Expires is refused).
pub fn parse_expires(value: &[u8]) -> ParseResult<u32> {
    parse_decimal(value, u64::from(u32::MAX))
        .map(|n| n as u32)
        .ok_or_else(|| bad("Expires is not a 32-bit number of seconds", 0))
}

/// Any text; folding undone.
pub fn parse_subject(value: &[u8]) -> Cow<'_, [u8]> {
    crate::message::unfold(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;

    #[test]
    fn call_ids() {
        assert_eq!(
            parse_call_id(b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
                .unwrap()
                .len(),
            42
        );
        assert_eq!(parse_call_id(b"a84b4c76e66710").unwrap(), b"a84b4c76e66710");
        let k = |v: &[u8]| parse_call_id(v).unwrap_err();
        assert_eq!(k(b"").kind, ParseErrorKind::BadValue("empty Call-ID"));
        assert_eq!(
            k(b"a@").kind,
            ParseErrorKind::BadValue("empty Call-ID host part")
        );
        assert_eq!(k(b"a b").offset, 1);
        assert_eq!(k(b"a@b@c").offset, 3);
        assert_eq!(
            k(b"a;b").kind,
            ParseErrorKind::BadValue("character not allowed in a Call-ID")
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_max_forwards(b"0068").unwrap(), 68);
        assert_eq!(parse_max_forwards(b"0").unwrap(), 0);
        assert_eq!(parse_max_forwards(b"255").unwrap(), 255);
        for bad in [&b"256"[..], b"300", b"", b"-1", b"7 0"] {
            assert_eq!(
                parse_max_forwards(bad).unwrap_err().kind,
                ParseErrorKind::BadValue("Max-Forwards is not a number from 0 to 255")
            );
        }
        assert_eq!(parse_expires(b"4294967295").unwrap(), u32::MAX);
        assert!(parse_expires(b"4294967296").is_err());
        assert!(parse_expires(b"10000000000000000000000000000000000000000").is_err());
    }

    #[test]
    fn subjects_unfold() {
        assert_eq!(parse_subject(b"a\r\n b").as_ref(), b"a b");
        assert!(matches!(parse_subject(b"plain"), Cow::Borrowed(_)));
    }
}
