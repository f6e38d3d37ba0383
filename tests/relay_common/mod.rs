//! A `sipsec-relay` process on loopback for the end-to-end tests: start, log, counters
//! (SIGUSR1 and the status file), stop.
// Each test binary that includes this uses a part of it.
#![allow(dead_code)]

use sipsec::Message;
use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port free for both UDP and TCP right now.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub struct Relay {
    pub child: Child,
    pub port: u16,
    log: PathBuf,
    status: PathBuf,
    _dir: tempfile::TempDir,
}

impl Relay {
    /// One transport listens on port 0 (the relay says which port it bound); several share
    /// a port free for all of them.
    pub fn start(transports: &[&str], extra: &[&str]) -> Relay {
        let port = if transports.len() == 1 {
            0
        } else {
            free_port()
        };
        Relay::start_at(port, transports, extra)
    }

    pub fn start_at(port: u16, transports: &[&str], extra: &[&str]) -> Relay {
        let listen: Vec<String> = transports
            .iter()
            .map(|t| format!("{t}:127.0.0.1:{port}"))
            .collect();
        Relay::start_listening(&listen, extra)
    }

    /// Listens on each of `listen` (`udp:0.0.0.0:0`…): the port is the first one's, or the
    /// one it bound for port 0.
    pub fn start_listening(listen: &[String], extra: &[&str]) -> Relay {
        let port = listen[0].rsplit(':').next().unwrap().parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("relay.log");
        let status = dir.path().join("status");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sipsec-relay"));
        for l in listen {
            cmd.arg("--listen").arg(l);
        }
        cmd.args(["-v", "--status-file"])
            .arg(&status)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = cmd.spawn().unwrap();
        let mut r = Relay {
            child,
            port,
            log,
            status,
            _dir: dir,
        };
        r.wait_for_log("listening on");
        if port == 0 {
            r.port = r.bound_port();
        }
        r
    }

    /// The port of the first listener in the start-up line `listening on udp:127.0.0.1:PORT`.
    pub fn bound_port(&self) -> u16 {
        let log = self.log_text();
        let line = log.lines().find(|l| l.contains("listening on")).unwrap();
        let first = line.split("listening on ").nth(1).unwrap();
        let first = first.split_whitespace().next().unwrap();
        first.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn wait_for_log(&self, what: &str) {
        let t = Instant::now();
        while !self.log_text().contains(what) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "relay log lacks {what:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The counters, through SIGUSR1 and the status file.
    pub fn counters(&self) -> String {
        let _ = std::fs::remove_file(&self.status);
        signal(&self.child, libc::SIGUSR1);
        let t = Instant::now();
        loop {
            if let Ok(s) = std::fs::read_to_string(&self.status) {
                if s.ends_with('\n') {
                    return s;
                }
            }
            assert!(t.elapsed() < Duration::from_secs(5), "no status file");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn counter(&self, name: &str) -> u64 {
        let all = self.counters();
        all.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no counter {name} in {all}"))
    }

    /// SIGTERM; the relay must exit 0 promptly.
    pub fn stop(mut self) -> String {
        signal(&self.child, libc::SIGTERM);
        let t = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "relay exit {status}:\n{}",
                    self.log_text()
                );
                return self.log_text();
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "relay did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}

/// Sends `text` over UDP and returns what `hop` receives within two seconds.
pub fn forwarded_to(hop: &UdpSocket, relay_port: u16, text: &str) -> Option<Message> {
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.send_to(text.as_bytes(), ("127.0.0.1", relay_port))
        .unwrap();
    hop.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 4096];
    let n = hop.recv(&mut buf).ok()?;
    Message::parse(buf[..n].to_vec()).ok()
}

/// Reads one message with no body (head only); `None` at end of stream or on timeout.
pub fn read_message(s: &mut impl Read) -> Option<Message> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    Message::parse(buf).ok()
}

/// Whether a peer tool runs (`tool arg`); a note when it does not, and a panic instead when
/// SIPSEC_REQUIRE_PEERS=1.
pub fn peer_available(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        if std::env::var("SIPSEC_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{tool} is required (SIPSEC_REQUIRE_PEERS=1) but does not run");
        }
        eprintln!("note: {tool} not installed; test skipped (scripts/setup.sh --peers)");
    }
    ok
}

/// A SIPp scenario of testdata/relay.
pub fn relay_scenario(name: &str) -> String {
    format!("{}/testdata/relay/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// SIPp as agent 7 (bounded, as a child): over TCP it registers
/// sip:support@callcentre.example with digest as agent-7 and `password`, then answers one call
/// on the connection it registered over.
pub fn start_sipp_agent(relay_port: u16, password: &str) -> Child {
    Command::new("timeout")
        .args(["30", "sipp", &format!("127.0.0.1:{relay_port}")])
        .args([
            "-t",
            "t1",
            "-i",
            "127.0.0.1",
            "-p",
            &free_port().to_string(),
        ])
        .args(["-sf", &relay_scenario("agent_register.xml")])
        .args(["-oocsf", &relay_scenario("agent_uas.xml")])
        .args(["-s", "support", "-key", "domain", "callcentre.example"])
        .args(["-au", "agent-7", "-ap", password])
        .args(["-m", "1", "-d", "3000", "-nostdin"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// SIPp registering agent-7 (UDP, from `from_ip`) for callcentre.example with `password`, by
/// the REGISTER `scenario` (a path); true when the scenario passed.
pub fn sipp_register_agent_7(
    relay_port: u16,
    from_ip: &str,
    password: &str,
    scenario: &str,
) -> bool {
    run_sipp(&[
        &format!("127.0.0.1:{relay_port}"),
        "-t",
        "u1",
        "-i",
        from_ip,
        "-sf",
        scenario,
        "-s",
        "agent-7",
        "-key",
        "domain",
        "callcentre.example",
        "-au",
        "agent-7",
        "-ap",
        password,
        "-m",
        "1",
    ])
}

/// Runs SIPp (bounded); true when the scenario passed.
pub fn run_sipp(args: &[&str]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("timeout")
        .arg("30")
        .arg("sipp")
        .args(args)
        .args(["-nostdin", "-trace_err"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if !out.status.success() {
        for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
            eprintln!(
                "{}: {}",
                e.path().display(),
                std::fs::read_to_string(e.path()).unwrap_or_default()
            );
        }
    }
    out.status.success()
}

/// A relay on UDP routing `wedge.test` to `wedge_port` over TCP, without a request rate
/// limit (the floods of these tests come from one source), with `extra` options.
pub fn start_with_wedge(wedge_port: u16, extra: &[&str]) -> Relay {
    let route = format!("wedge.test=tcp:127.0.0.1:{wedge_port}");
    let mut args = vec!["--route", &route, "--request-rate", "0"];
    args.extend_from_slice(extra);
    Relay::start(&["udp"], &args)
}

/// Sends `count` INVITEs for `sip:v@wedge.test` over UDP to the relay, each padded with
/// `padding` bytes, pausing 2 ms after every `burst` of them so that the relay's socket
/// buffer does not overflow.
pub fn send_wedge_invites(relay_port: u16, count: usize, padding: usize, burst: usize) {
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sender.local_addr().unwrap().port();
    let padding = "x".repeat(padding);
    for i in 0..count {
        let invite = format!(
            "INVITE sip:v@wedge.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKw{i}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@b.test>;tag=1\r\nTo: <sip:v@wedge.test>\r\n\
             Call-ID: w{i}\r\nCSeq: 1 INVITE\r\nX-Padding: {padding}\r\nContent-Length: 0\r\n\r\n"
        );
        sender
            .send_to(invite.as_bytes(), ("127.0.0.1", relay_port))
            .unwrap();
        if i % burst == burst - 1 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}
