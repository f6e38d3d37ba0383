# Sourced by scripts/demo.sh and scripts/bench/live.sh: processes run in the background, each
# under a timeout, all stopped when the script ends (and the temporary folder $work removed),
# and bounded waits for what they print. Needs $work.
pids=""
stop_all() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    pids=""
}
trap 'stop_all; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
# run SECONDS LOG COMMAND...: in the background in $work, its output in $work/LOG; its pid (the
# timeout's, which passes SIGTERM on) in $last and $pids.
run() {
    secs=$1; log=$2; shift 2
    (cd "$work" && exec timeout "$secs" "$@" >"$work/$log" 2>&1) &
    last=$!
    pids="$pids $last"
}
# wait_for FILE TEXT WHAT: until FILE holds TEXT, 10 s at most; else FILE is shown and the
# script exits 1.
wait_for() {
    tries=0
    until grep -qF -- "$2" "$1" 2>/dev/null; do
        tries=$((tries + 1))
        if [ "$tries" -gt 100 ]; then
            cat "$1" >&2 || true
            echo "$0: $3: not seen within 10 s" >&2
            exit 1
        fi
        sleep 0.1
    done
}
# wait_listening tcp|udp PORT WHAT: until something listens on PORT over IPv4 (read from
# /proc/net, which needs no tool; a TCP port counts only in state LISTEN, not the TIME_WAIT of
# an earlier connection from it), 10 s at most; else the script exits 1.
wait_listening() {
    tries=0
    until awk -v port="$(printf ':%04X' "$2")" -v proto="$1" '
        substr($2, length($2) - 4) == port && (proto == "udp" || $4 == "0A") { found = 1 }
        END { exit !found }' "/proc/net/$1"; do
        tries=$((tries + 1))
        if [ "$tries" -gt 100 ]; then
            echo "$0: $3: not listening on $1 port $2 within 10 s" >&2
            exit 1
        fi
        sleep 0.1
    done
}
