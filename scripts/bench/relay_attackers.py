#!/usr/bin/env python3
"""Attack traffic against a sipsec-relay on loopback, for scripts/bench/relay-attack.sh.

Runs for SECONDS, all at once, each from its own loopback source address:
  - a TCP next hop that accepts and never reads (port WEDGE_PORT), fed by UDP INVITEs for
    sip:v@wedge.test (the relay routes wedge.test there) from 127.0.0.2;
  - IDLE idle TCP connections to the relay, 50 per source address from 127.0.1.1 up;
  - a flood of UDP garbage from 127.0.0.3;
  - forged responses from 127.0.0.4: the relay's Via on top with a made-up branch, a
    victim's Via (127.0.0.9) under it.
Prints one line of what it sent. Everything stops by itself after SECONDS.
Usage: relay_attackers.py RELAY_PORT WEDGE_PORT SECONDS IDLE
"""
import socket
import sys
import threading
import time

relay_port, wedge_port, seconds, idle = (int(a) for a in sys.argv[1:5])
relay = ("127.0.0.1", relay_port)
deadline = time.monotonic() + seconds
sent = {}


def paced(name, source, make, rate):
    """Sends make(i) over UDP from source at about rate datagrams a second."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    port = s.getsockname()[1]
    i = 0
    start = time.monotonic()
    while time.monotonic() < deadline:
        for _ in range(50):
            try:
                s.sendto(make(i, port), relay)
            except OSError:
                pass
            i += 1
        ahead = start + i / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    sent[name] = i


def wedge_invite(i, port):
    return (
        f"INVITE sip:v@wedge.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:{port};branch=z9hG4bKw{i}\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:a@b.test>;tag=1\r\nTo: <sip:v@wedge.test>\r\n"
        f"Call-ID: w{i}\r\nCSeq: 1 INVITE\r\nX-Padding: {'x' * 900}\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def garbage(i, port):
    return b"\x16\x03\x01 not SIP at all %d " % i + b"z" * 200


def forged_response(i, port):
    return (
        f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:{relay_port};branch=z9hG4bKsr{i:016x}.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bKvictim{i}\r\nFrom: <sip:a@b.test>;tag=1\r\n"
        f"To: <sip:v@x.test>;tag=2\r\nCall-ID: reflect{i}\r\nCSeq: 1 INVITE\r\n"
        f"Content-Length: 1000\r\n\r\n{'y' * 1000}"
    ).encode()


def wedge_server():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", wedge_port))
    listener.listen(16)
    listener.settimeout(0.5)
    held = []
    while time.monotonic() < deadline:
        try:
            held.append(listener.accept()[0])
        except socket.timeout:
            pass
    sent["wedge_connections"] = len(held)


def idle_connections():
    held = []
    for n in range(idle):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((f"127.0.1.{n // 50 + 1}", 0))
        try:
            s.connect(relay)
            held.append(s)
        except OSError:
            s.close()
    sent["idle_connections"] = len(held)
    while time.monotonic() < deadline:
        time.sleep(0.2)


threads = [
    threading.Thread(target=wedge_server),
    threading.Thread(target=idle_connections),
    threading.Thread(target=paced, args=("wedge_invites", "127.0.0.2", wedge_invite, 1000)),
    threading.Thread(target=paced, args=("garbage", "127.0.0.3", garbage, 5000)),
    threading.Thread(target=paced, args=("forged_responses", "127.0.0.4", forged_response, 3000)),
]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("attack sent: " + " ".join(f"{k}={v}" for k, v in sorted(sent.items())))
