#!/usr/bin/env python3
"""Differential check of two sipsec-relay binaries (--stdio): the same NDJSON through both (the
stdio transcripts, the RFC 4475/5118 corpora, synthetic requests over Route / Request-URI /
Max-Forwards / Via shapes, folded ones included, and responses to what they forwarded, forged ones
included), compared per input line: for each input whose stdout records or -v log lines differ,
the kinds of outcome before and after; a difference for an input without a fold in its head is
listed. Usage (repository root): SIPSEC_CORPUS=/work/shared/corpus python3
docs/notes/issue-17-relay-diff.py OLD_RELAY NEW_RELAY (SHOW=1: an example of each difference that
keeps its outcome's kind)."""
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
# Folded shapes whose edits main's relay could not make.
routes += [[f"Route: {rr},\r\n <sip:192.0.2.60;lr>,\r\n <sip:192.0.2.61;lr>"],
           [f"Route: {rr}, <sip:192.0.2.60;lr>\r\n ;x=1"],
           [f"Route: {rr}\r\n\t;x=1"],
           [f"Route: {rr}\r\n\t;x=1", "Route: <sip:192.0.2.60;lr>,\r\n <sip:192.0.2.61;lr>"],
           ["Route: <sip:192.0.2.61;lr>,\r\n <sip:192.0.2.62;lr>,\r\n\t<sip:bob@192.0.2.9:5080>"]]
vias += ["SIP/2.0/UDP\r\n\t10.0.0.5:5070;rport;branch=z9hG4bKf",
         "SIP/2.0/UDP 192.0.2.7:5070;branch=old2543,\r\n SIP/2.0/UDP 10.0.0.6",
         "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKf2,\r\n\tSIP/2.0/UDP 10.0.0.6"]
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
for v in vias:
    synth.append(line(ALICE, req("OPTIONS", "sip:carol@other.org", via=v, mf="0").replace("\r\n", "\n")))
    synth.append(line(ALICE, req("INVITE", "sip:carol@other.org", via=v).replace("\r\n", "\n")))
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
    if "\r\n" not in msg:
        continue
    head = first[1]
    for code in ["180 Ringing", "200 OK"]:
        r = "SIP/2.0 " + code + "\r\n" + head
        resp.append(line(o["to"], r))
        resp.append(line(o["to"], r.replace("z9hG4bKsr", "z9hG4bKsr0", 1)))
        resp.append(line(o["to"], r.replace("Via: ", "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx, ", 1)))
        # ours folded together with the next Via into one field
        resp.append(line(o["to"], r.replace("\r\nVia: ", "\0", 1).replace("\r\nVia: ", ",\r\n ", 1).replace("\0", "\r\nVia: ", 1)))
inputs.append(("responses", resp))


import re, collections
fold = re.compile(r"\r?\n[ \t]")
def folded(l):
    m = json.loads(l)["message"]
    head = re.split(r"\r?\n\r?\n", m, 1)[0]
    return bool(fold.search(head))
def by_line(out, log):
    g = collections.defaultdict(list)
    for l in out.splitlines():
        try: g[json.loads(l).get("in")].append(l)
        except Exception: g[None].append(l)
    for l in log.splitlines():
        m = re.match(r"(?:sipsec-relay: )?line (\d+):", l)
        g[int(m.group(1)) if m else None].append(l)
    return g
total = 0
for config in [BASE, BASE + ["--open-relay"]]:
    for name, lines in inputs:
        a = run(OLD, config, lines); b = run(NEW, config, lines)
        ga, gb = by_line(a[0], a[1]), by_line(b[0], b[1])
        diff = sorted((k for k in set(ga) | set(gb) if ga.get(k) != gb.get(k)), key=lambda k: (k is None, k or 0))
        nf = [k for k in diff if k is None or not folded(lines[k-1])]
        total += len(nf)
        print(name, 'open' if '--open-relay' in config else 'closed', 'lines', len(lines), 'rc', a[2], b[2], 'differ', len(diff), 'unfolded', len(nf))
        kinds = collections.Counter()
        def kind(g):
            outs = [l for l in g if l.startswith("{")]
            if outs:
                m = json.loads(outs[0])["message"]
                return m.split(" ", 1)[0] if not m.startswith("SIP/2.0") else m[:11]
            logs = [l for l in g if not l.startswith("{")]
            return "none: " + re.sub(r"line \d+: |from \S+|\(at byte \d+\)|\d{3} ", "", logs[0])[:70] if logs else "nothing"
        for k in diff:
            kinds[(kind(ga.get(k, [])), kind(gb.get(k, [])))] += 1
        for (o, n), c in sorted(kinds.items(), key=lambda x: -x[1]):
            print(f"   {c:5d}  old: {o!r:60}  new: {n!r}")
            if o == n and os.environ.get("SHOW"):
                k = next(k for k in diff if (kind(ga.get(k, [])), kind(gb.get(k, []))) == (o, n))
                print("      input:", json.loads(lines[k-1])["message"][:700].encode())
                for x, y in zip(ga.get(k, []), gb.get(k, [])):
                    if x != y:
                        print("      old:", x[:900]); print("      new:", y[:900])
        for k in nf[:5]:
            print('  UNFOLDED DIFF', k, ga.get(k), gb.get(k))
print('differences for inputs without a fold:', total)
