//! `Message::parse` and `parse_fragment` on arbitrary bytes; for accepted inputs, the bytes come
//! back unchanged, and after each edit the message's index agrees with a fresh parse of its
//! bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipsec::{HeaderKind, Message};

fuzz_target!(|data: &[u8]| {
    let Some((&op, data)) = data.split_first() else {
        return;
    };
    if let Ok(m) = Message::parse(data.to_vec()) {
        assert_eq!(m.as_bytes(), data);
        edit(m, op, false);
    }
    if let Ok(m) = Message::parse_fragment(data.to_vec()) {
        assert_eq!(m.as_bytes(), data);
        edit(m, op, true);
    }
});

fn reparse(bytes: &[u8], fragment: bool) -> Option<Message> {
    if fragment {
        Message::parse_fragment(bytes.to_vec()).ok()
    } else {
        Message::parse(bytes.to_vec()).ok()
    }
}

/// After an edit, the index must describe the bytes as a fresh parse would.
fn check(m: &Message, fragment: bool) {
    if let Some(again) = reparse(m.as_bytes(), fragment) {
        assert_eq!(again.fields(), m.fields(), "fields after an edit");
        assert_eq!(again.body(), m.body(), "body after an edit");
        assert_eq!(again.start_line(), m.start_line(), "start line after an edit");
    }
}

fn edit(mut m: Message, op: u8, fragment: bool) {
    let n = m.fields().len();
    // Token values only: a value with edge white space is legitimately re-spanned by a parse.
    let value = format!("fuzz{op}");
    let index = op as usize % (n + 1);
    match op % 6 {
        0 if index < n => {
            if m.set_field_value(index, value.as_bytes()).is_ok() {
                assert_eq!(m.field_value(&m.fields()[index]), value.as_bytes());
            }
        }
        1 if index < n => m.remove_field(index),
        2 => {
            if m.insert_field(index, "X-Fuzz", value.as_bytes()).is_ok() {
                assert_eq!(m.fields().len(), n + 1);
            }
        }
        3 => {
            if m.set_body(value.as_bytes()).is_ok() {
                assert_eq!(m.body(), value.as_bytes());
                let len = value.len().to_string();
                assert_eq!(m.value(HeaderKind::ContentLength), Some(len.as_bytes()));
            }
        }
        4 => {
            let _ = m.remove_all(HeaderKind::Via);
        }
        _ => {
            let _ = m.set_header(HeaderKind::Subject, value.as_bytes());
        }
    }
    check(&m, fragment);
}
