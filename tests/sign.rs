//! sipsec-sign end to end: every form verified by the openssl CLI (RSA and EC), and the
//! identity rules (attribution, From rewriting, inner copies, user-agent signatures, selection).

mod common;
mod wrapkit;

use sipsec::crypto::{self, CmsSignOptions, Signer};
use sipsec::filter::{Filter, MessageContext};
use sipsec::mime::{build_multipart, Multipart, NewPart};
use sipsec::smime::build::{Handling, Transfer};
use sipsec::smime::inner::InnerPolicy;
use sipsec::tool::select::Selection;
use sipsec::tool::sign::{Form, Sign, SignOptions};
use sipsec::uri::Aor;
use sipsec::{HeaderKind, Message};
use wrapkit::*;

const BIN: &str = env!("CARGO_BIN_EXE_sipsec-sign");

fn sign(pki: &Pki, args: &[&str], input: &[u8]) -> Run {
    run(BIN, &pki.store, args, input)
}

fn text(m: &Message) -> String {
    String::from_utf8_lossy(m.as_bytes()).into_owned()
}

/// Verifies a signed message with openssl whatever its form; returns the covered octets.
fn verify_any(openssl: &std::path::Path, pki: &Pki, m: &Message, signer: &str) -> Vec<u8> {
    let covered = match signature_of(m) {
        (None, der) => {
            openssl_verify_attached(openssl, pki, &der).unwrap_or_else(|e| panic!("{e}"))
        }
        (Some(part1), der) => {
            let (ok, out) = openssl_verify_detached(openssl, pki, &part1, &der);
            assert!(ok, "openssl refused the signature: {out}\n{}", text(m));
            part1
        }
    };
    assert!(pki.last_signer_is(signer), "not signed as {signer}");
    covered
}

#[test]
fn openssl_accepts_every_form_rsa_and_ec() {
    let Some(openssl) = common::openssl_cli() else {
        return;
    };
    let pki = Pki::new();
    for (agent, group) in [
        ("agent-7@callcentre.example", RSA_GROUP),
        ("seller-3@callcentre.example", EC_GROUP),
    ] {
        for form in ["body", "sip", "aib", "cms"] {
            for extra in [
                &[][..],
                &["--base64", "--digest", "sha384", "--handling", "required"][..],
            ] {
                let mut args = vec!["--trust-from-header", "--form", form];
                args.extend_from_slice(extra);
                let r = sign(&pki, &args, &invite(agent, "bob@example.net"));
                assert_eq!(r.code, 0, "{}", r.stderr);
                let m = parse(&r.stdout);
                let covered = verify_any(&openssl, &pki, &m, group);
                let covered = String::from_utf8_lossy(&covered);
                match form {
                    "body" | "cms" => assert!(covered.contains("a=crypto"), "{covered}"),
                    "sip" => {
                        assert!(covered.starts_with("Content-Type: message/sip\r\n\r\nINVITE "))
                    }
                    _ => {
                        assert!(covered.contains("Content-Disposition: aib;handling=optional"));
                        assert!(covered.contains(&format!("From: <sip:{group}>;tag=f7")));
                    }
                }
                let ct =
                    String::from_utf8_lossy(m.value(HeaderKind::ContentType).unwrap()).into_owned();
                if form != "cms" && form != "aib" {
                    let micalg = if extra.is_empty() {
                        "sha-256"
                    } else {
                        "sha-384"
                    };
                    assert!(ct.contains(&format!("micalg={micalg}")), "{ct}");
                }
                let handling = if extra.is_empty() {
                    "optional"
                } else {
                    "required"
                };
                assert!(
                    text(&m).contains(&format!("attachment;handling={handling};filename=smime.p7")),
                    "{}",
                    text(&m)
                );
                // Content-Length is right: the message parsed as one complete datagram.
                assert_eq!(
                    m.value(HeaderKind::ContentLength).unwrap(),
                    m.body().len().to_string().as_bytes()
                );
            }
        }
    }
}

#[test]
fn unattributed_messages_are_not_signed_as_the_group() {
    let pki = Pki::new();
    let input = invite("agent-7@callcentre.example", "bob@example.net");
    let r = sign(&pki, &[], &input);
    assert_eq!(r.code, 0, "fail-open by default: {}", r.stderr);
    assert_eq!(r.stdout, input, "passed unchanged");
    assert!(r.stderr.contains("--trust-from-header"), "{}", r.stderr);
    let r = sign(&pki, &["--fail-closed"], &input);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
}

fn filter(pki: &Pki, form: Form, trust: bool) -> Sign {
    Sign::new(
        pki.open(),
        SignOptions {
            form,
            selection: Selection::parse("rfc3261").unwrap(),
            digest: Default::default(),
            include_certs: true,
            legacy_ciphers: false,
            handling: Handling::Optional,
            transfer: Transfer::Binary,
            trust_from_header: trust,
            inner: InnerPolicy {
                internal: vec!["X-Pool".into()],
            },
        },
    )
}

fn attributed(member: &str) -> MessageContext {
    MessageContext {
        attribution: Some(Aor::parse(member).unwrap()),
        ..Default::default()
    }
}

#[test]
fn attributed_agent_request_is_signed_as_the_group_with_from_rewritten() {
    let Some(openssl) = common::openssl_cli() else {
        return;
    };
    let pki = Pki::new();
    let f = filter(&pki, Form::Sip, false);
    let msg = parse(&invite("agent-7@callcentre.example", "bob@example.net"));
    let out = f
        .process(&msg, &attributed("agent-7@callcentre.example"))
        .unwrap();
    let m = out.message.expect("signed");
    assert_eq!(out.verdict.fields["signed_as"], RSA_GROUP);
    assert_eq!(out.verdict.fields["from_rewritten"], true);
    // The group URI, the tag kept, the agent's display name gone.
    assert_eq!(
        m.value(HeaderKind::From).unwrap(),
        format!("<sip:{RSA_GROUP}>;tag=f7").as_bytes()
    );
    assert!(m.value(HeaderKind::Date).is_some(), "Date added outside");
    let covered = verify_any(&openssl, &pki, &m, RSA_GROUP);
    let inner = String::from_utf8_lossy(&covered);
    assert!(inner.contains(&format!("From: <sip:{RSA_GROUP}>;tag=f7")));
    let date = String::from_utf8_lossy(m.value(HeaderKind::Date).unwrap()).into_owned();
    assert!(
        inner.contains(&format!("Date: {date}\r\n")),
        "same Date inside"
    );
    // Credentials and internal headers stay outside only.
    for secret in ["Authorization", "c0ffee", "beefbeef"] {
        assert!(!inner.contains(secret), "{secret} inside:\n{inner}");
    }
    assert!(
        text(&m).contains("Proxy-Authorization"),
        "outer keeps its headers"
    );

    // Attributed to someone else than the From: a spoof, refused.
    let err = f
        .process(&msg, &attributed("agent-8@callcentre.example"))
        .unwrap_err();
    assert!(err.reason.contains("agent-8"), "{}", err.reason);
    // Attributed to an outsider claiming an agent's From: refused too.
    assert!(f
        .process(&msg, &attributed("mallory@evil.example"))
        .is_err());
    // No attribution and no --trust-from-header: refused.
    assert!(f.process(&msg, &MessageContext::default()).is_err());
}

#[test]
fn responses_are_signed_as_the_responder_with_an_aib_from() {
    let Some(openssl) = common::openssl_cli() else {
        return;
    };
    let pki = Pki::new();
    let f = filter(&pki, Form::Aib, false);
    let msg = parse(&ok_200("alice@example.net", RSA_GROUP));
    let out = f
        .process(&msg, &attributed("agent-7@callcentre.example"))
        .unwrap();
    let m = out.message.expect("signed");
    assert_eq!(out.verdict.fields["from_rewritten"], false);
    assert_eq!(
        m.value(HeaderKind::To).unwrap(),
        format!("<sip:{RSA_GROUP}>;tag=t9").as_bytes()
    );
    let aib = String::from_utf8_lossy(&verify_any(&openssl, &pki, &m, RSA_GROUP)).into_owned();
    // RFC 3893 §6: From is the responder, the request's To is left out.
    assert!(
        aib.contains(&format!("\r\n\r\nFrom: <sip:{RSA_GROUP}>;tag=t9\r\n")),
        "{aib}"
    );
    assert!(!aib.contains("\r\nTo:"), "{aib}");
    assert!(!aib.contains("alice"), "{aib}");
    for h in [
        "Contact:",
        "Date:",
        "Call-ID: call-2@192.0.2.1",
        "CSeq: 1 INVITE",
    ] {
        assert!(aib.contains(h), "{h} missing: {aib}");
    }
    // The SDP is still readable beside the AIB.
    let mp = Multipart::of_message(&m).unwrap();
    assert_eq!(mp.parts()[0].body(), SDP.as_bytes());
}

#[test]
fn the_internal_and_control_headers_never_reach_a_signed_copy() {
    let pki = Pki::new();
    let input = String::from_utf8(invite("agent-7@callcentre.example", "bob@example.net"))
        .unwrap()
        .replace("Subject:", "X-Pool: gold\r\nSipsec-Verdict: ok\r\nSubject:");
    let f = filter(&pki, Form::Sip, true);
    let m = f
        .process(&parse(input.as_bytes()), &MessageContext::default())
        .unwrap()
        .message
        .unwrap();
    let mp = Multipart::of_message(&m).unwrap();
    let inner = String::from_utf8_lossy(mp.parts()[0].bytes()).to_ascii_lowercase();
    for gone in [
        "x-pool",
        "sipsec-verdict",
        "sipsec-control",
        "authorization",
    ] {
        assert!(!inner.contains(gone), "{gone} inside");
    }
    assert!(inner.contains("subject: order 42"));
}

/// A message the user agent signed itself (with its own certificate), with or without the
/// substitution parameter.
fn ua_signed(pki: &Pki, substitute: bool, tamper: bool) -> Vec<u8> {
    let ca = common::testkit::Ca::new(common::testkit::KeyKind::P256);
    let (cert, key) = ca.leaf(
        common::testkit::KeyKind::P256,
        "sip:agent-7@callcentre.example",
    );
    let _ = pki;
    let first = NewPart::new(SDP).header("Content-Type", "application/sdp");
    let mut signed_bytes = b"Content-Type: application/sdp\r\n\r\n".to_vec();
    signed_bytes.extend_from_slice(SDP.as_bytes());
    let der = crypto::sign(
        &signed_bytes,
        &Signer {
            cert,
            key,
            chain: vec![],
        },
        &CmsSignOptions::default(),
    )
    .unwrap();
    let sig = NewPart::new(der).header("Content-Type", "application/pkcs7-signature");
    let mut built = build_multipart(&[first, sig], sipsec::message::LineEnding::CrLf).unwrap();
    if tamper {
        let at = built.parts[0].end - 3;
        built.body[at] ^= 1;
    }
    let param = if substitute {
        ";substitute_by_proxy_cert"
    } else {
        ""
    };
    let head = String::from_utf8(invite("agent-7@callcentre.example", "bob@example.net"))
        .unwrap()
        .split("Content-Type:")
        .next()
        .unwrap()
        .to_string();
    let mut m = format!(
        "{head}Content-Type: multipart/signed;protocol=\"application/pkcs7-signature\";\
         micalg=sha-256;boundary={}{param}\r\nContent-Length: {}\r\n\r\n",
        built.boundary,
        built.body.len()
    )
    .into_bytes();
    m.extend_from_slice(&built.body);
    m
}

#[test]
fn a_ua_signature_is_kept_unless_substitution_is_asked() {
    let Some(openssl) = common::openssl_cli() else {
        return;
    };
    let pki = Pki::new();
    let args = ["--trust-from-header", "--form", "body"];
    let kept = ua_signed(&pki, false, false);
    let r = sign(&pki, &args, &kept);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, kept, "the user agent's signature is left alone");

    let r = sign(&pki, &args, &ua_signed(&pki, true, false));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = parse(&r.stdout);
    let covered = verify_any(&openssl, &pki, &m, RSA_GROUP);
    assert_eq!(
        covered,
        format!("Content-Type: application/sdp\r\n\r\n{SDP}").as_bytes()
    );
    assert!(!text(&m).contains("substitute_by_proxy_cert"));

    // A broken user-agent signature is not vouched for: passed on unchanged, with a warning.
    let tampered = ua_signed(&pki, true, true);
    let r = sign(&pki, &args, &tampered);
    assert_eq!(r.stdout, tampered);
    assert!(r.stderr.contains("cannot be replaced"), "{}", r.stderr);
}

#[test]
fn messages_not_selected_pass_unchanged() {
    let pki = Pki::new();
    let bye = b"BYE sip:bob@example.net SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.7;branch=z9hG4bKb\r\n\
From: <sip:agent-7@callcentre.example>;tag=f7\r\nTo: <sip:bob@example.net>;tag=b1\r\n\
Call-ID: call-1@192.0.2.7\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    let r = sign(&pki, &["--trust-from-header"], bye);
    assert_eq!((r.code, r.stdout.as_slice()), (0, &bye[..]));
    // A 200 to INVITE is selected by default; --select INVITE leaves it alone.
    let ok = ok_200("alice@example.net", RSA_GROUP);
    let r = sign(&pki, &["--trust-from-header"], &ok);
    assert_ne!(r.stdout, ok);
    let r = sign(&pki, &["--trust-from-header", "--select", "INVITE"], &ok);
    assert_eq!(r.stdout, ok);
}

#[test]
fn no_certs_leaves_the_chain_out() {
    let pki = Pki::new();
    let input = invite("agent-7@callcentre.example", "bob@example.net");
    let with = parse(&sign(&pki, &["--trust-from-header", "--form", "cms"], &input).stdout);
    let without = parse(
        &sign(
            &pki,
            &["--trust-from-header", "--form", "cms", "--no-certs"],
            &input,
        )
        .stdout,
    );
    let signer = pki
        .open()
        .identity(&Aor::parse(RSA_GROUP).unwrap())
        .unwrap()
        .unwrap();
    let cert_der = signer.cert.to_der().unwrap();
    let contains = |hay: &[u8]| hay.windows(cert_der.len()).any(|w| w == cert_der);
    assert!(contains(with.body()));
    assert!(!contains(without.body()));
}

#[test]
fn a_passphrase_that_cannot_read_the_keys_stops_the_run_before_any_message() {
    const PASS: &str = "correct horse battery staple";
    let pki = Pki::new();
    // Every identity key under PASS, as `sipsec-certgen --passphrase-file` writes them.
    for aor in [RSA_GROUP, EC_GROUP, BOB_RSA, BOB_EC] {
        let path = pki.identity_files(aor).1;
        let key =
            openssl::pkey::PKey::private_key_from_pem(&std::fs::read(&path).unwrap()).unwrap();
        let pem = key
            .private_key_to_pem_pkcs8_passphrase(
                openssl::symm::Cipher::aes_256_cbc(),
                PASS.as_bytes(),
            )
            .unwrap();
        std::fs::write(&path, pem).unwrap();
    }
    let right = pki.file("right", PASS.as_bytes());
    let wrong = pki.file("wrong", b"incorrect donkey");
    let input = invite("agent-7@callcentre.example", "bob@example.net");
    let ok = sign(
        &pki,
        &[
            "--trust-from-header",
            "--form",
            "cms",
            "--passphrase-file",
            &right,
        ],
        &input,
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_ne!(ok.stdout, input, "signed");
    for (pass, why) in [
        (
            vec!["--passphrase-file", wrong.as_str()],
            "wrong passphrase for",
        ),
        (
            vec![],
            "is encrypted; give --passphrase-file or --passphrase-env",
        ),
    ] {
        let mut a = vec!["--trust-from-header", "--form", "cms"];
        a.extend(pass);
        let refused = sign(&pki, &a, &input);
        assert_eq!(refused.code, 3, "{why}: {}", refused.stderr);
        assert!(
            refused.stdout.is_empty(),
            "{why}: nothing passed on unsigned"
        );
        assert!(refused.stderr.contains(why), "{why}: {}", refused.stderr);
        assert!(!refused.stderr.contains(PASS));
    }
}

/// The SMIMECapabilities we advertise: what sipsec-decrypt opens, AES-GCM first, 3DES only with
/// --legacy-ciphers; the openssl CLI verifies both.
#[test]
fn the_signature_advertises_aes_gcm_and_cbc_and_3des_only_when_asked() {
    let Some(openssl) = common::openssl_cli() else {
        return;
    };
    let pki = Pki::new();
    for legacy in [false, true] {
        let mut args = vec!["--trust-from-header", "--form", "cms"];
        if legacy {
            args.push("--legacy-ciphers");
        }
        let r = sign(
            &pki,
            &args,
            &invite("agent-7@callcentre.example", "bob@example.net"),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let (_, der) = signature_of(&parse(&r.stdout));
        let listed = crypto::capabilities::of_signature(&der).unwrap();
        assert_eq!(listed[0], crypto::ContentCipher::Aes256Gcm);
        assert!(listed.contains(&crypto::ContentCipher::Aes128Cbc));
        assert_eq!(listed.contains(&crypto::ContentCipher::DesEde3Cbc), legacy);
        openssl_verify_attached(&openssl, &pki, &der).unwrap();
    }
}
