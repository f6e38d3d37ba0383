//! `sipsec-relay` over sockets without SIPp: responses whose TCP connection is gone (RFC 3261
//! §18.2.2), 400 for requests that cannot be parsed, and the idle timeout.

use sipsec::relay::core::build_response;
use sipsec::Message;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod relay_common;
use relay_common::{forwarded_to, read_message, Relay};

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Accepts one connection within five seconds.
fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let t = Instant::now();
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                return s;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(t.elapsed() < Duration::from_secs(5), "no connection came");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

#[test]
fn a_response_whose_connection_is_gone_goes_to_received_and_the_sent_by_port() {
    // The next hop: gets the INVITE, answers only when told to.
    let hop = TcpListener::bind("127.0.0.1:0").unwrap();
    let hop_port = hop.local_addr().unwrap().port();
    let (got_tx, got_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut s = accept(&hop);
        let req = read_message(&mut s).expect("INVITE at the hop");
        got_tx.send(req.clone()).unwrap();
        go_rx.recv().unwrap();
        s.write_all(&build_response(&req, 200, "OK", &[])).unwrap();
        // Keep the connection open until the test ends.
        let _ = read_message(&mut s);
    });
    let route = format!("next.test=tcp:127.0.0.1:{hop_port}");
    let relay = Relay::start(&["tcp"], &["--route", &route]);

    // The client listens on its sent-by port and sends from another (ephemeral) one.
    let client_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let sent_by = client_listener.local_addr().unwrap().port();
    let mut c = connect(relay.port);
    let invite = format!(
        "INVITE sip:carol@next.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:{sent_by};branch=z9hG4bKgone1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@a.test>;tag=1\r\nTo: <sip:carol@next.test>\r\n\
         Call-ID: gone1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:{sent_by};transport=tcp>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    c.write_all(invite.as_bytes()).unwrap();
    let ephemeral = c.local_addr().unwrap().port();
    let forwarded = got_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("INVITE not forwarded");
    let vias = forwarded.vias().unwrap();
    assert_eq!(
        vias[1].rport(),
        Some(Some(ephemeral.to_string().as_bytes())),
        "the relay stamped the connection's port"
    );
    drop(c);
    relay.wait_for_log("closed by peer");

    go_tx.send(()).unwrap();
    let mut back = accept(&client_listener);
    let resp = read_message(&mut back).expect("no 200 on the new connection");
    assert_eq!(resp.status_code(), Some(200));
    assert_eq!(resp.call_id().unwrap(), b"gone1");
    assert_eq!(resp.vias().unwrap().len(), 1, "the relay's Via was removed");
    assert!(relay.log_text().contains(&format!(
        "connection tcp:127.0.0.1:{ephemeral} is gone; response to tcp:127.0.0.1:{sent_by}"
    )));
    assert_eq!(relay.counter("send_failures"), 0);
}

fn broken_request(via: &str) -> String {
    format!(
        "OPTIONS sip:carol@next.test SIP/2.0\r\n{via}From: <sip:alice@a.test>;tag=1\r\n\
         To: <sip:carol@next.test>\r\nCall-ID: broken1\r\nCSeq: 1 OPTIONS\r\n\
         This line is no header\r\nContent-Length: 0\r\n\r\n"
    )
}

#[test]
fn unparsable_requests_are_answered_400_on_the_connection_or_per_via() {
    let relay = Relay::start(&["udp", "tcp"], &[]);

    // TCP, no Via at all: the connection is the return path.
    let mut c = connect(relay.port);
    c.write_all(broken_request("").as_bytes()).unwrap();
    let resp = read_message(&mut c).expect("no 400 on the connection");
    assert_eq!(resp.status_code(), Some(400));
    assert_eq!(resp.call_id().unwrap(), b"broken1");
    // Then the connection ends: after a refused message the framing cannot be trusted.
    assert!(read_message(&mut c).is_none());
    relay.wait_for_log("framing stopped");

    // UDP with a readable Via: to the source address and the sent-by port.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let port = udp.local_addr().unwrap().port();
    let via = format!("Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKu1\r\n");
    udp.send_to(broken_request(&via).as_bytes(), ("127.0.0.1", relay.port))
        .unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = udp.recv_from(&mut buf).expect("no 400 over UDP");
    let resp = Message::parse(buf[..n].to_vec()).unwrap();
    assert_eq!(resp.status_code(), Some(400));
    assert_eq!(resp.top_via().unwrap().branch(), Some(&b"z9hG4bKu1"[..]));

    // UDP without a Via: no return path, nothing comes back.
    udp.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    udp.send_to(broken_request("").as_bytes(), ("127.0.0.1", relay.port))
        .unwrap();
    assert!(udp.recv_from(&mut buf).is_err(), "answered without a Via");
    assert_eq!(relay.counter("parse_failures"), 3);
    assert_eq!(relay.counter("generated"), 2, "two 400s");
}

#[test]
fn idle_connections_are_closed() {
    let relay = Relay::start(&["tcp"], &["--idle-timeout", "1"]);
    let mut c = connect(relay.port);
    // The sandbox clock may jump ahead while everything sleeps: assert only that the
    // connection ends, not when.
    c.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 16];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => panic!("unexpected {n} bytes"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the idle connection was never closed"
        );
    }
    relay.wait_for_log("idle for");
    assert_eq!(relay.counter("connections_opened"), 1);
    assert_eq!(relay.counter("connections_closed"), 1);
}

#[test]
fn a_bind_failure_names_the_address_and_exits_3() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipsec-relay"))
        .args(["--listen", &format!("tcp:127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot bind tcp:127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn on_port_0_the_relay_says_the_port_it_bound_and_its_via_and_record_route_name_it() {
    let hop = UdpSocket::bind("127.0.0.1:0").unwrap();
    let route = format!("127.0.0.1=udp:{}", hop.local_addr().unwrap());
    let relay = Relay::start_at(0, &["udp"], &["--route", &route]);
    assert_ne!(relay.port, 0, "{}", relay.log_text());
    let invite =
        "INVITE sip:carol@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKp0\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@b.test>;tag=1\r\nTo: <sip:carol@127.0.0.1>\r\n\
         Call-ID: port0\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let got = forwarded_to(&hop, relay.port, invite).expect("INVITE not forwarded");
    let via = got.top_via().unwrap();
    assert_eq!(via.port(), Some(relay.port));
    let rr = got.record_routes().unwrap()[0].uri().as_str().to_string();
    assert!(
        rr.starts_with(&format!("sip:127.0.0.1:{};", relay.port)),
        "{rr}"
    );
}

#[test]
fn a_wildcard_listener_names_a_reachable_address_or_the_advertised_one() {
    for (advertise, named) in [(None, "127.0.0.1"), (Some("192.0.2.10"), "192.0.2.10")] {
        let hop = UdpSocket::bind("127.0.0.2:0").unwrap();
        let route = format!("127.0.0.2=udp:{}", hop.local_addr().unwrap());
        let mut extra = vec!["--route", &route];
        extra.extend(advertise.iter().flat_map(|a| ["--advertise", a]));
        let relay = Relay::start_listening(&["udp:0.0.0.0:0".to_string()], &extra);
        let invite = "INVITE sip:carol@127.0.0.2 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKw0\r\nMax-Forwards: 70\r\n\
             From: <sip:a@b.test>;tag=1\r\nTo: <sip:carol@127.0.0.2>\r\n\
             Call-ID: wildcard\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
        caller
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let rewritten = invite.replace("127.0.0.1:9", &caller.local_addr().unwrap().to_string());
        caller
            .send_to(rewritten.as_bytes(), ("127.0.0.1", relay.port))
            .unwrap();
        hop.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 4096];
        let n = hop.recv(&mut buf).expect("INVITE not forwarded");
        let got = Message::parse(buf[..n].to_vec()).unwrap();
        let via = got.top_via().unwrap();
        assert_eq!(via.host().to_string(), named, "{}", relay.log_text());
        let rr = got.record_routes().unwrap()[0].uri().as_str().to_string();
        assert!(
            rr.starts_with(&format!("sip:{named}:{};", relay.port)),
            "{rr}"
        );
        // The answer comes back through the Via the relay wrote.
        let ok = build_response(&got, 200, "OK", &[]);
        hop.send_to(&ok, ("127.0.0.1", relay.port)).unwrap();
        let n = caller.recv(&mut buf).expect("200 OK not returned");
        let back = Message::parse(buf[..n].to_vec()).unwrap();
        assert_eq!(back.status_code(), Some(200));
    }
}

#[test]
fn advertise_is_refused_without_a_listener_of_its_family_or_twice_for_one() {
    for (args, says) in [
        (
            &["--advertise", "2001:db8::1"][..],
            "no --listen address of its family",
        ),
        (
            &["--advertise", "192.0.2.1", "--advertise", "192.0.2.2"][..],
            "one address per family",
        ),
        (&["--advertise", "0.0.0.0"][..], "cannot reach the relay"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipsec-relay"))
            .args(["--listen", "udp:127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn with_a_key_file_dialogs_outlive_a_restart_and_without_one_they_do_not() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("relay.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let key_arg = key.to_str().unwrap();
    let callee = UdpSocket::bind("127.0.0.1:0").unwrap();
    let callee_port = callee.local_addr().unwrap().port();
    let route = format!("127.0.0.1=udp:127.0.0.1:{callee_port}");
    let port = relay_common::free_port();
    let relay = Relay::start_at(port, &["udp"], &["--route", &route, "--key-file", key_arg]);
    let invite =
        "INVITE sip:carol@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKk1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@b.test>;tag=1\r\nTo: <sip:carol@127.0.0.1>\r\n\
         Call-ID: keyed\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let got = forwarded_to(&callee, port, invite).expect("INVITE not forwarded");
    let rr = got.record_routes().unwrap()[0].uri().as_str().to_string();
    drop(relay);

    // The BYE goes to an address no route covers: only our Record-Route vouches for it.
    let target = UdpSocket::bind("127.0.0.7:0").unwrap();
    let bye = format!(
        "BYE sip:carol@127.0.0.7:{} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKk2\r\n\
         Route: <{rr}>\r\nMax-Forwards: 70\r\nFrom: <sip:a@b.test>;tag=1\r\n\
         To: <sip:carol@127.0.0.1>;tag=2\r\nCall-ID: keyed\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        target.local_addr().unwrap().port()
    );
    let relay = Relay::start_at(port, &["udp"], &["--route", &route, "--key-file", key_arg]);
    assert!(
        forwarded_to(&target, port, &bye).is_some(),
        "{}",
        relay.log_text()
    );
    drop(relay);
    let relay = Relay::start_at(port, &["udp"], &["--route", &route]);
    assert!(forwarded_to(&target, port, &bye).is_none());
    assert_eq!(relay.counter("forged_routes"), 1);
    drop(relay);

    // A key file others may read is refused (exit 3, naming it).
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipsec-relay"))
        .args([
            "--listen",
            &format!("udp:127.0.0.1:{port}"),
            "--key-file",
            key_arg,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("relay.key"));
}
