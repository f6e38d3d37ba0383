#!/bin/sh
# The test command of the README and of CI: formatting, lints, every test, with the real
# peers installed, the demo (the README's first command; its output shown only if it fails),
# then the Debian package built, installed and checked (scripts/deb.sh). With
# SIPSEC_REQUIRE_PEERS=1 (CI sets it) a test whose peer is missing fails instead of skipping.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh --peers
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
./scripts/demo.sh >target/demo.out 2>&1 || { cat target/demo.out; exit 1; }
./scripts/deb.sh
