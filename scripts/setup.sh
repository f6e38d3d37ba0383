#!/bin/sh
# Installs what sipsec needs to build (OpenSSL headers, pkg-config, a C compiler for mimalloc).
# With --demo, also what scripts/demo.sh drives: SIPp, and socat, which stands for the caller's
# terminal's TLS stack (Debian's SIPp has no TLS).
# With --peers, the real peers the interop tests drive (openssl CLI, tshark, SIPp, socat,
# sipvicious, Kamailio with its secsipid module, secsipidx, Python cryptography for an independent
# JWS check, and two CMS implementations that are not OpenSSL: Bouncy Castle with a JDK to compile
# tests/interop/CmsCheck.java, and gpgsm with the gpg-agent that holds its keys), sipgrep for the
# capture benchmark, and what scripts/deb.sh needs (cargo-deb, man). Debian/Ubuntu; idempotent.
set -eu
want="libssl-dev pkg-config openssl gcc"
if [ "${1:-}" = "--demo" ]; then
    want="$want sip-tester socat"
fi
if [ "${1:-}" = "--peers" ]; then
    want="$want tshark sip-tester socat kamailio man-db secsipidx kamailio-secsipid-modules python3-cryptography sipvicious"
    want="$want default-jdk-headless libbcprov-java libbcpkix-java libbcutil-java gpgsm gpg-agent"
    # The reference of scripts/bench/capture.sh.
    want="$want sipgrep"
    # Built once into ~/.cargo/bin (a few minutes), then found there.
    if ! cargo deb --version >/dev/null 2>&1; then
        echo "sipsec setup: installing cargo-deb" >&2
        cargo install cargo-deb --version 3.8.0 --locked --quiet
    fi
fi
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"
echo "sipsec setup: installing$missing" >&2
$as_root apt-get update -qq
# tshark asks whether non-root users may capture; answer no, non-interactively.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $as_root debconf-set-selections
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq $missing >/dev/null
