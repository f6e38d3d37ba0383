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
