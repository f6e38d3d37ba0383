//! STIR Identity per request: signing (parties read from the request, PASSporT built, ES256
//! signature, header value) and verification with the x5u certificate cached (trust judged
//! once, then one signature check per request). scripts/bench/identity.sh sets these against
//! `openssl speed ecdsap256` in the same run.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sipsec::identity::sign::{iat_of, origid_for};
use sipsec::identity::sticert::{make_sti_cert, StiProfile};
use sipsec::identity::x5u::store_entry;
use sipsec::identity::{
    Assertion, Attestation, CallParties, Form, StiPolicy, StiSigner, StiVerifier, StirOutcome,
    TnAuthList, X5uResolver,
};
use sipsec::Message;
use std::time::Duration;

#[allow(dead_code)]
#[path = "../src/crypto/testkit.rs"]
mod testkit;
use testkit::{key, now, Ca, KeyKind};

const X5U: &str = "https://sti.example/cert.pem";

/// This thread's CPU time: the figures are per CPU second, as `openssl speed` reports them,
/// so that other work on a shared machine does not count against either side.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid pointer it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `iters` calls of `f`, timed in CPU time.
fn cpu<R>(iters: u64, mut f: impl FnMut() -> R) -> Duration {
    let start = thread_cpu();
    for _ in 0..iters {
        std::hint::black_box(f());
    }
    thread_cpu() - start
}

fn invite(t: i64, identity: Option<&str>) -> Message {
    let date = sipsec::smime::build::format_date(t);
    let identity = identity
        .map(|i| format!("Identity: {i}\r\n"))
        .unwrap_or_default();
    Message::parse(format!(
        "INVITE sip:+12155550131@b.example;user=phone SIP/2.0\r\n\
         Via: SIP/2.0/TCP a.example;branch=z9hG4bK1\r\n\
         From: <sip:+12155550121@a.example;user=phone>;tag=1\r\n\
         To: <sip:+12155550131@b.example;user=phone>\r\n\
         Call-ID: 1@a.example\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\
         Date: {date}\r\n{identity}Content-Length: 0\r\n\r\n"
    ))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let ca = Ca::new(KeyKind::P256);
    let sti_key = key(KeyKind::P256);
    let profile = StiProfile {
        cn: "bench STI".into(),
        tn_auth: TnAuthList::new(vec!["12155550100+100".parse().unwrap()]).unwrap(),
        not_before: now() - 60,
        not_after: now() + 30 * 86_400,
    };
    let cert = make_sti_cert(&profile, &sti_key, (&ca.cert, &ca.key)).unwrap();
    let signer = StiSigner::new(&sti_key, &cert, X5U).unwrap();
    let assertion = Assertion::Shaken {
        attest: Attestation::A,
        origid: origid_for("sip:agent1@callcentre.example"),
    };

    let t = now();
    let unsigned = invite(t, None);
    let mut g = c.benchmark_group("identity");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign", |b| {
        b.iter_custom(|n| {
            cpu(n, || {
                let parties = CallParties::of(&unsigned).unwrap();
                let iat = iat_of(&parties, t, 60).unwrap();
                let p = signer.passport(&parties, &assertion, iat).unwrap();
                signer.identity(&p, Form::Full).unwrap()
            })
        })
    });

    let parties = CallParties::of(&unsigned).unwrap();
    let p = signer.passport(&parties, &assertion, t).unwrap();
    let value = signer.identity(&p, Form::Full).unwrap();
    let signed = invite(t, Some(&value));
    let dir = std::env::temp_dir().join(format!("sipsec-bench-x5u-{}", std::process::id()));
    store_entry(&dir, X5U, &cert.to_pem().unwrap(), t + 3600).unwrap();
    let verifier = StiVerifier::new(
        StiPolicy {
            anchors: vec![ca.cert.clone()],
            freshness: 3600,
        },
        X5uResolver::new(Some(dir.clone()), None, 3600),
    );
    assert!(matches!(
        verifier.verify(&signed, t).outcome(),
        StirOutcome::Verified { .. }
    ));
    g.bench_function("verify-cached", |b| {
        b.iter_custom(|n| {
            cpu(n, || {
                let v = verifier.verify(&signed, t);
                assert!(matches!(v.outcome(), StirOutcome::Verified { .. }));
                v
            })
        })
    });
    // The same key's bare ECDSA, in process: what the per-request overhead is measured on.
    let ec = sti_key.ec_key().unwrap();
    let digest = openssl::sha::sha256(b"bench");
    g.bench_function("raw-ecdsa-sign", |b| {
        b.iter_custom(|n| cpu(n, || openssl::ecdsa::EcdsaSig::sign(&digest, &ec).unwrap()))
    });
    let sig = openssl::ecdsa::EcdsaSig::sign(&digest, &ec).unwrap();
    g.bench_function("raw-ecdsa-verify", |b| {
        b.iter_custom(|n| cpu(n, || assert!(sig.verify(&digest, &ec).unwrap())))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
