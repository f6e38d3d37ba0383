#!/bin/sh
# sipsec-verify throughput on one core: RSA-2048 signatures (sip form, SHA-256) with a two-level
# chain (root -> issuing CA -> signer, chain embedded), every check on, against the bare CMS
# verify rate of `cargo bench --bench cms` (cms/verify/rsa2048), in one run; with peak memory.
# Usage: scripts/bench/verify.sh [MESSAGES]   (default 20000)
default_n=20000
. "$(dirname "$0")/common.sh"
"$bin/sipsec-certgen" --store "$store" -q init-intermediate --domain atlanta.example.com >/dev/null
"$bin/sipsec-certgen" --store "$store" -q issue sip:alice@atlanta.example.com >/dev/null
echo "signing $n messages for the input..." >&2
"$bin/examples/sipsec-bench-messages" signed "$store" alice@atlanta.example.com "$n" > "$work/in.sip"
cat "$work/in.sip" > /dev/null
set -- $(cpu_run taskset -c 0 "$bin/sipsec-verify" --jobs 1 --store "$store" -q --require fresh --unwrap "$work/in.sip")
t_verify=$1 rss=$2 rc=$3
set -- $(cpu_run taskset -c 0 "$bin/sipsec-verify" --jobs 1 --store "$store" -q --require fresh --replay-cache 1000000 "$work/in.sip")
t_big=$1 rss_big=$2
echo "bare CMS verify (cargo bench --bench cms -- cms/verify/rsa2048)..." >&2
bare=$(taskset -c 0 cargo bench --quiet --bench cms -- 'cms/verify/rsa2048' 2>/dev/null \
    | awk '/thrpt:/ { for (i = 1; i <= NF; i++) if ($i ~ /elem\/s/) { v = $(i-1); u = $i } }
           END { if (u ~ /^K/) v *= 1000; print v }')
python3 - "$n" "$t_verify" "$rss" "$rc" "$t_big" "$rss_big" "$bare" <<'PY'
import sys
n, t, rss, rc, tb, rssb, bare = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7] or 0)
rate = n / t
print(f"messages:               {n} (RSA-2048, SHA-256, chain root -> issuing CA -> signer)")
print(f"sipsec-verify, 1 core:  {rate:,.0f} msg/s per CPU second ({t:.2f} s, exit {rc}), every check, --unwrap, marks")
print(f"bare CMS verify:        {bare:,.0f} verify/s (criterion, wall clock, cms/verify/rsa2048, no chain)")
if bare:
    print(f"ratio:                  {rate / bare:.2f} of the bare CMS verify rate")
print(f"target 10,000 msg/s:    {'met' if rate >= 10000 else 'NOT met'}")
print(f"peak RSS:               {rss/1024:.1f} MiB with --replay-cache 100000 (default); "
      f"{rssb/1024:.1f} MiB with --replay-cache 1000000 ({n} entries used)")
PY
