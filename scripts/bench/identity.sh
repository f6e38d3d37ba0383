#!/bin/sh
# STIR Identity signing and verification (x5u certificate cached) per CPU second, from
# benches/identity.rs (timed in thread CPU time), against the raw ECDSA P-256 rates of
# `openssl speed ecdsap256` (which also counts CPU time) measured in the same run; the bench's
# own in-process ECDSA rates are shown beside them. Targets: signing >= 0.5 of raw ECDSA sign, verification >= 0.8 of raw verify.
# Usage: scripts/bench/identity.sh
set -eu
cd "$(dirname "$0")/../.."
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
cargo bench --quiet --bench identity -- --measurement-time 5 >/dev/null 2>&1
rate() {
    python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print(1e9/e["mean"]["point_estimate"])' \
        "target/criterion/identity/$1/new/estimates.json"
}
sign=$(rate sign)
verify=$(rate verify-cached)
bare_sign=$(rate raw-ecdsa-sign)
bare_verify=$(rate raw-ecdsa-verify)
# "256 bits ecdsa (nistp256)   0.0000s   0.0001s  40000.0  13000.0": sign/s and verify/s last.
raw=$(openssl speed -seconds 3 ecdsap256 2>/dev/null | grep -E "256 bits ecdsa" | tail -1)
python3 - "$sign" "$verify" "$raw" "$bare_sign" "$bare_verify" <<'PY'
import sys
sign, verify = float(sys.argv[1]), float(sys.argv[2])
bare_sign, bare_verify = float(sys.argv[4]), float(sys.argv[5])
fields = sys.argv[3].split()
raw_sign, raw_verify = float(fields[-2]), float(fields[-1])
print(f"openssl speed ecdsap256: sign {raw_sign:.0f}/s, verify {raw_verify:.0f}/s")
print(f"in-process EcdsaSig:     sign {bare_sign:.0f}/s, verify {bare_verify:.0f}/s")
print(f"Identity sign          {sign:8.0f}/s = {sign/raw_sign:.2f} of raw sign (target 0.50)")
print(f"Identity verify cached {verify:8.0f}/s = {verify/raw_verify:.2f} of raw verify (target 0.80)")
PY
