//! `sipsec-relay` signals: SIGHUP reads the configuration again without dropping connections
//! (and keeps the old one when the new one is wrong); SIGTERM drains and exits in bounded time
//! even while a next hop does not read.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

mod relay_common;
use relay_common::{
    forwarded_to, read_message, send_wedge_invites, signal, start_with_wedge, Relay,
};

fn options(domain: &str, local: u16, n: u32) -> String {
    format!(
        "OPTIONS sip:x@{domain} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:{local};branch=z9hG4bKhup{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@b.test>;tag=1\r\nTo: <sip:x@{domain}>\r\n\
         Call-ID: hup{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

fn arrives(hop: &UdpSocket) -> bool {
    hop.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 4096];
    hop.recv(&mut buf).is_ok()
}

#[test]
fn sighup_reloads_routes_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("relay.conf");
    let hop_a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let hop_b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let route = |d: &str, hop: &UdpSocket| {
        format!(
            "route = {d}=udp:127.0.0.1:{}\n",
            hop.local_addr().unwrap().port()
        )
    };
    std::fs::write(&conf, route("a.test", &hop_a)).unwrap();
    let relay = Relay::start(&["udp", "tcp"], &["--config", conf.to_str().unwrap()]);
    let mut c = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = c.local_addr().unwrap().port();
    c.write_all(options("a.test", local, 1).as_bytes()).unwrap();
    assert!(arrives(&hop_a));

    std::fs::write(&conf, route("b.test", &hop_b)).unwrap();
    signal(&relay.child, libc::SIGHUP);
    relay.wait_for_log("sipsec-relay: reloaded");
    // The same connection: the new route works, the old one is gone.
    c.write_all(options("b.test", local, 2).as_bytes()).unwrap();
    assert!(arrives(&hop_b));
    c.write_all(options("a.test", local, 3).as_bytes()).unwrap();
    let answer = read_message(&mut c).expect("the connection was dropped");
    assert_eq!(answer.status_code(), Some(404));

    // A broken file: the old configuration stays.
    std::fs::write(&conf, "route b.test\n").unwrap();
    signal(&relay.child, libc::SIGHUP);
    relay.wait_for_log("reload failed, the old configuration stays");
    c.write_all(options("b.test", local, 4).as_bytes()).unwrap();
    assert!(arrives(&hop_b));
    assert_eq!(relay.counter("connections_closed"), 0);
}

/// Waits until the relay has logged `what` `n` times (reloads log one line each).
#[test]
fn sighup_says_a_changed_chain_needs_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("relay.conf");
    std::fs::write(&conf, "outbound = cat\n").unwrap();
    let relay = Relay::start(&["udp"], &["--config", conf.to_str().unwrap()]);
    signal(&relay.child, libc::SIGHUP);
    relay.wait_for_log("sipsec-relay: reloaded");
    assert!(!relay.log_text().contains("until a restart"));
    std::fs::write(&conf, "outbound = cat -u\n").unwrap();
    signal(&relay.child, libc::SIGHUP);
    relay.wait_for_log("--outbound, --inbound, --audit-log or the chain options changed: not applied until a restart");
}

fn wait_for_nth(relay: &Relay, what: &str, n: usize) {
    let t = Instant::now();
    while relay.log_text().matches(what).count() < n {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{what:?} not logged {n} times:\n{}",
            relay.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sighup_applies_new_rate_limits_and_connection_caps_and_says_what_stays() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("relay.conf");
    let hop = UdpSocket::bind("127.0.0.1:0").unwrap();
    let route = format!("route = a.test=udp:{}\n", hop.local_addr().unwrap());
    std::fs::write(&conf, format!("{route}request-rate = 1000\n")).unwrap();
    let relay = Relay::start(&["udp", "tcp"], &["--config", conf.to_str().unwrap()]);
    // Ten requests at once from 127.0.0.2 (not a next hop of a route, so under the limit):
    // how many reach the hop.
    let burst = |first: u32| {
        let c = UdpSocket::bind("127.0.0.2:0").unwrap();
        for n in first..first + 10 {
            let text = options("a.test", 9, n);
            c.send_to(text.as_bytes(), ("127.0.0.1", relay.port))
                .unwrap();
        }
        hop.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut buf = [0u8; 4096];
        (0..10).take_while(|_| hop.recv(&mut buf).is_ok()).count()
    };
    assert_eq!(burst(0), 10);
    assert_eq!(relay.counter("rate_limited"), 0);
    // Two connections from one source, before the cap is lowered to one.
    let c1 = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
    let c2 = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
    let t = Instant::now();
    while relay.counter("connections_opened") < 2 {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(20));
    }

    std::fs::write(
        &conf,
        format!("{route}request-rate = 1\nmax-connections-per-source = 1\n"),
    )
    .unwrap();
    signal(&relay.child, libc::SIGHUP);
    relay.wait_for_log("reloaded; new limits");
    relay.wait_for_log("1 source(s) keep more than --max-connections-per-source 1 open");
    // The source's bucket now holds at most the new burst (2): no fresh allowance.
    let passed = burst(10);
    assert!(passed <= 2, "{passed} of 10 passed at 1/s");
    assert!(relay.counter("rate_limited") >= 8);
    // The connections open stay and carry messages; a third from the source is refused.
    for (c, n) in [(&c1, 30), (&c2, 31)] {
        let local = c.local_addr().unwrap().port();
        (&mut &*c)
            .write_all(options("a.test", local, n).as_bytes())
            .unwrap();
        hop.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        assert!(arrives(&hop), "connection {n} dropped");
    }
    let mut c3 = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
    c3.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    assert!(
        matches!(c3.read(&mut buf), Ok(0) | Err(_)),
        "closed at once"
    );
    assert_eq!(relay.counter("connections_refused"), 1);
    assert_eq!(relay.counter("connections_closed"), 0);
}

#[test]
fn sighup_rereads_the_key_file_and_accepts_the_previous_key_until_the_next() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("relay.key");
    let write_key = |byte: u8| {
        std::fs::write(&key, [byte; 32]).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write_key(1);
    let callee = UdpSocket::bind("127.0.0.1:0").unwrap();
    let route = format!("127.0.0.1=udp:{}", callee.local_addr().unwrap());
    let key_arg = key.to_str().unwrap();
    let relay = Relay::start(&["udp"], &["--route", &route, "--key-file", key_arg]);
    let invite = |n: u32| {
        format!(
            "INVITE sip:carol@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKr{n}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@b.test>;tag=a{n}\r\nTo: <sip:carol@127.0.0.1>\r\n\
             Call-ID: rotate{n}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let record_route = |n: u32| {
        let got = forwarded_to(&callee, relay.port, &invite(n)).expect("INVITE not forwarded");
        got.record_routes().unwrap()[0].uri().as_str().to_string()
    };
    // A BYE from the callee (tags swapped) to an address only the Route vouches for.
    let target = UdpSocket::bind("127.0.0.7:0").unwrap();
    let bye = |rr: &str, n: u32, branch: &str| {
        format!(
            "BYE sip:a@{} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{branch}\r\n\
             Route: <{rr}>\r\nMax-Forwards: 70\r\nFrom: <sip:carol@127.0.0.1>;tag=c{n}\r\n\
             To: <sip:a@b.test>;tag=a{n}\r\nCall-ID: rotate{n}\r\nCSeq: 1 BYE\r\n\
             Content-Length: 0\r\n\r\n",
            target.local_addr().unwrap()
        )
    };
    let first = record_route(1);
    write_key(2);
    signal(&relay.child, libc::SIGHUP);
    relay.wait_for_log("a new key from --key-file");
    let second = record_route(2);
    assert_ne!(first, second);
    for (rr, n) in [(&first, 1), (&second, 2)] {
        assert!(
            forwarded_to(&target, relay.port, &bye(rr, n, &format!("x{n}"))).is_some(),
            "{rr}: {}",
            relay.log_text()
        );
    }
    // The same key again changes nothing; a third one retires the first.
    signal(&relay.child, libc::SIGHUP);
    wait_for_nth(&relay, "sipsec-relay: reloaded", 2);
    write_key(3);
    signal(&relay.child, libc::SIGHUP);
    wait_for_nth(&relay, "a new key from --key-file", 2);
    assert!(forwarded_to(&target, relay.port, &bye(&first, 1, "y1")).is_none());
    assert_eq!(relay.counter("forged_routes"), 1);
    assert!(forwarded_to(&target, relay.port, &bye(&second, 2, "y2")).is_some());
    // A key file others may read: the reload fails and the key in use stays.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    signal(&relay.child, libc::SIGHUP);
    relay.wait_for_log("reload failed, the old configuration stays");
    assert!(forwarded_to(&target, relay.port, &bye(&second, 2, "z2")).is_some());
}

#[test]
fn sigterm_drains_and_exits_in_bounded_time_while_a_next_hop_does_not_read() {
    // A small receive window, so that the relay's writes stall soon.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    sock.bind(&any.into()).unwrap();
    sock.listen(8).unwrap();
    let wedge: TcpListener = sock.into();
    let relay = start_with_wedge(
        wedge.local_addr().unwrap().port(),
        &[
            "--drain-timeout",
            "1",
            "--write-queue-bytes",
            "100000000",
            "--write-timeout",
            "60",
        ],
    );
    // 15 MB in 50 kB datagrams, more than the kernel buffers of one TCP connection.
    send_wedge_invites(relay.port, 300, 50_000, 1);
    let (_conn, _) = wedge.accept().unwrap();
    // Everything read (what the socket buffer dropped is lost), much of it still queued.
    let mut last = 0;
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = relay.counter("in_udp");
        if now == last {
            break;
        }
        last = now;
    }
    assert!(last > 200, "{}", relay.counters());
    let t = Instant::now();
    let log = relay.stop();
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert!(log.contains("drain timeout"), "{log}");
}
