//! Shared helpers for the end-to-end tests: the same test PKI as the unit tests (the file is
//! included by path, not copied), and access to the `openssl` command-line peer.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

pub mod der;
#[path = "../../src/crypto/testkit.rs"]
pub mod testkit;

/// The `openssl` CLI if it runs. Missing: the test fails when `SIPSEC_REQUIRE_PEERS=1`,
/// otherwise it is skipped with a note.
pub fn openssl_cli() -> Option<PathBuf> {
    let bin = std::env::var_os("OPENSSL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("openssl"));
    let works = Command::new(&bin)
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    peer_present(&format!("the openssl CLI ({bin:?})"), works).then_some(bin)
}

/// Whether a peer a test drives is there: missing, the test fails when
/// `SIPSEC_REQUIRE_PEERS=1`, otherwise it is skipped with a note naming the peer.
pub fn peer_present(peer: &str, present: bool) -> bool {
    if present {
        return true;
    }
    if std::env::var("SIPSEC_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{peer} is required (SIPSEC_REQUIRE_PEERS=1) but is not available");
    }
    eprintln!("note: skipping interop test, {peer} is not available (scripts/setup.sh --peers)");
    false
}

/// Runs the CLI; returns (success, stdout+stderr text).
pub fn run(bin: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(bin)
        .args(args)
        .output()
        .expect("spawn openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

pub fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let p = dir.join(name);
    fs::write(&p, data).unwrap();
    p.to_str().unwrap().to_string()
}

pub fn write_cert(dir: &Path, name: &str, cert: &X509) -> String {
    write(dir, name, &cert.to_pem().unwrap())
}

/// Private keys are written mode 0600, as everywhere in sipsec.
pub fn write_key(dir: &Path, name: &str, key: &PKey<Private>) -> String {
    let p = write(dir, name, &key.private_key_to_pem_pkcs8().unwrap());
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// First index of `needle` in `hay` at or after `from`.
pub fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// `msg` with the first `from` replaced by `to`, byte for byte (messages hold binary DER).
pub fn replace(msg: &[u8], from: &str, to: &str) -> Vec<u8> {
    let at = find(msg, from.as_bytes(), 0)
        .unwrap_or_else(|| panic!("{from:?} not in {}", String::from_utf8_lossy(msg)));
    let mut out = msg[..at].to_vec();
    out.extend_from_slice(to.as_bytes());
    out.extend_from_slice(&msg[at + from.len()..]);
    out
}

/// The `sipsec-identity` example binary (built by `cargo test`), which runs the real filter
/// driver and command-line layer.
pub fn identity_binary() -> PathBuf {
    let mut path = std::env::current_exe().expect("test binary path");
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    path.join("examples").join("sipsec-identity")
}
