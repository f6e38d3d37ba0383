//! The relay's routing core (sans-IO) on the messages of one SIPp call as
//! `scripts/bench/relay.sh` sends them: INVITE from the caller, 180 and 200 from the callee,
//! ACK and BYE along the Record-Route, 200 to the BYE. Per call (six messages, each parsed from
//! bytes, decided and written out), the relay's own user-space work per forwarded message,
//! without the sockets and the kernel that relay.sh measures with them.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sipsec::relay::core::{build_response, Decision, Relay};
use sipsec::relay::{Config, Peer, StaticRoute};
use sipsec::Message;
use std::hint::black_box;

const CALLER: &str = "udp:127.0.0.1:26071";
const CALLEE: &str = "udp:127.0.0.1:26080";

fn request(method: &str, cseq: u32, to_tag: &str, route: &str) -> Vec<u8> {
    format!(
        "{method} sip:service@127.0.0.1:26060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:26071;branch=z9hG4bK-1234-1-{cseq}{method}\r\n\
         {route}From: sipp <sip:sipp@127.0.0.1:26071>;tag=1234SIPpTag001\r\n\
         To: service <sip:service@127.0.0.1:26060>{to_tag}\r\n\
         Call-ID: 1-1234@127.0.0.1\r\nCSeq: {cseq} {method}\r\n\
         Contact: sip:sipp@127.0.0.1:26071\r\nMax-Forwards: 70\r\n\
         Subject: Performance Test\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn forwarded(d: &Decision) -> Message {
    Message::parse(d.transmits[0].bytes.clone()).unwrap()
}

/// The six messages of a call, each with where it comes from.
fn call(relay: &mut Relay) -> Vec<(Vec<u8>, Peer)> {
    let (caller, callee) = (CALLER.parse().unwrap(), CALLEE.parse().unwrap());
    let invite = request("INVITE", 1, "", "");
    let out = forwarded(&relay.handle_bytes(&invite, caller, 0));
    let rr = out.record_routes().unwrap()[0].uri().as_str().to_string();
    let tag = ";tag=5678SIPpTag011";
    let ringing = build_response(&out, 180, "Ringing", &[]);
    let ok = build_response(&out, 200, "OK", &[]);
    let route = format!("Route: <{rr}>\r\n");
    let bye = request("BYE", 2, tag, &route);
    let bye_out = forwarded(&relay.handle_bytes(&bye, caller, 0));
    let bye_ok = build_response(&bye_out, 200, "OK", &[]);
    vec![
        (invite, caller),
        (ringing, callee),
        (ok, callee),
        (request("ACK", 1, tag, &route), caller),
        (bye, caller),
        (bye_ok, callee),
    ]
}

fn relay_call(c: &mut Criterion) {
    let config = Config {
        listen: vec!["udp:127.0.0.1:26060".parse().unwrap()],
        routes: vec!["127.0.0.1=udp:127.0.0.1:26080"
            .parse::<StaticRoute>()
            .unwrap()],
        ..Config::default()
    };
    let mut relay = Relay::new(config).with_notes(false);
    let messages = call(&mut relay);
    for (bytes, from) in &messages {
        let d = relay.handle_bytes(bytes, *from, 0);
        assert_eq!(d.transmits.len(), 1, "{d:?}");
        assert!(d.refusal.is_none(), "{d:?}");
    }
    let mut g = c.benchmark_group("relay");
    g.throughput(Throughput::Elements(messages.len() as u64));
    g.bench_function("call (6 messages)", |b| {
        b.iter(|| {
            for (bytes, from) in &messages {
                black_box(relay.handle_bytes(black_box(bytes), *from, 0));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, relay_call);
criterion_main!(benches);
