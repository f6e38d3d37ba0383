//! `Uri::parse` on arbitrary bytes: every accessor, reflexive and symmetric equivalence, a
//! re-parse of the accepted text that is equivalent to the first, and the AOR key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipsec::uri::{parse_hostport, Aor, Uri};

fuzz_target!(|data: &[u8]| {
    // Two URIs: split at the first NUL, so symmetry is checked on related inputs too.
    let (a, b) = match data.iter().position(|&c| c == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    let ua = Uri::parse(a).ok();
    if let Some(u) = &ua {
        exercise(u);
        assert!(u.equivalent(u), "equivalence is reflexive: {:?}", u.as_str());
        let again = Uri::parse_str(u.as_str()).expect("accepted text parses again");
        assert!(again.equivalent(u) && u.equivalent(&again));
        if let Some(aor) = u.aor() {
            let _ = aor.to_string();
        }
    }
    if let (Some(x), Ok(y)) = (&ua, Uri::parse(b)) {
        assert_eq!(x.equivalent(&y), y.equivalent(x), "equivalence is symmetric");
    }
    if let Ok(text) = std::str::from_utf8(a) {
        let _ = Aor::parse(text);
        let _ = parse_hostport(text, 0);
    }
});

fn exercise(u: &Uri<'_>) {
    let _ = (u.scheme(), u.scheme_str(), u.opaque(), u.user(), u.password());
    let _ = (u.user_unescaped(), u.host(), u.port(), u.transport(), u.user_param());
    let _ = (u.method_param(), u.ttl(), u.maddr(), u.lr(), u.has_headers());
    for p in u.params() {
        let _ = u.param(p.name);
    }
    for h in u.headers() {
        let _ = h;
    }
    if let Some(h) = u.host() {
        assert!(h.equivalent(&h));
    }
}
