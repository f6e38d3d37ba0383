//! The routing core through `sipsec-relay --stdio`: each `testdata/relay/stdio/NAME.in.ndjson`
//! is run and its output compared with `NAME.out.ndjson` (`SIPSEC_BLESS=1` rewrites those; a
//! rewrite must be checked by hand). The inputs come from `testdata/relay/make_stdio.py`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// `--open-relay`: these transcripts show routing mechanics (strict and loose routes, Request-URI
/// literals); what the relay refuses to forward is tested beside the core.
const ARGS: &[&str] = &[
    "--stdio",
    "--open-relay",
    "--listen",
    "udp:192.0.2.1:5060",
    "--listen",
    "tcp:192.0.2.1:5060",
    "--alias",
    "relay.example.com",
    "--domain",
    "example.com",
    "--route",
    "other.org=udp:192.0.2.50:5060",
];

fn run(input: &[u8]) -> (Vec<u8>, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipsec-relay"))
        .args(ARGS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.stdout, out.status.code().unwrap_or(-1))
}

fn transcript(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/relay/stdio");
    let input = std::fs::read(dir.join(format!("{name}.in.ndjson"))).unwrap();
    let (out, code) = run(&input);
    assert_eq!(code, 0);
    let expected_path = dir.join(format!("{name}.out.ndjson"));
    if std::env::var("SIPSEC_BLESS").as_deref() == Ok("1") {
        std::fs::write(&expected_path, &out).unwrap();
        return;
    }
    let expected = std::fs::read(&expected_path).unwrap();
    let (out, expected) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(expected).unwrap(),
    );
    for (i, (a, b)) in out.lines().zip(expected.lines()).enumerate() {
        assert_eq!(a, b, "{name}: output line {}", i + 1);
    }
    assert_eq!(
        out.lines().count(),
        expected.lines().count(),
        "{name}: line count"
    );
}

#[test]
fn proxy_transcript() {
    transcript("proxy");
}

#[test]
fn routing_transcript() {
    transcript("routing");
}

#[test]
fn registrar_transcript() {
    transcript("registrar");
}

#[test]
fn a_line_that_is_not_a_record_is_reported_and_the_rest_still_run() {
    let input = b"{\"from\":\"sctp:1.2.3.4:5\",\"message\":\"x\"}\nnot json\n\
{\"from\":\"udp:192.0.2.7:5070\",\"message\":\"OPTIONS tel:+1555 SIP/2.0\\r\\nVia: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKx\\r\\nFrom: <sip:a@b>;tag=1\\r\\nTo: <sip:c@d>\\r\\nCall-ID: q\\r\\nCSeq: 1 OPTIONS\\r\\nContent-Length: 0\\r\\n\\r\\n\"}\n";
    let (out, code) = run(input);
    assert_eq!(code, 1, "bad lines make the exit code 1");
    let out = String::from_utf8(out).unwrap();
    assert_eq!(out.lines().count(), 1);
    assert!(
        out.contains("\"in\":3") && out.contains("416 Unsupported URI Scheme"),
        "{out}"
    );
}
