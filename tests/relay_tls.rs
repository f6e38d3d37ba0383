//! TLS through `sipsec-relay`: a client (this test, with openssl) sends an INVITE over TLS; the
//! relay forwards it over TLS to a next hop (a TLS server in this test) whose certificate it
//! verifies against `--tls-ca`; the next hop's 200 comes back on the client's connection. With
//! trust anchors that do not cover the next hop, nothing reaches it.

use openssl::ssl::{SslAcceptor, SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use sipsec::relay::core::build_response;
use sipsec::Message;
use std::ffi::OsString;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod relay_common;
use relay_common::{free_port, read_message};

/// A self-signed certificate for 127.0.0.1 made with the openssl CLI: (cert, key) paths.
fn cert(dir: &Path, name: &str) -> Option<(PathBuf, PathBuf)> {
    cert_naming(dir, name, "IP:127.0.0.1")
}

/// A self-signed certificate whose subjectAltName is `san` (CN is the file name).
fn cert_naming(dir: &Path, name: &str, san: &str) -> Option<(PathBuf, PathBuf)> {
    let (c, k) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", &format!("/CN={name}")])
        .args(["-addext", &format!("subjectAltName={san}"), "-keyout"])
        .arg(&k)
        .arg("-out")
        .arg(&c)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("SIPSEC_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("the openssl CLI is required (SIPSEC_REQUIRE_PEERS=1)");
        }
        eprintln!("note: openssl CLI missing; TLS test skipped");
        return None;
    }
    Some((c, k))
}

/// A TLS next hop: answers each request it gets with 200, reports the requests on `tx`.
fn next_hop(cert: &Path, key: &Path, tx: mpsc::Sender<Message>) -> u16 {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    b.set_certificate_chain_file(cert).unwrap();
    b.set_private_key_file(key, SslFiletype::PEM).unwrap();
    let acceptor = b.build();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Ok(mut tls) = acceptor.accept(stream) else {
                continue;
            };
            while let Some(req) = read_message(&mut tls) {
                let _ = tls.write_all(&build_response(&req, 200, "OK", &[]));
                let _ = tx.send(req);
            }
        }
    });
    port
}

struct Relay(Child, PathBuf);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_relay(port: u16, next: u16, dir: &Path, ca: &Path) -> Relay {
    let files = [
        "--tls-cert".into(),
        dir.join("relay.pem").into(),
        "--tls-key".into(),
        dir.join("relay.key").into(),
        "--tls-ca".into(),
        ca.into(),
    ];
    start_relay_with(port, ("next.test", next), dir, &files)
}

/// A relay on `port` with one route, `domain` to the TLS next hop on `next.1`.
fn start_relay_with(port: u16, next: (&str, u16), dir: &Path, tls: &[OsString]) -> Relay {
    let log = dir.join(format!("relay-{port}.log"));
    let (domain, next) = next;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipsec-relay"))
        .args(["-v", "--listen", &format!("tls:127.0.0.1:{port}")])
        .args(["--route", &format!("{domain}=tls:127.0.0.1:{next}")])
        .args(tls)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("listening")
    {
        let exited = child.try_wait().unwrap();
        assert!(
            exited.is_none() && t.elapsed() < Duration::from_secs(10),
            "relay did not start ({exited:?}): {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Relay(child, log)
}

fn invite(client_port: u16) -> String {
    invite_to("next.test", client_port)
}

fn invite_to(domain: &str, client_port: u16) -> String {
    format!(
        "INVITE sip:carol@{domain} SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:{client_port};branch=z9hG4bKtls1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@a.test>;tag=1\r\nTo: <sip:carol@{domain}>\r\n\
         Call-ID: tls1\r\nCSeq: 1 INVITE\r\nContact: <sips:alice@127.0.0.1:{client_port}>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Connects to the relay over TLS, trusting only the relay's certificate.
fn client(port: u16, relay_cert: &Path) -> openssl::ssl::SslStream<TcpStream> {
    let mut b = SslConnector::builder(SslMethod::tls()).unwrap();
    b.set_ca_file(relay_cert).unwrap();
    b.set_verify(SslVerifyMode::PEER);
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    b.build().connect("127.0.0.1", tcp).unwrap()
}

#[test]
fn tls_in_and_out_with_the_next_hop_verified() {
    let dir = tempfile::tempdir().unwrap();
    let Some((relay_cert, _)) = cert(dir.path(), "relay") else {
        return;
    };
    let Some((hop_cert, hop_key)) = cert_naming(dir.path(), "hop", "DNS:next.test") else {
        return;
    };
    let (tx, rx) = mpsc::channel();
    let hop = next_hop(&hop_cert, &hop_key, tx);

    // Trusted next hop: the INVITE arrives there, the 200 comes back to the client.
    let port = free_port();
    let relay = start_relay(port, hop, dir.path(), &hop_cert);
    let mut c = client(port, &relay_cert);
    let local = c.get_ref().local_addr().unwrap().port();
    c.write_all(invite(local).as_bytes()).unwrap();
    let got = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("INVITE not forwarded");
    assert_eq!(got.top_via().unwrap().transport(), b"TLS");
    let resp = read_message(&mut c).expect("no response on the client's connection");
    assert_eq!(resp.status_code(), Some(200));
    assert_eq!(resp.vias().unwrap().len(), 1, "the relay's Via was removed");
    drop(relay);

    // Anchors that do not cover the next hop: the relay refuses to send there.
    let port = free_port();
    let relay = start_relay(port, hop, dir.path(), &relay_cert);
    let mut c = client(port, &relay_cert);
    let local = c.get_ref().local_addr().unwrap().port();
    c.write_all(invite(local).as_bytes()).unwrap();
    assert!(
        rx.recv_timeout(Duration::from_secs(2)).is_err(),
        "sent to an unverified hop"
    );
    let t = Instant::now();
    loop {
        let log = std::fs::read_to_string(&relay.1).unwrap_or_default();
        if log.contains("certificate verify failed") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn certgen(store: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sipsec-certgen"))
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .unwrap()
}

fn issue_tls(store: &Path, host: &str) {
    let out = certgen(
        store,
        &[
            "issue-tls",
            "--host",
            host,
            "--ip",
            "127.0.0.1",
            "--key-type",
            "p256",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl s_client` against the relay, trusting only `ca` and checking `host`; true when
/// the chain and the name verify.
fn s_client_verifies(port: u16, ca: &Path, host: &str) -> bool {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .arg("-CAfile")
        .arg(ca)
        .args(["-verify_return_error", "-verify_hostname", host])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && text.contains("Verify return code: 0 (ok)")
}

#[test]
fn tls_identity_and_trust_anchors_from_the_certgen_store() {
    let dir = tempfile::tempdir().unwrap();
    if cert(dir.path(), "probe").is_none() {
        return;
    }
    let store = dir.path().join("store");
    for args in [
        &["init-ca", "--key-type", "p256"][..],
        &[
            "init-intermediate",
            "--domain",
            "relay.test",
            "--key-type",
            "p256",
        ],
    ] {
        let out = certgen(&store, args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    issue_tls(&store, "proxy.relay.test");
    issue_tls(&store, "hop.relay.test");
    // The issuing CA's name constraints cover only its domains: refused at issuance.
    let out = certgen(&store, &["issue-tls", "--host", "proxy.other.test"]);
    assert!(!out.status.success(), "issued outside the store's domains");
    let out = certgen(&store, &["issue-tls", "--host", "proxy.relay.test"]);
    assert!(!out.status.success(), "replaced without --replace");

    // The next hop serves its store certificate and chain.
    let hop_dir = store.join("tls/hop.relay.test");
    let mut chain = std::fs::read(hop_dir.join("cert.pem")).unwrap();
    chain.extend(std::fs::read(hop_dir.join("chain.pem")).unwrap());
    let hop_chain = dir.path().join("hop-chain.pem");
    std::fs::write(&hop_chain, chain).unwrap();
    let (tx, rx) = mpsc::channel();
    let hop = next_hop(&hop_chain, &hop_dir.join("key.pem"), tx);

    // No --tls-ca: the next hop is verified against the store's anchors.
    let port = free_port();
    let args: Vec<OsString> = vec![
        "--tls-identity".into(),
        "proxy.relay.test".into(),
        "--store".into(),
        store.clone().into(),
    ];
    let relay = start_relay_with(port, ("hop.relay.test", hop), dir.path(), &args);
    let root = store.join("root/cert.pem");
    assert!(s_client_verifies(port, &root, "proxy.relay.test"));
    assert!(
        !s_client_verifies(port, &root, "other.relay.test"),
        "a name the certificate does not carry verified"
    );
    let foreign_ca = cert(dir.path(), "foreign").unwrap().0;
    assert!(
        !s_client_verifies(port, &foreign_ca, "proxy.relay.test"),
        "verified against an unrelated anchor"
    );
    let mut c = client(port, &root);
    let local = c.get_ref().local_addr().unwrap().port();
    c.write_all(invite_to("hop.relay.test", local).as_bytes())
        .unwrap();
    let got = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("INVITE not forwarded to the store-verified hop");
    assert_eq!(got.top_via().unwrap().transport(), b"TLS");
    let resp = read_message(&mut c).expect("no response on the client's connection");
    assert_eq!(resp.status_code(), Some(200));
    drop(relay);

    // A key that does not match the stored certificate: the relay refuses to start (exit 3).
    let other = store.join("tls/hop.relay.test/key.pem");
    std::fs::copy(&other, store.join("tls/proxy.relay.test/key.pem")).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_sipsec-relay"))
        .args(["--listen", &format!("tls:127.0.0.1:{}", free_port())])
        .args(&args)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    // No TLS identity for the host: the same.
    let status = Command::new(env!("CARGO_BIN_EXE_sipsec-relay"))
        .args(["--listen", &format!("tls:127.0.0.1:{}", free_port())])
        .args(["--tls-identity", "nobody.relay.test", "--store"])
        .arg(&store)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
}

/// A TLS next hop whose certificate names `san`, and a relay routing `domain` to it that
/// trusts that certificate (`trusted`) or has no trust anchor at all; the relay's TLS
/// client has sent it an INVITE for `domain`. What reached the next hop comes on the receiver.
fn invite_through(
    dir: &Path,
    relay_files: &(PathBuf, PathBuf),
    (san, domain): (&str, &str),
    trusted: bool,
) -> (
    relay_common::Relay,
    mpsc::Receiver<Message>,
    openssl::ssl::SslStream<TcpStream>,
) {
    let name = format!("hop-{}", free_port());
    let (hop_cert, hop_key) = cert_naming(dir, &name, san).unwrap();
    let (tx, rx) = mpsc::channel();
    let hop = next_hop(&hop_cert, &hop_key, tx);
    let (relay_cert, relay_key) = relay_files;
    let route = format!("{domain}=tls:127.0.0.1:{hop}");
    let (cert_arg, key_arg, ca_arg) = (
        relay_cert.to_str().unwrap(),
        relay_key.to_str().unwrap(),
        hop_cert.to_str().unwrap(),
    );
    let mut args = vec![
        "--route",
        &route,
        "--tls-cert",
        cert_arg,
        "--tls-key",
        key_arg,
    ];
    if trusted {
        args.extend(["--tls-ca", ca_arg]);
    }
    let relay = relay_common::Relay::start(&["tls"], &args);
    let mut c = client(relay.port, relay_cert);
    let local = c.get_ref().local_addr().unwrap().port();
    c.write_all(invite_to(domain, local).as_bytes()).unwrap();
    (relay, rx, c)
}

#[test]
fn tls_next_hops_must_be_named_by_their_certificates_rfc_5922() {
    let dir = tempfile::tempdir().unwrap();
    let Some(relay_files) = cert(dir.path(), "relay") else {
        return;
    };
    // (the next hop's subjectAltName, the --route domain, forwarded?)
    let cases = [
        ("DNS:next.test", "next.test", true),
        ("URI:sip:next.test", "next.test", true),
        ("DNS:*.test", "next.test", false),
        ("DNS:other.test,IP:127.0.0.1", "next.test", false),
        ("URI:sip:carol@next.test", "next.test", false),
        ("IP:127.0.0.1", "127.0.0.1", true),
        ("DNS:next.test", "127.0.0.1", false),
    ];
    for (san, domain, forwarded) in cases {
        let (relay, rx, mut c) = invite_through(dir.path(), &relay_files, (san, domain), true);
        let got = rx.recv_timeout(Duration::from_secs(if forwarded { 5 } else { 1 }));
        assert_eq!(got.is_ok(), forwarded, "{san} for {domain}");
        if !forwarded {
            relay.wait_for_log(&format!("does not name {domain} (RFC 5922)"));
            assert_eq!(relay.counter("tls_name_mismatches"), 1);
            // The relay still answers on the client's connection.
            let local = c.get_ref().local_addr().unwrap().port();
            let other = invite_to("nowhere.test", local).replace("tls1", "tls2");
            c.write_all(other.as_bytes()).unwrap();
            let answer = read_message(&mut c).expect("no answer after the refusal");
            assert_eq!(answer.status_code(), Some(404));
        }
    }
}

#[test]
fn without_trust_anchors_no_tls_next_hop_is_connected() {
    let dir = tempfile::tempdir().unwrap();
    let Some(relay_files) = cert(dir.path(), "relay") else {
        return;
    };
    let hop = ("DNS:next.test", "next.test");
    let (relay, rx, _c) = invite_through(dir.path(), &relay_files, hop, false);
    relay.wait_for_log("no trust anchors (--tls-ca FILE");
    assert!(rx.recv_timeout(Duration::from_secs(1)).is_err());
    relay.wait_for_log("no trust anchors for TLS next hops");
}

#[test]
fn a_relay_without_a_certificate_of_its_own_connects_to_tls_next_hops() {
    let dir = tempfile::tempdir().unwrap();
    let Some((hop_cert, hop_key)) = cert_naming(dir.path(), "hop", "DNS:next.test") else {
        return;
    };
    let (tx, rx) = mpsc::channel();
    let hop = next_hop(&hop_cert, &hop_key, tx);
    let route = format!("next.test=tls:127.0.0.1:{hop}");
    let relay = relay_common::Relay::start(
        &["udp"],
        &["--route", &route, "--tls-ca", hop_cert.to_str().unwrap()],
    );
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = udp.local_addr().unwrap().port();
    let invite = invite(local).replace("SIP/2.0/TLS", "SIP/2.0/UDP");
    udp.send_to(invite.as_bytes(), ("127.0.0.1", relay.port))
        .unwrap();
    let got = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("INVITE not forwarded over TLS");
    assert_eq!(got.top_via().unwrap().transport(), b"TLS");
    relay.wait_for_log("TLS next hops are verified against");
}

/// A server that accepts and then trickles one byte every 300 ms, never finishing a
/// handshake; it stops after 10 s.
fn trickling_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        for _ in 0..33 {
            if s.write_all(b"\x16").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    port
}

#[test]
fn a_trickling_peer_cannot_stretch_a_tls_handshake_past_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let Some((relay_cert, relay_key)) = cert(dir.path(), "relay") else {
        return;
    };
    let slow = trickling_server();
    let route = format!("slow.test=tls:127.0.0.1:{slow}");
    let relay = relay_common::Relay::start(
        &["udp", "tls"],
        &[
            "--route",
            &route,
            "--tls-cert",
            relay_cert.to_str().unwrap(),
            "--tls-key",
            relay_key.to_str().unwrap(),
            "--tls-ca",
            relay_cert.to_str().unwrap(),
            "--handshake-timeout",
            "1",
        ],
    );
    // Outgoing: a request for slow.test waits at most the deadline.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = udp.local_addr().unwrap().port();
    let invite = invite_to("slow.test", local).replace("SIP/2.0/TLS", "SIP/2.0/UDP");
    let t = Instant::now();
    udp.send_to(invite.as_bytes(), ("127.0.0.1", relay.port))
        .unwrap();
    relay.wait_for_log("no connection within 1 s");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    // Incoming: a client that trickles its ClientHello is cut off at the same deadline.
    let mut trickler = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(6) {
        if trickler.write_all(b"\x16").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert_eq!(relay.counter("handshake_timeouts"), 2);
}

#[test]
fn sighup_rotates_the_relay_certificate_and_keeps_open_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let Some((old_cert, old_key)) = cert_naming(dir.path(), "old", "IP:127.0.0.1") else {
        return;
    };
    let (new_cert, new_key) = cert_naming(dir.path(), "new", "IP:127.0.0.1").unwrap();
    let (cert, key) = (dir.path().join("live.pem"), dir.path().join("live.key"));
    std::fs::copy(&old_cert, &cert).unwrap();
    std::fs::copy(&old_key, &key).unwrap();
    let relay = relay_common::Relay::start(
        &["tls"],
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let mut before = client(relay.port, &old_cert);
    std::fs::copy(&new_cert, &cert).unwrap();
    std::fs::copy(&new_key, &key).unwrap();
    relay_common::signal(&relay.child, libc::SIGHUP);
    relay.wait_for_log("sipsec-relay: reloaded");
    // New sessions get the new certificate; the old session goes on.
    let mut after = client(relay.port, &new_cert);
    for c in [&mut before, &mut after] {
        let local = c.get_ref().local_addr().unwrap().port();
        c.write_all(invite_to("nowhere.test", local).as_bytes())
            .unwrap();
        assert_eq!(read_message(c).and_then(|m| m.status_code()), Some(404));
    }
    assert_eq!(relay.counter("connections_closed"), 0);
}
