#!/bin/sh
# sipsec-encrypt over N (default 10,000) messages to an RSA-2048 recipient (AES-128-CBC,
# RSA-OAEP), against the bare CMS encryption rate of benches/cms.rs in the same run.
# Target: >= 15,000 messages/s on one core.
# Usage: N=10000 scripts/bench/encrypt.sh
. "$(dirname "$0")/wrapkit.sh"
cargo bench --quiet --bench cms -- --measurement-time 5 'cms/encrypt/rsa2048' >/dev/null 2>&1
data=target/bench-encrypt-rsa2048.sip
stream rsa "$data"
t1=$(seconds target/release/sipsec-encrypt -q --store "$store" --jobs 1 "$data")
t2=$(seconds target/release/sipsec-encrypt -q --store "$store" --jobs 2 "$data")
bare=$(criterion_rate encrypt rsa2048)
python3 -c 'import sys; n,t1,t2,b=int(sys.argv[1]),*map(float,sys.argv[2:]); r1,r2=n/t1,n/t2; print(f"sipsec-encrypt rsa2048, {n} messages: jobs 1 {r1:.0f} msg/s (target 15000; bare CMS {b:.0f}/s, {r1/b:.2f} of bare) | jobs 2 {r2:.0f} msg/s")' "$n" "$t1" "$t2" "$bare"
