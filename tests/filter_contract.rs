//! The filter contract, proved with test filters on the real driver: order, accounting of every
//! input byte, fail modes, the control header, and (through the `sipsec-identity` example
//! binary) exit codes.

use sipsec::filter::control::{self, ControlKey};
use sipsec::filter::driver::{run, DriverOptions, Input, RunSummary, Sinks};
use sipsec::filter::{
    Examined, FailMode, Failure, Filter, InOrderStep, MessageContext, Processed, Verdict,
};
use sipsec::message::Framing;
use sipsec::Message;
use std::collections::HashSet;
use std::io::Cursor;
use std::path::PathBuf;

mod common;
use common::identity_binary;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// Passes messages on; fails on `X-Test-Fail`; spins on `X-Spin: N` so that, with several jobs,
/// messages finish out of order.
struct TestFilter;

impl Filter for TestFilter {
    fn name(&self) -> &'static str {
        "test"
    }
    fn default_fail_mode(&self) -> FailMode {
        FailMode::Open
    }
    fn process(&self, message: &Message, context: &MessageContext) -> Result<Processed, Failure> {
        if let Some(spin) = message.values_named("X-Spin").next() {
            let n: u64 = std::str::from_utf8(spin).unwrap().parse().unwrap();
            let mut x = 0u64;
            for i in 0..n * 20_000 {
                x = std::hint::black_box(x.wrapping_add(i));
            }
        }
        if let Some(reason) = message.values_named("X-Test-Fail").next() {
            return Err(Failure::new(String::from_utf8_lossy(reason)));
        }
        let mut verdict = Verdict::new();
        if let Some(a) = &context.attribution {
            verdict.set("attribution", a.to_string());
        }
        Ok(Processed::unchanged(verdict))
    }
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Outcome {
    output: Vec<u8>,
    records: Vec<serde_json::Value>,
    summary: RunSummary,
}

fn drive(options: &DriverOptions, inputs: Vec<(&str, Vec<u8>)>) -> Outcome {
    let output = Shared::default();
    let report = Shared::default();
    let inputs = inputs
        .into_iter()
        .map(|(name, bytes)| Input::new(name, Cursor::new(bytes)))
        .collect();
    let sinks = Sinks {
        output: Box::new(output.clone()),
        report: Some(Box::new(report.clone())),
        diagnostics: None,
        pcap: None,
    };
    let summary = run(&TestFilter, options, inputs, sinks).expect("run completes");
    let report = report.0.lock().unwrap().clone();
    let records = report
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("one JSON object a line"))
        .collect();
    let output = output.0.lock().unwrap().clone();
    Outcome {
        output,
        records,
        summary,
    }
}

fn message(call_id: usize, extra: &str) -> Vec<u8> {
    format!(
        "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK{call_id}\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c{call_id}\r\nCSeq: 1 OPTIONS\r\n{extra}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn order_is_kept_with_two_jobs() {
    let mut stream = Vec::new();
    for i in 0..200 {
        // Early messages are slow, later ones fast: workers finish out of order.
        let spin = if i % 7 == 0 { 20 } else { 0 };
        stream.extend(message(i, &format!("X-Spin: {spin}\r\n")));
    }
    let options = DriverOptions {
        jobs: 2,
        ..DriverOptions::default()
    };
    let out = drive(&options, vec![("s", stream.clone())]);
    assert_eq!(out.output, stream);
    let indices: Vec<u64> = out
        .records
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, (0..200).collect::<Vec<_>>());
    let call_ids: Vec<String> = out
        .records
        .iter()
        .map(|r| r["call_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        call_ids,
        (0..200).map(|i| format!("c{i}")).collect::<Vec<_>>()
    );
}

/// Leaves a step for input order (as sipsec-verify leaves its replay decision): the spinning
/// runs on the workers, and each step records the order it was taken in, and says it in its
/// verdict.
#[derive(Default)]
struct OrderedFilter {
    decided: Mutex<Vec<u64>>,
    examined_on: Mutex<HashSet<std::thread::ThreadId>>,
}

struct Step<'f> {
    filter: &'f OrderedFilter,
    index: u64,
    outcome: Result<Processed, Failure>,
}

impl InOrderStep for Step<'_> {
    fn decide(self: Box<Self>) -> Result<Processed, Failure> {
        let mut decided = self.filter.decided.lock().unwrap();
        let position = decided.len();
        decided.push(self.index);
        self.outcome.map(|mut p| {
            p.verdict.set("decided", position);
            p
        })
    }
}

impl Filter for OrderedFilter {
    fn name(&self) -> &'static str {
        "ordered"
    }
    fn default_fail_mode(&self) -> FailMode {
        FailMode::Open
    }
    fn process(&self, message: &Message, context: &MessageContext) -> Result<Processed, Failure> {
        self.examine(message, context).decide()
    }
    fn examine(&self, message: &Message, context: &MessageContext) -> Examined<'_> {
        self.examined_on
            .lock()
            .unwrap()
            .insert(std::thread::current().id());
        Examined::InOrder(Box::new(Step {
            filter: self,
            index: context.index,
            outcome: TestFilter.process(message, context),
        }))
    }
}

#[test]
fn in_order_steps_are_taken_in_input_order_whatever_the_jobs() {
    let mut stream = Vec::new();
    for i in 0..1000 {
        // Slow messages early in each batch: the workers finish out of order.
        let spin = if i % 300 == 0 { 40 } else { 0 };
        stream.extend(message(i, &format!("X-Spin: {spin}\r\n")));
    }
    for jobs in [1, 4] {
        let options = DriverOptions {
            jobs,
            ..DriverOptions::default()
        };
        let filter = OrderedFilter::default();
        let inputs = vec![Input::new("s", Cursor::new(stream.clone()))];
        let report = Shared::default();
        let sinks = Sinks {
            output: Box::new(std::io::sink()),
            report: Some(Box::new(report.clone())),
            diagnostics: None,
            pcap: None,
        };
        run(&filter, &options, inputs, sinks).expect("run completes");
        assert_eq!(
            *filter.decided.lock().unwrap(),
            (0..1000).collect::<Vec<u64>>(),
            "jobs {jobs}"
        );
        let report = report.0.lock().unwrap().clone();
        let decided: Vec<u64> = report
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap())
            .map(|r| r["verdict"]["decided"].as_u64().unwrap())
            .collect();
        assert_eq!(decided, (0..1000).collect::<Vec<u64>>(), "jobs {jobs}");
        if jobs > 1 {
            // The examining itself ran on several workers, not one after the other.
            assert!(filter.examined_on.lock().unwrap().len() > 1);
        }
    }
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/corpus/rfc4475"
    ))
    .unwrap()
    .map(|e| e.unwrap().path())
    .filter(|p| p.extension().is_some_and(|e| e == "dat"))
    .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_message_is_accounted_for_in_datagram_mode() {
    let inputs: Vec<(String, Vec<u8>)> = corpus_files()
        .iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(p).unwrap(),
            )
        })
        .collect();
    for jobs in [1, 2] {
        let options = DriverOptions {
            framing: Framing::Datagram,
            jobs,
            ..DriverOptions::default()
        };
        let out = drive(
            &options,
            inputs
                .iter()
                .map(|(n, b)| (n.as_str(), b.clone()))
                .collect(),
        );
        // One record per file, plus one for the trailing octets of dblreq.dat.
        assert_eq!(out.records.len(), inputs.len() + 1, "jobs {jobs}");
        let names: Vec<&str> = out
            .records
            .iter()
            .map(|r| r["origin"]["input"].as_str().unwrap())
            .collect();
        let mut expected: Vec<&str> = inputs.iter().map(|(n, _)| n.as_str()).collect();
        let dbl = expected.iter().position(|n| *n == "dblreq.dat").unwrap();
        expected.insert(dbl + 1, "dblreq.dat");
        assert_eq!(names, expected);
        // Every file's bytes are either written whole or refused with a reason.
        let written: usize = out
            .records
            .iter()
            .filter(|r| r["disposition"] == "unchanged")
            .count();
        assert_eq!(written as u64, out.summary.unchanged);
        for r in &out.records {
            let d = r["disposition"].as_str().unwrap();
            assert!(
                d == "unchanged" || r["refusal"]["reason"].is_string(),
                "{r}"
            );
        }
        let ncl = out
            .records
            .iter()
            .find(|r| r["origin"]["input"] == "ncl.dat")
            .unwrap();
        assert_eq!(ncl["disposition"], "unparsable");
        assert_eq!(ncl["refusal"]["header"], "Content-Length");
    }
}

#[test]
fn stream_with_garbage_and_truncation_accounts_for_every_byte() {
    let mut stream = message(1, "");
    stream.extend(b"\r\n\r\n"); // keep-alives: skipped, not reported
    stream.extend(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.extend(message(2, ""));
    let truncated = message(3, "");
    stream.extend(&truncated[..truncated.len() - 10]);
    let out = drive(&DriverOptions::default(), vec![("-", stream)]);
    let dispositions: Vec<&str> = out
        .records
        .iter()
        .map(|r| r["disposition"].as_str().unwrap())
        .collect();
    assert_eq!(
        dispositions,
        vec!["unchanged", "garbage", "unchanged", "unparsable"]
    );
    let garbage = &out.records[1];
    assert_eq!(
        garbage["origin"]["offset"].as_u64().unwrap(),
        message(1, "").len() as u64 + 4
    );
    assert_eq!(garbage["len"], 27);
    assert!(out.records[3]["refusal"]["reason"]
        .as_str()
        .unwrap()
        .contains("ends before"));
    let mut expected = message(1, "");
    expected.extend(message(2, ""));
    assert_eq!(out.output, expected);
    assert!(out.summary.anything_refused());
}

#[test]
fn fail_open_is_byte_identical_and_fail_closed_records_the_reason() {
    let declined = message(
        5,
        "X-Test-Fail: no certificate for bob\r\nX-Odd:   spacing kept \r\n",
    );
    let mut stream = message(4, "");
    stream.extend(&declined);
    let open = drive(&DriverOptions::default(), vec![("-", stream.clone())]);
    assert_eq!(open.output, stream);
    assert_eq!(open.records[1]["disposition"], "passed-on-failure");
    assert_eq!(
        open.records[1]["warnings"][0],
        "passed on unchanged: no certificate for bob"
    );
    assert!(!open.summary.anything_refused());

    let closed_options = DriverOptions {
        fail_mode: FailMode::Closed,
        ..DriverOptions::default()
    };
    let closed = drive(&closed_options, vec![("-", stream)]);
    assert_eq!(closed.output, message(4, ""));
    assert_eq!(closed.records[1]["disposition"], "withheld");
    assert_eq!(
        closed.records[1]["refusal"]["reason"],
        "no certificate for bob"
    );
    assert_eq!(
        closed.records[1]["refusal"]["byte"].as_u64().unwrap(),
        message(4, "").len() as u64
    );
    assert_eq!(closed.records[1]["call_id"], "c5");
    assert!(closed.summary.anything_refused());
}

fn keyed(key: &ControlKey, keep: bool) -> DriverOptions {
    DriverOptions {
        control_key: Some(key.clone()),
        keep_control: keep,
        ..DriverOptions::default()
    }
}

#[test]
fn control_header_carries_index_and_origin_through_a_pipeline_and_never_leaves_at_the_edge() {
    let key = ControlKey::generate();
    let mut stream = message(1, "");
    stream.extend(message(2, ""));
    let first = drive(&keyed(&key, true), vec![("capture.sip", stream.clone())]);
    assert_eq!(
        first
            .output
            .windows(14)
            .filter(|w| w == b"Sipsec-Control")
            .count(),
        2
    );
    let last = drive(&keyed(&key, false), vec![("-", first.output)]);
    assert_eq!(
        last.output, stream,
        "the control header is removed at the edge"
    );
    assert_eq!(last.records[1]["index"], 1);
    assert_eq!(last.records[1]["origin"]["input"], "capture.sip");
    assert!(last.records.iter().all(|r| r.get("warnings").is_none()));
}

#[test]
fn forged_replayed_and_foreign_control_headers_are_stripped_and_reported() {
    let key = ControlKey::generate();
    // From another run (another key).
    let other_run = drive(
        &keyed(&ControlKey::generate(), true),
        vec![("-", message(1, ""))],
    );
    // Injected by an outside writer.
    let forged = message(
        2,
        &format!("Sipsec-Control: v1 0 msg e30= {}\r\n", "0".repeat(64)),
    );
    // A valid header replayed: the same sequence number twice.
    let valid = drive(&keyed(&key, true), vec![("-", message(3, ""))]).output;
    let mut stream = other_run.output.clone();
    stream.extend(&forged);
    stream.extend(&valid);
    stream.extend(&valid);
    let out = drive(&keyed(&key, false), vec![("-", stream)]);
    let warnings: Vec<String> = out
        .records
        .iter()
        .map(|r| r["warnings"].to_string())
        .collect();
    assert!(
        warnings[0].contains("MAC does not verify"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[1].contains("MAC does not verify"),
        "{}",
        warnings[1]
    );
    assert_eq!(out.records[2].get("warnings"), None);
    assert!(warnings[3].contains("replayed"), "{}", warnings[3]);
    assert!(!out.output.windows(14).any(|w| w == b"Sipsec-Control"));
    // Without a key, any control header is untrusted.
    let unkeyed = drive(&DriverOptions::default(), vec![("-", valid)]);
    assert!(unkeyed.records[0]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("no control key"));
}

#[test]
fn attribution_is_trusted_only_from_a_verified_header() {
    let key = ControlKey::generate();
    let mut m = Message::parse(message(1, "")).unwrap();
    let data = control::ControlData {
        seq: 0,
        origin: Default::default(),
        attribution: Some("agent-1@callcentre.example".into()),
        marks: None,
    };
    control::attach(&mut m, &key, control::ControlKind::Message, &data);
    let trusted = drive(&keyed(&key, false), vec![("-", m.as_bytes().to_vec())]);
    assert_eq!(
        trusted.records[0]["verdict"]["attribution"],
        "agent-1@callcentre.example"
    );
    let untrusted = drive(
        &keyed(&ControlKey::generate(), false),
        vec![("-", m.as_bytes().to_vec())],
    );
    assert_eq!(untrusted.records[0]["verdict"].get("attribution"), None);
}

#[test]
fn a_withheld_message_travels_as_a_placeholder_and_keeps_pairing() {
    let key = ControlKey::generate();
    let mut stream = message(1, "X-Test-Fail: no key\r\n");
    stream.extend(message(2, ""));
    let closed = DriverOptions {
        fail_mode: FailMode::Closed,
        ..keyed(&key, true)
    };
    let first = drive(&closed, vec![("-", stream)]);
    assert!(first.output.starts_with(b"SIPSEC-REFUSAL "));
    let last = drive(&keyed(&key, false), vec![("-", first.output)]);
    assert_eq!(last.records[0]["disposition"], "withheld-upstream");
    assert_eq!(last.records[0]["refusal"]["reason"], "no key");
    assert_eq!(last.records[0]["call_id"], "c1");
    assert_eq!(last.records[1]["index"], 1);
    assert_eq!(last.output, message(2, ""));
    // A placeholder from outside (no valid MAC) is refused, never passed on.
    let forged = b"SIPSEC-REFUSAL sipsec:refusal SIP/2.0\r\nContent-Length: 0\r\n\r\n".to_vec();
    let out = drive(&keyed(&key, true), vec![("-", forged)]);
    assert_eq!(out.records[0]["disposition"], "withheld");
    assert!(out.output.is_empty());
}

#[test]
fn exit_codes_are_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.sip");
    std::fs::write(&clean, message(1, "")).unwrap();
    let dirty = dir.path().join("dirty.sip");
    let mut bytes = message(1, "X-Test-Fail: x\r\n");
    bytes.extend(b"junk\r\n");
    std::fs::write(&dirty, bytes).unwrap();
    let code = |args: &[&std::ffi::OsStr]| {
        Command::new(identity_binary())
            .args(args)
            .arg("-q")
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(code(&[clean.as_os_str()]), Some(0));
    assert_eq!(code(&[dirty.as_os_str()]), Some(1));
    assert_eq!(code(&["--no-such-flag".as_ref()]), Some(2));
    assert_eq!(code(&[dir.path().join("missing").as_os_str()]), Some(3));
    let out = Command::new(identity_binary())
        .arg("--fail-closed")
        .arg("--json")
        .arg(&dirty)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.contains("\"disposition\":\"withheld\""));
}

#[test]
fn setup_refusals_exit_3_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.sip");
    std::fs::write(&input, message(1, "")).unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(identity_binary())
            .args(args)
            .arg(&input)
            .output()
            .unwrap()
    };
    // Keeping the control header without a key would send out a header no one can check.
    let keep = run(&["--keep-control".as_ref()]);
    assert_eq!(keep.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&keep.stderr).contains("--keep-control needs --control-key"));
    // A key file others can read is not a secret.
    let key = dir.path().join("run.key");
    std::fs::write(&key, "00".repeat(32)).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let unsafe_key = run(&["--control-key".as_ref(), key.as_os_str()]);
    assert_eq!(unsafe_key.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&unsafe_key.stderr).contains("chmod 600"));
    // An MTU too small for an IP and a UDP/TCP header cannot be written.
    let pcap = dir.path().join("out.pcap");
    let mtu = run(&[
        "--pcap-out".as_ref(),
        pcap.as_os_str(),
        "--mtu".as_ref(),
        "60".as_ref(),
    ]);
    assert_eq!(mtu.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&mtu.stderr)
            .to_lowercase()
            .contains("mtu"),
        "{}",
        String::from_utf8_lossy(&mtu.stderr)
    );
}

#[test]
fn marks_pass_a_filter_only_when_the_runs_control_header_vouches_for_them() {
    let mark = "Subject: validated <sip:ceo@example.com>\r\nSipsec-Verdict: signed=yes\r\n";
    let key = ControlKey::generate();
    // From outside: removed before the tool sees the message, the message changed, and said.
    let out = drive(&keyed(&key, false), vec![("-", message(1, mark))]);
    assert_eq!(out.output, message(1, ""));
    assert_eq!(out.records[0]["disposition"], "changed");
    let warnings = out.records[0]["warnings"].to_string();
    assert!(
        warnings.contains("no sipsec-verify of this run made"),
        "{warnings}"
    );

    // Vouched for by a control header of this run (as sipsec-verify writes it): kept.
    let lines: Vec<String> = mark.lines().map(str::to_string).collect();
    let vouched = |m: &mut Message, marks: Option<String>| {
        let data = control::ControlData {
            seq: 0,
            origin: Default::default(),
            attribution: None,
            marks,
        };
        control::attach(m, &key, control::ControlKind::Message, &data);
    };
    let mut m = Message::parse(message(1, mark)).unwrap();
    vouched(&mut m, Some(sipsec::filter::mark::digest(&lines)));
    let out = drive(&keyed(&key, false), vec![("-", m.as_bytes().to_vec())]);
    assert_eq!(out.output, message(1, mark));
    assert_eq!(out.records[0]["disposition"], "unchanged");
    // A header vouching for other marks vouches for none of these.
    let mut m = Message::parse(message(1, mark)).unwrap();
    vouched(&mut m, Some(sipsec::filter::mark::digest(&lines[..1])));
    let out = drive(&keyed(&key, false), vec![("-", m.as_bytes().to_vec())]);
    assert_eq!(out.output, message(1, ""));

    // Hidden in a folded line: withheld whatever the fail mode.
    let folded = message(1, "X-Note: hi\r\n s: validated <sip:ceo@example.com>\r\n");
    let out = drive(&DriverOptions::default(), vec![("-", folded)]);
    assert!(out.output.is_empty());
    assert_eq!(out.records[0]["disposition"], "withheld");
    let reason = out.records[0]["refusal"]["reason"].to_string();
    assert!(reason.contains("folded"), "{reason}");
}
