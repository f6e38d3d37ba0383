use super::*;
use crate::error::ParseErrorKind;

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

fn kind_of(bytes: &[u8]) -> ParseErrorKind {
    Message::parse(bytes.to_vec()).unwrap_err().kind
}

#[test]
fn unedited_message_serialises_to_its_input() {
    let m = Message::parse(INVITE).unwrap();
    assert_eq!(m.as_bytes(), INVITE);
    assert_eq!(m.method(), Some(&b"INVITE"[..]));
    assert_eq!(m.request_uri(), Some(&b"sip:bob@biloxi.example.com"[..]));
    assert_eq!(m.fields().len(), 8);
    assert_eq!(m.value(HeaderKind::CSeq), Some(&b"1 INVITE"[..]));
    assert_eq!(m.body(), b"v=0\n");
    assert_eq!(m.line_ending(), LineEnding::CrLf);
}

#[test]
fn status_line_with_empty_and_utf8_reason() {
    let m =
        Message::parse(&b"SIP/2.0 200 \xe2\x9c\x93 OK\r\nContent-Length: 0\r\n\r\n"[..]).unwrap();
    assert_eq!(
        m.start_line(),
        Some(StartLine::Response {
            code: 200,
            reason: "\u{2713} OK".as_bytes()
        })
    );
    let m = Message::parse(&b"SIP/2.0 100 \r\n\r\n"[..]).unwrap();
    assert_eq!(m.status_code(), Some(100));
}

#[test]
fn start_line_refusals_name_the_defect() {
    assert_eq!(
        kind_of(b"SIP/7.0 200 OK\r\n\r\n"),
        ParseErrorKind::UnsupportedVersion
    );
    assert_eq!(
        kind_of(b"OPTIONS sip:a@b SIP/7.0\r\n\r\n"),
        ParseErrorKind::UnsupportedVersion
    );
    assert_eq!(
        kind_of(b"SIP/2.0 4294967301 x\r\n\r\n"),
        ParseErrorKind::BadStatusCode
    );
    assert_eq!(
        kind_of(b"SIP/2.0 099 x\r\n\r\n"),
        ParseErrorKind::BadStatusCode
    );
    assert!(matches!(
        kind_of(b"INVITE  sip:a@b SIP/2.0\r\n\r\n"),
        ParseErrorKind::BadStartLine(_)
    ));
    assert!(matches!(
        kind_of(b"INVITE sip:a@b SIP/2.0 \r\n\r\n"),
        ParseErrorKind::BadStartLine(_)
    ));
    assert!(matches!(
        kind_of(b"INVITE <sip:a@b> SIP/2.0\r\n\r\n"),
        ParseErrorKind::BadStartLine(_)
    ));
    assert!(matches!(
        kind_of(b"INVITE sip:a@b; lr SIP/2.0\r\n\r\n"),
        ParseErrorKind::BadStartLine(_)
    ));
    assert!(matches!(
        kind_of(b"IN(VITE sip:a@b SIP/2.0\r\n\r\n"),
        ParseErrorKind::BadStartLine(_)
    ));
    assert!(matches!(
        kind_of(b"\r\nINVITE sip:a@b SIP/2.0\r\n\r\n"),
        ParseErrorKind::BadStartLine(_)
    ));
    assert!(matches!(
        kind_of(b"HTTP/1.1 200 OK\r\n\r\n"),
        ParseErrorKind::BadStartLine(_)
    ));
}

#[test]
fn unknown_methods_are_requests() {
    let m = Message::parse(&b"NEWMETHOD sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n"[..]).unwrap();
    assert_eq!(m.method(), Some(&b"NEWMETHOD"[..]));
}

#[test]
fn compact_forms_are_found_under_their_long_names() {
    let m = Message::parse(
        &b"BYE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: abc\r\nl: 0\r\n\r\n"[..],
    )
    .unwrap();
    assert_eq!(m.value(HeaderKind::CallId), Some(&b"abc"[..]));
    assert_eq!(m.values_named("Call-ID").next(), Some(&b"abc"[..]));
    assert_eq!(m.values_named("CALL-ID").count(), 1);
    assert_eq!(
        m.value(HeaderKind::Via),
        Some(&b"SIP/2.0/UDP h;branch=z9hG4bK1"[..])
    );
    assert_eq!(m.field_name(&m.fields()[0]), b"v");
}

#[test]
fn folded_values_and_repeated_headers() {
    let raw = b"OPTIONS sip:a@b SIP/2.0\r\nSubject: first\r\n  second \r\n\tthird\r\nVia: SIP/2.0/UDP a\r\nVia :  SIP/2.0/UDP b \r\nX-Empty:\r\nContent-Length: 0\r\n\r\n";
    let m = Message::parse(&raw[..]).unwrap();
    let subject = m.value(HeaderKind::Subject).unwrap();
    assert_eq!(subject, b"first\r\n  second \r\n\tthird");
    assert_eq!(&*unfold(subject), b"first second third");
    let vias: Vec<&[u8]> = m.values(HeaderKind::Via).collect();
    assert_eq!(vias, vec![&b"SIP/2.0/UDP a"[..], &b"SIP/2.0/UDP b"[..]]);
    assert_eq!(m.values_named("x-empty").next(), Some(&b""[..]));
    assert_eq!(m.as_bytes(), raw);
}

#[test]
fn header_refusals() {
    assert_eq!(
        kind_of(b"OPTIONS sip:a@b SIP/2.0\r\n folded\r\n\r\n"),
        ParseErrorKind::FoldingWithoutHeader
    );
    assert_eq!(
        kind_of(b"OPTIONS sip:a@b SIP/2.0\r\nNoColon\r\n\r\n"),
        ParseErrorKind::BadHeaderName
    );
    assert_eq!(
        kind_of(b"OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n"),
        ParseErrorKind::BadHeaderName
    );
    assert_eq!(
        kind_of(b"OPTIONS sip:a@b SIP/2.0\r\n: x\r\n\r\n"),
        ParseErrorKind::BadHeaderName
    );
    let e =
        Message::parse(&b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n"[..]).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::BadContentLength);
    assert_eq!(e.header.as_deref(), Some("Content-Length"));
    assert_eq!(e.offset, 41);
    assert_eq!(
        kind_of(b"OPTIONS sip:a@b SIP/2.0\r\nl: 99999999999\r\n\r\n"),
        ParseErrorKind::BadContentLength
    );
    assert_eq!(
        kind_of(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\nl: 0\r\n\r\n"),
        ParseErrorKind::MultipleContentLength
    );
    assert_eq!(
        kind_of(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc"),
        ParseErrorKind::BodyTooShort {
            declared: 10,
            available: 3
        }
    );
    assert_eq!(
        kind_of(b"OPTIONS sip:a@b SIP/2.0\r\nX: y\r\n"),
        ParseErrorKind::Incomplete
    );
}

#[test]
fn bare_line_breaks_inside_crlf_messages_are_injection() {
    // `X-A: x\nSubject: forged` must never become two headers downstream.
    let e = Message::parse(&b"OPTIONS sip:a@b SIP/2.0\r\nX-A: x\nSubject: forged\r\n\r\n"[..])
        .unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::BareLineBreak);
    assert_eq!(e.offset, 31);
    assert_eq!(
        kind_of(b"OPTIONS sip:a@b SIP/2.0\r\nX-A: x\rSubject: f\r\n\r\n"),
        ParseErrorKind::BareLineBreak
    );
    assert_eq!(
        kind_of(b"OPTIONS sip:a@b SIP/2.0\nX-A: x\r\n\n"),
        ParseErrorKind::MixedLineEnds
    );
    assert_eq!(
        kind_of(b"OPTIONS sip:a@b SIP/2.0\nX-A: x\ry\n\n"),
        ParseErrorKind::BareLineBreak
    );
}

#[test]
fn lf_only_messages_are_recognised_as_a_whole() {
    let raw = b"OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h\nContent-Length: 2\n\nhi";
    let m = Message::parse(&raw[..]).unwrap();
    assert_eq!(m.line_ending(), LineEnding::Lf);
    assert_eq!(m.body(), b"hi");
    assert_eq!(m.as_bytes(), raw);
}

#[test]
fn binary_bodies_are_kept_exactly() {
    let mut raw = b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 6\r\n\r\n".to_vec();
    raw.extend_from_slice(&[0x30, 0x82, 0x00, 0xff, b'\r', b'\n']);
    let m = Message::parse(raw.clone()).unwrap();
    assert_eq!(m.body(), &[0x30, 0x82, 0x00, 0xff, b'\r', b'\n']);
    assert_eq!(m.as_bytes(), &raw[..]);
}

#[test]
fn datagram_without_content_length_body_runs_to_the_end() {
    let (m, trailing) = Message::parse_with(
        &b"MESSAGE sip:a@b SIP/2.0\r\nX: y\r\n\r\nhello"[..],
        &ParseOptions::default(),
    )
    .unwrap();
    assert_eq!(m.body(), b"hello");
    assert_eq!(trailing, None);
}

#[test]
fn trailing_octets_are_kept_aside() {
    let raw = b"MESSAGE sip:a@b SIP/2.0\r\nl: 2\r\n\r\nhiEXTRA";
    let (m, trailing) = Message::parse_with(&raw[..], &ParseOptions::default()).unwrap();
    assert_eq!(m.body(), b"hi");
    assert_eq!(trailing.as_deref(), Some(&b"EXTRA"[..]));
    assert!(Message::parse(&raw[..]).is_err());
}

#[test]
fn size_cap_is_enforced() {
    let options = ParseOptions {
        max_size: 10,
        ..ParseOptions::default()
    };
    let e = Message::parse_with(INVITE, &options).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::TooLarge { limit: 10 });
}

#[test]
fn sipfrag_forms() {
    let start_only = Message::parse_fragment(&b"SIP/2.0 180 Ringing\r\n"[..]).unwrap();
    assert_eq!(start_only.status_code(), Some(180));
    assert!(start_only.fields().is_empty());
    let unterminated =
        Message::parse_fragment(&b"INVITE sip:alice@atlanta.com SIP/2.0"[..]).unwrap();
    assert!(unterminated.is_request());
    let headers_only = Message::parse_fragment(
        &b"To: sip:alice@atlanta.com\r\nContact: <sip:a@b>;q=0.9,\r\n  <sip:c@d>\r\n"[..],
    )
    .unwrap();
    assert_eq!(headers_only.start_line(), None);
    assert_eq!(headers_only.fields().len(), 2);
    let with_body = Message::parse_fragment(
        &b"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nHi!\r\n"[..],
    )
    .unwrap();
    assert_eq!(with_body.body(), b"Hi!\r\n");
    let lf_body = Message::parse_fragment(&b"From: <sip:a@b>\r\n\r\n"[..]).unwrap();
    assert_eq!(lf_body.body(), b"");
}

fn prefix_and_suffix_kept(
    before: &[u8],
    after: &[u8],
    changed_at: usize,
    old_len: usize,
    new_len: usize,
) {
    assert_eq!(&before[..changed_at], &after[..changed_at]);
    assert_eq!(
        &before[changed_at + old_len..],
        &after[changed_at + new_len..]
    );
}

#[test]
fn set_field_value_changes_only_that_value() {
    let mut m = Message::parse(INVITE).unwrap();
    let i = m.indices_of(HeaderKind::MaxForwards).next().unwrap();
    let at = m.fields()[i].value.start as usize;
    m.set_field_value(i, b"69").unwrap();
    prefix_and_suffix_kept(INVITE, m.as_bytes(), at, 2, 2);
    m.set_field_value(i, b"1234").unwrap();
    prefix_and_suffix_kept(INVITE, m.as_bytes(), at, 2, 4);
    assert_eq!(m.value(HeaderKind::MaxForwards), Some(&b"1234"[..]));
    assert_eq!(m.body(), b"v=0\n");
    assert_eq!(m.value(HeaderKind::CSeq), Some(&b"1 INVITE"[..]));
    let reparsed = Message::parse(m.as_bytes().to_vec()).unwrap();
    assert_eq!(reparsed, m);
}

#[test]
fn edits_refuse_line_breaks() {
    let mut m = Message::parse(INVITE).unwrap();
    let e = m.set_field_value(0, b"x\r\nSubject: forged").unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::BareLineBreak);
    assert!(m.append_field("Subject", b"a\nb").is_err());
    assert!(m.append_field("Bad Name", b"x").is_err());
    assert!(m.set_start_line(b"INVITE sip:a@b SIP/2.0\r\nX: y").is_err());
    assert_eq!(m.as_bytes(), INVITE);
}

#[test]
fn replacing_a_folded_value_removes_its_continuation_lines() {
    let raw = b"OPTIONS sip:a@b SIP/2.0\r\nSubject: one\r\n two\r\nX: y\r\nl: 0\r\n\r\n";
    let mut m = Message::parse(&raw[..]).unwrap();
    m.set_field_value(0, b"single").unwrap();
    assert_eq!(
        m.as_bytes(),
        b"OPTIONS sip:a@b SIP/2.0\r\nSubject: single\r\nX: y\r\nl: 0\r\n\r\n"
    );
    assert_eq!(Message::parse(m.as_bytes().to_vec()).unwrap(), m);
}

#[test]
fn unfold_checked_makes_folds_one_space_and_refuses_other_line_breaks() {
    let unfolded = |v: &[u8]| unfold_checked(v).map(|c| c.into_owned());
    assert!(matches!(
        unfold_checked(b"a, b"),
        Ok(Cow::Borrowed(b"a, b"))
    ));
    assert_eq!(unfolded(b"a,\r\n b").unwrap(), b"a, b");
    assert_eq!(unfolded(b"a,\r\n\tb").unwrap(), b"a, b");
    assert_eq!(unfolded(b"a,\n b").unwrap(), b"a, b");
    // Several folds, white space before one, a line of white space only.
    assert_eq!(unfolded(b"a \r\n\t b;\r\n \r\n c").unwrap(), b"a b; c");
    // A line break that does not continue the line would end the field: refused, at its start.
    for (value, at) in [
        (&b"a\r\nSubject: forged"[..], 1),
        (b"a\rSubject: forged", 1),
        (b"a\r b", 1),
        (b"a\nSubject: forged", 1),
        (b"a\r\n b\r\n", 5),
        (b"a\r\r\n b", 1),
        (b"a\n\r\n b", 1),
        (b"a\r\n b\rc", 5),
    ] {
        let e = unfold_checked(value).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::BareLineBreak, "{value:?}");
        assert_eq!(e.offset, at, "{value:?}");
    }
}

#[test]
fn a_folded_value_unfolded_is_written_back_on_one_line() {
    let raw = b"OPTIONS sip:a@b SIP/2.0\r\nRoute: <sip:p1>,\r\n <sip:p2>,\r\n\t<sip:p3>\r\nX: y\r\n \tz\r\nl: 0\r\n\r\n";
    let mut m = Message::parse(&raw[..]).unwrap();
    let value = unfold_checked(m.field_value(&m.fields()[0]))
        .unwrap()
        .into_owned();
    m.set_field_value(0, &value).unwrap();
    assert_eq!(
        m.as_bytes(),
        b"OPTIONS sip:a@b SIP/2.0\r\nRoute: <sip:p1>, <sip:p2>, <sip:p3>\r\nX: y\r\n \tz\r\nl: 0\r\n\r\n"
    );
    assert_eq!(Message::parse(m.as_bytes().to_vec()).unwrap(), m);
}

#[test]
fn insert_remove_and_append_fields() {
    let mut m = Message::parse(INVITE).unwrap();
    m.insert_field(0, "Via", b"SIP/2.0/UDP proxy.example;branch=z9hG4bKp")
        .unwrap();
    assert_eq!(m.values(HeaderKind::Via).count(), 2);
    assert!(m.as_bytes().ends_with(&INVITE[INVITE.len() - 30..]));
    m.remove_field(0);
    assert_eq!(m.as_bytes(), INVITE);
    m.append_field("Date", b"Sat, 13 Nov 2010 23:29:00 GMT")
        .unwrap();
    assert_eq!(
        m.value(HeaderKind::Date),
        Some(&b"Sat, 13 Nov 2010 23:29:00 GMT"[..])
    );
    assert_eq!(Message::parse(m.as_bytes().to_vec()).unwrap(), m);
    assert_eq!(m.remove_all(HeaderKind::Date), 1);
    assert_eq!(m.as_bytes(), INVITE);
    m.append_field("X-Internal", b"1").unwrap();
    m.append_field("x-internal", b"2").unwrap();
    assert_eq!(m.remove_named("X-INTERNAL"), 2);
    assert_eq!(m.as_bytes(), INVITE);
}

#[test]
fn set_body_updates_content_length() {
    let mut m = Message::parse(INVITE).unwrap();
    m.set_body(b"\x00binary\xff").unwrap();
    assert_eq!(m.body(), b"\x00binary\xff");
    assert_eq!(m.value(HeaderKind::ContentLength), Some(&b"8"[..]));
    let reparsed = Message::parse(m.as_bytes().to_vec()).unwrap();
    assert_eq!(reparsed, m);

    let mut no_length = Message::parse(&b"MESSAGE sip:a@b SIP/2.0\r\nX: y\r\n\r\nold"[..]).unwrap();
    no_length.set_body(b"new body").unwrap();
    assert_eq!(
        no_length.as_bytes(),
        b"MESSAGE sip:a@b SIP/2.0\r\nX: y\r\nContent-Length: 8\r\n\r\nnew body"
    );
}

#[test]
fn set_body_on_headers_only_fragment_adds_the_empty_line() {
    let mut frag = Message::parse_fragment(&b"From: <sip:a@b>\r\n"[..]).unwrap();
    frag.set_body(b"x").unwrap();
    assert_eq!(
        frag.as_bytes(),
        b"From: <sip:a@b>\r\nContent-Length: 1\r\n\r\nx"
    );
    assert_eq!(
        Message::parse_fragment(frag.as_bytes().to_vec()).unwrap(),
        frag
    );
}

#[test]
fn set_start_line_replaces_only_the_start_line() {
    let mut m = Message::parse(INVITE).unwrap();
    m.set_start_line(b"INVITE sip:bob@192.0.2.4 SIP/2.0")
        .unwrap();
    assert_eq!(m.request_uri(), Some(&b"sip:bob@192.0.2.4"[..]));
    assert_eq!(&m.as_bytes()[32..], &INVITE[41..]);
    assert!(m.set_start_line(b"garbage").is_err());
}

/// Found by the round-trip property test: appending a field moved the end of the previous
/// field's line span over the new line, so `field_line` of the old last field returned both.
#[test]
fn append_field_leaves_the_previous_line_span_alone() {
    let mut m = Message::parse(&b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"[..]).expect("parses");
    m.append_field("To", b"<sip:b@c>").expect("appends");
    let via = m.fields()[0];
    assert_eq!(m.field_line(&via), b"Via: x\r\n");
    assert_eq!(m.field_line(&m.fields()[1]), b"To: <sip:b@c>\r\n");
    let reparsed = Message::parse(m.as_bytes().to_vec()).expect("reparses");
    assert_eq!(reparsed.fields(), m.fields());
    // set_body appends Content-Length the same way.
    m.set_body(b"hi").expect("sets the body");
    let reparsed = Message::parse(m.as_bytes().to_vec()).expect("reparses");
    assert_eq!(reparsed.fields(), m.fields());
    assert_eq!(m.field_line(&m.fields()[1]), b"To: <sip:b@c>\r\n");
}

/// Found by the round-trip property test: setting an empty value (`Subject:`) moved the
/// value's own span past the bytes just written.
#[test]
fn set_field_value_on_an_empty_value() {
    let mut m = Message::parse(&b"OPTIONS sip:a@b SIP/2.0\r\nSubject: \r\nVia: x\r\n\r\n"[..])
        .expect("parses");
    m.set_field_value(0, b"hello").expect("sets");
    assert_eq!(
        m.as_bytes(),
        b"OPTIONS sip:a@b SIP/2.0\r\nSubject: hello\r\nVia: x\r\n\r\n"
    );
    assert_eq!(m.field_value(&m.fields()[0]), b"hello");
    let reparsed = Message::parse(m.as_bytes().to_vec()).expect("reparses");
    assert_eq!(reparsed.fields(), m.fields());
}

/// Found by the `message` fuzz target: a field appended to a sipfrag whose last line had no line
/// end ran into that line, so the index showed a header the bytes did not hold.
#[test]
fn additions_after_an_unterminated_fragment_line_start_a_new_line() {
    let cases: [(&[u8], &[u8]); 3] = [
        (
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP a",
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP a\r\nX-A: 1\r\n",
        ),
        (b"SIP/2.0 200 OK", b"SIP/2.0 200 OK\r\nX-A: 1\r\n"),
        (
            b"Via: SIP/2.0/TCP a\nTo: b",
            b"Via: SIP/2.0/TCP a\nTo: b\nX-A: 1\n",
        ),
    ];
    for (input, expected) in cases {
        let mut m = Message::parse_fragment(input).unwrap();
        m.append_field("X-A", b"1").unwrap();
        assert_eq!(m.as_bytes(), expected);
        let again = Message::parse_fragment(m.as_bytes()).unwrap();
        assert_eq!(again.fields(), m.fields());
        assert_eq!(m.values_named("X-A").next(), Some(&b"1"[..]));
    }

    let mut m = Message::parse_fragment(&b"To: <sip:a@b>"[..]).unwrap();
    m.set_body(b"body").unwrap();
    assert_eq!(
        m.as_bytes(),
        b"To: <sip:a@b>\r\nContent-Length: 4\r\n\r\nbody"
    );
    let again = Message::parse_fragment(m.as_bytes()).unwrap();
    assert_eq!(again.fields(), m.fields());
    assert_eq!(again.body(), b"body");

    // The last field's value is empty and ends the fragment: it stays before the new line end.
    let mut m = Message::parse_fragment(&b"X-B:  "[..]).unwrap();
    m.set_body(b"b").unwrap();
    assert_eq!(m.as_bytes(), b"X-B:  \r\nContent-Length: 1\r\n\r\nb");
    assert_eq!(m.values_named("X-B").next(), Some(&b""[..]));
    let again = Message::parse_fragment(m.as_bytes()).unwrap();
    assert_eq!(again.fields(), m.fields());
}

/// Found by the `message` fuzz target: replacing the value of a sipfrag's last field, on a line
/// without a line end, took the end of the message to be offset 0 and panicked.
#[test]
fn value_on_an_unterminated_last_line_is_replaced() {
    let mut m = Message::parse_fragment(&b"To: <sip:a@b>\r\nSubject: old  "[..]).unwrap();
    m.set_field_value(1, b"new").unwrap();
    assert_eq!(m.as_bytes(), b"To: <sip:a@b>\r\nSubject: new");
    let again = Message::parse_fragment(m.as_bytes()).unwrap();
    assert_eq!(again.fields(), m.fields());

    // An empty value there: the line grows with the value written into it.
    let mut m = Message::parse_fragment(&b"Subject:"[..]).unwrap();
    m.set_field_value(0, b"new").unwrap();
    assert_eq!(m.as_bytes(), b"Subject:new");
    assert_eq!(m.field_line(&m.fields()[0]), b"Subject:new");
    let again = Message::parse_fragment(m.as_bytes()).unwrap();
    assert_eq!(again.fields(), m.fields());
}
