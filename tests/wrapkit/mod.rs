//! Shared by tests/sign.rs and tests/encrypt.rs: a store with a call-centre group (RSA and
//! P-256), messages, running the tools, and taking their output apart for the openssl CLI.
#![allow(dead_code)]

use sipsec::mime::Multipart;
use sipsec::store::policy::MemberPattern;
use sipsec::store::x509::{KeyType, LeafProfile};
use sipsec::store::Store;
use sipsec::uri::Aor;
use sipsec::{HeaderKind, Message};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Pki {
    pub dir: tempfile::TempDir,
    pub store: PathBuf,
    /// The anchor, for -CAfile.
    pub ca_file: String,
}

pub const RSA_GROUP: &str = "support@callcentre.example";
pub const EC_GROUP: &str = "sales@callcentre.example";
pub const BOB_RSA: &str = "bob@callcentre.example";
pub const BOB_EC: &str = "carol@callcentre.example";

impl Pki {
    /// A store whose root issues the identities itself.
    pub fn new() -> Pki {
        Pki::build(false)
    }

    /// A store shaped as sipsec-certgen makes it: an anchor, and an issuing intermediate whose
    /// (critical) nameConstraints extension holds it to the store's domain.
    pub fn with_intermediate() -> Pki {
        Pki::build(true)
    }

    fn build(intermediate: bool) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let mut store = Store::create(&path).unwrap();
        let domains = vec!["callcentre.example".to_string()];
        let root = store
            .init_root("Test Root", KeyType::P256, 30, !intermediate)
            .unwrap();
        if intermediate {
            store
                .init_intermediate("Test Issuing CA", KeyType::Rsa2048, 30, &domains, false)
                .unwrap();
        }
        let mut cfg = store.config().clone();
        cfg.domains = domains;
        store.set_config(&cfg).unwrap();
        for (aor, kind) in [
            (RSA_GROUP, KeyType::Rsa2048),
            (EC_GROUP, KeyType::P256),
            (BOB_RSA, KeyType::Rsa2048),
            (BOB_EC, KeyType::P256),
        ] {
            let profile = LeafProfile::new(Aor::parse(aor).unwrap(), 30);
            store.issue(&profile, kind, false, false).unwrap();
        }
        for (group, pattern) in [
            (RSA_GROUP, "sip:agent-*@callcentre.example"),
            (EC_GROUP, "sip:seller-*@callcentre.example"),
        ] {
            store
                .add_group_member(
                    Aor::parse(group).unwrap(),
                    MemberPattern::parse(pattern).unwrap(),
                )
                .unwrap();
        }
        let ca_file = dir.path().join("anchor.pem");
        std::fs::write(&ca_file, root.to_pem().unwrap()).unwrap();
        Pki {
            store: path,
            ca_file: ca_file.to_str().unwrap().to_string(),
            dir,
        }
    }

    pub fn open(&self) -> Store {
        Store::open(&self.store).unwrap()
    }

    /// Runs `sipsec-certgen ARGS` on this store; panics unless it succeeds; returns stdout.
    pub fn certgen(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new(env!("CARGO_BIN_EXE_sipsec-certgen"))
            .args(["--store", self.store.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// An STI certificate for the RSA group covering `tn` (the `--tn` syntax), made by
    /// `sipsec-certgen sti` with its chain put in an x5u cache directory; returns that
    /// directory.
    pub fn issue_sti(&self, tn: &str, x5u: &str) -> PathBuf {
        let cache = self.dir.path().join("x5u-cache");
        let group = format!("sip:{RSA_GROUP}");
        let cache_arg = cache.to_str().unwrap();
        self.certgen(&[
            "sti",
            &group,
            "--tn",
            tn,
            "--x5u",
            x5u,
            "--x5u-cache",
            cache_arg,
        ]);
        cache
    }

    /// (cert.pem, key.pem) of an identity, for openssl cms -decrypt.
    pub fn identity_files(&self, aor: &str) -> (String, String) {
        let d = self.store.join("identities").join(aor);
        let s = |n: &str| d.join(n).to_str().unwrap().to_string();
        (s("cert.pem"), s("key.pem"))
    }

    fn signer_path(&self) -> String {
        self.dir
            .path()
            .join("signer.pem")
            .to_str()
            .unwrap()
            .to_string()
    }

    /// Whether the last signature openssl verified was made with `aor`'s certificate.
    pub fn last_signer_is(&self, aor: &str) -> bool {
        let signer = std::fs::read(self.signer_path()).unwrap();
        let want = std::fs::read(self.identity_files(aor).0).unwrap();
        openssl::x509::X509::from_pem(&signer).unwrap()
            == openssl::x509::X509::from_pem(&want).unwrap()
    }

    pub fn file(&self, name: &str, data: &[u8]) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p.to_str().unwrap().to_string()
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs a tool with `input` on stdin.
pub fn run(bin: &str, store: &Path, args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new(bin)
        .args(args)
        .env("SIPSEC_STORE", store)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Written from another thread while the output is read: a large input would otherwise
    // fill both pipes. A run refused at set-up may exit before reading its input.
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub const SDP: &str = "v=0\r\no=agent 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";

/// An INVITE from `from` (a URI) to `to`, with an SDP body and credentials.
pub fn invite(from: &str, to: &str) -> Vec<u8> {
    format!(
        "INVITE sip:{to} SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.7;branch=z9hG4bKa1\r\n\
         Max-Forwards: 70\r\nFrom: \"Agent Seven\" <sip:{from}>;tag=f7\r\nTo: <sip:{to}>\r\n\
         Call-ID: call-1@192.0.2.7\r\nCSeq: 1 INVITE\r\nContact: <sip:agent@192.0.2.7>\r\n\
         Subject: order 42\r\n\
         Proxy-Authorization: Digest username=\"agent-7\", realm=\"cc\", response=\"c0ffee\"\r\n\
         Authorization: Digest username=\"agent-7\", realm=\"x\", response=\"beefbeef\"\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
    .into_bytes()
}

/// A 200 OK to an INVITE, answered by `to` (the dialled AOR), from caller `from`.
pub fn ok_200(from: &str, to: &str) -> Vec<u8> {
    format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKa1\r\n\
         From: <sip:{from}>;tag=f1\r\nTo: <sip:{to}>;tag=t9\r\n\
         Call-ID: call-2@192.0.2.1\r\nCSeq: 1 INVITE\r\nContact: <sip:agent@192.0.2.7>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
    .into_bytes()
}

pub fn parse(bytes: &[u8]) -> Message {
    Message::parse(bytes.to_vec()).unwrap_or_else(|e| {
        panic!(
            "output does not parse: {e}\n{}",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// The signature of a signed message whatever its form: the exact octets of the signed part
/// (`None` when the content travels inside the CMS, the `cms` form) and the CMS DER.
pub fn signature_of(m: &Message) -> (Option<Vec<u8>>, Vec<u8>) {
    let ct = m.value(HeaderKind::ContentType).unwrap().to_vec();
    let ct_text = String::from_utf8_lossy(&ct).to_ascii_lowercase();
    if ct_text.starts_with("application/pkcs7-mime") {
        assert!(ct_text.contains("smime-type=signed-data"), "{ct_text}");
        return (None, body_der(m));
    }
    let (ct, body) = if ct_text.starts_with("multipart/mixed") {
        let mp = Multipart::of_message(m).unwrap();
        let signed = mp
            .parts()
            .iter()
            .find(|p| {
                String::from_utf8_lossy(p.content_type().unwrap()).starts_with("multipart/signed")
            })
            .expect("a multipart/signed part in the AIB's multipart/mixed");
        (
            signed.content_type().unwrap().to_vec(),
            signed.body().to_vec(),
        )
    } else {
        (ct, m.body().to_vec())
    };
    let (part1, der) = signed_parts(&ct, &body);
    (Some(part1), der)
}

/// (exact octets of part 1, signature DER) of a multipart/signed body with its Content-Type.
pub fn signed_parts(content_type: &[u8], body: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mp = Multipart::with_content_type(content_type, body).unwrap();
    assert_eq!(mp.parts().len(), 2);
    let sig = &mp.parts()[1];
    let der = match sig.value_named("Content-Transfer-Encoding") {
        Some(b"base64") => decode_base64(sig.body()),
        _ => sig.body().to_vec(),
    };
    (mp.parts()[0].bytes().to_vec(), der)
}

pub fn decode_base64(text: &[u8]) -> Vec<u8> {
    let clean: String = text
        .iter()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|&c| c as char)
        .collect();
    openssl::base64::decode_block(&clean).unwrap()
}

/// Runs `openssl cms -verify` on a detached signature; returns whether it passed, and output.
pub fn openssl_verify_detached(
    openssl: &Path,
    pki: &Pki,
    part1: &[u8],
    der: &[u8],
) -> (bool, String) {
    let signer = pki.signer_path();
    openssl_cms_verify_detached(
        openssl,
        pki.dir.path(),
        &pki.ca_file,
        part1,
        der,
        &["-signer", &signer],
    )
}

/// `openssl cms -verify` of a detached signature (`part1` and its signature `der`, written
/// into `dir`) against the anchors in `ca_file`, with `extra` options; whether it passed, and
/// the output.
pub fn openssl_cms_verify_detached(
    openssl: &Path,
    dir: &Path,
    ca_file: &str,
    part1: &[u8],
    der: &[u8],
    extra: &[&str],
) -> (bool, String) {
    let content = crate::common::write(dir, "part1.bin", part1);
    let sig = crate::common::write(dir, "sig.der", der);
    let mut args = vec![
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        &sig,
        "-content",
        &content,
        "-CAfile",
        ca_file,
        "-purpose",
        "any",
        "-out",
        "/dev/null",
    ];
    args.extend_from_slice(extra);
    crate::common::run(openssl, &args)
}

/// Runs `openssl cms -verify` on an attached signature; returns the content on success.
pub fn openssl_verify_attached(openssl: &Path, pki: &Pki, der: &[u8]) -> Result<Vec<u8>, String> {
    let sig = pki.file("attached.der", der);
    let out = pki.dir.path().join("content.bin");
    let (ok, text) = crate::common::run(
        openssl,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &sig,
            "-CAfile",
            &pki.ca_file,
            "-purpose",
            "any",
            "-out",
            out.to_str().unwrap(),
            "-signer",
            &pki.signer_path(),
        ],
    );
    if ok {
        Ok(std::fs::read(out).unwrap())
    } else {
        Err(text)
    }
}

/// Runs `openssl cms -decrypt` with an identity of the store; returns the content.
pub fn openssl_decrypt(
    openssl: &Path,
    pki: &Pki,
    aor: &str,
    der: &[u8],
) -> Result<Vec<u8>, String> {
    let (cert, key) = pki.identity_files(aor);
    let env = pki.file("envelope.der", der);
    let out = pki.dir.path().join("plain.bin");
    let (ok, text) = crate::common::run(
        openssl,
        &[
            "cms",
            "-decrypt",
            "-binary",
            "-inform",
            "DER",
            "-in",
            &env,
            "-recip",
            &cert,
            "-inkey",
            &key,
            "-out",
            out.to_str().unwrap(),
        ],
    );
    if ok {
        Ok(std::fs::read(out).unwrap())
    } else {
        Err(text)
    }
}

/// The body's DER, base64 undone when the message says so.
pub fn body_der(message: &Message) -> Vec<u8> {
    match message.values_named("Content-Transfer-Encoding").next() {
        Some(b"base64") => decode_base64(message.body()),
        _ => message.body().to_vec(),
    }
}

/// One signature sipsec-sign made, as an interop test hands it to a peer.
pub struct SignedCase {
    /// The group the signature is made as, and the digest name given to --digest.
    pub group: &'static str,
    pub digest: &'static str,
    /// What made it, for messages.
    pub what: String,
    /// The signed octets of a detached signature, and that file; `None` when inside.
    pub detached: Option<Vec<u8>>,
    pub content_file: Option<String>,
    pub der: Vec<u8>,
    pub sig_file: String,
}

/// The digest names sipsec-sign takes.
pub const SIGN_DIGESTS: [&str; 4] = ["sha1", "sha256", "sha384", "sha512"];

/// Runs sipsec-sign for every form, both groups (RSA-2048 and P-256), every digest, binary and
/// base64, and hands each signature to `check`; returns how many there were.
pub fn every_signature_sipsec_sign_makes(pki: &Pki, mut check: impl FnMut(&SignedCase)) -> usize {
    let mut made = 0;
    for (agent, group) in [
        ("agent-7@callcentre.example", RSA_GROUP),
        ("seller-3@callcentre.example", EC_GROUP),
    ] {
        for form in ["body", "sip", "aib", "cms"] {
            for digest in SIGN_DIGESTS {
                for transfer in [None, Some("--base64")] {
                    let mut args = vec!["--trust-from-header", "--form", form];
                    args.extend(["--digest", digest]);
                    args.extend(transfer);
                    let what = format!("{group} {form} {digest} {transfer:?}");
                    let bin = env!("CARGO_BIN_EXE_sipsec-sign");
                    let r = run(bin, &pki.store, &args, &invite(agent, "bob@example.net"));
                    assert_eq!(r.code, 0, "{what}: {}", r.stderr);
                    let (detached, der) = signature_of(&parse(&r.stdout));
                    check(&SignedCase {
                        group,
                        digest,
                        what,
                        content_file: detached.as_ref().map(|c| pki.file("content", c)),
                        detached,
                        sig_file: pki.file("sig.der", &der),
                        der,
                    });
                    made += 1;
                }
            }
        }
    }
    made
}
