//! Time to make a certificate on demand (key generation + issuance by the store's CA + writing
//! cert, key, chain, CSR and PKCS#12), as the relay may do on a live call.

use criterion::{criterion_group, criterion_main, Criterion};
use sipsec::store::policy::StoreConfig;
use sipsec::store::x509::{parse_aor, KeyType};
use sipsec::store::Store;

fn on_demand(c: &mut Criterion) {
    let mut g = c.benchmark_group("on_demand_issue");
    g.sample_size(10);
    for kt in [KeyType::Rsa2048, KeyType::P256] {
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = Store::create(&dir.path().join("s")).expect("store");
        store
            .init_root("bench root", KeyType::P256, 30, false)
            .expect("root");
        store
            .init_intermediate(
                "bench CA",
                KeyType::P256,
                30,
                &["bench.example".into()],
                false,
            )
            .expect("ca");
        let cfg = StoreConfig {
            on_demand: true,
            key_type: kt,
            ..store.config().clone()
        };
        store.set_config(&cfg).expect("config");
        let member = parse_aor("sip:agent@bench.example").expect("aor");
        let mut n = 0u64;
        g.bench_function(kt.name(), |b| {
            b.iter(|| {
                n += 1;
                let aor = parse_aor(&format!("sip:user{n}@bench.example")).expect("aor");
                store.ensure_identity(&aor, Some(&member)).expect("issued")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, on_demand);
criterion_main!(benches);
