//! CSeq (RFC 3261 §20.16): a sequence number below 2**31 and the method.

use super::lex::{bad, Cursor};
use crate::error::ParseResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    pub seq: u32,
    pub method: &'a [u8],
}

impl<'a> CSeq<'a> {
    pub fn parse(value: &'a [u8]) -> ParseResult<CSeq<'a>> {
        let mut c = Cursor::new(value);
        c.lws();
        let at = c.pos;
        let digits = c.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err(bad("CSeq does not start with a number", at));
        }
        // RFC 3261 §8.1.1.5: the number MUST be less than 2**31 (RFC 4475 scalar02).
        let seq = parse_decimal(digits, (1 << 31) - 1)
            .ok_or_else(|| bad("CSeq number is not below 2**31", at))?;
        if !c.lws() {
            return Err(bad(
                "no white space between the CSeq number and method",
                c.pos,
            ));
        }
        let method = c.token("CSeq without a method")?;
        c.expect_end("junk after the CSeq method")?;
        Ok(CSeq {
            seq: seq as u32,
            method,
        })
    }
}

/// A decimal of digits only, up to `max`; leading zeros allowed (RFC 4475 wsinv `0009`).
pub(crate) fn parse_decimal(digits: &[u8], max: u64) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        let n = acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        (n <= max).then_some(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;

    #[test]
    fn parses_folded_and_zero_padded() {
        let c = CSeq::parse(b"0009\r\n  INVITE").unwrap();
        assert_eq!((c.seq, c.method), (9, &b"INVITE"[..]));
        let c = CSeq::parse(b"2147483647 !interesting-Method0123456789_*+`.%indeed'~").unwrap();
        assert_eq!(c.seq, 2147483647);
    }

    #[test]
    fn refusals() {
        let k = |v: &[u8]| CSeq::parse(v).unwrap_err().kind;
        assert_eq!(
            k(b"36893488147419103232 REGISTER"),
            ParseErrorKind::BadValue("CSeq number is not below 2**31")
        );
        assert_eq!(
            k(b"2147483648 REGISTER"),
            ParseErrorKind::BadValue("CSeq number is not below 2**31")
        );
        assert_eq!(
            k(b"INVITE"),
            ParseErrorKind::BadValue("CSeq does not start with a number")
        );
        assert_eq!(
            k(b"1INVITE"),
            ParseErrorKind::BadValue("no white space between the CSeq number and method")
        );
        assert_eq!(k(b"1 "), ParseErrorKind::BadValue("CSeq without a method"));
        assert_eq!(
            k(b"1 INVITE x"),
            ParseErrorKind::BadValue("junk after the CSeq method")
        );
        assert_eq!(parse_decimal(b"256", 255), None);
        assert_eq!(parse_decimal(b"0068", 255), Some(68));
    }
}
