//! sipsec-verify as a process: every form, openssl CLI signatures, the RFC 6216 messages, and a
//! refusal test for every check, each refused with its reason named.

mod common;
mod unwrapkit;

use common::testkit::{now, Ca, KeyKind, Validity};
use common::{openssl_cli, replace, run, write, write_cert, write_key};
use openssl::x509::X509;
use serde_json::Value;
use sipsec::crypto::{sign, CmsSignOptions, Signer};
use sipsec::store::fsio::PassSource;
use sipsec::store::x509::{self, KeyType, LeafProfile};
use sipsec::store::Store;
use sipsec::uri::Aor;
use std::path::{Path, PathBuf};
use unwrapkit::{tool, with_body, Outcome};

const BIN: &str = env!("CARGO_BIN_EXE_sipsec-verify");
const SDP: &[u8] = b"v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n";

struct Pki {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    store: PathBuf,
    root: Ca,
    inter: Ca,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let store = path.join("store");
        let root = Ca::new(KeyKind::Rsa);
        let inter = root.sub_ca(KeyKind::Rsa);
        Store::create(&store)
            .unwrap()
            .add_anchor(std::slice::from_ref(&root.cert))
            .unwrap();
        Pki {
            _dir: dir,
            dir: path,
            store,
            root,
            inter,
        }
    }

    fn signer(&self, uri: &str) -> Signer {
        let (cert, key) = self.inter.leaf(KeyKind::Rsa, uri);
        Signer {
            cert,
            key,
            chain: vec![self.inter.cert.clone()],
        }
    }
}

fn date(unix: i64) -> String {
    let t = openssl::asn1::Asn1Time::from_unix(unix).unwrap();
    // Asn1Time prints `Nov 26 18:00:00 2026 GMT`; SIP wants RFC 1123.
    let s = t.to_string();
    let parts: Vec<&str> = s.split_whitespace().collect();
    let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let wd = days[((unix / 86_400) % 7) as usize];
    format!(
        "{wd}, {:0>2} {} {} {} GMT",
        parts[1], parts[0], parts[3], parts[2]
    )
}

/// A request (or response) head without body, `\r\n`-terminated lines.
fn head(request: bool, from: &str, to: &str, extra: &str) -> String {
    let start = if request {
        "INVITE sip:bob@example.net SIP/2.0"
    } else {
        "SIP/2.0 200 OK"
    };
    format!(
        "{start}\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK776\r\nMax-Forwards: 70\r\n\
         From: <{from}>;tag=1928\r\nTo: <{to}>\r\nCall-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\n\
         Contact: <sip:alice@192.0.2.1>\r\n{extra}"
    )
}

fn entity(ct: &str, body: &[u8]) -> Vec<u8> {
    let mut e = format!("Content-Type: {ct}\r\n\r\n").into_bytes();
    e.extend_from_slice(body);
    e
}

/// multipart/signed around `signed` with a detached DER signature (binary or base64).
fn multipart_signed(signed: &[u8], sig: &[u8], micalg: &str, base64: bool) -> (String, Vec<u8>) {
    let mut b = b"--boundary42\r\n".to_vec();
    b.extend_from_slice(signed);
    b.extend_from_slice(
        b"\r\n--boundary42\r\nContent-Type: application/pkcs7-signature;name=smime.p7s\r\n",
    );
    if base64 {
        b.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
        let text = openssl::base64::encode_block(sig);
        for chunk in text.as_bytes().chunks(76) {
            b.extend_from_slice(chunk);
            b.extend_from_slice(b"\r\n");
        }
        b.truncate(b.len() - 2);
    } else {
        b.extend_from_slice(b"Content-Transfer-Encoding: binary\r\n\r\n");
        b.extend_from_slice(sig);
    }
    b.extend_from_slice(b"\r\n--boundary42--\r\n");
    let ct = format!(
        "multipart/signed;protocol=\"application/pkcs7-signature\";micalg={micalg};boundary=boundary42"
    );
    (ct, b)
}

fn detached(content: &[u8], s: &Signer) -> Vec<u8> {
    sign(content, s, &CmsSignOptions::default()).unwrap()
}

/// A request from `from` with an SDP body, signed in the body form.
fn signed_body(s: &Signer, from: &str) -> Vec<u8> {
    let e = entity("application/sdp", SDP);
    let (ct, body) = multipart_signed(&e, &detached(&e, s), "sha-256", false);
    with_body(&head(true, from, "sip:bob@example.net", ""), &ct, &body)
}

/// A request in the `sip` form: a message/sip copy with Date, signed.
fn signed_sip(s: &Signer, from: &str, when: i64) -> Vec<u8> {
    let extra = format!("Date: {}\r\n", date(when));
    let h = head(true, from, "sip:bob@example.net", &extra);
    let inner = with_body(&h, "application/sdp", SDP);
    let e = entity("message/sip", &inner);
    let (ct, body) = multipart_signed(&e, &detached(&e, s), "sha-256", false);
    with_body(&h, &ct, &body)
}

fn verify(store: &Path, args: &[&str], input: &[u8]) -> Outcome {
    tool(BIN, store, args, input)
}

fn result(v: &Value, check: &str) -> String {
    v[check]["result"].as_str().unwrap_or("missing").to_string()
}

fn assert_all_pass(o: &Outcome) {
    let v = o.verdict();
    for c in ["integrity", "trust", "identity", "replay", "coverage"] {
        assert_eq!(result(v, c), "pass", "{c}: {v}");
    }
    assert_eq!(o.code, 0, "{v}");
}

#[test]
fn body_form_verifies_but_covers_no_header_so_earns_no_mark() {
    let pki = Pki::new();
    let s = pki.signer("sip:alice@example.com");
    let o = verify(
        &pki.store,
        &["--require", "identity"],
        &signed_body(&s, "sip:alice@example.com"),
    );
    assert_all_pass(&o);
    let v = o.verdict();
    assert_eq!(result(v, "freshness"), "absent");
    assert_eq!(v["coverage"]["body"], "yes");
    assert_eq!(v["marked"], false);
    assert!(v["mark_refused"]
        .as_str()
        .unwrap()
        .contains("does not cover the From, Call-ID, CSeq"));
    let text = o.text();
    assert!(!text.contains("validated"), "{text}");
    assert!(
        text.contains("signer=\"sip:alice@example.com\"\r\n"),
        "{text}"
    );
    assert!(
        text.contains("Sipsec-Verdict: signed=yes;form=body;integrity=pass"),
        "{text}"
    );
}

#[test]
fn unsigned_messages_get_a_verdict_too() {
    let pki = Pki::new();
    let plain = with_body(
        &head(true, "sip:alice@example.com", "sip:bob@example.net", ""),
        "application/sdp",
        SDP,
    );
    let o = verify(&pki.store, &[], &plain);
    assert_eq!(o.code, 0);
    assert!(o.text().contains("Sipsec-Verdict: signed=no\r\n"));
    assert!(!o.text().contains("validated"));
    // The same under --require signed is refused.
    let o = verify(&pki.store, &["--require", "signed"], &plain);
    assert_eq!(o.code, 1);
    assert_eq!(o.refusal(), "not signed");
    assert!(o.stdout.is_empty());
}

#[test]
fn peer_policy_notices_a_stripped_signature() {
    let pki = Pki::new();
    let policy = write(&pki.dir, "peers", b"# must sign\nexample.com\n");
    let plain = with_body(
        &head(true, "sip:alice@example.com", "sip:bob@example.net", ""),
        "application/sdp",
        SDP,
    );
    let o = verify(&pki.store, &["--peer-policy", &policy], &plain);
    assert_eq!(o.code, 1);
    assert_eq!(o.refusal(), "not signed");
    let other = with_body(
        &head(true, "sip:carol@example.org", "sip:bob@example.net", ""),
        "application/sdp",
        SDP,
    );
    assert_eq!(
        verify(&pki.store, &["--peer-policy", &policy], &other).code,
        0
    );
}

#[test]
fn sip_form_checks_inner_against_outer_and_freshness() {
    let pki = Pki::new();
    let s = pki.signer("sip:alice@example.com");
    let t = now();
    let msg = signed_sip(&s, "sip:alice@example.com", t - 10);
    let o = verify(&pki.store, &["--require", "fresh", "--unwrap"], &msg);
    assert_all_pass(&o);
    assert_eq!(result(o.verdict(), "freshness"), "pass");
    assert_eq!(result(o.verdict(), "inner_outer"), "pass");
    // --unwrap gives the terminal the SDP with its own Content-Type.
    let text = o.text();
    assert!(text.contains("Content-Type: application/sdp\r\n"), "{text}");
    assert!(o.stdout.ends_with(SDP), "{text}");

    // A covered outer header changed in transit: the inner copy disagrees.
    let tampered = replace(&msg, "Call-ID: a84b4c76e66710", "Call-ID: a84b4c76e66711");
    let o = verify(&pki.store, &["--require", "identity"], &tampered);
    assert_eq!(o.code, 1);
    assert_eq!(result(o.verdict(), "inner_outer"), "fail");
    assert!(
        o.refusal().contains("inner_outer failed") && o.refusal().contains("call-id"),
        "{}",
        o.refusal()
    );
    // A proxy may change Max-Forwards and add a Via: still fine.
    let routed = replace(&msg, "Max-Forwards: 70", "Max-Forwards: 69");
    let routed = replace(
        &routed,
        "Via:",
        "Via: SIP/2.0/UDP proxy.example.net;branch=z9hG4bKp\r\nVia:",
    );
    let o = verify(&pki.store, &["--require", "fresh"], &routed);
    assert_all_pass(&o);
}

#[test]
fn stale_and_future_dates_are_refused() {
    let pki = Pki::new();
    let s = pki.signer("sip:alice@example.com");
    let o = verify(
        &pki.store,
        &["--require", "fresh"],
        &signed_sip(&s, "sip:alice@example.com", now() - 7200),
    );
    assert_eq!(o.code, 1);
    assert!(
        o.refusal().contains("freshness failed") && o.refusal().contains("old"),
        "{}",
        o.refusal()
    );
    let o = verify(
        &pki.store,
        &["--require", "fresh"],
        &signed_sip(&s, "sip:alice@example.com", now() + 3600),
    );
    assert_eq!(o.code, 1);
    assert!(o.refusal().contains("in the future"), "{}", o.refusal());
    // A wider window accepts the old one; freshness is reported on its own either way.
    let o = verify(
        &pki.store,
        &["--require", "fresh", "--window", "86400"],
        &signed_sip(&s, "sip:alice@example.com", now() - 7200),
    );
    assert_eq!(o.code, 0, "{}", o.verdict());
    // Without --require fresh, a stale message passes but is not marked.
    let o = verify(
        &pki.store,
        &["--require", "identity"],
        &signed_sip(&s, "sip:alice@example.com", now() - 7200),
    );
    assert_eq!(o.code, 0);
    assert_eq!(result(o.verdict(), "freshness"), "fail");
    assert!(!o.text().contains("validated"));
}

#[test]
fn retransmission_is_not_a_replay_but_a_later_repeat_is() {
    use sipsec::filter::{Filter, MessageContext, Origin};
    use sipsec::tool::verify::{Require, Verify, VerifyOptions};
    let pki = Pki::new();
    let s = pki.signer("sip:alice@example.com");
    let t = now() - 600;
    let msg = sipsec::Message::parse(signed_sip(&s, "sip:alice@example.com", t)).unwrap();
    let verifier = Verify::new(
        Store::open(&pki.store).unwrap(),
        VerifyOptions {
            require: Require::Fresh,
            ..VerifyOptions::default()
        },
    );
    // Judged at the capture times (what the driver passes for a capture input): a copy 5 s
    // later is a retransmission, one 40 s later (past the 32 s interval) a replay.
    let at = |secs: i64| MessageContext {
        origin: Origin {
            timestamp: Some(sipsec::capture::Timestamp::from_duration(
                std::time::Duration::from_secs(secs as u64),
            )),
            ..Origin::default()
        },
        ..MessageContext::default()
    };
    let first = verifier.process(&msg, &at(t)).unwrap();
    assert_eq!(first.verdict.fields["replay"]["seen"], "first");
    let again = verifier.process(&msg, &at(t + 5)).unwrap();
    assert_eq!(again.verdict.fields["replay"]["seen"], "retransmission");
    let replay = verifier.process(&msg, &at(t + 40)).err().unwrap();
    assert_eq!(replay.verdict.fields["replay"]["seen"], "replay");
    assert!(replay.reason.contains("replay failed"), "{}", replay.reason);

    // A full cache refuses new messages rather than forgetting old ones.
    // (Different Dates: RSA signatures over the same bytes in the same second are identical.)
    let other = signed_sip(&s, "sip:alice@example.com", now() - 1);
    let mut both = signed_sip(&s, "sip:alice@example.com", now());
    both.extend_from_slice(&other);
    let o = verify(
        &pki.store,
        &["--require", "signed", "--replay-cache", "1"],
        &both,
    );
    assert_eq!(o.code, 1);
    assert!(o.records[1]["refusal"]["reason"]
        .as_str()
        .unwrap()
        .contains("full"));
}

#[test]
fn flipped_bytes_are_integrity_failures() {
    let pki = Pki::new();
    let s = pki.signer("sip:alice@example.com");
    let msg = signed_body(&s, "sip:alice@example.com");
    // In the signed part (the SDP).
    let at = common::find(&msg, b"o=alice", 0).unwrap();
    let mut bad = msg.clone();
    bad[at + 2] ^= 0x01;
    let o = verify(&pki.store, &["--require", "signed"], &bad);
    assert_eq!(o.code, 1);
    assert!(o.refusal().contains("integrity failed"), "{}", o.refusal());
    // In the signature (its last byte, part of the RSA signature value).
    let end = common::find(&msg, b"\r\n--boundary42--", 0).unwrap();
    let mut bad = msg.clone();
    bad[end - 1] ^= 0x01;
    let o = verify(&pki.store, &["--require", "signed"], &bad);
    assert_eq!(o.code, 1);
    assert!(o.refusal().contains("integrity failed"), "{}", o.refusal());
    // A truncated signed part (Content-Length kept consistent): the signature no longer fits.
    let body_len = msg.len() - common::find(&msg, b"\r\n\r\n", 0).unwrap() - 4;
    let cut = replace(
        &msg,
        "m=audio 49170 RTP/AVP 0\r\n",
        "m=audio 49170 RTP/AVP 0",
    );
    let cut = replace(
        &cut,
        &format!("Content-Length: {body_len}"),
        &format!("Content-Length: {}", body_len - 2),
    );
    let o = verify(&pki.store, &["--require", "signed"], &cut);
    assert_eq!(o.code, 1);
    assert!(o.refusal().contains("integrity failed"), "{}", o.refusal());
    // A message cut short inside the multipart: damaged, not repaired.
    let short = &msg[..end];
    let o = verify(&pki.store, &["--require", "signed", "--datagram"], short);
    assert_eq!(o.code, 1);
    assert!(
        o.refusal().contains("not repaired") || o.refusal().contains("Content-Length"),
        "{}",
        o.refusal()
    );
}

#[test]
fn untrusted_expired_and_revoked_certificates_are_refused() {
    let pki = Pki::new();
    let stranger = Ca::new(KeyKind::Rsa);
    let (cert, key) = stranger.leaf(KeyKind::Rsa, "sip:alice@example.com");
    let s = Signer {
        cert,
        key,
        chain: vec![],
    };
    let o = verify(
        &pki.store,
        &["--require", "trusted"],
        &signed_body(&s, "sip:alice@example.com"),
    );
    assert_eq!(o.code, 1);
    assert!(
        o.refusal().contains("trust failed") && o.refusal().contains("no chain to a trust anchor"),
        "{}",
        o.refusal()
    );
    assert_eq!(result(o.verdict(), "integrity"), "pass");

    let (cert, key) = pki.inter.leaf_with(
        KeyKind::Rsa,
        "sip:alice@example.com",
        Validity::Expired,
        true,
    );
    let s = Signer {
        cert,
        key,
        chain: vec![pki.inter.cert.clone()],
    };
    let o = verify(
        &pki.store,
        &["--require", "trusted"],
        &signed_body(&s, "sip:alice@example.com"),
    );
    assert_eq!(o.code, 1);
    assert!(o.refusal().contains("expired"), "{}", o.refusal());
    // Judged at a time inside its validity (a capture's time, or --now), it is trusted.
    let then = (now() - 5 * 86_400).to_string();
    let o = verify(
        &pki.store,
        &["--require", "trusted", "--now", &then],
        &signed_body(&s, "sip:alice@example.com"),
    );
    assert_eq!(o.code, 0, "{}", o.verdict());

    let s = pki.signer("sip:alice@example.com");
    let crl = pki.inter.crl(&[&s.cert]);
    std::fs::write(pki.store.join("crl/inter.pem"), crl.to_pem().unwrap()).unwrap();
    let root_crl = pki.root.crl(&[]);
    std::fs::write(pki.store.join("crl/root.pem"), root_crl.to_pem().unwrap()).unwrap();
    let o = verify(
        &pki.store,
        &["--require", "trusted"],
        &signed_body(&s, "sip:alice@example.com"),
    );
    assert_eq!(o.code, 1);
    assert!(o.refusal().contains("revoked"), "{}", o.refusal());
    let good = pki.signer("sip:alice@example.com");
    let o = verify(
        &pki.store,
        &["--require", "trusted"],
        &signed_body(&good, "sip:alice@example.com"),
    );
    assert_eq!(o.code, 0, "{}", o.verdict());
}

#[test]
fn a_certificate_for_another_uri_or_a_plain_domain_certificate_is_refused() {
    let pki = Pki::new();
    let s = pki.signer("sip:mallory@example.com");
    let o = verify(
        &pki.store,
        &["--require", "identity"],
        &signed_body(&s, "sip:alice@example.com"),
    );
    assert_eq!(o.code, 1);
    assert!(
        o.refusal().contains("identity failed") && o.refusal().contains("sip:mallory@example.com"),
        "{}",
        o.refusal()
    );
    assert_eq!(result(o.verdict(), "trust"), "pass");

    // A certificate naming only the domain, without id-kp-sipDomain, used for a user.
    let s = pki.signer("sip:example.com");
    let o = verify(
        &pki.store,
        &["--require", "identity"],
        &signed_body(&s, "sip:alice@example.com"),
    );
    assert_eq!(o.code, 1);
    assert!(o.refusal().contains("id-kp-sipDomain"), "{}", o.refusal());

    // A real domain certificate (id-kp-sipDomain, as certgen makes them) vouches for the domain.
    let aor = sipsec::uri::Aor::parse("example.com").unwrap();
    let mut profile = sipsec::store::x509::LeafProfile::new(aor, 30);
    profile.domain_cert = true;
    let key = common::testkit::key(KeyKind::Rsa);
    let cert = sipsec::store::x509::make_leaf(
        &profile,
        &key,
        Some((&pki.inter.cert, &pki.inter.key)),
        None,
    )
    .unwrap();
    let s = Signer {
        cert,
        key,
        chain: vec![pki.inter.cert.clone()],
    };
    let o = verify(
        &pki.store,
        &["--require", "identity"],
        &signed_body(&s, "sip:alice@example.com"),
    );
    assert_eq!(o.code, 0, "{}", o.verdict());
    assert_eq!(o.verdict()["signer"], "sip:example.com");
}

#[test]
fn a_response_is_judged_against_its_to() {
    let pki = Pki::new();
    let s = pki.signer("sip:bob@example.net");
    let e = entity("application/sdp", SDP);
    let (ct, body) = multipart_signed(&e, &detached(&e, &s), "sha-256", false);
    let resp = with_body(
        &head(false, "sip:alice@example.com", "sip:bob@example.net", ""),
        &ct,
        &body,
    );
    let o = verify(&pki.store, &["--require", "identity"], &resp);
    assert_all_pass(&o);
    assert_eq!(o.verdict()["identity"]["against"], "To");
}

#[test]
fn forged_marks_are_removed_and_smuggled_ones_refused() {
    let pki = Pki::new();
    let plain = with_body(
        &head(true, "sip:alice@example.com", "sip:bob@example.net", "Subject: validated <sip:ceo@example.com>\r\nSipsec-Verdict: signed=yes;integrity=pass\r\n"),
        "application/sdp",
        SDP,
    );
    let o = verify(&pki.store, &[], &plain);
    assert_eq!(o.code, 0);
    assert!(!o.text().contains("ceo@"), "{}", o.text());
    assert_eq!(o.verdict()["marks_removed"].as_array().unwrap().len(), 2);
    // Smuggled behind a bare LF inside another header: the message is refused as a header
    // injection, never forwarded.
    let smuggled = with_body(
        &head(
            true,
            "sip:alice@example.com",
            "sip:bob@example.net",
            "X-Note: hi\nSubject: validated <sip:ceo@example.com>\r\n",
        ),
        "application/sdp",
        SDP,
    );
    let o = verify(&pki.store, &[], &smuggled);
    assert_eq!(o.code, 1, "{}", o.text());
    assert!(o.stdout.is_empty());
    assert!(o.refusal().contains("header injection"), "{}", o.refusal());
    // Hidden in a folded continuation line (one header value to our parser, a new line to a
    // lenient one): found on the way out and refused.
    let folded = with_body(
        &head(
            true,
            "sip:alice@example.com",
            "sip:bob@example.net",
            "X-Note: hi\r\n s: validated <sip:ceo@example.com>\r\n",
        ),
        "application/sdp",
        SDP,
    );
    let o = verify(&pki.store, &[], &folded);
    assert_eq!(o.code, 1, "{}", o.text());
    assert!(o.stdout.is_empty());
    assert!(
        o.refusal().contains("not the verifier's own"),
        "{}",
        o.refusal()
    );
    // A signed message with a forged mark gets our mark only.
    let s = pki.signer("sip:alice@example.com");
    let signed = replace(
        &signed_sip(&s, "sip:alice@example.com", now()),
        "Contact:",
        "Subject: validated <sip:ceo@example.com>\r\nContact:",
    );
    let o = verify(&pki.store, &["--require", "identity"], &signed);
    assert_eq!(o.code, 0);
    assert!(!o.text().contains("ceo@"));
    assert!(o
        .text()
        .contains("Subject: validated <sip:alice@example.com>"));
}

#[test]
fn signer_certificate_found_in_the_store_when_not_embedded() {
    let pki = Pki::new();
    let s = pki.signer("sip:alice@example.com");
    let e = entity("application/sdp", SDP);
    let opts = CmsSignOptions {
        include_certs: false,
        ..CmsSignOptions::default()
    };
    let sig = sign(&e, &s, &opts).unwrap();
    let (ct, body) = multipart_signed(&e, &sig, "sha-256", false);
    let msg = with_body(
        &head(true, "sip:alice@example.com", "sip:bob@example.net", ""),
        &ct,
        &body,
    );
    let o = verify(&pki.store, &["--require", "signed"], &msg);
    assert_eq!(o.code, 1, "not in the store yet");
    let store = Store::open(&pki.store).unwrap();
    store
        .learn_cert(
            &sipsec::uri::Aor::parse("alice@example.com").unwrap(),
            &s.cert,
        )
        .unwrap();
    // The intermediate is needed for the chain: give it as an anchor-side certificate.
    store
        .add_anchor(std::slice::from_ref(&pki.inter.cert))
        .unwrap();
    let o = verify(&pki.store, &["--require", "identity"], &msg);
    assert_all_pass(&o);
    assert_eq!(
        o.verdict()["integrity"]["signer_certificate"],
        "store (by AOR)"
    );
    // Under another From, the AOR finds nothing; issuer and serial still find it (identity
    // then fails, as it should).
    let other = with_body(
        &head(true, "sip:carol@example.com", "sip:bob@example.net", ""),
        &ct,
        &body,
    );
    let o = verify(&pki.store, &["--require", "signed"], &other);
    assert_eq!(o.code, 0, "{}", o.verdict());
    assert_eq!(
        o.verdict()["integrity"]["signer_certificate"],
        "store (by issuer and serial)"
    );
    assert_eq!(result(o.verdict(), "identity"), "fail");
}

#[test]
fn learn_certs_only_after_trust_and_identity() {
    let pki = Pki::new();
    let good = pki.signer("sip:alice@example.com");
    let o = verify(
        &pki.store,
        &["--learn-certs"],
        &signed_body(&good, "sip:alice@example.com"),
    );
    assert_eq!(
        o.verdict()["identity"]["learned"],
        "stored",
        "{}",
        o.verdict()
    );
    let learned = Store::open(&pki.store).unwrap().learned().unwrap();
    assert_eq!(learned.len(), 1);
    let liar = pki.signer("sip:mallory@example.com");
    verify(
        &pki.store,
        &["--learn-certs"],
        &signed_body(&liar, "sip:carol@example.com"),
    );
    assert_eq!(Store::open(&pki.store).unwrap().learned().unwrap().len(), 1);
    // A second certificate for alice never replaces the first.
    let again = pki.signer("sip:alice@example.com");
    let o = verify(
        &pki.store,
        &["--learn-certs"],
        &signed_body(&again, "sip:alice@example.com"),
    );
    assert!(o.verdict()["identity"]["learned"]
        .as_str()
        .unwrap()
        .contains("not overwritten"));
}

#[test]
fn aib_in_multipart_mixed_does_not_cover_the_sdp_and_cms_form_covers_no_header() {
    let pki = Pki::new();
    let s = pki.signer("sip:alice@example.com");
    let t = now();
    let h = head(
        true,
        "sip:alice@example.com",
        "sip:bob@example.net",
        &format!("Date: {}\r\n", date(t)),
    );
    let frag = format!(
        "INVITE sip:bob@example.net SIP/2.0\r\nFrom: <sip:alice@example.com>;tag=1928\r\nTo: <sip:bob@example.net>\r\n\
         Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nDate: {}\r\nContact: <sip:alice@192.0.2.1>\r\n\r\n",
        date(t)
    );
    let e = format!(
        "Content-Type: message/sipfrag\r\nContent-Disposition: aib;handling=optional\r\n\r\n{frag}"
    )
    .into_bytes();
    let (sct, sbody) = multipart_signed(&e, &detached(&e, &s), "sha-256", false);
    let mut mixed = b"--outer\r\nContent-Type: application/sdp\r\n\r\n".to_vec();
    mixed.extend_from_slice(SDP);
    mixed.extend_from_slice(format!("\r\n--outer\r\nContent-Type: {sct}\r\n\r\n").as_bytes());
    mixed.extend_from_slice(&sbody);
    mixed.extend_from_slice(b"\r\n--outer--\r\n");
    let msg = with_body(&h, "multipart/mixed;boundary=outer", &mixed);
    let o = verify(&pki.store, &["--require", "fresh", "--unwrap"], &msg);
    assert_all_pass(&o);
    assert_eq!(o.verdict()["form"], "aib");
    assert_eq!(o.verdict()["coverage"]["body"], "no");
    assert!(o.stdout.ends_with(SDP), "{}", o.text());
    // Changing the From outside is an inner-outer failure.
    let forged = replace(
        &msg,
        "From: <sip:alice@example.com>;tag=1928",
        "From: <sip:alice@example.com>;tag=9999",
    );
    let o = verify(&pki.store, &["--require", "identity"], &forged);
    assert_eq!(o.code, 1);
    assert!(o.refusal().contains("from"), "{}", o.refusal());

    // cms form: attached signed-data, base64.
    let e = entity("application/sdp", SDP);
    let att = sign(
        &e,
        &s,
        &CmsSignOptions {
            detached: false,
            ..CmsSignOptions::default()
        },
    )
    .unwrap();
    let b64 = openssl::base64::encode_block(&att);
    let h = head(
        true,
        "sip:alice@example.com",
        "sip:bob@example.net",
        "Content-Transfer-Encoding: base64\r\n",
    );
    let msg = with_body(
        &h,
        "application/pkcs7-mime;smime-type=signed-data;name=smime.p7m",
        b64.as_bytes(),
    );
    let o = verify(&pki.store, &["--require", "identity", "--unwrap"], &msg);
    assert_all_pass(&o);
    assert_eq!(o.verdict()["form"], "cms");
    assert!(o.verdict()["coverage"]["note"]
        .as_str()
        .unwrap()
        .contains("no outer header"));
    assert!(o.stdout.ends_with(SDP));
    assert!(!o.text().contains("Content-Transfer-Encoding"));
}

#[test]
fn openssl_cli_signatures_verify() {
    let Some(ossl) = openssl_cli() else { return };
    let pki = Pki::new();
    let s = pki.signer("sip:alice@example.com");
    let cert = write_cert(&pki.dir, "alice.pem", &s.cert);
    let key = write_key(&pki.dir, "alice.key", &s.key);
    let chain = write_cert(&pki.dir, "inter.pem", &pki.inter.cert);
    let e = entity("application/sdp", SDP);
    let content = write(&pki.dir, "content", &e);
    for (md, micalg) in [
        ("sha1", "sha1"),
        ("sha256", "sha-256"),
        ("sha256", "sha256"),
    ] {
        for certs in [true, false] {
            for base64 in [false, true] {
                let out = pki.dir.join("sig.der");
                let out_s = out.to_str().unwrap();
                let mut args = vec![
                    "cms",
                    "-sign",
                    "-binary",
                    "-outform",
                    "DER",
                    "-md",
                    md,
                    "-in",
                    &content,
                    "-signer",
                    &cert,
                    "-inkey",
                    &key,
                    "-out",
                    out_s,
                    "-certfile",
                    &chain,
                ];
                if !certs {
                    args.push("-nocerts");
                }
                let (ok, text) = run(&ossl, &args);
                assert!(ok, "{text}");
                let sig = std::fs::read(&out).unwrap();
                let (ct, body) = multipart_signed(&e, &sig, micalg, base64);
                let msg = with_body(
                    &head(true, "sip:alice@example.com", "sip:bob@example.net", ""),
                    &ct,
                    &body,
                );
                if !certs {
                    let store = Store::open(&pki.store).unwrap();
                    let aor = sipsec::uri::Aor::parse("alice@example.com").unwrap();
                    if store.learned().unwrap().is_empty() {
                        store.learn_cert(&aor, &s.cert).unwrap();
                        store
                            .add_anchor(std::slice::from_ref(&pki.inter.cert))
                            .unwrap();
                    }
                }
                let o = verify(&pki.store, &["--require", "identity"], &msg);
                assert_all_pass(&o);
                let want = if md == "sha1" { "sha-1" } else { "sha-256" };
                assert_eq!(o.verdict()["integrity"]["digest"], want);
            }
        }
    }
}

fn rfc6216_store(dir: &Path) -> PathBuf {
    let v = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rfc6216/pem");
    let store_path = dir.join("store");
    let store = Store::create(&store_path).unwrap();
    let read = |n: &str| X509::from_pem(&std::fs::read(v.join(n)).unwrap()).unwrap();
    store
        .add_anchor(&[read("02-cert-sipit-test-ca.pem")])
        .unwrap();
    let fluffy = sipsec::uri::Aor::parse("fluffy@example.com").unwrap();
    store
        .learn_cert(
            &fluffy,
            &read("03-eku-cert-fluffy-s-user-certificate-for-example-com.pem"),
        )
        .unwrap();
    store_path
}

#[test]
fn rfc6216_restored_messages_verify_and_captured_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = rfc6216_store(dir.path());
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rfc6216");
    for name in [
        "smime-msg.dat",
        "cms-smime-msg.dat",
        "smime-sign-encrypt.dat",
    ] {
        let msg = std::fs::read(base.join(name)).unwrap();
        let o = verify(&store, &["--require", "identity", "--datagram"], &msg);
        assert_all_pass(&o);
        assert_eq!(o.verdict()["integrity"]["digest"], "sha-1");
        // Signed bodies without a signed copy of the headers: verdict, never the mark.
        assert_eq!(o.verdict()["signer"], "sip:fluffy@example.com", "{name}");
        assert_eq!(o.verdict()["marked"], false, "{name}");
        assert!(!o.text().contains("validated"), "{name}");
    }
    for name in [
        "smime-msg.dat",
        "cms-smime-msg.dat",
        "smime-sign-encrypt.dat",
    ] {
        let msg = std::fs::read(base.join("captured").join(name)).unwrap();
        let o = verify(&store, &["--require", "signed", "--datagram"], &msg);
        assert_eq!(o.code, 1, "{name}");
        assert!(
            o.refusal().contains("not repaired"),
            "{name}: {}",
            o.refusal()
        );
        assert!(o.stdout.is_empty());
    }
}

/// A store made with sipsec-certgen as an administrator would: keys encrypted under a
/// passphrase, a root, an issuing CA constrained to example.com, and alice's identity; also
/// the store opened with the passphrase, for minting.
fn certgen_store(dir: &Path) -> (PathBuf, Store) {
    let store = dir.join("store");
    let pass = common::write(dir, "pass", b"s3cret passphrase\n");
    unwrapkit::certgen(
        &store,
        &[
            &["--passphrase-file", &pass, "init-ca"],
            &[
                "--passphrase-file",
                &pass,
                "init-intermediate",
                "--domain",
                "example.com",
            ],
            &["--passphrase-file", &pass, "issue", "sip:alice@example.com"],
        ],
    );
    let opened = Store::open(&store)
        .unwrap()
        .with_passphrase(Some(&PassSource::File(pass.into())))
        .unwrap();
    (store, opened)
}

#[test]
fn a_certificate_outside_the_issuing_cas_name_constraints_is_untrusted() {
    let dir = tempfile::tempdir().unwrap();
    let (store, opened) = certgen_store(dir.path());
    // Verification reads no private key, so the encrypted store needs no passphrase here.
    let id = opened
        .signing_identity(&Aor::parse("alice@example.com").unwrap())
        .unwrap();
    let alice = Signer {
        cert: id.cert,
        key: id.key,
        chain: id.chain,
    };
    let o = verify(
        &store,
        &["--require", "identity"],
        &signed_body(&alice, "sip:alice@example.com"),
    );
    assert_all_pass(&o);

    // What a thief of the issuing key could mint, bypassing certgen's own domain check.
    let ca = opened.issuing_ca().unwrap().unwrap();
    let mint = |uri: &str| {
        let key = x509::generate_key(KeyType::P256).unwrap();
        let profile = LeafProfile::new(Aor::parse(uri).unwrap(), 5);
        let cert = x509::make_leaf(&profile, &key, Some((&ca.cert, &ca.key)), None).unwrap();
        Signer {
            cert,
            key,
            chain: vec![ca.cert.clone()],
        }
    };
    // A host below the permitted domain is inside its DNS subtree.
    let carol = mint("sip:carol@sales.example.com");
    let o = verify(
        &store,
        &["--require", "identity"],
        &signed_body(&carol, "sip:carol@sales.example.com"),
    );
    assert_all_pass(&o);

    let mallory = mint("sip:mallory@evil.example");
    let o = verify(
        &store,
        &["--require", "trusted"],
        &signed_body(&mallory, "sip:mallory@evil.example"),
    );
    assert_eq!(o.code, 1, "{}", o.verdict());
    assert_eq!(result(o.verdict(), "integrity"), "pass");
    assert_eq!(result(o.verdict(), "trust"), "fail");
    let why = o.refusal();
    assert!(
        why.contains("trust failed")
            && why.contains("name constraints")
            && why.contains("sip:mallory@evil.example")
            && why.contains("DNS:example.com"),
        "{why}"
    );
    assert!(!o.text().contains("validated"), "{}", o.text());

    // The gap this closes: OpenSSL alone accepts the forged certificate.
    let Some(ossl) = openssl_cli() else { return };
    let leaf = write_cert(dir.path(), "mallory.pem", &mallory.cert);
    let ca_file = write_cert(dir.path(), "ca.pem", &ca.cert);
    let root = store.join("root/cert.pem");
    let (ok, text) = run(
        &ossl,
        &[
            "verify",
            "-CAfile",
            root.to_str().unwrap(),
            "-untrusted",
            &ca_file,
            &leaf,
        ],
    );
    assert!(ok, "{text}");
}

#[test]
fn replays_are_judged_in_input_order_on_every_job_count() {
    let pki = Pki::new();
    let s = pki.signer("sip:alice@example.com");
    // Two different signatures far apart, hundreds of unsigned messages between (several of
    // the driver's batches): with a cache of one entry the first is accepted and the second is
    // the one refused, as the input order says, never the other way round.
    let mut stream = signed_sip(&s, "sip:alice@example.com", now() - 1);
    let plain = with_body(
        &head(true, "sip:carol@example.com", "sip:bob@example.net", ""),
        "application/sdp",
        SDP,
    );
    for _ in 0..1200 {
        stream.extend_from_slice(&plain);
    }
    stream.extend_from_slice(&signed_sip(&s, "sip:alice@example.com", now()));
    for jobs in ["1", "2", "4"] {
        let o = verify(
            &pki.store,
            &["--require", "signed", "--replay-cache", "1", "--jobs", jobs],
            &stream,
        );
        assert_eq!(o.records.len(), 1202, "--jobs {jobs}");
        assert_eq!(result(&o.records[0]["verdict"], "replay"), "pass");
        assert!(
            o.records[1201]["refusal"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("full")),
            "--jobs {jobs}: {}",
            o.records[1201]
        );
        assert_eq!(o.code, 1, "--jobs {jobs}");
    }
}

/// Several jobs: a later signature that is quick to check (alone in its input, so alone in a
/// batch) finishes on its worker long before the batches of signatures before it; the replay
/// cache must still see it last. Decided on the workers, it would take the cache's last place
/// and one of the earlier signatures would be refused.
#[test]
fn a_quick_later_signature_does_not_overtake_the_earlier_ones() {
    let pki = Pki::new();
    let s = pki.signer("sip:alice@example.com");
    let per_input = 12;
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = Vec::new();
    // Distinct signatures: the signed Date differs from one message to the next.
    let mut when = now() - 600;
    for name in ["a", "b", "c", "d"] {
        let count = if name == "d" { 1 } else { per_input };
        let mut stream = Vec::new();
        for _ in 0..count {
            stream.extend_from_slice(&signed_sip(&s, "sip:alice@example.com", when));
            when += 1;
        }
        // Each input well under one read, so each is one batch.
        assert!(stream.len() < 60 * 1024);
        let path = dir.path().join(name);
        std::fs::write(&path, stream).unwrap();
        inputs.push(path.to_str().unwrap().to_string());
    }
    let capacity = (3 * per_input).to_string();
    for jobs in ["1", "4"] {
        let mut args = vec![
            "--require",
            "signed",
            "--replay-cache",
            &capacity,
            "--jobs",
            jobs,
        ];
        args.extend(inputs.iter().map(String::as_str));
        let o = verify(&pki.store, &args, b"");
        let seen: Vec<String> = o
            .records
            .iter()
            .map(|r| {
                let replay = &r["verdict"]["replay"];
                replay["seen"]
                    .as_str()
                    .unwrap_or(replay["result"].as_str().unwrap_or("missing"))
                    .to_string()
            })
            .collect();
        let mut expected = vec!["first".to_string(); 3 * per_input];
        expected.push("unknown".into());
        assert_eq!(seen, expected, "--jobs {jobs}");
        let last = &o.records[3 * per_input];
        assert!(
            last["refusal"]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("full")),
            "--jobs {jobs}: {last}"
        );
    }
}

/// What a trusted signature advertises (SMIMECapabilities) is kept with the learned
/// certificate, and sipsec-encrypt then picks the strongest cipher both sides support; a
/// setting pinned for the peer (sipsec-certgen peer) wins over it, and --cipher over both.
#[test]
fn learned_capabilities_and_peer_settings_choose_the_cipher() {
    let pki = Pki::new();
    let alice = pki.signer("sip:alice@example.com");
    let o = verify(
        &pki.store,
        &["--learn-certs"],
        &signed_body(&alice, "sip:alice@example.com"),
    );
    assert_eq!(o.verdict()["identity"]["capabilities_learned"], "stored");
    let to_alice = with_body(
        &head(true, "sip:bob@example.net", "sip:alice@example.com", ""),
        "application/sdp",
        SDP,
    );
    let encrypt = |args: &[&str]| {
        let o = tool(
            env!("CARGO_BIN_EXE_sipsec-encrypt"),
            &pki.store,
            args,
            &to_alice,
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        let v = o.verdict().clone();
        (
            v["algorithm"].clone(),
            v["cipher_from"].clone(),
            v["rsa_padding"].clone(),
        )
    };
    assert_eq!(
        encrypt(&[]),
        (
            "aes-256-gcm".into(),
            "peer capabilities".into(),
            "oaep".into()
        )
    );
    unwrapkit::certgen(
        &pki.store,
        &[&[
            "peer",
            "sip:alice@example.com",
            "--cipher",
            "aes128",
            "--rsa-padding",
            "pkcs1",
        ]],
    );
    assert_eq!(
        encrypt(&[]),
        ("aes-128-cbc".into(), "peer setting".into(), "pkcs1".into())
    );
    assert_eq!(
        encrypt(&["--cipher", "aes256", "--rsa-padding", "oaep"]),
        ("aes-256-cbc".into(), "option".into(), "oaep".into())
    );
    // A peer the store keeps nothing about gets the documented default.
    for f in std::fs::read_dir(pki.store.join("learned")).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "peer") {
            std::fs::remove_file(f).unwrap();
        }
    }
    assert_eq!(
        encrypt(&[]),
        ("aes-128-cbc".into(), "default".into(), "oaep".into())
    );
}

#[test]
fn a_run_without_records_forwards_and_refuses_exactly_as_one_with_them() {
    // Without --json or --report nobody reads the verdicts' fields and they are not built:
    // what is forwarded, marked, refused and warned about must not change.
    let pki = Pki::new();
    let s = pki.signer("sip:alice@example.com");
    let good = signed_sip(&s, "sip:alice@example.com", now() - 5);
    let other = pki.signer("sip:mallory@example.com");
    let mut input = good.clone();
    for m in [
        good.clone(),
        replace(&good, "Call-ID: a84b4c76e66710", "Call-ID: a84b4c76e66711"),
        replace(
            &signed_sip(&s, "sip:alice@example.com", now() - 4),
            "Contact:",
            "Subject: validated <sip:ceo@example.com>\r\nContact:",
        ),
        signed_sip(&other, "sip:alice@example.com", now() - 3),
        signed_sip(&s, "sip:alice@example.com", now() - 7200),
        with_body(
            &head(true, "sip:alice@example.com", "sip:bob@example.net", ""),
            "application/sdp",
            SDP,
        ),
    ] {
        input.extend_from_slice(&m);
    }
    for args in [
        &["--unwrap", "--retransmit-interval", "0"][..],
        &["--require", "identity", "--retransmit-interval", "0"],
    ] {
        let recorded = verify(&pki.store, args, &input);
        let plain = unwrapkit::wrapkit::run(BIN, &pki.store, args, &input);
        assert_eq!(recorded.records.len(), 7, "{}", recorded.stderr);
        assert!(recorded.text().contains("Subject: validated <sip:alice@"));
        assert_eq!(plain.code, recorded.code, "{args:?}");
        assert_eq!(plain.stdout, recorded.stdout, "{args:?}");
        assert_eq!(plain.stderr, recorded.stderr, "{args:?}");
    }
}
