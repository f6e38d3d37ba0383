//! Bare CMS rates (sign, verify, encrypt, decrypt) for RSA-2048 and P-256 over a 600-byte
//! SDP-like body: the reference against which the sipsec tools' per-message cost is judged.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sipsec::crypto::{
    decrypt, encrypt, sign, verify, CmsEncryptOptions, CmsSignOptions, Signer, VerifyContext,
};

#[allow(dead_code)]
#[path = "../src/crypto/testkit.rs"]
mod testkit;
use testkit::{Ca, KeyKind};

fn sdp() -> Vec<u8> {
    let mut b = b"v=0\r\no=alice 2890844526 2890844526 IN IP4 198.51.100.1\r\ns=call\r\n".to_vec();
    while b.len() < 600 {
        b.extend_from_slice(b"a=rtpmap:0 PCMU/8000\r\n");
    }
    b.truncate(600);
    b
}

fn bench(c: &mut Criterion) {
    let body = sdp();
    let mut g = c.benchmark_group("cms");
    g.throughput(Throughput::Elements(1));
    for (name, kind) in [("rsa2048", KeyKind::Rsa), ("p256", KeyKind::P256)] {
        let ca = Ca::new(kind);
        let (cert, key) = ca.leaf(kind, "sip:alice@example.com");
        let signer = Signer {
            cert: cert.clone(),
            key: key.clone(),
            chain: vec![],
        };
        let opts = CmsSignOptions::default();
        g.bench_function(format!("sign/{name}"), |b| {
            b.iter(|| sign(&body, &signer, &opts).unwrap())
        });
        let sig = sign(&body, &signer, &opts).unwrap();
        let ctx = VerifyContext::default();
        g.bench_function(format!("verify/{name}"), |b| {
            b.iter(|| verify(&sig, Some(&body), &ctx).unwrap())
        });
        let eopts = CmsEncryptOptions::default();
        let recips = [cert.clone()];
        g.bench_function(format!("encrypt/{name}"), |b| {
            b.iter(|| encrypt(&body, &recips, &eopts).unwrap())
        });
        let env = encrypt(&body, &recips, &eopts).unwrap();
        g.bench_function(format!("decrypt/{name}"), |b| {
            b.iter(|| decrypt(&env, &key, &cert).unwrap())
        });
    }
    // The identities of a store, for a bare rate with the very key, certificate and chain a
    // tool signs with (scripts/bench/sign.sh sets these): SIPSEC_BENCH_STORE=DIR and
    // SIPSEC_BENCH_IDENTITIES="aor name, aor name".
    if let (Ok(dir), Ok(list)) = (
        std::env::var("SIPSEC_BENCH_STORE"),
        std::env::var("SIPSEC_BENCH_IDENTITIES"),
    ) {
        let store = sipsec::store::Store::open(std::path::Path::new(&dir)).expect("bench store");
        for entry in list.split(',') {
            let (aor, name) = entry.trim().split_once(' ').expect("`aor name` pairs");
            let aor = sipsec::uri::Aor::parse(aor).expect("an AOR");
            let id = store.signing_identity(&aor).expect("an identity");
            let signer = Signer {
                cert: id.cert,
                key: id.key,
                chain: id.chain,
            };
            let opts = CmsSignOptions::default();
            g.bench_function(format!("sign-store/{name}"), |b| {
                b.iter(|| sign(&body, &signer, &opts).unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
