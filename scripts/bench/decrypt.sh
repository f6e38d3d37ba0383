#!/bin/sh
# sipsec-decrypt throughput on one core: SDP bodies enveloped to an RSA-2048 recipient
# (AES-128-CBC, RSA-OAEP), against `openssl speed rsa2048` sign/s (the same private-key
# operation) on the same core, in one run. Target: at least 0.85 of the openssl rate.
# Usage: scripts/bench/decrypt.sh [MESSAGES]   (default 5000)
default_n=5000
. "$(dirname "$0")/common.sh"
"$bin/sipsec-certgen" --store "$store" -q issue --self-signed sip:bob@biloxi.example.com >/dev/null
"$bin/examples/sipsec-bench-messages" encrypted "$store" bob@biloxi.example.com "$n" > "$work/in.sip"
cat "$work/in.sip" > /dev/null
# Both rates are per CPU second (user + system), as `openssl speed` counts by default, so other
# jobs on the shared machine do not skew the ratio; alternated three times, best of each kept.
times="" speeds=""
for _ in 1 2 3; do
    set -- $(cpu_run taskset -c 0 "$bin/sipsec-decrypt" --jobs 1 --store "$store" -q --fail-closed "$work/in.sip")
    [ "$3" = 0 ] || { echo "sipsec-decrypt exited $3" >&2; exit 1; }
    times="$times $1"
    speeds="$speeds $(taskset -c 0 openssl speed -seconds 2 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $(NF-1) }')"
done
python3 - "$n" "$times" "$speeds" <<'PY'
import sys
n = int(sys.argv[1])
times = [float(x) for x in sys.argv[2].split()]
speeds = [float(x) for x in sys.argv[3].split()]
rate, speed = n / min(times), max(speeds)
print(f"messages:                 {n} (RSA-2048 OAEP + AES-128-CBC envelopes), best of 3 runs each, per CPU second")
print(f"sipsec-decrypt, 1 core:   {rate:,.0f} msg/s (runs: {', '.join(f'{n / t:,.0f}' for t in times)})")
print(f"openssl speed rsa2048:    {speed:,.0f} sign/s (runs: {', '.join(f'{s:,.0f}' for s in speeds)})")
print(f"ratio:                    {rate / speed:.2f} (target 0.85: {'met' if rate / speed >= 0.85 else 'NOT met'})")
PY
