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

impl HeaderKind {
    /// Recognises a header name as written (any case, long or compact form).
    pub fn from_name(name: &[u8]) -> HeaderKind {
        // Called for every header line of every message: narrow by length and first byte
        // before comparing whole names.
        let candidates: &[usize] = match name.len() {
            1 => return Self::from_compact(name[0]),
            2 => &[31],
            3 => &[32],
            4 => &[10, 11, 14],
            5 => &[12, 27],
            7 => &[3, 4, 13, 26, 29],
            8 => &[15, 22],
            9 => &[30],
            11 => &[23],
            12 => &[1, 9, 16, 17, 21],
            13 => &[2, 20],
            14 => &[0, 7, 24],
            15 => &[28],
            16 => &[6, 33],
            18 => &[18],
            19 => &[5, 19, 25],
            25 => &[8],
            // Empty names included: `Other`, never a panic.
            _ => return HeaderKind::Other,
        };
        let first = name.first().map(u8::to_ascii_lowercase);
        candidates
            .iter()
            .map(|&i| &KNOWN[i])
            .find(|(long, _, _)| {
                long.bytes().next().map(|c| c.to_ascii_lowercase()) == first
                    && long.as_bytes().eq_ignore_ascii_case(name)
            })
            .map_or(HeaderKind::Other, |k| k.2)
    }

    fn from_compact(c: u8) -> HeaderKind {
        let c = c.to_ascii_lowercase();
        KNOWN
            .iter()
            .find(|(_, compact, _)| *compact == Some(c))
            .map_or(HeaderKind::Other, |k| k.2)
    }

    /// The long name as sipsec writes it (`Call-ID`, `Content-Length`), or `None` for `Other`.
    pub fn name(self) -> Option<&'static str> {
        KNOWN.iter().find(|k| k.2 == self).map(|k| k.0)
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
    fn names_match_in_any_case() {
        assert_eq!(HeaderKind::from_name(b"cAlL-iD"), HeaderKind::CallId);
        assert_eq!(HeaderKind::from_name(b"X-Call-ID"), HeaderKind::Other);
        assert_eq!(HeaderKind::CallId.name(), Some("Call-ID"));
        assert_eq!(HeaderKind::Other.name(), None);
    }
}
