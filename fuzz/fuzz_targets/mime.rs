//! `Multipart::parse` with a boundary taken from the input, `boundary_param`, and the nested
//! parse of each part. Every range must lie inside the body and the parts must be its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipsec::mime::{self, Multipart};

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = (n as usize % 72).min(rest.len());
    let (boundary, body) = rest.split_at(n);
    if let Ok(m) = Multipart::parse(body, boundary) {
        check(&m, body);
    }
    // The first line as a Content-Type value, the rest as the body.
    let (ct, body) = match memchr_lf(data) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(b) = mime::boundary_param(ct) {
        assert!(mime::check_boundary(b).is_ok());
        let start = b.as_ptr() as usize - ct.as_ptr() as usize;
        assert!(start + b.len() <= ct.len());
    }
    if let Ok(m) = Multipart::with_content_type(ct, body) {
        check(&m, body);
    }
});

fn memchr_lf(data: &[u8]) -> Option<usize> {
    data.iter().position(|&c| c == b'\n')
}

fn check(m: &Multipart<'_>, body: &[u8]) {
    assert_eq!(&body[m.preamble_range()], m.preamble());
    assert_eq!(&body[m.epilogue_range()], m.epilogue());
    let mut end = m.preamble_range().end;
    for part in m.parts() {
        let r = part.range();
        assert!(r.start >= end, "parts in order, not overlapping");
        assert_eq!(&body[r.clone()], part.bytes());
        assert_eq!(&part.bytes()[part.body_range()], part.body());
        for f in part.fields() {
            let _ = (part.field_name(f), part.field_value(f));
        }
        if let Ok(nested) = part.multipart() {
            check(&nested, part.body());
        }
        end = r.end;
    }
    assert!(m.epilogue_range().start >= end);
}
