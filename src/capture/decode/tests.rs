use super::*;
use crate::capture::link::{LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL, LINKTYPE_RAW};
use crate::capture::writer::{tcp_frame, udp_frames, TCP_ACK};

const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: a@b\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn decode(linktype: u32, frames: &[Vec<u8>]) -> (Vec<CaptureEvent>, CaptureSummary) {
    let mut d = Decoder::new(Limits::default());
    let mut out = Vec::new();
    for (i, data) in frames.iter().enumerate() {
        let frame = Frame {
            number: i as u64 + 1,
            linktype,
            timestamp: Timestamp {
                secs: 1_700_000_000,
                nanos: 5,
            },
            data,
            orig_len: data.len() as u32,
        };
        d.push(&frame, &mut out);
    }
    d.finish(&mut out);
    (out, d.summary().clone())
}

fn problems(events: &[CaptureEvent]) -> Vec<&Problem> {
    events
        .iter()
        .filter_map(|e| match e {
            CaptureEvent::Problem(p) => Some(p),
            _ => None,
        })
        .collect()
}

#[test]
fn start_line_recognition_ignores_ports_and_refuses_lookalikes() {
    assert!(looks_like_sip(INVITE));
    assert!(looks_like_sip(b"SIP/2.0 180 Ringing\r\n"));
    assert!(looks_like_sip(b"SIP/2.0 200\n"));
    assert!(!looks_like_sip(b"\r\n\r\n"));
    assert!(!looks_like_sip(b"GET / HTTP/1.1\r\n"));
    assert!(!looks_like_sip(b"SIP/2.0 2xx OK\r\n"));
    assert!(!looks_like_sip(b"INV(TE sip:a SIP/2.0\r\n"));
    assert!(!looks_like_sip(b"INVITE sip:a SIP/2.0"));
}

#[test]
fn udp_datagram_carries_its_origin() {
    let frames = udp_frames(
        addr("192.0.2.1:5080"),
        addr("192.0.2.2:40000"),
        INVITE,
        7,
        None,
    )
    .unwrap();
    let (events, s) = decode(LINKTYPE_ETHERNET, &frames);
    let CaptureEvent::Datagram { origin, payload } = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(payload, INVITE);
    assert_eq!(origin.frames, vec![1]);
    assert_eq!(origin.src, addr("192.0.2.1:5080"));
    assert_eq!(origin.dst, addr("192.0.2.2:40000"));
    assert_eq!(origin.transport, IpProtocol::Udp);
    assert_eq!(
        origin.timestamp,
        Timestamp {
            secs: 1_700_000_000,
            nanos: 5
        }
    );
    assert_eq!(s.udp_sip_datagrams, 1);
    let json = serde_json::to_string(origin).unwrap();
    assert!(json.contains(r#""src":"192.0.2.1:5080""#), "{json}");

    let other = udp_frames(
        addr("192.0.2.1:5060"),
        addr("192.0.2.2:5060"),
        b"\x00\x01 stun",
        7,
        None,
    )
    .unwrap();
    let (events, s) = decode(LINKTYPE_ETHERNET, &other);
    assert!(events.is_empty());
    assert_eq!(s.udp_not_sip, 1);
}

#[test]
fn ipv6_fragments_out_of_order_reassemble_with_all_frames() {
    let big: Vec<u8> = [INVITE, &[b'x'; 3000][..]].concat();
    let mut frames = udp_frames(
        addr("[2001:db8::1]:5060"),
        addr("[2001:db8::2]:5060"),
        &big,
        99,
        Some(1280),
    )
    .unwrap();
    assert_eq!(frames.len(), 3);
    frames.swap(0, 2);
    frames.insert(1, frames[0].clone());
    let (events, s) = decode(LINKTYPE_ETHERNET, &frames);
    let CaptureEvent::Datagram { origin, payload } = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(payload, &big);
    assert_eq!(origin.frames, vec![1, 2, 3, 4]);
    assert_eq!((s.datagrams_reassembled, s.fragments_duplicate), (1, 1));
}

#[test]
fn lying_and_truncated_lengths_are_reported_and_skipped() {
    let good = udp_frames(
        addr("10.0.0.1:5060"),
        addr("10.0.0.2:5060"),
        INVITE,
        1,
        None,
    )
    .unwrap()
    .remove(0);
    let mut ip_lies = good.clone();
    ip_lies[16..18].copy_from_slice(&2000u16.to_be_bytes());
    let mut udp_lies = good.clone();
    udp_lies[38..40].copy_from_slice(&2000u16.to_be_bytes());
    let (events, s) = decode(LINKTYPE_ETHERNET, &[ip_lies, udp_lies, good.clone()]);
    let p = problems(&events);
    assert_eq!(p.len(), 2);
    assert_eq!(
        (p[0].frame, &p[0].kind),
        (
            1,
            &ProblemKind::LyingLength {
                layer: Layer::Ipv4,
                claimed: 2000,
                available: good.len() - 14
            }
        )
    );
    assert!(matches!(
        p[1].kind,
        ProblemKind::LyingLength {
            layer: Layer::Udp,
            claimed: 2000,
            ..
        }
    ));
    assert_eq!(
        s.udp_sip_datagrams, 1,
        "the good record after the bad ones is still read"
    );

    let mut d = Decoder::new(Limits::default());
    let mut out = Vec::new();
    let cut = Frame {
        number: 4,
        linktype: LINKTYPE_ETHERNET,
        timestamp: Timestamp::default(),
        data: &good[..30],
        orig_len: good.len() as u32,
    };
    d.push(&cut, &mut out);
    assert!(matches!(
        problems(&out)[0],
        Problem {
            frame: 4,
            kind: ProblemKind::TruncatedRecord {
                layer: Layer::Ipv4,
                captured: 30,
                ..
            }
        }
    ));
}

#[test]
fn other_link_types_and_ipv6_extension_headers() {
    let eth = udp_frames(
        addr("[2001:db8::1]:5060"),
        addr("[2001:db8::2]:5060"),
        INVITE,
        1,
        None,
    )
    .unwrap()
    .remove(0);
    let ip = &eth[14..];
    // Insert a hop-by-hop header (8 bytes) and a destination-options header (16 bytes).
    let mut v6 = ip[..40].to_vec();
    v6[6] = 0;
    let plen = u16::from_be_bytes([v6[4], v6[5]]) + 24;
    v6[4..6].copy_from_slice(&plen.to_be_bytes());
    v6.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
    v6.extend_from_slice(&[17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    v6.extend_from_slice(&ip[40..]);
    let mut sll2 = vec![
        0x86, 0xdd, 0, 0, 0, 0, 0, 1, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    sll2.extend_from_slice(&v6);
    let mut null = vec![30, 0, 0, 0];
    null.extend_from_slice(ip);
    for (lt, f) in [
        (LINKTYPE_RAW, v6.clone()),
        (LINKTYPE_LINUX_SLL2, sll2),
        (LINKTYPE_NULL, null),
    ] {
        let (events, _) = decode(lt, &[f]);
        assert!(
            matches!(&events[0], CaptureEvent::Datagram { payload, .. } if payload == INVITE),
            "{lt}: {events:?}"
        );
    }
    let (events, s) = decode(4242, &[v6.clone(), v6]);
    assert_eq!(
        problems(&events).len(),
        1,
        "unknown link type reported once"
    );
    assert_eq!(s.frames_unknown_link, 2);
}

#[test]
fn tcp_segments_become_stream_data() {
    let (a, b) = (addr("10.0.0.1:5060"), addr("10.0.0.2:40000"));
    let frames = vec![
        tcp_frame(a, b, 50, 0, TCP_ACK, &INVITE[40..]).unwrap(),
        tcp_frame(a, b, 10, 0, TCP_ACK, &INVITE[..40]).unwrap(),
    ];
    let (events, _) = decode(LINKTYPE_ETHERNET, &frames);
    // The first segment seen fixes the start; the earlier one is then old data.
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, CaptureEvent::StreamData { .. })),
        "{events:?}"
    );
    let (events, _) = decode(LINKTYPE_ETHERNET, &frames[1..]);
    assert!(
        matches!(&events[0], CaptureEvent::StreamData { bytes, origin, .. } if bytes == &INVITE[..40] && origin.frames == [1])
    );
}

/// Random records and every truncation of valid ones, on every link type: never a panic.
#[test]
fn hostile_records_never_panic() {
    let mut seeds: Vec<Vec<u8>> = udp_frames(
        addr("10.0.0.1:5060"),
        addr("10.0.0.2:5060"),
        &[INVITE, &[b'x'; 3000][..]].concat(),
        3,
        Some(576),
    )
    .unwrap();
    seeds.extend(
        udp_frames(
            addr("[::1]:5060"),
            addr("[::2]:5060"),
            &[INVITE, &[b'x'; 3000][..]].concat(),
            3,
            Some(1280),
        )
        .unwrap(),
    );
    seeds.push(
        tcp_frame(
            addr("10.0.0.1:5060"),
            addr("10.0.0.2:5060"),
            1,
            1,
            TCP_ACK,
            INVITE,
        )
        .unwrap(),
    );
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut d = Decoder::new(Limits {
        max_pending_datagrams: 8,
        max_tcp_flows: 8,
        ..Limits::default()
    });
    let mut out = Vec::new();
    let mut n = 0;
    for round in 0..20_000u64 {
        let seed = &seeds[(rand() % seeds.len() as u64) as usize];
        let mut data = seed.clone();
        for _ in 0..(rand() % 6) {
            let at = (rand() % data.len() as u64) as usize;
            data[at] = rand() as u8;
        }
        data.truncate((rand() % (data.len() as u64 + 1)) as usize);
        for lt in [
            LINKTYPE_ETHERNET,
            LINKTYPE_RAW,
            LINKTYPE_NULL,
            LINKTYPE_LINUX_SLL2,
            113,
            108,
        ] {
            n += 1;
            let offset = if lt == LINKTYPE_ETHERNET {
                0
            } else {
                (round % 20) as usize
            };
            let data = data.get(offset..).unwrap_or_default();
            d.push(
                &Frame {
                    number: n,
                    linktype: lt,
                    timestamp: Timestamp {
                        secs: round / 100,
                        nanos: 0,
                    },
                    data,
                    orig_len: (rand() % 2000) as u32,
                },
                &mut out,
            );
        }
        out.clear();
    }
    d.finish(&mut out);
    assert_eq!(d.summary().frames, n);
}
