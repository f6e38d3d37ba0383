# Shared set-up of the benchmark scripts: builds the tools and the message generator, makes a
# temporary store. Sourced; sets n (from $1 or $default_n), bin, work, store.
set -eu
cd "$(dirname "$0")/../.."
n=${1:-$default_n}
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
cargo build --release --quiet --bins --example sipsec-bench-messages
bin=target/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
store=$work/store
"$bin/sipsec-certgen" --store "$store" -q init-ca >/dev/null
# Runs a command, its output discarded, and prints its own CPU seconds (user + system), its peak
# RSS in KiB and its exit code. The child's own rusage, from os.wait4: RUSAGE_CHILDREN would
# also count whatever ran in the python3 process before it (where python3 is a pyenv shim, a
# shell script whose pyenv children charged ~50 ms to every measurement).
cpu_run() {
    python3 - "$@" <<'PY'
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, u = os.wait4(p.pid, 0)
p.returncode = os.waitstatus_to_exitcode(status)
print(f"{u.ru_utime + u.ru_stime:.3f} {u.ru_maxrss} {p.returncode}")
PY
}
