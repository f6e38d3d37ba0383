//! Interop with Bouncy Castle, a CMS implementation that shares no code with OpenSSL, both
//! ways: it verifies every signature sipsec-sign makes and opens every envelope
//! sipsec-encrypt makes, and sipsec verifies and opens what it makes (DER and BER). The peer is
//! tests/interop/CmsCheck.java, compiled here against Debian's libbcpkix-java.

mod common;
mod wrapkit;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use openssl::x509::X509;
use sipsec::crypto::fastcms::CertCache;
use sipsec::crypto::fastenv::{self, Route, RsaRecipient};
use sipsec::crypto::{
    check_trust, decrypt, verify, CmsContentType, ContentCipher, DigestAlgorithm, TrustContext,
    VerifyContext,
};
use wrapkit::*;

const ENCRYPT: &str = env!("CARGO_BIN_EXE_sipsec-encrypt");
const JARS: [&str; 3] = [
    "/usr/share/java/bcprov.jar",
    "/usr/share/java/bcpkix.jar",
    "/usr/share/java/bcutil.jar",
];
const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/CmsCheck.java");

/// One running checker: a job a line in, an answer a line out.
struct Bc {
    _child: Child,
    jobs: ChildStdin,
    answers: BufReader<ChildStdout>,
}

impl Bc {
    /// Runs one job; `Ok(details)` or `Err(the peer's refusal)`.
    fn job(&mut self, fields: &[&str]) -> Result<String, String> {
        writeln!(self.jobs, "{}", fields.join("\t")).unwrap();
        self.jobs.flush().unwrap();
        let mut line = String::new();
        self.answers.read_line(&mut line).unwrap();
        let line = line.trim_end();
        match line.strip_prefix("OK ") {
            Some(details) => Ok(details.to_string()),
            None => Err(line
                .strip_prefix("REFUSED ")
                .unwrap_or_else(|| panic!("the checker died or answered {line:?}"))
                .to_string()),
        }
    }
}

/// The compiled checker's class directory, built once per source text.
fn classes() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let runs = |tool: &str| {
            Command::new(tool)
                .arg("-version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let present = runs("javac") && runs("java") && JARS.iter().all(|j| Path::new(j).exists());
        if !common::peer_present("Bouncy Castle (a JDK and libbcpkix-java)", present) {
            return None;
        }
        let source = std::fs::read(SOURCE).unwrap();
        let digest = openssl::sha::sha256(&source);
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("interop-bc-{name}"));
        if !dir.join("CmsCheck.class").exists() {
            // Compiled aside and renamed into place: test binaries run concurrently.
            let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
            let out = Command::new("javac")
                .args(["-nowarn", "-d"])
                .arg(scratch.path())
                .args(["-cp", &JARS.join(":"), SOURCE])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "javac: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = std::fs::rename(scratch.keep(), &dir);
        }
        Some(dir)
    })
    .clone()
}

/// The shared checker (one JVM for the whole test binary; tests take turns).
fn bc() -> Option<std::sync::MutexGuard<'static, Bc>> {
    static PEER: OnceLock<Option<Mutex<Bc>>> = OnceLock::new();
    let peer = PEER.get_or_init(|| {
        let classes = classes()?;
        let cp = format!("{}:{}", classes.display(), JARS.join(":"));
        let mut child = Command::new("java")
            .args(["-Xshare:auto", "-XX:+UseSerialGC", "-cp", &cp, "CmsCheck"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        Some(Mutex::new(Bc {
            jobs: child.stdin.take().unwrap(),
            answers: BufReader::new(child.stdout.take().unwrap()),
            _child: child,
        }))
    });
    peer.as_ref()
        .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
}

fn cert(path: &str) -> X509 {
    X509::from_pem(&std::fs::read(path).unwrap()).unwrap()
}

fn anchor(pki: &Pki) -> TrustContext {
    TrustContext {
        anchors: vec![cert(&pki.ca_file)],
        ..TrustContext::default()
    }
}

const DIGESTS: [(&str, &str, DigestAlgorithm); 4] = [
    ("sha1", "1.3.14.3.2.26", DigestAlgorithm::Sha1),
    ("sha256", "2.16.840.1.101.3.4.2.1", DigestAlgorithm::Sha256),
    ("sha384", "2.16.840.1.101.3.4.2.2", DigestAlgorithm::Sha384),
    ("sha512", "2.16.840.1.101.3.4.2.3", DigestAlgorithm::Sha512),
];

#[test]
fn bouncy_castle_verifies_every_form_sipsec_sign_makes() {
    let Some(mut bc) = bc() else { return };
    let pki = Pki::with_intermediate();
    let checked = every_signature_sipsec_sign_makes(&pki, |case| {
        let what = &case.what;
        let digest_oid = DIGESTS.iter().find(|d| d.0 == case.digest).unwrap().1;
        let content = case.content_file.as_deref().unwrap_or("-");
        let out = pki.dir.path().join("out").to_str().unwrap().to_string();
        let answer = bc
            .job(&["verify", &case.sig_file, content, &pki.ca_file, "-", &out])
            .unwrap_or_else(|e| panic!("{what}: Bouncy Castle refused: {e}"));
        let group = case.group;
        assert!(
            answer.contains(&format!("signer=CN={group},")),
            "{what}: {answer}"
        );
        assert!(answer.contains(&format!("digest={digest_oid} ")), "{what}");
        if case.detached.is_none() {
            let inside = std::fs::read(&out).unwrap();
            assert!(inside.ends_with(SDP.as_bytes()), "{what}");
        }
        // And a changed byte of what is signed is refused by the peer too.
        let refused = match &case.detached {
            Some(c) => {
                let mut c = c.clone();
                let n = c.len() - 3;
                c[n] ^= 1;
                let changed = pki.file("changed", &c);
                bc.job(&["verify", &case.sig_file, &changed, &pki.ca_file, "-", "-"])
            }
            None => {
                let mut d = case.der.clone();
                let at = common::find(&d, b"a=crypto", 0).unwrap();
                d[at] ^= 1;
                let changed = pki.file("changed.der", &d);
                bc.job(&["verify", &changed, "-", &pki.ca_file, "-", "-"])
            }
        };
        assert!(refused.is_err(), "{what}: tampered copy accepted");
    });
    assert_eq!(checked, 2 * 4 * 4 * 2);
}

/// What a Bouncy Castle signature must give on both of sipsec's verify paths.
fn sipsec_verifies(
    der: &[u8],
    detached: Option<&[u8]>,
    signer: &X509,
    intermediates: &[X509],
    with_certs: bool,
    trust: &TrustContext,
) -> Result<(DigestAlgorithm, bool), String> {
    let ctx = VerifyContext {
        extra_certs: if with_certs {
            vec![]
        } else {
            vec![signer.clone()]
        },
    };
    let full = verify(der, detached, &ctx).map_err(|e| e.to_string())?;
    assert_eq!(full.signer.to_der().unwrap(), signer.to_der().unwrap());
    // Without certificates in the CMS, the intermediates come from the store.
    let candidates = [&full.certificates[..], intermediates].concat();
    let verdict = check_trust(&full.signer, &candidates, trust).unwrap();
    if !verdict.is_trusted() {
        return Err(verdict.to_string());
    }
    let fast = CertCache::default().verify(der, detached);
    if let Some((v, _)) = &fast {
        assert_eq!(v.signer.to_der().unwrap(), signer.to_der().unwrap());
        assert_eq!(v.content, full.content);
        assert_eq!(v.digest, full.digest);
    }
    Ok((full.digest, fast.is_some()))
}

#[test]
fn sipsec_verifies_what_bouncy_castle_signs_der_and_ber() {
    let Some(mut bc) = bc() else { return };
    let pki = Pki::with_intermediate();
    let trust = anchor(&pki);
    let body = invite("agent-7@callcentre.example", "bob@example.net");
    let content = pki.file("content", &body);
    let mut checked = 0;
    for group in [RSA_GROUP, EC_GROUP] {
        let (cert_file, key_file) = pki.identity_files(group);
        let signer = cert(&cert_file);
        let chain_file = pki.store.join("identities").join(group).join("chain.pem");
        let chain_file = chain_file.to_str().unwrap();
        let intermediates = X509::stack_from_pem(&std::fs::read(chain_file).unwrap()).unwrap();
        for (digest, _, want) in DIGESTS {
            for mode in ["detached", "attached"] {
                for encoding in ["der", "ber"] {
                    for certs in ["certs", "nocerts"] {
                        for attrs in ["attrs", "noattrs"] {
                            let what =
                                format!("{group} {digest} {mode} {encoding} {certs} {attrs}");
                            let out = pki.dir.path().join("bc.p7").to_str().unwrap().to_string();
                            bc.job(&[
                                "sign", &content, &cert_file, &key_file, chain_file, digest, mode,
                                encoding, certs, attrs, &out,
                            ])
                            .unwrap_or_else(|e| panic!("{what}: {e}"));
                            let der = std::fs::read(&out).unwrap();
                            assert_eq!(der[1] == 0x80, encoding == "ber", "{what}");
                            let detached = (mode == "detached").then_some(body.as_slice());
                            let (got, fast) = sipsec_verifies(
                                &der,
                                detached,
                                &signer,
                                &intermediates,
                                certs == "certs",
                                &trust,
                            )
                            .unwrap_or_else(|e| panic!("{what}: sipsec refused: {e}"));
                            assert_eq!(got, want, "{what}");
                            // The fast path takes the common case only; the rest is OpenSSL's.
                            let common = encoding == "der" && certs == "certs" && attrs == "attrs";
                            assert_eq!(fast, common, "{what}");
                            if let Some(d) = detached {
                                let mut changed = d.to_vec();
                                changed[0] ^= 1;
                                let r = sipsec_verifies(
                                    &der,
                                    Some(&changed),
                                    &signer,
                                    &intermediates,
                                    certs == "certs",
                                    &trust,
                                );
                                assert!(r.is_err(), "{what}: changed content accepted");
                            }
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * 4 * 2 * 2 * 2 * 2);
}

/// sipsec-encrypt's cipher names and the OIDs Bouncy Castle reports for them.
const CIPHERS: [(&str, &str); 4] = [
    ("aes128", "2.16.840.1.101.3.4.1.2"),
    ("aes256", "2.16.840.1.101.3.4.1.42"),
    ("aes128gcm", "2.16.840.1.101.3.4.1.6"),
    ("des3", "1.2.840.113549.3.7"),
];

#[test]
fn bouncy_castle_opens_every_envelope_sipsec_encrypt_makes() {
    let Some(mut bc) = bc() else { return };
    let pki = Pki::with_intermediate();
    let mut checked = 0;
    for (to, paddings, key_alg) in [
        (BOB_RSA, &["oaep", "pkcs1"][..], None),
        // Key agreement: the padding option does not apply; ECDH with SHA-1 KDF and AES wrap.
        (BOB_EC, &["oaep"][..], Some("1.3.133.16.840.63.0.2")),
    ] {
        let (cert_file, key_file) = pki.identity_files(to);
        for (cipher, cipher_oid) in CIPHERS {
            for padding in paddings {
                for transfer in [None, Some("--base64")] {
                    let what = format!("{to} {cipher} {padding} {transfer:?}");
                    let mut args = vec!["--cipher", cipher, "--rsa-padding", padding];
                    args.extend(transfer);
                    let input = invite("agent-7@callcentre.example", to);
                    let r = run(ENCRYPT, &pki.store, &args, &input);
                    assert_eq!(r.code, 0, "{what}: {}", r.stderr);
                    let der = body_der(&parse(&r.stdout));
                    let env = pki.file("env.der", &der);
                    let out = pki.dir.path().join("plain").to_str().unwrap().to_string();
                    let answer = bc
                        .job(&["decrypt", &env, &cert_file, &key_file, &out])
                        .unwrap_or_else(|e| panic!("{what}: Bouncy Castle refused: {e}"));
                    assert!(answer.contains(&format!("cipher={cipher_oid} ")), "{what}");
                    let gcm = cipher.ends_with("gcm");
                    assert_eq!(answer.contains("type=auth-enveloped-data"), gcm, "{what}");
                    let want_key_alg = key_alg.unwrap_or(if *padding == "oaep" {
                        "1.2.840.113549.1.1.7"
                    } else {
                        "1.2.840.113549.1.1.1"
                    });
                    assert!(
                        answer.ends_with(&format!("keyalg={want_key_alg}")),
                        "{what}: {answer}"
                    );
                    let plain = std::fs::read(&out).unwrap();
                    assert!(plain.ends_with(SDP.as_bytes()), "{what}");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, (2 + 1) * 4 * 2);
}

#[test]
fn sipsec_opens_what_bouncy_castle_encrypts_der_and_ber() {
    let Some(mut bc) = bc() else { return };
    let pki = Pki::with_intermediate();
    let body = invite("agent-7@callcentre.example", BOB_RSA);
    let content = pki.file("content", &body);
    let ciphers = [
        ("aes128", ContentCipher::Aes128Cbc),
        ("aes192", ContentCipher::Aes192Cbc),
        ("aes256", ContentCipher::Aes256Cbc),
        ("aes128gcm", ContentCipher::Aes128Gcm),
        ("aes256gcm", ContentCipher::Aes256Gcm),
        ("des3", ContentCipher::DesEde3Cbc),
    ];
    let mut checked = 0;
    for (to, transports) in [(BOB_RSA, &["oaep", "pkcs1"][..]), (BOB_EC, &["ecdh"][..])] {
        let (cert_file, key_file) = pki.identity_files(to);
        let cert = cert(&cert_file);
        let key =
            openssl::pkey::PKey::private_key_from_pem(&std::fs::read(&key_file).unwrap()).unwrap();
        for (name, cipher) in ciphers.clone() {
            for transport in transports {
                // Bouncy Castle 1.72 streams (indefinite lengths) EnvelopedData only.
                let encodings: &[&str] = if cipher.is_aead() {
                    &["der"]
                } else {
                    &["der", "ber"]
                };
                for encoding in encodings {
                    let what = format!("{to} {name} {transport} {encoding}");
                    let out = pki.dir.path().join("bc.p7").to_str().unwrap().to_string();
                    bc.job(&[
                        "encrypt", &content, &cert_file, name, transport, encoding, &out,
                    ])
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                    let der = std::fs::read(&out).unwrap();
                    assert_eq!(der[1] == 0x80, *encoding == "ber", "{what}");
                    let opened = decrypt(&der, &key, &cert)
                        .unwrap_or_else(|e| panic!("{what}: sipsec refused: {e}"));
                    assert_eq!(opened.content, body, "{what}");
                    assert_eq!(opened.cipher, cipher, "{what}");
                    assert_eq!(
                        opened.content_type == CmsContentType::AuthEnvelopedData,
                        cipher.is_aead(),
                        "{what}"
                    );
                    // The fast path opens the common case (DER, OAEP, AES-CBC) and agrees;
                    // it hands everything else to OpenSSL before using the key.
                    if let Ok(rsa) = key.rsa() {
                        let recipient = RsaRecipient {
                            issuer: cert.issuer_name().to_der().unwrap(),
                            serial: cert.serial_number().to_bn().unwrap().to_vec(),
                            key: rsa,
                        };
                        let common = *encoding == "der"
                            && *transport == "oaep"
                            && name.starts_with("aes")
                            && !cipher.is_aead();
                        match fastenv::open(&der, std::slice::from_ref(&recipient)) {
                            Route::Opened(c, got, 0, _) => {
                                assert!(common, "{what}: fast path took an uncommon envelope");
                                assert_eq!((c, got), (body.clone(), cipher.clone()), "{what}");
                            }
                            Route::Full => assert!(!common, "{what}: fast path declined"),
                            _ => panic!("{what}: fast path failed where OpenSSL opened it"),
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    // RSA with two key transports and EC with one; four CBC ciphers twice, GCM once.
    assert_eq!(checked, 3 * (4 * 2 + 2));
}

/// Bouncy Castle's saved outputs (testdata/bc/, made by scripts/interop/bc-fixtures.sh): they
/// keep being checked where no JDK is installed, and they seed the differential fuzz targets.
#[test]
fn the_saved_bouncy_castle_outputs_verify_and_open() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/bc");
    let file = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let content = file("content.bin");
    let trust = TrustContext {
        anchors: vec![X509::from_pem(&file("root.pem")).unwrap()],
        ..TrustContext::default()
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".p7"))
        .collect();
    names.sort();
    for name in &names {
        let der = file(name);
        assert_eq!(der[1] == 0x80, name.contains("-ber"), "{name}");
        let key_name = if name.contains("-rsa-") {
            "rsa"
        } else {
            "p256"
        };
        let cert = X509::from_pem(&file(&format!("{key_name}.pem"))).unwrap();
        if name.starts_with("signed-") {
            let detached = name.contains("-detached").then_some(content.as_slice());
            let with_certs = !name.contains("nocerts");
            let (digest, fast) = sipsec_verifies(&der, detached, &cert, &[], with_certs, &trust)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(digest, DigestAlgorithm::Sha256, "{name}");
            assert_eq!(fast, !name.contains("-ber") && with_certs, "{name}");
        } else {
            let key = openssl::pkey::PKey::private_key_from_pem(&file(&format!("{key_name}.key")))
                .unwrap();
            let opened = decrypt(&der, &key, &cert).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(opened.content, content, "{name}");
            assert_eq!(opened.cipher.is_aead(), name.contains("gcm"), "{name}");
        }
    }
    assert_eq!(names.len(), 20);
}

/// Through the tool, not only the library: sipsec-verify takes Bouncy Castle's streamed (BER)
/// signature, as it takes gpgsm's, on OpenSSL's path.
#[test]
fn sipsec_verify_takes_a_streamed_bouncy_castle_signature() {
    let Some(mut bc) = bc() else { return };
    let pki = Pki::with_intermediate();
    let (cert_file, key_file) = pki.identity_files(RSA_GROUP);
    let chain = pki
        .store
        .join("identities")
        .join(RSA_GROUP)
        .join("chain.pem");
    let entity = format!("Content-Type: application/sdp\r\n\r\n{SDP}");
    let content = pki.file("entity", entity.as_bytes());
    let out = pki.dir.path().join("bc.p7").to_str().unwrap().to_string();
    let chain = chain.to_str().unwrap();
    let job = [
        "sign", &content, &cert_file, &key_file, chain, "sha256", "attached", "ber", "certs",
        "attrs", &out,
    ];
    bc.job(&job).unwrap();
    let ber = std::fs::read(&out).unwrap();
    assert_eq!(ber[1], 0x80);
    let mut message = format!(
        "MESSAGE sip:{BOB_RSA} SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.7;branch=z9hG4bKbc1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{RSA_GROUP}>;tag=b1\r\nTo: <sip:{BOB_RSA}>\r\n\
         Call-ID: bc-1@192.0.2.7\r\nCSeq: 1 MESSAGE\r\n\
         Content-Type: application/pkcs7-mime;smime-type=signed-data;name=smime.p7m\r\n\
         Content-Length: {}\r\n\r\n",
        ber.len()
    )
    .into_bytes();
    message.extend_from_slice(&ber);
    let report = pki.dir.path().join("report.json");
    let args = ["--report", report.to_str().unwrap(), "--unwrap"];
    let r = run(
        env!("CARGO_BIN_EXE_sipsec-verify"),
        &pki.store,
        &args,
        &message,
    );
    let record: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&report)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let verdict = &record["verdict"];
    for check in ["integrity", "trust"] {
        assert_eq!(
            verdict[check]["result"], "pass",
            "{check}: {verdict} {}",
            r.stderr
        );
    }
    assert!(r.stdout.ends_with(SDP.as_bytes()), "{}", r.stderr);
}
