#!/bin/sh
# The call-centre demo (README's first command). Until the sign and verify tools land, it runs
# the filter driver over the shipped RFC 4475 torture corpus and shows what it accounts for.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --quiet --example sipsec-identity
bin=target/release/examples/sipsec-identity
echo "== the RFC 4475 torture messages through the sipsec filter driver (one JSON record each)"
status=0
"$bin" --datagram --json testdata/corpus/rfc4475/*.dat || status=$?
echo "== exit status $status (1: some inputs were refused, as the torture corpus intends)"
