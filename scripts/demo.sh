#!/bin/sh
# The call-centre demo (the README's first command). On a fresh machine it installs what it needs
# (scripts/setup.sh --demo: the build dependencies, SIPp and socat), builds the tools and runs,
# on loopback:
#
# Part 1, live. The call centre's relay (sipsec-relay: agents authenticate with digest; its
# --outbound chain signs their messages as the group sip:support@callcentre.example; an audit
# line per signature), the caller's validating relay (routes callcentre.example to it; a TLS
# listener for its terminals; its --inbound chain verifies and marks), SIPp as agent 7 (registers
# with digest, answers) and SIPp as the caller. Debian's SIPp has no TLS: socat stands for the
# caller's terminal's TLS stack (SIPp speaks TCP to socat on loopback, socat TLS to the validating
# relay, checking its certificate). It prints the signed 200 OK between the relays (and has
# `openssl cms -verify` check it), the 200 OK as the caller receives it, marked
# `Subject: validated <sip:support@callcentre.example>`, and the audit line; the same call from a
# terminal over UDP, which gets no mark; then the refusals: a wrong password (401 again, not
# registered), a host answering for agent 7 at its address with a forged control header (not
# signed), and a 200 OK carrying a forged mark (never reaches the caller marked).
#
# Part 2, files (testdata/demo/): the same signature made and checked by the filters on their
# own; a tampered copy, a replay and a forged mark are refused; the group's signature moved into
# a forged call is not marked, nor is a mark forged inside an envelope restored.
#
# Exits non-zero if any step does not end as shown. Every process it starts runs under a
# timeout and is stopped when the demo ends.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh --demo
# The dev profile: from cold it builds in a third of the release profile's time (1 min 12 s
# against 3 min 21 s on a shared 2-core machine), which keeps the demo under two minutes on a
# fresh machine, and ./scripts/test.sh reuses it; a few calls need no optimised code.
cargo build --quiet --bins
bin=$PWD/target/debug
scenarios=$PWD/testdata
work=$(mktemp -d)
. scripts/background.sh
cc=$work/callcentre-store
proxy=$work/caller-proxy-store
cr=$(printf '\r')

# Headings in bold on a terminal; plain text when the output goes to a file or a pipe.
if [ -t 1 ]; then bold=$(printf '\033[1m') plain=$(printf '\033[0m'); else bold="" plain=""; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
part() { printf '\n%s#### %s%s\n' "$bold" "$*" "$plain"; }
# A SIP message for a human: CRs dropped, bytes of the binary signature shown as dots. Long
# lines are cut, not folded (a folded line would look like a header continuation), and the
# cut is marked.
show() {
    tr -d '\r' < "$1" | LC_ALL=C tr -c '[:print:]\n' '.' | head -n "${2:-60}" \
        | LC_ALL=C awk '{ if (length($0) > 110) print substr($0, 1, 107) "..."; else print }'
}
fail() {
    echo "demo: $*" >&2
    exit 1
}
expect() { # expect CODE WHAT COMMAND...: run, and insist on the exit code
    want=$1; what=$2; shift 2
    set +e; "$@"; got=$?; set -e
    [ "$got" -eq "$want" ] || fail "$what: exit status $got, expected $want"
}
# traced received|sent TRACE TEXT: the first SIP message a SIPp trace (-trace_msg) shows as
# received (or sent) whose first line starts with TEXT.
traced() {
    LC_ALL=C awk -v how="message $1" -v want="$3" '
        /^-----------/ { if (p) exit; r = 0; next }
        index($0, how) { r = 1; next }
        r && !p && index($0, want) == 1 { p = 1 }
        p { print }' "$2"
}
# Header lines of a SIP message file whose names start with one of the given words.
headers() {
    file=$1; shift
    pattern=$(printf '^%s|' "$@")
    tr -d '\r' < "$file" | grep -E "${pattern%|}" | cut -c1-110
}

say "The call centre's store: a root CA, an issuing CA for callcentre.example, one group certificate"
"$bin/sipsec-certgen" --store "$cc" init-ca --cn "Call centre root CA" >/dev/null
"$bin/sipsec-certgen" --store "$cc" init-intermediate --domain callcentre.example >/dev/null
"$bin/sipsec-certgen" --store "$cc" issue sip:support@callcentre.example
"$bin/sipsec-certgen" --store "$cc" group add sip:support@callcentre.example 'sip:agent-*@callcentre.example'
echo "-- agent 7's digest credentials (HA1 values, not the password, which is read from stdin):"
echo 's3cret-7' | "$bin/sipsec-certgen" --store "$cc" member add sip:agent-7@callcentre.example \
    --algorithm md5 --algorithm sha-256
"$bin/sipsec-certgen" --store "$cc" list

say "The caller's validating proxy trusts the call centre's root, and holds no agent certificate"
mkdir -m 700 "$proxy"
"$bin/sipsec-certgen" --store "$proxy" anchor add "$cc/root/cert.pem"
echo "-- a CA of its own, the TLS certificate its terminals connect to, and a key so that callers'"
echo "   envelopes can be opened for the caller:"
"$bin/sipsec-certgen" --store "$proxy" -q init-ca --issuing --cn "Caller proxy root CA" >/dev/null
"$bin/sipsec-certgen" --store "$proxy" issue-tls --host proxy.example.org --ip 127.0.0.1
"$bin/sipsec-certgen" --store "$proxy" issue sip:caller@example.org

part "Part 1: live, on loopback"
# Ports from the process id, so that two demos on one machine do not collide, and below the
# ephemeral range (32768-60999), where outgoing connections take theirs.
base=$((20000 + $$ % 1200 * 10))
cc_port=$base             # the call centre's relay, UDP and TCP
tap_port=$((base + 1))    # a TCP hop between the relays that keeps what comes back from the call centre
proxy_port=$((base + 2))  # the validating relay, UDP and TCP
proxy_tls=$((base + 3))   # the validating relay's TLS listener for its terminals
terminal=$((base + 4))    # socat: the caller's terminal's TLS stack
agent_port=$((base + 5))  # agent 7's phone (SIPp)
caller_port=$((base + 6)) # the caller's phone (SIPp)
lookalike=$((base + 7))   # a phone answering calls to a look-alike domain (SIPp)
guesser=$((base + 8))     # someone guessing agent 7's password (SIPp)
sipp_run() { # sipp_run SECONDS NAME ARGS...: SIPp in the foreground, its messages in NAME.msg
    secs=$1; name=$2; shift 2
    (cd "$work" && exec timeout "$secs" sipp "$@" -i 127.0.0.1 -nostdin -trace_msg \
        -message_file "$work/$name.msg" >/dev/null 2>"$work/$name.err")
}

say "The call centre's relay: agents authenticate with digest; --outbound signs as the group"
echo "(MD5 offered first: SIPp 3.6 reads only the first challenge and knows only MD5)"
echo "sipsec-relay --listen udp:127.0.0.1:$cc_port --listen tcp:127.0.0.1:$cc_port --domain callcentre.example \\"
echo "    --credentials CC/credentials --digest-algorithm md5 --digest-algorithm sha-256 --store CC \\"
echo "    --outbound 'sipsec-sign --store CC' --audit-log audit.log"
run 90 callcentre.log "$bin/sipsec-relay" --listen "udp:127.0.0.1:$cc_port" --listen "tcp:127.0.0.1:$cc_port" \
    --domain callcentre.example --credentials "$cc/credentials" --store "$cc" \
    --digest-algorithm md5 --digest-algorithm sha-256 --outbound "sipsec-sign --store $cc" \
    --audit-log "$work/audit.log" -v
wait_for "$work/callcentre.log" "listening on" "the call centre's relay"

say "The caller's validating relay: a TLS listener for its terminals; --inbound verifies and marks"
echo "sipsec-relay --listen udp:127.0.0.1:$proxy_port --listen tcp:127.0.0.1:$proxy_port --listen tls:127.0.0.1:$proxy_tls \\"
echo "    --store PROXY --tls-identity proxy.example.org --domain example.org \\"
echo "    --route callcentre.example=tcp:127.0.0.1:$tap_port --inbound 'sipsec-verify --store PROXY --unwrap'"
echo "(127.0.0.1:$tap_port: a TCP hop to the call centre's relay, socat -R, keeping what comes back)"
run 90 tap.log socat -R "$work/between.raw" "TCP-LISTEN:$tap_port,bind=127.0.0.1,reuseaddr" "TCP:127.0.0.1:$cc_port"
wait_listening tcp "$tap_port" "the hop between the relays"
run 90 proxy.log "$bin/sipsec-relay" --listen "udp:127.0.0.1:$proxy_port" --listen "tcp:127.0.0.1:$proxy_port" \
    --listen "tls:127.0.0.1:$proxy_tls" --store "$proxy" --tls-identity proxy.example.org \
    --domain example.org --route "callcentre.example=tcp:127.0.0.1:$tap_port" \
    --route "callcentre-support.example=udp:127.0.0.1:$lookalike" \
    --inbound "sipsec-verify --store $proxy --unwrap" -v
wait_for "$work/proxy.log" "listening on" "the validating relay"
echo "-- the caller's terminal reaches it over TLS; socat stands for the terminal's TLS stack:"
echo "   SIPp -> TCP 127.0.0.1:$terminal -> socat -> TLS, the relay's certificate checked against the proxy's CA"
run 90 terminal.log socat "TCP-LISTEN:$terminal,bind=127.0.0.1,fork,reuseaddr" \
    "OPENSSL:127.0.0.1:$proxy_tls,cafile=$proxy/ca/cert.pem,verify=1"
wait_listening tcp "$terminal" "the caller's terminal's TLS stack"

say "Agent 7's phone (SIPp) registers the group's address with its own digest credentials"
run 60 agent.out sipp "127.0.0.1:$cc_port" -t t1 -p "$agent_port" -i 127.0.0.1 -nostdin \
    -sf "$scenarios/relay/agent_register.xml" -oocsf "$scenarios/relay/agent_uas.xml" \
    -s support -key domain callcentre.example -au agent-7 -ap s3cret-7 -m 1 -d 50000 \
    -trace_msg -message_file "$work/agent.msg"
agent=$last
wait_for "$work/callcentre.log" "REGISTER support@callcentre.example: 1 binding(s)" "agent 7's registration"
echo "-- the challenge it answered (one nonce; MD5 and SHA-256):"
traced received "$work/agent.msg" "SIP/2.0 401" |
    sed 's/nonce="[^"]*\([^"]\{12\}\)"/nonce="...\1"/' > "$work/challenge.sip"
headers "$work/challenge.sip" SIP WWW-Authenticate
echo "-- the relay's log:"
grep "REGISTER from" "$work/callcentre.log"

say "The caller (SIPp, through its TLS terminal) calls sip:support@callcentre.example; agent 7 answers"
expect 0 "the call" sipp_run 30 caller "127.0.0.1:$terminal" -t t1 -p "$caller_port" \
    -sf "$scenarios/demo/caller_tls.xml" -s support -key domain callcentre.example -m 1
echo "-- between the relays, the 200 OK went signed as the group: its head, then its parts' heads"
echo "   (the agent's 200 OK as message/sip, and the signature):"
sed "/^$cr\$/q" "$work/between.raw" > "$work/between-head.sip"
show "$work/between-head.sip"
LC_ALL=C grep -a -E "^(--sipsec|Content-(Type|Disposition|Transfer-Encoding):)" "$work/between.raw" |
    tail -n +2 | head -n 7 | tr -d '\r' | sed 's/^/    /'
grep -q "^Content-Type: multipart/signed" "$work/between.raw" || fail "the 200 OK between the relays is not signed"
echo "-- OpenSSL, on its own, verifies the group's signature on it against the call centre's root:"
# The first message's parts, cut out by byte offset: part 1 (what was signed) runs from after
# the first delimiter line to the CRLF before the second; part 2 holds the signature (binary
# DER) after its header lines, up to the CRLF before the closing delimiter.
boundary=$(sed -n 's/^Content-Type: multipart\/signed;.*boundary=\([^;"[:space:]]*\).*/\1/p' \
    "$work/between.raw" | head -n 1)
delimiters=$(LC_ALL=C grep -abo -e "--$boundary" "$work/between.raw" | head -n 3 | cut -d: -f1 | tr '\n' ' ')
set -- $delimiters
[ $# -eq 3 ] || fail "the signed 200 OK between the relays has no two parts"
after_delimiter=$((${#boundary} + 4))
tail -c +$(($1 + after_delimiter + 1)) "$work/between.raw" | head -c $(($2 - 2 - $1 - after_delimiter)) \
    > "$work/signed-part.bin"
tail -c +$(($2 + after_delimiter + 1)) "$work/between.raw" | head -c $(($3 - 2 - $2 - after_delimiter)) \
    > "$work/signature-part.bin"
part_headers=$(sed "/^$cr\$/q" "$work/signature-part.bin" | wc -c)
tail -c +$((part_headers + 1)) "$work/signature-part.bin" > "$work/signature.der"
expect 0 "openssl cms -verify" openssl cms -verify -binary -inform DER -in "$work/signature.der" \
    -content "$work/signed-part.bin" -CAfile "$cc/root/cert.pem" -purpose any -out /dev/null
grep -q "^o=agent7" "$work/signed-part.bin" || fail "the signature does not cover agent 7's SDP"

say "The 200 OK as the caller receives it (SIPp's trace): the plain SDP, marked"
traced received "$work/caller.msg" "SIP/2.0 200" > "$work/caller-200.sip"
show "$work/caller-200.sip"
grep -q "^Subject: validated <sip:support@callcentre.example>$cr\$" "$work/caller-200.sip" ||
    fail "the caller's 200 OK is not marked"
say "The call centre's audit log: one line per signature made as the group"
cat "$work/audit.log"
[ "$(wc -l < "$work/audit.log")" -eq 1 ] || fail "expected one audit line"
grep -q '"member":"sip:agent-7@callcentre.example"' "$work/audit.log" || fail "the audit line names no agent 7"

say "Kept off a plain last hop: the same call from a terminal over UDP arrives without the mark"
echo "-- (on a plain hop anyone on the path could add a mark, so the relay sends marks only over TLS)"
expect 0 "the call over UDP" sipp_run 30 caller-udp "127.0.0.1:$proxy_port" -t u1 -p "$caller_port" \
    -sf "$scenarios/relay/caller.xml" -s support -key domain callcentre.example -m 1
traced received "$work/caller-udp.msg" "SIP/2.0 200" > "$work/udp-200.sip"
headers "$work/udp-200.sip" SIP To Subject Sipsec Content-Type
! grep -q -e "^Subject" -e "^Sipsec-Verdict" "$work/udp-200.sip" || fail "a mark went out over UDP"
[ "$(wc -l < "$work/audit.log")" -eq 2 ] || fail "expected a second audit line for the second call"

say "Refused: a wrong password (SIPp registering as agent 7 with a guess gets 401 again)"
sed 's|<recv response="200"/>|<recv response="401"/>|' "$scenarios/relay/register_digest.xml" \
    > "$work/wrong_password.xml"
expect 0 "the wrong password" sipp_run 30 guesser "127.0.0.1:$cc_port" -t u1 -p "$guesser" \
    -sf "$work/wrong_password.xml" -s support -key domain callcentre.example \
    -au agent-7 -ap guess -m 1
grep "from udp:127.0.0.1:$guesser" "$work/callcentre.log"
grep -q "from udp:127.0.0.1:$guesser: 401 .*wrong-password" "$work/callcentre.log" ||
    fail "the wrong password was not refused as one"
! grep -q "from udp:127.0.0.1:$guesser: 200" "$work/callcentre.log" || fail "registered with a wrong password"

say "Refused: a host answering for agent 7 (its phone has gone, another host took its address)"
kill "$agent"
wait_for "$work/callcentre.log" "connection tcp:127.0.0.1:$agent_port closed" "agent 7's phone leaving"
echo "-- the call goes to agent 7's contact, but not over the connection agent 7 authenticated on;"
echo "   the host's 200 OK claims agent 7 in a forged control header:"
forged_control='Sipsec-Control: v1 1 data eyJzZXEiOjEsImF0dHJpYnV0aW9uIjoic2lwOmFnZW50LTdAY2FsbGNlbnRyZS5leGFtcGxlIn0 00'
run 30 impostor.out sipp -sf "$scenarios/demo/impostor_uas.xml" -t t1 -p "$agent_port" -i 127.0.0.1 -nostdin \
    -s support -key forged "$forged_control" -m 1 -trace_msg -message_file "$work/impostor.msg"
impostor=$last
wait_listening tcp "$agent_port" "the host at agent 7's address"
expect 0 "the call answered by the impostor" sipp_run 30 caller-impostor "127.0.0.1:$terminal" \
    -t t1 -p "$caller_port" -sf "$scenarios/demo/caller_tls.xml" -s support \
    -key domain callcentre.example -m 1
expect 0 "the impostor" wait "$impostor"
traced sent "$work/impostor.msg" "SIP/2.0 200" > "$work/impostor-sent.sip"
headers "$work/impostor-sent.sip" SIP Sipsec-Control
echo "-- as the caller receives it: not signed, so not marked:"
traced received "$work/caller-impostor.msg" "SIP/2.0 200" > "$work/impostor-200.sip"
headers "$work/impostor-200.sip" SIP To Subject Sipsec Content-Type
grep -q "^Sipsec-Verdict: signed=no$cr\$" "$work/impostor-200.sip" || fail "the impostor's 200 OK was signed"
! grep -q -e "^Subject" -e "^Sipsec-Control" "$work/impostor-200.sip" ||
    fail "a mark or the forged control header reached the caller"
[ "$(wc -l < "$work/audit.log")" -eq 2 ] || fail "the impostor's answer was signed as the group"
echo "-- and the audit log still holds two lines, agent 7's two calls."

say "Refused: a forged mark from the network (a look-alike domain's phone marks its own 200 OK)"
run 30 lookalike.out sipp -sf "$scenarios/demo/impostor_uas.xml" -t u1 -p "$lookalike" -i 127.0.0.1 -nostdin \
    -s support -key forged "Subject: validated <sip:support@callcentre.example>" -m 1 \
    -trace_msg -message_file "$work/lookalike.msg"
lookalike_phone=$last
wait_listening udp "$lookalike" "the look-alike's phone"
expect 0 "the call to the look-alike" sipp_run 30 caller-lookalike "127.0.0.1:$terminal" -t t1 \
    -p "$caller_port" -sf "$scenarios/demo/caller_tls.xml" -s support \
    -key domain callcentre-support.example -m 1
expect 0 "the look-alike's phone" wait "$lookalike_phone"
traced sent "$work/lookalike.msg" "SIP/2.0 200" > "$work/lookalike-sent.sip"
headers "$work/lookalike-sent.sip" SIP To Subject
echo "-- as the caller receives it: the forged mark removed before the verifier ran; not signed:"
traced received "$work/caller-lookalike.msg" "SIP/2.0 200" > "$work/lookalike-200.sip"
headers "$work/lookalike-200.sip" SIP To Subject Sipsec
! grep -q "^Subject" "$work/lookalike-200.sip" || fail "the forged mark reached the caller"
grep -q "^Sipsec-Verdict: signed=no$cr\$" "$work/lookalike-200.sip" || fail "no verdict for the caller"

say "The relays' counters (written when they stop)"
stop_all
wait
for side in callcentre proxy; do
    printf '%-12s' "$side:"
    tail -n 1 "$work/$side.log" | tr ' ' '\n' | grep -E \
        '^(challenges|auth_passed|auth_failed|signed|verified|marks_kept_off_plain_transports)=' |
        tr '\n' ' '
    echo
done
grep -q " signed=2 " "$work/callcentre.log" || fail "the call centre's relay did not sign exactly twice"

part "Part 2: the filters on files (testdata/demo/)"
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
