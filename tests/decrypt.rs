//! sipsec-decrypt as a process: envelopes made by the openssl CLI (AES-CBC, AES-GCM, 3DES,
//! RSA-OAEP), the RFC 6216 messages with kumiko's key, the decrypt | verify pipeline, and a
//! refusal test for each failure, all with the same text.

mod common;
mod unwrapkit;

use common::{openssl_cli, run, write};
use sipsec::crypto::{encrypt, CmsEncryptOptions, ContentCipher};
use sipsec::store::Store;
use std::path::{Path, PathBuf};
use unwrapkit::{body_of, certgen, tool, with_body, Outcome};

const DECRYPT: &str = env!("CARGO_BIN_EXE_sipsec-decrypt");
const VERIFY: &str = env!("CARGO_BIN_EXE_sipsec-verify");
const SDP: &[u8] = b"v=0\r\no=bob 2 2 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:secret\r\n";
const FAILED: &str = "cannot decrypt: the message is not for this proxy's keys, or it is damaged";

fn head(extra: &str) -> String {
    format!(
        "INVITE sip:bob@example.net SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK776\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1928\r\nTo: <sip:bob@example.net>\r\n\
         Call-ID: c0ffee\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\n{extra}"
    )
}

fn enveloped(der: &[u8], smime_type: &str) -> Vec<u8> {
    with_body(
        &head("Content-Disposition: attachment;handling=required;filename=smime.p7\r\n"),
        &format!("application/pkcs7-mime;smime-type={smime_type};name=smime.p7m"),
        der,
    )
}

fn sdp_entity() -> Vec<u8> {
    let mut e = b"Content-Type: application/sdp\r\n\r\n".to_vec();
    e.extend_from_slice(SDP);
    e
}

struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    store: PathBuf,
}

/// A store with an own identity for bob@example.net made by certgen.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let store = path.join("store");
    certgen(
        &store,
        &[&["init-ca", "--issuing"], &["issue", "sip:bob@example.net"]],
    );
    Setup {
        _dir: dir,
        dir: path,
        store,
    }
}

fn bob_cert(store: &Path) -> PathBuf {
    store.join("identities/bob@example.net/cert.pem")
}

#[test]
fn opens_envelopes_made_by_the_openssl_cli() {
    let Some(ossl) = openssl_cli() else { return };
    let s = setup();
    let content = write(&s.dir, "content", &sdp_entity());
    let cert = bob_cert(&s.store);
    let cert = cert.to_str().unwrap();
    let cases: [(&str, &[&str], &str, &str); 5] = [
        ("aes-128-cbc", &["-aes128"], "enveloped-data", "aes-128-cbc"),
        ("aes-256-cbc", &["-aes256"], "enveloped-data", "aes-256-cbc"),
        (
            "aes-128-gcm",
            &["-aes-128-gcm"],
            "authEnveloped-data",
            "aes-128-gcm",
        ),
        ("3des", &["-des3"], "enveloped-data", "des-ede3-cbc"),
        (
            "oaep",
            &["-aes128", "-keyopt", "rsa_padding_mode:oaep"],
            "enveloped-data",
            "aes-128-cbc",
        ),
    ];
    for (name, opts, smime_type, algorithm) in cases {
        let out = s.dir.join(format!("{name}.der"));
        let mut args = vec![
            "cms",
            "-encrypt",
            "-binary",
            "-outform",
            "DER",
            "-in",
            &content,
            "-out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["-recip", cert]);
        // -keyopt must follow -recip.
        if name == "oaep" {
            args.retain(|a| *a != "-keyopt" && *a != "rsa_padding_mode:oaep");
            args.extend_from_slice(&["-keyopt", "rsa_padding_mode:oaep"]);
        }
        let (ok, text) = run(&ossl, &args);
        assert!(ok, "{name}: {text}");
        let der = std::fs::read(&out).unwrap();
        let o = tool(DECRYPT, &s.store, &[], &enveloped(&der, smime_type));
        assert_eq!(o.code, 0, "{name}: {:?}", o.records);
        assert_eq!(body_of(&o.stdout), SDP, "{name}");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("Content-Type: application/sdp\r\n"),
            "{name}: {text}"
        );
        assert!(
            !text.contains("pkcs7") && !text.contains("handling=required"),
            "{name}: {text}"
        );
        let v = &o.records[0]["verdict"];
        assert_eq!(v["algorithm"], algorithm, "{name}");
        assert_eq!(v["key"], "sip:bob@example.net");
        assert_eq!(v["encrypted"], true);
        assert_eq!(v["result"], "decrypted");
    }
}

#[test]
fn a_tunnelled_message_restores_hidden_headers_but_keeps_the_outer_dialog() {
    let s = setup();
    let bob = openssl::x509::X509::from_pem(&std::fs::read(bob_cert(&s.store)).unwrap()).unwrap();
    let inner = with_body(
        &head("Subject: the secret plan\r\n").replace(
            "<sip:alice@example.com>",
            "\"Alice\" <sip:alice@example.com>",
        ),
        "application/sdp",
        SDP,
    );
    let mut e = b"Content-Type: message/sip\r\n\r\n".to_vec();
    e.extend_from_slice(&inner);
    let der = encrypt(&e, &[bob], &CmsEncryptOptions::default()).unwrap();
    let msg = enveloped(&der, "enveloped-data");
    let o = tool(DECRYPT, &s.store, &[], &msg);
    assert_eq!(o.code, 0, "{:?}", o.records);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Subject: the secret plan\r\n"), "{text}");
    assert!(
        text.contains("From: <sip:alice@example.com>;tag=1928\r\n"),
        "outer From kept: {text}"
    );
    assert!(!text.contains("\"Alice\""), "{text}");
    assert!(text.contains("Content-Type: application/sdp\r\n"));
    assert_eq!(body_of(&o.stdout), SDP);
}

#[test]
fn every_failure_gives_the_same_text_and_the_message_is_never_half_changed() {
    let s = setup();
    let bob = openssl::x509::X509::from_pem(&std::fs::read(bob_cert(&s.store)).unwrap()).unwrap();
    let stranger = common::testkit::Ca::new(common::testkit::KeyKind::Rsa)
        .leaf(common::testkit::KeyKind::Rsa, "sip:carol@example.org")
        .0;
    let gcm = CmsEncryptOptions {
        cipher: ContentCipher::Aes128Gcm,
        ..CmsEncryptOptions::default()
    };
    let good_gcm = encrypt(&sdp_entity(), std::slice::from_ref(&bob), &gcm).unwrap();
    let mut tag_flipped = good_gcm.clone();
    let n = tag_flipped.len() - 1;
    tag_flipped[n] ^= 1;
    let mut corrupted = encrypt(
        &sdp_entity(),
        std::slice::from_ref(&bob),
        &CmsEncryptOptions::default(),
    )
    .unwrap();
    // The wrapped content key changed: OAEP fails for certain (a changed content byte could
    // leave valid CBC padding by chance and make the test flaky).
    let at = corrupted
        .windows(4)
        .position(|w| w == [0x04, 0x82, 0x01, 0x00])
        .unwrap();
    corrupted[at + 100] ^= 0xff;
    let mut truncated = corrupted.clone();
    truncated.truncate(truncated.len() - 20);
    let not_sip = encrypt(
        b"Content-Type: message/sip\r\n\r\nthis is no SIP message",
        std::slice::from_ref(&bob),
        &CmsEncryptOptions::default(),
    )
    .unwrap();
    let cases = [
        (
            "no key",
            encrypt(&sdp_entity(), &[stranger], &CmsEncryptOptions::default()).unwrap(),
            "enveloped-data",
        ),
        ("tampered GCM tag", tag_flipped, "authEnveloped-data"),
        ("corrupted envelope", corrupted, "enveloped-data"),
        ("truncated envelope", truncated, "enveloped-data"),
        (
            "garbage",
            b"\x30\x82\x01\x00garbage".to_vec(),
            "enveloped-data",
        ),
        ("inner message does not parse", not_sip, "enveloped-data"),
    ];
    // The good one decrypts (so the refusals below are about the damage, not the setup).
    assert_eq!(
        tool(
            DECRYPT,
            &s.store,
            &[],
            &enveloped(&good_gcm, "authEnveloped-data")
        )
        .code,
        0
    );
    for (name, der, t) in cases {
        let msg = enveloped(&der, t);
        // Default (open): passed on byte for byte, with a warning.
        let o = tool(DECRYPT, &s.store, &[], &msg);
        assert_eq!(o.code, 0, "{name}");
        assert_eq!(o.stdout, msg, "{name}: unchanged");
        assert_eq!(o.records[0]["disposition"], "passed-on-failure", "{name}");
        let warning = o.records[0]["warnings"][0].as_str().unwrap();
        assert!(warning.ends_with(FAILED), "{name}: {warning}");
        // --fail-closed: withheld, same reason.
        let o = tool(DECRYPT, &s.store, &["--fail-closed"], &msg);
        assert_eq!(o.code, 1, "{name}");
        assert!(o.stdout.is_empty(), "{name}");
        assert_eq!(o.records[0]["refusal"]["reason"], FAILED, "{name}");
    }
}

#[test]
fn plain_messages_pass_unchanged() {
    let s = setup();
    let msg = with_body(&head(""), "application/sdp", SDP);
    let o = tool(DECRYPT, &s.store, &["--fail-closed"], &msg);
    assert_eq!(o.code, 0);
    assert_eq!(o.stdout, msg);
    assert_eq!(o.records[0]["verdict"]["encrypted"], false);
}

fn kumiko_store(dir: &Path) -> PathBuf {
    let pem = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rfc6216/pem");
    let store = dir.join("store");
    Store::create(&store).unwrap();
    let ca = pem.join("02-cert-sipit-test-ca.pem");
    let key = pem.join("06-eku-key-kumiko-s-private-key-for-user-certificate-for-example-net.pem");
    let cert = pem.join("05-eku-cert-kumiko-s-user-certificate-for-example-net.pem");
    certgen(
        &store,
        &[
            &["anchor", "add", ca.to_str().unwrap()],
            &[
                "import-cert",
                "--key",
                key.to_str().unwrap(),
                cert.to_str().unwrap(),
            ],
        ],
    );
    let fluffy = openssl::x509::X509::from_pem(
        &std::fs::read(pem.join("03-eku-cert-fluffy-s-user-certificate-for-example-com.pem"))
            .unwrap(),
    )
    .unwrap();
    Store::open(&store)
        .unwrap()
        .learn_cert(
            &sipsec::uri::Aor::parse("fluffy@example.com").unwrap(),
            &fluffy,
        )
        .unwrap();
    store
}

#[test]
fn rfc6216_envelopes_open_with_kumikos_key_and_signed_ones_verify_through_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let store = kumiko_store(dir.path());
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rfc6216");
    let msg = std::fs::read(base.join("smime-encrypted.dat")).unwrap();
    let o = tool(DECRYPT, &store, &["--datagram"], &msg);
    assert_eq!(o.code, 0, "{:?}", o.records);
    assert_eq!(body_of(&o.stdout), b"Hello!");
    let v = &o.records[0]["verdict"];
    assert_eq!(v["algorithm"], "aes-128-cbc");
    assert_eq!(v["key"], "sip:kumiko@example.net");

    // Signed around encrypted: decrypt leaves it for verify, verify passes, and after
    // `verify --unwrap` the envelope opens; the verifier's marks pass decrypt as the run's
    // control header vouches for them.
    let msg = std::fs::read(base.join("smime-sign-encrypt.dat")).unwrap();
    let d = tool(DECRYPT, &store, &["--datagram"], &msg);
    assert_eq!(d.code, 0);
    assert!(d.records[0]["verdict"]["note"]
        .as_str()
        .unwrap()
        .contains("left for sipsec-verify"));
    let key = dir.path().join("run.key");
    let key = key.to_str().unwrap();
    let v = tool(
        VERIFY,
        &store,
        &[
            "--require",
            "identity",
            "--unwrap",
            "--control-key",
            key,
            "--keep-control",
        ],
        &d.stdout,
    );
    assert_eq!(v.code, 0, "{:?}", v.records);
    assert_eq!(v.records[0]["verdict"]["coverage"]["body"], "encrypted");
    let again = tool(DECRYPT, &store, &["--control-key", key], &v.stdout);
    assert_eq!(again.code, 0, "{:?}", again.records);
    assert_eq!(body_of(&again.stdout), b"Hello!");
    // A signed body covers no header: the verdict, no mark; the verdict passes decrypt.
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(!text.contains("validated"), "{text}");
    assert!(
        text.contains("signer=\"sip:fluffy@example.com\"\r\n"),
        "{text}"
    );

    // --open-signed opens it at once (dropping the signature unverified, as reported).
    let o = tool(DECRYPT, &store, &["--datagram", "--open-signed"], &msg);
    assert_eq!(body_of(&o.stdout), b"Hello!");
    assert!(o.records[0]["verdict"]["note"]
        .as_str()
        .unwrap()
        .contains("dropped unverified"));
}

/// sipsec-decrypt on `input` with `args` and extra environment variables.
fn decrypt_with_env(store: &Path, args: &[&str], env: &[(&str, &str)], input: &[u8]) -> Outcome {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(DECRYPT)
        .arg("--store")
        .arg(store)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A run refused at setup may exit before reading its input.
    let _ = child.stdin.take().unwrap().write_all(input);
    let out = child.wait_with_output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        records: Vec::new(),
    }
}

#[test]
fn a_passphrase_protected_store_decrypts_only_with_its_passphrase() {
    const PASS: &str = "correct horse battery staple";
    const WRONG: &str = "incorrect donkey";
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let pass_file = write(dir.path(), "pass", format!("{PASS}\n").as_bytes());
    let wrong_file = write(dir.path(), "wrong", WRONG.as_bytes());
    certgen(
        &store,
        &[
            &["--passphrase-file", &pass_file, "init-ca", "--issuing"],
            &[
                "--passphrase-file",
                &pass_file,
                "issue",
                "sip:bob@example.net",
            ],
        ],
    );
    let key = std::fs::read_to_string(store.join("identities/bob@example.net/key.pem")).unwrap();
    assert!(key.contains("ENCRYPTED PRIVATE KEY"), "{key}");
    let bob = openssl::x509::X509::from_pem(&std::fs::read(bob_cert(&store)).unwrap()).unwrap();
    let der = encrypt(&sdp_entity(), &[bob], &CmsEncryptOptions::default()).unwrap();
    let msg = enveloped(&der, "enveloped-data");

    let from_file = decrypt_with_env(&store, &["--passphrase-file", &pass_file], &[], &msg);
    let from_env = decrypt_with_env(
        &store,
        &["--passphrase-env", "SIPSEC_TEST_KEY_PASS"],
        &[("SIPSEC_TEST_KEY_PASS", PASS)],
        &msg,
    );
    for o in [&from_file, &from_env] {
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(body_of(&o.stdout), SDP);
    }

    let refusals = [
        (
            decrypt_with_env(&store, &["--passphrase-file", &wrong_file], &[], &msg),
            "wrong passphrase for",
        ),
        (
            decrypt_with_env(
                &store,
                &["--passphrase-env", "SIPSEC_TEST_KEY_PASS"],
                &[("SIPSEC_TEST_KEY_PASS", WRONG)],
                &msg,
            ),
            "wrong passphrase for",
        ),
        (
            decrypt_with_env(&store, &[], &[], &msg),
            "is encrypted; give --passphrase-file or --passphrase-env",
        ),
        (
            decrypt_with_env(
                &store,
                &["--passphrase-env", "SIPSEC_TEST_UNSET"],
                &[],
                &msg,
            ),
            "environment variable SIPSEC_TEST_UNSET is not set",
        ),
    ];
    for (o, why) in &refusals {
        // Refused before any message is read: nothing written, the setup exit code.
        assert_eq!(o.code, 3, "{why}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{why}");
        assert!(
            o.stderr.starts_with("sipsec-decrypt: ") && o.stderr.contains(why),
            "{why}: {}",
            o.stderr
        );
    }
    for o in refusals
        .iter()
        .map(|(o, _)| o)
        .chain([&from_file, &from_env])
    {
        assert!(
            !o.stderr.contains(PASS) && !o.stderr.contains(WRONG),
            "{}",
            o.stderr
        );
    }
}
