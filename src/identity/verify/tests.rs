use super::*;
use crate::crypto::testkit::{now, Ca, KeyKind};
use crate::identity::jws::to_der;
use crate::identity::sign::{iat_of, origid_for, Assertion, Form, StiSigner};
use crate::identity::testkit::{sti, sti_cert, Sti, X5U};
use crate::smime::build::format_date;
use std::sync::Arc;

/// Credentials by URI, as a cache would hold them.
struct Map(HashMap<String, Arc<Credential>>);

impl CredentialSource for Map {
    fn credential(&self, x5u: &str, _now: i64) -> Result<Arc<Credential>, CredentialError> {
        self.0
            .get(x5u)
            .cloned()
            .ok_or_else(|| CredentialError::Unavailable {
                x5u: x5u.into(),
                detail: "not in the test map".into(),
            })
    }
}

fn verifier(kit: &Sti) -> StiVerifier<Map> {
    verifier_with(kit, &kit.cert, vec![kit.ca.cert.clone()])
}

fn verifier_with(_kit: &Sti, cert: &X509, anchors: Vec<X509>) -> StiVerifier<Map> {
    let c = Credential::new(X5U, cert.clone(), vec![]).unwrap();
    StiVerifier::new(
        StiPolicy {
            anchors,
            freshness: 60,
        },
        Map(HashMap::from([(X5U.to_string(), Arc::new(c))])),
    )
}

const ORIG: &str = "12155550121";
const DEST: &str = "12155550131";

fn invite(from: &str, to: &str, ruri: &str, date: Option<i64>, identities: &[&str]) -> Message {
    let mut text = format!(
        "INVITE sip:+{ruri}@b.example;user=phone SIP/2.0\r\n\
         Via: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\n\
         From: <sip:+{from}@a.example;user=phone>;tag=1\r\n\
         To: <tel:+{to}>\r\n\
         Call-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
    );
    if let Some(d) = date {
        text.push_str(&format!("Date: {}\r\n", format_date(d)));
    }
    for i in identities {
        text.push_str(&format!("Identity: {i}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    Message::parse(text).unwrap()
}

fn shaken(attest: Attestation) -> Assertion {
    Assertion::Shaken {
        attest,
        origid: origid_for("sip:agent1@callcentre.example"),
    }
}

/// The Identity value the signer makes for a call from ORIG to DEST at `t`.
fn signed(kit: &Sti, assertion: &Assertion, form: Form, t: i64) -> String {
    let msg = invite(ORIG, DEST, DEST, Some(t), &[]);
    let parties = CallParties::of(&msg).unwrap();
    let iat = iat_of(&parties, t, 60).unwrap();
    let p = kit.signer.passport(&parties, assertion, iat).unwrap();
    kit.signer.identity(&p, form).unwrap()
}

/// A kit covering ORIG, the time, its verifier and a full SHAKEN Identity value made now.
fn fixture(attest: Attestation) -> (Sti, i64, StiVerifier<Map>, String) {
    let kit = sti(&[ORIG]);
    let t = now();
    let verifier = verifier(&kit);
    let value = signed(&kit, &shaken(attest), Form::Full, t);
    (kit, t, verifier, value)
}

/// A token for any passport, signed with the kit's key (what a forger with the key makes).
fn forge(kit: &Sti, p: &Passport) -> String {
    let input = p.signing_input();
    let sig = jws::sign(input.as_bytes(), &kit.key.ec_key().unwrap()).unwrap();
    format!(
        "{input}.{};info=<{}>;alg=ES256;ppt=shaken",
        b64url::encode(&sig),
        p.header.x5u
    )
}

fn passport_of(value: &str) -> Passport {
    let h = IdentityHeader::parse(value).unwrap();
    let Token::Full { header, claims, .. } = h.token else {
        panic!("compact")
    };
    Passport::from_json(
        &b64url::decode(header.as_bytes()).unwrap(),
        &b64url::decode(claims.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn only(v: &StirVerdict) -> &HeaderOutcome {
    assert_eq!(v.headers.len(), 1, "{v:?}");
    &v.headers[0].outcome
}

fn failure(v: &StirVerdict) -> (&Failure, u16) {
    match only(v) {
        HeaderOutcome::Failed(f) => (f, f.response().code()),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_full_shaken_passport_verifies_with_its_attestation() {
    let kit = sti(&["12155550100+100"]);
    let t = now();
    let value = signed(&kit, &shaken(Attestation::A), Form::Full, t);
    let v = verifier(&kit).verify(&invite(ORIG, DEST, DEST, Some(t), &[&value]), t);
    match only(&v) {
        HeaderOutcome::Valid(ok) => {
            assert_eq!(ok.attest, Some(Attestation::A));
            assert_eq!(ok.coverage, "range");
            assert_eq!(ok.orig, Party::Tn(ORIG.into()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        v.outcome(),
        StirOutcome::Verified {
            orig: Party::Tn(ORIG.into()),
            attest: Some(Attestation::A),
            diverted: false
        }
    );
    assert!(v.reasons().is_empty());
}

#[test]
fn a_compact_baseline_passport_is_rebuilt_from_the_request() {
    let kit = sti(&[ORIG]);
    let t = now();
    let value = signed(&kit, &Assertion::Baseline, Form::Compact, t);
    let verifier = verifier(&kit);
    let v = verifier.verify(&invite(ORIG, DEST, DEST, Some(t), &[&value]), t);
    assert!(
        matches!(only(&v), HeaderOutcome::Valid(ok) if ok.attest.is_none()),
        "{v:?}"
    );
    // The same signature on a request to someone else: the rebuilt PASSporT differs.
    let v = verifier.verify(
        &invite(ORIG, "12155550132", "12155550132", Some(t), &[&value]),
        t,
    );
    let (f, code) = failure(&v);
    assert_eq!(
        (f, code),
        (&Failure::Signature(JwsError::BadSignature), 438)
    );
    // Another Date (a transit network rewrote it) breaks it too.
    let v = verifier.verify(&invite(ORIG, DEST, DEST, Some(t - 1), &[&value]), t);
    assert_eq!(failure(&v).1, 438);
    // Without a Date there is nothing to rebuild iat from.
    let v = verifier.verify(&invite(ORIG, DEST, DEST, None, &[&value]), t);
    assert_eq!(failure(&v), (&Failure::CompactWithoutDate, 438));
}

#[test]
fn a_changed_claim_or_signature_is_438() {
    let (_, t, verifier, value) = fixture(Attestation::B);
    // Upgrading the attestation, re-encoding the claims, keeping the signature.
    let mut p = passport_of(&value);
    p.claims.attest = Some(Attestation::A);
    let sig = value.split(';').next().unwrap().rsplit('.').next().unwrap();
    let changed = format!(
        "{}.{sig};info=<{X5U}>;alg=ES256;ppt=shaken",
        p.signing_input()
    );
    let v = verifier.verify(&invite(ORIG, DEST, DEST, Some(t), &[&changed]), t);
    assert_eq!(
        failure(&v),
        (&Failure::Signature(JwsError::BadSignature), 438)
    );
    // One character of the signature changed.
    let mut bytes = value.clone().into_bytes();
    let pos = value.find(';').unwrap() - 3;
    bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(bytes).unwrap();
    let v = verifier.verify(&invite(ORIG, DEST, DEST, Some(t), &[&flipped]), t);
    assert_eq!(failure(&v).1, 438);
    assert_eq!(v.reasons().len(), 1);
    assert!(v.reasons()[0].starts_with("STIR;cause=438;text=\"Invalid Identity Header\";ppi=\".."));
}

#[test]
fn a_der_encoded_signature_is_438_and_named() {
    let (_, t, verifier, value) = fixture(Attestation::A);
    let (token, params) = value.split_once(';').unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let raw: [u8; 64] = b64url::decode(sig.as_bytes()).unwrap().try_into().unwrap();
    let der = format!("{input}.{};{params}", b64url::encode(&to_der(&raw)));
    let v = verifier.verify(&invite(ORIG, DEST, DEST, Some(t), &[&der]), t);
    assert_eq!(
        failure(&v),
        (&Failure::Signature(JwsError::DerEncoded), 438)
    );
}

#[test]
fn wrong_orig_and_dest_are_438() {
    let kit = sti(&[ORIG, "12155550122"]);
    let t = now();
    let verifier = verifier(&kit);
    let value = signed(&kit, &shaken(Attestation::A), Form::Full, t);
    // A token lifted onto a call from another number of the same carrier.
    let v = verifier.verify(&invite("12155550122", DEST, DEST, Some(t), &[&value]), t);
    assert!(
        matches!(failure(&v), (Failure::WrongOrig { .. }, 438)),
        "{v:?}"
    );
    let v = verifier.verify(&invite(ORIG, "12155550132", DEST, Some(t), &[&value]), t);
    assert!(
        matches!(failure(&v), (Failure::WrongDest { .. }, 438)),
        "{v:?}"
    );
}

#[test]
fn an_orig_outside_the_tn_auth_list_is_438() {
    let kit = sti(&["12155550100+10"]);
    let t = now();
    let mut p = passport_of(&signed(
        &sti(&[ORIG]),
        &shaken(Attestation::A),
        Form::Full,
        t,
    ));
    p.header.x5u = X5U.into();
    let value = forge(&kit, &p);
    let v = verifier(&kit).verify(&invite(ORIG, DEST, DEST, Some(t), &[&value]), t);
    assert!(
        matches!(failure(&v), (Failure::NotCovered { party }, 438) if *party == Party::Tn(ORIG.into())),
        "{v:?}"
    );
}

#[test]
fn a_stale_iat_or_date_is_403() {
    let kit = sti(&[ORIG]);
    let t = now();
    let verifier = verifier(&kit);
    let old = signed(&kit, &shaken(Attestation::A), Form::Full, t - 120);
    let v = verifier.verify(&invite(ORIG, DEST, DEST, Some(t), &[&old]), t);
    assert!(
        matches!(failure(&v), (Failure::Stale { what: "iat", .. }, 403)),
        "{v:?}"
    );
    // A replay with its old Date.
    let v = verifier.verify(&invite(ORIG, DEST, DEST, Some(t - 120), &[&old]), t);
    assert_eq!(failure(&v).1, 403);
    // A token from the future.
    let future = signed(&kit, &shaken(Attestation::A), Form::Full, t + 120);
    let v = verifier.verify(&invite(ORIG, DEST, DEST, None, &[&future]), t);
    assert_eq!(failure(&v).1, 403);
    assert!(v.reasons()[0].contains("cause=403;text=\"Stale Date\""));
}

#[test]
fn untrusted_expired_and_listless_certificates_are_437() {
    let (kit, t, _, value) = fixture(Attestation::A);
    let msg = invite(ORIG, DEST, DEST, Some(t), &[&value]);
    let stranger = Ca::new(KeyKind::P256);
    let v = verifier_with(&kit, &kit.cert, vec![stranger.cert]).verify(&msg, t);
    assert!(matches!(failure(&v), (Failure::Untrusted(_), 437)), "{v:?}");

    // An expired certificate with the same key would need the CA's signature anew: make one
    // and sign with its key.
    let (expired, key) = sti_cert(&kit.ca, &[ORIG], t - 10 * 86_400, t - 86_400);
    let expired_kit = Sti {
        signer: StiSigner::new(&key, &expired, X5U).unwrap(),
        cert: expired.clone(),
        key,
        ca: Ca {
            cert: kit.ca.cert.clone(),
            key: kit.ca.key.clone(),
        },
    };
    let value = signed(&expired_kit, &shaken(Attestation::A), Form::Full, t);
    let v = verifier_with(&kit, &expired, vec![kit.ca.cert.clone()])
        .verify(&invite(ORIG, DEST, DEST, Some(t), &[&value]), t);
    assert!(
        matches!(failure(&v), (Failure::Untrusted(why), 437) if why.contains("expired")),
        "{v:?}"
    );

    let (bare, key) = sti_cert(&kit.ca, &[], t - 86_400, t + 86_400);
    let mut p = passport_of(&signed(&kit, &shaken(Attestation::A), Form::Full, t));
    p.header.x5u = X5U.into();
    let bare_kit = Sti {
        signer: kit.signer,
        cert: bare.clone(),
        key,
        ca: kit.ca,
    };
    let value = forge(&bare_kit, &p);
    let v = verifier_with(&bare_kit, &bare, vec![bare_kit.ca.cert.clone()])
        .verify(&invite(ORIG, DEST, DEST, Some(t), &[&value]), t);
    assert_eq!(failure(&v), (&Failure::TnAuth(TnAuthError::Missing), 437));
}

#[test]
fn missing_duplicated_and_unknown_parameters() {
    let (_, t, verifier, value) = fixture(Attestation::A);
    let token = value.split(';').next().unwrap();
    let info = format!(";info=<{X5U}>");
    let judge = |v: &str| verifier.verify(&invite(ORIG, DEST, DEST, Some(t), &[v]), t);
    let cases: [(String, u16); 6] = [
        (format!("{token};alg=ES256;ppt=shaken"), 436),
        (format!("{token}{info}{info};alg=ES256;ppt=shaken"), 436),
        (
            format!("{token}{info};alg=ES256;ppt=shaken;ppt=shaken"),
            438,
        ),
        (format!("{token}{info};alg=ES256;alg=ES256;ppt=shaken"), 438),
        (format!("{token}{info};alg=ES384;ppt=shaken"), 437),
        // The PASSporT says shaken, the header does not.
        (format!("{token}{info};alg=ES256"), 438),
    ];
    for (v, code) in cases {
        assert_eq!(failure(&judge(&v)).1, code, "{v}");
    }
    // The info URI differs from the PASSporT's x5u.
    let v = judge(&format!(
        "{token};info=<https://other.example/c.pem>;ppt=shaken"
    ));
    assert_eq!(
        failure(&v),
        (&Failure::HeaderMismatch { what: "x5u/info" }, 438)
    );
    // An unknown extension is ignored, and a request with only that has no identity.
    let v = judge(&format!("{token}{info};ppt=rph"));
    assert!(matches!(only(&v), HeaderOutcome::Ignored { ppt } if ppt == "rph"));
    assert_eq!(v.outcome(), StirOutcome::Absent);
    let none = verifier.verify(&invite(ORIG, DEST, DEST, Some(t), &[]), t);
    assert_eq!(none.outcome(), StirOutcome::Absent);
}

#[test]
fn an_unreachable_x5u_is_436_unless_another_header_fails_otherwise() {
    let (kit, t, verifier, value) = fixture(Attestation::A);
    let mut p = passport_of(&value);
    p.header.x5u = "https://gone.example/c.pem".into();
    let elsewhere = forge(&kit, &p);
    let msg = invite(ORIG, DEST, DEST, Some(t), &[&elsewhere]);
    let v = verifier.verify(&msg, t);
    assert!(
        matches!(failure(&v), (Failure::Credential(_), 436)),
        "{v:?}"
    );
    assert_eq!(
        v.outcome(),
        StirOutcome::Failed(ResponseCode::BadIdentityInfo)
    );
    let stale = signed(&kit, &shaken(Attestation::A), Form::Full, t - 300);
    let v = verifier.verify(&invite(ORIG, DEST, DEST, None, &[&elsewhere, &stale]), t);
    assert_eq!(v.outcome(), StirOutcome::Failed(ResponseCode::StaleDate));
    assert_eq!(v.reasons().len(), 2);
}

#[test]
fn one_valid_header_among_broken_ones_is_enough_and_the_best_attestation_counts() {
    let kit = sti(&[ORIG]);
    let t = now();
    let a = signed(&kit, &shaken(Attestation::A), Form::Full, t);
    let c = signed(&kit, &shaken(Attestation::C), Form::Full, t);
    let broken = a.replacen("eyJ", "eyK", 1);
    let v = verifier(&kit).verify(&invite(ORIG, DEST, DEST, Some(t), &[&broken, &c, &a]), t);
    assert_eq!(
        v.outcome(),
        StirOutcome::Verified {
            orig: Party::Tn(ORIG.into()),
            attest: Some(Attestation::A),
            diverted: false
        }
    );
    assert_eq!(v.reasons().len(), 1);
}

#[test]
fn a_diverted_call_keeps_the_original_and_adds_a_div_passport() {
    let origin = sti(&[ORIG]);
    let t = now();
    // The forwarding member's certificate covers the number the call was diverted from.
    let fwd_x5u = "https://fwd.example/cert.pem";
    let (fwd_cert, fwd_key) = sti_cert(&origin.ca, &[DEST], t - 86_400, t + 86_400);
    let forwarder = StiSigner::new(&fwd_key, &fwd_cert, fwd_x5u).unwrap();
    let original = signed(&origin, &shaken(Attestation::A), Form::Full, t);
    let target = "12155550199";
    let diverted = invite(ORIG, DEST, target, Some(t), &[&original]);
    let parties = CallParties::of(&diverted).unwrap();
    let p = forwarder.passport(&parties, &Assertion::Div, t).unwrap();
    let div = forwarder.identity(&p, Form::Full).unwrap();
    assert!(div.ends_with(";ppt=div"), "{div}");
    // The signer refuses to divert from a number its certificate does not cover.
    assert!(origin
        .signer
        .passport(&parties, &Assertion::Div, t)
        .is_err());
    let map = Map(HashMap::from([
        (
            X5U.to_string(),
            Arc::new(Credential::new(X5U, origin.cert.clone(), vec![]).unwrap()),
        ),
        (
            fwd_x5u.to_string(),
            Arc::new(Credential::new(fwd_x5u, fwd_cert, vec![]).unwrap()),
        ),
    ]));
    let verifier = StiVerifier::new(
        StiPolicy {
            anchors: vec![origin.ca.cert.clone()],
            freshness: 60,
        },
        map,
    );
    let msg = invite(ORIG, DEST, target, Some(t), &[&original, &div]);
    let v = verifier.verify(&msg, t);
    assert!(
        matches!(&v.headers[1].outcome, HeaderOutcome::Valid(ok) if ok.ppt == Some(Ppt::Div)),
        "{v:?}"
    );
    assert_eq!(
        v.outcome(),
        StirOutcome::Verified {
            orig: Party::Tn(ORIG.into()),
            attest: Some(Attestation::A),
            diverted: true
        }
    );
    // The div PASSporT on a request sent elsewhere than it names: refused.
    let msg = invite(ORIG, DEST, "12155550198", Some(t), &[&div]);
    let v = verifier.verify(&msg, t);
    assert!(
        matches!(failure(&v), (Failure::WrongDest { .. }, 438)),
        "{v:?}"
    );
    // Alone, a valid div PASSporT proves nothing about the caller.
    let msg = invite(ORIG, DEST, target, Some(t), &[&div]);
    assert_eq!(
        verifier.verify(&msg, t).outcome(),
        StirOutcome::Failed(ResponseCode::InvalidIdentityHeader)
    );
}

#[test]
fn response_codes_and_phrases() {
    for (r, code, phrase) in [
        (ResponseCode::UseIdentityHeader, 428, "Use Identity Header"),
        (ResponseCode::BadIdentityInfo, 436, "Bad Identity Info"),
        (
            ResponseCode::UnsupportedCredential,
            437,
            "Unsupported Credential",
        ),
        (
            ResponseCode::InvalidIdentityHeader,
            438,
            "Invalid Identity Header",
        ),
        (ResponseCode::StaleDate, 403, "Stale Date"),
    ] {
        assert_eq!((r.code(), r.reason_phrase()), (code, phrase));
    }
}

#[test]
fn only_so_many_identity_headers_are_read() {
    let (_, t, verifier, value) = fixture(Attestation::A);
    let many: Vec<&str> = std::iter::repeat_n(value.as_str(), MAX_IDENTITY_HEADERS + 2).collect();
    let v = verifier.verify(&invite(ORIG, DEST, DEST, Some(t), &many), t);
    assert_eq!(v.headers.len(), MAX_IDENTITY_HEADERS + 2);
    assert!(matches!(v.headers[0].outcome, HeaderOutcome::Valid(_)));
    assert_eq!(
        v.headers[MAX_IDENTITY_HEADERS].outcome,
        HeaderOutcome::Failed(Failure::TooMany)
    );
}

/// The one real PASSporT among the RFC examples (testdata/README.md): the full form of RFC
/// 8225's compact-form example, made by another implementation. Its ES256 signature verifies
/// with the RFC's Appendix A public key through our raw R||S path; its JSON is refused because
/// `iat` is a string, not a NumericDate (438 in a verifier).
#[test]
fn the_real_rfc8225_token_verifies_but_its_string_iat_is_refused() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/stir");
    let token = std::fs::read_to_string(dir.join("rfc8225-full-token.txt")).unwrap();
    let pem = std::fs::read(dir.join("rfc8225-appA-public-key.pem")).unwrap();
    let key = openssl::ec::EcKey::public_key_from_pem(&pem).unwrap();
    let token = token.trim();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = b64url::decode(sig.as_bytes()).unwrap();
    jws::verify(input.as_bytes(), &sig, &key).unwrap();
    let (h, c) = input.split_once('.').unwrap();
    let refused = Passport::from_json(
        &b64url::decode(h.as_bytes()).unwrap(),
        &b64url::decode(c.as_bytes()).unwrap(),
    )
    .unwrap_err();
    assert!(
        matches!(refused, PassportError::Json { part: "claims", .. }),
        "{refused}"
    );
    // One bit of the signed input changed: the same key refuses it.
    let mut changed = input.as_bytes().to_vec();
    changed[10] ^= 1;
    assert_eq!(
        jws::verify(&changed, &sig, &key),
        Err(JwsError::BadSignature)
    );
}

#[test]
fn media_keys_are_signed_and_must_be_the_requests() {
    let kit = sti(&[ORIG]);
    let t = now();
    let with_sdp = |fingerprint: &str| {
        let sdp = format!(
            "v=0\r\nm=audio 1 UDP/TLS/RTP/SAVP 0\r\na=fingerprint:sha-256 {fingerprint}\r\n"
        );
        let m = invite(ORIG, DEST, DEST, Some(t), &[]);
        let text = String::from_utf8(m.into_bytes()).unwrap().replace(
            "Content-Length: 0\r\n\r\n",
            &format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                sdp.len()
            ),
        );
        Message::parse(text).unwrap()
    };
    let offer = with_sdp("4A:AD:B9:B1");
    let parties = CallParties::of(&offer).unwrap();
    let p = kit
        .signer
        .passport(&parties, &shaken(Attestation::A), t)
        .unwrap();
    assert_eq!(p.claims.mky.len(), 1);
    let value = kit.signer.identity(&p, Form::Full).unwrap();
    let verifier = verifier(&kit);
    let add = |m: &Message| {
        let mut m = m.clone();
        m.append_field("Identity", value.as_bytes()).unwrap();
        m
    };
    assert!(matches!(
        only(&verifier.verify(&add(&offer), t)),
        HeaderOutcome::Valid(_)
    ));
    // The same PASSporT on an offer with another key (a man in the middle's DTLS).
    let swapped = verifier.verify(&add(&with_sdp("00:11:22:33")), t);
    assert_eq!(failure(&swapped), (&Failure::WrongMky, 438));
    // And on a request without the SDP.
    let bare = verifier.verify(&add(&invite(ORIG, DEST, DEST, Some(t), &[])), t);
    assert_eq!(failure(&bare), (&Failure::WrongMky, 438));
}
