#!/bin/sh
# sipsec-relay under load and under attack, on loopback: SIPp calls (INVITE/180/200/ACK/BYE/200,
# UDP, from 127.0.0.5 through the relay to a SIPp uas) at a steady legitimate rate, first alone,
# then while scripts/bench/relay_attackers.py runs at the same time: a TCP next hop that never
# reads (fed by UDP INVITEs the relay routes there), 5,000 idle TCP connections, a UDP garbage
# flood and forged responses. The relay runs with its default limits except --max-connections
# (raised so that the idle connections are accepted and cost what they cost).
# For each phase it prints: calls completed and failed (target 0 failed), retransmissions,
# CPU µs of the relay per legitimate forwarded message, peak RSS (VmHWM), threads, and the
# relay's counters for the attack.
# The legitimate caller is one source address: its rate (3 requests a call) stays under the
# relay's default --request-rate (500/s), so its calls are not slowed by the limit itself.
# Usage: scripts/bench/relay-attack.sh [CALLS_PER_S [SECONDS [IDLE]]]   (default 150 20 5000)
set -eu
cd "$(dirname "$0")/../.."
rate=${1:-150}
secs=${2:-20}
idle=${3:-5000}
uas_port=27080; relay_port=27060; wedge_port=27090
tick=$(getconf CLK_TCK)
work=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

for tool in sipp python3; do
    command -v $tool >/dev/null || { echo "relay-attack bench: $tool missing (scripts/setup.sh --peers)" >&2; exit 3; }
done
# The relay and the idle connections each need a descriptor per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -gt $((idle + 500)) ] || { echo "relay-attack bench: ulimit -n $(ulimit -n) is too low for $idle connections" >&2; exit 3; }
cargo build --release --quiet --bin sipsec-relay
relay=target/release/sipsec-relay

(cd "$work" && exec sipp -sn uas -i 127.0.0.1 -p $uas_port -nostdin -bg >/dev/null 2>&1) || true
sleep 0.5
uas_pid=$(pgrep -n -f "sipp -sn uas -i 127.0.0.1 -p $uas_port" || true)
[ -n "$uas_pid" ] && pids="$pids $uas_pid"

status_field() { # pid field
    sed -n "s/^$2:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$1/status"
}
cpu_ticks() {
    set -- $(sed 's/^.*) //' "/proc/$1/stat")
    echo $((${12} + ${13}))
}
counter() { # name
    sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" "$work/relay.status"
}

printf '%-8s %6s %7s %7s %8s %12s %9s %8s\n' phase rate ok failed retrans 'µs/legit msg' 'peak RSS' threads
per_call=""
phase() { # name attack(0|1)
    name=$1; attack=$2
    $relay --listen udp:127.0.0.1:$relay_port --listen tcp:127.0.0.1:$relay_port -q \
        --route 127.0.0.1=udp:127.0.0.1:$uas_port --route wedge.test=tcp:127.0.0.1:$wedge_port \
        --max-connections $((idle + 1000)) --status-file "$work/relay.status" &
    relay_pid=$!
    pids="$pids $relay_pid"
    sleep 0.5
    if [ "$attack" = 1 ]; then
        python3 scripts/bench/relay_attackers.py $relay_port $wedge_port $((secs + 6)) $idle \
            > "$work/attack.out" &
        attack_pid=$!
        pids="$pids $attack_pid"
        sleep 3
    fi
    dir="$work/$name"; mkdir -p "$dir"
    before=$(cpu_ticks $relay_pid)
    (cd "$dir" && timeout $((secs * 3 + 30)) sipp -sn uac 127.0.0.1:$relay_port -s service \
        -i 127.0.0.5 -p 27070 -m $((rate * secs)) -r $rate -d 0 -nostdin -trace_stat -fd 1 \
        >/dev/null 2>&1) || true
    after=$(cpu_ticks $relay_pid)
    threads=$(status_field $relay_pid Threads)
    kill -USR1 $relay_pid; sleep 0.3
    [ "$attack" = 1 ] && wait $attack_pid
    hwm=$(status_field $relay_pid VmHWM)
    kill -USR1 $relay_pid; sleep 0.3
    kill $relay_pid; wait $relay_pid 2>/dev/null || true
    set -- $(python3 - "$dir" <<'PY'
import csv, glob, sys
stat = [s for s in glob.glob(sys.argv[1] + "/*.csv") if not s.endswith("_rtt.csv")]
rows = list(csv.reader(open(stat[0]), delimiter=";")) if stat else []
if len(rows) > 1:
    h, last = rows[0], rows[-1]
    print(*(last[h.index(n)] for n in ("SuccessfulCall(C)", "FailedCall(C)", "Retransmissions(C)")))
else:
    print("0 ? ?")
PY
)
    ok=$1; failed=$2; retrans=$3
    if [ -z "$per_call" ] && [ "$ok" -gt 0 ]; then
        per_call=$(python3 -c "print($(counter out_udp) / $ok)")
    fi
    us=$(python3 -c "print(f'{($after - $before) / $tick * 1e6 / ($ok * $per_call):.1f}' if $ok else '?')")
    printf '%-8s %6s %7s %7s %8s %12s %6s MB %8s\n' "$name" "$rate" "$ok" "$failed" "$retrans" \
        "$us" "$((hwm / 1024))" "$threads"
    if [ "$attack" = 1 ]; then
        cat "$work/attack.out"
        echo "relay counters: $(cat "$work/relay.status")"
    fi
}
phase calm 0
phase attack 1
