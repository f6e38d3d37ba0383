//! The tools' messages as a user reads them: each error names what is wrong and, where there
//! is one, what to do (the text is asserted, not only the exit code); `-q` is quiet.

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

#[test]
fn quiet_certgen_prints_only_what_was_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let store = store.to_str().unwrap();
    for args in [
        &["-q", "init-ca", "--key-type", "p256"][..],
        &[
            "-q",
            "init-intermediate",
            "--domain",
            "example.org",
            "--key-type",
            "p256",
        ],
        &["-q", "issue", "sip:alice@example.org", "--key-type", "p256"],
    ] {
        let o = run(CERTGEN, &[&["--store", store][..], args].concat());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(
            o.stdout.is_empty() && o.stderr.is_empty(),
            "{args:?}: {o:?}"
        );
    }
    let o = run(CERTGEN, &["--store", store, "-q", "list", "--json"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        3,
        "{o:?}"
    );
    let o = run(CERTGEN, &["--store", store, "issue", "sip:bob@example.org"]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("issued sip:bob@example.org serial "));
}

#[test]
fn relay_check_config_reports_without_binding() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("relay.conf");
    // Port 1 needs privileges to bind: a check that tried would fail.
    std::fs::write(
        &config,
        "listen = udp:127.0.0.1:1\ndomain = example.org\nroute = example.net=tcp:192.0.2.1:5060\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let o = run(RELAY, &["--config", config, "--check-config"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "sipsec-relay: configuration usable: listen udp:127.0.0.1:1; domains example.org; \
         routes example.net=tcp:192.0.2.1:5060; tls no\n"
    );
    let o = run(RELAY, &["--config", config, "--check-config", "-q"]);
    assert!(o.status.success() && o.stdout.is_empty(), "{o:?}");
    fails_saying(
        run(RELAY, &["--check-config", "--listen", "tls:127.0.0.1:5061"]),
        3,
        &["a tls listener needs --tls-cert and --tls-key, or --tls-identity and --store"],
    );
    std::fs::write(dir.path().join("bad.conf"), "listen udp:127.0.0.1:5060\n").unwrap();
    let bad = dir.path().join("bad.conf");
    fails_saying(
        run(
            RELAY,
            &["--config", bad.to_str().unwrap(), "--check-config"],
        ),
        2,
        &["bad.conf:1: expected `key = value`"],
    );
}

/// The relay's stderr from start to a SIGTERM.
fn relay_stderr_until_stopped(extra: &[&str]) -> Output {
    let child = Command::new(RELAY)
        .args(["--listen", "udp:127.0.0.1:0"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the relay");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    child.wait_with_output().expect("the relay stops")
}

#[test]
fn quiet_relay_writes_no_counters_at_exit() {
    let o = relay_stderr_until_stopped(&[]);
    assert!(o.status.success(), "{o:?}");
    let err = stderr(&o);
    let port = err
        .split("listening on udp:127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse::<u16>().ok());
    assert!(
        port.is_some_and(|p| p != 0) && err.contains("in_udp=0"),
        "the bound port, not 0: {err}"
    );
    let o = relay_stderr_until_stopped(&["-q"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(stderr(&o), "");
}

fn certgen_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(CERTGEN)
        .args(args)
        .current_dir(dir)
        .env_remove("SIPSEC_STORE")
        .output()
        .expect("run sipsec-certgen")
}

#[test]
fn issue_with_a_root_and_no_issuing_ca_is_refused_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let o = run(
        CERTGEN,
        &["--store", &store, "issue", "sip:alice@example.org"],
    );
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    for says in [
        "this store has a root CA but no issuing CA",
        &format!("sipsec-certgen --store {store} init-intermediate --domain example.org"),
        "--self-signed",
    ] {
        assert!(err.contains(says), "expected {says:?} in: {err}");
    }
    assert!(o.stdout.is_empty(), "nothing issued: {o:?}");
    assert!(!Path::new(&store)
        .join("identities/alice@example.org")
        .exists());
    // Each way out works.
    let o = run(
        CERTGEN,
        &[
            "--store",
            &store,
            "issue",
            "--self-signed",
            "sip:alice@example.org",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let direct = dir.path().join("direct");
    let direct = direct.to_str().unwrap();
    for args in [
        &["init-ca", "--issuing", "--key-type", "p256"][..],
        &["issue", "sip:bob@example.org"],
    ] {
        let o = run(CERTGEN, &[&["--store", direct][..], args].concat());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_missing_or_empty_store_is_named_with_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let missing = missing.to_str().unwrap();
    for (bin, args) in [
        (CERTGEN, &["list"][..]),
        (VERIFY, &[][..]),
        (env!("CARGO_BIN_EXE_sipsec-sign"), &[][..]),
    ] {
        let o = run(bin, &[&["--store", missing][..], args].concat());
        let err = fails_saying(
            o,
            3,
            &[
                &format!("{missing}: no store here"),
                &format!("sipsec-certgen --store {missing} init-ca"),
            ],
        );
        assert_eq!(err.matches("No such file or directory").count(), 0, "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let empty = empty.to_str().unwrap();
    for (bin, args) in [(CERTGEN, &["list"][..]), (VERIFY, &[][..])] {
        fails_saying(
            run(bin, &[&["--store", empty][..], args].concat()),
            3,
            &[
                &format!("{empty}: not a sipsec store (an empty directory)"),
                &format!("sipsec-certgen --store {empty} init-ca"),
            ],
        );
    }
    // anchor add makes a store that only trusts, where there was none.
    let ca = store(dir.path());
    let trusting = dir.path().join("trusting");
    let root = format!("{ca}/root/cert.pem");
    let o = run(
        CERTGEN,
        &[
            "--store",
            trusting.to_str().unwrap(),
            "anchor",
            "add",
            &root,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn tel_uris_are_refused_with_the_sip_form_to_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let o = run(
        CERTGEN,
        &["--store", &store, "issue", "--self-signed", "tel:+15551234"],
    );
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("tel:+15551234: certificates are issued for SIP URIs, not tel: numbers")
            && err.contains("sip:+15551234@"),
        "{err}"
    );
}

#[test]
fn out_files_with_a_bare_relative_name_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let o = run(
        CERTGEN,
        &[
            "--store",
            &store,
            "-q",
            "issue",
            "--self-signed",
            "sip:alice@example.org",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(dir.path().join("pass"), "secret\n").unwrap();
    let o = certgen_in(
        dir.path(),
        &[
            "--store",
            &store,
            "init-intermediate",
            "--domain",
            "example.org",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for args in [
        &["crl", "--out", "crl.pem"][..],
        &[
            "export-p12",
            "sip:alice@example.org",
            "--out",
            "alice.p12",
            "--p12-pass-file",
            "pass",
        ],
    ] {
        let o = certgen_in(dir.path(), &[&["--store", &store][..], args].concat());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    for f in ["crl.pem", "alice.p12"] {
        assert!(dir.path().join(f).metadata().unwrap().len() > 0, "{f}");
    }
}
