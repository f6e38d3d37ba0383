//! Framing plus the hot-path header views (From, To, Call-ID, CSeq, Via, Max-Forwards) and
//! `validate()` on a realistic INVITE with SDP, in bytes per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sipsec::Message;
use std::hint::black_box;

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9;received=192.0.2.101\r\n\
Via: SIP/2.0/TLS proxy.atlanta.example.com:5061;branch=z9hG4bK2d4790.1\r\n\
Max-Forwards: 70\r\n\
Route: <sip:proxy.biloxi.example.com;lr>\r\n\
Record-Route: <sip:proxy.atlanta.example.com;lr>\r\n\
From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 31862 INVITE\r\n\
Contact: <sip:alice@client.atlanta.example.com;transport=tls>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY\r\n\
Supported: replaces, timer\r\n\
User-Agent: sipsec-bench/1.0\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 151\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

fn views(c: &mut Criterion) {
    let mut g = c.benchmark_group("invite");
    g.throughput(Throughput::Bytes(INVITE.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| Message::parse(black_box(INVITE).to_vec()).unwrap())
    });
    g.bench_function("parse+views", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(INVITE).to_vec()).unwrap();
            let from = m.from().unwrap();
            let to = m.to().unwrap();
            let cseq = m.cseq().unwrap();
            let vias = m.vias().unwrap();
            black_box((from.tag(), to.uri().host(), m.call_id().unwrap(), cseq.seq));
            black_box((vias.len(), m.max_forwards().unwrap()));
        })
    });
    g.bench_function("parse+validate", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(INVITE).to_vec()).unwrap();
            m.validate().unwrap();
            black_box(m.len())
        })
    });
    g.finish();
}

criterion_group!(benches, views);
criterion_main!(benches);
