//! `sipsec-relay` signals: SIGHUP reads the configuration again without dropping connections
//! (and keeps the old one when the new one is wrong); SIGTERM drains and exits in bounded time
//! even while a next hop does not read.

use std::io::Write;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

mod relay_common;
use relay_common::{read_message, send_wedge_invites, signal, start_with_wedge, Relay};

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
