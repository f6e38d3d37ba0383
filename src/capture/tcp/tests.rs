use super::*;
use std::net::SocketAddr;

fn flow() -> FlowId {
    FlowId {
        src: "10.0.0.1:5060".parse::<SocketAddr>().unwrap(),
        dst: "10.0.0.2:5060".parse::<SocketAddr>().unwrap(),
    }
}

fn seg(seq: u32, payload: &[u8], frame: u64) -> Segment0<'_> {
    Segment0 {
        flow: flow(),
        seq,
        syn: false,
        fin_or_rst: false,
        payload,
        frame,
        ts: Timestamp { secs: 1, nanos: 0 },
    }
}

/// Stream bytes, frames per chunk, gaps (offset, missing), all events, and the counts.
type Run = (
    Vec<u8>,
    Vec<Vec<u64>>,
    Vec<(u64, u64)>,
    Vec<CaptureEvent>,
    CaptureSummary,
);

/// Runs segments through a reassembler.
fn run(limits: Limits, segs: Vec<Segment0<'_>>) -> Run {
    let mut r = Reassembler::new(limits);
    let mut s = CaptureSummary::default();
    let mut out = Vec::new();
    for sg in segs {
        r.push(sg, &mut s, &mut out);
    }
    r.finish(99, &mut s, &mut out);
    let (mut bytes, mut frames, mut gaps) = (Vec::new(), Vec::new(), Vec::new());
    for e in &out {
        match e {
            CaptureEvent::StreamData {
                bytes: b, origin, ..
            } => {
                bytes.extend_from_slice(b);
                frames.push(origin.frames.clone());
            }
            CaptureEvent::StreamGap {
                offset, missing, ..
            } => gaps.push((*offset, *missing)),
            _ => {}
        }
    }
    (bytes, frames, gaps, out, s)
}

#[test]
fn out_of_order_retransmitted_and_overlapping_segments() {
    let mut syn = seg(999, b"", 1);
    syn.syn = true;
    let (bytes, frames, gaps, _, s) = run(
        Limits::default(),
        vec![
            syn,
            seg(1000, b"INVITE sip:a@b SIP/2.0\r\n", 2),
            seg(1030, b"Via: x\r\n", 4),
            seg(1024, b"CSeq: ", 3),
            seg(1024, b"CSeq: ", 5),
            // Overlaps the delivered "x\r\n" with other bytes: the first copy stays.
            seg(1035, b"EVIL\r\nTo: y\r\n", 6),
        ],
    );
    assert_eq!(
        bytes,
        b"INVITE sip:a@b SIP/2.0\r\nCSeq: Via: x\r\nL\r\nTo: y\r\n"
    );
    assert_eq!(frames, vec![vec![2], vec![3], vec![4], vec![6]]);
    assert!(gaps.is_empty());
    assert_eq!(s.tcp_retransmitted_segments, 1);
}

#[test]
fn hole_is_reported_as_gap_at_end_and_when_pending_cap_is_hit() {
    let (bytes, _, gaps, out, s) = run(
        Limits::default(),
        vec![seg(1, b"SIP/2.0 200 OK\r\n", 1), seg(27, b"tail", 2)],
    );
    assert_eq!(bytes, b"SIP/2.0 200 OK\r\ntail");
    assert_eq!(gaps, vec![(16, 10)]);
    assert_eq!(s.tcp_gaps, 1);
    assert!(matches!(
        out.last(),
        Some(CaptureEvent::StreamEnd { frame: 99, .. })
    ));

    let limits = Limits {
        max_tcp_pending_bytes: 8,
        ..Limits::default()
    };
    let (_, _, gaps, _, _) = run(
        limits,
        vec![seg(1, b"SIP/2.0 200 OK\r\n", 1), seg(100, b"0123456789", 2)],
    );
    assert_eq!(gaps, vec![(16, 83)]);
}

#[test]
fn tls_flow_is_counted_and_reported_not_emitted() {
    let (bytes, _, _, out, s) = run(
        Limits::default(),
        vec![seg(5, &[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5], 1)],
    );
    assert!(bytes.is_empty());
    assert_eq!(s.tls_flows, 1);
    assert!(out.iter().any(|e| matches!(
        e,
        CaptureEvent::Problem(Problem {
            frame: 1,
            kind: ProblemKind::TlsFlow { .. }
        })
    )));
}

#[test]
fn flow_caught_mid_message_waits_for_sip_and_flow_cap_is_reported() {
    let (bytes, _, _, _, s) = run(
        Limits::default(),
        vec![
            seg(1, b"v=0\r\no=- 1 1 IN IP4 x\r\n", 1),
            seg(24, b"SIP/2.0 180 Ringing\r\n", 2),
        ],
    );
    // The body before the start line goes to the framer, which reports it and resynchronises.
    assert_eq!(bytes, b"v=0\r\no=- 1 1 IN IP4 x\r\nSIP/2.0 180 Ringing\r\n");
    assert_eq!(s.tcp_sip_flows, 1);
    let junk = vec![b'z'; 5000];
    let (bytes, _, _, _, s) = run(Limits::default(), vec![seg(1, &junk, 1)]);
    assert!(bytes.is_empty());
    assert_eq!((s.tcp_bytes_not_sip, s.tcp_sip_flows), (5000, 0));

    let limits = Limits {
        max_tcp_flows: 1,
        ..Limits::default()
    };
    let mut other = seg(1, b"SIP/2.0 200 OK\r\n", 2);
    other.flow.src = "10.0.0.9:1".parse().unwrap();
    let (_, _, _, out, _) = run(limits, vec![seg(1, b"SIP/2.0 200 OK\r\n", 1), other]);
    assert!(out.iter().any(|e| matches!(
        e,
        CaptureEvent::Problem(Problem {
            frame: 2,
            kind: ProblemKind::TcpFlowCapHit { .. }
        })
    )));
}

#[test]
fn sequence_numbers_wrap() {
    let (bytes, _, gaps, _, _) = run(
        Limits::default(),
        vec![seg(u32::MAX - 3, b"SIP/", 1), seg(0, b"2.0 200 OK\r\n", 2)],
    );
    assert_eq!(bytes, b"SIP/2.0 200 OK\r\n");
    assert!(gaps.is_empty());
}
