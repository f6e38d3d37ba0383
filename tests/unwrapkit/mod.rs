//! Shared helpers of the verify, decrypt and pipeline tests: running a tool as a process with
//! its JSON report, building messages, making stores with sipsec-certgen.
#![allow(dead_code)]

#[path = "../wrapkit/mod.rs"]
pub mod wrapkit;

use serde_json::Value;
use std::path::Path;
use std::process::Command;

pub const CERTGEN: &str = env!("CARGO_BIN_EXE_sipsec-certgen");

/// What a tool run gave: exit code, the messages it wrote, one JSON record per message.
pub struct Outcome {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub records: Vec<Value>,
}

impl Outcome {
    pub fn verdict(&self) -> &Value {
        &self.records[0]["verdict"]
    }

    pub fn refusal(&self) -> String {
        self.records[0]["refusal"]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The messages written, for the next tool of a pipeline; the run must have succeeded.
    pub fn passed(self) -> Vec<u8> {
        assert_eq!(self.code, 0, "{}", self.stderr);
        self.stdout
    }
}

/// Runs `bin --report FILE ARGS` (the store in SIPSEC_STORE) with `input` on stdin.
pub fn tool(bin: &str, store: &Path, args: &[&str], input: &[u8]) -> Outcome {
    let report = tempfile::NamedTempFile::new().unwrap();
    let path = report.path().to_str().unwrap();
    let all: Vec<&str> = ["--report", path].iter().chain(args).copied().collect();
    let out = wrapkit::run(bin, store, &all, input);
    let records = std::fs::read_to_string(report.path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Outcome {
        code: out.code,
        stdout: out.stdout,
        stderr: out.stderr,
        records,
    }
}

/// A message: `head` (start line and header lines, each CRLF-terminated), then Content-Type,
/// Content-Length and the body.
pub fn with_body(head: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "{head}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    m.extend_from_slice(body);
    m
}

/// Runs sipsec-certgen commands on a store, each of which must succeed.
pub fn certgen(store: &Path, commands: &[&[&str]]) {
    for args in commands {
        let out = Command::new(CERTGEN)
            .arg("--store")
            .arg(store)
            .args(*args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The body of a message (after the first empty line).
pub fn body_of(msg: &[u8]) -> &[u8] {
    let at = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a message with an empty line");
    &msg[at + 4..]
}
