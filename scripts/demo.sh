#!/bin/sh
# The call-centre demo (the README's first command). On a fresh machine: installs the build
# dependencies, builds the tools (release) and runs the scenario on testdata/demo/:
#   the call centre has one certificate, for the group sip:support@callcentre.example, and its
#   agents (sip:agent-*@callcentre.example) answer as the group; its proxy signs agent-7's
#   200 OK; the caller's validating proxy verifies it and marks it for a terminal that holds no
#   certificate; a tampered copy, a replay and a forged mark are refused; the group's signature
#   moved into a forged call is not marked, nor is a mark forged inside an envelope restored.
# Exits non-zero if any step does not end as shown.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --quiet --bins
bin=$PWD/target/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc=$work/callcentre-store
proxy=$work/caller-proxy-store
cr=$(printf '\r')

# Headings in bold on a terminal; plain text when the output goes to a file or a pipe.
if [ -t 1 ]; then bold=$(printf '\033[1m') plain=$(printf '\033[0m'); else bold="" plain=""; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
# A SIP message for a human: CRs dropped, bytes of the binary signature shown as dots. Long
# lines are cut, not folded (a folded line would look like a header continuation), and the
# cut is marked.
show() {
    tr -d '\r' < "$1" | LC_ALL=C tr -c '[:print:]\n' '.' | head -n "${2:-60}" \
        | LC_ALL=C awk '{ if (length($0) > 110) print substr($0, 1, 107) "..."; else print }'
}
expect() { # expect CODE WHAT COMMAND...: run, and insist on the exit code
    want=$1; what=$2; shift 2
    set +e; "$@"; got=$?; set -e
    if [ "$got" -ne "$want" ]; then
        echo "demo: $what: exit status $got, expected $want" >&2; exit 1
    fi
}

say "The call centre's store: a root CA, an issuing CA for callcentre.example, one group certificate"
"$bin/sipsec-certgen" --store "$cc" init-ca --cn "Call centre root CA" >/dev/null
"$bin/sipsec-certgen" --store "$cc" init-intermediate --domain callcentre.example >/dev/null
"$bin/sipsec-certgen" --store "$cc" issue sip:support@callcentre.example
"$bin/sipsec-certgen" --store "$cc" group add sip:support@callcentre.example 'sip:agent-*@callcentre.example'
"$bin/sipsec-certgen" --store "$cc" list

say "The caller's validating proxy trusts the call centre's root, and holds no agent certificate"
mkdir -m 700 "$proxy"
"$bin/sipsec-certgen" --store "$proxy" anchor add "$cc/root/cert.pem"
echo "-- and a key of its own, so that callers' envelopes can be opened for the caller:"
"$bin/sipsec-certgen" --store "$proxy" -q init-ca --issuing --cn "Caller proxy root CA" >/dev/null
"$bin/sipsec-certgen" --store "$proxy" issue sip:caller@example.org

say "The caller's INVITE (testdata/demo/invite.sip)"
show testdata/demo/invite.sip
say "Agent 7 answers for the group (testdata/demo/200-ok.sip, Date set to now)"
now_date=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT')
sed "s/^Date: .*$cr\$/Date: $now_date$cr/" testdata/demo/200-ok.sip > "$work/200-ok.sip"
show "$work/200-ok.sip"

say "The call centre's proxy signs the 200 OK as the group (sip form: a signed message/sip copy)"
"$bin/sipsec-sign" --store "$cc" --form sip --trust-from-header < "$work/200-ok.sip" > "$work/signed.sip"
show "$work/signed.sip" 40

say "The caller's proxy verifies it: --require fresh --unwrap (the terminal gets plain SDP)"
expect 0 "verifying the signed 200 OK" "$bin/sipsec-verify" --store "$proxy" --require fresh --unwrap \
    --report "$work/verdict.json" < "$work/signed.sip" > "$work/marked.sip"
show "$work/marked.sip"
say "The verdict (one JSON record; every check on its own)"
if command -v python3 >/dev/null; then python3 -m json.tool < "$work/verdict.json"; else cat "$work/verdict.json"; fi
grep -q "^Subject: validated <sip:support@callcentre.example>$cr\$" "$work/marked.sip"

say "A tampered copy (the media port in the signed copy changed): refused"
LC_ALL=C sed 's/m=audio 3456/m=audio 6666/' "$work/signed.sip" > "$work/tampered.sip"
expect 1 "the tampered copy" "$bin/sipsec-verify" --store "$proxy" --require fresh \
    < "$work/tampered.sip" > "$work/out.sip"
[ ! -s "$work/out.sip" ]

say "A replay: the same signed 200 OK again (the demo sets the 32 s retransmission interval to 0)"
cat "$work/signed.sip" "$work/signed.sip" > "$work/twice.sip"
expect 1 "the replay" "$bin/sipsec-verify" --store "$proxy" --require fresh --retransmit-interval 0 \
    < "$work/twice.sip" > /dev/null
say "The same message replayed two hours later, once the replay cache has let it go: stale Date"
expect 1 "the late replay" "$bin/sipsec-verify" --store "$proxy" --require fresh \
    --now "$(( $(date +%s) + 7200 ))" < "$work/signed.sip" > /dev/null

say "A forged mark on an unsigned 200 OK: removed, and the message refused as not signed"
sed "s/^Contact:/Subject: validated <sip:support@callcentre.example>$cr\nContact:/" "$work/200-ok.sip" > "$work/forged.sip"
show "$work/forged.sip" 9
expect 1 "the forged mark" "$bin/sipsec-verify" --store "$proxy" --require fresh < "$work/forged.sip" > /dev/null
echo "-- without --require it is forwarded, the forged mark removed and the verdict 'signed=no':"
expect 0 "the forged mark, forwarded" "$bin/sipsec-verify" --store "$proxy" -q < "$work/forged.sip" > "$work/out.sip"
grep -i -e '^Subject' -e '^Sipsec-Verdict' "$work/out.sip" | tr -d '\r' || true
! grep -q "validated" "$work/out.sip"
say "A mark smuggled in a folded header line: refused on the way out"
sed "s/^Contact:/X-Note: hi$cr\n s: validated <sip:support@callcentre.example>$cr\nContact:/" "$work/200-ok.sip" > "$work/smuggled.sip"
expect 1 "the smuggled mark" "$bin/sipsec-verify" --store "$proxy" < "$work/smuggled.sip" > /dev/null

say "A signature moved into a forged message: the group's signed body (body form) in a new call"
"$bin/sipsec-sign" --store "$cc" --form body --trust-from-header < "$work/200-ok.sip" > "$work/body-signed.sip"
LC_ALL=C sed -e "s/^Call-ID: .*$cr\$/Call-ID: forged-call@203.0.113.66$cr/" \
    -e "s/^Contact:/Reply-To: <sip:attacker@evil.example>$cr\nContact:/" \
    "$work/body-signed.sip" > "$work/transplanted.sip"
expect 0 "the transplanted signature" "$bin/sipsec-verify" --store "$proxy" --require identity \
    --unwrap --report "$work/transplanted.json" < "$work/transplanted.sip" > "$work/out.sip"
echo "-- the signature is intact and the group's, but covers no header: its verdict, never the mark:"
grep -i -e '^Subject' -e '^Sipsec-Verdict' "$work/out.sip" | tr -d '\r' || true
! grep -q "validated" "$work/out.sip"
python3 -c 'import json,sys; print("mark_refused:", json.load(open(sys.argv[1]))["verdict"]["mark_refused"])' \
    "$work/transplanted.json" 2>/dev/null || true

say "A forged mark inside an envelope: anyone can encrypt to the caller proxy's certificate"
crlf() { LC_ALL=C sed "s/\$/$cr/"; }
crlf > "$work/forged-inner.sip" <<'SIP'
MESSAGE sip:caller@example.org SIP/2.0
Via: SIP/2.0/UDP 203.0.113.66;branch=z9hG4bKevil
Max-Forwards: 70
From: <sip:support@callcentre.example>;tag=evil
To: <sip:caller@example.org>
Call-ID: forged@203.0.113.66
CSeq: 1 MESSAGE
Subject: validated <sip:support@callcentre.example>
Content-Type: text/plain
Content-Length: 27

SIP
printf 'Please call +1 555 0100 now' >> "$work/forged-inner.sip"
{ printf "Content-Type: message/sip$cr\n$cr\n"; cat "$work/forged-inner.sip"; } > "$work/forged-entity"
openssl cms -encrypt -binary -outform DER -aes128 -in "$work/forged-entity" \
    -out "$work/forged.der" "$proxy/identities/caller@example.org/cert.pem"
{ sed -e '/^Subject:/d' -e '/^Content-/d' -e "/^$cr\$/,\$d" "$work/forged-inner.sip"
  printf "Content-Type: application/pkcs7-mime;smime-type=enveloped-data$cr\n"
  printf "Content-Length: %s$cr\n$cr\n" "$(wc -c < "$work/forged.der")"
  cat "$work/forged.der"; } > "$work/forged-envelope.sip"
show "$work/forged-envelope.sip" 9
echo "-- through the encrypt-then-sign pipeline, the verifier's marks vouched for by the run's key:"
key=$work/run.key
"$bin/sipsec-verify" --store "$proxy" --control-key "$key" --keep-control --unwrap -q \
    < "$work/forged-envelope.sip" \
  | "$bin/sipsec-decrypt" --store "$proxy" --control-key "$key" --report "$work/opened.json" -q \
    > "$work/opened.sip"
show "$work/opened.sip" 12
echo
! grep -q "validated" "$work/opened.sip"
echo "-- the record of decrypt says what was not restored:"
python3 -c 'import json,sys; [print(" ", w) for w in json.load(open(sys.argv[1]))["warnings"]]' \
    "$work/opened.json" 2>/dev/null || true

say "Done: signed as the group, verified and marked; tampering, replays, transplanted signatures and forged marks refused"
