//! sipsec-encrypt end to end: the openssl CLI opens every envelope (each cipher, RSA and EC
//! recipients), refusals, the sip form with hidden headers, and both orders with sipsec-sign.

mod common;
mod wrapkit;

use sipsec::{HeaderKind, Message};
use wrapkit::*;

const ENCRYPT: &str = env!("CARGO_BIN_EXE_sipsec-encrypt");
const SIGN: &str = env!("CARGO_BIN_EXE_sipsec-sign");

fn smime_type(m: &Message) -> String {
    String::from_utf8_lossy(m.value(HeaderKind::ContentType).unwrap()).into_owned()
}

#[test]
fn openssl_opens_every_envelope() {
    let Some(openssl) = common::openssl_cli() else {
        return;
    };
    let pki = Pki::new();
    let entity = format!("Content-Type: application/sdp\r\n\r\n{SDP}");
    for to in [BOB_RSA, BOB_EC] {
        for cipher in ["aes128", "aes256", "aes128gcm", "des3"] {
            for extra in [&[][..], &["--rsa-padding", "pkcs1", "--base64"][..]] {
                let mut args = vec!["--cipher", cipher];
                args.extend_from_slice(extra);
                let r = run(ENCRYPT, &pki.store, &args, &invite("alice@example.net", to));
                assert_eq!(r.code, 0, "{}", r.stderr);
                let m = parse(&r.stdout);
                let ct = smime_type(&m);
                let want = if cipher == "aes128gcm" {
                    "smime-type=auth-enveloped-data"
                } else {
                    "smime-type=enveloped-data"
                };
                assert!(
                    ct.starts_with("application/pkcs7-mime;") && ct.contains(want),
                    "{ct}"
                );
                assert_eq!(
                    m.value(HeaderKind::ContentDisposition).unwrap(),
                    b"attachment;handling=required;filename=smime.p7m"
                );
                let plain = openssl_decrypt(&openssl, &pki, to, &body_der(&m))
                    .unwrap_or_else(|e| panic!("{to} {cipher}: {e}"));
                assert_eq!(String::from_utf8_lossy(&plain), entity);
                assert!(!String::from_utf8_lossy(m.as_bytes()).contains("a=crypto"));
                // Routing headers stay outside.
                assert!(
                    m.value(HeaderKind::Via).is_some() && m.value(HeaderKind::Contact).is_some()
                );
            }
        }
    }
}

#[test]
fn a_recipient_without_a_certificate_is_refused_unless_fail_open() {
    let pki = Pki::new();
    let input = invite("alice@example.net", "nobody@example.org");
    let r = run(ENCRYPT, &pki.store, &[], &input);
    assert_eq!(r.code, 1, "withheld by default: {}", r.stderr);
    assert!(r.stdout.is_empty());
    let r = run(ENCRYPT, &pki.store, &["--fail-open"], &input);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, input, "passed unchanged");
    assert!(
        r.stderr.contains("no certificate for nobody@example.org"),
        "{}",
        r.stderr
    );
}

#[test]
fn the_sip_form_hides_headers_and_never_carries_credentials() {
    let Some(openssl) = common::openssl_cli() else {
        return;
    };
    let pki = Pki::new();
    let args = ["--form", "sip", "--hide", "Subject", "--also-to", RSA_GROUP];
    let r = run(
        ENCRYPT,
        &pki.store,
        &args,
        &invite("alice@example.net", BOB_EC),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = parse(&r.stdout);
    let outer = String::from_utf8_lossy(m.as_bytes()).into_owned();
    assert!(!outer.contains("Subject"), "hidden header left outside");
    assert!(
        outer.contains("Proxy-Authorization"),
        "outer keeps the hop's credentials"
    );
    // Both the recipient and the extra recipient can open it.
    for who in [BOB_EC, RSA_GROUP] {
        let plain = openssl_decrypt(&openssl, &pki, who, &body_der(&m)).unwrap();
        let plain = String::from_utf8_lossy(&plain);
        assert!(
            plain.starts_with("Content-Type: message/sip\r\n\r\nINVITE sip:"),
            "{plain}"
        );
        assert!(plain.contains("Subject: order 42") && plain.contains("a=crypto"));
        assert!(
            !plain.contains("Authorization"),
            "credentials inside: {plain}"
        );
        let date = String::from_utf8_lossy(m.value(HeaderKind::Date).unwrap()).into_owned();
        assert!(
            plain.contains(&format!("Date: {date}\r\n")),
            "same Date inside"
        );
    }
    // Routing headers cannot be hidden.
    let r = run(
        ENCRYPT,
        &pki.store,
        &["--form", "sip", "--hide", "via"],
        &invite("a@example.net", BOB_EC),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
}

/// Runs one tool's output into the other's input.
fn pipe(pki: &Pki, first: (&str, &[&str]), second: (&str, &[&str]), input: &[u8]) -> Message {
    let a = run(first.0, &pki.store, first.1, input);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let b = run(second.0, &pki.store, second.1, &a.stdout);
    assert_eq!(b.code, 0, "{}", b.stderr);
    parse(&b.stdout)
}

#[test]
fn sign_then_encrypt_and_encrypt_then_sign_nest() {
    let Some(openssl) = common::openssl_cli() else {
        return;
    };
    let pki = Pki::new();
    // Messages to a customer from an agent, whose identity and certificate the store holds.
    let input = invite("agent-7@callcentre.example", BOB_RSA);
    let sign_args: &[&str] = &["--trust-from-header", "--form", "body"];

    // sign | encrypt: the envelope holds the multipart/signed entity.
    let m = pipe(&pki, (SIGN, sign_args), (ENCRYPT, &[]), &input);
    assert!(smime_type(&m).contains("enveloped-data"));
    let plain = openssl_decrypt(&openssl, &pki, BOB_RSA, &body_der(&m)).unwrap();
    let entity = sipsec::mime::Part::parse(&plain).unwrap();
    let (part1, der) = signed_parts(entity.content_type().unwrap(), entity.body());
    let (ok, out) = openssl_verify_detached(&openssl, &pki, &part1, &der);
    assert!(ok && pki.last_signer_is(RSA_GROUP), "{out}");
    assert!(String::from_utf8_lossy(&part1).contains("a=crypto"));

    // encrypt | sign: the signature covers the envelope.
    let m = pipe(&pki, (ENCRYPT, &[]), (SIGN, sign_args), &input);
    assert!(smime_type(&m).starts_with("multipart/signed"));
    let (part1, der) = signed_parts(m.value(HeaderKind::ContentType).unwrap(), m.body());
    let (ok, out) = openssl_verify_detached(&openssl, &pki, &part1, &der);
    assert!(ok && pki.last_signer_is(RSA_GROUP), "{out}");
    let envelope = sipsec::mime::Part::parse(&part1).unwrap();
    assert!(String::from_utf8_lossy(envelope.content_type().unwrap()).contains("enveloped-data"));
    let plain = openssl_decrypt(&openssl, &pki, BOB_RSA, envelope.body()).unwrap();
    assert_eq!(
        plain,
        format!("Content-Type: application/sdp\r\n\r\n{SDP}").as_bytes()
    );
    // An envelope is not encrypted twice.
    let once = run(ENCRYPT, &pki.store, &[], &input).stdout;
    assert_eq!(run(ENCRYPT, &pki.store, &[], &once).stdout, once);
}
