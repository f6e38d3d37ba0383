use super::*;
use crate::uri::Host;

fn msg(text: &str) -> Message {
    Message::parse(text.replace('\n', "\r\n").into_bytes()).unwrap()
}

const BASE: &str = "INVITE sip:bob@biloxi.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: Bob <sip:bob@biloxi.com>
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.com
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.com>
Content-Length: 0

";

fn with(extra: &str) -> Message {
    msg(&BASE.replace(
        "Content-Length: 0\n",
        &format!("{extra}Content-Length: 0\n"),
    ))
}

fn without(line_start: &str) -> Message {
    let text: String = BASE
        .lines()
        .filter(|l| !l.starts_with(line_start))
        .map(|l| format!("{l}\n"))
        .collect();
    msg(&text)
}

fn err_of(r: ParseResult<impl std::fmt::Debug>) -> ParseError {
    r.expect_err("expected a refusal")
}

#[test]
fn accessors_on_a_plain_invite() {
    let m = msg(BASE);
    assert_eq!(m.from().unwrap().tag(), Some(&b"1928301774"[..]));
    assert_eq!(m.from().unwrap().display_name().unwrap().as_ref(), b"Alice");
    assert_eq!(m.to().unwrap().uri().user(), Some("bob"));
    assert_eq!(m.call_id().unwrap(), b"a84b4c76e66710@pc33.atlanta.com");
    let cseq = m.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (314159, &b"INVITE"[..]));
    assert_eq!(
        m.vias().unwrap()[0].branch(),
        Some(&b"z9hG4bK776asdhds"[..])
    );
    assert_eq!(m.top_via().unwrap().transport(), b"UDP");
    assert_eq!(m.contacts().unwrap().addresses().len(), 1);
    assert_eq!(m.max_forwards().unwrap(), Some(70));
    assert_eq!(m.content_type().unwrap(), None);
    assert_eq!(m.date().unwrap(), None);
    assert!(m.routes().unwrap().is_empty());
    assert_eq!(m.subject(), None);
    m.validate().unwrap();
}

#[test]
fn compact_forms_work_through_the_accessors() {
    let m = msg("OPTIONS sip:a@b.com SIP/2.0
v: SIP/2.0/TCP h.example.com;branch=z9hG4bK1
f: <sip:x@y.com>;tag=1
t: sip:a@b.com
i: compact@host
CSeq: 1 OPTIONS
m: <sip:x@h.example.com>
c: text/plain
s: hello
l: 2

hi");
    assert_eq!(m.from().unwrap().tag(), Some(&b"1"[..]));
    assert_eq!(m.to().unwrap().uri().host(), Some(Host::Name("b.com")));
    assert_eq!(m.call_id().unwrap(), b"compact@host");
    assert_eq!(m.vias().unwrap()[0].transport(), b"TCP");
    assert!(m.content_type().unwrap().unwrap().is("text", "plain"));
    assert_eq!(m.subject().unwrap().as_ref(), b"hello");
    assert_eq!(m.contacts().unwrap().addresses()[0].uri().user(), Some("x"));
    m.validate().unwrap();
}

#[test]
fn folding_and_multiple_lines() {
    let m = with("Via: SIP/2.0/TCP a.example.com;branch=z9hG4bK2,\n SIP/2.0/UDP [2001:db8::1]:5062\n  ;branch=z9hG4bK3\nRoute: <sip:p1.example.com;lr>\nRoute: <sip:p2.example.com;lr>,\n <sip:p3.example.com;lr>\nRecord-Route: <sip:rr.example.com;lr>\nSubject: a folded\n   subject\n");
    let vias = m.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[2].port(), Some(5062));
    assert!(matches!(vias[2].host(), Host::Ipv6 { .. }));
    assert_eq!(vias[2].branch(), Some(&b"z9hG4bK3"[..]));
    let routes = m.routes().unwrap();
    let hosts: Vec<_> = routes
        .iter()
        .map(|r| r.uri().host().unwrap().to_string())
        .collect();
    assert_eq!(
        hosts,
        ["p1.example.com", "p2.example.com", "p3.example.com"]
    );
    assert!(routes.iter().all(|r| r.uri().lr()));
    assert_eq!(m.record_routes().unwrap().len(), 1);
    assert_eq!(m.subject().unwrap().as_ref(), b"a folded subject");
    m.validate().unwrap();
}

#[test]
fn errors_carry_header_name_and_message_offset() {
    let m = with("Route: <sip:p1.example.com;lr>, <sip:bad host>\n");
    let e = err_of(m.routes());
    assert_eq!(e.header.as_deref(), Some("Route"));
    assert_eq!(&m.as_bytes()[e.offset..e.offset + 5], b" host");
    assert!(matches!(e.kind, ParseErrorKind::BadUri(_)));
    assert_eq!(err_of(m.validate()), e);
    let m = msg(&BASE.replace("CSeq: 314159 INVITE", "cseq: 99999999999 INVITE"));
    let e = err_of(m.cseq());
    assert_eq!(e.header.as_deref(), Some("cseq"));
    assert_eq!(&m.as_bytes()[e.offset..e.offset + 3], b"999");
}

#[test]
fn other_headers() {
    let m = with("Date: Sat, 13 Nov 2010 23:29:00 GMT\nExpires: 3600\nContent-Disposition: session;handling=optional\nProxy-Authorization: Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:bob@biloxi.com\", response=\"0123\"\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n2\"\nProxy-Authenticate: Digest realm=\"p\", nonce=\"n3\"\nAuthorization: Digest username=\"b\", realm=\"r\"\n");
    assert_eq!(m.date().unwrap().unwrap().unix, 1289690940);
    let folded = with("Date: Sat, 13 Nov 2010\n   23:29:00 GMT\n");
    assert_eq!(folded.date().unwrap().unwrap().unix, 1289690940);
    assert_eq!(m.expires().unwrap(), Some(3600));
    assert!(m.content_disposition().unwrap().unwrap().is_optional());
    assert_eq!(
        m.proxy_authorizations().unwrap()[0]
            .param("response")
            .unwrap()
            .as_ref(),
        b"0123"
    );
    assert_eq!(
        m.www_authenticates().unwrap()[0]
            .param("nonce")
            .unwrap()
            .as_ref(),
        b"n2"
    );
    assert_eq!(
        m.proxy_authenticates().unwrap()[0]
            .param("realm")
            .unwrap()
            .as_ref(),
        b"p"
    );
    assert_eq!(
        m.authorizations().unwrap()[0]
            .param("username")
            .unwrap()
            .as_ref(),
        b"b"
    );
    m.validate().unwrap();
}

#[test]
fn contact_star() {
    let m = msg(&BASE.replace("Contact: <sip:alice@pc33.atlanta.com>", "Contact: *"));
    assert_eq!(m.contacts().unwrap(), Contacts::Star);
    assert!(m.contacts().unwrap().addresses().is_empty());
    let m = with("Contact: *\n");
    assert_eq!(
        err_of(m.contacts()).kind,
        ParseErrorKind::BadValue("Contact * with other contacts")
    );
}

#[test]
fn validate_refusals() {
    for (name, prefix) in [
        ("From", "From:"),
        ("To", "To:"),
        ("Call-ID", "Call-ID:"),
        ("CSeq", "CSeq:"),
        ("Via", "Via:"),
    ] {
        let e = err_of(without(prefix).validate());
        assert_eq!(
            (e.kind, e.header.as_deref()),
            (ParseErrorKind::MissingHeader, Some(name))
        );
    }
    let e = err_of(msg(&BASE.replace("CSeq: 314159 INVITE", "CSeq: 314159 BYE")).validate());
    assert_eq!(
        e.kind,
        ParseErrorKind::BadValue("CSeq method differs from the request method")
    );
    let e = err_of(with("t: sip:other@example.com\n").validate());
    assert_eq!(
        (e.kind, e.header.as_deref()),
        (ParseErrorKind::RepeatedHeader, Some("t"))
    );
    let e = err_of(with("Max-Forwards: 1\n").validate());
    assert_eq!(e.kind, ParseErrorKind::RepeatedHeader);
    let e = err_of(msg(&BASE.replace("Max-Forwards: 70", "Max-Forwards: 256")).validate());
    assert_eq!(e.header.as_deref(), Some("Max-Forwards"));
    let e = err_of(
        msg(&(BASE.replace("Content-Length: 0\n", "Content-Length: 2\n") + "hi")).validate(),
    );
    assert_eq!(
        (e.kind, e.header.as_deref()),
        (ParseErrorKind::MissingHeader, Some("Content-Type"))
    );
    let e = err_of(
        msg(&BASE.replace("sip:bob@biloxi.com SIP", "sip:bob@biloxi.com?Route=x SIP")).validate(),
    );
    assert_eq!(
        (e.kind, e.offset),
        (
            ParseErrorKind::BadUri("headers are not allowed in a Request-URI"),
            25
        )
    );
    let e = err_of(with("Date: Fri, 01 Jan 2010 16:00:00 EST\n").validate());
    assert_eq!(e.kind, ParseErrorKind::BadValue("Date is not in GMT"));
    let e = err_of(with("Expires: 99999999999\n").validate());
    assert_eq!(e.header.as_deref(), Some("Expires"));
    let e = err_of(with("Record-Route: sip:a@b.com?x=y\n").validate());
    assert_eq!(
        e.kind,
        ParseErrorKind::BadValue("a URI with headers must be enclosed in <>")
    );
    let e = err_of(with("Content-Disposition: ;x\n").validate());
    assert_eq!(e.header.as_deref(), Some("Content-Disposition"));
    let frag = Message::parse_fragment(b"To: <sip:a@b.com>\r\n".to_vec()).unwrap();
    assert!(matches!(
        err_of(frag.validate()).kind,
        ParseErrorKind::BadStartLine(_)
    ));
    // A response needs no Max-Forwards and may carry any CSeq method.
    let resp = msg(&BASE
        .replace("INVITE sip:bob@biloxi.com SIP/2.0", "SIP/2.0 200 OK")
        .replace("Max-Forwards: 70\n", "")
        .replace("314159 INVITE", "1 BYE"));
    resp.validate().unwrap();
}

#[test]
fn request_uri_view() {
    let m = msg(&BASE.replace("sip:bob@biloxi.com SIP", "sip:[2001:db8::10]:5070 SIP"));
    let u = m.request_uri_parsed().unwrap().unwrap();
    assert_eq!(u.port(), Some(5070));
    let m = msg(&BASE.replace("sip:bob@biloxi.com SIP", "sip:bob@bi_loxi.com SIP"));
    assert_eq!(err_of(m.request_uri_parsed().unwrap()).offset, 17);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
        let syntax = proptest::sample::select(b"sip:a@b<>\";,=/\\ \r\n\t[]:2.0UDPtagZ".to_vec());
        proptest::collection::vec(prop_oneof![4 => syntax, 1 => any::<u8>()], 0..64)
    }

    proptest! {
        /// Every view refuses or accepts any value without panicking, and an error's offset
        /// stays inside the value.
        #[test]
        fn views_never_panic(v in header_bytes()) {
            let offsets = [
                Address::parse(&v).err(),
                Via::parse(&v).err(),
                CSeq::parse(&v).err(),
                Auth::parse(&v).err(),
                MediaType::parse(&v).err(),
                ContentDisposition::parse(&v).err(),
                SipDate::parse(&v).err(),
                parse_call_id(&v).err(),
                parse_address_list(&v, &mut Vec::new()).err(),
                parse_via_list(&v, &mut Vec::new()).err(),
            ];
            for e in offsets.into_iter().flatten() {
                prop_assert!(e.offset <= v.len(), "{e}");
            }
        }
    }
}

#[test]
fn offsets_after_a_fold_point_at_the_message_bytes() {
    for eol in ["\r\n", "\n"] {
        let text = BASE
            .replace(
                "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
                "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds,\n  SIP/2.0/UDP h ;;",
            )
            .replace('\n', eol);
        let m = Message::parse(text.into_bytes()).unwrap();
        let e = err_of(m.vias());
        assert_eq!(e.kind, ParseErrorKind::BadValue("empty parameter"));
        assert_eq!(&m.as_bytes()[e.offset - 3..e.offset + 1], b"h ;;");
        assert_eq!(e.header.as_deref(), Some("Via"));
    }
}
