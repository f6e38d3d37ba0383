//! `sipsec-certgen member` as a process: the password comes from stdin (never argv), the
//! credentials file holds HA1 values only, mode 0600, and the relay's loader reads it back.

use sipsec::auth::credentials;
use sipsec::auth::digest::Algorithm;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_sipsec-certgen");

fn certgen(store: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sipsec-certgen");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn store() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = dir.path().join("store");
    let o = certgen(&store, &["init-ca", "--key-type", "p256"], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (dir, store)
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn add_list_remove_with_the_password_on_stdin() {
    let (_dir, store) = store();
    let agent = "sip:agent-7@callcentre.example";
    let o = certgen(&store, &["member", "add", agent], b"s3cret\n");
    assert!(stdout(&o).contains("member sip:agent-7@callcentre.example (SHA-256, MD5)"));
    let o = certgen(
        &store,
        &[
            "member",
            "add",
            "sip:agent-8@callcentre.example",
            "--algorithm",
            "sha-256",
        ],
        b"other\r\n",
    );
    stdout(&o);
    let path = store.join("credentials");
    let text = fs::read_to_string(&path).expect("read");
    assert!(!text.contains("s3cret") && !text.contains("other\n"));
    assert_eq!(
        fs::metadata(&path).expect("stat").permissions().mode() & 0o777,
        0o600
    );
    let members = credentials::load(&path).expect("load");
    let a7 = members
        .get("agent-7", "callcentre.example")
        .expect("agent-7");
    assert_eq!(
        a7.ha1[&Algorithm::Md5],
        Algorithm::Md5.ha1("agent-7", "callcentre.example", b"s3cret")
    );
    let a8 = members
        .get("agent-8", "callcentre.example")
        .expect("agent-8");
    assert_eq!(
        a8.ha1.keys().copied().collect::<Vec<_>>(),
        [Algorithm::Sha256]
    );
    assert_eq!(
        a8.ha1[&Algorithm::Sha256],
        Algorithm::Sha256.ha1("agent-8", "callcentre.example", b"other")
    );

    let list = stdout(&certgen(&store, &["member", "list", "--json"], b""));
    let lines: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["member"], "sip:agent-8@callcentre.example");
    assert_eq!(lines[1]["algorithms"], serde_json::json!(["SHA-256"]));

    stdout(&certgen(&store, &["member", "remove", agent], b""));
    let again = certgen(&store, &["member", "remove", agent], b"");
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not a member"));
    assert_eq!(credentials::load(&path).expect("load").len(), 1);
}

#[test]
fn refusals_name_what_is_wrong() {
    let (_dir, store) = store();
    let refused = |args: &[&str], stdin: &[u8], why: &str| {
        let o = certgen(&store, args, stdin);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains(why), "expected {why:?} in {err}");
    };
    refused(
        &["member", "add", "sip:agent-7@callcentre.example"],
        b"",
        "password: empty",
    );
    refused(
        &["member", "add", "sip:callcentre.example"],
        b"pw\n",
        "user part",
    );
    // An unsafe file is not touched.
    stdout(&certgen(
        &store,
        &["member", "add", "sip:a@callcentre.example"],
        b"pw\n",
    ));
    let path = store.join("credentials");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    refused(&["member", "list"], b"", "chmod 600");
    refused(
        &["member", "add", "sip:b@callcentre.example"],
        b"pw\n",
        "chmod 600",
    );
    // No password option exists to put one on the command line.
    let o = certgen(
        &store,
        &[
            "member",
            "add",
            "sip:b@callcentre.example",
            "--password",
            "x",
        ],
        b"",
    );
    assert_eq!(o.status.code(), Some(2));
}
