#!/bin/sh
# The call centre's relay signing live: SIPp calls (INVITE/200/ACK/BYE/200, testdata/relay/caller.xml
# over UDP) through sipsec-relay to agent 7 (SIPp, registered with digest over TCP), every 200 OK
# to INVITE signed as the group on the --outbound chain, with an RSA-2048 and a P-256 group
# certificate. For each chain and key it prints calls per CPU second of the relay (utime+stime
# from /proc/PID/stat before and after, the relay's children and reaped children included) and
# its ratio to the bare signing rate of the same key, measured in the same run: CMS signatures
# per CPU second with the very key, certificate and chain the relay signs with
# (`sipsec-bench-messages sign-rate`, best of three). Both in CPU seconds, so that other work on
# a shared machine does not stretch one and not the other. Target: in process >= 0.8 of it.
# Chains:
#   none        the relay without --outbound (forwarding and digest only; for reference)
#   in-process  --outbound 'sipsec-sign --store S' (runs inside the relay)
#   child       --outbound '/abs/path/sipsec-sign --store S' (a long-lived child on the framed stream)
# Columns: calls completed and failed (SIPp's statistics), messages the relay counted as signed
# (in process only: a child's signatures are not counted), whether one more traced call's 200 OK
# came signed, the relay's CPU seconds, completed calls per CPU second, the bare rate, the ratio.
# Then where a call's CPU goes, in µs: the relay's CPU per call; what the chain adds to the same
# key's `none` row (signing and the hand-off to the chain's thread and back); one bare signature;
# and what the 0.8 target leaves for everything but the signature (1/(0.8 x bare) - 1/bare),
# to set against `none`, the relay's cost of forwarding the call with no chain at all.
# Usage: scripts/bench/live.sh [CALLS [RATE]]   (default 5000 calls at 500 calls/s per step)
set -eu
cd "$(dirname "$0")/../.."
calls=${1:-5000}
rate=${2:-500}
tick=$(getconf CLK_TCK)
for tool in sipp python3; do
    command -v $tool >/dev/null || { echo "live bench: $tool missing (scripts/setup.sh --peers)" >&2; exit 3; }
done
work=$(mktemp -d)
. scripts/background.sh

export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
cargo build --release --quiet --bin sipsec-relay --bin sipsec-sign --bin sipsec-certgen \
    --example sipsec-bench-messages
bin=$PWD/target/release
scenarios=$PWD/testdata/relay

# One store, two groups, one per key type: rsa@callcentre.example (its agent: rsa-agent-7) and
# p256@callcentre.example (p256-agent-7).
store=$work/store
"$bin/sipsec-certgen" --store "$store" -q init-ca >/dev/null
"$bin/sipsec-certgen" --store "$store" -q init-intermediate --domain callcentre.example >/dev/null
for key in rsa2048 p256; do
    group=${key%2048}
    "$bin/sipsec-certgen" --store "$store" -q issue --key-type $key "sip:$group@callcentre.example" >/dev/null
    "$bin/sipsec-certgen" --store "$store" -q group add "sip:$group@callcentre.example" "sip:$group-agent-*@callcentre.example"
    echo bench-pw | "$bin/sipsec-certgen" --store "$store" -q member add "sip:$group-agent-7@callcentre.example" \
        --algorithm md5 >/dev/null
done

# bare KEY: signatures per CPU second of the group's own identity, the best of three runs.
bare() {
    id=sip:${1%2048}@callcentre.example
    signs=2000
    [ "$1" = p256 ] && signs=10000
    best=0
    for _ in 1 2 3; do
        rate_now=$(target/release/examples/sipsec-bench-messages sign-rate "$store" "$id" $signs)
        best=$(python3 -c 'import sys; print(max(map(float, sys.argv[1:])))' "$best" "$rate_now")
    done
    echo "$best"
}

# Ports below the ephemeral range (32768-60999), from the process id.
base=$((10000 + $$ % 1000 * 10))
relay_port=$base
# CPU ticks of a process, its reaped children and its living children (a child chain's stage).
ticks() {
    total=0
    for stat in /proc/[0-9]*/stat; do
        set -- $(sed 's/^.*) //' "$stat" 2>/dev/null) || continue
        pid=${stat#/proc/}; pid=${pid%/stat}
        # after "comm) ": $1 state $2 ppid ... $12 utime $13 stime $14 cutime $15 cstime
        if [ "$pid" = "$root" ]; then
            total=$((total + ${12} + ${13} + ${14} + ${15}))
        elif [ "${2:-}" = "$root" ]; then
            total=$((total + ${12} + ${13}))
        fi
    done
    echo $total
}
counter() { # counter NAME: from the relay's status file, after SIGUSR1
    : > "$work/relay.status"
    kill -USR1 "$root"
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        [ -s "$work/relay.status" ] && break
        sleep 0.1
    done
    value=$(tr ' ' '\n' < "$work/relay.status" | sed -n "s/^$1=//p")
    echo "${value:-0}"
}
echo "$calls calls at $rate calls/s per step; bare = CMS signatures per CPU second, same key, same run"
printf '%-11s %-8s %7s %6s %7s %7s %6s %11s %10s %6s %8s %8s %8s %8s\n' chain key calls failed signed \
    traced 'CPU s' 'calls/CPU s' 'bare/CPU s' ratio 'µs/call' 'chain µs' 'sign µs' 'budget'
for chain in none in-process child; do
    case $chain in
        none) outbound="" ;;
        in-process) outbound="sipsec-sign --store $store" ;;
        child) outbound="$bin/sipsec-sign --store $store" ;;
    esac
    run 600 "relay-$chain.log" "$bin/sipsec-relay" --listen "udp:127.0.0.1:$relay_port" \
        --listen "tcp:127.0.0.1:$relay_port" --domain callcentre.example \
        --credentials "$store/credentials" --store "$store" --digest-algorithm md5 \
        ${outbound:+--outbound "$outbound"} --status-file "$work/relay.status"
    wait_for "$work/relay-$chain.log" "listening on" "the relay ($chain)"
    root=$(pgrep -n -P "$last" sipsec-relay)
    for key in rsa2048 p256; do
        group=${key%2048}
        agent_port=$((base + 1))
        [ $key = p256 ] && agent_port=$((base + 2))
        # Agent 7 registers the group's address (digest) and answers every call routed to it.
        registered=$(counter auth_passed)
        run 600 agent.out sipp "127.0.0.1:$relay_port" -t t1 -i 127.0.0.1 -p "$agent_port" \
            -sf "$scenarios/agent_register.xml" -oocsf "$scenarios/agent_uas.xml" -s "$group" \
            -key domain callcentre.example -au "$group-agent-7" -ap bench-pw -m 1 -d 600000 -nostdin
        agent=$last
        for try in $(seq 101); do
            [ "$(counter auth_passed)" -gt "$registered" ] && break
            [ "$try" -le 100 ] || { echo "live bench: $group-agent-7 did not register" >&2; exit 1; }
            sleep 0.1
        done
        # A warm-up, then the measured calls.
        for step in warm measured; do
            n=$calls
            [ $step = warm ] && n=$((rate < calls ? rate : calls))
            signed_before=$(counter signed)
            before=$(ticks)
            rm -f "$work/calls.csv"
            (cd "$work" && timeout $((n / rate * 3 + 60)) sipp "127.0.0.1:$relay_port" -t u1 -i 127.0.0.1 \
                -p $((base + 3)) -sf "$scenarios/caller.xml" -s "$group" -key domain callcentre.example \
                -m "$n" -r "$rate" -l $((rate * 4)) -nostdin -trace_stat -stf "$work/calls.csv" -fd 600 \
                >/dev/null 2>&1) || true
            after=$(ticks)
            signed=$(($(counter signed) - signed_before))
        done
        # The relay counts signatures made in process only: one more call, traced, shows that a
        # child chain signs too.
        (cd "$work" && timeout 30 sipp "127.0.0.1:$relay_port" -t u1 -i 127.0.0.1 -p $((base + 3)) \
            -sf "$scenarios/caller.xml" -s "$group" -key domain callcentre.example -m 1 -nostdin \
            -trace_msg -message_file "$work/traced.msg" >/dev/null 2>&1) || true
        grep -q "^Content-Type: multipart/signed" "$work/traced.msg" && traced=signed || traced=plain
        rm -f "$work/traced.msg"
        kill "$agent" 2>/dev/null || true
        python3 - "$work/calls.csv" "$chain" "$key" "$signed" "$traced" "$((after - before))" "$tick" \
            "$(bare $key)" "$work/none-$key" <<'PY'
import csv, sys
stat, chain, key, signed, traced, dt, tick, bare, none_file = sys.argv[1:]
rows = list(csv.reader(open(stat), delimiter=";"))
col = lambda name: int(rows[-1][rows[0].index(name)])
ok, failed = col("SuccessfulCall(C)"), col("FailedCall(C)")
cpu = int(dt) / int(tick)
per_cpu = ok / cpu if cpu else float("inf")
ratio = f"{per_cpu / float(bare):.2f}" if chain != "none" else "-"
us_call = 1e6 / per_cpu if per_cpu else 0.0
sign_us = 1e6 / float(bare)
budget = 1e6 / (0.8 * float(bare)) - sign_us
if chain == "none":
    open(none_file, "w").write(str(us_call))
    added = "-"
else:
    try:
        added = f"{us_call - float(open(none_file).read()):.0f}"
    except (OSError, ValueError):
        added = "?"
print(f"{chain:<11} {key:<8} {ok:>7} {failed:>6} {signed:>7} {traced:>7} {cpu:>6.2f} {per_cpu:>11.0f} "
      f"{float(bare):>10.0f} {ratio:>6} {us_call:>8.0f} {added:>8} {sign_us:>8.0f} {budget:>8.0f}")
PY
    done
    stop_all
    wait 2>/dev/null || true
done
echo "openssl speed (reference):"
openssl speed -seconds 2 rsa2048 ecdsap256 2>/dev/null | grep -E "^(rsa 2048|.*256 bits ecdsa)" || true
