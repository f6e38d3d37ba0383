//! The paper's proxy, live, on loopback: the call centre's relay authenticates agent 7 (digest),
//! and signs the agent's 200 OK as the group on its --outbound chain; the caller's validating
//! relay verifies it on its --inbound chain and marks it for the caller's terminal over TLS.
//! Between the relays over UDP (the signed 200 OK is over 1,300 bytes: one datagram, as RFC
//! 3261 §18.2.2 sends responses on the request's transport), TCP and TLS; `openssl cms`
//! verifies the 200 OK taken between the relays. Then the refusals and faults: a forged mark
//! from the network, a host answering for the agent without having registered (with a forged
//! control header), a signed request too large for UDP, a filter child that dies or hangs.
//! Tests that drive a peer skip when it is missing, and fail instead when
//! SIPSEC_REQUIRE_PEERS=1.

mod common;
mod relay_common;
mod wrapkit;

use openssl::ssl::{SslConnector, SslMethod, SslStream};
use relay_common::{free_port, peer_available as have, start_sipp_agent, Relay};
use sipsec::auth::digest::{Algorithm, ResponseInput};
use sipsec::header::Auth;
use sipsec::{HeaderKind, Message};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DOMAIN: &str = "callcentre.example";
const PASSWORD: &str = "s3cret";
const GROUP: &str = "sip:support@callcentre.example";
const MARK: &str = "Subject: validated <sip:support@callcentre.example>";

fn certgen(store: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_sipsec-certgen"))
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            // Only `member add` reads the password; the others may be gone before it is written.
            let _ = c.stdin.take().unwrap().write_all(PASSWORD.as_bytes());
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "certgen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The two stores: the call centre's (its CA, the group's certificate, agent 7's digest
/// credentials, a TLS identity) and the caller's validating proxy's (the call centre's root
/// as an anchor, a CA of its own and the TLS identity its terminals connect to).
struct Stores {
    dir: tempfile::TempDir,
    cc: PathBuf,
    vr: PathBuf,
}

impl Stores {
    fn new() -> Stores {
        let dir = tempfile::tempdir().unwrap();
        let (cc, vr) = (dir.path().join("cc"), dir.path().join("vr"));
        certgen(&cc, &["init-ca", "--cn", "Call centre root"]);
        certgen(&cc, &["init-intermediate", "--domain", DOMAIN]);
        certgen(&cc, &["issue", GROUP]);
        certgen(
            &cc,
            &["group", "add", GROUP, "sip:agent-*@callcentre.example"],
        );
        certgen(&cc, &["issue-tls", "--host", DOMAIN, "--ip", "127.0.0.1"]);
        certgen(
            &cc,
            &[
                "member",
                "add",
                "sip:agent-7@callcentre.example",
                "--algorithm",
                "md5",
            ],
        );
        std::fs::create_dir(&vr).unwrap();
        std::fs::set_permissions(&vr, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let cc_root = cc.join("root/cert.pem");
        certgen(&vr, &["anchor", "add", cc_root.to_str().unwrap()]);
        certgen(
            &vr,
            &["init-ca", "--issuing", "--cn", "Validating proxy root"],
        );
        certgen(
            &vr,
            &[
                "issue-tls",
                "--host",
                "proxy.example.org",
                "--ip",
                "127.0.0.1",
            ],
        );
        Stores { dir, cc, vr }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The call centre's relay: members authenticate; --outbound signs as the group.
    fn call_centre(&self, transports: &[&str], extra: &[&str]) -> Relay {
        let cc = self.cc.to_str().unwrap();
        let outbound = format!("sipsec-sign --store {cc}");
        let mut args = vec![
            "--domain",
            DOMAIN,
            "--credentials",
            self.cc
                .join("credentials")
                .to_str()
                .unwrap()
                .to_string()
                .leak(),
            "--store",
            cc,
            "--tls-identity",
            DOMAIN,
            "--digest-algorithm",
            "md5",
            "--outbound",
            outbound.leak(),
        ];
        args.extend_from_slice(extra);
        Relay::start(transports, &args)
    }

    /// The caller's validating relay: routes the call centre's domain to `route`, serves its
    /// terminals over TLS on `tls_port`, verifies and marks on --inbound.
    fn validating(&self, route: &str, tls_port: u16, extra: &[&str]) -> Relay {
        let vr = self.vr.to_str().unwrap();
        let inbound = format!("sipsec-verify --store {vr}");
        let mut args = vec![
            "--domain",
            "example.org",
            "--route",
            format!("{DOMAIN}={route}").leak(),
            "--listen",
            format!("tls:127.0.0.1:{tls_port}").leak(),
            "--store",
            vr,
            "--tls-identity",
            "proxy.example.org",
            "--inbound",
            inbound.leak(),
        ];
        args.extend_from_slice(extra);
        Relay::start(&["udp", "tcp"], &args)
    }

    /// A TLS connection to the validating relay, as the caller's terminal makes it.
    fn terminal(&self, tls_port: u16) -> SslStream<TcpStream> {
        let mut c = SslConnector::builder(SslMethod::tls()).unwrap();
        c.set_ca_file(self.vr.join("ca/cert.pem")).unwrap();
        let tcp = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.build().connect("proxy.example.org", tcp).unwrap()
    }
}

/// Reads one whole message (head and body) from a stream.
fn read_whole(s: &mut impl Read) -> Option<Message> {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).ok()?;
        bytes.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    bytes.extend_from_slice(&body);
    Message::parse(bytes).ok()
}

fn text(m: &Message) -> String {
    String::from_utf8_lossy(m.as_bytes()).into_owned()
}

fn invite(via: &str, call_id: &str) -> String {
    format!(
        "INVITE sip:support@{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/TLS {via};branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:caller@example.org>;tag=c1\r\nTo: <sip:support@{DOMAIN}>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:caller@{via};transport=tls>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// How agent 7's phone reaches the call centre's relay.
enum Link {
    Tcp(TcpStream),
    Udp(UdpSocket, String),
}

/// Agent 7's phone: registers the group's address with its own digest credentials, over one
/// TCP connection or from one UDP socket.
struct Agent {
    link: Link,
}

impl Agent {
    fn register(relay_port: u16) -> Agent {
        let conn = TcpStream::connect(("127.0.0.1", relay_port)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Agent::registered(Link::Tcp(conn))
    }

    fn register_over_udp(relay_port: u16) -> Agent {
        let (socket, _) = udp_caller();
        Agent::registered(Link::Udp(socket, format!("127.0.0.1:{relay_port}")))
    }

    fn registered(link: Link) -> Agent {
        let mut a = Agent { link };
        let first = a.send_register("");
        assert_eq!(first.status_code(), Some(401), "{}", text(&first));
        let challenge =
            Auth::parse(first.values_named("WWW-Authenticate").next().unwrap()).unwrap();
        let nonce = String::from_utf8(challenge.param("nonce").unwrap().into_owned()).unwrap();
        let ok = a.send_register(&authorization(&nonce));
        assert_eq!(ok.status_code(), Some(200), "{}", text(&ok));
        a
    }

    fn local_addr(&self) -> std::net::SocketAddr {
        match &self.link {
            Link::Tcp(c) => c.local_addr().unwrap(),
            Link::Udp(s, _) => s.local_addr().unwrap(),
        }
    }

    fn send_register(&mut self, credentials: &str) -> Message {
        let me = self.local_addr();
        let (via, param) = match self.link {
            Link::Tcp(_) => ("TCP", ";transport=tcp"),
            Link::Udp(..) => ("UDP", ""),
        };
        let msg = format!(
            "REGISTER sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/{via} {me};branch=z9hG4bKr{}\r\n\
             From: <sip:support@{DOMAIN}>;tag=r1\r\nTo: <sip:support@{DOMAIN}>\r\n\
             Call-ID: agent-7-reg\r\nCSeq: {} REGISTER\r\n\
             Contact: <sip:support@{me}{param}>\r\nMax-Forwards: 70\r\n\
             {credentials}Content-Length: 0\r\n\r\n",
            credentials.len(),
            credentials.len() + 1
        );
        self.send(msg.as_bytes());
        self.receive()
    }

    fn send(&mut self, bytes: &[u8]) {
        match &mut self.link {
            Link::Tcp(c) => c.write_all(bytes).unwrap(),
            Link::Udp(s, relay) => {
                s.send_to(bytes, relay.as_str()).unwrap();
            }
        }
    }

    /// The next message for the agent.
    fn receive(&mut self) -> Message {
        match &mut self.link {
            Link::Tcp(c) => read_whole(c).expect("a message for the agent"),
            Link::Udp(s, _) => {
                let mut buf = vec![0u8; 65536];
                let n = s.recv(&mut buf).expect("a message for the agent");
                Message::parse(buf[..n].to_vec()).unwrap()
            }
        }
    }
}

fn authorization(nonce: &str) -> String {
    let ha1 = Algorithm::Md5.ha1("agent-7", DOMAIN, PASSWORD.as_bytes());
    let uri = format!("sip:{DOMAIN}");
    let response = Algorithm::Md5.response(
        &ha1,
        &ResponseInput {
            method: b"REGISTER",
            uri: uri.as_bytes(),
            nonce: nonce.as_bytes(),
            nc: b"00000001",
            cnonce: b"abc",
        },
    );
    format!(
        "Authorization: Digest username=\"agent-7\", realm=\"{DOMAIN}\", nonce=\"{nonce}\", \
         uri=\"{uri}\", response=\"{response}\", algorithm=MD5, cnonce=\"abc\", qop=auth, \
         nc=00000001\r\n"
    )
}

/// The agent's 200 OK to `invite`, with an SDP answer (`extra` header lines added).
fn answer(invite: &Message, extra: &str) -> Vec<u8> {
    let mut out = b"SIP/2.0 200 OK\r\n".to_vec();
    for f in invite.fields() {
        let name = invite.field_name(f).to_ascii_lowercase();
        if [&b"via"[..], b"from", b"call-id", b"cseq", b"record-route"].contains(&&name[..]) {
            out.extend_from_slice(invite.field_line(f));
        }
        if name == b"to" {
            out.extend_from_slice(invite.field_line(f).trim_ascii_end());
            out.extend_from_slice(b";tag=agent7\r\n");
        }
    }
    let sdp = "v=0\r\no=agent7 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 6000 RTP/AVP 0\r\n";
    out.extend_from_slice(
        format!(
            "Contact: <sip:support@127.0.0.1;transport=tcp>\r\n{extra}\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )
        .as_bytes(),
    );
    out
}

/// A caller's UDP socket, and its address as text.
fn udp_caller() -> (UdpSocket, String) {
    let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
    caller
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let me = caller.local_addr().unwrap().to_string();
    (caller, me)
}

/// A TCP hop between the relays that keeps what goes through it, in both directions.
struct Tap {
    port: u16,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Tap {
    fn tcp(to: u16) -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&seen);
        std::thread::spawn(move || {
            let Ok((a, _)) = listener.accept() else {
                return;
            };
            let b = TcpStream::connect(("127.0.0.1", to)).unwrap();
            for (mut from, mut to, keep) in [
                (a.try_clone().unwrap(), b.try_clone().unwrap(), None),
                (b, a, Some(kept)),
            ] {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    // Ends when either side closes (the relays stop at the end of the test).
                    while let Ok(n @ 1..) = from.read(&mut buf) {
                        if let Some(k) = &keep {
                            k.lock().unwrap().extend_from_slice(&buf[..n]);
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Tap { port, seen }
    }

    /// The first message that went from the call centre to the validating relay.
    fn first_back(&self) -> Message {
        let bytes = self.seen.lock().unwrap().clone();
        read_whole(&mut &bytes[..]).expect("a message between the relays")
    }
}

/// `openssl cms -verify` of a signed message against the call centre's root; the signed
/// part's octets on success.
fn openssl_verifies(stores: &Stores, m: &Message) -> Result<Vec<u8>, String> {
    let Some(openssl) = common::openssl_cli() else {
        return Ok(Vec::new());
    };
    let ct = m.value(HeaderKind::ContentType).ok_or("no Content-Type")?;
    let (part1, der) = wrapkit::signed_parts(ct, m.body());
    let ca_file = stores.path("cc/root/cert.pem");
    let (ok, out) = wrapkit::openssl_cms_verify_detached(
        &openssl,
        stores.dir.path(),
        &ca_file,
        &part1,
        &der,
        &[],
    );
    if ok {
        Ok(part1)
    } else {
        Err(out)
    }
}

/// The paper's call over the given transport between the relays, and to the caller's
/// terminal; returns the 200 OK as the terminal received it, and the one that went between the
/// relays (over TCP).
fn call(between: &str, terminal_over: &str) -> (Message, Option<Message>, String) {
    let stores = Stores::new();
    let audit = stores.path("audit.log");
    let cc_tls = free_port();
    let cc_tls_listen = format!("tls:127.0.0.1:{cc_tls}");
    let cc = stores.call_centre(
        &["udp", "tcp"],
        &["--audit-log", &audit, "--listen", &cc_tls_listen],
    );
    let tap = (between == "tcp").then(|| Tap::tcp(cc.port));
    let route = match (between, &tap) {
        ("tcp", Some(t)) => format!("tcp:127.0.0.1:{}", t.port),
        ("tls", _) => format!("tls:127.0.0.1:{cc_tls}"),
        _ => format!("udp:127.0.0.1:{}", cc.port),
    };
    let tls_port = free_port();
    let vr = stores.validating(&route, tls_port, &[]);
    let mut agent = Agent::register(cc.port);
    let no_answer = || -> String {
        format!(
            "no answer for the caller\n{}\n{}\n{}",
            cc.log_text(),
            vr.log_text(),
            vr.counters()
        )
    };
    let call_id = format!("live-{between}-{terminal_over}");
    let got = if terminal_over == "tls" {
        let mut terminal = stores.terminal(tls_port);
        let me = terminal.get_ref().local_addr().unwrap().to_string();
        terminal
            .write_all(invite(&me, &call_id).as_bytes())
            .unwrap();
        let routed = agent.receive();
        assert_eq!(routed.method(), Some(&b"INVITE"[..]), "{}", text(&routed));
        agent.send(&answer(&routed, ""));
        read_whole(&mut terminal).unwrap_or_else(|| panic!("{}", no_answer()))
    } else {
        let terminal = UdpSocket::bind("127.0.0.1:0").unwrap();
        terminal
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let me = terminal.local_addr().unwrap().to_string();
        let call = invite(&me, &call_id).replace("SIP/2.0/TLS", "SIP/2.0/UDP");
        terminal
            .send_to(call.as_bytes(), ("127.0.0.1", vr.port))
            .unwrap();
        let routed = agent.receive();
        agent.send(&answer(&routed, ""));
        let mut buf = vec![0u8; 65536];
        let n = terminal
            .recv(&mut buf)
            .unwrap_or_else(|_| panic!("{}", no_answer()));
        Message::parse(buf[..n].to_vec()).unwrap()
    };
    let kept_off = vr.counter("marks_kept_off_plain_transports");
    assert_eq!(
        kept_off,
        u64::from(terminal_over != "tls"),
        "{}",
        vr.counters()
    );
    let between_relays = tap.map(|t| t.first_back());
    let log = format!("{}\n{}", cc.stop(), vr.stop());
    let audit = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(audit.lines().count(), 1, "{audit}");
    assert!(
        audit.contains("\"member\":\"sip:agent-7@callcentre.example\""),
        "{audit}"
    );
    assert!(
        audit.contains("\"signed_as\":\"sip:support@callcentre.example\""),
        "{audit}"
    );
    if let Some(m) = &between_relays {
        let covered = openssl_verifies(&stores, m).unwrap_or_else(|e| panic!("{e}\n{}", text(m)));
        assert!(String::from_utf8_lossy(&covered).contains("m=audio 6000"));
    }
    (got, between_relays, log)
}

fn assert_marked(got: &Message, log: &str) {
    assert_eq!(got.status_code(), Some(200), "{}\n{log}", text(got));
    assert!(text(got).contains(MARK), "{}\n{log}", text(got));
}

#[test]
fn the_callers_terminal_gets_the_agents_200_ok_marked_with_udp_between_the_relays() {
    let (got, _, log) = call("udp", "tls");
    assert_marked(&got, &log);
    // The signed 200 OK crossed UDP as one datagram larger than 1,300 bytes.
    assert!(got.len() > 1300, "{}", got.len());
    assert!(log.contains("200 from udp:127.0.0.1:"), "{log}");
}

#[test]
fn the_callers_terminal_gets_the_agents_200_ok_marked_with_tcp_between_the_relays() {
    let (got, between, log) = call("tcp", "tls");
    assert_marked(&got, &log);
    let between = between.expect("the 200 OK between the relays");
    assert!(!text(&between).contains("Subject: validated"));
}

#[test]
fn the_callers_terminal_gets_the_agents_200_ok_marked_with_tls_between_the_relays() {
    let (got, _, log) = call("tls", "tls");
    assert_marked(&got, &log);
    assert!(log.contains("200 from tls:127.0.0.1:"), "{log}");
}

/// Over UDP the terminal could not tell the relay's mark from one forged on the way: the
/// validating relay sends it none.
#[test]
fn a_terminal_over_udp_gets_the_200_ok_without_a_mark() {
    let (got, _, log) = call("udp", "udp");
    assert_eq!(got.status_code(), Some(200), "{log}");
    assert!(!text(&got).contains("Subject: validated"), "{}", text(&got));
    assert!(
        got.values_named("Sipsec-Verdict").next().is_none(),
        "{}",
        text(&got)
    );
}

#[test]
fn sipp_as_agent_7_answers_and_its_200_ok_is_signed_as_the_group() {
    if !have("sipp", "-v") {
        return;
    }
    let stores = Stores::new();
    let cc = stores.call_centre(&["udp", "tcp"], &[]);
    let to = format!("127.0.0.1:{}", cc.port);
    let agent = start_sipp_agent(cc.port, PASSWORD);
    cc.wait_for_log("REGISTER support@callcentre.example");
    // The caller's side, as a UDP socket: it sees the signed 200 OK as the network does.
    let (caller, me) = udp_caller();
    let call = invite(&me, "sipp-agent").replace("SIP/2.0/TLS", "SIP/2.0/UDP");
    caller.send_to(call.as_bytes(), &to).unwrap();
    let mut buf = vec![0u8; 65536];
    let got = loop {
        let n = caller.recv(&mut buf).expect("the agent's answer");
        let m = Message::parse(buf[..n].to_vec()).unwrap();
        if m.status_code() == Some(200) {
            break m;
        }
    };
    let signed = openssl_verifies(&stores, &got).unwrap_or_else(|e| panic!("{e}\n{}", text(&got)));
    assert!(
        String::from_utf8_lossy(&signed).contains("o=agent7"),
        "{}",
        text(&got)
    );
    drop(agent);
    assert!(cc.counter("signed") >= 1);
}

#[test]
fn a_mark_forged_on_the_network_never_reaches_the_terminal() {
    let stores = Stores::new();
    // A "call centre" that answers with a mark of its own making.
    let fake = UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let route = format!("udp:{}", fake.local_addr().unwrap());
    let tls_port = free_port();
    let vr = stores.validating(&route, tls_port, &[]);
    let mut terminal = stores.terminal(tls_port);
    let me = terminal.get_ref().local_addr().unwrap().to_string();
    terminal
        .write_all(invite(&me, "forged-mark").as_bytes())
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let (n, relay) = fake.recv_from(&mut buf).unwrap();
    let routed = Message::parse(buf[..n].to_vec()).unwrap();
    let forged = answer(
        &routed,
        &format!("{MARK}\r\nSipsec-Verdict: signed=trusted; identity={GROUP}\r\n"),
    );
    fake.send_to(&forged, relay).unwrap();
    let got = read_whole(&mut terminal).expect("the 200 OK");
    assert_eq!(got.status_code(), Some(200));
    let t = text(&got);
    assert!(!t.contains("Subject: validated"), "{t}");
    // Only the validating relay's own verdict: not signed.
    let verdicts: Vec<_> = got.values_named("Sipsec-Verdict").collect();
    assert_eq!(verdicts, [&b"signed=no"[..]], "{t}");
    assert!(vr.stop().contains("200 from udp:"));
}

#[test]
fn a_host_that_answers_for_the_agent_without_having_registered_is_not_signed() {
    let stores = Stores::new();
    let cc = stores.call_centre(&["udp", "tcp"], &[]);
    let mut agent = Agent::register(cc.port);
    let (caller, me) = udp_caller();
    let to = format!("127.0.0.1:{}", cc.port);
    let mut buf = vec![0u8; 65536];
    let mut received = |caller: &UdpSocket| loop {
        let n = caller
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no answer ({e}):\n{}", cc.log_text()));
        let m = Message::parse(buf[..n].to_vec()).unwrap();
        if m.status_code() == Some(200) {
            break m;
        }
    };
    // The impostor answers on a connection of its own, with a control header claiming the
    // agent, and over UDP from the agent's address.
    let forged_control = "Sipsec-Control: v1 1 data eyJzZXEiOjEsImF0dHJpYnV0aW9uIjoic2lwOmFnZW50LTdAY2FsbGNlbnRyZS5leGFtcGxlIn0 00\r\n";
    for (n, how) in ["own connection", "udp"].iter().enumerate() {
        let call = invite(&me, &format!("impostor-{n}")).replace("SIP/2.0/TLS", "SIP/2.0/UDP");
        caller.send_to(call.as_bytes(), &to).unwrap();
        let routed = agent.receive();
        let reply = answer(&routed, forged_control);
        match *how {
            "own connection" => {
                let mut other = TcpStream::connect(("127.0.0.1", cc.port)).unwrap();
                other.write_all(&reply).unwrap();
            }
            _ => {
                let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
                udp.send_to(&reply, &to).unwrap();
            }
        }
        let got = received(&caller);
        let ct = String::from_utf8_lossy(got.value(HeaderKind::ContentType).unwrap_or_default())
            .into_owned();
        assert!(
            ct.starts_with("application/sdp"),
            "{how}: signed:\n{}",
            text(&got)
        );
    }
    // The agent itself, on the connection it registered over: signed.
    let call = invite(&me, "genuine").replace("SIP/2.0/TLS", "SIP/2.0/UDP");
    caller.send_to(call.as_bytes(), &to).unwrap();
    let routed = agent.receive();
    agent.send(&answer(&routed, forged_control));
    let got = received(&caller);
    openssl_verifies(&stores, &got).unwrap_or_else(|e| panic!("{e}\n{}", text(&got)));
    // The forged control header went nowhere: not into the signature, not on the wire.
    assert!(!text(&got).contains("Sipsec-Control"), "{}", text(&got));
    assert_eq!(cc.counter("signed"), 1);
}

/// A UDP source address can be forged: an agent registered over UDP has its responses signed
/// only when the relay is told to trust UDP addresses.
#[test]
fn responses_from_a_udp_registration_are_signed_only_with_attribute_udp_responses() {
    for trusted in [false, true] {
        let stores = Stores::new();
        let extra: &[&str] = if trusted {
            &["--attribute-udp-responses"]
        } else {
            &[]
        };
        let cc = stores.call_centre(&["udp", "tcp"], extra);
        let mut agent = Agent::register_over_udp(cc.port);
        let (caller, me) = udp_caller();
        let call = invite(&me, "over-udp").replace("SIP/2.0/TLS", "SIP/2.0/UDP");
        caller
            .send_to(call.as_bytes(), ("127.0.0.1", cc.port))
            .unwrap();
        let routed = agent.receive();
        agent.send(&answer(&routed, ""));
        let mut buf = vec![0u8; 65536];
        let got = loop {
            let n = caller.recv(&mut buf).expect("the answer");
            let m = Message::parse(buf[..n].to_vec()).unwrap();
            if m.status_code() == Some(200) {
                break m;
            }
        };
        let ct = got.value(HeaderKind::ContentType).unwrap_or_default();
        let signed = ct.starts_with(b"multipart/signed");
        assert_eq!(signed, trusted, "{}", text(&got));
        if signed {
            openssl_verifies(&stores, &got).unwrap_or_else(|e| panic!("{e}\n{}", text(&got)));
        }
        assert_eq!(cc.counter("signed"), u64::from(trusted));
    }
}

#[test]
fn a_signed_request_too_large_for_udp_goes_over_tcp() {
    let stores = Stores::new();
    // The next hop listens on both, at one port; the route says UDP.
    let (udp, tcp) = loop {
        let port = free_port();
        if let (Ok(u), Ok(t)) = (
            UdpSocket::bind(("127.0.0.1", port)),
            TcpListener::bind(("127.0.0.1", port)),
        ) {
            break (u, t);
        }
    };
    let route = format!("example.net=udp:{}", udp.local_addr().unwrap());
    let cc = stores.call_centre(&["udp", "tcp"], &["--route", &route]);
    let mut agent = Agent::register(cc.port);
    // The agent calls out: challenged (407), then with credentials; signed as the group.
    let me = agent.local_addr();
    let call = |credentials: &str| {
        format!(
            "INVITE sip:bob@example.net SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bKo{}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:agent-7@{DOMAIN}>;tag=o1\r\nTo: <sip:bob@example.net>\r\n\
             Call-ID: outgoing\r\nCSeq: {} INVITE\r\nContact: <sip:agent-7@{me};transport=tcp>\r\n\
             {credentials}Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n",
            credentials.len(),
            credentials.len() + 1
        )
    };
    agent.send(call("").as_bytes());
    let challenge = agent.receive();
    assert_eq!(challenge.status_code(), Some(407), "{}", text(&challenge));
    let auth = Auth::parse(challenge.values_named("Proxy-Authenticate").next().unwrap()).unwrap();
    let nonce = String::from_utf8(auth.param("nonce").unwrap().into_owned()).unwrap();
    let ha1 = Algorithm::Md5.ha1("agent-7", DOMAIN, PASSWORD.as_bytes());
    let response = Algorithm::Md5.response(
        &ha1,
        &ResponseInput {
            method: b"INVITE",
            uri: b"sip:bob@example.net",
            nonce: nonce.as_bytes(),
            nc: b"00000001",
            cnonce: b"abc",
        },
    );
    let credentials = format!(
        "Proxy-Authorization: Digest username=\"agent-7\", realm=\"{DOMAIN}\", nonce=\"{nonce}\", \
         uri=\"sip:bob@example.net\", response=\"{response}\", algorithm=MD5, cnonce=\"abc\", \
         qop=auth, nc=00000001\r\n"
    );
    agent.send(call(&credentials).as_bytes());
    tcp.set_nonblocking(false).unwrap();
    let (mut conn, _) = tcp.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let got = read_whole(&mut conn).expect("the signed INVITE over TCP");
    assert!(got.len() > 1300, "{}", got.len());
    let via = String::from_utf8_lossy(got.value(HeaderKind::Via).unwrap()).into_owned();
    assert!(via.starts_with("SIP/2.0/TCP "), "{via}");
    openssl_verifies(&stores, &got).unwrap_or_else(|e| panic!("{e}\n{}", text(&got)));
    assert!(!text(&got).contains("Proxy-Authorization"));
    drop(udp);
    cc.stop();
}

/// A filter child that passes messages on unchanged, but dies on the message whose Call-ID
/// ends in `-die` and hangs on the one ending in `-hang`.
fn flaky_filter(dir: &Path) -> PathBuf {
    let path = dir.join("flaky.py");
    std::fs::write(
        &path,
        r#"import sys, time
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        c = inp.read(1)
        if not c:
            sys.exit(0)
        head += c
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    msg = head + inp.read(length)
    if b"-die\r\n" in head:
        sys.exit(3)
    if b"-hang\r\n" in head:
        time.sleep(60)
    out.write(msg)
    out.flush()
"#,
    )
    .unwrap();
    path
}

/// Through a child chain that dies, then hangs: every response to the caller arrives exactly
/// once (fail-open: the two in flight at the faults unchanged) or not at all (fail-closed: those
/// two withheld), and the calls after the faults still complete.
#[test]
fn a_filter_child_that_dies_or_hangs_loses_and_duplicates_nothing() {
    if !have("python3", "--version") {
        return;
    }
    for fail_closed in [false, true] {
        child_faults(fail_closed);
    }
}

fn child_faults(fail_closed: bool) {
    let stores = Stores::new();
    let script = flaky_filter(stores.dir.path());
    let mode = if fail_closed { " --fail-closed" } else { "" };
    let chain = format!("python3 {}{mode}", script.display());
    let cc = stores.call_centre(
        &["udp", "tcp"],
        &["--outbound", &chain, "--chain-timeout", "500"],
    );
    let mut agent = Agent::register(cc.port);
    let (caller, me) = udp_caller();
    let to = format!("127.0.0.1:{}", cc.port);
    let names = ["a", "b-die", "c", "d-hang", "e", "f"];
    for name in names {
        let call = invite(&me, name).replace("SIP/2.0/TLS", "SIP/2.0/UDP");
        caller.send_to(call.as_bytes(), &to).unwrap();
        let routed = agent.receive();
        agent.send(&answer(&routed, ""));
    }
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.len() < names.len() && Instant::now() < deadline {
        if let Ok(n) = caller.recv(&mut buf) {
            let m = Message::parse(buf[..n].to_vec()).unwrap();
            if m.status_code() == Some(200) {
                seen.push(String::from_utf8_lossy(m.call_id().unwrap()).into_owned());
            }
        }
    }
    // Nothing more arrives: no duplicates.
    caller
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    while let Ok(n) = caller.recv(&mut buf) {
        let m = Message::parse(buf[..n].to_vec()).unwrap();
        if m.status_code() == Some(200) {
            seen.push(String::from_utf8_lossy(m.call_id().unwrap()).into_owned());
        }
    }
    let expected: Vec<&str> = names
        .into_iter()
        .filter(|n| !fail_closed || !n.contains('-'))
        .collect();
    assert_eq!(seen, expected, "{}", cc.log_text());
    assert_eq!(cc.counter("filter_restarts"), 2, "{}", cc.counters());
    let refused = if fail_closed { 2 } else { 0 };
    assert_eq!(cc.counter("chain_refused"), refused, "{}", cc.counters());
    cc.stop();
}

/// A request encrypted to a key the validating side does not hold is answered 493 with the
/// terminal's certificate (RFC 3261 §23.2), and never reaches the terminal.
#[test]
fn an_envelope_for_a_key_this_side_lacks_is_answered_493_with_the_terminals_certificate() {
    let stores = Stores::new();
    let vr = stores.vr.to_str().unwrap().to_string();
    certgen(&stores.vr, &["issue", "sip:caller@example.org"]);
    // Someone else's certificate for the caller: what an out-of-date sender encrypts to.
    let other = stores.dir.path().join("other");
    certgen(&other, &["init-ca", "--issuing", "--cn", "Another CA"]);
    certgen(&other, &["issue", "sip:caller@example.org"]);
    let tls_port = free_port();
    let inbound = format!("sipsec-decrypt --store {vr} --fail-closed | sipsec-verify --store {vr}");
    let relay = Relay::start(
        &["udp", "tcp"],
        &[
            "--domain",
            "example.org",
            "--store",
            &vr,
            "--tls-identity",
            "proxy.example.org",
            "--listen",
            &format!("tls:127.0.0.1:{tls_port}"),
            "--inbound",
            &inbound,
        ],
    );
    // The caller's terminal registers over TLS.
    let mut terminal = stores.terminal(tls_port);
    let me = terminal.get_ref().local_addr().unwrap();
    let register = format!(
        "REGISTER sip:example.org SIP/2.0\r\nVia: SIP/2.0/TLS {me};branch=z9hG4bKreg\r\n\
         From: <sip:caller@example.org>;tag=r\r\nTo: <sip:caller@example.org>\r\nCall-ID: reg\r\n\
         CSeq: 1 REGISTER\r\nContact: <sip:caller@{me};transport=tls>\r\nMax-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    terminal.write_all(register.as_bytes()).unwrap();
    assert_eq!(read_whole(&mut terminal).unwrap().status_code(), Some(200));
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let from = sender.local_addr().unwrap();
    let plain = format!(
        "INVITE sip:caller@example.org SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bKenc\r\n\
         Max-Forwards: 70\r\nFrom: <sip:bob@example.net>;tag=b1\r\nTo: <sip:caller@example.org>\r\n\
         Call-ID: enc-1\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"
    );
    let mut encrypt = Command::new(env!("CARGO_BIN_EXE_sipsec-encrypt"))
        .arg("--store")
        .arg(&other)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    encrypt
        .stdin
        .take()
        .unwrap()
        .write_all(plain.as_bytes())
        .unwrap();
    let sealed = encrypt.wait_with_output().unwrap().stdout;
    assert!(String::from_utf8_lossy(&sealed).contains("enveloped-data"));
    sender.send_to(&sealed, ("127.0.0.1", relay.port)).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = sender.recv(&mut buf).expect("an answer");
    let answer = Message::parse(buf[..n].to_vec()).unwrap();
    assert_eq!(answer.status_code(), Some(493), "{}", text(&answer));
    let ct = String::from_utf8_lossy(answer.value(HeaderKind::ContentType).unwrap()).into_owned();
    assert!(ct.contains("smime-type=certs-only"), "{ct}");
    let p7 = openssl::pkcs7::Pkcs7::from_der(answer.body()).unwrap();
    let pem = std::fs::read(
        std::fs::read_dir(stores.vr.join("identities"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("cert.pem"),
    )
    .unwrap();
    let ours = openssl::x509::X509::from_pem(&pem).unwrap();
    let carried = p7
        .signed()
        .and_then(|s| s.certificates())
        .expect("certificates");
    assert!(carried
        .iter()
        .any(|c| c.to_der().unwrap() == ours.to_der().unwrap()));
    // The terminal got nothing.
    terminal
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    assert!(read_whole(&mut terminal).is_none());
    assert_eq!(relay.counter("chain_refused"), 1);
    relay.stop();
}
