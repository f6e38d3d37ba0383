//! Writes the seed corpora of the CMS differential fuzz targets (`fuzz/`):
//! `cargo run --example cms_seeds -- fuzz/corpus`.
//!
//! - `cms_verify/`: what sipsec signs in each of sipsec-sign's shapes (detached for the body,
//!   sip and aib forms, attached for cms; every digest; RSA-2048 and P-256; with and without
//!   certificates), Bouncy Castle's signatures from testdata/bc/ (DER and BER), and the RFC 6216
//!   signature; each in the target's framing (flags, content length, content, CMS).
//! - `cms_decrypt/`: what sipsec encrypts to testdata/bc/rsa.pem (every cipher, both paddings),
//!   Bouncy Castle's RSA envelopes from testdata/bc/, and the RFC 6216 envelope.
//!
//! The signing keys are the test keys of testdata/bc/; the decrypt target holds that RSA key.

use anyhow::{Context, Result};
use openssl::pkey::PKey;
use openssl::x509::X509;
use sipsec::crypto::{
    encrypt, sign, CmsEncryptOptions, CmsSignOptions, ContentCipher, DigestAlgorithm, RsaPadding,
    Signer,
};
use std::path::{Path, PathBuf};

const BC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/bc");
const RFC6216: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rfc6216");

fn read(dir: &str, name: &str) -> Result<Vec<u8>> {
    std::fs::read(Path::new(dir).join(name)).with_context(|| format!("{dir}/{name}"))
}

/// The verify target's framing: flags (bit 0: detached), content length, content, CMS.
fn framed(detached: Option<&[u8]>, der: &[u8]) -> Vec<u8> {
    let content = detached.unwrap_or_default();
    let mut v = vec![u8::from(detached.is_some())];
    v.extend_from_slice(&(content.len() as u16).to_be_bytes());
    v.extend_from_slice(content);
    v.extend_from_slice(der);
    v
}

fn main() -> Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    let (verify_dir, decrypt_dir) = (out.join("cms_verify"), out.join("cms_decrypt"));
    std::fs::create_dir_all(&verify_dir)?;
    std::fs::create_dir_all(&decrypt_dir)?;
    let content = read(BC, "content.bin")?;
    let mut written = 0;
    let mut put = |dir: &Path, name: String, bytes: Vec<u8>| -> Result<()> {
        written += 1;
        Ok(std::fs::write(dir.join(name), bytes)?)
    };

    for key in ["rsa", "p256"] {
        let signer = Signer {
            cert: X509::from_pem(&read(BC, &format!("{key}.pem"))?)?,
            key: PKey::private_key_from_pem(&read(BC, &format!("{key}.key"))?)?,
            chain: vec![X509::from_pem(&read(BC, "root.pem")?)?],
        };
        for digest in [
            DigestAlgorithm::Sha1,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
        ] {
            for detached in [true, false] {
                for include_certs in [true, false] {
                    let opts = CmsSignOptions {
                        digest: digest.clone(),
                        detached,
                        include_certs,
                        ..CmsSignOptions::default()
                    };
                    let der = sign(&content, &signer, &opts)?;
                    let name = format!(
                        "sipsec-{key}-{}-{}-{}",
                        digest.micalg(),
                        if detached { "detached" } else { "attached" },
                        if include_certs { "certs" } else { "nocerts" }
                    );
                    put(
                        &verify_dir,
                        name,
                        framed(detached.then_some(&content), &der),
                    )?;
                }
            }
        }
    }
    let recipient = X509::from_pem(&read(BC, "rsa.pem")?)?;
    for cipher in [
        ContentCipher::Aes128Cbc,
        ContentCipher::Aes256Cbc,
        ContentCipher::Aes128Gcm,
        ContentCipher::DesEde3Cbc,
    ] {
        for rsa_padding in [RsaPadding::Oaep, RsaPadding::Pkcs1v15] {
            let opts = CmsEncryptOptions {
                cipher: cipher.clone(),
                rsa_padding,
            };
            let der = encrypt(&content, std::slice::from_ref(&recipient), &opts)?;
            put(
                &decrypt_dir,
                format!("sipsec-{cipher:?}-{rsa_padding:?}"),
                der,
            )?;
        }
    }
    for entry in std::fs::read_dir(BC)? {
        let name = entry?.file_name().into_string().unwrap_or_default();
        let der = read(BC, &name)?;
        if name.starts_with("signed-") {
            let detached = name.contains("-detached").then_some(content.as_slice());
            put(&verify_dir, format!("bc-{name}"), framed(detached, &der))?;
        } else if name.starts_with("enveloped-rsa-") {
            put(&decrypt_dir, format!("bc-{name}"), der)?;
        }
    }
    // RFC 6216: the envelope is the body of smime-encrypted.dat; the detached signature and the
    // part it covers are inside smime-msg.dat's multipart/signed.
    let body_of = |msg: &[u8]| -> Result<Vec<u8>> {
        let at = find(msg, b"\r\n\r\n", 0).context("no body")?;
        Ok(msg[at + 4..].to_vec())
    };
    put(
        &decrypt_dir,
        "rfc6216-envelope".into(),
        body_of(&read(RFC6216, "smime-encrypted.dat")?)?,
    )?;
    let b = body_of(&read(RFC6216, "smime-msg.dat")?)?;
    let delim = b"--3b515e121b43a911";
    let first = find(&b, delim, 0).context("delimiter")? + delim.len() + 2;
    let second = find(&b, delim, first).context("delimiter")?;
    let sig_start = find(&b, b"\r\n\r\n", second).context("part head")? + 4;
    let sig_end = find(&b, b"\r\n--3b515e121b43a911--", sig_start).context("close")?;
    let signed = &b[first..second - 2];
    put(
        &verify_dir,
        "rfc6216-signature".into(),
        framed(Some(signed), &b[sig_start..sig_end]),
    )?;
    println!("{written} seeds under {}", out.display());
    Ok(())
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}
