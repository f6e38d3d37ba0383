//! EnvelopedData / AuthEnvelopedData: encrypting to recipient certificates and decrypting.

use openssl::cms::{CMSOptions, CmsContentInfo, CmsContentInfoRef};
use openssl::nid::Nid;
use openssl::pkey::{PKeyRef, Private};
use openssl::stack::Stack;
use openssl::x509::X509;

use super::{
    der, ffi, parse_der, CmsContentType, CmsError, ContentCipher, RecipientId, RsaPadding,
};

/// How to encrypt. Default: AES-128-CBC with RSA-OAEP key transport (RFC 8551 §2.7 MUST).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CmsEncryptOptions {
    pub cipher: ContentCipher,
    /// Used for RSA recipients; EC recipients always use ECDH key agreement.
    pub rsa_padding: RsaPadding,
}

/// A decrypted envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub content: Vec<u8>,
    /// The content-encryption algorithm the sender chose.
    pub cipher: ContentCipher,
    /// EnvelopedData or AuthEnvelopedData (the latter authenticates the content).
    pub content_type: CmsContentType,
}

pub(crate) fn type_of(cms: &CmsContentInfoRef) -> CmsContentType {
    let (nid, oid) = ffi::content_type(cms);
    match nid {
        Nid::PKCS7_SIGNED => CmsContentType::SignedData,
        Nid::PKCS7_ENVELOPED => CmsContentType::EnvelopedData,
        // id-smime-ct-authEnvelopedData has a NID in OpenSSL 3 but no constant in the crate.
        _ if oid == "1.2.840.113549.1.9.16.1.23" => CmsContentType::AuthEnvelopedData,
        _ => CmsContentType::Other(oid),
    }
}

/// The outer content type of a DER ContentInfo.
pub fn content_type(der: &[u8]) -> Result<CmsContentType, CmsError> {
    let cms = parse_der(der)?;
    Ok(type_of(&cms))
}

fn is_envelope(t: &CmsContentType) -> bool {
    matches!(
        t,
        CmsContentType::EnvelopedData | CmsContentType::AuthEnvelopedData
    )
}

/// Encrypts `content` to every certificate in `recipients` (RSA or EC keys).
pub fn encrypt(
    content: &[u8],
    recipients: &[X509],
    opts: &CmsEncryptOptions,
) -> Result<Vec<u8>, CmsError> {
    if recipients.is_empty() {
        return Err(CmsError::NoRecipients);
    }
    let cipher = opts.cipher.cipher()?;
    let none = Stack::new().map_err(CmsError::openssl("allocating a stack"))?;
    let mut cms =
        CmsContentInfo::encrypt(&none, &[], cipher, CMSOptions::BINARY | CMSOptions::PARTIAL)
            .map_err(CmsError::openssl("starting the envelope"))?;
    let oaep = opts.rsa_padding == RsaPadding::Oaep;
    ffi::add_recipients_and_finalise(&mut cms, recipients, oaep, content, CMSOptions::BINARY)
        .map_err(CmsError::openssl("encrypting to the recipients"))?;
    cms.to_der()
        .map_err(CmsError::openssl("encoding the envelope"))
}

/// Decrypts with the recipient's key and certificate. Any failure after the content type is
/// known — wrong key, not a recipient, damaged DER, bad padding, bad GCM tag — is
/// [`CmsError::DecryptFailed`] with no further detail, so the result cannot serve as an oracle.
pub fn decrypt(der: &[u8], key: &PKeyRef<Private>, cert: &X509) -> Result<Decrypted, CmsError> {
    let cms = parse_der(der).map_err(|_| CmsError::DecryptFailed)?;
    let content_type = type_of(&cms);
    if !is_envelope(&content_type) {
        return Err(CmsError::WrongContentType {
            expected: "EnvelopedData or AuthEnvelopedData",
            found: content_type,
        });
    }
    let content = cms
        .decrypt(key, cert)
        .map_err(|_| CmsError::DecryptFailed)?;
    let cipher = der::content_encryption_oid(der)
        .map(|oid| ContentCipher::from_oid(&oid))
        .unwrap_or_else(|| ContentCipher::Other(String::new()));
    Ok(Decrypted {
        content,
        cipher,
        content_type,
    })
}

/// Who an envelope is for, so the caller can pick the key from its store directly.
pub fn recipients(der: &[u8]) -> Result<Vec<RecipientId>, CmsError> {
    let cms = parse_der(der)?;
    let found = type_of(&cms);
    if !is_envelope(&found) {
        return Err(CmsError::WrongContentType {
            expected: "EnvelopedData or AuthEnvelopedData",
            found,
        });
    }
    Ok(ffi::recipient_ids(&cms)
        .into_iter()
        .map(|r| match r {
            ffi::RawRecipientId::IssuerSerial { issuer_der, serial } => {
                RecipientId::IssuerSerial { issuer_der, serial }
            }
            ffi::RawRecipientId::SubjectKeyId(k) => RecipientId::SubjectKeyId(k),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkit::{Ca, KeyKind};

    const BODY: &[u8] = b"v=0\r\no=bob 2 2 IN IP6 2001:db8::1\r\n\x00\x01binary\n";

    const CIPHERS: [ContentCipher; 5] = [
        ContentCipher::Aes128Cbc,
        ContentCipher::Aes256Cbc,
        ContentCipher::Aes128Gcm,
        ContentCipher::Aes256Gcm,
        ContentCipher::DesEde3Cbc,
    ];

    #[test]
    fn round_trip_every_cipher_padding_and_key() {
        let ca = Ca::new(KeyKind::Rsa);
        for kind in [KeyKind::Rsa, KeyKind::P256] {
            let (cert, key) = ca.leaf(kind, "sip:bob@example.net");
            for cipher in CIPHERS {
                for rsa_padding in [RsaPadding::Oaep, RsaPadding::Pkcs1v15] {
                    let opts = CmsEncryptOptions {
                        cipher: cipher.clone(),
                        rsa_padding,
                    };
                    let der = encrypt(BODY, std::slice::from_ref(&cert), &opts).unwrap();
                    let d = decrypt(&der, &key, &cert).unwrap();
                    assert_eq!(d.content, BODY);
                    assert_eq!(d.cipher, cipher);
                    let t = content_type(&der).unwrap();
                    assert_eq!(t == CmsContentType::AuthEnvelopedData, cipher.is_aead());
                    assert_eq!(d.content_type, t);
                    let ids = recipients(&der).unwrap();
                    assert_eq!(ids.len(), 1);
                    assert!(ids[0].matches(&cert));
                }
            }
        }
    }

    #[test]
    fn several_recipients_each_can_decrypt() {
        let ca = Ca::new(KeyKind::P256);
        let (c1, k1) = ca.leaf(KeyKind::P256, "sip:a@example.com");
        let (c2, k2) = ca.leaf(KeyKind::Rsa, "sip:b@example.com");
        let (c3, k3) = ca.leaf(KeyKind::Rsa, "sip:c@example.com");
        let der = encrypt(
            BODY,
            &[c1.clone(), c2.clone()],
            &CmsEncryptOptions::default(),
        )
        .unwrap();
        assert_eq!(decrypt(&der, &k1, &c1).unwrap().content, BODY);
        assert_eq!(decrypt(&der, &k2, &c2).unwrap().content, BODY);
        let ids = recipients(&der).unwrap();
        assert!(ids.iter().any(|i| i.matches(&c1)) && ids.iter().any(|i| i.matches(&c2)));
        assert!(!ids.iter().any(|i| i.matches(&c3)));
        assert!(matches!(
            decrypt(&der, &k3, &c3),
            Err(CmsError::DecryptFailed)
        ));
    }

    #[test]
    fn every_failure_is_the_same_error() {
        let ca = Ca::new(KeyKind::Rsa);
        let (cert, key) = ca.leaf(KeyKind::Rsa, "sip:bob@example.net");
        let (_, other_key) = ca.leaf(KeyKind::Rsa, "sip:eve@example.net");
        for cipher in [ContentCipher::Aes128Cbc, ContentCipher::Aes128Gcm] {
            let cbc = cipher == ContentCipher::Aes128Cbc;
            let opts = CmsEncryptOptions {
                cipher,
                ..CmsEncryptOptions::default()
            };
            let der = encrypt(BODY, std::slice::from_ref(&cert), &opts).unwrap();
            // Last byte: the GCM tag, or the last ciphertext block for CBC.
            let mut tampered = der.clone();
            let n = tampered.len() - 1;
            tampered[n] ^= 0x55;
            // A byte in the middle of the encrypted key.
            let mut corrupt = der.clone();
            corrupt[der.len() / 3] ^= 0xff;
            let outcomes = [
                // Wrong key for the right certificate.
                decrypt(&der, &other_key, &cert),
                decrypt(&tampered, &key, &cert),
                decrypt(&corrupt, &key, &cert),
                decrypt(&der[..der.len() - 20], &key, &cert),
                // Octets after the envelope, which OpenSSL's decoder alone would ignore.
                decrypt(&[&der[..], &[0, 0]].concat(), &key, &cert),
            ];
            for (case, outcome) in outcomes.into_iter().enumerate() {
                match outcome {
                    Err(e) => {
                        assert!(matches!(e, CmsError::DecryptFailed), "{e:?}");
                        assert_eq!(
                            e.to_string(),
                            "cannot decrypt: the message is not for this key, or it is damaged"
                        );
                    }
                    // RSA decryption with the wrong key yields a random content key (implicit
                    // rejection), and CBC then finds valid padding about once in 256 tries:
                    // unauthenticated CBC can only return garbage. GCM must always refuse.
                    Ok(plain) => assert!(
                        cbc && plain.content != BODY,
                        "case {case} (CBC: {cbc}): a damaged envelope decrypted"
                    ),
                }
            }
        }
    }

    #[test]
    fn no_recipients_and_wrong_types_are_refused() {
        assert!(matches!(
            encrypt(BODY, &[], &CmsEncryptOptions::default()),
            Err(CmsError::NoRecipients)
        ));
        let ca = Ca::new(KeyKind::Rsa);
        let (cert, key) = ca.leaf(KeyKind::Rsa, "sip:bob@example.net");
        let s = crate::crypto::Signer {
            cert: cert.clone(),
            key: key.clone(),
            chain: vec![],
        };
        let signed = crate::crypto::sign(BODY, &s, &Default::default()).unwrap();
        assert_eq!(content_type(&signed).unwrap(), CmsContentType::SignedData);
        assert!(matches!(
            decrypt(&signed, &key, &cert),
            Err(CmsError::WrongContentType { .. })
        ));
        assert!(matches!(
            recipients(&signed),
            Err(CmsError::WrongContentType { .. })
        ));
        assert!(matches!(
            content_type(b"\x30\x00"),
            Err(CmsError::BadDer(_))
        ));
        let mut longer = signed.clone();
        longer.push(0);
        assert!(matches!(content_type(&longer), Err(CmsError::BadDer(_))));
        assert!(matches!(recipients(&longer), Err(CmsError::BadDer(_))));
    }
}
