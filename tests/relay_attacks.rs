//! `sipsec-relay` under attack on loopback: each attack is refused or cut off, counted, and
//! the relay keeps answering others while it runs.

use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

mod relay_common;
use relay_common::{send_wedge_invites, start_with_wedge, Relay};

/// An OPTIONS over UDP from `sock` to the relay, sent up to four times a second apart as a UA
/// retransmits (a flood may fill the relay's socket buffer and drop one); the status of the
/// answer, if one came.
fn udp_probe(sock: &UdpSocket, relay_port: u16, call_id: &str) -> Option<u16> {
    let local = sock.local_addr().unwrap().port();
    let probe = format!(
        "OPTIONS sip:x@nowhere.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:a@b.test>;tag=1\r\nTo: <sip:x@nowhere.test>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    for _ in 0..4 {
        sock.send_to(probe.as_bytes(), ("127.0.0.1", relay_port))
            .unwrap();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(1) {
            let Ok(n) = sock.recv(&mut buf) else { continue };
            let m = sipsec::Message::parse(buf[..n].to_vec()).ok()?;
            if m.call_id().ok() == Some(call_id.as_bytes()) {
                return m.status_code();
            }
        }
    }
    None
}

/// `Threads:` and `VmRSS:` (kB) of a process.
fn threads_and_rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (field("Threads:"), field("VmRSS:"))
}

#[test]
fn a_next_hop_that_does_not_read_cannot_stop_the_udp_listener() {
    // The next hop accepts and never reads.
    let wedge = TcpListener::bind("127.0.0.1:0").unwrap();
    let wedge_port = wedge.local_addr().unwrap().port();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let held = std::thread::spawn(move || {
        wedge.set_nonblocking(true).unwrap();
        let mut held = Vec::new();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) && held.len() < 4 {
            match wedge.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        let _ = done_rx.recv_timeout(Duration::from_secs(30));
        drop(held);
    });
    let relay = start_with_wedge(
        wedge_port,
        &["--write-queue-bytes", "65536", "--write-timeout", "1"],
    );
    // 16 MB of INVITEs over UDP, more than the kernel buffers of one TCP connection hold.
    send_wedge_invites(relay.port, 16_000, 900, 200);
    // The relay answers someone else at once, while the next hop still does not read.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..3 {
        assert!(
            udp_probe(&client, relay.port, &format!("probe{i}")).is_some(),
            "UDP listener wedged:\n{}",
            relay.counters()
        );
    }
    let t = Instant::now();
    while relay.counter("write_queue_overflows") + relay.counter("write_timeouts") == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{}",
            relay.counters()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(relay.counter("connections_closed") >= 1);
    assert!(udp_probe(&client, relay.port, "probe-after").is_some());
    drop(relay);
    drop(done_tx);
    let _ = held.join();
}

/// Raises this process's soft descriptor limit (children inherit it) to at least `want`;
/// false when the hard limit is lower.
fn raise_nofile(want: u64) -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on our own process with a valid pointer.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        if lim.rlim_max < want {
            return false;
        }
        if lim.rlim_cur < want {
            lim.rlim_cur = want;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
    true
}

#[test]
fn five_thousand_idle_connections_cost_no_thread_and_little_memory() {
    const IDLE: usize = 5000;
    if !raise_nofile(IDLE as u64 + 1000) {
        eprintln!("note: the hard limit on open files is under {IDLE}; test skipped");
        return;
    }
    let relay = Relay::start(
        &["udp", "tcp"],
        &[
            "--max-connections",
            "6000",
            "--max-connections-per-source",
            "6000",
        ],
    );
    let pid = relay.child.id();
    let (threads_before, rss_before) = threads_and_rss(pid);
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(("127.0.0.1", relay.port)).unwrap());
    }
    let t = Instant::now();
    while relay.counter("connections_opened") < IDLE as u64 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{}",
            relay.counters()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (threads, rss) = threads_and_rss(pid);
    eprintln!(
        "{IDLE} idle connections: threads {threads_before} -> {threads}, RSS {rss_before} -> {rss} kB"
    );
    assert_eq!(threads, threads_before, "a thread per connection");
    assert!(
        rss - rss_before < 64 * 1024,
        "{} kB for {IDLE} idle connections",
        rss - rss_before
    );
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(udp_probe(&client, relay.port, "busy").is_some());
    drop(idle);
    let t = Instant::now();
    while relay.counter("connections_closed") < IDLE as u64 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{}",
            relay.counters()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn connections_past_the_caps_are_refused_and_counted() {
    let relay = Relay::start(
        &["udp", "tcp"],
        &[
            "--max-connections",
            "50",
            "--max-connections-per-source",
            "20",
        ],
    );
    let open = |n: usize| -> Vec<TcpStream> {
        (0..n)
            .map(|_| TcpStream::connect(("127.0.0.1", relay.port)).unwrap())
            .collect()
    };
    let held = open(30);
    let t = Instant::now();
    while relay.counter("connections_refused") < 10 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{}",
            relay.counters()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(relay.counter("connections_opened"), 20);
    // A refused connection is closed at once.
    let mut refused = held
        .into_iter()
        .filter_map(|mut s| {
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut b = [0u8; 1];
            match s.read(&mut b) {
                Ok(0) => None,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    Some(s)
                }
                _ => None,
            }
        })
        .collect::<Vec<_>>();
    assert_eq!(refused.len(), 20, "the 20 admitted stay open");
    refused.clear();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(udp_probe(&client, relay.port, "capped").is_some());
}

/// Sends `text` over UDP from `sock` and returns the first answer within a second.
fn udp_exchange(sock: &UdpSocket, relay_port: u16, text: &str) -> Option<sipsec::Message> {
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    sock.send_to(text.as_bytes(), ("127.0.0.1", relay_port))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).ok()?;
    sipsec::Message::parse(buf[..n].to_vec()).ok()
}

/// Whether anything arrives at `victim` within half a second.
fn victim_got_something(victim: &UdpSocket) -> bool {
    victim
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 4096];
    victim.recv(&mut buf).is_ok()
}

#[test]
fn no_open_relay_no_reflection_no_forged_route() {
    let relay = Relay::start(&["udp"], &[]);
    let victim = UdpSocket::bind("127.0.0.1:0").unwrap();
    let vport = victim.local_addr().unwrap().port();
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    let aport = attacker.local_addr().unwrap().port();
    let head = |first: &str, branch: &str, extra: &str| {
        format!(
            "{first}\r\nVia: SIP/2.0/UDP 127.0.0.1:{aport};branch={branch}\r\n{extra}Max-Forwards: 70\r\n\
             From: <sip:a@b.test>;tag=1\r\nCall-ID: {branch}\r\nContent-Length: 0\r\n\r\n"
        )
    };

    // An INVITE to an IP literal the relay has no route for: 403, nothing reaches it.
    let invite = head(
        &format!("INVITE sip:victim@127.0.0.1:{vport} SIP/2.0"),
        "z9hG4bKopen",
        &format!("To: <sip:victim@127.0.0.1:{vport}>\r\nCSeq: 1 INVITE\r\n"),
    );
    let answer = udp_exchange(&attacker, relay.port, &invite).expect("no answer");
    assert_eq!(answer.status_code(), Some(403));
    assert!(!victim_got_something(&victim), "forwarded as an open relay");

    // A forged Route naming the relay, on an in-dialog BYE: 403, nothing reaches the victim.
    let bye = head(
        &format!("BYE sip:victim@127.0.0.1:{vport} SIP/2.0"),
        "z9hG4bKroute",
        &format!(
            "Route: <sip:127.0.0.1:{};lr;sr=0123456789abcdef>\r\nTo: <sip:v@x.test>;tag=9\r\nCSeq: 2 BYE\r\n",
            relay.port
        ),
    );
    let answer = udp_exchange(&attacker, relay.port, &bye).expect("no answer");
    assert_eq!(answer.status_code(), Some(403));
    assert!(
        !victim_got_something(&victim),
        "forwarded along a forged Route"
    );

    // A forged response: the relay's Via on top, the victim's under it.
    let forged = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:{};branch=z9hG4bKsr0123456789abcdef.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{vport};branch=z9hG4bKvictim\r\nFrom: <sip:a@b.test>;tag=1\r\n\
         To: <sip:v@x.test>;tag=2\r\nCall-ID: reflect\r\nCSeq: 1 INVITE\r\nContent-Length: {}\r\n\r\n{}",
        relay.port,
        1000,
        "x".repeat(1000)
    );
    for _ in 0..10 {
        attacker
            .send_to(forged.as_bytes(), ("127.0.0.1", relay.port))
            .unwrap();
    }
    assert!(
        !victim_got_something(&victim),
        "a forged response was reflected"
    );

    assert_eq!(relay.counter("not_forwarded"), 1);
    assert_eq!(relay.counter("forged_routes"), 1);
    assert_eq!(relay.counter("forged_responses"), 10);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(udp_probe(&client, relay.port, "still-there").is_some());
}

#[test]
fn the_registrar_is_bounded_and_its_answers_are_small() {
    let relay = Relay::start(
        &["udp"],
        &[
            "--domain",
            "example.test",
            "--max-bindings",
            "600",
            "--max-aors",
            "5",
        ],
    );
    let ua = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = ua.local_addr().unwrap().port();
    let register = |user: &str, cseq: usize, contacts: &str| {
        format!(
            "REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKr{user}{cseq}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{user}@example.test>;tag=1\r\nTo: <sip:{user}@example.test>\r\n\
             Call-ID: reg-{user}\r\nCSeq: {cseq} REGISTER\r\n{contacts}Content-Length: 0\r\n\r\n"
        )
    };
    let status = |text: &str| {
        udp_exchange(&ua, relay.port, text)
            .and_then(|m| m.status_code())
            .unwrap()
    };
    // 600 bindings for one AOR, 20 a REGISTER.
    for batch in 0..30 {
        let contacts: Vec<String> = (0..20)
            .map(|i| format!("<sip:agent-{}@127.0.0.1:{port}>", batch * 20 + i))
            .collect();
        let text = register(
            "agent",
            batch + 1,
            &format!("Contact: {}\r\n", contacts.join(", ")),
        );
        assert_eq!(status(&text), 200, "batch {batch}");
    }
    // A query (no Contact) lists at most ten of them and says how many it left out.
    let query = register("agent", 31, "");
    let answer = udp_exchange(&ua, relay.port, &query).unwrap();
    let size = answer.as_bytes().len();
    // Bounded: ten contacts of at most 1 kB in all, plus the usual headers.
    assert!(
        size < 1500,
        "{size} bytes answered to {} bytes",
        query.len()
    );
    eprintln!("{size} bytes answered to a {} byte query", query.len());
    let text = String::from_utf8_lossy(answer.as_bytes()).to_string();
    assert_eq!(text.matches("\r\nContact: ").count(), 10, "{text}");
    let warning =
        String::from_utf8_lossy(answer.values_named("Warning").next().unwrap()).to_string();
    assert!(
        warning.contains("590 more binding(s) not listed"),
        "{warning}"
    );
    // One more binding: 403, counted, nothing changed.
    let more = register(
        "agent",
        32,
        &format!("Contact: <sip:extra@127.0.0.1:{port}>\r\n"),
    );
    assert_eq!(status(&more), 403);
    // Five AORs in all: the sixth gets 403.
    for user in ["b", "c", "d", "e"] {
        let text = register(
            user,
            1,
            &format!("Contact: <sip:{user}@127.0.0.1:{port}>\r\n"),
        );
        assert_eq!(status(&text), 200);
    }
    let sixth = register("f", 1, &format!("Contact: <sip:f@127.0.0.1:{port}>\r\n"));
    assert_eq!(status(&sixth), 403);
    assert_eq!(relay.counter("registrar_refused"), 2);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(udp_probe(&client, relay.port, "registrar").is_some());
}

/// Every datagram that arrives at `sock` within `wait` of the last one.
fn drain_answers(sock: &UdpSocket, wait: Duration) -> Vec<sipsec::Message> {
    sock.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 4096];
    let mut out = Vec::new();
    while let Ok(n) = sock.recv(&mut buf) {
        out.extend(sipsec::Message::parse(buf[..n].to_vec()).ok());
        assert!(out.len() < 10_000);
    }
    out
}

#[test]
fn floods_from_one_source_are_limited_and_others_still_served() {
    let relay = Relay::start(
        &["udp", "tcp"],
        &["--request-rate", "5", "--bad-input-rate", "5"],
    );
    let options = |port: u16, transport: &str, i: usize| {
        format!(
            "OPTIONS sip:x@nowhere.test SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.2:{port};branch=z9hG4bKf{i}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@b.test>;tag=1\r\nTo: <sip:x@nowhere.test>\r\n\
             Call-ID: flood{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
    };
    // Requests over UDP from 127.0.0.2: the burst (10) answered, the rest dropped.
    let flood = UdpSocket::bind("127.0.0.2:0").unwrap();
    let fport = flood.local_addr().unwrap().port();
    for i in 0..100 {
        flood
            .send_to(
                options(fport, "UDP", i).as_bytes(),
                ("127.0.0.1", relay.port),
            )
            .unwrap();
    }
    let answered = drain_answers(&flood, Duration::from_millis(500)).len();
    assert!((10..=12).contains(&answered), "{answered} answered");
    // Unparsable requests over UDP from 127.0.0.3: a 400 for the burst only.
    let garbage = UdpSocket::bind("127.0.0.3:0").unwrap();
    let gport = garbage.local_addr().unwrap().port();
    for i in 0..100 {
        let broken = format!(
            "OPTIONS sip:x@nowhere.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.3:{gport};branch=z9hG4bKg{i}\r\n\
             not a header\r\n\r\n"
        );
        garbage
            .send_to(broken.as_bytes(), ("127.0.0.1", relay.port))
            .unwrap();
    }
    let answered = drain_answers(&garbage, Duration::from_millis(500));
    assert!(
        (10..=12).contains(&answered.len()),
        "{} answered",
        answered.len()
    );
    assert!(answered.iter().all(|m| m.status_code() == Some(400)));
    // Over TCP the source is real: 503 with Retry-After past the rate.
    let local: std::net::SocketAddr = "127.0.0.4:0".parse().unwrap();
    let mut tcp = connect_from(local, relay.port);
    let mut sent = String::new();
    for i in 0..20 {
        sent.push_str(&options(tcp.local_addr().unwrap().port(), "TCP", 1000 + i));
    }
    std::io::Write::write_all(&mut tcp, sent.as_bytes()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut codes = Vec::new();
    while codes.len() < 20 {
        match relay_common::read_message(&mut tcp) {
            Some(m) => codes.push((m.status_code(), m.values_named("Retry-After").count())),
            None => break,
        }
    }
    assert_eq!(codes.len(), 20, "{codes:?}");
    let busy: Vec<_> = codes.iter().filter(|(c, _)| *c == Some(503)).collect();
    assert!(busy.len() >= 8, "{codes:?}");
    assert!(busy.iter().all(|(_, retry_after)| *retry_after == 1));
    assert!(relay.counter("rate_limited") >= 8 + 88 + 88);
    // Another source is served all along.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(udp_probe(&client, relay.port, "unaffected").is_some());
}

/// A TCP connection to the relay from a chosen local address.
fn connect_from(local: std::net::SocketAddr, relay_port: u16) -> TcpStream {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&local.into()).unwrap();
    let relay: std::net::SocketAddr = ([127, 0, 0, 1], relay_port).into();
    sock.connect(&relay.into()).unwrap();
    sock.into()
}

#[test]
fn unfinished_messages_cannot_hold_more_than_the_buffer_budget() {
    let relay = Relay::start(&["udp", "tcp"], &["--buffer-budget", "100000"]);
    // Ten connections each send 30 kB of a 60 kB message and stop there.
    let head =
        "OPTIONS sip:x@nowhere.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKb\r\n\
                From: <sip:a@b.test>;tag=1\r\nTo: <sip:x@nowhere.test>\r\nCall-ID: budget\r\n\
                CSeq: 1 OPTIONS\r\nContent-Length: 60000\r\n\r\n";
    let mut partial = head.as_bytes().to_vec();
    partial.resize(head.len() + 30_000, b'x');
    let mut held = Vec::new();
    for _ in 0..10 {
        let mut s = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
        std::io::Write::write_all(&mut s, &partial).unwrap();
        held.push(s);
    }
    let t = Instant::now();
    while relay.counter("connections_closed") < 6 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{}",
            relay.counters()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        relay.counter("budget_refusals") >= 6,
        "{}",
        relay.counters()
    );
    relay.wait_for_log("while the relay's input budget is spent");
    // A complete message on a new connection is still answered.
    let mut c = TcpStream::connect(("127.0.0.1", relay.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let options = head.replace("Content-Length: 60000", "Content-Length: 0");
    std::io::Write::write_all(&mut c, options.as_bytes()).unwrap();
    let answer = relay_common::read_message(&mut c).expect("no answer");
    assert_eq!(answer.status_code(), Some(404));
}

#[test]
fn write_queues_cannot_hold_more_than_the_buffer_budget() {
    let wedge = TcpListener::bind("127.0.0.1:0").unwrap();
    let relay = start_with_wedge(
        wedge.local_addr().unwrap().port(),
        &[
            "--buffer-budget",
            "100000",
            "--write-queue-bytes",
            "10000000",
            "--write-timeout",
            "30",
        ],
    );
    // The next hop is never accepted from its backlog, so nothing is ever read.
    send_wedge_invites(relay.port, 16_000, 900, 200);
    let t = Instant::now();
    while relay.counter("budget_refusals") == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{}",
            relay.counters()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(relay.counter("write_queue_overflows"), 0);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(udp_probe(&client, relay.port, "queue-budget").is_some());
    drop(wedge);
}
