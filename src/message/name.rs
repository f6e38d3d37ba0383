//! Header names: the long and compact forms (RFC 3261 §7.3.3 and the extensions that registered
//! compact forms), recognised once at indexing time so that lookups compare a byte, not a string.

/// The headers sipsec looks up. Anything else is `Other` and is found by case-insensitive name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderKind {
    AcceptContact,
    AllowEvents,
    Authorization,
    CallId,
    Contact,
    ContentDisposition,
    ContentEncoding,
    ContentLength,
    ContentTransferEncoding,
    ContentType,
    CSeq,
    Date,
    Event,
    Expires,
    From,
    Identity,
    MaxForwards,
    MimeVersion,
    ProxyAuthenticate,
    ProxyAuthorization,
    ProxyRequire,
    RecordRoute,
    ReferTo,
    ReferredBy,
    RejectContact,
    RequestDisposition,
    Require,
    Route,
    SessionExpires,
    Subject,
    Supported,
    To,
    Via,
    WwwAuthenticate,
    Other,
}

/// (long name in lower case, compact form, kind). The compact forms are those of RFC 3261 §7.3.3
/// and the IANA SIP header registry: `i m e l f c k s t v o r u x y b a j d`.
const KNOWN: &[(&str, Option<u8>, HeaderKind)] = &[
    ("Accept-Contact", Some(b'a'), HeaderKind::AcceptContact),
    ("Allow-Events", Some(b'u'), HeaderKind::AllowEvents),
    ("Authorization", None, HeaderKind::Authorization),
    ("Call-ID", Some(b'i'), HeaderKind::CallId),
    ("Contact", Some(b'm'), HeaderKind::Contact),
    ("Content-Disposition", None, HeaderKind::ContentDisposition),
    ("Content-Encoding", Some(b'e'), HeaderKind::ContentEncoding),
    ("Content-Length", Some(b'l'), HeaderKind::ContentLength),
    (
        "Content-Transfer-Encoding",
        None,
        HeaderKind::ContentTransferEncoding,
    ),
    ("Content-Type", Some(b'c'), HeaderKind::ContentType),
    ("CSeq", None, HeaderKind::CSeq),
    ("Date", None, HeaderKind::Date),
    ("Event", Some(b'o'), HeaderKind::Event),
    ("Expires", None, HeaderKind::Expires),
    ("From", Some(b'f'), HeaderKind::From),
    ("Identity", Some(b'y'), HeaderKind::Identity),
    ("Max-Forwards", None, HeaderKind::MaxForwards),
    ("MIME-Version", None, HeaderKind::MimeVersion),
    ("Proxy-Authenticate", None, HeaderKind::ProxyAuthenticate),
    ("Proxy-Authorization", None, HeaderKind::ProxyAuthorization),
    ("Proxy-Require", None, HeaderKind::ProxyRequire),
    ("Record-Route", None, HeaderKind::RecordRoute),
    ("Refer-To", Some(b'r'), HeaderKind::ReferTo),
    ("Referred-By", Some(b'b'), HeaderKind::ReferredBy),
    ("Reject-Contact", Some(b'j'), HeaderKind::RejectContact),
    (
        "Request-Disposition",
        Some(b'd'),
        HeaderKind::RequestDisposition,
    ),
    ("Require", None, HeaderKind::Require),
    ("Route", None, HeaderKind::Route),
    ("Session-Expires", Some(b'x'), HeaderKind::SessionExpires),
    ("Subject", Some(b's'), HeaderKind::Subject),
    ("Supported", Some(b'k'), HeaderKind::Supported),
    ("To", Some(b't'), HeaderKind::To),
    ("Via", Some(b'v'), HeaderKind::Via),
    ("WWW-Authenticate", None, HeaderKind::WwwAuthenticate),
];

/// `KNOWN`'s names in lower case, in the same order (a test holds it).
const LOWER_NAMES: [&str; 34] = [
    "accept-contact",
    "allow-events",
    "authorization",
    "call-id",
    "contact",
    "content-disposition",
    "content-encoding",
    "content-length",
    "content-transfer-encoding",
    "content-type",
    "cseq",
    "date",
    "event",
    "expires",
    "from",
    "identity",
    "max-forwards",
    "mime-version",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-require",
    "record-route",
    "refer-to",
    "referred-by",
    "reject-contact",
    "request-disposition",
    "require",
    "route",
    "session-expires",
    "subject",
    "supported",
    "to",
    "via",
    "www-authenticate",
];

impl HeaderKind {
    /// Recognises a header name as written (any case, long or compact form).
    pub fn from_name(name: &[u8]) -> HeaderKind {
        // Called for every header line of every message: (length, first and last byte in lower
        // case) picks at most one candidate, and one comparison decides. `| 0x20` lower-cases
        // letters; for other bytes it only narrows, the comparison is what is exact.
        let (Some(&first), Some(&last)) = (name.first(), name.last()) else {
            return HeaderKind::Other;
        };
        if name.len() == 1 {
            return Self::from_compact(first);
        }
        let candidate = match (name.len(), first | 0x20, last | 0x20) {
            (2, b't', b'o') => 31,
            (3, b'v', b'a') => 32,
            (4, b'c', b'q') => 10,
            (4, b'd', b'e') => 11,
            (4, b'f', b'm') => 14,
            (5, b'e', b't') => 12,
            (5, b'r', b'e') => 27,
            (7, b'c', b'd') => 3,
            (7, b'c', b't') => 4,
            (7, b'e', b's') => 13,
            (7, b'r', b'e') => 26,
            (7, b's', b't') => 29,
            (8, b'i', b'y') => 15,
            (8, b'r', b'o') => 22,
            (9, b's', b'd') => 30,
            (11, b'r', b'y') => 23,
            (12, b'a', b's') => 1,
            (12, b'c', b'e') => 9,
            (12, b'm', b'n') => 17,
            (12, b'm', b's') => 16,
            (12, b'r', b'e') => 21,
            (13, b'a', b'n') => 2,
            (13, b'p', b'e') => 20,
            (14, b'a', b't') => 0,
            (14, b'c', b'h') => 7,
            (14, b'r', b't') => 24,
            (15, b's', b's') => 28,
            (16, b'c', b'g') => 6,
            (16, b'w', b'e') => 33,
            (18, b'p', b'e') => 18,
            (19, b'c', b'n') => 5,
            (19, b'p', b'n') => 19,
            (19, b'r', b'n') => 25,
            (25, b'c', b'g') => 8,
            _ => return HeaderKind::Other,
        };
        let (long, _, kind) = KNOWN[candidate];
        if same_name(long.as_bytes(), name) {
            kind
        } else {
            HeaderKind::Other
        }
    }

    fn from_compact(c: u8) -> HeaderKind {
        match c.to_ascii_lowercase() {
            b'a' => HeaderKind::AcceptContact,
            b'b' => HeaderKind::ReferredBy,
            b'c' => HeaderKind::ContentType,
            b'd' => HeaderKind::RequestDisposition,
            b'e' => HeaderKind::ContentEncoding,
            b'f' => HeaderKind::From,
            b'i' => HeaderKind::CallId,
            b'j' => HeaderKind::RejectContact,
            b'k' => HeaderKind::Supported,
            b'l' => HeaderKind::ContentLength,
            b'm' => HeaderKind::Contact,
            b'o' => HeaderKind::Event,
            b'r' => HeaderKind::ReferTo,
            b's' => HeaderKind::Subject,
            b't' => HeaderKind::To,
            b'u' => HeaderKind::AllowEvents,
            b'v' => HeaderKind::Via,
            b'x' => HeaderKind::SessionExpires,
            b'y' => HeaderKind::Identity,
            _ => HeaderKind::Other,
        }
    }

    /// The long name as sipsec writes it (`Call-ID`, `Content-Length`), or `None` for `Other`.
    pub fn name(self) -> Option<&'static str> {
        // `KNOWN` lists the kinds in their declaration order (a test holds it).
        KNOWN.get(self as usize).map(|k| k.0)
    }

    /// The long name in lower case (`call-id`), as reports name headers; `None` for `Other`.
    pub fn lower_name(self) -> Option<&'static str> {
        LOWER_NAMES.get(self as usize).copied()
    }
}

/// Case-insensitive equality of a known name (letters and `-` only) with a name, a word at a
/// time: a letter position ignores bit 0x20 (a letter's bit 0x40 moved down), a `-` position
/// must match exactly, so no other byte can pass for either. Fixed-size loads, because a
/// variable-length copy into a word became a call to memcpy.
fn same_name(known: &[u8], name: &[u8]) -> bool {
    fn same(k: u64, n: u64) -> bool {
        let case = (k & 0x4040_4040_4040_4040) >> 1;
        (n | case) == (k | case)
    }
    fn at<const N: usize>(b: &[u8], i: usize) -> u64 {
        let mut w = [0u8; 8];
        if let Some(bytes) = b.get(i..i + N) {
            w[..N].copy_from_slice(bytes);
        }
        u64::from_le_bytes(w)
    }
    // Two loads that together cover the name (overlapping when shorter than two words).
    fn ends<const N: usize>(k: &[u8], n: &[u8]) -> bool {
        let last = k.len() - N;
        same(at::<N>(k, 0), at::<N>(n, 0)) && same(at::<N>(k, last), at::<N>(n, last))
    }
    let len = known.len();
    match len {
        _ if len != name.len() => false,
        0 | 1 => known.eq_ignore_ascii_case(name),
        2..=3 => ends::<2>(known, name),
        4..=7 => ends::<4>(known, name),
        _ => {
            known
                .chunks_exact(8)
                .zip(name.chunks_exact(8))
                .all(|(k, n)| same(at::<8>(k, 0), at::<8>(n, 0)))
                && same(at::<8>(known, len - 8), at::<8>(name, len - 8))
        }
    }
}

/// True for the characters RFC 3261 §25.1 allows in a `token` (header names, methods).
pub fn is_token_char(c: u8) -> bool {
    TOKEN[c as usize]
}

/// `is_token_char` as a table: it runs over every header name and method.
static TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        c += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_follow_the_declaration_order() {
        assert_eq!(LOWER_NAMES.len(), KNOWN.len());
        for (i, &(name, _, kind)) in KNOWN.iter().enumerate() {
            assert_eq!(kind as usize, i, "{name}");
            assert_eq!(kind.name(), Some(name));
            assert_eq!(kind.lower_name(), Some(name.to_ascii_lowercase().as_str()));
        }
        assert_eq!(HeaderKind::Other as usize, KNOWN.len());
        assert_eq!(HeaderKind::Other.name(), None);
        assert_eq!(HeaderKind::Other.lower_name(), None);
    }

    #[test]
    fn every_compact_form_maps_to_its_long_name() {
        let expected = [
            (b'i', "call-id"),
            (b'm', "contact"),
            (b'e', "content-encoding"),
            (b'l', "content-length"),
            (b'f', "from"),
            (b'c', "content-type"),
            (b'k', "supported"),
            (b's', "subject"),
            (b't', "to"),
            (b'v', "via"),
            (b'o', "event"),
            (b'r', "refer-to"),
            (b'u', "allow-events"),
            (b'x', "session-expires"),
            (b'y', "identity"),
            (b'b', "referred-by"),
            (b'a', "accept-contact"),
            (b'j', "reject-contact"),
            (b'd', "request-disposition"),
        ];
        for (compact, long) in expected {
            let lower = HeaderKind::from_name(&[compact]);
            let upper = HeaderKind::from_name(&[compact.to_ascii_uppercase()]);
            assert_eq!(lower, upper);
            let name = lower.name().expect("known header");
            assert!(
                name.eq_ignore_ascii_case(long),
                "compact form {}",
                compact as char
            );
            assert_eq!(HeaderKind::from_name(long.as_bytes()), lower);
        }
        assert_eq!(HeaderKind::from_name(b"q"), HeaderKind::Other);
        // The table's compact column and `from_compact` agree, letter for letter.
        for c in b'a'..=b'z' {
            let listed = KNOWN.iter().find(|k| k.1 == Some(c)).map(|k| k.2);
            assert_eq!(
                listed.unwrap_or(HeaderKind::Other),
                HeaderKind::from_name(&[c]),
                "{}",
                c as char
            );
        }
    }

    #[test]
    fn every_long_name_is_recognised_in_any_case() {
        for (long, _, kind) in KNOWN {
            assert_eq!(HeaderKind::from_name(long.as_bytes()), *kind, "{long}");
            let upper = long.to_ascii_uppercase();
            assert_eq!(HeaderKind::from_name(upper.as_bytes()), *kind, "{upper}");
            let lower = long.to_ascii_lowercase();
            assert_eq!(HeaderKind::from_name(lower.as_bytes()), *kind, "{lower}");
            // One byte off is another header.
            let mut near = lower.into_bytes();
            near[long.len() - 1] ^= 0x01;
            assert_eq!(HeaderKind::from_name(&near), HeaderKind::Other, "{long}");
        }
        assert_eq!(HeaderKind::from_name(b""), HeaderKind::Other);
        assert_eq!(HeaderKind::from_name(b"Via-X"), HeaderKind::Other);
    }

    #[test]
    fn token_characters_are_those_of_rfc_3261() {
        let token: Vec<u8> = (0..=255u8).filter(|&c| is_token_char(c)).collect();
        let mut expected: Vec<u8> = (b'0'..=b'9')
            .chain(b'A'..=b'Z')
            .chain(b'a'..=b'z')
            .collect();
        expected.extend_from_slice(b"-.!%*_+`'~");
        expected.sort_unstable();
        assert_eq!(token, expected);
    }

    #[test]
    fn known_names_hold_only_letters_and_hyphens() {
        // `same_name` relies on it.
        for (long, _, _) in KNOWN {
            assert!(
                long.bytes().all(|c| c.is_ascii_alphabetic() || c == b'-'),
                "{long}"
            );
        }
        // A byte that differs from `-` only in bit 0x20 (CR) is not a hyphen.
        assert_eq!(HeaderKind::from_name(b"Call\rID"), HeaderKind::Other);
        assert_eq!(HeaderKind::from_name(b"Max\rForwards"), HeaderKind::Other);
        assert_eq!(HeaderKind::from_name(b"CALL-ID"), HeaderKind::CallId);
    }

    #[test]
    fn names_match_in_any_case() {
        assert_eq!(HeaderKind::from_name(b"cAlL-iD"), HeaderKind::CallId);
        assert_eq!(HeaderKind::from_name(b"X-Call-ID"), HeaderKind::Other);
        assert_eq!(HeaderKind::CallId.name(), Some("Call-ID"));
        assert_eq!(HeaderKind::Other.name(), None);
    }
}
