#!/bin/sh
# The filter driver's overhead: the identity filter (examples/sipsec-identity.rs) over a large
# stream of realistic SIP messages, against `cat` of the same stream, in one run.
# Usage: scripts/bench/driver.sh [MEGABYTES]   (default 200)
set -eu
cd "$(dirname "$0")/../.."
mb=${1:-200}
cargo build --release --quiet --example sipsec-identity
bin=target/release/examples/sipsec-identity
data=target/bench-driver-stream.sip
if [ ! -s "$data" ] || [ "$(($(stat -c %s "$data") / 1000000))" -lt "$mb" ]; then
    python3 - "$data" "$mb" <<'PY'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
sdp = ("v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\nc=IN IP4 192.0.2.101\r\n"
       "t=0 0\r\nm=audio 49172 RTP/AVP 0 8 97\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
       "a=rtpmap:97 iLBC/8000\r\na=sendrecv\r\n")
def invite(i):
    return (f"INVITE sip:support@callcentre.example SIP/2.0\r\n"
            f"Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK{i:x}a\r\n"
            f"Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@atlanta.example.com>;tag={i:x}f\r\n"
            f"To: <sip:support@callcentre.example>\r\nCall-ID: {i:x}@atlanta.example.com\r\n"
            f"CSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.101;transport=tcp>\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}")
def ok(i):
    return (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK{i:x}a;received=192.0.2.101\r\n"
            f"From: \"Alice\" <sip:alice@atlanta.example.com>;tag={i:x}f\r\n"
            f"To: <sip:support@callcentre.example>;tag={i:x}t\r\nCall-ID: {i:x}@atlanta.example.com\r\n"
            f"CSeq: 1 INVITE\r\nContact: <sip:agent-7@10.0.0.7>\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(sdp)}\r\n\r\n{sdp}")
with open(path, "w", newline="") as f:
    i, size = 0, 0
    while size < mb * 1000000:
        chunk = invite(i) + ok(i)
        f.write(chunk)
        size += len(chunk)
        i += 1
PY
fi
bytes=$(stat -c %s "$data")
seconds() { /usr/bin/env python3 -c 'import sys,time,subprocess; t=time.perf_counter(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=False); print(time.perf_counter()-t)' "$@"; }
cat "$data" > /dev/null
t_cat=$(seconds cat "$data")
t_id1=$(seconds "$bin" -q --jobs 1 "$data")
t_id2=$(seconds "$bin" -q --jobs 2 "$data")
python3 - "$bytes" "$t_cat" "$t_id1" "$t_id2" <<'PY'
import sys
b, cat, one, two = int(sys.argv[1]), *map(float, sys.argv[2:])
mbs = lambda t: b / t / 1e6
print(f"stream: {b/1e6:.0f} MB")
print(f"cat:                 {cat:.3f} s  {mbs(cat):8.0f} MB/s")
print(f"identity --jobs 1:   {one:.3f} s  {mbs(one):8.0f} MB/s  ({one/cat:.1f}x cat's time)")
print(f"identity --jobs 2:   {two:.3f} s  {mbs(two):8.0f} MB/s  ({two/cat:.1f}x cat's time)")
PY
