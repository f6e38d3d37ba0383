use super::*;

const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 5\r\n\r\nhello";
const MSG2: &[u8] = b"SIP/2.0 200 OK\r\nCall-ID: 2\r\nContent-Length: 0\r\n\r\n";

fn drain(framer: &mut StreamFramer) -> Vec<FrameEvent> {
    std::iter::from_fn(|| framer.next_event()).collect()
}

fn all_events(input: &[u8], chunk: usize, on_garbage: OnGarbage) -> Vec<FrameEvent> {
    let mut f = StreamFramer::new(on_garbage);
    let mut events = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        f.push(piece);
        events.extend(drain(&mut f));
    }
    f.finish();
    events.extend(drain(&mut f));
    events
}

fn offsets_of_messages(events: &[FrameEvent]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            FrameEvent::Message { offset, .. } => Some(*offset),
            _ => None,
        })
        .collect()
}

#[test]
fn messages_back_to_back_with_keepalives_in_any_chunking() {
    let mut input = b"\r\n\r\n".to_vec();
    input.extend_from_slice(MSG);
    input.extend_from_slice(b"\r\n");
    input.extend_from_slice(MSG2);
    input.extend_from_slice(MSG);
    for chunk in [1, 2, 3, 7, 64, 4096] {
        let events = all_events(&input, chunk, OnGarbage::Stop);
        assert_eq!(events.len(), 3, "chunk {chunk}: {events:?}");
        assert_eq!(
            offsets_of_messages(&events),
            vec![
                4,
                4 + MSG.len() as u64 + 2,
                6 + (MSG.len() + MSG2.len()) as u64
            ]
        );
        match &events[0] {
            FrameEvent::Message { message, .. } => assert_eq!(message.as_bytes(), MSG),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn garbage_between_messages_is_reported_and_skipped_when_resyncing() {
    let mut input = MSG.to_vec();
    input.extend_from_slice(b"this is not sip\r\nnor this\r\n");
    input.extend_from_slice(MSG2);
    for chunk in [1, 5, 4096] {
        let events = all_events(&input, chunk, OnGarbage::Resync);
        assert_eq!(events.len(), 3, "chunk {chunk}: {events:?}");
        let start = MSG.len() as u64;
        assert_eq!(
            events[1],
            FrameEvent::Garbage {
                offset: start,
                len: 27,
                resume_at: Some(start + 27)
            }
        );
        assert!(
            matches!(&events[2], FrameEvent::Message { message, .. } if message.as_bytes() == MSG2)
        );
    }
}

#[test]
fn garbage_stops_a_live_stream() {
    let mut input = MSG.to_vec();
    input.extend_from_slice(b"junk\r\n");
    input.extend_from_slice(MSG2);
    let events = all_events(&input, 4096, OnGarbage::Stop);
    assert_eq!(events.len(), 2);
    assert!(matches!(
        events[1],
        FrameEvent::Garbage {
            len: 6,
            resume_at: Some(_),
            ..
        }
    ));
}

#[test]
fn truncated_stream_reports_the_incomplete_message() {
    let mut input = MSG.to_vec();
    input.extend_from_slice(&MSG[..MSG.len() - 2]);
    let events = all_events(&input, 4096, OnGarbage::Resync);
    assert_eq!(events.len(), 2);
    match &events[1] {
        FrameEvent::Refused {
            offset, error, raw, ..
        } => {
            assert_eq!(*offset, MSG.len() as u64);
            assert_eq!(
                error.kind,
                ParseErrorKind::BodyTooShort {
                    declared: 5,
                    available: 3
                }
            );
            assert_eq!(raw.as_deref(), Some(&MSG[..MSG.len() - 2]));
        }
        other => panic!("{other:?}"),
    }
    let head_only = all_events(
        b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\n",
        4096,
        OnGarbage::Resync,
    );
    assert!(
        matches!(&head_only[0], FrameEvent::Refused { error, .. } if error.kind == ParseErrorKind::Incomplete)
    );
}

#[test]
fn missing_content_length_is_refused_on_a_stream() {
    let mut input = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\n\r\n".to_vec();
    input.extend_from_slice(MSG2);
    let events = all_events(&input, 4096, OnGarbage::Resync);
    assert!(
        matches!(&events[0], FrameEvent::Refused { error, .. } if error.kind == ParseErrorKind::MissingContentLength)
    );
    assert!(matches!(&events[1], FrameEvent::Message { .. }));
}

#[test]
fn bad_header_is_refused_and_the_stream_resynchronises() {
    let mut input =
        b"OPTIONS sip:a@b SIP/2.0\r\nX-A: x\nSubject: forged\r\nContent-Length: 0\r\n\r\n".to_vec();
    input.extend_from_slice(MSG2);
    let events = all_events(&input, 4096, OnGarbage::Resync);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        matches!(&events[0], FrameEvent::Refused { error, .. } if error.kind == ParseErrorKind::BareLineBreak)
    );
    assert!(
        matches!(&events[1], FrameEvent::Message { message, .. } if message.as_bytes() == MSG2)
    );
    let stopped = all_events(&input, 4096, OnGarbage::Stop);
    assert_eq!(stopped.len(), 1);
}

#[test]
fn oversized_body_is_refused_and_skipped_without_buffering() {
    let mut f = StreamFramer::with_max_size(OnGarbage::Resync, 200);
    f.push(b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 100000\r\n\r\n");
    let event = f.next_event().unwrap();
    assert!(
        matches!(event, FrameEvent::Refused { len: 100051, raw: None, ref error, .. } if error.kind == ParseErrorKind::TooLarge { limit: 200 })
    );
    for _ in 0..100 {
        f.push(&[b'x'; 1000]);
        assert!(f.buffered() == 0);
        assert_eq!(f.next_event(), None);
    }
    f.push(MSG2);
    assert!(matches!(
        f.next_event(),
        Some(FrameEvent::Message { offset: 100051, .. })
    ));
}

#[test]
fn oversized_header_section_is_refused() {
    let mut f = StreamFramer::with_max_size(OnGarbage::Stop, 100);
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\n");
    for _ in 0..20 {
        f.push(b"X-Filler: aaaaaaaaaaaaaaa\r\n");
    }
    assert!(
        matches!(f.next_event(), Some(FrameEvent::Refused { ref error, .. }) if error.kind == ParseErrorKind::TooLarge { limit: 100 })
    );
    assert!(f.is_stopped());
    assert_eq!(f.next_event(), None);
}

#[test]
fn endless_garbage_without_line_ends_is_bounded() {
    let mut f = StreamFramer::with_max_size(OnGarbage::Resync, 100);
    f.push(&[b'z'; 150]);
    assert_eq!(f.next_event(), None, "more garbage may follow");
    assert_eq!(f.buffered(), 0);
    f.finish();
    assert!(matches!(
        f.next_event(),
        Some(FrameEvent::Garbage {
            offset: 0,
            len: 150,
            resume_at: None
        })
    ));
}

#[test]
fn lf_only_messages_frame_on_a_stream() {
    let input = b"OPTIONS sip:a@b SIP/2.0\nContent-Length: 2\n\nhiSIP/2.0 200 OK\nl: 0\n\n";
    let events = all_events(input, 3, OnGarbage::Stop);
    assert_eq!(offsets_of_messages(&events), vec![0, 45]);
}

#[test]
fn datagram_keeps_trailing_octets_aside() {
    let d = datagram(
        b"MESSAGE sip:a@b SIP/2.0\r\nl: 2\r\n\r\nhi and more",
        DEFAULT_MAX_SIZE,
    )
    .unwrap();
    assert_eq!(d.message.body(), b"hi");
    assert_eq!(d.trailing.as_deref(), Some(&b" and more"[..]));
}

#[test]
fn a_defective_head_is_refused_only_once_its_empty_line_arrives() {
    // Until the empty line arrives the head is incomplete, whatever its lines hold: a refusal
    // now would depend on how the stream was cut into reads.
    let mut f = StreamFramer::new(OnGarbage::Stop);
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\nno colon here\r\nCall-ID: 1\r\n");
    assert_eq!(f.next_event(), None);
    f.push(b"\r\n");
    match f.next_event() {
        Some(FrameEvent::Refused { offset, error, .. }) => {
            assert_eq!(offset, 0);
            assert_eq!(error.kind, ParseErrorKind::BadHeaderName);
            assert_eq!(error.offset, 25);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // At the end of the stream without the empty line, it is incomplete instead.
    let mut f = StreamFramer::new(OnGarbage::Resync);
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\nno colon here\r\n");
    f.finish();
    assert!(matches!(
        f.next_event(),
        Some(FrameEvent::Refused { ref error, .. }) if error.kind == ParseErrorKind::Incomplete
    ));
}

#[test]
fn a_long_run_of_garbage_is_one_event_whatever_the_buffers() {
    // 24 times the size cap of binary bytes with line feeds here and there, then a message.
    let max_size = 1000;
    let len = 24 * max_size;
    let garbage: Vec<u8> = (0..len)
        .map(|i| match i % 97 == 96 || i == len - 1 {
            true => b'\n',
            false => (i % 251) as u8 | 0x80,
        })
        .collect();
    let mut input = garbage.clone();
    input.extend_from_slice(MSG);
    for (chunk, with_message) in [(1, true), (333, true), (4096, true), (4096, false)] {
        let input = if with_message {
            &input[..]
        } else {
            &garbage[..]
        };
        let mut f = StreamFramer::with_max_size(OnGarbage::Resync, max_size);
        let mut events = Vec::new();
        for piece in input.chunks(chunk) {
            f.push(piece);
            events.extend(drain(&mut f));
        }
        f.finish();
        events.extend(drain(&mut f));
        let resume_at = with_message.then_some(garbage.len() as u64);
        assert_eq!(
            events[0],
            FrameEvent::Garbage {
                offset: 0,
                len: garbage.len() as u64,
                resume_at,
            },
            "chunk {chunk}"
        );
        assert_eq!(events.len(), 1 + usize::from(with_message), "chunk {chunk}");
        if with_message {
            assert_eq!(offsets_of_messages(&events), [garbage.len() as u64]);
        }
    }
}

/// A reader that hands out at most `step` bytes a call.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn reading_into_the_framer_gives_what_pushing_gives() {
    let mut oversized = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 3000\r\n\r\n".to_vec();
    oversized.extend_from_slice(&[b'x'; 3000]);
    let mut input = b"\r\n".to_vec();
    for part in [
        MSG,
        b"this is not sip\r\nnor this\r\n",
        MSG2,
        &oversized,
        MSG,
        b"OPTIONS sip:a@b SIP/2.0\r\nBad Header\r\nContent-Length: 0\r\n\r\n",
        MSG2,
        b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 9\r\n\r\ntrunc",
    ] {
        input.extend_from_slice(part);
    }
    for on_garbage in [OnGarbage::Resync, OnGarbage::Stop] {
        for (step, max) in [
            (1, 7),
            (5, 3),
            (64, 64),
            (100, 1000),
            (4096, 4096),
            (9, 65536),
        ] {
            let mut pushed = StreamFramer::with_max_size(on_garbage, 2000);
            let mut read = StreamFramer::with_max_size(on_garbage, 2000);
            let (mut by_push, mut by_read) = (Vec::new(), Vec::new());
            let mut reader = Trickle { data: &input, step };
            let mut copy = vec![0; max];
            loop {
                let n = read.read_from(&mut reader, max).unwrap();
                by_read.extend(drain(&mut read));
                assert!(read.buffered() <= 2000 + max);
                if n == 0 {
                    break;
                }
                let from = input.len() - reader.data.len() - n;
                copy[..n].copy_from_slice(&input[from..from + n]);
                pushed.push(&copy[..n]);
                by_push.extend(drain(&mut pushed));
                assert_eq!(pushed.offset(), read.offset(), "step {step} max {max}");
            }
            pushed.finish();
            read.finish();
            by_push.extend(drain(&mut pushed));
            by_read.extend(drain(&mut read));
            assert_eq!(by_push, by_read, "step {step} max {max} {on_garbage:?}");
            assert!(by_read.len() >= if on_garbage == OnGarbage::Stop { 2 } else { 8 });
        }
    }
}
