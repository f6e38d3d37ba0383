#!/bin/sh
# The Debian package, end to end: builds it with cargo-deb (release binaries, man pages,
# completions, the relay's systemd unit and example configuration), installs it with apt-get,
# checks what it installed (the example configuration passes `sipsec-relay --check-config`, a
# man page renders from /usr/share/man, the unit verifies where systemd-analyze exists), and
# removes it again. scripts/test.sh runs it after the tests. Without dpkg or cargo-deb it skips
# with a note; with SIPSEC_REQUIRE_PEERS=1 (CI) it fails instead.
set -eu
cd "$(dirname "$0")/.."
missing() {
    if [ "${SIPSEC_REQUIRE_PEERS:-}" = 1 ]; then
        echo "scripts/deb.sh: $1, and SIPSEC_REQUIRE_PEERS=1" >&2
        exit 1
    fi
    echo "note: skipping the Debian package test: $1" >&2
    exit 0
}
command -v dpkg >/dev/null || missing "dpkg is missing (not a Debian system)"
cargo deb --version >/dev/null 2>&1 || missing "cargo-deb is missing (scripts/setup.sh --peers installs it)"
as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"
fail() { echo "scripts/deb.sh: $*" >&2; exit 1; }

deb=$(cargo deb --locked --quiet | tail -n 1)
[ -f "$deb" ] || fail "cargo deb made no package (it printed: $deb)"
trap '$as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq sipsec >/dev/null' EXIT
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "$deb" >/dev/null

/usr/bin/sipsec-relay --config /etc/sipsec/relay.conf --check-config \
    || fail "the installed example configuration does not pass --check-config"
for page in sipsec-relay sipsec-certgen-issue; do
    man -l "/usr/share/man/man1/$page.1.gz" 2>/dev/null | grep -q "^NAME" \
        || fail "man page $page does not render from /usr/share/man/man1"
done
man -l /usr/share/man/man1/sipsec-relay.1.gz | grep -q "SIGHUP" \
    || fail "the installed sipsec-relay(1) does not say what SIGHUP does"
for f in /usr/share/bash-completion/completions/sipsec-certgen \
    /usr/share/zsh/vendor-completions/_sipsec-sign /usr/share/fish/vendor_completions.d/sipsec-verify.fish \
    /lib/systemd/system/sipsec-relay.service; do
    [ -f "$f" ] || fail "$f not installed"
done
getent passwd sipsec >/dev/null || fail "the package made no sipsec user"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /lib/systemd/system/sipsec-relay.service \
        || fail "systemd-analyze verify refuses the unit"
fi
echo "scripts/deb.sh: $(basename "$deb") builds, installs and checks"
