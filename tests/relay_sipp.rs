//! End-to-end: SIPp (Debian `sip-tester`) calls through a running `sipsec-relay` on loopback,
//! over UDP, TCP and TLS, with faults injected between calls. Without SIPp the tests are
//! skipped with a note, unless `SIPSEC_REQUIRE_PEERS=1`.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod relay_common;
use relay_common::{free_port, peer_available as have, run_sipp as sipp, Relay};

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/relay")
        .join(name)
        .display()
        .to_string()
}

/// A SIPp uas serving `calls` calls, as a child (`scenario`: `-sn uas` or `-sf FILE`).
fn uas(transport: &str, port: u16, calls: u32, scenario: &[&str]) -> Child {
    let child = Command::new("timeout")
        .args(["30", "sipp", "-t", transport, "-i", "127.0.0.1", "-nostdin"])
        .args(scenario)
        .args(["-p", &port.to_string(), "-m", &calls.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir(std::env::temp_dir())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    child
}

fn uac(transport: &str, relay: u16, calls: u32, scenario_args: &[&str]) -> bool {
    let target = format!("127.0.0.1:{relay}");
    let port = free_port().to_string();
    let calls = calls.to_string();
    let mut args = vec![
        target.as_str(),
        "-t",
        transport,
        "-i",
        "127.0.0.1",
        "-p",
        &port,
    ];
    args.extend(["-m", &calls, "-r", "10", "-s", "service"]);
    args.extend(scenario_args);
    sipp(&args)
}

fn finish(mut c: Child) -> bool {
    c.wait().unwrap().success()
}

/// Calls through a static route over one transport, with bad traffic between them.
fn calls_survive_faults(transport: &str, sipp_t: &str) {
    if !have("sipp", "-v") {
        return;
    }
    let uas_port = free_port();
    let route = format!("127.0.0.1={transport}:127.0.0.1:{uas_port}");
    let relay = Relay::start(&["udp", "tcp"], &["--route", &route, "--max-size", "4000"]);
    let server = uas(sipp_t, uas_port, 6, &["-sn", "uas"]);
    assert!(
        uac(sipp_t, relay.port, 3, &["-sn", "uac"]),
        "{}",
        relay.log_text()
    );

    let to = ("127.0.0.1", relay.port);
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(b"this is not SIP\r\n\r\n", to).unwrap();
    let mut oversize = b"OPTIONS sip:service@127.0.0.1 SIP/2.0\r\n".to_vec();
    oversize.resize(5000, b'A');
    udp.send_to(&oversize, to).unwrap();
    let mut garbage = TcpStream::connect(to).unwrap();
    garbage.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    garbage
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        garbage.read(&mut buf).unwrap_or(0),
        0,
        "garbage connection not closed"
    );
    let mut vanishing = TcpStream::connect(to).unwrap();
    vanishing
        .write_all(b"INVITE sip:service@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9")
        .unwrap();
    drop(vanishing);
    relay.wait_for_log("unfinished message");

    assert!(
        uac(sipp_t, relay.port, 3, &["-sn", "uac"]),
        "{}",
        relay.log_text()
    );
    assert!(finish(server));
    assert!(relay.counter("parse_failures") >= 4, "{}", relay.counters());
    assert!(relay.counter("connections_closed") >= 2);
    let log = relay.stop();
    assert!(log.contains("not SIP"), "{log}");
}

#[test]
fn udp_calls_survive_garbage_and_vanishing_peers() {
    calls_survive_faults("udp", "u1");
}

#[test]
fn tcp_calls_survive_garbage_and_vanishing_peers() {
    calls_survive_faults("tcp", "t1");
}

#[test]
fn registered_uas_is_reached_through_location_and_bye_is_record_routed() {
    if !have("sipp", "-v") {
        return;
    }
    let relay = Relay::start(&["udp"], &["--domain", "127.0.0.1"]);
    let uas_port = free_port();
    let relay_addr = format!("127.0.0.1:{}", relay.port);
    let p = uas_port.to_string();
    // No binding yet: 404.
    assert!(uac(
        "u1",
        relay.port,
        1,
        &["-sf", &scenario("refused.xml"), "-key", "mf", "70"]
    ));
    let reg = scenario("register.xml");
    assert!(sipp(&[
        &relay_addr,
        "-sf",
        &reg,
        "-i",
        "127.0.0.1",
        "-p",
        &p,
        "-s",
        "service",
        "-m",
        "1"
    ]));
    let server = uas("u1", uas_port, 2, &["-sf", &scenario("uas_rr.xml")]);
    assert!(
        uac("u1", relay.port, 2, &["-sf", &scenario("uac_rr.xml")]),
        "{}",
        relay.log_text()
    );
    assert!(finish(server));
    let log = relay.stop();
    assert!(
        log.contains("INVITE from udp") && log.contains("404 Not Found"),
        "{log}"
    );
    assert!(
        log.contains(&format!("-> udp:127.0.0.1:{uas_port} (location)")),
        "{log}"
    );
    let bye = log
        .lines()
        .filter(|l| l.contains("BYE ") && l.contains("after our Route"))
        .count();
    assert_eq!(bye, 2, "{log}");
}

#[test]
fn max_forwards_and_loops_are_refused() {
    if !have("sipp", "-v") {
        return;
    }
    let port = free_port();
    // A route back to the relay itself: the request would loop.
    let self_route = format!("127.0.0.1=udp:127.0.0.1:{port}");
    let relay = Relay::start_at(port, &["udp"], &["--route", &self_route]);
    let refused = scenario("refused.xml");
    assert!(uac(
        "u1",
        relay.port,
        1,
        &["-sf", &refused, "-key", "mf", "0"]
    ));
    assert!(uac(
        "u1",
        relay.port,
        1,
        &["-sf", &refused, "-key", "mf", "70"]
    ));
    let log = relay.stop();
    assert!(log.contains("483 Too Many Hops"), "{log}");
    assert!(log.contains("482 Loop Detected"), "{log}");
}

/// IPv6 listeners (no SIPp needed): an OPTIONS for an unknown domain over UDP and over TCP on
/// `[::1]` is answered 404 on the same transport, with `received`/`rport` in IPv6 form.
#[test]
fn ipv6_udp_and_tcp_are_answered() {
    let Ok(probe) = UdpSocket::bind("[::1]:0") else {
        eprintln!("note: no IPv6 loopback; test skipped");
        return;
    };
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("relay.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipsec-relay"))
        .args(["--listen", &format!("udp:[::1]:{port}")])
        .args(["--listen", &format!("tcp:[::1]:{port}")])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("listening")
    {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
    let options = |t: &str, local: u16| {
        format!(
            "OPTIONS sip:x@nowhere.test SIP/2.0\r\nVia: SIP/2.0/{t} [::1]:{local};branch=z9hG4bK6;rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@b.test>;tag=1\r\nTo: <sip:x@nowhere.test>\r\n\
             Call-ID: v6\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let udp = UdpSocket::bind("[::1]:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = udp.local_addr().unwrap().port();
    udp.send_to(options("UDP", local).as_bytes(), ("::1", port))
        .unwrap();
    let mut buf = [0u8; 2000];
    let n = udp.recv(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(text.starts_with("SIP/2.0 404"), "{text}");
    assert!(
        text.contains(&format!("received=[::1];rport={local}")),
        "{text}"
    );

    let mut tcp = TcpStream::connect(("::1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = tcp.local_addr().unwrap().port();
    tcp.write_all(options("TCP", local).as_bytes()).unwrap();
    let n = tcp.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(text.starts_with("SIP/2.0 404"), "{text}");
    let _ = child.kill();
    let _ = child.wait();
}
