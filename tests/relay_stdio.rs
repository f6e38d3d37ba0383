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

/// The one record a run wrote for one input line.
fn only_record(input: &str) -> serde_json::Value {
    let (out, code) = run(input.as_bytes());
    assert_eq!(code, 0);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(out.lines().count(), 1, "{out}");
    serde_json::from_str(&out).unwrap()
}

/// Fields the relay edits arrive folded over lines: our Route folded before two more, and a
/// top Via folded over two lines that needs received and rport. Each edited field leaves on
/// one line (every fold one space), the rest as it came; the response goes back along it.
#[test]
fn folded_route_and_via_are_edited_on_one_line_and_the_response_comes_back() {
    let bye = "BYE sip:bob@192.0.2.9:5080 SIP/2.0\r\n\
               Via: SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKf1,\r\n SIP/2.0/UDP 10.0.0.6;branch=z9hG4bKf0\r\n\
               Max-Forwards: 70\r\nFrom: <sip:alice@other.net>;tag=a1\r\n\
               To: <sip:bob@example.com>;tag=b1\r\nCall-ID: f1\r\nCSeq: 2 BYE\r\n\
               Route: <sip:192.0.2.1;lr>,\r\n <sip:192.0.2.60;lr>,\r\n\t<sip:192.0.2.61;lr>\r\n\
               Subject: folded\r\n too\r\nContent-Length: 0\r\n\r\n";
    let natted = "udp:203.0.113.9:40000";
    let line = serde_json::json!({"from": natted, "message": bye}).to_string() + "\n";
    let record = only_record(&line);
    assert_eq!(record["to"], "udp:192.0.2.60:5060", "{record}");
    let forwarded = record["message"].as_str().unwrap();
    let (ours, rest) = forwarded
        .split_once("\r\n")
        .unwrap()
        .1
        .split_once("\r\n")
        .unwrap();
    assert!(
        ours.starts_with("Via: SIP/2.0/UDP 192.0.2.1:5060;branch="),
        "{ours}"
    );
    let want = bye
        .split_once("\r\n")
        .unwrap()
        .1
        .replace(
            "rport;branch=z9hG4bKf1,\r\n SIP",
            "branch=z9hG4bKf1;received=203.0.113.9;rport=40000, SIP",
        )
        .replace("Max-Forwards: 70", "Max-Forwards: 69")
        .replace(
            "<sip:192.0.2.1;lr>,\r\n <sip:192.0.2.60;lr>,\r\n\t",
            "<sip:192.0.2.60;lr>, ",
        );
    assert_eq!(rest, want);
    let ok = forwarded.replacen("BYE sip:bob@192.0.2.9:5080 SIP/2.0", "SIP/2.0 200 OK", 1);
    let line = serde_json::json!({"from": "udp:192.0.2.60:5060", "message": ok}).to_string() + "\n";
    let record = only_record(&line);
    assert_eq!(record["to"], natted, "{record}");
    let back = record["message"].as_str().unwrap();
    assert_eq!(back, format!("SIP/2.0 200 OK\r\n{want}"));
}
