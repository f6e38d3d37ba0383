//! STIR/SHAKEN interop with real peers: secsipidx (Debian `secsipidx`) signs and sipsec
//! verifies, sipsec signs and `secsipidx -check` verifies; Python `cryptography` checks
//! sipsec's JWS independently (signature over the signing input, canonical JSON). Without a
//! peer a test is skipped with a note, unless `SIPSEC_REQUIRE_PEERS=1`.

mod common;
mod wrapkit;

use common::testkit::{key, now, Ca, KeyKind};
use common::{write, write_key};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use sipsec::identity::sign::{iat_of, origid_for};
use sipsec::identity::sticert::{make_sti_cert, StiProfile};
use sipsec::identity::verify::HeaderOutcome;
use sipsec::identity::x5u::store_entry;
use sipsec::identity::{
    Assertion, Attestation, CallParties, Form, Party, StiPolicy, StiSigner, StiVerifier,
    StirOutcome, TnAuthList, X5uResolver,
};
use sipsec::Message;
use std::path::{Path, PathBuf};
use std::process::Command;

const X5U: &str = "https://sti.example/cert.pem";
const ORIG: &str = "12155550121";
const DEST: &str = "12155550131";
const ORIGID: &str = "123e4567-e89b-12d3-a456-426655440000";

/// `bin` if it runs with `args` and says `expect` (on stdout or stderr: secsipidx prints its
/// version and exits 1); otherwise skipped with a note, or a failure under
/// SIPSEC_REQUIRE_PEERS=1.
fn peer(bin: &str, args: &[&str], expect: &str) -> Option<PathBuf> {
    let runs = Command::new(bin).args(args).output().is_ok_and(|o| {
        let said = [o.stdout, o.stderr].concat();
        String::from_utf8_lossy(&said).contains(expect)
    });
    if runs {
        return Some(PathBuf::from(bin));
    }
    if std::env::var("SIPSEC_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{bin} is required (SIPSEC_REQUIRE_PEERS=1) but `{bin} {args:?}` fails; run scripts/setup.sh --peers");
    }
    eprintln!(
        "note: skipping interop test, {bin} {args:?} does not run (scripts/setup.sh --peers)"
    );
    None
}

fn secsipidx() -> Option<PathBuf> {
    peer("secsipidx", &["-version"], "secsipidx v")
}

/// A Python with `cryptography`: the one on PATH, else Debian's.
fn python() -> Option<PathBuf> {
    let probe = ["-c", "import cryptography"];
    for bin in ["python3", "/usr/bin/python3"] {
        if Command::new(bin)
            .args(probe)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(PathBuf::from(bin));
        }
    }
    peer(
        "/usr/bin/python3",
        &["-c", "import cryptography; print('cryptography')"],
        "cryptography",
    )
}

struct Kit {
    ca: Ca,
    cert: X509,
    key: PKey<Private>,
    signer: StiSigner,
}

fn kit() -> Kit {
    let ca = Ca::new(KeyKind::P256);
    let key = key(KeyKind::P256);
    let profile = StiProfile {
        cn: "interop STI".into(),
        tn_auth: TnAuthList::new(vec!["12155550100+100".parse().unwrap()]).unwrap(),
        not_before: now() - 60,
        not_after: now() + 86_400,
    };
    let cert = make_sti_cert(&profile, &key, (&ca.cert, &ca.key)).unwrap();
    let signer = StiSigner::new(&key, &cert, X5U).unwrap();
    Kit {
        ca,
        cert,
        key,
        signer,
    }
}

fn invite(t: i64, identity: Option<&str>) -> Message {
    let date = sipsec::smime::build::format_date(t);
    let identity = identity
        .map(|i| format!("Identity: {i}\r\n"))
        .unwrap_or_default();
    Message::parse(format!(
        "INVITE sip:+{DEST}@b.example;user=phone SIP/2.0\r\n\
         Via: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\n\
         From: <sip:+{ORIG}@a.example;user=phone>;tag=1\r\n\
         To: <sip:+{DEST}@b.example;user=phone>\r\n\
         Call-ID: interop@a.example\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
         Date: {date}\r\n{identity}Content-Length: 0\r\n\r\n"
    ))
    .unwrap()
}

fn verifier(kit: &Kit, dir: &Path) -> StiVerifier<X5uResolver> {
    store_entry(dir, X5U, &kit.cert.to_pem().unwrap(), now() + 3600).unwrap();
    StiVerifier::new(
        StiPolicy {
            anchors: vec![kit.ca.cert.clone()],
            freshness: 60,
        },
        X5uResolver::new(Some(dir.into()), None, 3600),
    )
}

fn sipsec_identity(kit: &Kit, t: i64) -> String {
    let parties = CallParties::of(&invite(t, None)).unwrap();
    let iat = iat_of(&parties, t, 60).unwrap();
    let assertion = Assertion::Shaken {
        attest: Attestation::A,
        origid: origid_for("sip:agent1@callcentre.example"),
    };
    let p = kit.signer.passport(&parties, &assertion, iat).unwrap();
    kit.signer.identity(&p, Form::Full).unwrap()
}

fn run(bin: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(bin).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn secsipidx_identity_verifies_in_sipsec() {
    let Some(bin) = secsipidx() else { return };
    let kit = kit();
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "sti.key", &kit.key);
    let (ok, value) = run(
        &bin,
        &[
            "-sign-full",
            "-orig-tn",
            ORIG,
            "-dest-tn",
            DEST,
            "-attest",
            "B",
            "-x5u",
            X5U,
            "-orig-id",
            ORIGID,
            "-k",
            &key,
        ],
    );
    assert!(ok, "{value}");
    let value = value.trim();
    let t = now();
    let v = verifier(&kit, &dir.path().join("cache")).verify(&invite(t, Some(value)), t);
    assert_eq!(
        v.outcome(),
        StirOutcome::Verified {
            orig: Party::Tn(ORIG.into()),
            attest: Some(Attestation::B),
            diverted: false
        },
        "{value}: {v:?}"
    );
    // Its token on a call from another number: refused, as with ours.
    let msg = invite(t, Some(value));
    let msg = Message::parse(
        String::from_utf8_lossy(msg.as_bytes()).replace(&format!("+{ORIG}@"), "+12155550122@"),
    )
    .unwrap();
    let v = verifier(&kit, &dir.path().join("cache")).verify(&msg, t);
    assert!(
        matches!(&v.headers[0].outcome, HeaderOutcome::Failed(f) if f.response().code() == 438),
        "{v:?}"
    );
}

#[test]
fn secsipidx_check_accepts_a_sipsec_identity_and_refuses_a_changed_one() {
    let Some(bin) = secsipidx() else { return };
    let kit = kit();
    let dir = tempfile::tempdir().unwrap();
    let public = write(dir.path(), "sti.pub", &kit.key.public_key_to_pem().unwrap());
    let value = sipsec_identity(&kit, now());
    let good = write(dir.path(), "good.txt", value.as_bytes());
    let (ok, text) = run(
        &bin,
        &[
            "-check",
            "-fidentity",
            &good,
            "-fpubkey",
            &public,
            "-expire",
            "60",
        ],
    );
    assert!(ok && text.contains("ok"), "{text}");
    // One character of the signature changed.
    let (token, params) = value.split_once(';').unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let c = if sig.starts_with('A') { 'B' } else { 'A' };
    let changed = format!("{input}.{c}{};{params}", &sig[1..]);
    let bad = write(dir.path(), "bad.txt", changed.as_bytes());
    let (ok, text) = run(
        &bin,
        &[
            "-check",
            "-fidentity",
            &bad,
            "-fpubkey",
            &public,
            "-expire",
            "60",
        ],
    );
    assert!(!ok, "secsipidx accepted a changed signature: {text}");
}

/// An independent check of sipsec's JWS: Python `cryptography` verifies ES256 over the
/// signing input (R||S turned into DER by Python, not by sipsec) and finds both JSON parts
/// in the deterministic form of RFC 8225 §9.
const JWS_CHECK: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
value, pem = sys.argv[1], open(sys.argv[2], "rb").read()
token = value.split(";")[0]
h, p, s = token.split(".")
def b64(x):
    return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
sig = b64(s)
assert len(sig) == 64, len(sig)
r, s_ = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
key = serialization.load_pem_public_key(pem)
key.verify(encode_dss_signature(r, s_), (h + "." + p).encode(), ec.ECDSA(hashes.SHA256()))
for part in (h, p):
    raw = b64(part)
    obj = json.loads(raw)
    assert json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode() == raw, raw
header, claims = json.loads(b64(h)), json.loads(b64(p))
assert header == {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": sys.argv[3]}, header
assert claims["attest"] == "A" and isinstance(claims["iat"], int), claims
print("ok")
"#;

#[test]
fn python_cryptography_verifies_the_jws_independently() {
    let Some(py) = python() else { return };
    let kit = kit();
    let dir = tempfile::tempdir().unwrap();
    let public = write(dir.path(), "sti.pub", &kit.key.public_key_to_pem().unwrap());
    let value = sipsec_identity(&kit, now());
    let (ok, text) = run(&py, &["-c", JWS_CHECK, &value, &public, X5U]);
    assert!(ok && text.trim() == "ok", "{text}");
    // The same check fails on a changed claim: it is not a check that cannot fail.
    let (token, params) = value.split_once(';').unwrap();
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let claims = sipsec::identity::b64url::decode(parts[1].as_bytes()).unwrap();
    let claims = String::from_utf8(claims).unwrap().replace("\"A\"", "\"B\"");
    parts[1] = sipsec::identity::b64url::encode(claims.as_bytes());
    let changed = format!("{};{params}", parts.join("."));
    let (ok, _) = run(&py, &["-c", JWS_CHECK, &changed, &public, X5U]);
    assert!(!ok);
}

/// A call from agent-7 presenting 12155550150 to DEST, dated now, with `identity` if given.
fn call_invite(identity: Option<&str>) -> String {
    let date = sipsec::smime::build::format_date(now());
    let identity = identity
        .map(|i| format!("Identity: {i}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:+{DEST}@carrier.example;user=phone SIP/2.0\r\n\
         Via: SIP/2.0/TCP proxy.callcentre.example;branch=z9hG4bK1\r\n\
         From: <sip:agent-7@callcentre.example>;tag=1\r\n\
         To: <sip:+{DEST}@carrier.example;user=phone>\r\n\
         P-Asserted-Identity: <tel:+12155550150>\r\n\
         Call-ID: interop@callcentre.example\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
         Date: {date}\r\n{identity}Content-Length: 0\r\n\r\n"
    )
}

/// The Identity value `sipsec-sign --identity` gives [`call_invite`] (the group's STI
/// certificate from `Pki::issue_sti`).
fn cli_identity(pki: &wrapkit::Pki) -> String {
    let signed = wrapkit::run(
        env!("CARGO_BIN_EXE_sipsec-sign"),
        &pki.store,
        &["--identity", "--trust-from-header"],
        call_invite(None).as_bytes(),
    );
    let signed = String::from_utf8_lossy(&signed.stdout).into_owned();
    signed
        .lines()
        .find_map(|l| l.strip_prefix("Identity: "))
        .unwrap_or_else(|| panic!("no Identity: {signed}"))
        .to_string()
}

/// The public key of the group's STI certificate, written to `dir`.
fn sti_public_key(pki: &wrapkit::Pki, dir: &Path) -> String {
    let path = pki
        .store
        .join("sti")
        .join(wrapkit::RSA_GROUP)
        .join("cert.pem");
    let cert = X509::from_pem(&std::fs::read(path).unwrap()).unwrap();
    write(
        dir,
        "sti.pub",
        &cert.public_key().unwrap().public_key_to_pem().unwrap(),
    )
}

/// Kamailio's `secsipid` module (Debian `kamailio-secsipid-modules`), on loopback UDP, checks
/// the Identity `sipsec-sign --identity` made, with the STI certificate's public key: 200 when
/// it verifies, 438 when not. The server is killed when the test ends, whatever happens.
#[test]
fn kamailio_secsipid_verifies_a_sipsec_signed_invite() {
    let modules = Path::new("/usr/lib/x86_64-linux-gnu/kamailio/modules/secsipid.so");
    let Some(kamailio) = peer("kamailio", &["-v"], "kamailio") else {
        return;
    };
    if !modules.exists() {
        assert!(
            std::env::var("SIPSEC_REQUIRE_PEERS").as_deref() != Ok("1"),
            "kamailio-secsipid-modules is required (SIPSEC_REQUIRE_PEERS=1)"
        );
        eprintln!(
            "note: skipping, {} is missing (scripts/setup.sh --peers)",
            modules.display()
        );
        return;
    }
    let pki = wrapkit::Pki::new();
    pki.issue_sti("12155550100+100", X5U);
    let dir = tempfile::tempdir().unwrap();
    let public = sti_public_key(&pki, dir.path());
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = format!(
        "#!KAMAILIO\ndebug=1\nlog_stderror=yes\nfork=no\nauto_aliases=no\n\
         listen=udp:127.0.0.1:{port}\nmpath=\"{}/\"\n\
         loadmodule \"sl.so\"\nloadmodule \"secsipid.so\"\n\
         modparam(\"secsipid\", \"expire\", 60)\n\
         request_route {{\n  if (secsipid_check_identity(\"{public}\")) {{\n    \
         sl_send_reply(\"200\", \"Identity OK\");\n  }} else {{\n    \
         sl_send_reply(\"438\", \"Invalid Identity Header\");\n  }}\n  exit;\n}}\n",
        modules.parent().unwrap().display()
    );
    let cfg_path = write(dir.path(), "kamailio.cfg", cfg.as_bytes());
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Killed(
        Command::new(kamailio)
            .args([
                "-f",
                &cfg_path,
                "-DD",
                "-E",
                "-w",
                dir.path().to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_millis(250)))
        .unwrap();
    // The status line Kamailio answers `identity` with; retried while it starts (5 s at most).
    let ask = |identity: &str| -> String {
        let t = now();
        let invite = String::from_utf8(invite(t, Some(identity)).into_bytes()).unwrap();
        let via = format!(
            "Via: SIP/2.0/UDP {};branch=z9hG4bK{t}",
            socket.local_addr().unwrap()
        );
        let invite = invite.replace("Via: SIP/2.0/UDP a.example;branch=z9hG4bK1", &via);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut buf = [0u8; 4096];
        while std::time::Instant::now() < deadline {
            socket
                .send_to(invite.as_bytes(), ("127.0.0.1", port))
                .unwrap();
            if let Ok(n) = socket.recv(&mut buf) {
                let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
                return answer.lines().next().unwrap_or_default().to_string();
            }
        }
        panic!("kamailio did not answer on 127.0.0.1:{port}");
    };
    let value = cli_identity(&pki);
    assert_eq!(ask(&value), "SIP/2.0 200 Identity OK");
    let (token, params) = value.split_once(';').unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let c = if sig.starts_with('A') { 'B' } else { 'A' };
    let changed = format!("{input}.{c}{};{params}", &sig[1..]);
    assert_eq!(ask(&changed), "SIP/2.0 438 Invalid Identity Header");
}

/// The command-line tools against secsipidx: a store's STI identity made by
/// `sipsec-certgen sti`, secsipidx signing with its key and `sipsec-verify` checking, then
/// `sipsec-sign --identity` signing and `secsipidx -check` checking.
#[test]
fn the_tools_interoperate_with_secsipidx_both_ways() {
    let Some(bin) = secsipidx() else { return };
    let pki = wrapkit::Pki::new();
    let cache = pki.issue_sti("12155550100+100", X5U);
    let group = wrapkit::RSA_GROUP;
    let sti_dir = pki.store.join("sti").join(group);
    let key = sti_dir.join("key.pem");
    let (ok, value) = run(
        &bin,
        &[
            "-sign-full",
            "-orig-tn",
            "12155550150",
            "-dest-tn",
            DEST,
            "-attest",
            "A",
            "-x5u",
            X5U,
            "-orig-id",
            ORIGID,
            "-k",
            key.to_str().unwrap(),
        ],
    );
    assert!(ok, "{value}");
    let verified = wrapkit::run(
        env!("CARGO_BIN_EXE_sipsec-verify"),
        &pki.store,
        &[
            "--sti-anchors",
            &pki.ca_file,
            "--x5u-cache",
            cache.to_str().unwrap(),
            "--require",
            "attested=A",
        ],
        call_invite(Some(value.trim())).as_bytes(),
    );
    let forwarded = String::from_utf8_lossy(&verified.stdout).into_owned();
    assert!(
        forwarded.contains("Sipsec-Verdict: signed=no;stir=pass;attest=A\r\n"),
        "{}{forwarded}",
        verified.stderr
    );

    let value = cli_identity(&pki);
    let dir = tempfile::tempdir().unwrap();
    let public = sti_public_key(&pki, dir.path());
    let file = write(dir.path(), "identity.txt", value.as_bytes());
    let (ok, text) = run(
        &bin,
        &[
            "-check",
            "-fidentity",
            &file,
            "-fpubkey",
            &public,
            "-expire",
            "60",
        ],
    );
    assert!(ok && text.contains("ok"), "{text}");
}
