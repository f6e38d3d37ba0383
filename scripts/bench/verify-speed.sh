#!/bin/sh
# sipsec-verify per CPU second against `openssl speed` in the same run, for RSA-2048 and P-256
# signers: MESSAGES signed messages each (sip form, SHA-256, chain root -> issuing CA -> signer
# embedded), every check on, --unwrap, on one core; the reference is the bare signature verify
# rate of `openssl speed rsa2048` / `ecdsap256` on the same core, measured once a round between
# the binaries' runs, its best rate kept. Targets: RSA at least 0.7 of the reference, P-256 at
# least 0.9. Also the peak RSS (target under 64 MB).
# Usage: scripts/bench/verify-speed.sh [MESSAGES]   (default 20000)
# With BASELINE=FILE (another build's sipsec-verify), that binary is measured too, on the same
# input against the same reference: a before/after in one run. Each binary runs ROUNDS times
# (default 3), the binaries taking turns, and its least CPU time counts: whatever else happens
# on the machine only ever slows a run down, and the first run after the input was written
# was seen to be ~10 % slower whichever binary it was (the input is now synced before the runs).
default_n=20000
. "$(dirname "$0")/common.sh"
"$bin/sipsec-certgen" --store "$store" -q init-intermediate --domain atlanta.example.com >/dev/null
"$bin/sipsec-certgen" --store "$store" -q issue sip:alice@atlanta.example.com >/dev/null
"$bin/sipsec-certgen" --store "$store" -q issue --key-type p256 sip:bob@atlanta.example.com >/dev/null
# openssl speed -mr: "+F2:i:bits:sign_s:verify_s" (RSA), "+F4:i:bits:sign_s:verify_s" (ECDSA);
# the rates are operations per second.
speed() {
    taskset -c 0 openssl speed -seconds 5 -mr "$1" 2>/dev/null | awk -F: '/^\+F[24]:/ { print $5 }'
}
for who in alice:rsa2048:RSA-2048:0.7 bob:ecdsap256:P-256:0.9; do
    IFS=: read -r user algorithm label target <<EOF
$who
EOF
    echo "signing $n $label messages for the input..." >&2
    "$bin/examples/sipsec-bench-messages" signed "$store" "$user@atlanta.example.com" "$n" > "$work/in.sip"
    sync; cat "$work/in.sip" > /dev/null
    rounds=${ROUNDS:-3}
    for round in $(seq "$rounds"); do
        speed "$algorithm" >> "$work/speeds"
        for verify in "$bin/sipsec-verify" ${BASELINE:+"$BASELINE"}; do
            key=$(echo "$verify" | cksum | cut -d' ' -f1)
            set -- $(cpu_run taskset -c 0 "$verify" --jobs 1 --store "$store" -q --require fresh --unwrap "$work/in.sip")
            echo "$1 $2 $3" >> "$work/runs.$key"
        done
    done
    # the reference's best rate, as each binary's best run counts
    reference=$(sort -g "$work/speeds" | tail -n 1)
    rm "$work/speeds"
    for verify in "$bin/sipsec-verify" ${BASELINE:+"$BASELINE"}; do
        key=$(echo "$verify" | cksum | cut -d' ' -f1)
        # the least CPU time, the largest RSS, the worst exit code of the rounds
        set -- $(sort -n "$work/runs.$key" | awk 'BEGIN { r = 0; c = 0 } NR == 1 { t = $1 } $2 > r { r = $2 } $3 > c { c = $3 } END { print t, r, c }')
        rm "$work/runs.$key"
        t=$1 rss=$2 rc=$3
        python3 - "$label" "$n" "$t" "$rss" "$rc" "$reference" "$target" "$algorithm" "$verify" <<'PY'
import sys
label, n, t, rss, rc, ref, target, alg, verify = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5], float(sys.argv[6]), float(sys.argv[7]), sys.argv[8], sys.argv[9]
rate = n / t
print(f"{label}: {verify} {rate:,.0f} msg/s per CPU second ({n} messages, best {t:.3f} s, exit {rc}); "
      f"openssl speed {alg} verify {ref:,.0f}/s; ratio {rate / ref:.2f} (target {target}: "
      f"{'met' if rate / ref >= target else 'NOT met'}); peak RSS {rss / 1024:.1f} MiB")
PY
    done
done
