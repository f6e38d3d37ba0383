#!/bin/sh
# sipsec-decrypt throughput on one core: SDP bodies enveloped to an RSA-2048 recipient
# (AES-128-CBC, RSA-OAEP), against `openssl speed rsa2048` sign/s (the same private-key
# operation) on the same core, in one run. Target: at least 0.85 of the openssl rate.
# Usage: scripts/bench/decrypt.sh [MESSAGES]   (default 5000)
default_n=5000
. "$(dirname "$0")/common.sh"
"$bin/sipsec-certgen" --store "$store" -q issue sip:bob@biloxi.example.com >/dev/null
"$bin/examples/sipsec-bench-messages" encrypted "$store" bob@biloxi.example.com "$n" > "$work/in.sip"
cat "$work/in.sip" > /dev/null
t=$(python3 - taskset -c 0 "$bin/sipsec-decrypt" --store "$store" -q --fail-closed "$work/in.sip" <<'PY'
import subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
assert r.returncode == 0, r.returncode
print(f"{time.perf_counter() - t:.3f}")
PY
)
speed=$(taskset -c 0 openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ { print $(NF-1) }')
python3 - "$n" "$t" "$speed" <<'PY'
import sys
n, t, speed = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
rate = n / t
print(f"messages:                 {n} (RSA-2048 OAEP + AES-128-CBC envelopes)")
print(f"sipsec-decrypt, 1 core:   {rate:,.0f} msg/s ({t:.2f} s)")
print(f"openssl speed rsa2048:    {speed:,.0f} sign/s")
print(f"ratio:                    {rate / speed:.2f} (target 0.85: {'met' if rate / speed >= 0.85 else 'NOT met'})")
PY
