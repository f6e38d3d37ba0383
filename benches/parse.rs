//! Framing plus header index over a realistic stream of SIP messages (target: at least 1 GB/s
//! on one core), against a plain memchr line-end scan of the same bytes as the machine's yardstick.
//!
//! The third measure adds the typed views a proxy takes of every message (target 300 MB/s).
//!
//! Run with `cargo bench --bench parse`. After criterion's own report, a summary is printed with
//! MB/s, messages/s and the ratio framing / memchr, which is comparable across machines.
//!
//! For instruction counts, which a loaded machine does not disturb, `SIPSEC_PARSE_ONCE=index`
//! (or `views`) frames the stream once and exits, without criterion:
//! `SIPSEC_PARSE_ONCE=views valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect='parse::frame*' target/release/deps/parse-*` counts the framing alone.

use criterion::{black_box, criterion_group, Criterion, Throughput};
use sipsec::framing::{FrameEvent, OnGarbage, StreamFramer};
use sipsec::Message;
use std::time::{Duration, Instant};

/// Size of the generated stream.
const STREAM_BYTES: usize = 16 << 20;
/// Bytes handed to the framer per `push`, as a socket read would.
const CHUNK: usize = 64 << 10;

/// xorshift64*: deterministic filler for identifiers and the fake signature; no crypto needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(n);
        s
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

struct Dialog {
    call_id: String,
    from_tag: String,
    to_tag: String,
    branch: String,
    user: usize,
}

impl Dialog {
    fn new(rng: &mut Rng, n: usize) -> Dialog {
        Dialog {
            call_id: format!("{}@pc{}.atlanta.example.com", rng.hex(24), n % 97),
            from_tag: rng.hex(10),
            to_tag: rng.hex(8),
            branch: format!("z9hG4bK{}", rng.hex(16)),
            user: n % 1000,
        }
    }
}

fn sdp(user: usize, port: usize) -> String {
    format!(
        "v=0\r\n\
         o=user{user} 2890844526 2890844526 IN IP4 192.0.2.{h}\r\n\
         s=Session SDP\r\n\
         c=IN IP4 192.0.2.{h}\r\n\
         t=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 97 101\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:97 iLBC/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-15\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n",
        h = user % 250 + 1
    )
}

fn with_body(head: String, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut m = head.into_bytes();
    m.extend_from_slice(
        format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    m.extend_from_slice(body);
    m
}

fn invite_head(d: &Dialog, extra: &str) -> String {
    let u = d.user;
    format!(
        "INVITE sip:bob{u}@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/TCP pc33.atlanta.example.com:5060;branch={b}\r\n\
         Via: SIP/2.0/TCP proxy1.atlanta.example.com;branch=z9hG4bK{b}.1;received=192.0.2.101\r\n\
         Max-Forwards: 69\r\n\
         To: \"Bob {u}\" <sip:bob{u}@biloxi.example.com>\r\n\
         From: \"Alice {u}\" <sip:alice{u}@atlanta.example.com>;tag={ft}\r\n\
         Call-ID: {ci}\r\n\
         CSeq: 314159 INVITE\r\n\
         Contact: <sip:alice{u}@pc33.atlanta.example.com;transport=tcp>\r\n\
         Record-Route: <sip:proxy1.atlanta.example.com;lr>\r\n\
         Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO\r\n\
         Supported: replaces, timer\r\n\
         User-Agent: sipsec-bench/1.0\r\n\
         {extra}",
        b = d.branch,
        ft = d.from_tag,
        ci = d.call_id,
    )
}

fn invite(d: &Dialog) -> Vec<u8> {
    with_body(
        invite_head(d, ""),
        "application/sdp",
        sdp(d.user, 49170).as_bytes(),
    )
}

fn ok_200(d: &Dialog) -> Vec<u8> {
    let u = d.user;
    let head = format!(
        "SIP/2.0 200 OK\r\n\
         Via: SIP/2.0/TCP pc33.atlanta.example.com:5060;branch={b};received=192.0.2.101\r\n\
         Via: SIP/2.0/TCP proxy1.atlanta.example.com;branch=z9hG4bK{b}.1\r\n\
         Record-Route: <sip:proxy1.atlanta.example.com;lr>\r\n\
         To: \"Bob {u}\" <sip:bob{u}@biloxi.example.com>;tag={tt}\r\n\
         From: \"Alice {u}\" <sip:alice{u}@atlanta.example.com>;tag={ft}\r\n\
         Call-ID: {ci}\r\n\
         CSeq: 314159 INVITE\r\n\
         Contact: <sip:bob{u}@client.biloxi.example.com;transport=tcp>\r\n\
         Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n\
         Supported: timer\r\n\
         Server: sipsec-bench/1.0\r\n",
        b = d.branch,
        tt = d.to_tag,
        ft = d.from_tag,
        ci = d.call_id,
    );
    with_body(head, "application/sdp", sdp(d.user + 1, 3456).as_bytes())
}

fn in_dialog(d: &Dialog, method: &str, cseq: u32) -> Vec<u8> {
    let u = d.user;
    format!(
        "{method} sip:bob{u}@client.biloxi.example.com;transport=tcp SIP/2.0\r\n\
         Via: SIP/2.0/TCP pc33.atlanta.example.com:5060;branch={b}.{cseq}\r\n\
         Route: <sip:proxy1.atlanta.example.com;lr>\r\n\
         Max-Forwards: 70\r\n\
         To: \"Bob {u}\" <sip:bob{u}@biloxi.example.com>;tag={tt}\r\n\
         From: \"Alice {u}\" <sip:alice{u}@atlanta.example.com>;tag={ft}\r\n\
         Call-ID: {ci}\r\n\
         CSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n",
        b = d.branch,
        tt = d.to_tag,
        ft = d.from_tag,
        ci = d.call_id,
    )
    .into_bytes()
}

fn register(d: &Dialog) -> Vec<u8> {
    let u = d.user;
    format!(
        "REGISTER sip:registrar.biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/TCP bobspc.biloxi.example.com:5060;branch={b}\r\n\
         Max-Forwards: 70\r\n\
         To: Bob <sip:bob{u}@biloxi.example.com>\r\n\
         From: Bob <sip:bob{u}@biloxi.example.com>;tag={ft}\r\n\
         Call-ID: {ci}\r\n\
         CSeq: 1826 REGISTER\r\n\
         Contact: <sip:bob{u}@192.0.2.4;transport=tcp>;expires=7200\r\n\
         Expires: 7200\r\n\
         Content-Length: 0\r\n\r\n",
        b = d.branch,
        ft = d.from_tag,
        ci = d.call_id,
    )
    .into_bytes()
}

/// An INVITE whose SDP is signed (RFC 3261 §23.4.1.2): multipart/signed with a DER part.
fn signed_invite(d: &Dialog, rng: &mut Rng) -> Vec<u8> {
    let boundary = format!("boundary{}", rng.hex(12));
    let mut body = format!(
        "--{boundary}\r\n\
         Content-Type: application/sdp\r\n\
         \r\n\
         {sdp}\r\n\
         --{boundary}\r\n\
         Content-Type: application/pkcs7-signature; name=smime.p7s\r\n\
         Content-Transfer-Encoding: binary\r\n\
         Content-Disposition: attachment; filename=smime.p7s; handling=required\r\n\
         \r\n",
        sdp = sdp(d.user, 49172),
    )
    .into_bytes();
    body.extend_from_slice(&rng.bytes(1600));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    with_body(
        invite_head(d, ""),
        &format!(
            "multipart/signed;protocol=\"application/pkcs7-signature\";micalg=sha256;\
             boundary={boundary}"
        ),
        &body,
    )
}

/// A stream of about `STREAM_BYTES`: call set-ups (some signed), registrations, teardowns.
fn stream() -> (Vec<u8>, usize) {
    let mut rng = Rng(0x5195_ec00_2026_0002);
    let mut out = Vec::with_capacity(STREAM_BYTES + 8192);
    let mut messages = 0;
    let mut n = 0;
    while out.len() < STREAM_BYTES {
        let d = Dialog::new(&mut rng, n);
        let batch = match n % 4 {
            0 => vec![
                signed_invite(&d, &mut rng),
                ok_200(&d),
                in_dialog(&d, "ACK", 314159),
            ],
            1 => vec![register(&d)],
            _ => vec![
                invite(&d),
                ok_200(&d),
                in_dialog(&d, "ACK", 314159),
                in_dialog(&d, "BYE", 314160),
            ],
        };
        for m in batch {
            out.extend_from_slice(&m);
            messages += 1;
        }
        n += 1;
    }
    (out, messages)
}

/// Frames the whole stream, handing each message to `per_message`; returns the number of
/// messages and the sum of what `per_message` returned, so nothing is optimised out.
fn frame(data: &[u8], mut per_message: impl FnMut(&Message) -> usize) -> (usize, usize) {
    let mut framer = StreamFramer::new(OnGarbage::Stop);
    let (mut messages, mut sum) = (0, 0);
    let mut drain = |framer: &mut StreamFramer| {
        while let Some(event) = framer.next_event() {
            match event {
                FrameEvent::Message { message, .. } => {
                    messages += 1;
                    sum += per_message(&message);
                }
                other => panic!("the generated stream is well formed: {other:?}"),
            }
        }
    };
    for chunk in data.chunks(CHUNK) {
        framer.push(chunk);
        drain(&mut framer);
    }
    framer.finish();
    drain(&mut framer);
    (messages, sum)
}

fn index_only(m: &Message) -> usize {
    m.fields().len()
}

/// The views a proxy takes of every message: From, To, Call-ID, CSeq and each Via.
fn with_views(m: &Message) -> usize {
    let from = m.from().expect("From");
    let to = m.to().expect("To");
    let call_id = m.call_id().expect("Call-ID");
    let cseq = m.cseq().expect("CSeq");
    let vias = m.vias().expect("Via");
    let branch = vias.first().and_then(|v| v.branch()).map_or(0, <[u8]>::len);
    black_box((from.tag(), to.uri().host(), cseq.seq));
    call_id.len() + vias.len() + branch
}

fn line_ends(data: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', data).count()
}

fn bench_framing(c: &mut Criterion) {
    let (data, messages) = stream();
    assert_eq!(frame(&data, index_only).0, messages, "every message framed");
    assert_eq!(frame(&data, with_views).0, messages, "every view parses");
    let mut group = c.benchmark_group("stream");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("framing+index", |b| {
        b.iter(|| frame(black_box(&data), index_only))
    });
    group.bench_function("framing+index+views", |b| {
        b.iter(|| frame(black_box(&data), with_views))
    });
    group.bench_function("memchr_lf", |b| b.iter(|| line_ends(black_box(&data))));
    group.finish();
    summary(&data, messages);
}

/// The fastest of `runs` timings: the least disturbed by the other jobs on a shared machine.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn summary(data: &[u8], messages: usize) {
    let framing = best_of(30, || frame(black_box(data), index_only));
    let views = best_of(30, || frame(black_box(data), with_views));
    let memchr = best_of(30, || line_ends(black_box(data)));
    let mbps = |d: Duration| data.len() as f64 / d.as_secs_f64() / 1e6;
    println!(
        "\nstream: {:.1} MB, {messages} messages ({:.0} B average)",
        data.len() as f64 / 1e6,
        data.len() as f64 / messages as f64
    );
    println!(
        "framing+index: {:8.0} MB/s {:10.0} messages/s",
        mbps(framing),
        messages as f64 / framing.as_secs_f64()
    );
    println!(
        "+ views:       {:8.0} MB/s {:10.0} messages/s (From, To, Call-ID, CSeq, Vias)",
        mbps(views),
        messages as f64 / views.as_secs_f64()
    );
    println!("memchr LF:     {:8.0} MB/s", mbps(memchr));
    println!(
        "ratio framing+index / memchr: {:.3}",
        mbps(framing) / mbps(memchr)
    );
    println!(
        "ratio + views / memchr:       {:.3}",
        mbps(views) / mbps(memchr)
    );
}

/// Frames the stream once in the mode named by `SIPSEC_PARSE_ONCE`, for a profiler.
fn once(mode: &str) {
    let (data, messages) = stream();
    let per_message = match mode {
        "index" => index_only,
        "views" => with_views,
        other => panic!("SIPSEC_PARSE_ONCE is index or views, not {other}"),
    };
    let (framed, sum) = frame(black_box(&data), per_message);
    assert_eq!(framed, messages, "every message framed");
    println!(
        "{mode}: {} bytes, {messages} messages, checksum {sum}",
        data.len()
    );
}

criterion_group!(benches, bench_framing);

fn main() {
    match std::env::var("SIPSEC_PARSE_ONCE") {
        Ok(mode) => once(&mode),
        Err(_) => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
