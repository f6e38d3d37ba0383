//! Date (RFC 3261 §20.17): the RFC 1123 form `Sun, 06 Nov 1994 08:49:37 GMT`, GMT only.

use super::cseq::parse_decimal;
use super::lex::bad;
use crate::error::ParseResult;

/// A SIP date, as seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SipDate {
    pub unix: i64,
}

const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl SipDate {
    pub fn parse(value: &[u8]) -> ParseResult<SipDate> {
        let v = value;
        if v.len() != 29 {
            return Err(bad(
                "Date is not of the form `Sun, 06 Nov 1994 08:49:37 GMT`",
                0,
            ));
        }
        if &v[26..] != b"GMT" || v[25] != b' ' {
            return Err(bad("Date is not in GMT", 25));
        }
        let layout_ok = &v[3..5] == b", "
            && v[7] == b' '
            && v[11] == b' '
            && v[16] == b' '
            && v[19] == b':'
            && v[22] == b':';
        if !layout_ok {
            return Err(bad(
                "Date is not of the form `Sun, 06 Nov 1994 08:49:37 GMT`",
                0,
            ));
        }
        let num = |from: usize, to: usize, max: u64, why| {
            parse_decimal(&v[from..to], max)
                .map(|n| n as i64)
                .ok_or_else(|| bad(why, from))
        };
        let day = num(5, 7, 31, "bad day of month")?;
        let month = MONTHS
            .iter()
            .position(|m| m[..] == v[8..11])
            .ok_or_else(|| bad("bad month name", 8))? as i64
            + 1;
        let year = num(12, 16, 9999, "bad year")?;
        let hour = num(17, 19, 23, "bad hour")?;
        let minute = num(20, 22, 59, "bad minute")?;
        // 60 allows a leap second.
        let second = num(23, 25, 60, "bad second")?;
        if day == 0 || day > days_in_month(year, month) {
            return Err(bad("no such day in that month", 5));
        }
        let days = days_from_civil(year, month, day);
        if DAYS[days.rem_euclid(7) as usize][..] != v[..3] {
            return Err(bad("weekday does not match the date", 0));
        }
        Ok(SipDate {
            unix: days * 86400 + hour * 3600 + minute * 60 + second,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;

    #[test]
    fn known_dates() {
        assert_eq!(
            SipDate::parse(b"Sun, 06 Nov 1994 08:49:37 GMT")
                .unwrap()
                .unix,
            784111777
        );
        assert_eq!(
            SipDate::parse(b"Thu, 01 Jan 1970 00:00:00 GMT")
                .unwrap()
                .unix,
            0
        );
        assert_eq!(
            SipDate::parse(b"Sat, 15 Oct 2005 04:44:56 GMT")
                .unwrap()
                .unix,
            1129351496
        );
        assert_eq!(
            SipDate::parse(b"Tue, 29 Feb 2000 12:00:00 GMT")
                .unwrap()
                .unix,
            951825600
        );
        assert_eq!(
            SipDate::parse(b"Wed, 31 Dec 1969 23:59:59 GMT")
                .unwrap()
                .unix,
            -1
        );
    }

    #[test]
    fn refusals() {
        let k = |v: &[u8]| SipDate::parse(v).unwrap_err().kind;
        assert_eq!(
            k(b"Fri, 01 Jan 2010 16:00:00 EST"),
            ParseErrorKind::BadValue("Date is not in GMT")
        );
        assert_eq!(
            k(b"Sat, 01 Jan 2010 16:00:00 GMT"),
            ParseErrorKind::BadValue("weekday does not match the date")
        );
        assert_eq!(
            k(b"Mon, 29 Feb 2010 16:00:00 GMT"),
            ParseErrorKind::BadValue("no such day in that month")
        );
        assert_eq!(
            k(b"Fri, 01 Jax 2010 16:00:00 GMT"),
            ParseErrorKind::BadValue("bad month name")
        );
        assert_eq!(
            k(b"Fri, 01 Jan 2010 24:00:00 GMT"),
            ParseErrorKind::BadValue("bad hour")
        );
        assert_eq!(
            k(b"Fri, 01 Jan 2010 16:00:00 GMT "),
            ParseErrorKind::BadValue("Date is not of the form `Sun, 06 Nov 1994 08:49:37 GMT`")
        );
        assert_eq!(
            k(b"Fri,  1 Jan 2010 16:00:00 GMT"),
            ParseErrorKind::BadValue("bad day of month")
        );
        assert_eq!(
            k(b"Fri; 01 Jan 2010 16:00:00 GMT"),
            ParseErrorKind::BadValue("Date is not of the form `Sun, 06 Nov 1994 08:49:37 GMT`")
        );
    }
}
