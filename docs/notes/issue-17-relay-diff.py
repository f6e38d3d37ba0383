#!/usr/bin/env python3
"""Differential check: the same NDJSON through two sipsec-relay binaries (--stdio), stdout and
the -v log compared. Usage: docs/notes/issue-17-relay-diff.py OLD_RELAY NEW_RELAY (from the repository root)"""
import json, os, subprocess, sys, itertools, glob

OLD, NEW = sys.argv[1], sys.argv[2]
BASE = ["--stdio", "-v", "--listen", "udp:192.0.2.1:5060", "--listen", "tcp:192.0.2.1:5060",
        "--alias", "relay.example.com", "--domain", "example.com",
        "--route", "other.org=udp:192.0.2.50:5060", "--route", "192.0.2.77=udp:192.0.2.78:5060"]
ALICE = "udp:192.0.2.7:5070"
NEXT = "udp:192.0.2.50:5060"

def line(frm, msg, time=None):
    d = {"from": frm, "message": msg}
    if time is not None:
        d["time"] = time
    return json.dumps(d)

def run(binary, args, lines):
    p = subprocess.run([binary] + args, input="\n".join(lines) + "\n", capture_output=True, text=True)
    return p.stdout, p.stderr, p.returncode

def req(method, uri, via="SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1", mf="70", to_tag="",
        extra=(), call="c1", ftag="a1", cseq=1, body=""):
    lines = [f"{method} {uri} SIP/2.0", "Via: " + via]
    if mf is not None:
        lines.append(f"Max-Forwards: {mf}")
    lines += [f"From: <sip:alice@other.net>;tag={ftag}", f"To: <sip:bob@example.com>{to_tag}",
              f"Call-ID: {call}", f"CSeq: {cseq} {method}"]
    lines += list(extra)
    lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines) + "\r\n\r\n" + body

inputs = []
# existing transcripts
for f in sorted(glob.glob("testdata/relay/stdio/*.in.ndjson")):
    inputs.append((os.path.basename(f), open(f).read().splitlines()))
# corpora
corpus = []
for f in sorted(glob.glob(os.environ.get("SIPSEC_CORPUS", "../shared/corpus") + "/*/*.dat")):
    try:
        t = open(f, "rb").read().decode("utf-8")
    except UnicodeDecodeError:
        continue
    corpus.append(t)
inputs.append(("corpus-alice", [line(ALICE, t) for t in corpus]))
inputs.append(("corpus-next", [line(NEXT, t) for t in corpus]))
inputs.append(("corpus-tcp", [line("tcp:192.0.2.7:40000", t) for t in corpus]))

# Record-Route MAC for call c1 / tag a1 from the new binary (fixed key in stdio)
out, _, _ = run(NEW, BASE, [line(ALICE, req("INVITE", "sip:carol@other.org"))])
fwd = json.loads(out.splitlines()[0])["message"]
rr = [l for l in fwd.split("\r\n") if l.startswith("Record-Route:")][0].split(": ", 1)[1]
rr_uri = rr.strip("<>")

uris = ["sip:carol@other.org", "sip:192.0.2.1", "sip:192.0.2.1:5060;transport=tcp",
        "sip:relay.example.com", "sip:bob@example.com", "sip:bob@EXAMPLE.COM.", "sip:x@192.0.2.50",
        "sips:carol@other.org", "tel:+15551234", "sip:[2001:db8::1]", "sip:carol@Other.Org",
        "sip:carol@other.org.", "sip:x@192.0.2.77", "sip:bob@example.com:5070", "sip:x@192.0.2.1:5061"]
routes = [[], [f"Route: {rr}"], ["Route: <sip:192.0.2.1;lr>"], ["Route: <sip:p9.example;lr>"],
          [f"Route: {rr}, <sip:192.0.2.60;lr>"], [f"Route: {rr},\r\n <sip:192.0.2.60;lr>"],
          [f"Route: {rr}", "Route: <sip:192.0.2.60;lr>, <sip:bob@192.0.2.9:5080>"],
          ["Route: <sip:192.0.2.61;lr>, <sip:bob@192.0.2.9:5080>"],
          ["Route: <sip:192.0.2.61;lr>,\r\n <sip:bob@192.0.2.9:5080>"],
          [f"Route: <sip:relay.example.com;lr;sr={rr_uri.split('sr=')[1]}>"],
          ["Route: <sip:[2001:db8::5];lr>"], ["Route: <tel:+1555>"],
          [f"Route: {rr}", "Proxy-Require: foo"]]
vias = ["SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1",
        "SIP/2.0/UDP 10.0.0.5:5070;received=1.1.1.1;rport;branch=z9hG4bKn",
        "SIP/2.0/UDP host.example;branch=z9hG4bKh", "SIP/2.0/UDP 192.0.2.7:5070;branch=old2543",
        "SIP/2.0/TCP [2001:db8::7]:5070;rport=9;branch=z9hG4bK6",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1, SIP/2.0/UDP 192.0.2.8;branch=z9hG4bKz",
        "SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKf,\r\n SIP/2.0/UDP 10.0.0.6;branch=z9hG4bKg",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKf,\r\n SIP/2.0/UDP 10.0.0.6;branch=z9hG4bKg",
        "SIP/2.0/UDP 10.0.0.5:5070 ; received = 9.9.9.9 ; rport = 1 ;branch=z9hG4bKq",
        "SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKa1, SIP/2.0/UDP bad..host;branch=z9hG4bKz",
        "SIP/2.0/UDP 10.0.0.5:5070;branch=old2543;rport"]
mfs = [None, "0", "1", "70", "x"]
methods = ["INVITE", "ACK", "BYE", "REGISTER", "OPTIONS", "SUBSCRIBE"]
synth = []
for m, u, r in itertools.product(methods, uris, routes):
    for tag in ["", ";tag=t9"]:
        synth.append(line(ALICE, req(m, u, to_tag=tag, extra=r)))
        synth.append(line("udp:192.0.2.9:5080", req(m, u, to_tag=tag, extra=r, ftag="t9")))
for v, mf, u in itertools.product(vias, mfs, uris[:6]):
    synth.append(line(ALICE, req("INVITE", u, via=v, mf=mf)))
    synth.append(line("tcp:192.0.2.7:40001", req("OPTIONS", u, via=v, mf=mf)))
    synth.append(line("udp:[2001:db8::7]:5070", req("INVITE", u, via=v, mf=mf)))
big = req("MESSAGE", "sip:carol@other.org", extra=["Content-Type: text/plain"], body="x" * 1400)
synth.append(line(ALICE, big))
inputs.append(("synth", synth))

# responses to everything forwarded by the synth run, and forged ones
out, _, _ = run(NEW, BASE + ["--open-relay"], synth)
resp = []
for l in out.splitlines():
    o = json.loads(l)
    msg = o["message"]
    first = msg.split("\r\n", 1)
    if first[0].startswith("SIP/2.0"):
        continue
    head = first[1]
    for code in ["180 Ringing", "200 OK"]:
        r = "SIP/2.0 " + code + "\r\n" + head
        resp.append(line(o["to"], r))
        resp.append(line(o["to"], r.replace("z9hG4bKsr", "z9hG4bKsr0", 1)))
        resp.append(line(o["to"], r.replace("Via: ", "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx, ", 1)))
inputs.append(("responses", resp))

bad = 0
for config in [BASE, BASE + ["--open-relay"]]:
    for name, lines in inputs:
        a = run(OLD, config, lines)
        b = run(NEW, config, lines)
        same = a == b
        print(f"{'same' if same else 'DIFF'} {name} {'open' if '--open-relay' in config else 'closed'} lines={len(lines)} out={len(a[0].splitlines())} log={len(a[1].splitlines())}")
        if not same:
            bad += 1
            for i, (x, y) in enumerate(zip(a[0].splitlines(), b[0].splitlines())):
                if x != y:
                    print(" out", i, "\n  old:", x[:600], "\n  new:", y[:600]); break
            for i, (x, y) in enumerate(zip(a[1].splitlines(), b[1].splitlines())):
                if x != y:
                    print(" log", i, "\n  old:", x[:600], "\n  new:", y[:600]); break
sys.exit(1 if bad else 0)
