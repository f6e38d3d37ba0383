//! SignedData: making and checking signatures (integrity only; trust is `trust.rs`).

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::error::ErrorStack;
use openssl::pkey::{PKey, PKeyRef, Private};
use openssl::stack::Stack;
use openssl::x509::X509;

use super::{
    capabilities, envelope, ffi, first_reason, parse_der, CmsContentType, CmsError, DigestAlgorithm,
};

/// A signing identity: certificate, its private key, and the intermediates up to (not
/// including) the trust anchor.
pub struct Signer {
    pub cert: X509,
    pub key: PKey<Private>,
    pub chain: Vec<X509>,
}

/// How to sign. The default is what RFC 8591-era peers expect: SHA-256, detached (for
/// multipart/signed), signer certificate and chain included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmsSignOptions {
    pub digest: DigestAlgorithm,
    /// Detached (no eContent, for multipart/signed) or attached (pkcs7-mime signed-data).
    pub detached: bool,
    /// Include the signer certificate and chain; without them the receiver must already hold
    /// the signer's certificate (RFC 6216 does this).
    pub include_certs: bool,
    /// Also advertise 3DES in SMIMECapabilities, for peers that have nothing better.
    pub legacy_ciphers: bool,
}

impl Default for CmsSignOptions {
    fn default() -> Self {
        CmsSignOptions {
            digest: DigestAlgorithm::Sha256,
            detached: true,
            include_certs: true,
            legacy_ciphers: false,
        }
    }
}

/// Signs `content` byte for byte (never canonicalised) and returns the DER ContentInfo.
/// RSA keys sign with PKCS#1 v1.5, EC keys with ECDSA.
pub fn sign(content: &[u8], signer: &Signer, opts: &CmsSignOptions) -> Result<Vec<u8>, CmsError> {
    let md = opts.digest.message_digest()?;
    let cert_key = signer
        .cert
        .public_key()
        .map_err(CmsError::openssl("reading the signer certificate key"))?;
    if !cert_key.public_eq(&signer.key) {
        return Err(CmsError::KeyMismatch);
    }
    let mut flags = CMSOptions::BINARY;
    if opts.detached {
        flags |= CMSOptions::DETACHED;
    }
    let mut certs = Stack::new().map_err(CmsError::openssl("allocating a stack"))?;
    if opts.include_certs {
        for c in &signer.chain {
            certs
                .push(c.clone())
                .map_err(CmsError::openssl("collecting the chain"))?;
        }
    }
    let mut cms = CmsContentInfo::sign(
        None,
        None::<&PKeyRef<Private>>,
        Some(&certs),
        None,
        flags | CMSOptions::PARTIAL,
    )
    .map_err(CmsError::openssl("starting the SignedData"))?;
    let signer_flags = if opts.include_certs {
        flags
    } else {
        flags | CMSOptions::CMS_NOCERTS
    };
    ffi::add_signer_and_finalise(
        &mut cms,
        &signer.cert,
        &signer.key,
        md,
        content,
        capabilities::advertised(opts.legacy_ciphers),
        signer_flags,
    )
    .map_err(CmsError::openssl("signing"))?;
    cms.to_der()
        .map_err(CmsError::openssl("encoding the SignedData"))
}

/// Certificates the caller already holds, for signatures that carry none (RFC 6216 style).
#[derive(Default, Clone)]
pub struct VerifyContext {
    pub extra_certs: Vec<X509>,
}

/// The outcome of a successful integrity check. The signer is *not* trusted yet: pass
/// `signer` and `certificates` to [`super::check_trust`].
pub struct VerifiedSignature {
    /// The certificate whose key made the signature (from the CMS or from `extra_certs`).
    pub signer: X509,
    /// Every certificate the CMS carries (candidates for the chain), signer included.
    pub certificates: Vec<X509>,
    /// The encapsulated content of an attached signature; `None` for detached.
    pub content: Option<Vec<u8>>,
    pub digest: DigestAlgorithm,
    /// The signingTime attribute (seconds since 1970), a claim of the signer.
    pub signing_time: Option<i64>,
}

/// Checks that the SignedData in `der` is intact: the signature over the content (attached, or
/// `detached_content`) verifies with the signer certificate's key. Trust is NOT checked here.
/// Only the first signer is reported (SIP S/MIME has one); all signers must verify.
pub fn verify(
    der: &[u8],
    detached_content: Option<&[u8]>,
    ctx: &VerifyContext,
) -> Result<VerifiedSignature, CmsError> {
    let mut cms = parse_der(der)?;
    let found = envelope::type_of(&cms);
    if found != CmsContentType::SignedData {
        return Err(CmsError::WrongContentType {
            expected: "SignedData",
            found,
        });
    }
    match (ffi::is_detached(&cms), detached_content) {
        (true, None) => return Err(CmsError::DetachedContentMissing),
        (false, Some(_)) => return Err(CmsError::UnexpectedDetachedContent),
        _ => {}
    }
    let mut extra = Stack::new().map_err(CmsError::openssl("allocating a stack"))?;
    for c in &ctx.extra_certs {
        extra
            .push(c.clone())
            .map_err(CmsError::openssl("collecting certificates"))?;
    }
    let mut out = Vec::new();
    cms.verify(
        Some(&extra),
        None,
        detached_content,
        Some(&mut out),
        CMSOptions::BINARY | CMSOptions::NOVERIFY,
    )
    .map_err(classify_verify_error)?;
    let signer = ffi::signers(&cms)
        .into_iter()
        .next()
        .ok_or(CmsError::SignerNotFound)?;
    let facts = ffi::first_signer_facts(&cms);
    let (digest, signing_time) = match facts {
        Some(f) => (
            DigestAlgorithm::from_nid(f.digest.0, f.digest.1),
            f.signing_time,
        ),
        None => (DigestAlgorithm::Other(String::new()), None),
    };
    Ok(VerifiedSignature {
        signer,
        certificates: ffi::certificates(&cms),
        content: detached_content.is_none().then_some(out),
        digest,
        signing_time,
    })
}

fn classify_verify_error(e: ErrorStack) -> CmsError {
    let not_found = e
        .errors()
        .iter()
        .any(|x| x.reason() == Some("signer certificate not found"));
    if not_found {
        CmsError::SignerNotFound
    } else {
        CmsError::IntegrityFailed(first_reason(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkit::{Ca, KeyKind};

    const BODY: &[u8] = b"v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=-\r\nline without cr\n\x00\xff";

    fn signer(kind: KeyKind) -> Signer {
        let ca = Ca::new(kind);
        let (cert, key) = ca.leaf(kind, "sip:alice@example.com");
        Signer {
            cert,
            key,
            chain: vec![],
        }
    }

    #[test]
    fn the_capabilities_attribute_advertises_what_we_decrypt() {
        let s = signer(KeyKind::P256);
        // smimeCapabilities (1.2.840.113549.1.9.15), its SET, then the list.
        let oid = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0f,
        ];
        for legacy in [false, true] {
            let opts = CmsSignOptions {
                legacy_ciphers: legacy,
                ..CmsSignOptions::default()
            };
            let der = sign(BODY, &s, &opts).unwrap();
            let list = capabilities::advertised(legacy);
            let at = der.windows(oid.len()).position(|w| w == oid).unwrap() + oid.len();
            // SET header (tag 0x31 and a one-byte length: the list is short), then the list.
            assert_eq!(der[at], 0x31);
            assert_eq!(&der[at + 2..at + 2 + list.len()], list);
            let ciphers = capabilities::parse(list).unwrap();
            assert_eq!(
                ciphers.contains(&crate::crypto::ContentCipher::DesEde3Cbc),
                legacy
            );
            assert_eq!(ciphers[0], crate::crypto::ContentCipher::Aes256Gcm);
            // OpenSSL reads it back as the signer's attribute and the signature verifies.
            assert!(verify(&der, Some(BODY), &VerifyContext::default()).is_ok());
        }
    }

    #[test]
    fn detached_and_attached_round_trip_for_each_digest_and_key() {
        for kind in [KeyKind::Rsa, KeyKind::P256] {
            let s = signer(kind);
            for digest in [
                DigestAlgorithm::Sha1,
                DigestAlgorithm::Sha256,
                DigestAlgorithm::Sha384,
                DigestAlgorithm::Sha512,
            ] {
                for detached in [true, false] {
                    let opts = CmsSignOptions {
                        digest: digest.clone(),
                        detached,
                        ..CmsSignOptions::default()
                    };
                    let der = sign(BODY, &s, &opts).unwrap();
                    let dc = detached.then_some(BODY);
                    let v = verify(&der, dc, &VerifyContext::default()).unwrap();
                    assert_eq!(v.digest, digest);
                    assert_eq!(v.signer.to_der().unwrap(), s.cert.to_der().unwrap());
                    assert_eq!(v.content.as_deref(), (!detached).then_some(BODY));
                    assert!(v.signing_time.is_some());
                }
            }
        }
    }

    #[test]
    fn without_certs_the_signer_must_be_supplied() {
        let s = signer(KeyKind::Rsa);
        let opts = CmsSignOptions {
            include_certs: false,
            ..CmsSignOptions::default()
        };
        let der = sign(BODY, &s, &opts).unwrap();
        let err = verify(&der, Some(BODY), &VerifyContext::default()).err();
        assert!(matches!(err, Some(CmsError::SignerNotFound)), "{err:?}");
        // A different certificate is not taken as the signer.
        let other = signer(KeyKind::Rsa);
        let ctx = VerifyContext {
            extra_certs: vec![other.cert.clone()],
        };
        assert!(matches!(
            verify(&der, Some(BODY), &ctx),
            Err(CmsError::SignerNotFound)
        ));
        let ctx = VerifyContext {
            extra_certs: vec![other.cert, s.cert.clone()],
        };
        let v = verify(&der, Some(BODY), &ctx).unwrap();
        assert_eq!(v.signer.to_der().unwrap(), s.cert.to_der().unwrap());
        assert!(v.certificates.is_empty());
    }

    #[test]
    fn tampering_is_an_integrity_failure() {
        let s = signer(KeyKind::P256);
        let der = sign(BODY, &s, &CmsSignOptions::default()).unwrap();
        let mut body = BODY.to_vec();
        body[3] ^= 1;
        let err = verify(&der, Some(&body), &VerifyContext::default()).err();
        assert!(matches!(err, Some(CmsError::IntegrityFailed(_))), "{err:?}");
        // The signature value is the last element of the DER: flip its last byte.
        let mut bad = der.clone();
        let n = bad.len() - 1;
        bad[n] ^= 0x01;
        let err = verify(&bad, Some(BODY), &VerifyContext::default()).err();
        assert!(matches!(err, Some(CmsError::IntegrityFailed(_))), "{err:?}");
    }

    #[test]
    fn content_presence_is_checked() {
        let s = signer(KeyKind::Rsa);
        let det = sign(BODY, &s, &CmsSignOptions::default()).unwrap();
        assert!(matches!(
            verify(&det, None, &VerifyContext::default()),
            Err(CmsError::DetachedContentMissing)
        ));
        let att = sign(
            BODY,
            &s,
            &CmsSignOptions {
                detached: false,
                ..CmsSignOptions::default()
            },
        )
        .unwrap();
        assert!(matches!(
            verify(&att, Some(BODY), &VerifyContext::default()),
            Err(CmsError::UnexpectedDetachedContent)
        ));
    }

    #[test]
    fn key_must_match_certificate() {
        let a = signer(KeyKind::Rsa);
        let b = signer(KeyKind::Rsa);
        let mixed = Signer {
            cert: a.cert,
            key: b.key,
            chain: vec![],
        };
        assert!(matches!(
            sign(BODY, &mixed, &CmsSignOptions::default()),
            Err(CmsError::KeyMismatch)
        ));
    }

    #[test]
    fn octets_after_the_cms_are_refused_ber_is_read() {
        let s = signer(KeyKind::Rsa);
        let ours = sign(BODY, &s, &Default::default()).unwrap();
        // Bouncy Castle's streamed signature: indefinite lengths throughout.
        let ber = include_bytes!("../../testdata/bc/signed-rsa-attached-ber.p7").to_vec();
        assert_eq!(ber[1], 0x80);
        for (der, detached) in [(ours, Some(BODY)), (ber, None)] {
            assert!(verify(&der, detached, &VerifyContext::default()).is_ok());
            for extra in [&[0u8][..], &[0, 0], b"\x05\x00", b"\r\n"] {
                let mut longer = der.clone();
                longer.extend_from_slice(extra);
                let err = verify(&longer, detached, &VerifyContext::default()).err();
                let want = format!("{} octets after the CMS", extra.len());
                assert!(
                    matches!(&err, Some(CmsError::BadDer(why)) if *why == want),
                    "{err:?}"
                );
            }
        }
    }

    #[test]
    fn garbage_is_bad_der() {
        for input in [&b""[..], b"MIIB", &[0x30, 0x03, 0x02, 0x01]] {
            assert!(matches!(
                verify(input, None, &VerifyContext::default()),
                Err(CmsError::BadDer(_))
            ));
        }
    }
}
