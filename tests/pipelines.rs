//! Round trips through every pipeline order of the four tools, for a request and a response:
//! sign | verify, encrypt | decrypt, sign | encrypt | decrypt | verify (RFC 8591 order) and
//! encrypt | sign | verify | decrypt (RFC 3261 §23.4.3 order), each giving back the original
//! body and Content-Type byte for byte, with every check of verify passed.

mod common;
mod unwrapkit;

use std::path::{Path, PathBuf};
use unwrapkit::{certgen, tool};

const SIGN: &str = env!("CARGO_BIN_EXE_sipsec-sign");
const ENCRYPT: &str = env!("CARGO_BIN_EXE_sipsec-encrypt");
const DECRYPT: &str = env!("CARGO_BIN_EXE_sipsec-decrypt");
const VERIFY: &str = env!("CARGO_BIN_EXE_sipsec-verify");
// Binary-safe: a NUL, a lone LF and bytes above 0x7f, as an SDP with a key line.
const BODY: &[u8] = b"v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 49170 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\nx=\x00\xff\n";

fn store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    certgen(
        &store,
        &[
            &["init-ca", "--issuing"],
            &["issue", "sip:alice@example.com"],
            &["issue", "sip:bob@example.net"],
        ],
    );
    (dir, store)
}

fn message(request: bool) -> Vec<u8> {
    let start = if request {
        "INVITE sip:bob@example.net SIP/2.0"
    } else {
        "SIP/2.0 200 OK"
    };
    let mut m = format!(
        "{start}\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK776\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=1928\r\nTo: <sip:bob@example.net>{}\r\n\
         Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContact: <sip:x@192.0.2.1>\r\n\
         Subject: lunch\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
        if request { "" } else { ";tag=314" },
        BODY.len()
    )
    .into_bytes();
    m.extend_from_slice(BODY);
    m
}

/// Runs one tool as a filter; it must succeed.
fn run(bin: &str, store: &Path, args: &[&str], input: &[u8]) -> Vec<u8> {
    tool(bin, store, args, input).passed()
}

fn body_and_type(msg: &[u8]) -> (Vec<u8>, String) {
    let m = sipsec::Message::parse(msg.to_vec()).unwrap();
    let ct =
        String::from_utf8_lossy(m.value(sipsec::HeaderKind::ContentType).unwrap()).into_owned();
    (m.body().to_vec(), ct)
}

fn sign_args(form: &str) -> Vec<&str> {
    vec!["--form", form, "--trust-from-header", "--select", "all"]
}

const VERIFY_ARGS: &[&str] = &["--require", "identity", "--unwrap"];

fn assert_original(out: &[u8], what: &str) {
    let (body, ct) = body_and_type(out);
    assert_eq!(body, BODY, "{what}");
    assert_eq!(ct, "application/sdp", "{what}");
}

/// Only the sip form covers all the mark rests on (From or To, Call-ID, CSeq, Date, body):
/// the others pass with their verdict and without the mark.
fn assert_marked_as(out: &[u8], form: &str, request: bool, what: &str) {
    let text = String::from_utf8_lossy(out);
    assert!(
        text.contains("Sipsec-Verdict: signed=yes"),
        "{what}: {text}"
    );
    let who = if request {
        "alice@example.com"
    } else {
        "bob@example.net"
    };
    let mark = format!("Subject: validated <sip:{who}>\r\n");
    assert_eq!(text.contains(&mark), form == "sip", "{what}: {text}");
}

#[test]
fn sign_then_verify_every_form() {
    let (_d, s) = store();
    for request in [true, false] {
        for form in ["body", "sip", "aib", "cms"] {
            let what = format!("{form} request={request}");
            let signed = run(SIGN, &s, &sign_args(form), &message(request));
            assert_ne!(signed, message(request), "{what}: not signed");
            let out = run(VERIFY, &s, VERIFY_ARGS, &signed);
            assert_original(&out, &what);
            assert_marked_as(&out, form, request, &what);
        }
    }
}

#[test]
fn encrypt_then_decrypt_both_forms() {
    let (_d, s) = store();
    for request in [true, false] {
        for form in ["body", "sip"] {
            let what = format!("{form} request={request}");
            let sealed = run(ENCRYPT, &s, &["--form", form], &message(request));
            assert!(
                sipsec::Message::parse(sealed.clone())
                    .unwrap()
                    .value(sipsec::HeaderKind::ContentType)
                    .unwrap()
                    .starts_with(b"application/pkcs7-mime"),
                "{what}"
            );
            // Verify before decrypt: not signed (as far as it can see), and says why.
            let seen = String::from_utf8_lossy(&run(VERIFY, &s, &[], &sealed)).into_owned();
            assert!(
                seen.contains("Sipsec-Verdict: signed=no;encrypted=yes\r\n"),
                "{what}"
            );
            let out = run(DECRYPT, &s, &["--fail-closed"], &sealed);
            assert_original(&out, &what);
            assert!(
                String::from_utf8_lossy(&out).contains("Subject: lunch\r\n"),
                "{what}"
            );
        }
    }
}

#[test]
fn sign_encrypt_decrypt_verify() {
    let (_d, s) = store();
    for request in [true, false] {
        for (sform, eform) in [
            ("body", "body"),
            ("sip", "body"),
            ("aib", "sip"),
            ("cms", "body"),
        ] {
            let what = format!("sign {sform} | encrypt {eform}, request={request}");
            let signed = run(SIGN, &s, &sign_args(sform), &message(request));
            let sealed = run(ENCRYPT, &s, &["--form", eform, "--select", "all"], &signed);
            let opened = run(DECRYPT, &s, &["--fail-closed"], &sealed);
            let out = run(VERIFY, &s, VERIFY_ARGS, &opened);
            assert_original(&out, &what);
            assert_marked_as(&out, sform, request, &what);
        }
    }
}

#[test]
fn encrypt_sign_verify_decrypt() {
    let (_d, s) = store();
    for request in [true, false] {
        for sform in ["body", "cms", "sip"] {
            let what = format!("encrypt | sign {sform}, request={request}");
            let sealed = run(ENCRYPT, &s, &["--form", "body"], &message(request));
            let signed = run(SIGN, &s, &sign_args(sform), &sealed);
            // decrypt first leaves the signature around the envelope for verify.
            let untouched = run(DECRYPT, &s, &["--fail-closed"], &signed);
            assert_eq!(untouched, signed, "{what}");
            // The verifier's verdict passes decrypt when the run's control header vouches.
            let key = _d.path().join(format!("{sform}-{request}.key"));
            let key = key.to_str().unwrap();
            let keyed: Vec<&str> =
                [VERIFY_ARGS, &["--control-key", key, "--keep-control"]].concat();
            let verified = run(VERIFY, &s, &keyed, &untouched);
            let out = run(
                DECRYPT,
                &s,
                &["--fail-closed", "--control-key", key],
                &verified,
            );
            assert_original(&out, &what);
            assert_marked_as(&out, sform, request, &what);
        }
    }
}

/// As the other SIP S/MIME stack signs: no certificates and no signed attributes (made here by
/// `openssl cms -sign -nocerts -noattr` with the store's key of alice), verified against alice's
/// certificate in the store and chained through the store's intermediate.
#[test]
fn a_signature_without_certificates_or_attributes_verifies_against_the_store() {
    let Some(openssl) = common::openssl_cli() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    certgen(
        &store,
        &[
            &["init-ca"],
            &["init-intermediate", "--domain", "example.com"],
            &["issue", "sip:alice@example.com"],
        ],
    );
    let identity = store.join("identities").join("alice@example.com");
    let part = b"Content-Type: application/sdp\r\n\r\n";
    let part = [&part[..], BODY].concat();
    let content = common::write(dir.path(), "part", &part);
    let sig = dir.path().join("sig.der");
    let (cert, key) = (identity.join("cert.pem"), identity.join("key.pem"));
    let args = [
        "cms",
        "-sign",
        "-binary",
        "-nocerts",
        "-noattr",
        "-md",
        "sha256",
        "-outform",
        "DER",
        "-in",
        &content,
        "-signer",
        cert.to_str().unwrap(),
        "-inkey",
        key.to_str().unwrap(),
        "-out",
        sig.to_str().unwrap(),
    ];
    let (ok, text) = common::run(&openssl, &args);
    assert!(ok, "{text}");
    let der = std::fs::read(&sig).unwrap();
    let boundary = "b0undary7";
    let mut body = format!("--{boundary}\r\n").into_bytes();
    body.extend_from_slice(&part);
    body.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Type: application/pkcs7-signature;name=smime.p7s\r\n\
             Content-Disposition: attachment;handling=required;filename=smime.p7s\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&der);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = message(true);
    let head = String::from_utf8_lossy(&request);
    let head = &head[..head.find("Content-Type:").unwrap()];
    let ct = format!(
        "multipart/signed;protocol=\"application/pkcs7-signature\";micalg=sha-256;boundary={boundary}"
    );
    let signed = unwrapkit::with_body(head, &ct, &body);
    let o = tool(VERIFY, &store, &["--require", "trusted"], &signed);
    let v = o.verdict();
    assert_eq!(v["integrity"]["result"], "pass", "{v}");
    assert_eq!(
        v["integrity"]["signer_certificate"], "store (by AOR)",
        "{v}"
    );
    assert_eq!(v["trust"]["result"], "pass", "{v}");
    assert_eq!(v["trust"]["chain_length"], 3, "{v}");
    assert_eq!(o.code, 0, "{}", o.stderr);
}

/// A signature that carries no certificate (RFC 3261 §23 allows it; sipsec-sign --no-certs
/// makes one) is verified against the signer's certificate in the store, and its chain is built
/// through the store's issuing intermediate, which the signature does not carry either.
#[test]
fn a_signature_without_certificates_chains_through_the_stores_intermediate() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    certgen(
        &store,
        &[
            &["init-ca"],
            &["init-intermediate", "--domain", "example.com"],
            &["issue", "sip:alice@example.com"],
        ],
    );
    for form in ["body", "sip"] {
        let args = ["--trust-from-header", "--form", form, "--no-certs"];
        let signed = run(SIGN, &store, &args, &message(true));
        let o = tool(VERIFY, &store, &["--require", "trusted"], &signed);
        let v = o.verdict();
        assert_eq!(v["integrity"]["result"], "pass", "{form}: {v}");
        assert_eq!(
            v["integrity"]["signer_certificate"], "store (by AOR)",
            "{form}"
        );
        assert_eq!(v["trust"]["result"], "pass", "{form}: {v}");
        assert_eq!(v["trust"]["chain_length"], 3, "{form}: {v}");
        assert_eq!(o.code, 0, "{form}: {}", o.stderr);
    }
}
