//! A fast path for the common envelope: EnvelopedData, key transport to an RSA key with
//! RSAES-OAEP (default parameters), AES-CBC content, DER. It skips two CMS decodings and the
//! per-call algorithm lookups of `CMS_decrypt`. Anything else returns [`Route::Full`] *before*
//! any private-key operation, so the caller runs [`crate::crypto::decrypt`]; once the key is
//! used, every failure is [`Route::Failed`], whatever went wrong (no oracle, no second try).

use super::check_der;
use super::der::{element, elements, expect};
use crate::crypto::{ContentCipher, RecipientId};
use openssl::pkey::Private;
use openssl::rsa::{Padding, Rsa};
use openssl::symm::{decrypt, Cipher};
use openssl::x509::X509Name;

const OID_ENVELOPED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03];
const OID_RSAES_OAEP: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x07];
const OID_AES_PREFIX: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01];

/// An RSA identity the fast path can decrypt for.
pub struct RsaRecipient {
    pub issuer: Vec<u8>,
    pub serial: Vec<u8>,
    pub key: Rsa<Private>,
}

/// What the fast path did.
pub enum Route {
    /// Decrypted: the content, the cipher, which recipient (index into the list), and every
    /// recipient the envelope names.
    Opened(Vec<u8>, ContentCipher, usize, Vec<RecipientId>),
    /// Not the common case: use the full CMS path.
    Full,
    /// The key was used and something failed.
    Failed,
}

fn cipher_of(oid: &[u8]) -> Option<(Cipher, ContentCipher)> {
    let last = *oid.strip_prefix(OID_AES_PREFIX)?.first()?;
    if oid.len() != OID_AES_PREFIX.len() + 1 {
        return None;
    }
    Some(match last {
        2 => (Cipher::aes_128_cbc(), ContentCipher::Aes128Cbc),
        22 => (Cipher::aes_192_cbc(), ContentCipher::Aes192Cbc),
        42 => (Cipher::aes_256_cbc(), ContentCipher::Aes256Cbc),
        _ => return None,
    })
}

/// Tries the fast path for `der` with the RSA identities in `recipients`.
pub fn open(der: &[u8], recipients: &[RsaRecipient]) -> Route {
    route(der, recipients).unwrap_or(Route::Full)
}

fn route(der: &[u8], recipients: &[RsaRecipient]) -> Option<Route> {
    // DER only, judged before the key is used: other encodings are OpenSSL's.
    check_der(der).ok()?;
    let (ci, rest) = element(der)?;
    if ci.tag != 0x30 || !rest.is_empty() {
        return None;
    }
    // Every structure exactly as RFC 5652 has it: an element more or less is OpenSSL's to
    // judge (its decoder refuses what the fuzzer added after the known fields).
    let ci = elements(ci.content)?;
    if ci.len() != 2 || expect(ci.first(), 0x06)?.content != OID_ENVELOPED_DATA {
        return None;
    }
    let [ed] = &elements(expect(ci.get(1), 0xa0)?.content)?[..] else {
        return None;
    };
    let ed = elements(expect(Some(ed), 0x30)?.content)?;
    // CMSVersion 0 or 2 for EnvelopedData, 0 for key transport to issuer and serial.
    if !matches!(expect(ed.first(), 0x02)?.content, [0] | [2]) {
        return None;
    }
    // version, [0] originatorInfo (not handled here), recipientInfos, encryptedContentInfo
    let infos = elements(expect(ed.get(1), 0x31)?.content)?;
    let eci = elements(expect(ed.get(2), 0x30)?.content)?;
    expect(eci.first(), 0x06)?;
    let alg = elements(expect(eci.get(1), 0x30)?.content)?;
    let (cipher, which) = cipher_of(expect(alg.first(), 0x06)?.content)?;
    let iv = expect(alg.get(1), 0x04)?.content;
    let ciphertext = expect(eci.get(2), 0x80)?.content;
    if iv.len() != 16 || ed.len() != 3 || eci.len() != 3 || alg.len() != 2 {
        return None;
    }
    // Only key transport to issuer and serial (a SEQUENCE in a SEQUENCE): anything else is
    // for the full path.
    let mut named = Vec::new();
    let mut chosen = None;
    for info in &infos {
        let ktri = elements(expect(Some(info), 0x30)?.content)?;
        let rid = elements(expect(ktri.get(1), 0x30)?.content)?;
        if ktri.len() != 4 || rid.len() != 2 || expect(ktri.first(), 0x02)?.content != [0] {
            return None;
        }
        // OpenSSL decodes every RecipientInfo, not only the one for its key: each must be
        // one it reads (an AlgorithmIdentifier, an OCTET STRING, an issuer Name it decodes;
        // names equal to one of ours are valid as they are).
        let kea = elements(expect(ktri.get(2), 0x30)?.content)?;
        expect(kea.first(), 0x06)?;
        expect(ktri.get(3), 0x04)?;
        if kea.len() > 2 {
            return None;
        }
        let issuer = expect(rid.first(), 0x30)?.whole;
        if !recipients.iter().any(|r| r.issuer == issuer) {
            X509Name::from_der(issuer).ok()?;
        }
        let serial = expect(rid.get(1), 0x02)?.content;
        let serial = &serial[serial.iter().position(|&b| b != 0).unwrap_or(serial.len())..];
        named.push(RecipientId::IssuerSerial {
            issuer_der: issuer.to_vec(),
            serial: serial.to_vec(),
        });
        if chosen.is_none() {
            chosen = recipients
                .iter()
                .position(|r| r.issuer == issuer && r.serial == serial)
                .map(|at| (at, ktri));
        }
    }
    if let Some((at, ktri)) = chosen {
        let kea = elements(expect(ktri.get(2), 0x30)?.content)?;
        // RSAES-OAEP-params are present, empty for the defaults (RFC 4055 §4.1); OpenSSL
        // refuses the key transport when they are absent.
        let default_params = kea
            .get(1)
            .is_some_and(|p| p.tag == 0x30 && p.content.is_empty());
        if expect(kea.first(), 0x06)?.content != OID_RSAES_OAEP || !default_params {
            return None;
        }
        let wrapped = expect(ktri.get(3), 0x04)?.content;
        let key = &recipients[at].key;
        let mut cek = vec![0u8; key.size() as usize];
        let opened = key
            .private_decrypt(wrapped, &mut cek, Padding::PKCS1_OAEP)
            .ok()
            .filter(|&n| n == cipher.key_len())
            .and_then(|n| decrypt(cipher, &cek[..n], Some(iv), ciphertext).ok());
        return Some(match opened {
            Some(content) => Route::Opened(content, which, at, named),
            None => Route::Failed,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkit::{Ca, KeyKind};
    use crate::crypto::{encrypt, CmsEncryptOptions, RsaPadding};

    const BODY: &[u8] = b"Content-Type: application/sdp\r\n\r\nv=0\r\n\x00\xff";

    fn recipient() -> (openssl::x509::X509, RsaRecipient) {
        let (cert, key) = Ca::new(KeyKind::Rsa).leaf(KeyKind::Rsa, "sip:bob@example.com");
        let r = RsaRecipient {
            issuer: cert.issuer_name().to_der().unwrap(),
            serial: cert.serial_number().to_bn().unwrap().to_vec(),
            key: key.rsa().unwrap(),
        };
        (cert, r)
    }

    fn env(cert: &openssl::x509::X509, cipher: ContentCipher, rsa_padding: RsaPadding) -> Vec<u8> {
        let opts = CmsEncryptOptions {
            cipher,
            rsa_padding,
        };
        encrypt(BODY, std::slice::from_ref(cert), &opts).unwrap()
    }

    #[test]
    fn the_common_envelope_opens_and_agrees_with_the_full_path() {
        let (cert, r) = recipient();
        for cipher in [ContentCipher::Aes128Cbc, ContentCipher::Aes256Cbc] {
            let der = env(&cert, cipher.clone(), RsaPadding::Oaep);
            match open(&der, std::slice::from_ref(&r)) {
                Route::Opened(content, c, 0, ids) => {
                    assert_eq!(content, BODY);
                    assert_eq!(c, cipher);
                    assert_eq!(ids.len(), 1);
                    assert!(ids[0].matches(&cert));
                }
                _ => panic!("not opened"),
            }
        }
    }

    /// What the cms_decrypt differential fuzz target found (testdata/fuzz/cms_decrypt/, for the
    /// test key testdata/bc/rsa.key): the fast path opened envelopes OpenSSL refuses. It must
    /// now decline, fail, or agree.
    #[test]
    fn the_fuzzers_disagreements_stay_fixed() {
        let base = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/");
        let read = |name: &str| std::fs::read(format!("{base}{name}")).unwrap();
        let cert = openssl::x509::X509::from_pem(&read("bc/rsa.pem")).unwrap();
        let key = openssl::pkey::PKey::private_key_from_pem(&read("bc/rsa.key")).unwrap();
        let r = RsaRecipient {
            issuer: cert.issuer_name().to_der().unwrap(),
            serial: cert.serial_number().to_bn().unwrap().to_vec(),
            key: key.rsa().unwrap(),
        };
        let mut seen = 0;
        for entry in std::fs::read_dir(format!("{base}fuzz/cms_decrypt")).unwrap() {
            let path = entry.unwrap().path();
            let der = std::fs::read(&path).unwrap();
            if let Route::Opened(content, _, _, _) = open(&der, std::slice::from_ref(&r)) {
                let full = crate::crypto::decrypt(&der, &key, &cert)
                    .unwrap_or_else(|e| panic!("{path:?}: OpenSSL refuses: {e}"));
                assert_eq!(content, full.content);
            }
            seen += 1;
        }
        assert_eq!(seen, 17);
    }

    #[test]
    fn other_envelopes_take_the_full_path_and_damage_fails() {
        let (cert, r) = recipient();
        let rs = std::slice::from_ref(&r);
        let v15 = env(&cert, ContentCipher::Aes128Cbc, RsaPadding::Pkcs1v15);
        assert!(matches!(open(&v15, rs), Route::Full));
        let gcm = env(&cert, ContentCipher::Aes128Gcm, RsaPadding::Oaep);
        assert!(matches!(open(&gcm, rs), Route::Full));
        let des = env(&cert, ContentCipher::DesEde3Cbc, RsaPadding::Oaep);
        assert!(matches!(open(&des, rs), Route::Full));
        let (other, _) = recipient();
        let not_ours = env(&other, ContentCipher::Aes128Cbc, RsaPadding::Oaep);
        assert!(matches!(open(&not_ours, rs), Route::Full));
        assert!(matches!(open(b"\x30\x00", rs), Route::Full));
        // Another encoding of a common envelope (a long length, octets after it): OpenSSL's.
        let common = env(&cert, ContentCipher::Aes128Cbc, RsaPadding::Oaep);
        assert_eq!(&common[..2], [0x30, 0x82]);
        let long_length = [&[0x30, 0x83, 0x00][..], &common[2..]].concat();
        assert!(matches!(open(&long_length, rs), Route::Full));
        assert!(matches!(
            open(&[&common[..], &[0]].concat(), rs),
            Route::Full
        ));
        // Once the key is used, damage is a failure, never a retry on the full path. (The
        // wrapped key is the 256-byte OCTET STRING; a changed byte breaks OAEP for certain,
        // unlike a changed content byte, whose CBC padding may come out valid by chance.)
        let mut bad_key = env(&cert, ContentCipher::Aes128Cbc, RsaPadding::Oaep);
        let at = bad_key
            .windows(4)
            .position(|w| w == [0x04, 0x82, 0x01, 0x00])
            .unwrap();
        bad_key[at + 100] ^= 0x5a;
        assert!(matches!(open(&bad_key, rs), Route::Failed));
    }
}
