//! A fast path for the integrity check of the common SignedData (RFC 5652 §5.4): one signer,
//! signed attributes, the signer's certificate embedded, RSA PKCS#1 v1.5 or ECDSA with SHA-1/2,
//! DER. Certificates are parsed once and kept (OpenSSL 3 spends most of a CMS verify decoding
//! the same certificates again and again). Anything else, and any failure, returns `None` so
//! the caller runs the full [`crate::crypto::verify`], which gives the canonical result and
//! error: this path can only ever say "intact", never "damaged".

use super::der::{element, elements, expect};
use super::fetched;
use super::Der;
use crate::crypto::{DigestAlgorithm, VerifiedSignature};
use openssl::bn::BigNumContext;
use openssl::ec::PointConversionForm;
use openssl::md::MdRef;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::x509::X509;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const OID_CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
const OID_MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
/// ansi-X9-62: ecdsa-with-SHA1, ecdsa-with-SHA2 family, and id-ecPublicKey as some signers write.
const OID_X962: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d];

/// The chain-cache key of a signature: SHA-256 over the SHA-256 of the signer's DER and then
/// of every certificate carried. The signer comes first because the same certificates carried
/// for another signer are another chain.
fn fingerprint<'a>(
    signer: &'a [u8; 32],
    certs: impl IntoIterator<Item = &'a [u8; 32]>,
) -> Option<[u8; 32]> {
    let parts: Vec<&[u8]> = std::iter::once(signer)
        .chain(certs)
        .map(|d| &d[..])
        .collect();
    fetched::sha256(&parts)
}

/// Certificates kept at most; past that the cache starts over.
const CERT_CACHE_MAX: usize = 4096;

fn digest_of(oid: &[u8]) -> Option<(&'static MdRef, DigestAlgorithm)> {
    let algorithm = match oid {
        [0x2b, 0x0e, 0x03, 0x02, 0x1a] => DigestAlgorithm::Sha1,
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, n] => match n {
            1 => DigestAlgorithm::Sha256,
            2 => DigestAlgorithm::Sha384,
            3 => DigestAlgorithm::Sha512,
            _ => return None,
        },
        _ => return None,
    };
    Some((fetched::md(&algorithm)?, algorithm))
}

/// The signature algorithms this path verifies as OpenSSL's CMS does, for the signer's key:
/// for RSA, rsaEncryption and the PKCS#1 v1.5 signature OIDs OpenSSL maps back to it (SHA-1,
/// SHA-224/256/384/512); for EC, id-ecPublicKey and ecdsa-with-SHA1/SHA224/256/384/512.
/// OpenSSL refuses an RSA signer under an OID it does not map to rsaEncryption.
fn signature_algorithm_fits(oid: &[u8], key: Id) -> bool {
    match key {
        Id::RSA => matches!(oid.strip_prefix(OID_RSA), Some([1 | 5 | 11..=14])),
        Id::EC => matches!(
            oid.strip_prefix(OID_X962),
            Some([0x02, 0x01] | [0x04, 0x01] | [0x04, 0x03, 1..=4])
        ),
        _ => false,
    }
}

/// A non-negative INTEGER's content octets as DER writes them: a 0x00 in front when the first
/// octet's high bit is set (the serial in a SignerIdentifier is compared with them exactly).
fn der_integer_content(magnitude: &[u8]) -> Vec<u8> {
    match magnitude.first() {
        Some(b) if b & 0x80 == 0 => magnitude.to_vec(),
        _ => [&[0u8][..], magnitude].concat(),
    }
}

struct KnownCert {
    cert: X509,
    key: PKey<Public>,
    issuer: Vec<u8>,
    serial: Vec<u8>,
    /// SHA-256 of the certificate's DER, for the chain-cache key.
    digest: [u8; 32],
    /// A P-256 key as ring takes it (the uncompressed point).
    p256: Option<UnparsedPublicKey<Vec<u8>>>,
    /// Contexts that verify with the key over a digest, each set up for one digest algorithm:
    /// setting one up costs OpenSSL's algorithm fetches, so each is kept for the next message
    /// (one per thread verifying at the same time).
    verifiers: Mutex<Vec<(DigestAlgorithm, PkeyCtx<Public>)>>,
}

/// A named-curve P-256 key's point, uncompressed, for ring (explicit curve parameters and other
/// curves stay with OpenSSL).
fn p256_key(key: &PKey<Public>) -> Option<UnparsedPublicKey<Vec<u8>>> {
    let ec = key.ec_key().ok()?;
    if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
        return None;
    }
    let mut ctx = BigNumContext::new().ok()?;
    let point = ec
        .public_key()
        .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)
        .ok()?;
    Some(UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point))
}

/// Verification contexts kept per certificate at most (one per thread is what is used).
const VERIFIERS_MAX: usize = 16;

impl KnownCert {
    /// Whether `signature` is the key's signature over `data` (the concatenation of its
    /// parts), digested with `md`: the same check as a one-shot digest-and-verify (PKCS#1 v1.5
    /// with the algorithm's DigestInfo for RSA, ECDSA over the digest of that exact length for
    /// EC keys; by ring first for a P-256 key with SHA-256).
    fn verifies(
        &self,
        algorithm: &DigestAlgorithm,
        md: &MdRef,
        data: &[&[u8]],
        signature: &[u8],
    ) -> Option<bool> {
        if let (DigestAlgorithm::Sha256, Some(key)) = (algorithm, &self.p256) {
            // ring's ECDSA P-256 verify takes about 15 % less CPU than OpenSSL 3.0's on the
            // same core, and it is most of a P-256 message's cost. It reads the signature as
            // strictly as OpenSSL (DER only, 0 < r, s < n) and checks the same equation; what it
            // does not accept, OpenSSL judges below.
            let mut message = Vec::with_capacity(data.iter().map(|d| d.len()).sum());
            for part in data {
                message.extend_from_slice(part);
            }
            if key.verify(&message, signature).is_ok() {
                return Some(true);
            }
        }
        let digest = fetched::digest(md, data)?;
        let kept = self.verifiers.lock().ok().and_then(|mut kept| {
            let at = kept.iter().position(|(a, _)| a == algorithm)?;
            Some(kept.swap_remove(at).1)
        });
        let mut ctx = match kept {
            Some(ctx) => ctx,
            None => {
                let mut ctx = PkeyCtx::new(&self.key).ok()?;
                ctx.verify_init().ok()?;
                if self.key.id() == Id::RSA {
                    ctx.set_rsa_padding(Padding::PKCS1).ok()?;
                }
                ctx.set_signature_md(md).ok()?;
                ctx
            }
        };
        let intact = ctx.verify(digest.as_ref(), signature);
        if let Ok(mut kept) = self.verifiers.lock() {
            if kept.len() < VERIFIERS_MAX {
                kept.push((algorithm.clone(), ctx));
            }
        }
        intact.ok()
    }
}

/// A certificates field seen before, parsed: the signatures of a run mostly carry one chain.
struct KnownSet {
    /// The field's content octets.
    der: Vec<u8>,
    certs: Vec<Arc<KnownCert>>,
    /// The chain-cache key with each certificate as the signer, made when first needed.
    keys: Vec<OnceLock<Option<[u8; 32]>>>,
}

/// Certificates fields kept whole, the latest first; each is compared octet for octet, so
/// only a field equal to one seen before is taken from here.
const RECENT_SETS: usize = 8;

/// An intact signature as the fast path found it.
pub struct FastVerified {
    pub signature: VerifiedSignature,
    /// The fingerprint of the signer and the embedded certificates, for the chain cache.
    pub chain_key: [u8; 32],
    /// What [`crate::crypto::signature_identity`] gives for it, for the replay cache.
    pub replay_key: [u8; 32],
}

/// The parsed-certificate cache, shared by the verifier's threads.
#[derive(Default)]
pub struct CertCache {
    known: Mutex<HashMap<Vec<u8>, Arc<KnownCert>>>,
    recent: Mutex<VecDeque<Arc<KnownSet>>>,
}

impl CertCache {
    /// The certificates of a SignedData's certificates field (its content octets), parsed.
    fn set(&self, content: &[u8]) -> Option<Arc<KnownSet>> {
        let seen = self
            .recent
            .lock()
            .ok()?
            .iter()
            .find(|s| s.der == content)
            .cloned();
        if seen.is_some() {
            return seen;
        }
        let certs: Vec<Arc<KnownCert>> = elements(content)?
            .iter()
            .map(|c| self.get(c.whole))
            .collect::<Option<_>>()?;
        let set = Arc::new(KnownSet {
            der: content.to_vec(),
            keys: certs.iter().map(|_| OnceLock::new()).collect(),
            certs,
        });
        let mut recent = self.recent.lock().ok()?;
        if recent.len() >= RECENT_SETS {
            recent.pop_back();
        }
        recent.push_front(set.clone());
        Some(set)
    }

    fn get(&self, der: &[u8]) -> Option<Arc<KnownCert>> {
        if let Some(k) = self.known.lock().ok()?.get(der) {
            return Some(k.clone());
        }
        let cert = X509::from_der(der).ok()?;
        let key = cert.public_key().ok()?;
        let known = Arc::new(KnownCert {
            p256: p256_key(&key),
            key,
            issuer: cert.issuer_name().to_der().ok()?,
            serial: der_integer_content(&cert.serial_number().to_bn().ok()?.to_vec()),
            digest: fetched::sha256(&[der])?,
            verifiers: Mutex::new(Vec::new()),
            cert,
        });
        let mut map = self.known.lock().ok()?;
        if map.len() >= CERT_CACHE_MAX {
            map.clear();
        }
        map.insert(der.to_vec(), known.clone());
        Some(known)
    }

    /// Verifies `der` over `detached` (or its own content) on the fast path. `Some` only when
    /// the signature is intact; the second value is a fingerprint of the embedded
    /// certificates, for the chain cache.
    pub fn verify(
        &self,
        der: &[u8],
        detached: Option<&[u8]>,
    ) -> Option<(VerifiedSignature, [u8; 32])> {
        // DER only: any other encoding of the same signature (BER from a streaming producer,
        // or a re-encoding) is OpenSSL's to judge.
        let v = self.verify_der(&Der::strict(der).ok()?, detached)?;
        Some((v.signature, v.chain_key))
    }

    /// [`CertCache::verify`] for octets already known to be DER, with the replay key too.
    pub fn verify_der(&self, der: &Der<'_>, detached: Option<&[u8]>) -> Option<FastVerified> {
        let (ci, rest) = element(der)?;
        if ci.tag != 0x30 || !rest.is_empty() {
            return None;
        }
        // Every structure exactly as RFC 5652 has it: an element more or less is OpenSSL's to
        // judge (its decoder refuses what the fuzzer added after the known fields).
        let ci = elements(ci.content)?;
        if ci.len() != 2 || expect(ci.first(), 0x06)?.content != OID_SIGNED_DATA {
            return None;
        }
        let [sd] = &elements(expect(ci.get(1), 0xa0)?.content)?[..] else {
            return None;
        };
        let sd = elements(expect(Some(sd), 0x30)?.content)?;
        // CMSVersion 1 or 3 for SignedData, 1 for a signer named by issuer and serial.
        if !matches!(expect(sd.first(), 0x02)?.content, [1] | [3]) {
            return None;
        }
        // version, digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos
        let encap = elements(expect(sd.get(2), 0x30)?.content)?;
        if encap.len() > 2 {
            return None;
        }
        let econtent_type = expect(encap.first(), 0x06)?.content;
        let attached = match encap.get(1) {
            Some(e) if e.tag == 0xa0 => match &elements(e.content)?[..] {
                [octets] => Some(expect(Some(octets), 0x04)?.content),
                _ => return None,
            },
            Some(_) => return None,
            None => None,
        };
        let content = match (attached, detached) {
            (Some(c), None) => c,
            (None, Some(c)) => c,
            _ => return None,
        };
        let mut at = 3;
        let certs = match sd.get(at) {
            Some(e) if e.tag == 0xa0 => {
                at += 1;
                e.content
            }
            _ => return None,
        };
        if sd.get(at).is_some_and(|e| e.tag == 0xa1) {
            at += 1;
        }
        if sd.len() != at + 1 {
            return None;
        }
        let infos = elements(expect(sd.get(at), 0x31)?.content)?;
        let [info] = &infos[..] else { return None };
        let si = elements(expect(Some(info), 0x30)?.content)?;
        if si.len() != 6 || expect(si.first(), 0x02)?.content != [1] {
            return None; // unsigned attributes, another version: OpenSSL's path
        }
        let sid = expect(si.get(1), 0x30)?;
        let sid_whole = sid.whole;
        let sid = elements(sid.content)?;
        if sid.len() != 2 {
            return None;
        }
        let (issuer, serial) = (
            expect(sid.first(), 0x30)?.whole,
            expect(sid.get(1), 0x02)?.content,
        );
        let digest_alg = expect(si.get(2), 0x30)?;
        let (md, digest) = digest_of(expect(elements(digest_alg.content)?.first(), 0x06)?.content)?;
        // OpenSSL digests the content with the algorithms SignedData lists, and refuses a
        // signer whose algorithm is not among them: the one signer's must be the one listed.
        let listed = elements(expect(sd.get(1), 0x31)?.content)?;
        if !matches!(&listed[..], [one] if one.whole == digest_alg.whole) {
            return None;
        }
        let attrs = expect(si.get(3), 0xa0)?;
        let sig_alg = elements(expect(si.get(4), 0x30)?.content)?;
        if sig_alg.len() > 2 || elements(digest_alg.content)?.len() > 2 {
            return None;
        }
        let sig_oid = expect(sig_alg.first(), 0x06)?.content;
        let signature = expect(si.get(5), 0x04)?.content;

        let mut message_digest = None;
        let mut content_type_ok = false;
        for attr in elements(attrs.content)? {
            let a = elements(expect(Some(&attr), 0x30)?.content)?;
            if a.len() != 2 {
                return None;
            }
            let oid = expect(a.first(), 0x06)?.content;
            let values = elements(expect(a.get(1), 0x31)?.content)?;
            if oid == OID_MESSAGE_DIGEST {
                let [v] = &values[..] else { return None };
                if message_digest
                    .replace(expect(Some(v), 0x04)?.content)
                    .is_some()
                {
                    return None;
                }
            } else if oid == OID_CONTENT_TYPE {
                let [v] = &values[..] else { return None };
                content_type_ok = expect(Some(v), 0x06)?.content == econtent_type;
            }
        }
        if !content_type_ok || fetched::digest(md, &[content])?.as_ref() != message_digest? {
            return None;
        }
        let set = self.set(certs)?;
        // OpenSSL takes the first certificate whose issuer equals the signer's by its canonical
        // name comparison, which equates names this path tells apart (an empty RDN, string
        // types, case): with two certificates for the serial, which one is the signer is its
        // to say. With one, the issuer octets must be the signer identifier's.
        let mut for_serial = set
            .certs
            .iter()
            .enumerate()
            .filter(|(_, k)| k.serial == serial);
        let (signer_at, signer) = for_serial.next()?;
        if for_serial.next().is_some() || signer.issuer != issuer {
            return None;
        }
        if !signature_algorithm_fits(sig_oid, signer.key.id()) {
            return None; // RSASSA-PSS, unknown OIDs, another key type: the full path
        }
        // The signature covers the DER of the attributes as a SET (RFC 5652 §5.4): the SET
        // tag, then the [0]'s length and content octets.
        let signed = [&[0x31][..], attrs.whole.get(1..)?];
        if !signer.verifies(&digest, md, &signed, signature)? {
            return None;
        }
        let key = set
            .keys
            .get(signer_at)?
            .get_or_init(|| fingerprint(&signer.digest, set.certs.iter().map(|k| &k.digest)));
        Some(FastVerified {
            signature: VerifiedSignature {
                signer: signer.cert.clone(),
                certificates: set.certs.iter().map(|k| k.cert.clone()).collect(),
                content: attached.map(<[u8]>::to_vec),
                digest,
                signing_time: None,
            },
            chain_key: (*key)?,
            replay_key: super::strict::one_signer_identity(sid_whole, sig_oid, signature)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkit::{Ca, KeyKind};
    use crate::crypto::{sign, CmsSignOptions, Signer};

    const BODY: &[u8] = b"Content-Type: application/sdp\r\n\r\nv=0\r\n\x00\xff";

    fn signer(kind: KeyKind) -> (Signer, Ca) {
        let ca = Ca::new(KeyKind::Rsa);
        let inter = ca.sub_ca(KeyKind::Rsa);
        let (cert, key) = inter.leaf(kind, "sip:alice@example.com");
        (
            Signer {
                cert,
                key,
                chain: vec![inter.cert.clone()],
            },
            inter,
        )
    }

    #[test]
    fn intact_signatures_pass_and_agree_with_the_full_path() {
        let cache = CertCache::default();
        for kind in [KeyKind::Rsa, KeyKind::P256] {
            let (s, _) = signer(kind);
            for digest in [
                DigestAlgorithm::Sha1,
                DigestAlgorithm::Sha256,
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
                    let (fast, _) = cache
                        .verify(&der, dc)
                        .unwrap_or_else(|| panic!("fast path {kind:?} {digest:?} {detached}"));
                    let full = crate::crypto::verify(&der, dc, &Default::default()).unwrap();
                    assert_eq!(fast.signer.to_der().unwrap(), full.signer.to_der().unwrap());
                    assert_eq!(fast.content, full.content);
                    assert_eq!(fast.digest, digest);
                    assert_eq!(fast.certificates.len(), 2);
                    let again = cache.verify_der(&Der::strict(&der).unwrap(), dc).unwrap();
                    let identity = crate::crypto::signature_identity(&der);
                    assert_eq!(Some(again.replay_key), identity, "{kind:?}");
                }
            }
        }
    }

    /// ECDSA-Sig-Value encodings of one P-256 signature, each with whether it is the DER of
    /// a valid signature: re-encodings (a non-minimal INTEGER or length, bytes after it), the
    /// other valid signature (n - s), and values out of range.
    fn ecdsa_variants(der: &[u8]) -> Vec<(&'static str, Vec<u8>, bool)> {
        let sig = openssl::ecdsa::EcdsaSig::from_der(der).unwrap();
        let (r, s) = (sig.r().to_vec(), sig.s().to_vec());
        let int = |v: &[u8]| {
            let v = der_integer_content(v);
            [&[0x02, v.len() as u8][..], &v].concat()
        };
        let seq = |body: Vec<u8>| [&[0x30, body.len() as u8][..], &body].concat();
        let group = openssl::ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let mut order = openssl::bn::BigNum::new().unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        group.order(&mut order, &mut ctx).unwrap();
        let s_bn = openssl::bn::BigNum::from_slice(&s).unwrap();
        let mut other_s = openssl::bn::BigNum::new().unwrap();
        other_s.checked_sub(&order, &s_bn).unwrap();
        let padded_r = [&[0x02, r.len() as u8 + 2, 0, 0][..], &r].concat();
        let body = [int(&r), int(&s)].concat();
        let long_length = [&[0x30, 0x81, body.len() as u8][..], &body].concat();
        vec![
            ("as made", der.to_vec(), true),
            (
                "n - s",
                seq([int(&r), int(&other_s.to_vec())].concat()),
                true,
            ),
            ("r zero-padded", seq([padded_r, int(&s)].concat()), false),
            ("long length", long_length, false),
            ("a byte after", [der, &[0][..]].concat(), false),
            ("r = 0", seq([int(&[]), int(&s)].concat()), false),
            (
                "s = n",
                seq([int(&r), int(&order.to_vec())].concat()),
                false,
            ),
            ("r and s swapped", seq([int(&s), int(&r)].concat()), false),
        ]
    }

    #[test]
    fn p256_signatures_are_judged_by_ring_as_openssl_judges_them() {
        let ca = Ca::new(KeyKind::Rsa);
        let (cert, key) = ca.leaf(KeyKind::P256, "sip:alice@example.com");
        let known = CertCache::default().get(&cert.to_der().unwrap()).unwrap();
        let ring_key = known.p256.as_ref().expect("a P-256 key goes to ring");
        let signed: &[&[u8]] = &[b"\x31", b"\x03signed attributes"];
        let message = signed.concat();
        let digest = openssl::sha::sha256(&message);
        let made = openssl::ecdsa::EcdsaSig::sign(&digest, &key.ec_key().unwrap()).unwrap();
        let sha256 = fetched::md(&DigestAlgorithm::Sha256).unwrap();
        let mut openssl_ctx = PkeyCtx::new(&known.key).unwrap();
        openssl_ctx.verify_init().unwrap();
        openssl_ctx.set_signature_md(sha256).unwrap();
        for (what, sig, valid) in ecdsa_variants(&made.to_der().unwrap()) {
            let by_ring = ring_key.verify(&message, &sig).is_ok();
            let by_openssl = openssl_ctx.verify(&digest, &sig).unwrap_or(false);
            assert_eq!((by_ring, by_openssl), (valid, valid), "{what}");
            // Not intact is `Some(false)` or `None` (OpenSSL's error): either goes to the full
            // path.
            let fast = known.verifies(&DigestAlgorithm::Sha256, sha256, signed, &sig);
            assert_eq!(fast == Some(true), valid, "{what}");
        }
        // Another digest stays with OpenSSL.
        let sha512 = fetched::md(&DigestAlgorithm::Sha512).unwrap();
        let long = openssl::sha::sha512(&message);
        let by_512 = openssl::ecdsa::EcdsaSig::sign(&long, &key.ec_key().unwrap()).unwrap();
        let sig = by_512.to_der().unwrap();
        assert!(ring_key.verify(&message, &sig).is_err());
        assert_eq!(
            known.verifies(&DigestAlgorithm::Sha512, sha512, signed, &sig),
            Some(true)
        );
        // An RSA key has none.
        let (rsa, _) = ca.leaf(KeyKind::Rsa, "sip:bob@example.com");
        let rsa = CertCache::default().get(&rsa.to_der().unwrap()).unwrap();
        assert!(rsa.p256.is_none());
    }

    #[test]
    fn a_certificates_field_seen_before_gives_what_a_fresh_cache_gives() {
        let cache = CertCache::default();
        let (s, inter) = signer(KeyKind::Rsa);
        let (cert, key) = inter.leaf(KeyKind::Rsa, "sip:bob@example.com");
        let bob = Signer {
            cert,
            key,
            chain: vec![inter.cert.clone()],
        };
        let mut keys = Vec::new();
        for (who, body) in [
            (&s, &b"one"[..]),
            (&s, b"two"),
            (&bob, b"one"),
            (&s, b"three"),
        ] {
            let der = sign(body, who, &CmsSignOptions::default()).unwrap();
            let (fast, key) = cache.verify(&der, Some(body)).unwrap();
            let (fresh, fresh_key) = CertCache::default().verify(&der, Some(body)).unwrap();
            let replay_key = cache
                .verify_der(&Der::strict(&der).unwrap(), Some(body))
                .unwrap()
                .replay_key;
            assert_eq!(Some(replay_key), crate::crypto::signature_identity(&der));
            assert_eq!(key, fresh_key);
            assert_eq!(
                fast.signer.to_der().unwrap(),
                fresh.signer.to_der().unwrap()
            );
            assert_eq!(fast.signer.to_der().unwrap(), who.cert.to_der().unwrap());
            assert!(cache.verify(&der, Some(b"other")).is_none());
            keys.push(key);
        }
        assert_eq!(
            cache.recent.lock().unwrap().len(),
            2,
            "one field per signer's chain"
        );
        assert!(keys[0] == keys[1] && keys[1] == keys[3] && keys[0] != keys[2]);
    }

    #[test]
    fn serials_are_compared_as_der_writes_them() {
        assert_eq!(der_integer_content(&[0x01, 0x02]), [0x01, 0x02]);
        assert_eq!(der_integer_content(&[0x81]), [0x00, 0x81]);
        assert_eq!(der_integer_content(&[]), [0x00]);
    }

    /// What the cms_verify differential fuzz target found (testdata/fuzz/cms_verify/, in its
    /// framing: flags, content length, content, CMS): each time the fast path accepted what
    /// OpenSSL refuses. It must now decline, or agree.
    #[test]
    fn the_fuzzers_disagreements_stay_fixed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/fuzz/cms_verify");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let len = usize::from(u16::from_be_bytes([data[1], data[2]]));
            let content = &data[3..3 + len];
            let der = &data[3 + len..];
            let detached = (data[0] & 1 == 1).then_some(content);
            let full = crate::crypto::verify(der, detached, &Default::default());
            if let Some((fast, _)) = CertCache::default().verify(der, detached) {
                let full = full.unwrap_or_else(|e| panic!("{path:?}: OpenSSL refuses: {e}"));
                assert_eq!(fast.signer.to_der().unwrap(), full.signer.to_der().unwrap());
            }
            seen += 1;
        }
        assert_eq!(seen, 17);
    }

    #[test]
    fn the_chain_fingerprint_names_the_signer() {
        // Two signers carrying the very same certificates: a trust verdict cached for one must
        // not serve the other.
        let (a, b) = (&[0xaa; 32], &[0xbb; 32]);
        assert_ne!(fingerprint(a, [a, b]), fingerprint(b, [a, b]));
        assert_ne!(fingerprint(a, [a, b]), fingerprint(a, [b, a]));
        assert_eq!(fingerprint(a, [a, b]), fingerprint(a, [a, b]));
        // And the key the fast path returns is that fingerprint.
        let (s, _) = signer(KeyKind::Rsa);
        let der = sign(BODY, &s, &CmsSignOptions::default()).unwrap();
        let (v, key) = CertCache::default().verify(&der, Some(BODY)).unwrap();
        let digest = |c: &X509| fetched::sha256(&[&c.to_der().unwrap()]).unwrap();
        let certs: Vec<[u8; 32]> = v.certificates.iter().map(digest).collect();
        assert_eq!(Some(key), fingerprint(&digest(&v.signer), &certs));
    }

    #[test]
    fn anything_doubtful_goes_to_the_full_path() {
        let cache = CertCache::default();
        let (s, _) = signer(KeyKind::Rsa);
        let der = sign(BODY, &s, &CmsSignOptions::default()).unwrap();
        // Re-encodings of an intact signature: bytes after it, a length in more octets.
        let mut trailing = der.clone();
        trailing.extend_from_slice(&[0x05, 0x00]);
        assert!(cache.verify(&trailing, Some(BODY)).is_none(), "trailing");
        let mut long = vec![0x30, 0x83, 0x00];
        long.extend_from_slice(&der[2..]);
        assert_eq!(der[1], 0x82, "a long form to lengthen");
        assert!(
            cache.verify(&long, Some(BODY)).is_none(),
            "non-minimal length"
        );
        assert!(cache.verify(&der, Some(BODY)).is_some(), "the DER itself");
        let mut body = BODY.to_vec();
        body[3] ^= 1;
        assert!(cache.verify(&der, Some(&body)).is_none(), "changed content");
        let mut bad = der.clone();
        let n = bad.len() - 1;
        bad[n] ^= 1;
        assert!(
            cache.verify(&bad, Some(BODY)).is_none(),
            "changed signature"
        );
        assert!(
            cache.verify(&der, None).is_none(),
            "detached without content"
        );
        assert!(
            cache.verify(&der[..der.len() - 1], Some(BODY)).is_none(),
            "truncated"
        );
        let bare = sign(
            BODY,
            &s,
            &CmsSignOptions {
                include_certs: false,
                ..CmsSignOptions::default()
            },
        )
        .unwrap();
        assert!(cache.verify(&bare, Some(BODY)).is_none(), "no certificates");
        for garbage in [&b""[..], b"\x30\x80\x00\x00", b"\x30\x03\x06\x01\x00"] {
            assert!(cache.verify(garbage, Some(BODY)).is_none());
        }
        // Other encodings of the same signature: OpenSSL's path judges them (it reads BER),
        // the fast path takes DER only.
        assert_eq!(&der[..2], [0x30, 0x82]);
        let long_length = [&[0x30, 0x83, 0x00][..], &der[2..]].concat();
        assert!(
            cache.verify(&long_length, Some(BODY)).is_none(),
            "long length"
        );
        assert!(crate::crypto::verify(&long_length, Some(BODY), &Default::default()).is_ok());
        let trailing = [&der[..], &[0x00, 0x00]].concat();
        assert!(
            cache.verify(&trailing, Some(BODY)).is_none(),
            "trailing octets"
        );
        // The SignedData lists another digest algorithm than the signer's (found by the
        // cms_verify fuzz target as an emptied list): OpenSSL refuses, so must the fast path.
        let sha256 = [
            0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        ];
        let first = der.windows(sha256.len()).position(|w| w == sha256).unwrap();
        let mut relisted = der.clone();
        relisted[first + sha256.len() - 1] = 0x03; // SHA-512
        assert!(
            cache.verify(&relisted, Some(BODY)).is_none(),
            "digest not listed"
        );
        assert!(crate::crypto::verify(&relisted, Some(BODY), &Default::default()).is_err());
        // Another signer's certificate swapped in (same issuer name, other key): refused.
        let (other, _) = signer(KeyKind::Rsa);
        let good = sign(BODY, &other, &CmsSignOptions::default()).unwrap();
        let theirs = s.cert.to_der().unwrap();
        let mine = other.cert.to_der().unwrap();
        if theirs.len() == mine.len() {
            let at = good.windows(mine.len()).position(|w| w == mine).unwrap();
            let mut swapped = good.clone();
            swapped[at..at + mine.len()].copy_from_slice(&theirs);
            assert!(cache.verify(&swapped, Some(BODY)).is_none());
        }
    }
}
