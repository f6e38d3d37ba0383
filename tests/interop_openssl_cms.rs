//! Interop of the CMS layer with the `openssl cms` command, both ways.

mod common;

use std::path::PathBuf;

use common::testkit::{Ca, KeyKind};
use common::{openssl_cli, run, write, write_cert, write_key};
use sipsec::crypto::{
    check_trust, decrypt, encrypt, sign, verify, CmsContentType, CmsEncryptOptions, CmsError,
    CmsSignOptions, ContentCipher, DigestAlgorithm, RsaPadding, Signer, TrustContext,
    VerifyContext,
};

/// A 600-byte-ish SDP body with bare LFs and a NUL: canonicalisation would break it.
fn body() -> Vec<u8> {
    let mut b = b"v=0\r\no=alice 2890844526 2890844526 IN IP4 198.51.100.1\r\ns=-\r\n".to_vec();
    b.extend_from_slice(b"c=IN IP4 198.51.100.1\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n\x00\xff");
    b
}

/// The CLI, a scratch directory, and the body written to `body` in it.
struct Peer {
    cli: PathBuf,
    dir: tempfile::TempDir,
    body: Vec<u8>,
    content: String,
}

fn peer() -> Option<Peer> {
    let cli = openssl_cli()?;
    let dir = tempfile::tempdir().unwrap();
    let body = body();
    let content = write(dir.path(), "body", &body);
    Some(Peer {
        cli,
        dir,
        body,
        content,
    })
}

impl Peer {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }
}

#[test]
fn our_signatures_verify_with_the_cli() {
    let Some(p) = peer() else { return };
    let (cli, d, body, content) = (&p.cli, p.dir.path(), p.body.as_slice(), &p.content);
    for kind in [KeyKind::Rsa, KeyKind::P256] {
        let root = Ca::new(KeyKind::Rsa);
        let inter = root.sub_ca(kind);
        let (cert, key) = inter.leaf(kind, "sip:alice@example.com");
        let ca = write_cert(d, "ca.pem", &root.cert);
        let signer = Signer {
            cert,
            key,
            chain: vec![inter.cert.clone()],
        };
        for detached in [true, false] {
            let opts = CmsSignOptions {
                digest: DigestAlgorithm::Sha384,
                detached,
                ..CmsSignOptions::default()
            };
            let sig = write(d, "sig.der", &sign(body, &signer, &opts).unwrap());
            let out = p.path("out");
            let mut args = vec!["cms", "-verify", "-binary", "-inform", "DER", "-in", &sig];
            args.extend(["-CAfile", &ca, "-out", &out]);
            if detached {
                args.extend(["-content", content]);
            }
            let (ok, text) = run(cli, &args);
            assert!(ok, "{kind:?} detached={detached}: {text}");
            assert!(text.contains("Verification successful"), "{text}");
            assert_eq!(std::fs::read(&out).unwrap(), body);
            if detached {
                // The CLI refuses the same signature over a changed body.
                let mut changed = body.to_vec();
                changed[0] ^= 1;
                let other = write(d, "changed", &changed);
                let mut args = vec!["cms", "-verify", "-binary", "-inform", "DER", "-in", &sig];
                args.extend(["-CAfile", &ca, "-content", &other, "-out", &out]);
                assert!(!run(cli, &args).0);
            }
        }
    }
}

#[test]
fn cli_signatures_verify_with_us() {
    let Some(p) = peer() else { return };
    let (cli, d, body, content) = (&p.cli, p.dir.path(), p.body.as_slice(), &p.content);
    for kind in [KeyKind::Rsa, KeyKind::P256] {
        let ca = Ca::new(kind);
        let (cert, key) = ca.leaf(kind, "sip:bob@example.net");
        let c = write_cert(d, "leaf.pem", &cert);
        let k = write_key(d, "leaf.key", &key);
        for (md, digest) in [
            ("sha1", DigestAlgorithm::Sha1),
            ("sha256", DigestAlgorithm::Sha256),
        ] {
            for nocerts in [false, true] {
                for attached in [false, true] {
                    let sig = p.path("sig.der");
                    let mut args = vec!["cms", "-sign", "-binary", "-in", &content];
                    args.extend(["-signer", &c, "-inkey", &k, "-md", md]);
                    args.extend(["-outform", "DER", "-out", &sig]);
                    if nocerts {
                        args.push("-nocerts");
                    }
                    if attached {
                        args.push("-nodetach");
                    }
                    let (ok, text) = run(cli, &args);
                    assert!(ok, "{text}");
                    let der = std::fs::read(&sig).unwrap();
                    let detached = (!attached).then_some(body);
                    let what = format!("{kind:?} {md} nocerts={nocerts} attached={attached}");
                    if nocerts {
                        let r = verify(&der, detached, &VerifyContext::default());
                        assert!(matches!(r, Err(CmsError::SignerNotFound)), "{what}");
                    }
                    let ctx = VerifyContext {
                        extra_certs: if nocerts { vec![cert.clone()] } else { vec![] },
                    };
                    let v = verify(&der, detached, &ctx).unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(v.digest, digest, "{what}");
                    assert_eq!(v.signer.to_der().unwrap(), cert.to_der().unwrap());
                    assert_eq!(v.content.as_deref(), attached.then_some(body));
                    let trust = TrustContext {
                        anchors: vec![ca.cert.clone()],
                        ..TrustContext::default()
                    };
                    let verdict = check_trust(&v.signer, &v.certificates, &trust).unwrap();
                    assert!(verdict.is_trusted(), "{what}: {verdict}");
                    // Tampered: the CLI's signature over our changed body is refused.
                    if !attached {
                        let mut changed = body.to_vec();
                        changed[10] ^= 0x20;
                        let r = verify(&der, Some(&changed), &ctx);
                        assert!(matches!(r, Err(CmsError::IntegrityFailed(_))), "{what}");
                    }
                }
            }
        }
    }
}

#[test]
fn our_envelopes_decrypt_with_the_cli() {
    let Some(p) = peer() else { return };
    let (cli, d, body) = (&p.cli, p.dir.path(), p.body.as_slice());
    let ca = Ca::new(KeyKind::Rsa);
    let ciphers = [
        ContentCipher::Aes128Cbc,
        ContentCipher::Aes256Cbc,
        ContentCipher::Aes128Gcm,
        ContentCipher::Aes256Gcm,
        ContentCipher::DesEde3Cbc,
    ];
    for kind in [KeyKind::Rsa, KeyKind::P256] {
        let (cert, key) = ca.leaf(kind, "sip:bob@example.net");
        let c = write_cert(d, "leaf.pem", &cert);
        let k = write_key(d, "leaf.key", &key);
        for cipher in ciphers.clone() {
            for padding in [RsaPadding::Oaep, RsaPadding::Pkcs1v15] {
                let opts = CmsEncryptOptions {
                    cipher: cipher.clone(),
                    rsa_padding: padding,
                };
                let der = encrypt(body, std::slice::from_ref(&cert), &opts).unwrap();
                let env = write(d, "env.der", &der);
                let out = p.path("out");
                let args = [
                    "cms", "-decrypt", "-binary", "-inform", "DER", "-in", &env, "-inkey", &k,
                    "-recip", &c, "-out", &out,
                ];
                let (ok, text) = run(cli, &args);
                let what = format!("{kind:?} {cipher:?} {padding:?}");
                assert!(ok, "{what}: {text}");
                assert_eq!(std::fs::read(&out).unwrap(), body, "{what}");
                // The key transport really is what we asked for.
                let (ok, printed) = run(
                    cli,
                    &["cms", "-cmsout", "-print", "-inform", "DER", "-in", &env],
                );
                assert!(ok);
                if kind == KeyKind::Rsa {
                    let oaep = printed.contains("rsaesOaep");
                    assert_eq!(oaep, padding == RsaPadding::Oaep, "{what}");
                }
            }
        }
    }
}

#[test]
fn cli_envelopes_decrypt_with_us() {
    let Some(p) = peer() else { return };
    let (cli, d, body, content) = (&p.cli, p.dir.path(), p.body.as_slice(), &p.content);
    let ca = Ca::new(KeyKind::P256);
    let cases: [(KeyKind, &[&str], ContentCipher); 6] = [
        (KeyKind::Rsa, &["-aes128"], ContentCipher::Aes128Cbc),
        (KeyKind::Rsa, &["-aes256"], ContentCipher::Aes256Cbc),
        (KeyKind::Rsa, &["-aes-128-gcm"], ContentCipher::Aes128Gcm),
        (KeyKind::Rsa, &["-des3"], ContentCipher::DesEde3Cbc),
        (
            KeyKind::Rsa,
            &["-aes128", "-keyopt", "rsa_padding_mode:oaep"],
            ContentCipher::Aes128Cbc,
        ),
        (KeyKind::P256, &["-aes-256-gcm"], ContentCipher::Aes256Gcm),
    ];
    for (kind, opts, cipher) in cases {
        let (cert, key) = ca.leaf(kind, "sip:carol@example.org");
        let c = write_cert(d, "leaf.pem", &cert);
        let env = p.path("env.der");
        let mut args = vec!["cms", "-encrypt", "-binary", "-in", &content];
        args.extend(["-outform", "DER", "-out", &env]);
        // -keyopt applies to the -recip before it.
        args.extend(["-recip", &c]);
        args.extend(opts);
        let (ok, text) = run(cli, &args);
        assert!(ok, "{opts:?}: {text}");
        let der = std::fs::read(&env).unwrap();
        let got = decrypt(&der, &key, &cert).unwrap_or_else(|e| panic!("{opts:?}: {e}"));
        assert_eq!(got.content, body, "{opts:?}");
        assert_eq!(got.cipher, cipher, "{opts:?}");
        let aead = cipher.is_aead();
        assert_eq!(got.content_type == CmsContentType::AuthEnvelopedData, aead);
        // Someone else's key gets the one opaque error.
        let (other_cert, other_key) = ca.leaf(kind, "sip:eve@example.org");
        assert!(matches!(
            decrypt(&der, &other_key, &other_cert),
            Err(CmsError::DecryptFailed)
        ));
    }
}
