//! The TN Authorization List certificate extension (RFC 8226 §9, `id-pe-TNAuthList`,
//! 1.3.6.1.5.5.7.1.26): which telephone numbers an STI certificate may sign for. Built and read
//! here in DER (the ASN.1 module uses EXPLICIT tags); a list that does not re-encode to the
//! same bytes is refused, so only one encoding of a list is ever accepted.

use crate::crypto::der;
use openssl::asn1::{Asn1Object, Asn1OctetString};
use openssl::x509::{X509Extension, X509Ref};
use std::fmt;

/// The DER content octets of the OID 1.3.6.1.5.5.7.1.26.
pub const TN_AUTH_LIST_OID: [u8; 8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1a];
/// The same OID as text, for OpenSSL's object table.
pub const TN_AUTH_LIST_OID_TEXT: &str = "1.3.6.1.5.5.7.1.26";

const MAX_TN_LEN: usize = 15;

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TnEntry {
    /// A service provider code: names all the numbers of that provider, which only a number
    /// database can list.
    Spc(String),
    /// `count` consecutive numbers of the same length from `start`.
    Range {
        start: String,
        count: u64,
    },
    One(String),
}

/// How a number is covered by a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage<'a> {
    Number,
    Range,
    /// The list names a service provider code: the number belongs to that provider as far as
    /// the certificate says; the numbers themselves are not listed.
    ServiceProvider(&'a str),
}

impl fmt::Display for Coverage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Coverage::Number => f.write_str("number"),
            Coverage::Range => f.write_str("range"),
            Coverage::ServiceProvider(spc) => write!(f, "spc {spc}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TnAuthError {
    #[error(
        "the certificate has no TNAuthList extension (RFC 8226); it is not an STI certificate"
    )]
    Missing,
    #[error("the TNAuthList extension is not DER of RFC 8226's TNAuthorizationList")]
    BadDer,
    #[error("the TNAuthList is empty")]
    Empty,
    #[error("{0:?} is not a TelephoneNumber (1 to 15 of `0-9#*`)")]
    BadNumber(String),
    #[error("the range from {start} of {count} numbers is not valid (count ≥ 2, digits only, no change of length)")]
    BadRange { start: String, count: u64 },
    #[error("{0:?} is not a service provider code (printable ASCII, not empty)")]
    BadSpc(String),
}

fn check_number(n: &str) -> Result<(), TnAuthError> {
    let ok = (1..=MAX_TN_LEN).contains(&n.len())
        && n.bytes()
            .all(|c| c.is_ascii_digit() || c == b'#' || c == b'*');
    if ok {
        Ok(())
    } else {
        Err(TnAuthError::BadNumber(n.into()))
    }
}

impl TnEntry {
    fn check(&self) -> Result<(), TnAuthError> {
        match self {
            TnEntry::Spc(s) => {
                if s.is_empty() || !s.bytes().all(|c| c.is_ascii_graphic() || c == b' ') {
                    return Err(TnAuthError::BadSpc(s.clone()));
                }
            }
            TnEntry::One(n) => check_number(n)?,
            TnEntry::Range { start, count } => {
                check_number(start)?;
                let bad = || TnAuthError::BadRange {
                    start: start.clone(),
                    count: *count,
                };
                let first: u64 = start.parse().map_err(|_| bad())?;
                // RFC 8226 §9: the count must not make the number longer; the last number,
                // start + count - 1, keeps the start's length.
                let limit = 10u64.pow(start.len() as u32);
                if *count < 2 || first.checked_add(*count).is_none_or(|end| end > limit) {
                    return Err(bad());
                }
            }
        }
        Ok(())
    }

    /// Whether `tn` (a canonical number) is in this entry.
    fn covers(&self, tn: &str) -> Option<Coverage<'_>> {
        match self {
            TnEntry::One(n) => (n == tn).then_some(Coverage::Number),
            TnEntry::Range { start, count } => {
                if tn.len() != start.len() || !tn.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                let n: u64 = tn.parse().ok()?;
                let first: u64 = start.parse().ok()?;
                (n >= first && n - first < *count).then_some(Coverage::Range)
            }
            TnEntry::Spc(spc) => Some(Coverage::ServiceProvider(spc)),
        }
    }
}

/// A TNAuthorizationList: at least one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TnAuthList(Vec<TnEntry>);

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn push_tlv(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    push_len(out, body.len());
    out.extend_from_slice(body);
}

fn ia5(text: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(text.len() + 2);
    push_tlv(&mut v, 0x16, text.as_bytes());
    v
}

fn integer(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    let mut body = bytes[skip..].to_vec();
    if body[0] & 0x80 != 0 {
        body.insert(0, 0);
    }
    let mut v = Vec::with_capacity(body.len() + 2);
    push_tlv(&mut v, 0x02, &body);
    v
}

fn read_ia5(tlv: &der::Tlv<'_>) -> Option<String> {
    if tlv.tag != 0x16 || !tlv.content.is_ascii() {
        return None;
    }
    String::from_utf8(tlv.content.to_vec()).ok()
}

fn read_integer(tlv: &der::Tlv<'_>) -> Option<u64> {
    let body = tlv.content;
    if tlv.tag != 0x02 || body.is_empty() || body[0] & 0x80 != 0 || body.len() > 9 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in body {
        n = n.checked_mul(256)? | u64::from(b);
    }
    Some(n)
}

/// The one element `input` holds (definite lengths only).
fn single(input: &[u8]) -> Option<der::Tlv<'_>> {
    let (tlv, rest) = der::element(input)?;
    rest.is_empty().then_some(tlv)
}

impl TnAuthList {
    pub fn new(entries: Vec<TnEntry>) -> Result<TnAuthList, TnAuthError> {
        if entries.is_empty() {
            return Err(TnAuthError::Empty);
        }
        for e in &entries {
            e.check()?;
        }
        Ok(TnAuthList(entries))
    }

    pub fn entries(&self) -> &[TnEntry] {
        &self.0
    }

    /// The DER of the TNAuthorizationList (the extension's extnValue contents).
    pub fn to_der(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for e in &self.0 {
            match e {
                TnEntry::Spc(s) => push_tlv(&mut body, 0xa0, &ia5(s)),
                TnEntry::Range { start, count } => {
                    let mut seq = ia5(start);
                    seq.extend_from_slice(&integer(*count));
                    let mut range = Vec::new();
                    push_tlv(&mut range, 0x30, &seq);
                    push_tlv(&mut body, 0xa1, &range);
                }
                TnEntry::One(n) => push_tlv(&mut body, 0xa2, &ia5(n)),
            }
        }
        let mut out = Vec::with_capacity(body.len() + 4);
        push_tlv(&mut out, 0x30, &body);
        out
    }

    pub fn from_der(input: &[u8]) -> Result<TnAuthList, TnAuthError> {
        let entries = Self::read_entries(input).ok_or(TnAuthError::BadDer)?;
        let list = TnAuthList::new(entries)?;
        // Only the DER encoding (definite minimal lengths, minimal integers) is accepted.
        if list.to_der() != input {
            return Err(TnAuthError::BadDer);
        }
        Ok(list)
    }

    fn read_entries(input: &[u8]) -> Option<Vec<TnEntry>> {
        let outer = single(input).filter(|t| t.tag == 0x30)?;
        let mut entries = Vec::new();
        for entry in der::elements(outer.content)? {
            let inner = single(entry.content)?;
            entries.push(match entry.tag {
                0xa0 => TnEntry::Spc(read_ia5(&inner)?),
                0xa2 => TnEntry::One(read_ia5(&inner)?),
                0xa1 if inner.tag == 0x30 => {
                    // The range is extensible (`...`): fields after count are ignored, and
                    // the re-encoding check then refuses them.
                    let fields = der::elements(inner.content)?;
                    TnEntry::Range {
                        start: read_ia5(fields.first()?)?,
                        count: read_integer(fields.get(1)?)?,
                    }
                }
                _ => return None,
            });
        }
        Some(entries)
    }

    /// The list of `cert`.
    pub fn of(cert: &X509Ref) -> Result<TnAuthList, TnAuthError> {
        let der = cert.to_der().map_err(|_| TnAuthError::BadDer)?;
        match der::extension_value(&der, &TN_AUTH_LIST_OID) {
            None => Err(TnAuthError::BadDer),
            Some(None) => Err(TnAuthError::Missing),
            Some(Some(value)) => TnAuthList::from_der(value),
        }
    }

    /// Whether the list authorises `tn` (a canonical number): by the number itself, by a
    /// range, or — failing those — by a service provider code.
    pub fn covers(&self, tn: &str) -> Option<Coverage<'_>> {
        let mut spc = None;
        for e in &self.0 {
            match e.covers(tn) {
                Some(Coverage::ServiceProvider(s)) => {
                    spc = spc.or(Some(Coverage::ServiceProvider(s)))
                }
                Some(found) => return Some(found),
                None => {}
            }
        }
        spc
    }
}

impl TnAuthList {
    /// The certificate extension (non-critical, as RFC 8226 §9 allows verifiers that do not
    /// know it to go on).
    pub fn extension(&self) -> Result<X509Extension, openssl::error::ErrorStack> {
        let oid = Asn1Object::from_str(TN_AUTH_LIST_OID_TEXT)?;
        let value = Asn1OctetString::new_from_bytes(&self.to_der())?;
        X509Extension::new_from_der(&oid, false, &value)
    }
}

/// Reads the `--tn` syntax of certgen: `12155551212`, `12155550100+100` (a range of 100 from
/// that number) or `spc:1234`.
impl std::str::FromStr for TnEntry {
    type Err = TnAuthError;

    fn from_str(text: &str) -> Result<TnEntry, TnAuthError> {
        let entry = if let Some(spc) = text.strip_prefix("spc:") {
            TnEntry::Spc(spc.into())
        } else if let Some((start, count)) = text.split_once('+') {
            TnEntry::Range {
                start: start.into(),
                count: count.parse().map_err(|_| TnAuthError::BadRange {
                    start: start.into(),
                    count: 0,
                })?,
            }
        } else {
            TnEntry::One(text.into())
        };
        entry.check()?;
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> TnAuthList {
        TnAuthList::new(entries.iter().map(|e| e.parse().unwrap()).collect()).unwrap()
    }

    #[test]
    fn der_of_each_entry_kind() {
        assert_eq!(
            list(&["spc:1234"]).to_der(),
            [0x30, 0x08, 0xa0, 0x06, 0x16, 0x04, b'1', b'2', b'3', b'4']
        );
        assert_eq!(
            list(&["12"]).to_der(),
            [0x30, 0x06, 0xa2, 0x04, 0x16, 0x02, b'1', b'2']
        );
        assert_eq!(
            list(&["100+200"]).to_der(),
            [
                0x30, 0x0d, 0xa1, 0x0b, 0x30, 0x09, 0x16, 0x03, b'1', b'0', b'0', 0x02, 0x02, 0x00,
                0xc8
            ]
        );
        let l = list(&["spc:ACME", "12155550100+100", "*67", "442079460000"]);
        assert_eq!(TnAuthList::from_der(&l.to_der()).unwrap(), l);
    }

    #[test]
    fn matches_numbers_ranges_and_spc() {
        let l = list(&["12155550100+100", "442079460000"]);
        assert_eq!(l.covers("12155550100"), Some(Coverage::Range));
        assert_eq!(l.covers("12155550199"), Some(Coverage::Range));
        assert_eq!(l.covers("12155550200"), None);
        assert_eq!(l.covers("12155550099"), None);
        assert_eq!(l.covers("1215555010"), None);
        assert_eq!(l.covers("121555501000"), None);
        assert_eq!(l.covers("442079460000"), Some(Coverage::Number));
        assert_eq!(l.covers("44207946000"), None);
        let with_spc = list(&["spc:ACME", "442079460000"]);
        assert_eq!(with_spc.covers("442079460000"), Some(Coverage::Number));
        assert_eq!(
            with_spc.covers("1"),
            Some(Coverage::ServiceProvider("ACME"))
        );
    }

    #[test]
    fn invalid_entries_are_refused() {
        for bad in [
            "",
            "1234567890123456",
            "12a",
            "+1215",
            "10+91",
            "10+1",
            "1#+5",
            "spc:",
        ] {
            assert!(bad.parse::<TnEntry>().is_err(), "{bad}");
        }
        assert!("10+90".parse::<TnEntry>().is_ok());
        assert_eq!(TnAuthList::new(vec![]), Err(TnAuthError::Empty));
    }

    #[test]
    fn non_der_and_malformed_lists_are_refused() {
        let good = list(&["12"]).to_der();
        // Long-form length where the short form is due.
        let long = [0x30, 0x81, 0x06, 0xa2, 0x04, 0x16, 0x02, b'1', b'2'];
        assert_eq!(TnAuthList::from_der(&long), Err(TnAuthError::BadDer));
        // Indefinite length.
        let indefinite = [0x30, 0x80, 0xa2, 0x04, 0x16, 0x02, b'1', b'2', 0, 0];
        assert_eq!(TnAuthList::from_der(&indefinite), Err(TnAuthError::BadDer));
        // Trailing bytes, truncation, an unknown tag, an implicit (untagged inner) entry.
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(TnAuthList::from_der(&trailing), Err(TnAuthError::BadDer));
        assert_eq!(TnAuthList::from_der(&good[..5]), Err(TnAuthError::BadDer));
        let unknown = [0x30, 0x06, 0xa3, 0x04, 0x16, 0x02, b'1', b'2'];
        assert_eq!(TnAuthList::from_der(&unknown), Err(TnAuthError::BadDer));
        let implicit = [0x30, 0x04, 0x82, 0x02, b'1', b'2'];
        assert_eq!(TnAuthList::from_der(&implicit), Err(TnAuthError::BadDer));
        // A non-minimal and a negative count.
        let padded = [
            0x30, 0x0d, 0xa1, 0x0b, 0x30, 0x09, 0x16, 0x02, b'1', b'0', 0x02, 0x03, 0, 0, 5,
        ];
        assert_eq!(TnAuthList::from_der(&padded), Err(TnAuthError::BadDer));
        let negative = [
            0x30, 0x0b, 0xa1, 0x09, 0x30, 0x07, 0x16, 0x02, b'1', b'0', 0x02, 0x01, 0xff,
        ];
        assert_eq!(TnAuthList::from_der(&negative), Err(TnAuthError::BadDer));
        // An empty list and a bad number are refused by content.
        assert_eq!(TnAuthList::from_der(&[0x30, 0x00]), Err(TnAuthError::Empty));
        let letters = [0x30, 0x06, 0xa2, 0x04, 0x16, 0x02, b'1', b'x'];
        assert!(matches!(
            TnAuthList::from_der(&letters),
            Err(TnAuthError::BadNumber(_))
        ));
    }
}
