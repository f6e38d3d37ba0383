//! The tools' error messages, as a user reads them: each names what is wrong and, where there
//! is one, what to do. The text is asserted, not only the exit code.

use std::path::Path;
use std::process::{Command, Output};

const CERTGEN: &str = env!("CARGO_BIN_EXE_sipsec-certgen");
const RELAY: &str = env!("CARGO_BIN_EXE_sipsec-relay");
const VERIFY: &str = env!("CARGO_BIN_EXE_sipsec-verify");

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env_remove("SIPSEC_STORE")
        .output()
        .expect("run the tool")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code `code` and a stderr holding every one of `says`.
fn fails_saying(o: Output, code: i32, says: &[&str]) -> String {
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    for s in says {
        assert!(err.contains(s), "expected {s:?} in: {err}");
    }
    err
}

fn store(dir: &Path) -> String {
    let store = dir.join("store");
    let o = run(
        CERTGEN,
        &[
            "--store",
            store.to_str().unwrap(),
            "init-ca",
            "--key-type",
            "p256",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    store.to_str().unwrap().to_string()
}

#[test]
fn relay_listen_and_route_errors_name_the_wrong_part() {
    for (listen, says) in [
        (
            "sctp:127.0.0.1:5060",
            "unknown transport \"sctp\": use udp, tcp or tls",
        ),
        (
            "udp:sip.example:5060",
            "\"sip.example\" is a host name; give an IP address",
        ),
        (
            "udp:127.0.0.300:5060",
            "\"127.0.0.300\" is not an IPv4 or IPv6 address",
        ),
        (
            "udp:127.0.0.1:99999",
            "port \"99999\" is not a number from 0 to 65535",
        ),
        ("udp:127.0.0.1", "no port"),
        ("127.0.0.1:5060", "no transport"),
    ] {
        let err = fails_saying(run(RELAY, &["--stdio", "--listen", listen]), 2, &[says]);
        assert!(err.contains("--listen"), "{err}");
    }
    fails_saying(
        run(
            RELAY,
            &[
                "--stdio",
                "--listen",
                "udp:127.0.0.1:5060",
                "--route",
                "udp:127.0.0.1:5070",
            ],
        ),
        2,
        &["--route", "the DOMAIN= is missing", "example.com=udp:"],
    );
}

#[test]
fn a_long_run_of_binary_input_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    // Three times the default size cap (1 MiB) of bytes that are not SIP: one report.
    let input = dir.path().join("binary.bin");
    let bytes: Vec<u8> = (0..3u32 << 20)
        .map(|i| {
            if i % 1000 == 999 {
                b'\n'
            } else {
                0x80 | (i % 127) as u8
            }
        })
        .collect();
    std::fs::write(&input, &bytes).unwrap();
    let o = run(VERIFY, &["--store", &store, input.to_str().unwrap()]);
    let err = fails_saying(o, 1, &[&format!("{} bytes skipped", bytes.len())]);
    assert_eq!(err.matches("bytes skipped").count(), 1, "{err}");
}
