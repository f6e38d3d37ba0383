//! sipsec-certgen as a process, checked with the openssl CLI. Tests that need `openssl` skip
//! when it is missing, and fail instead when SIPSEC_REQUIRE_PEERS=1.

use sipsec::store::x509::{self, KeyType, LeafProfile};
use sipsec::store::Store;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_sipsec-certgen");

fn certgen(store: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("run sipsec-certgen")
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit code 1 and a stderr naming `why`.
fn refused(o: Output, why: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(err.contains(why), "expected {why:?} in: {err}");
}

/// Exit code 3 (the store or its keys unusable) and a stderr naming `why`.
fn setup_failed(o: Output, why: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "stderr: {err}");
    assert!(err.contains(why), "expected {why:?} in: {err}");
}

/// Whether the openssl CLI can be used; panics when it is required and missing.
fn have_openssl() -> bool {
    let present = Command::new("openssl").arg("version").output().is_ok();
    if !present && std::env::var("SIPSEC_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("openssl CLI missing and SIPSEC_REQUIRE_PEERS=1");
    }
    present
}

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

struct Pki {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: PathBuf,
}

impl Pki {
    fn path(&self, rel: &str) -> PathBuf {
        self.store.join(rel)
    }
    fn work(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

/// A store with a root, an intermediate for callcentre.example and an RSA group certificate.
fn pki() -> Pki {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().to_path_buf();
    let store = root.join("store");
    ok(certgen(&store, &["init-ca", "--key-type", "p256"]));
    ok(certgen(
        &store,
        &[
            "init-intermediate",
            "--domain",
            "callcentre.example",
            "--key-type",
            "p256",
        ],
    ));
    ok(certgen(
        &store,
        &["issue", "sip:support@callcentre.example", "--im-pres"],
    ));
    Pki {
        _dir: dir,
        root,
        store,
    }
}

#[test]
fn issued_certificates_verify_and_carry_the_sip_profile() {
    if !have_openssl() {
        return;
    }
    let p = pki();
    ok(certgen(
        &p.store,
        &[
            "issue",
            "sip:callcentre.example",
            "--domain-cert",
            "--key-type",
            "p256",
        ],
    ));
    let root = p.path("root/cert.pem");
    let int = p.path("ca/cert.pem");
    for leaf in ["support@callcentre.example", "callcentre.example"] {
        let cert = p.path(&format!("identities/{leaf}/cert.pem"));
        let v = openssl(&[
            "verify",
            "-CAfile",
            s(&root),
            "-untrusted",
            s(&int),
            s(&cert),
        ]);
        assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
        let v = openssl(&[
            "verify",
            "-purpose",
            "smimesign",
            "-CAfile",
            s(&root),
            "-untrusted",
            s(&int),
            s(&cert),
        ]);
        assert!(v.status.success(), "S/MIME purpose: {v:?}");
    }
    let text = ok(openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        s(&p.path("identities/support@callcentre.example/cert.pem")),
    ]));
    for want in [
        "URI:sip:support@callcentre.example",
        "URI:im:support@callcentre.example",
        "URI:pres:support@callcentre.example",
        "CA:FALSE",
        "Digital Signature, Key Encipherment",
        "E-mail Protection",
    ] {
        assert!(text.contains(want), "missing {want} in {text}");
    }
    let text = ok(openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        s(&p.path("identities/callcentre.example/cert.pem")),
    ]));
    assert!(text.contains("1.3.6.1.5.5.7.3.20") && text.contains("Key Agreement"));
    assert!(text.contains("DNS:callcentre.example"));
    let root_text = ok(openssl(&["x509", "-noout", "-text", "-in", s(&root)]));
    assert!(root_text.contains("CA:TRUE") && root_text.contains("Certificate Sign, CRL Sign"));
    let int_text = ok(openssl(&["x509", "-noout", "-text", "-in", s(&int)]));
    assert!(int_text.contains("Permitted:") && int_text.contains("DNS:callcentre.example"));
    let json = ok(certgen(
        &p.store,
        &["show", "sip:support@callcentre.example", "--json"],
    ));
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    assert_eq!(v["san"][0], "URI:sip:support@callcentre.example");
}

#[test]
fn name_constraints_make_openssl_refuse_a_foreign_leaf() {
    if !have_openssl() {
        return;
    }
    let p = pki();
    // A stolen issuing key minting for another domain: built with the library, bypassing the
    // store's own domain check.
    let store = Store::open(&p.store).expect("open");
    let ca = store.issuing_ca().expect("ca").expect("present");
    let key = x509::generate_key(KeyType::P256).expect("key");
    let mut profile = LeafProfile::new(x509::parse_aor("sip:bank.example").expect("aor"), 5);
    profile.domain_cert = true;
    let leaf = x509::make_leaf(&profile, &key, Some((&ca.cert, &ca.key)), None).expect("leaf");
    let f = p.work("foreign.pem");
    fs::write(&f, leaf.to_pem().expect("pem")).expect("write");
    let v = openssl(&[
        "verify",
        "-CAfile",
        s(&p.path("root/cert.pem")),
        "-untrusted",
        s(&p.path("ca/cert.pem")),
        s(&f),
    ]);
    assert!(!v.status.success(), "openssl accepted a foreign leaf");
    let out = String::from_utf8_lossy(&v.stdout).to_string() + &String::from_utf8_lossy(&v.stderr);
    assert!(out.contains("permitted subtree violation"), "{out}");
    // And the tool itself refuses to issue it.
    refused(
        certgen(&p.store, &["issue", "sip:bank.example", "--domain-cert"]),
        "not one of this store's domains",
    );
}

#[test]
fn issue_refuses_a_configured_domain_the_ca_is_not_constrained_to() {
    let p = pki();
    ok(certgen(
        &p.store,
        &["config", "--add-domain", "evil.example"],
    ));
    refused(
        certgen(&p.store, &["issue", "sip:mallory@evil.example"]),
        "the issuing CA's name constraints do not allow it: sip:mallory@evil.example is outside \
         the permitted subtrees DNS:callcentre.example",
    );
    assert!(!p.path("identities/mallory@evil.example").exists());
}

#[test]
fn csr_round_trip_through_an_outside_ca() {
    if !have_openssl() {
        return;
    }
    let p = pki();
    let csr = p.work("bob.csr");
    ok(certgen(
        &p.store,
        &[
            "csr",
            "sip:bob@callcentre.example",
            "--key-type",
            "p256",
            "--out",
            s(&csr),
        ],
    ));
    let v = openssl(&["req", "-verify", "-noout", "-in", s(&csr)]);
    assert!(v.status.success(), "{v:?}");
    assert_eq!(
        fs::metadata(p.path("identities/bob@callcentre.example/key.pem"))
            .expect("key")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // The "outside CA" is a second store.
    let outside = p.work("outside");
    ok(certgen(
        &outside,
        &["init-ca", "--issuing", "--key-type", "p256"],
    ));
    let cert = p.work("bob.pem");
    ok(certgen(&outside, &["sign-csr", s(&csr), "--out", s(&cert)]));
    // A certificate for someone else's key is refused; the right one is imported.
    ok(certgen(
        &outside,
        &["issue", "sip:bob@callcentre.example", "--key-type", "p256"],
    ));
    let wrong = outside.join("identities/bob@callcentre.example/cert.pem");
    refused(
        certgen(&p.store, &["import-cert", s(&wrong)]),
        "does not match",
    );
    ok(certgen(&p.store, &["import-cert", s(&cert)]));
    let store = Store::open(&p.store).expect("open");
    let bob = x509::parse_aor("sip:bob@callcentre.example").expect("aor");
    assert!(store.identity(&bob).expect("read").is_some());
    // A tampered CSR is refused by sign-csr.
    let pem = fs::read_to_string(&csr).expect("csr");
    let der = openssl(&["req", "-in", s(&csr), "-outform", "DER"]).stdout;
    assert!(!pem.is_empty() && !der.is_empty());
    let mut bad = der.clone();
    if let Some(b) = bad.last_mut() {
        *b ^= 1;
    }
    let bad_der = p.work("bad.der");
    fs::write(&bad_der, &bad).expect("write");
    let bad_pem = p.work("bad.csr");
    ok(openssl(&[
        "req",
        "-inform",
        "DER",
        "-in",
        s(&bad_der),
        "-out",
        s(&bad_pem),
    ]));
    refused(
        certgen(&outside, &["sign-csr", s(&bad_pem)]),
        "signature does not verify",
    );
}

#[test]
fn pkcs12_exports_open_in_openssl_and_wrong_passphrases_are_refused() {
    if !have_openssl() {
        return;
    }
    let p = pki();
    let pass = p.work("pass");
    fs::write(&pass, "correct horse\n").expect("write");
    let wrong = p.work("wrong");
    fs::write(&wrong, "battery staple\n").expect("write");
    for legacy in [false, true] {
        let out = p.work(if legacy { "legacy.p12" } else { "modern.p12" });
        let mut args = vec![
            "export-p12",
            "sip:support@callcentre.example",
            "--out",
            s(&out),
            "--p12-pass-file",
            s(&pass),
        ];
        if legacy {
            args.push("--legacy");
        }
        ok(certgen(&p.store, &args));
        let passin = format!("file:{}", s(&pass));
        let info = openssl(&[
            "pkcs12",
            "-info",
            "-noout",
            "-in",
            s(&out),
            "-passin",
            &passin,
        ]);
        assert!(info.status.success(), "{info:?}");
        let algs = String::from_utf8_lossy(&info.stderr);
        if !legacy {
            assert!(algs.contains("AES-256-CBC"), "{algs}");
        }
        let bad = format!("file:{}", s(&wrong));
        let info = openssl(&["pkcs12", "-info", "-noout", "-in", s(&out), "-passin", &bad]);
        assert!(!info.status.success());
        // Import into a fresh store: wrong passphrase refused, right one accepted.
        let fresh = p.work(if legacy { "fresh-legacy" } else { "fresh" });
        ok(certgen(&fresh, &["init-ca", "--key-type", "p256"]));
        refused(
            certgen(
                &fresh,
                &["import-p12", s(&out), "--p12-pass-file", s(&wrong)],
            ),
            "wrong PKCS#12 passphrase",
        );
        ok(certgen(
            &fresh,
            &["import-p12", s(&out), "--p12-pass-file", s(&pass)],
        ));
    }
}

#[test]
fn a_certificate_made_by_openssl_req_is_importable_and_usable() {
    if !have_openssl() {
        return;
    }
    let p = pki();
    let key = p.work("alice.key");
    let cert = p.work("alice.pem");
    ok(openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        s(&key),
        "-out",
        s(&cert),
        "-subj",
        "/CN=alice",
        "-days",
        "5",
        "-addext",
        "subjectAltName=URI:sip:alice@example.org",
    ]));
    ok(certgen(
        &p.store,
        &["import-cert", s(&cert), "--key", s(&key)],
    ));
    let store = Store::open(&p.store).expect("open");
    let alice = x509::parse_aor("sip:alice@example.org").expect("aor");
    let id = store.signing_identity(&alice).expect("usable identity");
    assert_eq!(
        id.cert.to_pem().expect("pem"),
        fs::read(&cert).expect("read")
    );
    // The same certificate under a URI it does not name is refused.
    refused(
        certgen(
            &p.store,
            &[
                "import-cert",
                s(&cert),
                "--key",
                s(&key),
                "--uri",
                "sip:mallory@example.org",
            ],
        ),
        "does not name",
    );
}

#[test]
fn rfc6216_pki_imports_and_is_found_by_aor() {
    let p = pki();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rfc6216/pem");
    let f = |n: &str| dir.join(n);
    ok(certgen(
        &p.store,
        &["anchor", "add", s(&f("02-cert-sipit-test-ca.pem"))],
    ));
    for (cert, key) in [
        (
            "03-eku-cert-fluffy-s-user-certificate-for-example-com.pem",
            "04-eku-key-fluffy-s-private-key-for-user-certificate-for-example-com.pem",
        ),
        (
            "05-eku-cert-kumiko-s-user-certificate-for-example-net.pem",
            "06-eku-key-kumiko-s-private-key-for-user-certificate-for-example-net.pem",
        ),
    ] {
        ok(certgen(
            &p.store,
            &["import-cert", s(&f(cert)), "--key", s(&f(key))],
        ));
    }
    // fluffy's key does not match kumiko's certificate.
    refused(
        certgen(
            &p.store,
            &[
                "import-cert",
                s(&f(
                    "05-eku-cert-kumiko-s-user-certificate-for-example-net.pem",
                )),
                "--key",
                s(&f(
                    "04-eku-key-fluffy-s-private-key-for-user-certificate-for-example-com.pem",
                )),
            ],
        ),
        "does not match",
    );
    let store = Store::open(&p.store).expect("open");
    for who in ["fluffy@example.com", "kumiko@example.net"] {
        let aor = x509::parse_aor(who).expect("aor");
        let id = store.signing_identity(&aor).expect("found");
        assert!(x509::cert_aors(&id.cert).contains(&aor));
        assert_eq!(store.recipient_cert(&aor), Some(id.cert.clone()));
        let issuer = store
            .trust_anchors()
            .into_iter()
            .find(|a| a.subject_name().to_der().ok() == id.cert.issuer_name().to_der().ok())
            .expect("anchor for it");
        assert!(id
            .cert
            .verify(&issuer.public_key().expect("pk"))
            .expect("verify"));
        let found = store
            .find_by_issuer_serial(id.cert.issuer_name(), id.cert.serial_number())
            .expect("by issuer and serial");
        assert_eq!(found, id.cert);
    }
}

#[test]
fn revoked_certificates_fail_openssl_crl_check() {
    if !have_openssl() {
        return;
    }
    let p = pki();
    let cert = p.path("identities/support@callcentre.example/cert.pem");
    let root = p.path("root/cert.pem");
    let int = p.path("ca/cert.pem");
    ok(certgen(&p.store, &["crl"]));
    let crl = p.path("crl/issuing-ca.pem");
    let check = || {
        openssl(&[
            "verify",
            "-crl_check",
            "-CAfile",
            s(&root),
            "-untrusted",
            s(&int),
            "-CRLfile",
            s(&crl),
            s(&cert),
        ])
    };
    assert!(check().status.success(), "{:?}", check());
    ok(certgen(
        &p.store,
        &["revoke", "sip:support@callcentre.example"],
    ));
    let v = check();
    assert!(!v.status.success());
    let out = String::from_utf8_lossy(&v.stdout).to_string() + &String::from_utf8_lossy(&v.stderr);
    assert!(out.contains("certificate revoked"), "{out}");
    // Rotation gives the group a new, valid certificate.
    ok(certgen(
        &p.store,
        &[
            "rotate",
            "sip:support@callcentre.example",
            "--key-type",
            "p256",
        ],
    ));
    assert!(check().status.success());
}

#[test]
fn unsafe_key_permissions_are_refused() {
    let p = pki();
    let key = p.path("identities/support@callcentre.example/key.pem");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod");
    setup_failed(certgen(&p.store, &["list"]), "unsafe permissions");
}

#[test]
fn bad_uris_and_usage_errors_have_their_exit_codes() {
    let p = pki();
    refused(
        certgen(&p.store, &["issue", "sip:@"]),
        "not a usable SIP URI",
    );
    let o = certgen(&p.store, &["issue"]);
    assert_eq!(o.status.code(), Some(2));
    let o = certgen(&p.store, &["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn two_processes_issuing_the_same_certificate_leave_one_intact() {
    let p = pki();
    let spawn = || {
        Command::new(BIN)
            .arg("--store")
            .arg(&p.store)
            .args(["issue", "sip:race@callcentre.example"])
            .output()
    };
    let (a, b) = std::thread::scope(|sc| {
        let a = sc.spawn(spawn);
        let b = sc.spawn(spawn);
        (a.join().expect("a"), b.join().expect("b"))
    });
    let (a, b) = (a.expect("run a"), b.expect("run b"));
    assert_eq!(
        [a.status.success(), b.status.success()]
            .iter()
            .filter(|x| **x)
            .count(),
        1,
        "exactly one wins: {a:?} {b:?}"
    );
    let store = Store::open(&p.store).expect("open");
    let race = x509::parse_aor("sip:race@callcentre.example").expect("aor");
    // Loading checks that key and certificate belong together.
    assert!(store.identity(&race).expect("consistent").is_some());
}

#[test]
fn groups_are_defined_and_listed() {
    let p = pki();
    ok(certgen(
        &p.store,
        &[
            "group",
            "add",
            "sip:support@callcentre.example",
            "sip:agent-*@callcentre.example",
        ],
    ));
    let out = ok(certgen(&p.store, &["group", "list"]));
    assert!(out.contains("sip:support@callcentre.example\tsip:agent-*@callcentre.example"));
    let store = Store::open(&p.store).expect("open");
    let agent = x509::parse_aor("sip:agent-12@callcentre.example").expect("aor");
    let id = store.signing_identity(&agent).expect("group identity");
    assert_eq!(id.aor.to_string(), "support@callcentre.example");
    let list = ok(certgen(&p.store, &["list", "--json"]));
    for line in list.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("each line is JSON");
    }
    assert!(list.contains("\"kind\":\"group\""));
}
