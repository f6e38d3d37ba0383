#!/bin/sh
# The replay cache under a flood: MESSAGES signatures that pass integrity but not trust (an
# outsider's own CA, P-256, the very AOR of the group), then one genuine signature of the group,
# through one sipsec-verify run. Only signatures with a trusted chain enter the replay cache, so
# the genuine one must be marked however small the cache; exits non-zero if it is not. Prints the
# CPU time per flooding message beside the run's whole, and the cache size used.
# Usage: scripts/bench/flood.sh [MESSAGES]   (default 100000)
default_n=100000
. "$(dirname "$0")/common.sh"
aor=support@callcentre.example
evil=$work/outsider
"$bin/sipsec-certgen" --store "$store" -q init-intermediate --domain callcentre.example >/dev/null
"$bin/sipsec-certgen" --store "$store" -q issue "sip:$aor" >/dev/null
"$bin/sipsec-certgen" --store "$evil" -q init-ca --cn "Outsider root" >/dev/null
"$bin/sipsec-certgen" --store "$evil" -q issue --self-signed --key-type p256 "sip:$aor" >/dev/null
echo "signing $n flooding messages with the outsider's key..." >&2
"$bin/examples/sipsec-bench-messages" signed "$evil" "$aor" "$n" > "$work/in.sip"
"$bin/examples/sipsec-bench-messages" signed "$store" "$aor" 1 >> "$work/in.sip"
set -- $(python3 - "$bin/sipsec-verify" "$store" "$work/in.sip" "$work/last.json" <<'PY'
import os, subprocess, sys
verify, store, path, last = sys.argv[1:]
p = subprocess.Popen([verify, "--store", store, "--jobs", "1", "--replay-cache", "1000",
                      "--json", path], stdout=subprocess.PIPE)
line = None
count = 0
for line in p.stdout:
    count += 1
# The child's own rusage (see cpu_run in common.sh).
_, status, u = os.wait4(p.pid, 0)
p.returncode = os.waitstatus_to_exitcode(status)
open(last, "wb").write(line or b"{}")
print(f"{u.ru_utime + u.ru_stime:.3f} {count} {p.returncode}")
PY
)
cpu=$1 records=$2 rc=$3
python3 - "$n" "$cpu" "$records" "$rc" "$work/last.json" <<'PY'
import json, sys
n, cpu, records, rc, last = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
v = json.load(open(last)).get("verdict", {})
print(f"flood:                  {n} untrusted signatures (outsider CA, P-256), then 1 genuine (RSA-2048)")
print(f"sipsec-verify, 1 job:   {cpu:.2f} CPU s for {records} records (exit {rc}), --replay-cache 1000")
print(f"per flooding message:   {cpu / max(n, 1) * 1e6:.1f} us CPU")
print(f"genuine one:            trust={v.get('trust', {}).get('result')} replay={v.get('replay', {}).get('seen')} marked={v.get('marked')}")
sys.exit(0 if v.get("marked") is True and records == n + 1 else 1)
PY
