//! Arbitrary bytes, pushed in arbitrary chunk sizes into `StreamFramer` in both `OnGarbage`
//! modes, and framed as one datagram. Every byte must be accounted for: events are in order,
//! do not overlap, and what lies between them is only CR/LF keep-alives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipsec::framing::{self, FrameEvent, OnGarbage, StreamFramer};
use sipsec::{Message, ParseErrorKind};

fuzz_target!(|input: &[u8]| {
    // Four bytes of set-up: chunk sizes and the size cap; the rest is the stream.
    let Some((setup, data)) = input.split_first_chunk::<4>() else {
        return;
    };
    let chunks = [setup[0] as usize + 1, setup[1] as usize + 1, setup[2] as usize * 64 + 1];
    let max_size = match setup[3] % 4 {
        0 => sipsec::message::DEFAULT_MAX_SIZE,
        n => 16 << (n * 2),
    };
    for on_garbage in [OnGarbage::Resync, OnGarbage::Stop] {
        check_stream(data, &chunks, on_garbage, max_size);
    }
    if let Ok(d) = framing::datagram(data, max_size) {
        let mut whole = d.message.as_bytes().to_vec();
        if let Some(t) = &d.trailing {
            assert!(!t.is_empty());
            whole.extend_from_slice(t);
        }
        assert_eq!(whole, data, "datagram: message + trailing octets == input");
    }
});

fn check_stream(data: &[u8], chunks: &[usize], on_garbage: OnGarbage, max_size: usize) {
    let mut framer = StreamFramer::with_max_size(on_garbage, max_size);
    let mut events = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = chunks[i % chunks.len()].min(rest.len());
        framer.push(&rest[..n]);
        rest = &rest[n..];
        i += 1;
        while let Some(e) = framer.next_event() {
            events.push(e);
        }
    }
    framer.finish();
    while let Some(e) = framer.next_event() {
        events.push(e);
    }

    let mut end = 0u64;
    let mut skipped_past_input = false;
    for event in &events {
        assert!(!skipped_past_input, "no event after a refusal that ran past the input");
        let (offset, len, raw) = match event {
            FrameEvent::Message { offset, message } => {
                let bytes = message.as_bytes();
                assert!(bytes.len() <= max_size);
                // The same bytes are one complete message under datagram rules too.
                let again = Message::parse(bytes.to_vec()).expect("a framed message parses");
                assert_eq!(again.fields(), message.fields());
                (*offset, bytes.len() as u64, Some(bytes))
            }
            FrameEvent::Refused {
                offset,
                len,
                error,
                raw,
            } => {
                if raw.is_none() {
                    // Not copied: refused for its size, or its extent is over the cap.
                    assert!(
                        matches!(error.kind, ParseErrorKind::TooLarge { .. })
                            || *len > max_size as u64
                    );
                }
                (*offset, *len, raw.as_deref())
            }
            FrameEvent::Garbage {
                offset,
                len,
                resume_at,
            } => {
                if let Some(r) = resume_at {
                    assert_eq!(*r, offset + len);
                }
                (*offset, *len, None)
            }
        };
        assert!(len > 0, "empty event {event:?}");
        assert!(offset >= end, "events overlap or go backwards");
        assert_keepalive(&data[end as usize..offset as usize]);
        end = offset + len;
        if end > data.len() as u64 {
            // Only a message refused for its size may extend past what was pushed.
            assert!(raw.is_none());
            assert!(matches!(
                event,
                FrameEvent::Refused { error, .. } if matches!(error.kind, ParseErrorKind::TooLarge { .. })
            ));
            skipped_past_input = true;
            continue;
        }
        if let Some(raw) = raw {
            assert_eq!(raw, &data[offset as usize..end as usize]);
        }
    }
    if !framer.is_stopped() && !skipped_past_input {
        assert_keepalive(&data[end as usize..]);
        assert_eq!(framer.buffered(), 0);
    }
}

fn assert_keepalive(gap: &[u8]) {
    assert!(
        gap.iter().all(|&c| c == b'\r' || c == b'\n'),
        "bytes not accounted for: {gap:?}"
    );
}
