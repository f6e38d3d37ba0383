//! Member authentication in a running sipsec-relay, on loopback: SIPp's digest registers an
//! agent for its group and a caller reaches it; and the refusals, each its own test: wrong
//! password, replayed nonce-count, a nonce from another relay's key, digest brute force with
//! sipvicious (slowed, then refused, while the agent still registers). Tests that drive a peer
//! skip when it is missing, and fail instead when SIPSEC_REQUIRE_PEERS=1.

mod relay_common;

use relay_common::{
    free_port, peer_available as have, relay_scenario as scenario, run_sipp as sipp,
    sipp_register_agent_7, start_sipp_agent, Relay,
};
use sipsec::auth::credentials;
use sipsec::auth::digest::{Algorithm, ResponseInput};
use sipsec::header::Auth;
use sipsec::store::policy::MemberPattern;
use sipsec::store::Store;
use sipsec::uri::Aor;
use sipsec::Message;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const DOMAIN: &str = "callcentre.example";
const PASSWORD: &str = "s3cret";

/// A store whose group sip:support@DOMAIN has the agents, and a credentials file for agent-7
/// (and agent-7 at 127.0.0.1, for sipvicious, which registers at the address it sends to).
struct Members {
    _dir: tempfile::TempDir,
    store: PathBuf,
    credentials: PathBuf,
}

impl Members {
    fn new() -> Members {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let mut s = Store::create(&store).unwrap();
        s.add_group_member(
            Aor::parse("sip:support@callcentre.example").unwrap(),
            MemberPattern::parse("sip:agent-*@callcentre.example").unwrap(),
        )
        .unwrap();
        let credentials = dir.path().join("credentials");
        credentials::update(&credentials, |m| {
            for aor in ["sip:agent-7@callcentre.example", "sip:agent-7@127.0.0.1"] {
                m.set(
                    &Aor::parse(aor).unwrap(),
                    PASSWORD.as_bytes(),
                    &Algorithm::ALL,
                )?;
            }
            Ok(())
        })
        .unwrap();
        Members {
            _dir: dir,
            store,
            credentials,
        }
    }

    /// A relay for DOMAIN (and 127.0.0.1) that authenticates members, MD5 offered first (SIPp
    /// and sipvicious read only the first challenge).
    fn relay(&self, transports: &[&str], extra: &[&str]) -> Relay {
        let mut args = vec![
            "--domain",
            DOMAIN,
            "--credentials",
            self.credentials.to_str().unwrap(),
            "--store",
            self.store.to_str().unwrap(),
            "--digest-algorithm",
            "md5",
            "--digest-algorithm",
            "sha-256",
        ];
        args.extend(extra);
        Relay::start(transports, &args)
    }
}

#[test]
fn agent_registers_with_digest_for_its_group_and_a_caller_reaches_it() {
    if !have("sipp", "-v") {
        return;
    }
    let m = Members::new();
    let relay = m.relay(&["udp", "tcp"], &[]);
    let to = format!("127.0.0.1:{}", relay.port);
    let agent = start_sipp_agent(relay.port, PASSWORD);
    relay.wait_for_log("REGISTER support@callcentre.example");
    let caller = free_port().to_string();
    let called = sipp(&[
        &to,
        "-t",
        "u1",
        "-i",
        "127.0.0.1",
        "-p",
        &caller,
        "-sf",
        &scenario("caller.xml"),
        "-s",
        "support",
        "-key",
        "domain",
        DOMAIN,
        "-m",
        "1",
    ]);
    assert!(called, "{}", relay.log_text());
    let status = agent.wait_with_output().unwrap().status;
    assert!(status.success(), "agent: {status}\n{}", relay.log_text());
    let log = relay.stop();
    assert!(log.contains("authentication: no-credentials"), "{log}");
    assert!(!log.contains("wrong-password"), "{log}");
}

#[test]
fn sipp_with_a_wrong_password_is_challenged_again() {
    if !have("sipp", "-v") {
        return;
    }
    let m = Members::new();
    let relay = m.relay(&["udp"], &[]);
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.xml");
    let text = std::fs::read_to_string(scenario("register_digest.xml")).unwrap();
    std::fs::write(
        &wrong,
        text.replace("<recv response=\"200\"/>", "<recv response=\"401\"/>"),
    )
    .unwrap();
    assert!(sipp_register_agent_7(
        relay.port,
        "127.0.0.1",
        "guess",
        wrong.to_str().unwrap()
    ));
    let log = relay.stop();
    assert_eq!(
        log.matches("authentication: wrong-password").count(),
        1,
        "{log}"
    );
    assert!(!log.contains("200 OK"), "{log}");
}

/// A REGISTER client on a UDP socket, computing digest itself.
struct Client {
    socket: UdpSocket,
    relay: String,
    cseq: u32,
}

impl Client {
    fn new(relay: &Relay) -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Client {
            socket,
            relay: format!("127.0.0.1:{}", relay.port),
            cseq: 0,
        }
    }

    fn register(&mut self, credentials: &str) -> Message {
        self.cseq += 1;
        let me = self.socket.local_addr().unwrap();
        let text = format!(
            "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKc{};rport\r\n\
             From: <sip:agent-7@{DOMAIN}>;tag=c1\r\nTo: <sip:agent-7@{DOMAIN}>\r\n\
             Call-ID: client-1\r\nCSeq: {} REGISTER\r\nContact: <sip:agent-7@{me}>\r\n\
             Max-Forwards: 70\r\n{credentials}Content-Length: 0\r\n\r\n",
            self.cseq, self.cseq
        );
        self.send_raw(text.as_bytes())
    }

    fn send_raw(&self, bytes: &[u8]) -> Message {
        self.socket.send_to(bytes, &self.relay).unwrap();
        let mut buf = vec![0u8; 65536];
        let n = self.socket.recv(&mut buf).expect("an answer");
        Message::parse(buf[..n].to_vec()).unwrap()
    }
}

/// The first challenge's (nonce, stale) in a 401.
fn challenge(m: &Message) -> (String, bool) {
    assert_eq!(
        m.status_code(),
        Some(401),
        "{}",
        String::from_utf8_lossy(m.as_bytes())
    );
    let v = m.values_named("WWW-Authenticate").next().unwrap();
    let a = Auth::parse(v).unwrap();
    let nonce = String::from_utf8(a.param("nonce").unwrap().into_owned()).unwrap();
    (
        nonce,
        a.param("stale")
            .is_some_and(|s| s.eq_ignore_ascii_case(b"true")),
    )
}

fn authorization(nonce: &str, nc: u32) -> String {
    let ha1 = Algorithm::Md5.ha1("agent-7", DOMAIN, PASSWORD.as_bytes());
    let nc = format!("{nc:08x}");
    let uri = format!("sip:{DOMAIN}");
    let response = Algorithm::Md5.response(
        &ha1,
        &ResponseInput {
            method: b"REGISTER",
            uri: uri.as_bytes(),
            nonce: nonce.as_bytes(),
            nc: nc.as_bytes(),
            cnonce: b"abc",
        },
    );
    format!(
        "Authorization: Digest username=\"agent-7\", realm=\"{DOMAIN}\", nonce=\"{nonce}\", \
         uri=\"{uri}\", response=\"{response}\", algorithm=MD5, cnonce=\"abc\", qop=auth, nc={nc}\r\n"
    )
}

#[test]
fn replayed_nonce_count_is_answered_stale() {
    let m = Members::new();
    let relay = m.relay(&["udp"], &[]);
    let mut c = Client::new(&relay);
    let (nonce, _) = challenge(&c.register(""));
    let ok = c.register(&authorization(&nonce, 1));
    assert_eq!(ok.status_code(), Some(200));
    // The same credentials on a new transaction: a replay.
    let (fresh, stale) = challenge(&c.register(&authorization(&nonce, 1)));
    assert!(stale, "a replayed nonce-count must be answered stale=true");
    assert_ne!(fresh, nonce);
    assert_eq!(
        c.register(&authorization(&nonce, 2)).status_code(),
        Some(200)
    );
}

#[test]
fn nonce_from_another_relay_is_refused() {
    let m = Members::new();
    let a = m.relay(&["udp"], &[]);
    let b = m.relay(&["udp"], &[]);
    let (nonce_b, _) = challenge(&Client::new(&b).register(""));
    let mut c = Client::new(&a);
    let (_, stale) = challenge(&c.register(&authorization(&nonce_b, 1)));
    assert!(!stale);
    assert!(a.stop().contains("authentication: foreign-nonce"));
}

#[test]
fn brute_force_with_svcrack_is_slowed_then_refused_and_the_agent_still_registers() {
    if !have("svcrack", "--version") || !have("sipp", "-v") {
        return;
    }
    let m = Members::new();
    let relay = m.relay(&["udp"], &["--domain", "127.0.0.1"]);
    // The agent registers once before the attack, from 127.0.0.2; sipvicious attacks from
    // 127.0.0.1.
    let agent = |relay: &Relay| {
        sipp_register_agent_7(
            relay.port,
            "127.0.0.2",
            PASSWORD,
            &scenario("register_digest.xml"),
        )
    };
    assert!(agent(&relay), "{}", relay.log_text());
    // 40 wrong guesses, then the right password, bounded in time.
    let dir = tempfile::tempdir().unwrap();
    let dict = dir.path().join("dict");
    let mut words: Vec<String> = (0..40).map(|i| format!("guess{i}")).collect();
    words.push(PASSWORD.into());
    std::fs::write(&dict, words.join("\n") + "\n").unwrap();
    let out = Command::new("timeout")
        .args(["30", "svcrack", "-u", "agent-7", "-d"])
        .arg(&dict)
        .args([
            "-p",
            &relay.port.to_string(),
            "--maximumtime",
            "20",
            "127.0.0.1",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !said.contains(PASSWORD),
        "svcrack found the password:\n{said}"
    );
    let log = relay.log_text();
    assert!(log.contains("authentication: throttled"), "{log}\n{said}");
    let failed = log.matches("authentication: wrong-password").count();
    assert!(
        (1..=12).contains(&failed),
        "{failed} guesses were judged\n{said}"
    );
    // The agent, from where it registered before, still gets in.
    assert!(agent(&relay), "{}", relay.log_text());
}
