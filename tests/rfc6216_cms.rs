//! Real-world interop: the RFC 6216 Appendix C messages (SHA-1, no certificates in the CMS,
//! AES-128-CBC, RSA PKCS#1 v1.5), as restored in testdata/rfc6216/.

mod common;

use common::find;
use openssl::pkey::PKey;
use openssl::x509::X509;
use sipsec::crypto::{
    check_trust, decrypt, recipients, verify, CmsContentType, CmsError, ContentCipher,
    DigestAlgorithm, TrustContext, VerifyContext,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rfc6216/");

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{name}")).unwrap()
}

fn cert(name: &str) -> X509 {
    X509::from_pem(&read(name)).unwrap()
}

/// The bytes after the first empty line (the SIP body).
fn body(msg: &[u8]) -> &[u8] {
    let at = find(msg, b"\r\n\r\n", 0).unwrap();
    &msg[at + 4..]
}

#[test]
fn decrypts_the_rfc6216_envelope_with_kumikos_key() {
    let msg = read("smime-encrypted.dat");
    let der = body(&msg);
    let kumiko = cert("05-eku-cert-kumiko-s-user-certificate-for-example-net.pem");
    let key = PKey::private_key_from_pem(&read(
        "06-eku-key-kumiko-s-private-key-for-user-certificate-for-example-net.pem",
    ))
    .unwrap();
    let ids = recipients(der).unwrap();
    assert!(ids.iter().any(|i| i.matches(&kumiko)));
    let d = decrypt(der, &key, &kumiko).unwrap();
    assert_eq!(d.cipher, ContentCipher::Aes128Cbc);
    assert_eq!(d.content_type, CmsContentType::EnvelopedData);
    assert!(find(&d.content, b"Hello!", 0).is_some(), "{:?}", d.content);
    // Fluffy's certificate is not a recipient: no key of his opens it.
    let fluffy = cert("03-eku-cert-fluffy-s-user-certificate-for-example-com.pem");
    assert!(!ids.iter().any(|i| i.matches(&fluffy)));
}

#[test]
fn verifies_the_rfc6216_detached_signature_with_fluffys_certificate() {
    let msg = read("smime-msg.dat");
    let b = body(&msg);
    let delim = b"--3b515e121b43a911";
    let first = find(b, delim, 0).unwrap() + delim.len() + 2;
    let second = find(b, delim, first).unwrap();
    // The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    let signed = &b[first..second - 2];
    let sig_start = find(b, b"\r\n\r\n", second).unwrap() + 4;
    let sig_end = find(b, b"\r\n--3b515e121b43a911--", sig_start).unwrap();
    let sig = &b[sig_start..sig_end];

    assert!(matches!(
        verify(sig, Some(signed), &VerifyContext::default()),
        Err(CmsError::SignerNotFound)
    ));
    let fluffy = cert("03-eku-cert-fluffy-s-user-certificate-for-example-com.pem");
    let ctx = VerifyContext {
        extra_certs: vec![fluffy.clone()],
    };
    let v = verify(sig, Some(signed), &ctx).unwrap();
    assert_eq!(v.digest, DigestAlgorithm::Sha1);
    assert_eq!(v.signer.to_der().unwrap(), fluffy.to_der().unwrap());
    let trust = TrustContext {
        anchors: vec![cert("02-cert-sipit-test-ca.pem")],
        ..TrustContext::default()
    };
    let verdict = check_trust(&v.signer, &[], &trust).unwrap();
    assert!(verdict.is_trusted(), "{verdict}");

    let mut tampered = signed.to_vec();
    let n = tampered.len() - 3;
    tampered[n] ^= 1;
    assert!(matches!(
        verify(sig, Some(&tampered), &ctx),
        Err(CmsError::IntegrityFailed(_))
    ));
}
