//! The inner copy of a message (`message/sip`, `message/sipfrag`) against the outer one:
//! the RFC 3261 §23.4.1.1 comparison, and restoring what the inner copy protected.

use crate::header::Address;
use crate::message::{unfold, HeaderField, HeaderKind, Message};
use std::borrow::Cow;

/// Headers a proxy may change in transit, so they may differ between the inner copy and the
/// message (RFC 3261 §23.4.1.1), plus the outer wrapper's Content-Type and Content-Length.
const MAY_DIFFER: [HeaderKind; 7] = [
    HeaderKind::Via,
    HeaderKind::RecordRoute,
    HeaderKind::Route,
    HeaderKind::MaxForwards,
    HeaderKind::ProxyAuthorization,
    HeaderKind::ContentType,
    HeaderKind::ContentLength,
];

/// Headers the outer message keeps when an inner copy is restored: what routing and the
/// dialog need (RFC 3261 §23.4.1.2: inner From/To are display-only).
const OUTER_KEEPS: [HeaderKind; 10] = [
    HeaderKind::From,
    HeaderKind::To,
    HeaderKind::CallId,
    HeaderKind::CSeq,
    HeaderKind::Contact,
    HeaderKind::Via,
    HeaderKind::Route,
    HeaderKind::RecordRoute,
    HeaderKind::MaxForwards,
    HeaderKind::ProxyAuthorization,
];

/// The comparison's result: headers that matched (covered), headers that differ (each a
/// refusal reason), headers only the outer message has (not covered).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub covered: Vec<HeaderLabel>,
    pub differing: Vec<HeaderLabel>,
    pub outer_only: Vec<HeaderLabel>,
}

/// How a comparison names a header: a known one by its static lower-case name, another by its
/// name as written, lower-cased.
pub type HeaderLabel = Cow<'static, str>;

impl Comparison {
    pub fn passed(&self) -> bool {
        self.differing.is_empty()
    }
}

fn lower_name(m: &Message, f: &HeaderField) -> HeaderLabel {
    match f.kind.lower_name() {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(String::from_utf8_lossy(m.field_name(f)).to_ascii_lowercase()),
    }
}

/// A known header's full name (whatever form it was written in), another's as written.
fn canonical_name<'m>(m: &'m Message, f: &HeaderField) -> &'m [u8] {
    f.kind.name().map_or(m.field_name(f), str::as_bytes)
}

/// Whether two fields (of one message or two) are of the same header: one known kind, or for
/// another header one name in any case. (Names are tokens, ASCII: ignoring ASCII case is what
/// comparing their lower-case forms does.)
fn same_header(a: &Message, f: &HeaderField, b: &Message, g: &HeaderField) -> bool {
    f.kind == g.kind
        && (f.kind != HeaderKind::Other || a.field_name(f).eq_ignore_ascii_case(b.field_name(g)))
}

/// The values in `m` of the header `f` (a field of `of`) is, in order.
fn values_of<'a>(
    m: &'a Message,
    of: &'a Message,
    f: &'a HeaderField,
) -> impl Iterator<Item = &'a [u8]> + Clone {
    m.fields()
        .iter()
        .filter(move |g| same_header(of, f, m, g))
        .map(move |g| m.field_value(g))
}

fn normalise(value: &[u8]) -> Vec<u8> {
    let v = unfold(value);
    let mut out = Vec::with_capacity(v.len());
    for w in v
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(w);
    }
    out
}

/// Two values of one header are the same per RFC 3261 §20: addresses by URI equivalence and
/// tag, everything else with white space normalised. Equal octets are the same value whatever
/// the header (most values arrive unchanged): for an address, the two parse alike, URI
/// equivalence is reflexive (the `uri` fuzz target asserts it) and so is tag equality.
fn same_value(kind: HeaderKind, a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    if matches!(kind, HeaderKind::From | HeaderKind::To) {
        let (ua, ub) = (unfold(a), unfold(b));
        return match (Address::parse(&ua), Address::parse(&ub)) {
            (Ok(x), Ok(y)) => x.uri().equivalent(y.uri()) && x.tag() == y.tag(),
            _ => normalise(a) == normalise(b),
        };
    }
    normalise(a) == normalise(b)
}

/// Whether all the values of one header agree, in order, inside and outside.
fn same_values<'a>(
    kind: HeaderKind,
    mut inside: impl Iterator<Item = &'a [u8]>,
    mut outside: impl Iterator<Item = &'a [u8]>,
) -> bool {
    loop {
        match (inside.next(), outside.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if same_value(kind, a, b) => {}
            _ => return false,
        }
    }
}

/// Compares the inner copy with the message (RFC 3261 §23.4.1.1). The start lines must agree
/// in method or status code; a header of the inner copy must have the same values outside
/// unless a proxy may change it; an inner header absent outside is a hidden end-to-end header.
/// For an identity body (`aib`) in a response, the fragment's From is the responder (RFC 3893
/// §6): it is compared, by URI, with the message's To. The `own` headers (the caller's control
/// data, any case) are never the sender's and are not compared.
pub fn compare(inner: &Message, outer: &Message, aib: bool, own: &[&str]) -> Comparison {
    let mut c = Comparison::default();
    match (
        inner.method(),
        outer.method(),
        inner.status_code(),
        outer.status_code(),
    ) {
        (Some(a), Some(b), _, _) if a != b => c.differing.push(Cow::Borrowed("method")),
        (_, _, Some(a), Some(b)) if a != b => c.differing.push(Cow::Borrowed("status code")),
        (Some(_), None, _, _) | (None, Some(_), Some(_), _) => c
            .differing
            .push(Cow::Borrowed("start line (request vs response)")),
        _ => {}
    }
    // Fields, not names: the names are written out only for the report.
    let mut seen: Vec<&HeaderField> = Vec::new();
    for f in inner.fields() {
        if MAY_DIFFER.contains(&f.kind)
            || seen.iter().any(|g| same_header(inner, g, inner, f))
            || is_own(own, inner, f)
        {
            continue;
        }
        seen.push(f);
        if aib && f.kind == HeaderKind::From && outer.status_code().is_some() {
            let same = match (inner.from(), outer.to()) {
                (Ok(a), Ok(b)) => a.uri().equivalent(b.uri()),
                _ => false,
            };
            let label = Cow::Borrowed("to (the identity body's From, RFC 3893 §6)");
            if same {
                c.covered.push(label);
            } else {
                c.differing.push(label);
            }
            continue;
        }
        let outside = values_of(outer, inner, f);
        let same = outside.clone().next().is_none()
            || same_values(f.kind, values_of(inner, inner, f), outside);
        if same {
            c.covered.push(lower_name(inner, f));
        } else {
            c.differing.push(lower_name(inner, f));
        }
    }
    let mut outer_only: Vec<&HeaderField> = Vec::new();
    for f in outer.fields() {
        if MAY_DIFFER.contains(&f.kind)
            || seen.iter().any(|g| same_header(inner, g, outer, f))
            || outer_only.iter().any(|g| same_header(outer, g, outer, f))
        {
            continue;
        }
        outer_only.push(f);
        c.outer_only.push(lower_name(outer, f));
    }
    c
}

fn is_own(own: &[&str], m: &Message, f: &HeaderField) -> bool {
    let name = canonical_name(m, f);
    own.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(name))
}

/// Room for the headers a restore adds or lengthens (Content-Type, Content-Length, the inner
/// copy's end-to-end headers), and a verifier's mark and verdict after it.
const RESTORE_ROOM: usize = 512;

/// The message a terminal should get from a tunnelled `message/sip`: the outer message keeps
/// From, To, Call-ID, CSeq, Contact and its routing headers; every other header the inner copy
/// carries replaces the outer one of the same name (end-to-end headers hidden inside come
/// back); the body and its Content-Type come from the inner copy. The `own` headers (the
/// caller's control data, any case) never come back from inside.
pub fn restore_from_inner(
    outer: &Message,
    inner: &Message,
    own: &[&str],
) -> crate::error::ParseResult<Message> {
    let mut out = outer.clone_head(inner.body().len() + RESTORE_ROOM);
    out.remove_all(HeaderKind::ContentDisposition);
    out.remove_named("Content-Transfer-Encoding");
    match inner.value(HeaderKind::ContentType) {
        Some(ct) => out.set_header(HeaderKind::ContentType, ct)?,
        None => {
            out.remove_all(HeaderKind::ContentType);
        }
    }
    let mut done: Vec<&HeaderField> = Vec::new();
    for f in inner.fields() {
        let skip = OUTER_KEEPS.contains(&f.kind)
            || matches!(
                f.kind,
                HeaderKind::ContentLength
                    | HeaderKind::ContentType
                    | HeaderKind::ContentDisposition
            )
            || is_own(own, inner, f)
            || done.iter().any(|g| same_header(inner, g, inner, f));
        if skip {
            continue;
        }
        done.push(f);
        if same_values(
            f.kind,
            values_of(inner, inner, f),
            values_of(&out, inner, f),
        ) {
            // Bytes we do not change stay exactly as they came, in their place.
            continue;
        }
        match f.kind {
            HeaderKind::Other => out.remove_named(&lower_name(inner, f)),
            kind => out.remove_all(kind),
        };
        for g in inner
            .fields()
            .iter()
            .filter(|g| same_header(inner, f, inner, g))
        {
            let written = String::from_utf8_lossy(inner.field_name(g)).into_owned();
            out.append_field(&written, inner.field_value(g))?;
        }
    }
    if let Some(d) = inner.value(HeaderKind::ContentDisposition) {
        out.set_header(HeaderKind::ContentDisposition, d)?;
    }
    out.set_body(inner.body())?;
    Ok(out)
}

/// Replaces the body of `outer` with a MIME entity's content: Content-Type (and
/// Content-Disposition) from the entity, the S/MIME wrapper's own ones removed.
pub fn restore_entity(
    outer: &Message,
    content_type: Option<&[u8]>,
    disposition: Option<&[u8]>,
    body: &[u8],
) -> crate::error::ParseResult<Message> {
    let mut out = outer.clone_head(body.len() + RESTORE_ROOM);
    out.remove_all(HeaderKind::ContentDisposition);
    out.remove_named("Content-Transfer-Encoding");
    match content_type {
        Some(ct) => out.set_header(HeaderKind::ContentType, ct)?,
        None => {
            out.remove_all(HeaderKind::ContentType);
        }
    }
    if let Some(d) = disposition {
        out.set_header(HeaderKind::ContentDisposition, d)?;
    }
    out.set_body(body)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The caller's control header, as the tools pass it.
    const OWN: &[&str] = &["Sipsec-Control"];

    fn m(text: &str) -> Message {
        Message::parse(text.as_bytes().to_vec()).unwrap()
    }

    const OUTER: &str = "INVITE sip:b@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP p;branch=z9hG4bKx\r\n\
        Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\n\
        To: <sip:b@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 69\r\n\
        Subject: outer\r\nContent-Type: application/pkcs7-mime\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn proxy_changes_are_allowed_other_differences_are_named() {
        let inner = m(
            "INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
            From: <sip:a@EXAMPLE.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\n\
            CSeq: 1  INVITE\r\nMax-Forwards: 70\r\nX-Hidden: yes\r\nContent-Length: 0\r\n\r\n",
        );
        let c = compare(&inner, &m(OUTER), false, OWN);
        assert!(c.passed(), "{c:?}");
        assert!(c.covered.iter().any(|n| n == "x-hidden"));
        assert_eq!(c.outer_only, vec!["subject"]);

        let forged = m(
            "INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
            From: <sip:a@example.com>;tag=2\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\n\
            CSeq: 1 INVITE\r\nSubject: inner\r\nContent-Length: 0\r\n\r\n",
        );
        let c = compare(&forged, &m(OUTER), false, OWN);
        assert_eq!(c.differing, vec!["from".to_string(), "subject".to_string()]);
        let bye = m(
            "BYE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
            From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\n\
            CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        );
        assert!(compare(&bye, &m(OUTER), false, OWN)
            .differing
            .iter()
            .any(|n| n == "method"));
    }

    #[test]
    fn a_header_is_one_header_in_any_form_and_case() {
        let inner = m(
            "INVITE sip:b@example.com SIP/2.0\r\nf: <sip:a@example.com>;tag=1\r\n\
            t: <sip:b@example.com>\r\ni: c1\r\nCSeq: 1 INVITE\r\nx-hidden: yes\r\n\
            X-HIDDEN: again\r\nSIPSEC-CONTROL: not the sender's\r\nContent-Length: 0\r\n\r\n",
        );
        let outer = OUTER.replace("Subject: outer\r\n", "X-Hidden: yes\r\nx-Hidden: other\r\n");
        let c = compare(&inner, &m(&outer), false, OWN);
        assert_eq!(c.covered, ["from", "to", "call-id", "cseq"]);
        assert_eq!(c.differing, ["x-hidden"], "both values, in order");
        assert!(c.outer_only.is_empty(), "{c:?}");
        let fixed = outer.replace("x-Hidden: other", "x-hidden:  again");
        let c = compare(&inner, &m(&fixed), false, OWN);
        assert!(c.passed(), "{c:?}");
        assert_eq!(c.covered.last().map(|n| n.as_ref()), Some("x-hidden"));
        let r = restore_from_inner(&m(&outer), &inner, OWN).unwrap();
        let hidden: Vec<&[u8]> = r.values_named("x-hidden").collect();
        assert_eq!(hidden, [&b"yes"[..], b"again"]);
        assert_eq!(r.values_named("sipsec-control").count(), 0);
    }

    #[test]
    fn a_response_identity_body_names_the_responder_in_its_from() {
        let resp = m("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
            From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: c1\r\n\
            CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
        let frag = |from: &str| {
            let text = format!("From: <{from}>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\r\n");
            crate::mime::parse_sipfrag(text.as_bytes()).unwrap()
        };
        assert!(compare(&frag("sip:b@example.com"), &resp, true, OWN).passed());
        let c = compare(&frag("sip:mallory@example.com"), &resp, true, OWN);
        assert_eq!(c.differing.len(), 1, "{c:?}");
        // Outside an identity body, a From is a From.
        assert!(!compare(&frag("sip:b@example.com"), &resp, false, OWN).passed());
    }

    #[test]
    fn restoring_keeps_outer_dialog_headers_and_brings_back_hidden_ones() {
        let inner = m("INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
            From: \"Display\" <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\n\
            CSeq: 1 INVITE\r\nSubject: secret\r\nContent-Type: application/sdp\r\n\
            Content-Length: 4\r\n\r\nv=0\n");
        let r = restore_from_inner(&m(OUTER), &inner, OWN).unwrap();
        assert_eq!(r.body(), b"v=0\n");
        assert_eq!(r.value(HeaderKind::Subject), Some(&b"secret"[..]));
        assert_eq!(
            r.value(HeaderKind::From),
            Some(&b"<sip:a@example.com>;tag=1"[..])
        );
        assert_eq!(
            r.value(HeaderKind::ContentType),
            Some(&b"application/sdp"[..])
        );
        assert_eq!(r.values(HeaderKind::Via).count(), 2);
        assert_eq!(r.value(HeaderKind::MaxForwards), Some(&b"69"[..]));
    }
}
