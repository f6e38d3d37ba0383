//! Strict DER for signatures: a verifier must not accept an encoding that differs from the one
//! signed without changing the signature (each would pass a replay cache keyed on the bytes),
//! nor anything OpenSSL itself refuses. And the identity of a signature for the replay cache:
//! the signers' signature values with their issuer and serial, whatever carries them.
//!
//! The check is the minimal correct subset of DER (X.690 §10) over the crate's one DER reader:
//! definite lengths in the fewest octets, primitive strings, INTEGERs without padding, BOOLEANs
//! 00 or FF, SET OF elements in ascending order, low tag numbers (CMS uses no others), and
//! nothing after the outermost element. The fast paths take nothing else.

use super::der::{self, Tlv};
use std::borrow::Cow;

/// Deeper nesting than any CMS or certificate has.
const MAX_DEPTH: usize = 32;

/// Why bytes are not DER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    #[error("{0} bytes after its end")]
    Trailing(usize),
    #[error("an element is cut short")]
    Truncated,
    #[error("an indefinite length (BER, not DER)")]
    IndefiniteLength,
    #[error("a length written in more octets than it needs")]
    LongLength,
    #[error("an INTEGER with a padding octet {0:#04x} in front")]
    PaddedInteger(u8),
    #[error("an INTEGER without octets")]
    EmptyInteger,
    #[error("a constructed string (BER, not DER)")]
    ConstructedString,
    #[error("a BOOLEAN other than 00 or FF")]
    Boolean,
    #[error("an OBJECT IDENTIFIER that is not a whole sequence of minimal subidentifiers")]
    ObjectIdentifier,
    #[error("a SET OF whose elements are not in ascending order")]
    UnsortedSet,
    #[error("a high tag number, which CMS does not use")]
    HighTag,
    #[error("nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
}

/// One element read by the crate's DER reader, with the reason when it is not DER.
fn element(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), DerError> {
    match input {
        [] | [_] => return Err(DerError::Truncated),
        [tag, ..] if tag & 0x1f == 0x1f => return Err(DerError::HighTag),
        [_, 0x80, ..] => return Err(DerError::IndefiniteLength),
        _ => {}
    }
    let (tlv, after) = der::element(input).ok_or(DerError::Truncated)?;
    let header = tlv.whole.len() - tlv.content.len();
    if header != 2 + length_octets(tlv.content.len()) {
        return Err(DerError::LongLength);
    }
    Ok((tlv, after))
}

/// How many octets DER gives a length after the first: none below 128, else the fewest.
fn length_octets(len: usize) -> usize {
    if len < 0x80 {
        0
    } else {
        (usize::BITS - len.leading_zeros()).div_ceil(8) as usize
    }
}

fn check_integer(content: &[u8]) -> Result<(), DerError> {
    match content {
        [] => Err(DerError::EmptyInteger),
        [0x00, b, ..] if *b < 0x80 => Err(DerError::PaddedInteger(0x00)),
        [0xff, b, ..] if *b >= 0x80 => Err(DerError::PaddedInteger(0xff)),
        _ => Ok(()),
    }
}

/// X.690 §8.19: subidentifiers in base 128, the last octet of each with bit 8 clear, none
/// starting with 0x80 (not the fewest octets). OpenSSL's decoder refuses the others.
fn check_object_identifier(content: &[u8]) -> Result<(), DerError> {
    let whole = content.last().is_some_and(|b| b & 0x80 == 0);
    let minimal = content
        .iter()
        .enumerate()
        .all(|(at, &b)| b != 0x80 || (at > 0 && content[at - 1] & 0x80 != 0));
    if whole && minimal {
        Ok(())
    } else {
        Err(DerError::ObjectIdentifier)
    }
}

fn check_elements(mut input: &[u8], depth: usize) -> Result<(), DerError> {
    if depth > MAX_DEPTH {
        return Err(DerError::TooDeep);
    }
    while !input.is_empty() {
        let (tlv, after) = element(input)?;
        match tlv.tag {
            0x01 if !matches!(tlv.content, [0x00 | 0xff]) => return Err(DerError::Boolean),
            0x02 => check_integer(tlv.content)?,
            0x06 => check_object_identifier(tlv.content)?,
            // BIT, OCTET, UTF8, Printable, IA5 and the other string types, constructed.
            0x23 | 0x24 | 0x2c | 0x32..=0x3e => return Err(DerError::ConstructedString),
            0x31 => {
                check_elements(tlv.content, depth + 1)?;
                check_set_order(tlv.content)?;
            }
            0xa0 if depth == CERTIFICATES_DEPTH => check_certificates(tlv.content)?,
            t if t & 0x20 != 0 => check_elements(tlv.content, depth + 1)?,
            _ => {}
        }
        input = after;
    }
    Ok(())
}

/// Where a SignedData's certificates field is read: ContentInfo (0), its [0] (1), SignedData
/// (2), then its fields (3).
const CERTIFICATES_DEPTH: usize = 3;

/// Fields kept per thread that passed [`check_certificates`].
const PASSED_FIELDS: usize = 4;

/// The content of a `[0]` read at [`CERTIFICATES_DEPTH`] (a SignedData's certificates: most of
/// a signature's octets, and in a run mostly the same chain again). Whether octets are DER at
/// a given depth depends on nothing else, so a field equal octet for octet to one that passed
/// recently passes without being walked again.
fn check_certificates(content: &[u8]) -> Result<(), DerError> {
    thread_local! {
        static PASSED: std::cell::RefCell<Vec<Box<[u8]>>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let passed = |c: &[u8]| PASSED.with_borrow(|p| p.iter().any(|f| **f == *c));
    if passed(content) {
        return Ok(());
    }
    check_elements(content, CERTIFICATES_DEPTH + 1)?;
    PASSED.with_borrow_mut(|p| {
        if p.len() >= PASSED_FIELDS {
            p.remove(0);
        }
        p.push(content.into());
    });
    Ok(())
}

/// X.690 §11.6: a SET OF's element encodings in ascending order, compared as octet strings with
/// the shorter padded with trailing zeros. (Every SET in CMS and in a certificate is a SET OF;
/// a signer's attributes are signed as sent, and OpenSSL sorts them before checking.)
fn check_set_order(mut content: &[u8]) -> Result<(), DerError> {
    let mut previous: Option<&[u8]> = None;
    while !content.is_empty() {
        let (e, after) = der::element(content).ok_or(DerError::Truncated)?;
        if previous.is_some_and(|p| padded_greater(p, e.whole)) {
            return Err(DerError::UnsortedSet);
        }
        previous = Some(e.whole);
        content = after;
    }
    Ok(())
}

/// `a > b` as octet strings with the shorter padded with trailing zeros: past the common
/// length, padding (zeros) is never greater, so `a` is greater only by a nonzero octet of its
/// own.
fn padded_greater(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    match a[..n].cmp(&b[..n]) {
        std::cmp::Ordering::Equal => a[n..].iter().any(|&x| x != 0),
        order => order == std::cmp::Ordering::Greater,
    }
}

/// Octets [`check_der`] accepted: one DER element with nothing after it.
#[derive(Debug, Clone)]
pub struct Der<'a>(Cow<'a, [u8]>);

impl<'a> Der<'a> {
    /// `der` when it is DER.
    pub fn strict(der: &'a [u8]) -> Result<Der<'a>, DerError> {
        check_der(der)?;
        Ok(Der(Cow::Borrowed(der)))
    }

    /// Owned octets when they are DER.
    pub fn strict_owned(der: Vec<u8>) -> Result<Der<'static>, DerError> {
        check_der(&der)?;
        Ok(Der(Cow::Owned(der)))
    }
}

impl std::ops::Deref for Der<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Accepts `der` only if it is one DER element with nothing after it.
pub fn check_der(der: &[u8]) -> Result<(), DerError> {
    let (_, after) = element(der)?;
    if !after.is_empty() {
        return Err(DerError::Trailing(after.len()));
    }
    check_elements(der, 0)
}

/// ansi-X9-62 (1.2.840.10045): ECDSA signature algorithms and id-ecPublicKey.
const OID_X962: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d];

/// The part of one signature value that only the key holder can make anew: RSA's whole value;
/// ECDSA's `r` alone, as `(r, n - s)` verifies as well as `(r, s)` and anyone can compute it.
fn signature_value<'a>(algorithm: &[u8], value: &'a [u8]) -> Option<&'a [u8]> {
    if !algorithm.starts_with(OID_X962) {
        return Some(value);
    }
    let (sig, _) = der::element(value)?;
    let fields = der::elements(der::expect(Some(&sig), 0x30)?.content)?;
    der::expect(fields.first(), 0x02).map(|r| r.content)
}

/// What a signature is, for the replay cache: SHA-256 over each signer's identifier (issuer
/// and serial, or key id) and signature value, sorted, so no re-encoding, reordering or change
/// of the certificates carried makes a new one. `None` when `der` is not a SignedData that
/// reads (the caller has verified it already, so this does not happen for an intact one).
pub fn signature_identity(der: &[u8]) -> Option<[u8; 32]> {
    let (ci, _) = der::element(der)?;
    let ci = der::elements(ci.content)?;
    let explicit = der::expect(ci.get(1), 0xa0)?;
    let (signed_data, _) = der::element(explicit.content)?;
    let infos = der::elements(signed_data.content)?;
    let infos = der::expect(infos.last(), 0x31)?;
    let mut signers = Vec::new();
    for info in der::elements(infos.content)? {
        let fields = der::elements(der::expect(Some(&info), 0x30)?.content)?;
        let sid = fields.get(1)?.whole;
        // digestAlgorithm, then signedAttrs [0] if present, signatureAlgorithm, signature.
        let mut at = 3;
        if fields.get(at).is_some_and(|f| f.tag == 0xa0) {
            at += 1;
        }
        let algorithm = der::elements(der::expect(fields.get(at), 0x30)?.content)?;
        let oid = der::expect(algorithm.first(), 0x06)?.content;
        let value = signature_value(oid, der::expect(fields.get(at + 1), 0x04)?.content)?;
        let mut entry = Vec::with_capacity(sid.len() + value.len() + 16);
        for part in [sid, value] {
            entry.extend_from_slice(&(part.len() as u64).to_be_bytes());
            entry.extend_from_slice(part);
        }
        signers.push(entry);
    }
    if signers.is_empty() {
        return None;
    }
    signers.sort();
    let parts: Vec<&[u8]> = signers.iter().map(Vec::as_slice).collect();
    super::fetched::sha256(&parts)
}

/// [`signature_identity`] of a SignedData with one signer, from that signer's identifier
/// (its whole encoding), signature algorithm OID and signature value, as a parser that has
/// read them finds them: the same digest over the same entry, without reading again.
pub(crate) fn one_signer_identity(
    sid: &[u8],
    algorithm: &[u8],
    signature: &[u8],
) -> Option<[u8; 32]> {
    let value = signature_value(algorithm, signature)?;
    let (sid_len, value_len) = (
        (sid.len() as u64).to_be_bytes(),
        (value.len() as u64).to_be_bytes(),
    );
    super::fetched::sha256(&[&sid_len, sid, &value_len, value])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkit::{Ca, KeyKind};
    use crate::crypto::{sign, CmsSignOptions, Signer};

    fn signed(kind: KeyKind) -> Vec<u8> {
        let ca = Ca::new(KeyKind::Rsa);
        let (cert, key) = ca.leaf(kind, "sip:alice@example.com");
        let s = Signer {
            cert,
            key,
            chain: vec![],
        };
        sign(b"content", &s, &CmsSignOptions::default()).unwrap()
    }

    #[test]
    fn what_openssl_writes_is_der() {
        for kind in [KeyKind::Rsa, KeyKind::P256] {
            let der = signed(kind);
            assert_eq!(check_der(&der), Ok(()));
            assert!(signature_identity(&der).is_some());
        }
    }

    #[test]
    fn set_order_compares_as_if_the_shorter_were_padded_with_zeros() {
        let padded = |e: &[u8], width: usize| {
            let mut v = e.to_vec();
            v.resize(width, 0);
            v
        };
        let octets = [0x00, 0x01, 0xff];
        let mut all: Vec<Vec<u8>> = vec![Vec::new()];
        for len in 1..=3u32 {
            for n in 0..octets.len().pow(len) {
                let e = (0..len).map(|i| octets[n / octets.len().pow(i) % octets.len()]);
                all.push(e.collect());
            }
        }
        for a in &all {
            for b in &all {
                let width = a.len().max(b.len());
                let expected = padded(a, width) > padded(b, width);
                assert_eq!(padded_greater(a, b), expected, "{a:02x?} {b:02x?}");
            }
        }
    }

    #[test]
    fn a_certificates_field_passes_again_only_when_equal_to_one_that_passed() {
        let ca = Ca::new(KeyKind::Rsa);
        let inter = ca.sub_ca(KeyKind::Rsa);
        let (cert, key) = inter.leaf(KeyKind::Rsa, "sip:alice@example.com");
        let s = Signer {
            cert,
            key,
            chain: vec![inter.cert.clone()],
        };
        let der = sign(b"content", &s, &CmsSignOptions::default()).unwrap();
        // The CA's basicConstraints cA TRUE, in the certificates: a BOOLEAN 01 is not DER.
        let at = der
            .windows(3)
            .position(|w| w == [0x01, 0x01, 0xff])
            .unwrap();
        let mut bad = der.clone();
        bad[at + 2] = 0x01;
        for _ in 0..2 {
            assert_eq!(check_der(&der), Ok(()));
            assert_eq!(check_der(&bad), Err(DerError::Boolean));
        }
    }

    #[test]
    fn every_non_der_encoding_is_named() {
        let cases: [(&[u8], DerError); 16] = [
            (&[0x30, 0x03, 0x01, 0x01, 0x01], DerError::Boolean),
            (&[0x06, 0x02, 0x2a, 0xff], DerError::ObjectIdentifier),
            (&[0x06, 0x02, 0x80, 0x01], DerError::ObjectIdentifier),
            (&[0x06, 0x03, 0x2a, 0x80, 0x01], DerError::ObjectIdentifier),
            (&[0x06, 0x00], DerError::ObjectIdentifier),
            (
                &[0x31, 0x06, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01],
                DerError::UnsortedSet,
            ),
            (&[0x30, 0x00, 0x00], DerError::Trailing(1)),
            (&[0x30, 0x81, 0x01, 0x05, 0x00], DerError::LongLength),
            (&[0x30, 0x82, 0x00, 0x00], DerError::LongLength),
            (&[0x30, 0x80, 0x00, 0x00], DerError::IndefiniteLength),
            (&[0x02, 0x02, 0x00, 0x01], DerError::PaddedInteger(0x00)),
            (&[0x02, 0x02, 0xff, 0x80], DerError::PaddedInteger(0xff)),
            (&[0x02, 0x00], DerError::EmptyInteger),
            (&[0x24, 0x03, 0x04, 0x01, 0x00], DerError::ConstructedString),
            (&[0x1f, 0x81, 0x00], DerError::HighTag),
            (&[0x30, 0x05, 0x02, 0x01], DerError::Truncated),
        ];
        for (bytes, want) in cases {
            assert_eq!(check_der(bytes), Err(want), "{bytes:02x?}");
        }
        // The legal neighbours of those.
        for ok in [
            &[0x02, 0x02, 0x00, 0x80][..],
            &[0x02, 0x01, 0x00],
            &[0x02, 0x02, 0xff, 0x7f],
            &[0x30, 0x03, 0x02, 0x01, 0x7f],
            // A shorter element sorts as if padded with zeros: 04 00 before 04 01 00.
            &[0x31, 0x05, 0x04, 0x00, 0x04, 0x01, 0x00],
            &[0x30, 0x03, 0x01, 0x01, 0xff],
            // 1.2.840.10045.4.3.2 (ecdsa-with-SHA256): 840 and 10045 in two octets each.
            &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02],
            // 0x80 inside a subidentifier (1.2.16384), not at its start.
            &[0x06, 0x04, 0x2a, 0x81, 0x80, 0x00],
        ] {
            assert_eq!(check_der(ok), Ok(()), "{ok:02x?}");
        }
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 40).flatten().collect();
        assert!(check_der(&deep).is_err());
    }

    #[test]
    fn the_identity_is_the_signature_value_not_its_carrier() {
        let der = signed(KeyKind::Rsa);
        let id = signature_identity(&der).unwrap();
        assert_eq!(signature_identity(&der), Some(id), "deterministic");
        let other = signed(KeyKind::Rsa);
        assert_ne!(signature_identity(&other), Some(id));
        // The last byte is the signature's: flipping it is another signature.
        let mut changed = der.clone();
        let n = changed.len() - 1;
        changed[n] ^= 1;
        assert_ne!(signature_identity(&changed), Some(id));
        assert_eq!(signature_identity(b"\x30\x00"), None);
    }

    #[test]
    fn an_ecdsa_signature_is_known_by_r_alone() {
        let value = [0x30, 0x06, 0x02, 0x01, 0x11, 0x02, 0x01, 0x22];
        let other_s = [0x30, 0x06, 0x02, 0x01, 0x11, 0x02, 0x01, 0x33];
        let ecdsa_sha256 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
        assert_eq!(signature_value(&ecdsa_sha256, &value), Some(&[0x11][..]));
        assert_eq!(
            signature_value(&ecdsa_sha256, &value),
            signature_value(&ecdsa_sha256, &other_s)
        );
        let rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
        assert_eq!(signature_value(&rsa, &value), Some(&value[..]));
    }
}
