#!/bin/sh
# sipsec-relay against Kamailio (stateless forward(), scripts/bench/kamailio.cfg), in one run,
# both forwarding SIPp uac calls (INVITE/180/200/ACK/BYE/200, no hold) over UDP to one SIPp uas.
# For each proxy and each call rate (calls/s) it runs 20 s of calls and prints:
#   CPU µs per forwarded message: utime+stime of the proxy (all its processes) from
#     /proc/PID/stat before and after, over the messages the proxy forwarded (messages per
#     call times the calls made, failed ones included: Kamailio's two UDP workers sometimes
#     pass a 180 after the 200, and SIPp then fails a call whose six messages were all
#     forwarded; counting them favours the proxy that fails calls, never the relay);
#   whether the step was clean (every call completed, no retransmission);
#   p99 of the INVITE->200 response time (SIPp -trace_rtt).
# The highest clean rate is each proxy's sustained rate. SIPp shares the 2 cores, so the rates
# are bounded by the load generator as much as by the proxy; CPU per message is the main figure.
# Usage: scripts/bench/relay.sh [RATES...]   (default 500 1000 2000 3000 4000)
# With RELAY_BEFORE=/path/to/an/older/sipsec-relay, that binary runs too, in the same steps
# (before/after figures from one run).
set -eu
cd "$(dirname "$0")/../.."
rates=${*:-500 1000 2000 3000 4000}
secs=20
uas_port=26080; relay_port=26060; kam_port=26061
tick=$(getconf CLK_TCK)
work=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

cargo build --release --quiet --bin sipsec-relay
relay=target/release/sipsec-relay
for tool in sipp kamailio; do
    command -v $tool >/dev/null || { echo "relay bench: $tool missing (scripts/setup.sh --peers)" >&2; exit 3; }
done

# CPU ticks of a process and its children (Kamailio forks workers).
ticks() {
    total=0
    for stat in /proc/[0-9]*/stat; do
        set -- $(sed 's/^.*) //' "$stat" 2>/dev/null) || continue
        pid=${stat#/proc/}; pid=${pid%/stat}
        # after "comm) ": $1 state $2 ppid ... $12 utime $13 stime
        if [ "$pid" = "$root" ] || [ "${2:-}" = "$root" ]; then
            total=$((total + ${12} + ${13}))
        fi
    done
    echo $total
}

(cd "$work" && exec sipp -sn uas -i 127.0.0.1 -p $uas_port -nostdin -bg >/dev/null 2>&1) || true
sleep 0.5
uas_pid=$(pgrep -n -f "sipp -sn uas -i 127.0.0.1 -p $uas_port" || true)
[ -n "$uas_pid" ] && pids="$pids $uas_pid"

$relay --listen udp:127.0.0.1:$relay_port --route 127.0.0.1=udp:127.0.0.1:$uas_port -q \
    --status-file "$work/relay.status" &
relay_pid=$!
pids="$pids $relay_pid"
before_port=26062
if [ -n "${RELAY_BEFORE:-}" ]; then
    "$RELAY_BEFORE" --listen udp:127.0.0.1:$before_port --route 127.0.0.1=udp:127.0.0.1:$uas_port -q &
    before_pid=$!
    pids="$pids $before_pid"
fi
sed -e "s/BENCH_KAM_PORT/$kam_port/" -e "s/BENCH_UAS_PORT/$uas_port/" scripts/bench/kamailio.cfg > "$work/kamailio.cfg"
kamailio -f "$work/kamailio.cfg" -DD -E -P "$work/kam.pid" -w "$work" >"$work/kamailio.log" 2>&1 &
kam_pid=$!
pids="$pids $kam_pid"
sleep 1

# Messages a proxy forwards per call, from the relay's own counters on a short warm-up.
(cd "$work" && timeout 30 sipp -sn uac 127.0.0.1:$relay_port -s service -i 127.0.0.1 -p 26070 \
    -m 100 -r 100 -d 0 -nostdin >/dev/null 2>&1) || true
kill -USR1 $relay_pid; sleep 0.3
per_call=$(python3 -c "
import re,sys
s=open('$work/relay.status').read()
out=int(re.search(r'out_udp=(\d+)',s).group(1)); print(out/100)")
echo "messages forwarded per call: $per_call; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %6s %8s %10s %8s %8s %8s\n' proxy rate calls 'µs/msg' failed retrans 'p99 ms'

step() { # name port pid rate
    name=$1; port=$2; root=$3; rate=$4
    calls=$((rate * secs))
    dir="$work/$name-$rate"; mkdir -p "$dir"
    before=$(ticks)
    (cd "$dir" && timeout $((secs * 3 + 30)) sipp -sn uac 127.0.0.1:$port -s service -i 127.0.0.1 \
        -p 26071 -m $calls -r $rate -d 0 -l $((rate * 4)) -nostdin -trace_stat -fd 1 \
        -trace_rtt -rtt_freq 1 >/dev/null 2>&1) || true
    after=$(ticks)
    python3 - "$dir" "$name" "$rate" "$calls" "$((after - before))" "$tick" "$per_call" <<'PY'
import csv, glob, sys
d, name, rate, calls, dt, tick, per_call = sys.argv[1:]
stat = glob.glob(d + "/*_.csv") or glob.glob(d + "/*.csv")
stat = [s for s in stat if not s.endswith("_rtt.csv")]
rows = list(csv.reader(open(stat[0]), delimiter=";")) if stat else []
failed = retrans = ok = "?"
if len(rows) > 1:
    h, last = rows[0], rows[-1]
    col = lambda n: last[h.index(n)] if n in h else "?"
    ok, failed, retrans = col("SuccessfulCall(C)"), col("FailedCall(C)"), col("Retransmissions(C)")
rtts = []
for f in glob.glob(d + "/*_rtt.csv"):
    for r in list(csv.reader(open(f), delimiter=";"))[1:]:
        try:
            rtts.append(float(r[1]))
        except (IndexError, ValueError):
            pass
rtts.sort()
p99 = f"{rtts[int(len(rtts) * 0.99) - 1]:.2f}" if rtts else "?"
made = int(ok) + int(failed) if "?" not in (ok, failed) else 0
msgs = made * float(per_call)
us = f"{int(dt) / int(tick) * 1e6 / msgs:.1f}" if msgs else "?"
print(f"{name:<12} {rate:>6} {ok:>8} {us:>10} {failed:>8} {retrans:>8} {p99:>8}")
PY
}

for rate in $rates; do
    [ -n "${RELAY_BEFORE:-}" ] && step relay-before $before_port $before_pid $rate
    step sipsec-relay $relay_port $relay_pid $rate
    step kamailio $kam_port $kam_pid $rate
done
