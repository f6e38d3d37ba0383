#!/bin/sh
# Regenerates the SIPp captures in testdata/captures/ (needs root for capturing on lo, and the
# Debian packages tshark and sip-tester). Each run makes three calls between a SIPp UAS on
# 127.0.0.1:5060 and a SIPp UAC on 127.0.0.1:5072; 5060 lets tshark dissect SIP over TCP.
set -eu
out=${1:-testdata/captures}
mkdir -p "$out"

# capture NAME TRANSPORT IFACE [tshark options...]
capture() {
    name=$1 transport=$2 iface=$3
    shift 3
    tshark -q -i "$iface" -f 'host 127.0.0.1 and (port 5060 or port 5072)' -a duration:7 "$@" -w "$out/$name" 2>/dev/null &
    tshark_pid=$!
    sleep 2
    timeout 6 sipp -sn uas -i 127.0.0.1 -p 5060 -t "$transport" -m 3 -nostdin >/dev/null 2>&1 &
    uas_pid=$!
    sleep 0.5
    timeout 5 sipp -sn uac 127.0.0.1:5060 -i 127.0.0.1 -p 5072 -t "$transport" -m 3 -r 10 -nostdin >/dev/null 2>&1 || true
    wait "$uas_pid" || true
    wait "$tshark_pid" || true
    echo "$out/$name: $(tshark -r "$out/$name" -Y sip 2>/dev/null | wc -l) SIP frames"
}

capture sipp-udp.pcapng u1 lo
capture sipp-udp.pcap u1 lo -F pcap
capture sipp-tcp.pcapng t1 lo
capture sipp-tcp.pcap t1 lo -F pcap
capture sipp-udp-any.pcapng u1 any
