#!/usr/bin/env python3
"""Writes the --stdio transcript inputs (stdio/*.in.ndjson). The expected outputs
(stdio/*.out.ndjson) are written by `SIPSEC_BLESS=1 cargo test --test relay_stdio` and were
checked by hand. The relay runs with the options in tests/relay_stdio.rs: it is
192.0.2.1:5060 (udp and tcp), alias relay.example.com, registrar for example.com, and routes
other.org to udp:192.0.2.50:5060. The loop case feeds the relay's own output back to it, so
this script runs the relay binary (path in $RELAY)."""
import json, os, subprocess

ARGS = ["--stdio", "--listen", "udp:192.0.2.1:5060", "--listen", "tcp:192.0.2.1:5060",
        "--alias", "relay.example.com", "--domain", "example.com",
        "--route", "other.org=udp:192.0.2.50:5060"]
ALICE = "udp:192.0.2.7:5070"
NEXT = "udp:192.0.2.50:5060"

def req(method, uri, branch="z9hG4bKa1", cseq=1, call="c1", to_tag="", extra="", mf="70",
        via="SIP/2.0/UDP 192.0.2.7:5070;branch={b};rport", body=""):
    lines = [f"{method} {uri} SIP/2.0", "Via: " + via.format(b=branch)]
    if mf is not None:
        lines.append(f"Max-Forwards: {mf}")
    lines += ["From: <sip:alice@other.net>;tag=a1",
              f"To: <sip:bob@example.com>{to_tag}", f"Call-ID: {call}",
              f"CSeq: {cseq} {method if method != 'ACK' else 'ACK'}"]
    if extra:
        lines += extra.split("\n")
    lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines) + "\r\n\r\n" + body

def reg(contact, expires=None, cseq=1, source_branch="z9hG4bKr1"):
    lines = ["REGISTER sip:example.com SIP/2.0",
             f"Via: SIP/2.0/UDP 192.0.2.9:5080;branch={source_branch}{cseq}", "Max-Forwards: 70",
             "From: <sip:bob@example.com>;tag=b1", "To: <sip:bob@example.com>",
             "Call-ID: reg1", f"CSeq: {cseq} REGISTER", f"Contact: {contact}"]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    lines.append("Content-Length: 0")
    return "\r\n".join(lines) + "\r\n\r\n"

def line(frm, msg, time=None):
    d = {"from": frm, "message": msg}
    if time is not None:
        d["time"] = time
    return json.dumps(d)

def write(name, lines):
    with open(f"stdio/{name}.in.ndjson", "w") as f:
        f.write("\n".join(lines) + "\n")

inv = req("INVITE", "sip:carol@other.org", extra="Contact: <sip:alice@192.0.2.7:5070>")
relay = os.environ.get("RELAY", "../../target/debug/sipsec-relay")
out = subprocess.run([relay] + ARGS, input=line(ALICE, inv) + "\n", capture_output=True,
                     text=True, check=True).stdout
forwarded = json.loads(out.splitlines()[0])["message"]
ringing = forwarded.replace("INVITE sip:carol@other.org SIP/2.0", "SIP/2.0 180 Ringing", 1)
ringing = ringing.replace("To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=c9", 1)

write("proxy", [
    # Forwarded by static route: rport/received, Max-Forwards 69, Record-Route, our Via.
    line(ALICE, inv, 0),
    # A retransmission: byte-identical output (same branch).
    line(ALICE, inv),
    # Its CANCEL: the same branch as the INVITE (RFC 3261 §16.11).
    line(ALICE, req("CANCEL", "sip:carol@other.org")),
    # The 180 from the next hop: our Via removed, sent to received/rport.
    line(NEXT, ringing),
    # A response whose top Via is not ours: dropped.
    line(NEXT, ringing.split("\r\n", 2)[0] + "\r\n" + ringing.split("\r\n", 2)[2]),
    # No Max-Forwards: 70 added.
    line(ALICE, req("OPTIONS", "sip:carol@other.org", branch="z9hG4bKo1", mf=None)),
    # Max-Forwards 0: 483.
    line(ALICE, req("OPTIONS", "sip:carol@other.org", branch="z9hG4bKo2", mf="0")),
    # ACK for the 483: never answered.
    line(ALICE, req("ACK", "sip:carol@other.org", branch="z9hG4bKo2", mf="0")),
    # Unknown domain, no route: 404.
    line(ALICE, req("OPTIONS", "sip:carol@nowhere.test", branch="z9hG4bKo3")),
    # A tel URI: 416.
    line(ALICE, req("OPTIONS", "tel:+15551234", branch="z9hG4bKo4")),
    # Over 1300 bytes: goes over TCP, and the Via says so.
    line(ALICE, req("MESSAGE", "sip:carol@other.org", branch="z9hG4bKm1",
                    extra="Content-Type: text/plain", body="x" * 1400)),
    # Bad request (no Call-ID after the Via): 400 to the Via.
    line(ALICE, "OPTIONS sip:carol@other.org SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKb1\r\n"
         "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"),
    # Not SIP at all: nothing sent.
    line(ALICE, "hello\r\n"),
    # The relay's own forwarded INVITE coming back to it unchanged: 482.
    line("udp:192.0.2.1:5060", forwarded),
    # Over TCP: the response goes back to the connection (rport is always set on streams).
    line("tcp:192.0.2.7:40000", req("OPTIONS", "sip:carol@nowhere.test", branch="z9hG4bKt1",
                                    via="SIP/2.0/TCP 192.0.2.7:5070;branch={b}")),
])

write("routing", [
    # Loose routing: our Route removed, forwarded to the next Route.
    line(ALICE, req("BYE", "sip:bob@192.0.2.9:5080", to_tag=";tag=x", cseq=2,
                    extra="Route: <sip:192.0.2.1;lr>, <sip:192.0.2.60;lr>")),
    # Our Route by alias, in its own header field; next the Request-URI (an IP address).
    line(ALICE, req("BYE", "sip:bob@192.0.2.9:5080", branch="z9hG4bKa2", to_tag=";tag=x", cseq=3,
                    extra="Route: <sip:relay.example.com;lr>")),
    # Strict routing (RFC 3261 §16.4): Request-URI is us, last Route becomes the Request-URI.
    line(ALICE, req("BYE", "sip:192.0.2.1", branch="z9hG4bKa3", to_tag=";tag=x", cseq=4,
                    extra="Route: <sip:192.0.2.61;lr>, <sip:bob@192.0.2.9:5080>")),
    # A Route that cannot be resolved without DNS: 404.
    line(ALICE, req("BYE", "sip:bob@192.0.2.9:5080", branch="z9hG4bKa4", to_tag=";tag=x", cseq=5,
                    extra="Route: <sip:proxy.elsewhere.test;lr>")),
    # Request-URI naming the relay, no Route: it would loop back to itself: 482.
    line(ALICE, req("OPTIONS", "sip:192.0.2.1:5060", branch="z9hG4bKa5")),
])

write("registrar", [
    # Two contacts, one with its own expiry; 200 lists both.
    line("udp:192.0.2.9:5080", reg("<sip:bob@192.0.2.9:5080>;expires=120, <sip:bob@192.0.2.10>", 600), 1000),
    # A call to bob: the most recent binding (longest-lived) wins.
    line(ALICE, req("INVITE", "sip:bob@example.com", branch="z9hG4bKi1"), 1060),
    # Too brief: 423 with Min-Expires.
    line("udp:192.0.2.9:5080", reg("<sip:bob@192.0.2.11>", 10, cseq=2)),
    # REGISTER without Contact: lists the bindings with remaining time.
    line("udp:192.0.2.9:5080", reg("<sip:bob@192.0.2.9:5080>", cseq=3).replace("Contact: <sip:bob@192.0.2.9:5080>\r\n", ""), 1100),
    # At 1120 the first binding lapsed; at 1601 both.
    line(ALICE, req("INVITE", "sip:bob@example.com", branch="z9hG4bKi2"), 1120),
    line(ALICE, req("INVITE", "sip:bob@example.com", branch="z9hG4bKi3"), 1601),
    # * without Expires 0: 400; with it: everything removed.
    line("udp:192.0.2.9:5080", reg("*", 60, cseq=4)),
    line("udp:192.0.2.9:5080", reg("<sip:bob@192.0.2.9:5080>", 600, cseq=5)),
    line("udp:192.0.2.9:5080", reg("*", 0, cseq=6)),
    line(ALICE, req("INVITE", "sip:bob@example.com", branch="z9hG4bKi4")),
    # A REGISTER for a foreign AOR: 404.
    line("udp:192.0.2.9:5080", reg("<sip:x@192.0.2.9>", cseq=7).replace("To: <sip:bob@example.com>", "To: <sip:bob@other.org>")),
    # Registered over TCP: calls reuse that connection.
    line("tcp:192.0.2.12:41000", reg("<sip:bob@192.0.2.12:5090;transport=tcp>", 600, cseq=8).replace("SIP/2.0/UDP", "SIP/2.0/TCP")),
    line(ALICE, req("INVITE", "sip:bob@example.com", branch="z9hG4bKi5")),
])
