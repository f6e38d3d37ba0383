# Shared by sign.sh and encrypt.sh (sourced): a store with an RSA-2048 and a P-256 group, a
# stream of N 200 OK messages answered as a group, a timer, and criterion's bare CMS rates.
set -eu
cd "$(dirname "$0")/../.."
n=${N:-10000}
cargo build --release --quiet --bin sipsec-sign --bin sipsec-encrypt --bin sipsec-certgen
certgen=target/release/sipsec-certgen
store=target/bench-wrap-store
if [ ! -d "$store/identities" ]; then
    rm -rf "$store"
    $certgen --store "$store" -q init-ca --issuing --key-type p256 >/dev/null
    $certgen --store "$store" -q issue --key-type rsa2048 sip:rsa@callcentre.example >/dev/null
    $certgen --store "$store" -q issue --key-type p256 sip:p256@callcentre.example >/dev/null
fi
stream() { # stream KEYNAME FILE: N 200 OKs whose To is KEYNAME@callcentre.example
    python3 - "$1" "$2" "$n" <<'PY'
import sys
key, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sdp = ("v=0\r\no=agent 2890844526 2890844526 IN IP4 10.0.0.7\r\ns=-\r\nc=IN IP4 10.0.0.7\r\n"
       "t=0 0\r\nm=audio 49172 RTP/AVP 0 8 97\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
       "a=rtpmap:97 iLBC/8000\r\na=sendrecv\r\n")
with open(path, "w", newline="") as f:
    for i in range(n):
        f.write(f"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK{i:x}a\r\n"
                f"From: \"Alice\" <sip:{key}@callcentre.example>;tag={i:x}f\r\n"
                f"To: <sip:{key}@callcentre.example>;tag={i:x}t\r\nCall-ID: {i:x}@atlanta.example.com\r\n"
                f"CSeq: 1 INVITE\r\nContact: <sip:agent-7@10.0.0.7>\r\nContent-Type: application/sdp\r\n"
                f"Content-Length: {len(sdp)}\r\n\r\n{sdp}")
PY
}
# min A B: the smaller of two numbers of seconds.
min() { python3 -c 'import sys; print(min(map(float, sys.argv[1:])))' "$@"; }
seconds() { python3 -c 'import sys,time,subprocess; t=time.perf_counter(); r=subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); print(time.perf_counter()-t) if r.returncode==0 else sys.exit("failed: "+" ".join(sys.argv[1:]))' "$@"; }
# Bare CMS operations per second from benches/cms.rs, e.g. `criterion_rate sign rsa2048`.
criterion_rate() {
    python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print(1e9/e["mean"]["point_estimate"])' \
        "target/criterion/cms/$1_$2/new/estimates.json"
}
