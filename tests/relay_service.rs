//! sipsec-relay as a service: SIGHUP reads the configuration file again (routes change,
//! registrations stay), a broken file is refused and the running configuration kept.

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const RELAY: &str = env!("CARGO_BIN_EXE_sipsec-relay");

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn signal(child: &Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on the child this test started.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// The relay, stopped when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn options(client: &UdpSocket, to_domain: &str, branch: &str) -> Vec<u8> {
    let via = client.local_addr().unwrap();
    format!(
        "OPTIONS sip:x@{to_domain} SIP/2.0\r\nVia: SIP/2.0/UDP {via};branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:t@test.example>;tag=1\r\nTo: <sip:x@{to_domain}>\r\n\
         Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// Sends `message` to the relay and returns the first line of what comes back to `client`
/// or reaches `next_hop`, whichever answers.
fn first_line_back(client: &UdpSocket, relay: u16, next_hop: &UdpSocket, message: &[u8]) -> String {
    let mut buf = [0u8; 4096];
    for _ in 0..20 {
        client.send_to(message, ("127.0.0.1", relay)).unwrap();
        for sock in [client, next_hop] {
            if let Ok(n) = sock.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                return text.lines().next().unwrap_or_default().to_string();
            }
        }
    }
    panic!("no answer from the relay on port {relay}");
}

#[test]
fn sighup_reloads_routes_and_refuses_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relay.conf");
    let port = free_udp_port();
    let next_hop = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&next_hop, &client] {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
    }
    std::fs::write(&config, format!("listen = udp:127.0.0.1:{port}\n")).unwrap();
    let mut relay = Running(
        Command::new(RELAY)
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the relay"),
    );
    let before = first_line_back(
        &client,
        port,
        &next_hop,
        &options(&client, "example.net", "a"),
    );
    assert!(before.starts_with("SIP/2.0 404"), "{before}");

    let hop = next_hop.local_addr().unwrap();
    std::fs::write(
        &config,
        format!("listen = udp:127.0.0.1:{port}\nroute = example.net=udp:{hop}\n"),
    )
    .unwrap();
    signal(&relay.0, libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(400));
    let after = first_line_back(
        &client,
        port,
        &next_hop,
        &options(&client, "example.net", "b"),
    );
    assert_eq!(after, "OPTIONS sip:x@example.net SIP/2.0");

    std::fs::write(&config, "route example.net\n").unwrap();
    signal(&relay.0, libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(400));
    let kept = first_line_back(
        &client,
        port,
        &next_hop,
        &options(&client, "example.net", "c"),
    );
    assert_eq!(
        kept, "OPTIONS sip:x@example.net SIP/2.0",
        "the running configuration is kept"
    );

    signal(&relay.0, libc::SIGTERM);
    let status = relay.0.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(relay.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("sipsec-relay: reloaded"), "{err}");
    assert!(
        err.contains("reload failed, the old configuration stays: ")
            && err.contains("relay.conf:1: expected `key = value`"),
        "{err}"
    );
}

#[test]
fn the_shipped_example_configuration_checks() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/dist/relay.conf");
    let o = Command::new(RELAY)
        .args(["--config", config, "--check-config"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("listen udp:127.0.0.1:5060"));
    // The unit runs the relay with exactly this file and these options.
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dist/sipsec-relay.service"
    ))
    .unwrap();
    for line in [
        "ExecStart=/usr/bin/sipsec-relay --config /etc/sipsec/relay.conf\n",
        "ExecReload=/bin/kill -HUP $MAINPID\n",
    ] {
        assert!(unit.contains(line), "{line}");
    }
}
