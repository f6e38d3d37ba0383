#!/bin/sh
# The test command of the README and of CI: formatting, lints, every test, with the real
# peers installed, then the Debian package built, installed and checked (scripts/deb.sh). With
# SIPSEC_REQUIRE_PEERS=1 (CI sets it) a test whose peer is missing fails instead of skipping.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh --peers
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
./scripts/deb.sh
