#!/bin/sh
# Capture-reading throughput and peak memory: sipsec's capture layer against sipgrep, tshark and
# cat. Builds target/bench-capture/big.pcap (SIZE_MB, default 520 MiB, of UDP SIP records taken
# from testdata/captures/sipp-udp.pcap, repeated) and a 20 MiB slice of it for tshark, which
# decodes SIP far too slowly for the whole file. Also a capture of real SIPp calls over TCP
# (TCP_CALLS, default 60,000, one connection), made here on loopback when sip-tester and
# dumpcap are installed and lo can be captured (root). Nothing here is committed.
# "sipsec" is `sipsec-verify --pcap big.pcap --json` (every record decoded, every message framed,
# indexed, checked for a signature and marks, marked, and reported as one JSON line), with the
# default jobs (one per CPU; replays are still judged in input order). "identity" is the
# pass-through filter (examples/sipsec-identity.rs) on one job, for the capture layer alone, and
# "identity_par" the same with the filters' default of one worker per CPU.
set -eu
cd "$(dirname "$0")/../.."
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
dir=target/bench-capture
big=$dir/big.pcap
slice=$dir/slice.pcap
size_mb=${SIZE_MB:-520}
mkdir -p "$dir"

if [ ! -s "$big" ] || [ "$(stat -c %s "$big")" -lt $((size_mb * 1048576)) ]; then
    src=testdata/captures/sipp-udp.pcap
    tail -c +25 "$src" > "$dir/records"
    : > "$dir/block"
    while [ "$(stat -c %s "$dir/block")" -lt 1048576 ]; do cat "$dir/records" >> "$dir/block"; done
    for name in big slice; do
        n=$size_mb
        [ "$name" = slice ] && n=20
        {
            head -c 24 "$src"
            i=0
            while [ "$i" -lt "$n" ]; do cat "$dir/block"; i=$((i + 1)); done
        } > "$dir/$name.pcap"
    done
fi

tcp=$dir/sipp-tcp.pcap
tcp_calls=${TCP_CALLS:-60000}
if [ ! -s "$tcp" ] && command -v sipp > /dev/null && command -v dumpcap > /dev/null; then
    echo "capturing $tcp_calls SIPp calls over TCP on lo..." >&2
    dumpcap -q -P -i lo -f 'tcp port 5060' -w "$tcp.part" > /dev/null 2>&1 &
    capture=$!
    sleep 2
    timeout 300 sipp -sn uas -i 127.0.0.1 -p 5060 -t t1 -nostdin > /dev/null 2>&1 &
    uas=$!
    sleep 0.5
    timeout 280 sipp -sn uac 127.0.0.1:5060 -i 127.0.0.1 -p 5072 -t t1 -m "$tcp_calls" \
        -r 1000 -l 2000 -nostdin > /dev/null 2>&1 || true
    sleep 1
    kill "$uas" 2> /dev/null || true
    wait "$uas" 2> /dev/null || true
    kill -INT "$capture" 2> /dev/null || true
    wait "$capture" 2> /dev/null || true
    if [ -s "$tcp.part" ]; then mv "$tcp.part" "$tcp"; else echo "no TCP capture made" >&2; fi
fi

cargo build -q --release --example sipsec-identity --bin sipsec-verify --bin sipsec-certgen
store=$dir/store
if [ ! -d "$store/identities" ]; then
    rm -rf "$store"
    target/release/sipsec-certgen --store "$store" -q init-ca --issuing --key-type p256 > /dev/null
fi
verify="target/release/sipsec-verify --store $store --json"

# run NAME FILE COMMAND...: runs COMMAND three times and prints the fastest run's seconds (wall
# and CPU), MB/s and max RSS (other work on a shared machine only ever slows a run down, and
# every tool here, peers included, gets the same treatment); keeps MB/s for the ratios.
run() {
    name=$1 file=$2
    shift 2
    best=""
    for _ in 1 2 3; do
        /usr/bin/time -f '%e %M %U %S' -o "$dir/time" "$@" > /dev/null 2> "$dir/$name.err" || {
            echo "$name failed: $(tail -n 3 "$dir/$name.err")"
            return 0
        }
        read -r t _ < "$dir/time"
        if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$t
            cp "$dir/time" "$dir/time.best"
        fi
    done
    bytes=$(stat -c %s "$file")
    read -r secs rss_kb user sys < "$dir/time.best"
    mbps=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { if (s < 0.01) s = 0.01; printf "%.1f", b / 1048576 / s }')
    printf '%-12s %8.1f MiB %7.2f s (CPU %5.2f s) %9s MiB/s   max RSS %6.1f MiB\n' "$name" \
        "$(awk -v b="$bytes" 'BEGIN { print b / 1048576 }')" "$secs" \
        "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$mbps" \
        "$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')"
    eval "mbps_$name=$mbps"
}

cat "$big" > /dev/null # warm the page cache for everyone
run sipsec "$big" $verify --pcap "$big"
tail -n 1 "$dir/sipsec.err"
run identity "$big" target/release/examples/sipsec-identity --jobs 1 --json --pcap "$big"
run identity_par "$big" target/release/examples/sipsec-identity --json --pcap "$big"
run cat "$big" cat "$big"
if command -v sipgrep > /dev/null; then
    run sipgrep "$big" sipgrep -C -I "$big"
else
    echo "sipgrep not installed (Debian package sipgrep)"
fi
if command -v tshark > /dev/null; then
    run tshark "$slice" tshark -r "$slice" -Y sip -T fields -e sip.Call-ID
else
    echo "tshark not installed"
fi

if [ -s "$tcp" ]; then
    run sipsec_tcp "$tcp" $verify --pcap "$tcp"
    tail -n 1 "$dir/sipsec_tcp.err"
    command -v sipgrep > /dev/null && run sipgrep_tcp "$tcp" sipgrep -C -I "$tcp"
fi

for ours in sipsec identity identity_par; do
    eval "a=\${mbps_$ours:-}"
    [ -n "$a" ] || continue
    for peer in sipgrep tshark cat; do
        eval "v=\${mbps_$peer:-}"
        [ -n "$v" ] && awk -v a="$a" -v b="$v" -v o="$ours" -v p="$peer" 'BEGIN { printf "%-12s / %-8s %8.2fx\n", o, p, a / b }'
    done
done
if [ -n "${mbps_sipsec_tcp:-}" ] && [ -n "${mbps_sipgrep_tcp:-}" ]; then
    awk -v a="$mbps_sipsec_tcp" -v b="$mbps_sipgrep_tcp" 'BEGIN { printf "sipsec_tcp   / sipgrep_tcp %5.2fx\n", a / b }'
fi
