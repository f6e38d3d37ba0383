//! STIR end to end: `sipsec-certgen sti` makes the STI certificate, `sipsec-sign --identity`
//! adds the Identity header (SHAKEN attestation from attribution, div when forwarding),
//! `sipsec-verify --sti-anchors` checks it: verdict header, JSON, RFC 9410 Reason on what it
//! lets through, and `--require attested=` refusals with the RFC 8224 response named.

mod common;
mod wrapkit;

use sipsec::filter::{Filter, MessageContext};
use sipsec::identity::x5u::store_entry;
use sipsec::identity::{TnAuthList, TnEntry};
use sipsec::tool::stir::{StirSign, StirSignOptions};
use sipsec::uri::Aor;
use sipsec::Message;
use wrapkit::{run, Pki, Run, RSA_GROUP};

const SIGN: &str = env!("CARGO_BIN_EXE_sipsec-sign");
const VERIFY: &str = env!("CARGO_BIN_EXE_sipsec-verify");
const X5U: &str = "https://sti.callcentre.example/support.pem";
/// The call centre's numbers: 12155550100 to 12155550199.
const RANGE: &str = "12155550100+100";

struct Sti {
    pki: Pki,
    cache: String,
    anchors: String,
}

fn sti() -> Sti {
    let pki = Pki::new();
    let cache = pki.issue_sti(RANGE, X5U);
    Sti {
        cache: cache.to_str().unwrap().to_string(),
        anchors: pki.ca_file.clone(),
        pki,
    }
}

fn invite(from_user: &str, pai: Option<&str>, to: &str, ruri: &str, extra: &str) -> Vec<u8> {
    let pai = pai
        .map(|n| format!("P-Asserted-Identity: <tel:+{n}>\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:+{ruri}@carrier.example;user=phone SIP/2.0\r\n\
         Via: SIP/2.0/TCP proxy.callcentre.example;branch=z9hG4bK1\r\n\
         From: <sip:{from_user}@callcentre.example>;tag=1\r\n\
         To: <sip:+{to}@carrier.example;user=phone>\r\n{pai}\
         Call-ID: stir@callcentre.example\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n{extra}\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A call from agent-7 presenting 12155550150 to 12155550131.
fn call() -> Vec<u8> {
    invite(
        "agent-7",
        Some("12155550150"),
        "12155550131",
        "12155550131",
        "",
    )
}

impl Sti {
    fn sign(&self, args: &[&str], input: &[u8]) -> Run {
        let mut all = vec!["--identity"];
        all.extend_from_slice(args);
        run(SIGN, &self.pki.store, &all, input)
    }

    fn verify(&self, args: &[&str], input: &[u8]) -> Run {
        let mut all = vec![
            "--sti-anchors",
            &self.anchors,
            "--x5u-cache",
            &self.cache,
            "--report",
            "-",
        ];
        all.extend_from_slice(args);
        run(VERIFY, &self.pki.store, &all, input)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `stir` object of the first JSON report line.
fn stir_json(r: &Run) -> serde_json::Value {
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON report: {}", r.stderr));
    serde_json::from_str::<serde_json::Value>(line).unwrap()["verdict"]["stir"].clone()
}

#[test]
fn a_signed_invite_verifies_with_its_attestation_and_verdict() {
    let s = sti();
    let signed = s.sign(&["--trust-from-header"], &call());
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let out = text(&signed.stdout);
    assert!(out.contains("\r\nIdentity: ey"), "{out}");
    assert!(
        out.contains(&format!(";info=<{X5U}>;alg=ES256;ppt=shaken")),
        "{out}"
    );
    let v = s.verify(&[], &signed.stdout);
    assert_eq!(v.code, 0, "{}", v.stderr);
    let forwarded = text(&v.stdout);
    assert!(
        forwarded.contains("Sipsec-Verdict: signed=no;stir=pass;attest=B\r\n"),
        "{forwarded}"
    );
    assert!(!forwarded.contains("Reason:"), "{forwarded}");
    let j = stir_json(&v);
    assert_eq!(j["result"], "pass");
    assert_eq!(j["attest"], "B");
    assert_eq!(j["headers"][0]["coverage"], "range");
    // Attestation B meets attested=B and C, not A (438, and the request is withheld).
    assert_eq!(
        s.verify(&["--require", "attested=C"], &signed.stdout).code,
        0
    );
    let a = s.verify(&["--require", "attested=A"], &signed.stdout);
    assert_ne!(a.code, 0);
    assert!(a.stdout.is_empty(), "withheld");
    assert!(
        a.stderr.contains("438 Invalid Identity Header"),
        "{}",
        a.stderr
    );
}

#[test]
fn a_broken_identity_is_reported_with_a_reason_or_refused() {
    let s = sti();
    let signed = text(&s.sign(&["--trust-from-header"], &call()).stdout);
    // One character of the signature changed.
    let at = signed.find(";info=").unwrap() - 2;
    let mut bytes = signed.clone().into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let v = s.verify(&[], &bytes);
    assert_eq!(v.code, 0, "{}", v.stderr);
    let forwarded = text(&v.stdout);
    assert!(
        forwarded.contains(";stir=fail;stir-cause=438\r\n"),
        "{forwarded}"
    );
    assert!(
        forwarded.contains("\r\nReason: STIR;cause=438;text=\"Invalid Identity Header\";ppi=\".."),
        "{forwarded}"
    );
    // A forged STIR Reason from upstream does not survive; ours replaces it.
    let forged = text(&bytes).replace(
        "Max-Forwards: 70\r\n",
        "Max-Forwards: 70\r\nReason: STIR;cause=200;text=\"fine\"\r\n",
    );
    let v = s.verify(&[], forged.as_bytes());
    assert!(
        !text(&v.stdout).contains("cause=200"),
        "{}",
        text(&v.stdout)
    );
    let refused = s.verify(&["--require", "attested=C"], &bytes);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("438"), "{}", refused.stderr);
    // No Identity at all: 428.
    let none = s.verify(
        &["--require", "attested=C"],
        &invite("agent-7", None, "12155550131", "12155550131", ""),
    );
    assert_ne!(none.code, 0);
    assert!(
        none.stderr.contains("428 Use Identity Header"),
        "{}",
        none.stderr
    );
}

#[test]
fn a_number_outside_the_certificate_is_not_signed_and_unknown_callers_are_not_signed() {
    let s = sti();
    let outside = s.sign(
        &["--trust-from-header"],
        &invite(
            "agent-7",
            Some("12155550250"),
            "12155550131",
            "12155550131",
            "",
        ),
    );
    assert_eq!(outside.code, 0, "fail-open: {}", outside.stderr);
    assert!(!text(&outside.stdout).contains("\r\nIdentity:"));
    assert!(outside.stderr.contains("TNAuthList"), "{}", outside.stderr);
    let unknown = s.sign(&[], &call());
    assert!(!text(&unknown.stdout).contains("\r\nIdentity:"));
    assert!(
        unknown.stderr.contains("--sti-fallback"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn compact_form_verifies_without_attestation() {
    let s = sti();
    let signed = s.sign(&["--trust-from-header", "--compact"], &call());
    let out = text(&signed.stdout);
    assert!(out.contains("\r\nIdentity: .."), "{out}");
    let v = s.verify(&[], &signed.stdout);
    assert!(
        text(&v.stdout).contains("stir=pass;attest=none"),
        "{}",
        text(&v.stdout)
    );
}

#[test]
fn attestation_follows_attribution() {
    let s = sti();
    let options = StirSignOptions {
        compact: false,
        trust_from_header: false,
        fallback: None,
        freshness: 60,
    };
    let filter = StirSign::new(s.pki.open(), options);
    let msg = Message::parse(call()).unwrap();
    let attributed = MessageContext {
        attribution: Some(Aor::parse("agent-7@callcentre.example").unwrap()),
        ..MessageContext::default()
    };
    let p = filter.process(&msg, &attributed).unwrap();
    assert_eq!(p.verdict.fields["attest"], "A");
    // Without attribution nothing vouches for the caller: no Identity at all.
    assert!(filter.process(&msg, &MessageContext::default()).is_err());
    // A number only the service provider code covers is not full attestation.
    let spc = sti();
    let list = TnAuthList::new(vec!["spc:CALLCENTRE".parse::<TnEntry>().unwrap()]).unwrap();
    spc.pki
        .open()
        .issue_sti(&Aor::parse(RSA_GROUP).unwrap(), list, X5U, 30, true)
        .unwrap();
    let filter = StirSign::new(
        spc.pki.open(),
        StirSignOptions {
            compact: false,
            trust_from_header: false,
            fallback: None,
            freshness: 60,
        },
    );
    let p = filter.process(&msg, &attributed).unwrap();
    assert_eq!(p.verdict.fields["attest"], "B");
}

#[test]
fn a_forwarded_call_keeps_its_identity_and_gets_a_div_passport() {
    let s = sti();
    // A call from outside to a call-centre number, signed upstream (here by the same CA).
    let upstream = s.sign(
        &["--trust-from-header"],
        &invite(
            "agent-7",
            Some("12155550150"),
            "12155550160",
            "12155550160",
            "",
        ),
    );
    let signed = text(&upstream.stdout);
    assert!(signed.contains("\r\nIdentity:"), "{}", upstream.stderr);
    // The agent forwards it to another number: the Request-URI changes, To stays.
    let forwarded = signed.replacen("INVITE sip:+12155550160@", "INVITE sip:+13105550199@", 1);
    let div = s.sign(&["--trust-from-header"], forwarded.as_bytes());
    let out = text(&div.stdout);
    assert_eq!(
        out.matches("\r\nIdentity: ").count(),
        2,
        "{}{out}",
        div.stderr
    );
    assert!(out.contains(";ppt=div\r\n"), "{out}");
    let v = s.verify(&[], out.as_bytes());
    assert!(
        text(&v.stdout).contains("stir=pass;attest=B;diverted=yes"),
        "{}",
        text(&v.stdout)
    );
    // Not forwarded (Request-URI = To): the Identity is kept, nothing added.
    let again = s.sign(&["--trust-from-header"], signed.as_bytes());
    assert_eq!(text(&again.stdout).matches("\r\nIdentity: ").count(), 1);
}

#[test]
fn an_untrusted_or_uncached_certificate_is_437_or_436() {
    let s = sti();
    let signed = s.sign(&["--trust-from-header"], &call());
    let other = Pki::new();
    let v = run(
        VERIFY,
        &s.pki.store,
        &[
            "--sti-anchors",
            &other.ca_file,
            "--x5u-cache",
            &s.cache,
            "--require",
            "attested=C",
        ],
        &signed.stdout,
    );
    assert!(
        v.stderr.contains("437 Unsupported Credential"),
        "{}",
        v.stderr
    );
    let empty = s.pki.dir.path().join("empty-cache");
    std::fs::create_dir_all(&empty).unwrap();
    // A cache entry for another URL does not serve this one.
    store_entry(&empty, "https://other.example/x.pem", b"", i64::MAX).unwrap();
    let v = run(
        VERIFY,
        &s.pki.store,
        &[
            "--sti-anchors",
            &s.anchors,
            "--x5u-cache",
            empty.to_str().unwrap(),
            "--require",
            "attested=C",
        ],
        &signed.stdout,
    );
    assert!(v.stderr.contains("436 Bad Identity Info"), "{}", v.stderr);
}

#[test]
fn identity_and_an_smime_form_together() {
    let s = sti();
    let signed = s.sign(&["--trust-from-header", "--form", "aib"], &call());
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let out = text(&signed.stdout);
    assert!(out.contains("\r\nIdentity: ey"), "{}{out}", signed.stderr);
    assert!(out.contains("application/pkcs7-signature"), "{out}");
    let v = s.verify(&[], &signed.stdout);
    let forwarded = text(&v.stdout);
    assert!(
        forwarded.contains("integrity=pass") && forwarded.contains(";stir=pass;attest=B"),
        "{}{forwarded}",
        v.stderr
    );
}

#[test]
fn an_outside_sti_ca_certifies_a_csr_that_is_then_imported() {
    let pki = Pki::new();
    let store = pki.store.to_str().unwrap();
    let certgen = env!("CARGO_BIN_EXE_sipsec-certgen");
    let group = format!("sip:{RSA_GROUP}");
    let csr_pem = pki.certgen(&["sti-csr", &group, "--tn", "12155550150", "--x5u", X5U]);
    let csr = openssl::x509::X509Req::from_pem(&csr_pem).unwrap();
    // The outside STI-CA decides the TNAuthList; here the one asked for.
    let ca = common::testkit::Ca::new(common::testkit::KeyKind::P256);
    let profile = sipsec::identity::sticert::StiProfile {
        cn: "outside".into(),
        tn_auth: TnAuthList::new(vec!["12155550150".parse::<TnEntry>().unwrap()]).unwrap(),
        not_before: common::testkit::now() - 60,
        not_after: common::testkit::now() + 86_400,
    };
    let cert =
        sipsec::identity::sticert::sign_sti_csr(&csr, &profile, (&ca.cert, &ca.key)).unwrap();
    let file = common::write(pki.dir.path(), "sti-cert.pem", &cert.to_pem().unwrap());
    let imported = std::process::Command::new(certgen)
        .args([
            "--store",
            store,
            "sti-import",
            &file,
            &format!("sip:{RSA_GROUP}"),
        ])
        .output()
        .unwrap();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let signed = run(
        SIGN,
        &pki.store,
        &["--identity", "--trust-from-header"],
        &call(),
    );
    assert!(
        text(&signed.stdout).contains("\r\nIdentity: ey"),
        "{}",
        signed.stderr
    );
    // A certificate for another key is refused on import.
    let stranger = common::testkit::Ca::new(common::testkit::KeyKind::P256);
    let (other, _) = stranger.leaf(common::testkit::KeyKind::P256, "sip:x@example.com");
    let file = common::write(pki.dir.path(), "other.pem", &other.to_pem().unwrap());
    let refused = std::process::Command::new(certgen)
        .args([
            "--store",
            store,
            "sti-import",
            &file,
            &format!("sip:{RSA_GROUP}"),
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
}

/// A loopback HTTPS x5u server for one connection. `body` is asked for with the server's URL
/// (the STI certificate must name it) and answered after the request; `None`: says nothing
/// for 5 s. Returns the URL and the CA file to trust for the server.
fn x5u_server(
    dir: &std::path::Path,
    body: impl FnOnce(&str) -> Option<Vec<u8>>,
) -> (String, String, std::thread::JoinHandle<()>) {
    use common::testkit::{key, Ca, KeyKind};
    use openssl::ssl::{SslAcceptor, SslMethod};
    use sipsec::store::x509::{make_tls_leaf, TlsProfile};
    use std::io::{Read, Write};
    let ca = Ca::new(KeyKind::P256);
    let profile = TlsProfile::new("x5u.example", vec!["127.0.0.1".parse().unwrap()], 1).unwrap();
    let tls_key = key(KeyKind::P256);
    let cert = make_tls_leaf(&profile, &tls_key, Some((&ca.cert, &ca.key)), None).unwrap();
    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    acceptor.set_private_key(&tls_key).unwrap();
    acceptor.set_certificate(&cert).unwrap();
    let acceptor = acceptor.build();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://{}/sti.pem", listener.local_addr().unwrap());
    let body = body(&url);
    let handle = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let Ok(mut tls) = acceptor.accept(tcp) else {
            return;
        };
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && tls.read(&mut byte).unwrap_or(0) == 1 {
            request.push(byte[0]);
        }
        match body {
            Some(b) => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", b.len());
                let _ = tls.write_all(head.as_bytes());
                let _ = tls.write_all(&b);
            }
            None => {
                let _ = tls.read(&mut byte);
            }
        }
    });
    (url, common::write_cert(dir, "x5u-ca.pem", &ca.cert), handle)
}

#[test]
fn verify_fetches_the_x5u_over_https_and_refuses_a_stalled_one_with_436() {
    for serves in [true, false] {
        let pki = Pki::new();
        let dir = pki.dir.path().to_path_buf();
        let (_, tls_ca, server) = x5u_server(&dir, |url| {
            let chain = dir.join("chain.pem");
            let group = format!("sip:{RSA_GROUP}");
            let chain_arg = chain.to_str().unwrap();
            pki.certgen(&[
                "sti",
                &group,
                "--tn",
                RANGE,
                "--x5u",
                url,
                "--chain-out",
                chain_arg,
            ]);
            serves.then(|| std::fs::read(&chain).unwrap())
        });
        let signed = run(
            SIGN,
            &pki.store,
            &["--identity", "--trust-from-header"],
            &call(),
        );
        let cache = dir.join("fetched");
        let start = std::time::Instant::now();
        let v = run(
            VERIFY,
            &pki.store,
            &[
                "--sti-anchors",
                &pki.ca_file,
                "--fetch-x5u",
                "--x5u-tls-anchors",
                &tls_ca,
                "--x5u-timeout",
                "500",
                "--x5u-cache",
                cache.to_str().unwrap(),
                "--require",
                "attested=B",
            ],
            &signed.stdout,
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(4));
        if serves {
            assert_eq!(v.code, 0, "{}", v.stderr);
            assert!(text(&v.stdout).contains("stir=pass;attest=B"));
            assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 2, "cached");
        } else {
            assert_ne!(v.code, 0);
            assert!(v.stderr.contains("436 Bad Identity Info"), "{}", v.stderr);
        }
        server.join().unwrap();
    }
}

#[test]
fn a_stale_date_is_not_signed_and_attested_needs_anchors() {
    let s = sti();
    let old = invite(
        "agent-7",
        Some("12155550150"),
        "12155550131",
        "12155550131",
        "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n",
    );
    let signed = s.sign(&["--trust-from-header"], &old);
    assert_eq!(signed.code, 0, "fail-open: {}", signed.stderr);
    assert!(!text(&signed.stdout).contains("\r\nIdentity:"));
    assert!(signed.stderr.contains("freshness"), "{}", signed.stderr);
    let no_anchors = run(VERIFY, &s.pki.store, &["--require", "attested=C"], &call());
    assert_eq!(no_anchors.code, 3, "{}", no_anchors.stderr);
    assert!(
        no_anchors.stderr.contains("--sti-anchors"),
        "{}",
        no_anchors.stderr
    );
    let bad_level = run(VERIFY, &s.pki.store, &["--require", "attested=D"], &call());
    assert_eq!(bad_level.code, 2, "{}", bad_level.stderr);
}

#[test]
fn responses_are_neither_signed_nor_judged() {
    let s = sti();
    let response =
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP proxy.callcentre.example;branch=z9hG4bK1\r\n\
        From: <sip:agent-7@callcentre.example>;tag=1\r\nTo: <tel:+12155550131>;tag=2\r\n\
        Call-ID: r\r\nCSeq: 1 INVITE\r\nIdentity: a.b.c;info=<https://x.example/c>\r\n\
        Content-Length: 0\r\n\r\n";
    let signed = s.sign(&["--trust-from-header"], response);
    assert_eq!(signed.stdout, response.to_vec(), "{}", signed.stderr);
    let v = s.verify(&[], response);
    assert!(!text(&v.stdout).contains("stir="), "{}", text(&v.stdout));
}

#[test]
fn media_keys_ride_along_and_unwrapping_does_not_break_them() {
    let s = sti();
    let sdp =
        "v=0\r\nm=audio 4000 UDP/TLS/RTP/SAVP 0\r\na=fingerprint:sha-256 4A:AD:B9:B1:3F:82\r\n";
    let offer = text(&call()).replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ),
    );
    // Identity alone: the PASSporT lists the SDP's key.
    let signed = s.sign(&["--trust-from-header"], offer.as_bytes());
    let v = s.verify(&[], &signed.stdout);
    assert!(
        text(&v.stdout).contains("stir=pass;attest=B"),
        "{}{}",
        v.stderr,
        text(&v.stdout)
    );
    // With the body form the SDP travels wrapped; --unwrap restores it for the terminal,
    // and the Identity is still judged on the request as it came.
    let both = s.sign(&["--trust-from-header", "--form", "body"], offer.as_bytes());
    let v = s.verify(&["--unwrap"], &both.stdout);
    let forwarded = text(&v.stdout);
    assert!(
        forwarded.contains("stir=pass;attest=B"),
        "{}{forwarded}",
        v.stderr
    );
    assert!(forwarded.contains("a=fingerprint:sha-256"), "{forwarded}");
    // A key swapped in transit: 438.
    let swapped = text(&signed.stdout).replace("4A:AD:B9:B1:3F:82", "00:11:22:33:44:55");
    let v = s.verify(&[], swapped.as_bytes());
    assert!(
        text(&v.stdout).contains("stir=fail;stir-cause=438"),
        "{}",
        text(&v.stdout)
    );
}
