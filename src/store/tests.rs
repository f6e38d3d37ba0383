use super::policy::StoreConfig;
use super::*;
use std::os::unix::fs::PermissionsExt;

fn aor(s: &str) -> Aor {
    x509::parse_aor(s).expect("aor")
}

/// A store with an issuing CA (P-256 for speed) for callcentre.example, on-demand on, and the
/// support group.
fn call_centre() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("store");
    let mut s = Store::create(&path).expect("create");
    s.init_root("Test Root", KeyType::P256, 30, false)
        .expect("root");
    s.init_intermediate(
        "Test Issuing",
        KeyType::P256,
        20,
        &["callcentre.example".into()],
        false,
    )
    .expect("intermediate");
    let cfg = StoreConfig {
        on_demand: true,
        key_type: KeyType::P256,
        ..s.config().clone()
    };
    s.set_config(&cfg).expect("config");
    s.add_group_member(
        aor("sip:support@callcentre.example"),
        MemberPattern::parse("sip:agent-*@callcentre.example").expect("pattern"),
    )
    .expect("group");
    (dir, s)
}

#[test]
fn on_demand_serves_a_member_of_a_group_and_leaves_p12_csr_and_log() {
    let (_d, s) = call_centre();
    let group = aor("sip:support@callcentre.example");
    let agent = aor("sip:agent-7@callcentre.example");
    assert!(matches!(
        s.signing_identity(&agent),
        Err(StoreError::NoIdentity(_))
    ));
    let id = s.ensure_identity(&group, Some(&agent)).expect("on demand");
    assert!(x509::cert_aors(&id.cert).contains(&group));
    let again = s.signing_identity(&agent).expect("member maps to group");
    assert_eq!(again.cert, id.cert);
    let dir = s.path().join("identities/support@callcentre.example");
    assert!(dir.join("cert.p12").exists() && dir.join("csr.pem").exists());
    let log = fs::read_to_string(s.path().join("issued.log")).expect("log");
    assert_eq!(log.lines().count(), 1);
    assert!(log.contains("sip:support@callcentre.example") && log.contains("agent-7"));
    // The CA's chain comes with it and the leaf verifies under the CA.
    let ca = s.issuing_ca().expect("ca").expect("present");
    assert!(id.cert.verify(&ca.key).expect("verify"));
    assert_eq!(s.recipient_cert(&agent), Some(id.cert));
}

#[test]
fn on_demand_for_a_foreign_domain_is_refused() {
    let (_d, s) = call_centre();
    let agent = aor("sip:agent-7@callcentre.example");
    let e = s.ensure_identity(&aor("sip:alice@bank.example"), Some(&agent));
    assert!(
        matches!(e, Err(StoreError::OnDemandRefused { .. })),
        "{e:?}"
    );
    assert!(!s.path().join("identities/alice@bank.example").exists());
}

#[test]
fn on_demand_without_attribution_or_for_a_non_member_is_refused() {
    let (_d, s) = call_centre();
    let group = aor("sip:support@callcentre.example");
    let e = s.ensure_identity(&group, None);
    assert!(
        matches!(e, Err(StoreError::OnDemandRefused { .. })),
        "{e:?}"
    );
    let outsider = aor("sip:visitor@callcentre.example");
    let e = s.ensure_identity(&group, Some(&outsider));
    assert!(
        matches!(e, Err(StoreError::OnDemandRefused { .. })),
        "{e:?}"
    );
    let foreign = aor("sip:eve@evil.example");
    let e = s.ensure_identity(&aor("sip:bob@callcentre.example"), Some(&foreign));
    assert!(
        matches!(e, Err(StoreError::OnDemandRefused { .. })),
        "{e:?}"
    );
}

#[test]
fn on_demand_is_refused_when_switched_off() {
    let (_d, mut s) = call_centre();
    let cfg = StoreConfig {
        on_demand: false,
        ..s.config().clone()
    };
    s.set_config(&cfg).expect("config");
    let agent = aor("sip:agent-1@callcentre.example");
    let e = s.ensure_identity(&aor("sip:bob@callcentre.example"), Some(&agent));
    assert!(
        matches!(e, Err(StoreError::OnDemandRefused { .. })),
        "{e:?}"
    );
}

#[test]
fn issuing_for_a_foreign_domain_under_the_ca_is_refused() {
    let (_d, s) = call_centre();
    let p = LeafProfile::new(aor("sip:alice@bank.example"), 5);
    let e = s.issue(&p, KeyType::P256, false, false);
    assert!(matches!(e, Err(StoreError::Refused(_))), "{e:?}");
}

#[test]
fn a_configured_domain_outside_the_cas_name_constraints_is_never_issued() {
    let (_d, mut s) = call_centre();
    // The domain list is configuration; the CA was constrained to callcentre.example only.
    let mut cfg = s.config().clone();
    cfg.domains.push("evil.example".into());
    s.set_config(&cfg).expect("config");
    let mallory = aor("sip:mallory@evil.example");
    let p = LeafProfile::new(mallory.clone(), 5);
    let e = s.issue(&p, KeyType::P256, false, false);
    assert!(
        matches!(&e, Err(StoreError::NameConstraints(v)) if v.to_string().contains("evil.example")),
        "{e:?}"
    );
    assert!(s.identity(&mallory).expect("read").is_none());
    let k = x509::generate_key(KeyType::P256).expect("key");
    let csr = x509::make_csr(&p, &k).expect("csr");
    let e = s.sign_csr(&csr, &p);
    assert!(matches!(e, Err(StoreError::NameConstraints(_))), "{e:?}");
    // Inside the constraints both still work.
    let bob = LeafProfile::new(aor("sip:bob@callcentre.example"), 5);
    assert!(s.issue(&bob, KeyType::P256, false, false).is_ok());
    let csr = x509::make_csr(&bob, &k).expect("csr");
    assert!(s.sign_csr(&csr, &bob).is_ok());
}

#[test]
fn learning_never_replaces_an_own_identity() {
    let (_d, s) = call_centre();
    let group = aor("sip:support@callcentre.example");
    let bob = aor("sip:bob@callcentre.example");
    let own = s
        .issue(
            &LeafProfile::new(bob.clone(), 5),
            KeyType::P256,
            false,
            false,
        )
        .expect("issue");
    let k = x509::generate_key(KeyType::P256).expect("key");
    let forged =
        x509::make_leaf(&LeafProfile::new(bob.clone(), 5), &k, None, Some(&k)).expect("forged");
    let e = s.learn_cert(&bob, &forged);
    assert!(matches!(e, Err(StoreError::OwnIdentity(_))), "{e:?}");
    assert_eq!(s.recipient_cert(&bob), Some(own.cert));
    let forged_group =
        x509::make_leaf(&LeafProfile::new(group.clone(), 5), &k, None, Some(&k)).expect("forged");
    assert!(matches!(
        s.learn_cert(&group, &forged_group),
        Err(StoreError::OwnIdentity(_))
    ));
    // A peer's certificate is learned, and only under the name it carries.
    let carol = aor("sip:carol@peer.example");
    let theirs =
        x509::make_leaf(&LeafProfile::new(carol.clone(), 5), &k, None, Some(&k)).expect("peer");
    assert!(matches!(
        s.learn_cert(&aor("sip:dave@peer.example"), &theirs),
        Err(StoreError::NameMismatch { .. })
    ));
    s.learn_cert(&carol, &theirs).expect("learn");
    assert_eq!(s.recipient_cert(&carol), Some(theirs));
}

#[test]
fn a_key_readable_by_others_makes_the_store_refuse_to_open() {
    let (_d, s) = call_centre();
    let bob = aor("sip:bob@callcentre.example");
    s.issue(
        &LeafProfile::new(bob.clone(), 5),
        KeyType::P256,
        false,
        false,
    )
    .expect("issue");
    let key = s.path().join("identities/bob@callcentre.example/key.pem");
    assert_eq!(
        fs::metadata(&key).expect("meta").permissions().mode() & 0o777,
        0o600
    );
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).expect("chmod");
    let e = Store::open(s.path());
    assert!(
        matches!(e, Err(StoreError::UnsafePermissions { .. })),
        "{:?}",
        e.err()
    );
    // Also refused on lookup by a store opened earlier.
    let e = s.identity(&bob);
    assert!(
        matches!(e, Err(StoreError::UnsafePermissions { .. })),
        "{e:?}"
    );
}

#[test]
fn a_world_writable_store_directory_is_refused() {
    let (_d, s) = call_centre();
    fs::set_permissions(s.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
    let e = Store::open(s.path());
    assert!(
        matches!(e, Err(StoreError::UnsafePermissions { .. })),
        "{:?}",
        e.err()
    );
}

#[test]
fn every_directory_and_file_of_the_store_is_checked_and_new_directories_are_private() {
    use std::os::unix::fs::MetadataExt;
    let (_d, s) = call_centre();
    for dir in fsio::list_dir(&s.path().join("identities")).expect("list") {
        assert_eq!(
            fs::metadata(&dir).expect("meta").mode() & 0o777,
            0o700,
            "{dir:?}"
        );
    }
    for (path, mode) in [
        (s.path().join("anchors"), 0o777),
        (s.path().join("config"), 0o666),
    ] {
        let before = fs::metadata(&path).expect("meta").mode() & 0o777;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        let e = Store::open(s.path());
        assert!(
            matches!(&e, Err(StoreError::UnsafePermissions { path: p, .. }) if *p == path),
            "{:?}",
            e.err()
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(before)).expect("chmod");
    }
    assert!(Store::open(s.path()).is_ok());
    if fsio::effective_uid() == 0 {
        let crl = s.path().join("crl");
        std::os::unix::fs::chown(&crl, Some(65534), None).expect("chown");
        let e = Store::open(s.path());
        assert!(
            matches!(e, Err(StoreError::ForeignOwner { owner: 65534, .. })),
            "{:?}",
            e.err()
        );
    }
}

#[test]
fn two_writers_creating_the_same_certificate_keep_one() {
    let (_d, s) = call_centre();
    let path = s.path().to_path_buf();
    let group = aor("sip:support@callcentre.example");
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let path = path.clone();
            let group = group.clone();
            std::thread::spawn(move || {
                let store = Store::open(&path).expect("open");
                let agent = aor(&format!("sip:agent-{i}@callcentre.example"));
                store.ensure_identity(&group, Some(&agent)).expect("made")
            })
        })
        .collect();
    let ids: Vec<Identity> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let on_disk = s.identity(&group).expect("read").expect("present");
    for id in &ids {
        assert_eq!(
            id.cert, on_disk.cert,
            "every caller got the kept certificate"
        );
    }
    let log = fs::read_to_string(path.join("issued.log")).expect("log");
    assert_eq!(log.lines().count(), 1);
}

#[test]
fn reload_sees_another_writers_group() {
    let (_d, mut s) = call_centre();
    assert!(!s.reload_if_changed().expect("reload"));
    let mut other = Store::open(s.path()).expect("open");
    std::thread::sleep(std::time::Duration::from_millis(20));
    other
        .add_group_member(
            aor("sip:sales@callcentre.example"),
            MemberPattern::parse("sip:rep-*@callcentre.example").expect("pattern"),
        )
        .expect("add");
    let rep = aor("sip:rep-1@callcentre.example");
    assert_eq!(s.groups().group_of(&rep), None);
    assert!(s.reload_if_changed().expect("reload"));
    assert_eq!(
        s.groups().group_of(&rep),
        Some(&aor("sales@callcentre.example"))
    );
}

#[test]
fn rotation_keeps_the_old_certificate_findable() {
    let (_d, s) = call_centre();
    let bob = aor("sip:bob@callcentre.example");
    let p = LeafProfile::new(bob.clone(), 5);
    let old = s.issue(&p, KeyType::P256, false, false).expect("issue");
    let new = s.rotate(&p, KeyType::P256).expect("rotate");
    assert_ne!(old.cert, new.cert);
    assert_eq!(s.recipient_cert(&bob), Some(new.cert.clone()));
    let found = s
        .find_by_issuer_serial(old.cert.issuer_name(), old.cert.serial_number())
        .expect("old one kept");
    assert_eq!(found, old.cert);
}

#[test]
fn encrypted_keys_need_their_passphrase() {
    let dir = tempfile::tempdir().expect("tmp");
    let pass_file = dir.path().join("pass");
    fs::write(&pass_file, "s3cret\n").expect("write");
    let path = dir.path().join("store");
    let s = Store::create(&path)
        .expect("create")
        .with_passphrase(Some(&PassSource::File(pass_file)))
        .expect("pass");
    let bob = aor("sip:bob@example.org");
    s.issue(
        &LeafProfile::new(bob.clone(), 5),
        KeyType::P256,
        false,
        false,
    )
    .expect("issue");
    let key = fs::read_to_string(path.join("identities/bob@example.org/key.pem")).expect("key");
    assert!(key.contains("ENCRYPTED PRIVATE KEY"));
    assert!(s.identity(&bob).expect("read").is_some());
    let plain = Store::open(&path).expect("open");
    assert!(matches!(
        plain.identity(&bob),
        Err(StoreError::Passphrase(_))
    ));
}

#[test]
fn aor_directory_names_cannot_escape_the_store() {
    let a = aor("sip:../../etc@x.example");
    let n = aor_dir_name(&a);
    assert!(!n.contains('/') && !n.starts_with('.'), "{n}");
    assert_eq!(decode_dir_name(&n), Some(a));
}
