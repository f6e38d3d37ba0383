//! The mark is a promise: each attack of the adversarial review, reproduced end to end through
//! the real binaries (forged with the library's own builders or by re-encoding DER where the
//! openssl CLI cannot), and the refusal with its reason. A call centre's store signs as the
//! group `sip:support@callcentre.example`; the caller's validating proxy trusts the call
//! centre's root and holds its own identity `sip:bob@example.net` for decryption.

mod common;
mod unwrapkit;

use common::der::{Node, SIGNER_INFO};
use common::{find, replace};
use serde_json::Value;
use sipsec::crypto::{encrypt, CmsEncryptOptions};
use sipsec::HeaderKind;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use unwrapkit::{body_of, certgen, tool, with_body, wrapkit, Outcome};

const SIGN: &str = env!("CARGO_BIN_EXE_sipsec-sign");
const VERIFY: &str = env!("CARGO_BIN_EXE_sipsec-verify");
const DECRYPT: &str = env!("CARGO_BIN_EXE_sipsec-decrypt");
const ENCRYPT: &str = env!("CARGO_BIN_EXE_sipsec-encrypt");
const GROUP: &str = "sip:support@callcentre.example";
const SDP: &[u8] = b"v=0\r\no=agent 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const ENVELOPED: &str = "application/pkcs7-mime;smime-type=enveloped-data;name=smime.p7m";

/// The call centre's store (`cc`) and the caller's validating proxy's (`proxy`).
struct World {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    cc: PathBuf,
    proxy: PathBuf,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let cc = path.join("callcentre");
    let proxy = path.join("proxy");
    certgen(
        &cc,
        &[
            &["init-ca", "--cn", "Call centre root CA"],
            &["init-intermediate", "--domain", "callcentre.example"],
            &["issue", GROUP],
            &["group", "add", GROUP, "sip:agent-*@callcentre.example"],
        ],
    );
    let cc_root = cc.join("root/cert.pem");
    certgen(
        &proxy,
        &[
            &["init-ca", "--issuing"],
            &["issue", "sip:bob@example.net"],
            &["anchor", "add", cc_root.to_str().unwrap()],
        ],
    );
    World {
        _dir: dir,
        dir: path,
        cc,
        proxy,
    }
}

impl World {
    fn bob_cert(&self) -> openssl::x509::X509 {
        let pem = std::fs::read(self.proxy.join("identities/bob@example.net/cert.pem")).unwrap();
        openssl::x509::X509::from_pem(&pem).unwrap()
    }
}

/// The head of a request from `from` (a user@host) with `call_id`, lines CRLF-terminated.
fn head(method: &str, from: &str, call_id: &str, extra: &str) -> String {
    format!(
        "{method} sip:bob@example.net SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.7;branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{from}>;tag=f7\r\nTo: <sip:bob@example.net>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContact: <sip:agent@192.0.2.7>\r\n{extra}"
    )
}

/// An agent's request with an SDP body, before signing.
fn agent_request(method: &str, call_id: &str) -> Vec<u8> {
    with_body(
        &head(method, "agent-7@callcentre.example", call_id, ""),
        "application/sdp",
        SDP,
    )
}

/// A 200 OK an agent answers for the group (the To is the group), with an SDP body.
fn agent_answer(call_id: &str) -> Vec<u8> {
    let h = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 198.51.100.7;branch=z9hG4bK{call_id}\r\n\
         From: <sip:caller@example.org>;tag=c1\r\nTo: <{GROUP}>;tag=a7\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:agent-7@203.0.113.40>\r\n"
    );
    with_body(&h, "application/sdp", SDP)
}

/// Signed by the call centre's proxy as the group (`form` None: sipsec-sign's default).
fn sign(w: &World, form: Option<&str>, input: &[u8]) -> Vec<u8> {
    let mut args = vec!["--trust-from-header", "--select", "all"];
    if let Some(f) = form {
        args.extend(["--form", f]);
    }
    tool(SIGN, &w.cc, &args, input).passed()
}

fn verify(w: &World, args: &[&str], input: &[u8]) -> Outcome {
    tool(VERIFY, &w.proxy, args, input)
}

fn is_marked(record: &Value) -> bool {
    record["verdict"]["marked"] == Value::Bool(true)
}

/// Passed on with its verdict but without the mark, and the verdict says why.
fn assert_unmarked(o: &Outcome, why: &str) {
    let v = o.verdict();
    assert_eq!(v["marked"], false, "{v}");
    assert!(!o.text().contains("validated"), "{}", o.text());
    let reason = v["mark_refused"].as_str().unwrap_or_default();
    assert!(
        reason.contains(why),
        "mark_refused {reason:?} should say {why:?}: {v}"
    );
}

fn assert_marked(o: &Outcome, i: usize) {
    assert!(is_marked(&o.records[i]), "{}", o.records[i]);
}

/// The values of every header line named `name` (case-insensitive) in a message's head.
fn header_lines(msg: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(&msg[..find(msg, b"\r\n\r\n", 0).unwrap_or(msg.len())])
        .into_owned();
    let prefix = format!("{}:", name.to_ascii_lowercase());
    text.split("\r\n")
        .filter(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
        .collect()
}

/// The CMS of a signed message in a binary multipart/signed body.
fn signature_of(msg: &[u8]) -> Vec<u8> {
    let m = wrapkit::parse(msg);
    let ct = m.value(HeaderKind::ContentType).unwrap().to_vec();
    wrapkit::signed_parts(&ct, m.body()).1
}

/// The message with its signature's DER replaced (Content-Length follows).
fn with_signature(msg: &[u8], der: &[u8]) -> Vec<u8> {
    let old = signature_of(msg);
    let mut m = wrapkit::parse(msg);
    let body = m.body().to_vec();
    let at = find(&body, &old, 0).expect("a binary signature");
    let mut new = body[..at].to_vec();
    new.extend_from_slice(der);
    new.extend_from_slice(&body[at + old.len()..]);
    m.set_body(&new).unwrap();
    m.into_bytes()
}

/// Item 1: a forged mark inside an envelope (encrypted to the proxy's public certificate by
/// anyone) is never restored by `sipsec-verify --unwrap | sipsec-decrypt`; a mark on the outer
/// message survives decrypt only when the envelope it opened was covered by the signature the
/// mark rests on.
#[test]
fn marks_inside_an_envelope_are_never_restored() {
    let w = world();
    let forged = format!(
        "Subject: validated <{GROUP}>\r\nSipsec-Verdict: signed=yes;form=sip;integrity=pass;\
         coverage=pass;trust=pass;identity=pass;freshness=pass;replay=pass;inner-outer=pass;\
         body=yes;signer=\"{GROUP}\"\r\n"
    );
    let outer_head = head("INVITE", "support@callcentre.example", "env-1", "");
    let inner = with_body(
        &head(
            "INVITE",
            "support@callcentre.example",
            "env-1",
            &format!("{forged}X-Hidden: restored\r\n"),
        ),
        "application/sdp",
        SDP,
    );
    let mut entity = b"Content-Type: message/sip\r\n\r\n".to_vec();
    entity.extend_from_slice(&inner);
    let der = encrypt(&entity, &[w.bob_cert()], &CmsEncryptOptions::default()).unwrap();
    let sealed = with_body(&outer_head, ENVELOPED, &der);

    // The order the decrypt help prescribes for encrypt-then-sign, the verifier's marks
    // vouched for by the run's control header.
    let key = w.dir.join("run.key");
    let key = key.to_str().unwrap();
    let verified = verify(
        &w,
        &["--control-key", key, "--keep-control", "--unwrap"],
        &sealed,
    );
    let d = tool(
        DECRYPT,
        &w.proxy,
        &["--control-key", key],
        &verified.passed(),
    );
    assert_eq!(d.code, 0, "{:?}", d.records);
    let out = d.stdout.clone();
    assert_eq!(body_of(&out), SDP, "the envelope was opened");
    assert_eq!(header_lines(&out, "X-Hidden"), ["restored"]);
    assert!(header_lines(&out, "Subject").is_empty(), "{}", d.text());
    // The verifier's own verdict spoke of an unsigned envelope, which no signature covered:
    // removed once it is opened, and said so.
    assert!(
        header_lines(&out, "Sipsec-Verdict").is_empty(),
        "{}",
        d.text()
    );
    let warnings = d.records[0]["warnings"].to_string();
    assert!(
        warnings.contains("removed the mark Sipsec-Verdict: signed=no;encrypted=yes")
            && warnings.contains("not covered"),
        "{warnings}"
    );
    let removed = d.records[0]["verdict"]["marks_removed"].to_string();
    assert!(
        removed.contains("validated <sip:support@callcentre.example>"),
        "{removed}"
    );

    // decrypt on its own: marks no sipsec-verify of this run made do not pass, and the
    // record says so.
    let marked_outside = with_body(
        &head("INVITE", "support@callcentre.example", "env-2", &forged),
        ENVELOPED,
        &encrypt(
            &[&b"Content-Type: application/sdp\r\n\r\n"[..], SDP].concat(),
            &[w.bob_cert()],
            &CmsEncryptOptions::default(),
        )
        .unwrap(),
    );
    let d = tool(DECRYPT, &w.proxy, &[], &marked_outside);
    assert_eq!(d.code, 0, "{:?}", d.records);
    assert_eq!(body_of(&d.stdout), SDP);
    assert!(!d.text().contains("validated"), "{}", d.text());
    assert!(header_lines(&d.stdout, "Sipsec-Verdict").is_empty());
    let warnings: Vec<String> = d.records[0]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .filter(|w| w.contains("no sipsec-verify of this run made"))
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
}

/// Item 2: the same signature re-encoded is refused: with bytes after the DER or a zero-padded
/// serial (which OpenSSL does not read either) as not DER; with a non-minimal length (BER, which
/// OpenSSL reads, as it must for streaming producers) or carried with other certificates, as a
/// replay of the same signature value.
#[test]
fn replays_re_encoded_are_refused() {
    let w = world();
    let genuine = sign(&w, Some("sip"), &agent_request("INVITE", "replay-1"));
    let der = signature_of(&genuine);
    let (tree, rest) = Node::parse(&der);
    assert!(rest.is_empty());

    let mut trailing = der.clone();
    trailing.extend_from_slice(&[0x05, 0x00]);
    let mut long = tree.clone();
    long.extra_length_octets = 1;
    let mut padded = tree.clone();
    padded.at(&SIGNER_INFO).at(&[1, 1]).bytes().insert(0, 0);
    let mut more_certs = tree.clone();
    let certs = more_certs.at(&[1, 0, 3]);
    let first = certs.children()[0].clone();
    certs.children().push(first);

    let args = ["--require", "fresh", "--retransmit-interval", "0"];
    let variants = [
        ("bytes after the DER", trailing, "not DER"),
        ("a non-minimal length", long.encode(), "replay"),
        ("a zero-padded serial", padded.encode(), "not DER"),
        ("another certificate carried", more_certs.encode(), "replay"),
    ];
    for (what, forged, why) in variants {
        let replayed = with_signature(&genuine, &forged);
        let o = verify(&w, &args, &[genuine.clone(), replayed.clone()].concat());
        assert_eq!(o.records.len(), 2, "{what}");
        assert_marked(&o, 0);
        let reason = o.records[1]["refusal"]["reason"]
            .as_str()
            .unwrap_or_default();
        assert!(
            reason.contains(why),
            "{what}: the replay was not refused for {why:?}: {}",
            o.records[1]
        );
        assert!(!is_marked(&o.records[1]), "{what}");
        assert_eq!(o.code, 1, "{what}");
    }
    // What OpenSSL itself says of the padded serial (the fast path must not be laxer).
    if let Some(ossl) = common::openssl_cli() {
        let sig = common::write(&w.dir, "padded.der", &padded.encode());
        let (ok, text) = common::run(
            &ossl,
            &["cms", "-cmsout", "-inform", "DER", "-in", &sig, "-noout"],
        );
        assert!(!ok, "openssl parsed a zero-padded serial: {text}");
    }
}

/// Item 3: the group's signed body (or CMS) moved into a new MESSAGE to a victim, with a new
/// From tag, Call-ID and a Reply-To of the attacker's, gets its verdict and never the mark;
/// nor does a signed copy without a Date.
#[test]
fn signatures_moved_into_forged_messages_are_not_marked() {
    let w = world();
    for form in ["body", "cms"] {
        let signed = sign(&w, Some(form), &agent_request("MESSAGE", "orig-1"));
        let m = wrapkit::parse(&signed);
        let ct = String::from_utf8_lossy(m.value(HeaderKind::ContentType).unwrap()).into_owned();
        let mut h = "MESSAGE sip:victim@example.net SIP/2.0\r\n\
            Via: SIP/2.0/TCP 203.0.113.66;branch=z9hG4bKevil\r\nMax-Forwards: 70\r\n\
            From: <sip:support@callcentre.example>;tag=attacker\r\n\
            To: <sip:victim@example.net>\r\nCall-ID: forged-call@203.0.113.66\r\n\
            CSeq: 7 MESSAGE\r\nReply-To: <sip:attacker@evil.example>\r\n"
            .to_string();
        if let Some(cte) = m.values_named("Content-Transfer-Encoding").next() {
            h.push_str(&format!(
                "Content-Transfer-Encoding: {}\r\n",
                String::from_utf8_lossy(cte)
            ));
        }
        let transplanted = with_body(&h, &ct, m.body());
        let o = verify(&w, &["--require", "identity", "--unwrap"], &transplanted);
        assert_eq!(
            o.code,
            0,
            "{form}: passes with its verdict: {}",
            o.verdict()
        );
        assert_eq!(o.verdict()["integrity"]["result"], "pass", "{form}");
        assert_unmarked(&o, "does not cover");
    }

    // A message/sip copy signed without a Date (the openssl CLI, with the group's key).
    let Some(ossl) = common::openssl_cli() else {
        return;
    };
    let h = head("MESSAGE", "support@callcentre.example", "nodate-1", "");
    let inner = with_body(&h, "application/sdp", SDP);
    let mut entity = b"Content-Type: message/sip\r\n\r\n".to_vec();
    entity.extend_from_slice(&inner);
    let content = common::write(&w.dir, "entity", &entity);
    let id = w.cc.join("identities/support@callcentre.example");
    let sig = w.dir.join("nodate.der");
    let (ok, text) = common::run(
        &ossl,
        &[
            "cms",
            "-sign",
            "-binary",
            "-outform",
            "DER",
            "-md",
            "sha256",
            "-in",
            &content,
            "-signer",
            id.join("cert.pem").to_str().unwrap(),
            "-inkey",
            id.join("key.pem").to_str().unwrap(),
            "-certfile",
            w.cc.join("ca/cert.pem").to_str().unwrap(),
            "-out",
            sig.to_str().unwrap(),
        ],
    );
    assert!(ok, "{text}");
    let mut body = b"--b1\r\n".to_vec();
    body.extend_from_slice(&entity);
    body.extend_from_slice(b"\r\n--b1\r\nContent-Type: application/pkcs7-signature\r\n\r\n");
    body.extend_from_slice(&std::fs::read(&sig).unwrap());
    body.extend_from_slice(b"\r\n--b1--\r\n");
    let msg = with_body(
        &h,
        "multipart/signed;protocol=\"application/pkcs7-signature\";micalg=sha-256;boundary=b1",
        &body,
    );
    let o = verify(&w, &["--require", "identity", "--unwrap"], &msg);
    assert_eq!(o.code, 0, "{}", o.verdict());
    assert_eq!(o.verdict()["freshness"]["result"], "absent");
    assert_unmarked(&o, "Date");
}

/// Item 4: under an identity body the SDP is not covered: a 200 OK whose c=/m= lines an
/// attacker rewrote is not marked. sipsec-sign's default form covers the body: the same
/// rewrite is refused, and the untouched answer is marked.
#[test]
fn an_uncovered_body_never_carries_the_mark() {
    let w = world();
    let aib = sign(&w, Some("aib"), &agent_answer("aib-1"));
    let rewritten = replace(
        &replace(&aib, "c=IN IP4 192.0.2.7", "c=IN IP4 203.0.1.6"),
        "m=audio 4000",
        "m=audio 6666",
    );
    let o = verify(&w, &["--require", "fresh", "--unwrap"], &rewritten);
    assert_eq!(o.code, 0, "the identity is intact: {}", o.verdict());
    assert_eq!(o.verdict()["coverage"]["body"], "no");
    assert_unmarked(&o, "body");

    let default = sign(&w, None, &agent_answer("default-1"));
    let o = verify(&w, &["--require", "fresh", "--unwrap"], &default);
    assert_eq!(o.code, 0, "{}", o.verdict());
    assert_marked(&o, 0);
    assert_eq!(body_of(&o.stdout), SDP);
    assert_eq!(o.verdict()["coverage"]["body"], "yes");
    let rewritten = replace(&default, "c=IN IP4 192.0.2.7", "c=IN IP4 203.0.1.6");
    let o = verify(&w, &["--require", "fresh", "--unwrap"], &rewritten);
    assert_eq!(o.code, 1, "{}", o.verdict());
    assert!(o.stdout.is_empty());
    assert!(o.refusal().contains("integrity failed"), "{}", o.refusal());
}

/// Item 5: signatures that pass only integrity (a self-made CA for the same AOR) never take
/// replay-cache entries: sixty of them, then the group's genuine one is marked with a
/// 50-entry cache.
#[test]
fn untrusted_signatures_never_evict_genuine_ones() {
    let w = world();
    let evil = w.dir.join("evil");
    certgen(
        &evil,
        &[
            &["init-ca"],
            &["issue", GROUP, "--self-signed"],
            &["group", "add", GROUP, "sip:agent-*@callcentre.example"],
        ],
    );
    let flood: Vec<u8> = (0..60)
        .flat_map(|i| agent_request("MESSAGE", &format!("flood-{i}")))
        .collect();
    let flood = tool(
        SIGN,
        &evil,
        &["--trust-from-header", "--select", "all", "--form", "sip"],
        &flood,
    )
    .passed();
    let genuine = sign(&w, Some("sip"), &agent_request("MESSAGE", "genuine-1"));
    let o = verify(
        &w,
        &["--replay-cache", "50", "--unwrap"],
        &[flood, genuine].concat(),
    );
    assert_eq!(o.records.len(), 61);
    assert_eq!(o.records[0]["verdict"]["trust"]["result"], "fail");
    assert!(!is_marked(&o.records[0]));
    assert_marked(&o, 60);
    assert_eq!(o.code, 0, "{}", o.records[60]);
}

/// Item 6: what the signature does not cover does not reach the terminal without a word: the
/// signed display name replaces a changed one, outer-only headers are listed and (under
/// --require identity) removed, and a Content-Type with a repeated parameter is refused.
#[test]
fn uncovered_parts_of_a_marked_message_are_named_or_removed() {
    let w = world();
    let signed = sign(&w, Some("sip"), &agent_request("INVITE", "uncov-1"));
    let from = header_lines(&signed, "From")[0].clone();
    assert!(
        from.starts_with("<sip:support@callcentre.example>"),
        "{from}"
    );

    let renamed = replace(
        &signed,
        "From: <sip:support",
        "From: \"Your Bank\" <sip:support",
    );
    let o = verify(&w, &["--require", "fresh", "--unwrap"], &renamed);
    assert_eq!(o.code, 0, "{}", o.verdict());
    assert_eq!(
        header_lines(&o.stdout, "From"),
        std::slice::from_ref(&from),
        "{}",
        o.text()
    );

    let added = replace(
        &signed,
        "Contact:",
        "Reply-To: <sip:attacker@evil.example>\r\n\
         Call-Info: <http://evil.example/logo.png>;purpose=icon\r\n\
         Alert-Info: <http://evil.example/ring.wav>\r\nContact:",
    );
    let o = verify(&w, &[], &added);
    let verdict = header_lines(&o.stdout, "Sipsec-Verdict").join("");
    assert!(
        verdict.contains("uncovered=") && verdict.contains("reply-to"),
        "{verdict}"
    );
    assert_eq!(header_lines(&o.stdout, "Reply-To").len(), 1, "listed, kept");
    let o = verify(&w, &["--require", "identity", "--unwrap"], &added);
    assert_eq!(o.code, 0, "{}", o.verdict());
    for h in ["Reply-To", "Call-Info", "Alert-Info"] {
        assert!(header_lines(&o.stdout, h).is_empty(), "{h}: {}", o.text());
    }
    let uncovered = o.verdict()["coverage"]["uncovered"].to_string();
    assert!(uncovered.contains("call-info"), "{}", o.verdict());

    let ct = header_lines(&signed, "Content-Type")[0].clone();
    let doubled = replace(&signed, &ct, &format!("{ct};boundary=\"another-boundary\""));
    let o = verify(&w, &["--require", "identity"], &doubled);
    assert_eq!(o.code, 1, "{}", o.verdict());
    assert!(o.stdout.is_empty());
    assert!(
        o.refusal().contains("repeats") && o.refusal().contains("boundary"),
        "{}",
        o.refusal()
    );
}

/// A tool running with `--json`, fed one message at a time, each record awaited (bounded).
struct Running {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Running {
    fn start(bin: &str, store: &std::path::Path, args: &[&str]) -> Running {
        let mut child = Command::new(bin)
            .arg("--store")
            .arg(store)
            .args(args)
            .arg("--json")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            stdin,
            lines,
        }
    }

    /// The record of one more message.
    fn send(&mut self, message: &[u8]) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(message).unwrap();
        stdin.flush().unwrap();
        let line = self.lines.recv_timeout(Duration::from_secs(30)).unwrap();
        serde_json::from_str(&line).unwrap()
    }

    fn hang_up(&self) {
        // SIGHUP: the tool looks at its store at once.
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// Item 7: a running verify notices a CRL published mid-run (the next message signed with the
/// revoked certificate is refused), and a running sign a member removed from its group.
#[test]
fn a_revocation_mid_run_is_seen_by_the_next_message() {
    let w = world();
    let first = sign(&w, Some("sip"), &agent_request("MESSAGE", "run-1"));
    let second = sign(&w, Some("sip"), &agent_request("MESSAGE", "run-2"));
    let mut verify = Running::start(VERIFY, &w.proxy, &["--require", "trusted"]);
    let record = verify.send(&first);
    assert!(record["refusal"].is_null(), "{record}");
    certgen(&w.cc, &[&["revoke", GROUP]]);
    std::fs::copy(
        w.cc.join("crl/issuing-ca.pem"),
        w.proxy.join("crl/issuing-ca.pem"),
    )
    .unwrap();
    // The documented bound: a store change is seen within a second.
    std::thread::sleep(Duration::from_millis(2500));
    let record = verify.send(&second);
    let reason = record["refusal"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("revoked"), "{record}");

    // sign: agent-7 removed from the group, then a SIGHUP: the next message is not signed.
    let mut signer = Running::start(SIGN, &w.cc, &["--trust-from-header", "--select", "all"]);
    let record = signer.send(&agent_request("MESSAGE", "run-3"));
    assert_eq!(record["disposition"], "changed", "{record}");
    std::fs::write(w.cc.join("groups"), "# group-aor  member-pattern...\n").unwrap();
    signer.hang_up();
    std::thread::sleep(Duration::from_millis(200));
    let record = signer.send(&agent_request("MESSAGE", "run-4"));
    assert_eq!(record["disposition"], "passed-on-failure", "{record}");

    // decrypt: an identity issued mid-run opens its envelopes from the next message on.
    let mut decrypt = Running::start(DECRYPT, &w.proxy, &[]);
    let plain = with_body(
        &head("MESSAGE", "alice@example.com", "run-5", ""),
        "text/plain",
        b"hi",
    );
    assert_eq!(decrypt.send(&plain)["verdict"]["encrypted"], false);
    certgen(&w.proxy, &[&["issue", "sip:carol@example.net"]]);
    let pem = std::fs::read(w.proxy.join("identities/carol@example.net/cert.pem")).unwrap();
    let carol = openssl::x509::X509::from_pem(&pem).unwrap();
    let entity = [&b"Content-Type: application/sdp\r\n\r\n"[..], SDP].concat();
    let der = encrypt(&entity, &[carol], &CmsEncryptOptions::default()).unwrap();
    let to_carol = replace(
        &replace(
            &with_body(
                &head("INVITE", "alice@example.com", "run-6", ""),
                ENVELOPED,
                &der,
            ),
            "INVITE sip:bob@example.net",
            "INVITE sip:carol@example.net",
        ),
        "To: <sip:bob@example.net>",
        "To: <sip:carol@example.net>",
    );
    decrypt.hang_up();
    std::thread::sleep(Duration::from_millis(200));
    let record = decrypt.send(&to_carol);
    assert_eq!(record["verdict"]["result"], "decrypted", "{record}");
}

/// Item 8: an envelope opened only for a recipient this store serves; every failure after
/// the key is used yields the same record (bad CBC padding and an unparsable plaintext alike).
#[test]
fn decrypt_opens_only_its_own_envelopes_and_tells_no_failure_apart() {
    let w = world();
    let entity = [&b"Content-Type: application/sdp\r\n\r\n"[..], SDP].concat();
    let der = encrypt(&entity, &[w.bob_cert()], &CmsEncryptOptions::default()).unwrap();
    let to_bob = with_body(
        &head("INVITE", "alice@example.com", "dec-1", ""),
        ENVELOPED,
        &der,
    );
    let o = tool(DECRYPT, &w.proxy, &[], &to_bob);
    assert_eq!(o.code, 0);
    assert_eq!(body_of(&o.stdout), SDP);

    let elsewhere = replace(
        &replace(
            &to_bob,
            "INVITE sip:bob@example.net",
            "INVITE sip:mallory@evil.example",
        ),
        "To: <sip:bob@example.net>",
        "To: <sip:mallory@evil.example>",
    );
    let o = tool(DECRYPT, &w.proxy, &[], &elsewhere);
    assert_eq!(o.stdout, elsewhere, "not opened, passed on unchanged");
    let warnings = o.records[0]["warnings"].to_string();
    assert!(warnings.contains("not addressed to"), "{}", o.records[0]);
    let o = tool(DECRYPT, &w.proxy, &["--fail-closed"], &elsewhere);
    assert_eq!(o.code, 1);
    assert!(o.refusal().contains("not addressed to"), "{}", o.refusal());

    // The last plaintext byte (the padding length) turned into 0 through the previous block.
    let mut bad_padding = der.clone();
    let pad = 16 - entity.len() % 16;
    let n = bad_padding.len();
    bad_padding[n - 17] ^= pad as u8;
    let not_sip = encrypt(
        b"Content-Type: message/sip\r\n\r\nthis is no SIP message",
        &[w.bob_cert()],
        &CmsEncryptOptions::default(),
    )
    .unwrap();
    let records: Vec<Value> = [bad_padding, not_sip]
        .iter()
        .map(|d| {
            let msg = with_body(
                &head("INVITE", "alice@example.com", "dec-2", ""),
                ENVELOPED,
                d,
            );
            let o = tool(DECRYPT, &w.proxy, &["--fail-closed"], &msg);
            assert_eq!(o.code, 1);
            o.records[0].clone()
        })
        .collect();
    assert_eq!(records[0], records[1], "the two failures must look alike");
}

/// Item 9: a control key owned by another user is refused (root would otherwise trust a key
/// another user planted); every directory and file of a store is checked, as ssh does.
#[test]
fn keys_and_stores_of_other_owners_or_open_modes_are_refused() {
    let w = world();
    let plain = with_body(
        &head("MESSAGE", "alice@example.com", "local-1", ""),
        "text/plain",
        b"hi",
    );
    // Directories made on demand get the store's 0700.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let id_dir = w.proxy.join("identities/bob@example.net");
    assert_eq!(
        std::fs::metadata(&id_dir).unwrap().mode() & 0o777,
        0o700,
        "{id_dir:?}"
    );
    // A directory inside the store that others may write to.
    let learned = w.proxy.join("learned");
    std::fs::set_permissions(&learned, std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = tool(DECRYPT, &w.proxy, &[], &plain);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(o.stderr.contains("learned"), "{}", o.stderr);
    std::fs::set_permissions(&learned, std::fs::Permissions::from_mode(0o700)).unwrap();
    // A store file others may write to.
    let groups = w.cc.join("groups");
    std::fs::set_permissions(&groups, std::fs::Permissions::from_mode(0o666)).unwrap();
    let o = tool(SIGN, &w.cc, &["--trust-from-header"], &plain);
    assert_eq!(o.code, 3, "{}", o.stderr);
    assert!(o.stderr.contains("groups"), "{}", o.stderr);
    std::fs::set_permissions(&groups, std::fs::Permissions::from_mode(0o644)).unwrap();

    // Owners can only be changed by root.
    if running_as_root() {
        let key = w.dir.join("control.key");
        std::fs::write(&key, "ab".repeat(32)).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&key, Some(65534), Some(65534)).unwrap();
        let o = tool(
            VERIFY,
            &w.proxy,
            &["--control-key", key.to_str().unwrap()],
            &plain,
        );
        assert_eq!(o.code, 3, "{}", o.stderr);
        assert!(o.stderr.contains("owned by"), "{}", o.stderr);
        let anchors = w.proxy.join("anchors");
        std::os::unix::fs::chown(&anchors, Some(65534), None).unwrap();
        let o = tool(VERIFY, &w.proxy, &[], &plain);
        assert_eq!(o.code, 3, "{}", o.stderr);
        assert!(o.stderr.contains("owned by"), "{}", o.stderr);
    } else {
        eprintln!("note: not root, the owner checks (chown) are not exercised");
    }
}

/// Whether the test runs as root (owners can be changed); read from /proc, no FFI.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Item 10: encrypt and decrypt name the algorithm alike (rendered from the same value).
#[test]
fn encrypt_and_decrypt_name_the_cipher_alike() {
    let w = world();
    let plain = with_body(
        &head("INVITE", "alice@example.com", "alg-1", ""),
        "application/sdp",
        SDP,
    );
    let e = tool(ENCRYPT, &w.proxy, &[], &plain);
    assert_eq!(e.code, 0, "{}", e.stderr);
    let d = tool(DECRYPT, &w.proxy, &[], &e.stdout);
    assert_eq!(d.code, 0);
    assert_eq!(d.records[0]["verdict"]["algorithm"], "aes-128-cbc");
    assert_eq!(
        e.records[0]["verdict"]["algorithm"], d.records[0]["verdict"]["algorithm"],
        "{}",
        e.records[0]
    );
}

/// A capture's frame time is the attacker's to choose: freshness is still judged at capture
/// time (forensics), and the verdict says so.
#[test]
fn a_capture_is_judged_at_capture_time_and_says_so() {
    let w = world();
    let signed = sign(&w, Some("sip"), &agent_request("MESSAGE", "cap-1"));
    let pcap = w.dir.join("signed.pcap");
    let mut out =
        sipsec::capture::PcapOut::new(std::fs::File::create(&pcap).unwrap(), None).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let origin = sipsec::capture::CaptureOrigin {
        frames: Vec::new(),
        timestamp: sipsec::capture::Timestamp::from_duration(now),
        src: "192.0.2.7:5060".parse().unwrap(),
        dst: "198.51.100.1:5060".parse().unwrap(),
        transport: sipsec::capture::IpProtocol::Udp,
    };
    out.write(&origin, &signed).unwrap();
    drop(out.into_inner());
    let o = verify(&w, &["--pcap", pcap.to_str().unwrap()], b"");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let verdict = header_lines(&o.stdout, "Sipsec-Verdict").join("");
    assert!(verdict.contains("judged-at=capture-time"), "{verdict}");
    assert_eq!(o.verdict()["freshness"]["judged_at"], "capture-time");
}
