use super::*;

fn corpus(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn vector(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn mime_why(err: ParseError) -> &'static str {
    match err.kind {
        ParseErrorKind::BadMime(why) => why,
        other => panic!("expected BadMime, got {other:?}"),
    }
}

// ----- RFC 4475 mpart01: a real message with a binary detached signature -----

#[test]
fn mpart01_parts_and_exact_first_part_octets() {
    let message = Message::parse(corpus("corpus/rfc4475/mpart01.dat")).expect("valid message");
    let mp = Multipart::of_message(&message).expect("multipart body");
    assert_eq!(mp.line_ending(), LineEnding::CrLf);
    assert_eq!(mp.preamble(), b"");
    assert_eq!(mp.epilogue(), b"");
    assert_eq!(mp.parts().len(), 2);

    let first = &mp.parts()[0];
    assert_eq!(
        first.bytes(),
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\nHello"
    );
    assert_eq!(&message.body()[first.range()], first.bytes());
    assert_eq!(first.range().start, b"--7a9cbec02ceef655\r\n".len());
    assert_eq!(first.content_type(), Some(&b"text/plain"[..]));
    assert_eq!(
        first.value_named("content-transfer-encoding"),
        Some(&b"binary"[..])
    );
    assert_eq!(first.body(), b"Hello");

    let second = &mp.parts()[1];
    assert_eq!(
        second.content_type(),
        Some(&b"application/octet-stream"[..])
    );
    // The detached signature is DER whose outer length says 342 octets: the CRLF after it
    // belongs to the close delimiter, and its bare LF and NUL octets did not split it.
    let der = second.body();
    assert_eq!(der.len(), 342);
    assert!(der.contains(&0) && der.contains(&b'\n'));
    assert!(openssl::pkcs7::Pkcs7::from_der(der).is_ok());
    assert_eq!(
        second.range().end + b"\r\n--7a9cbec02ceef655--\r\n".len(),
        message.body().len()
    );
}

#[test]
fn mpart01_with_a_broken_close_delimiter_is_refused() {
    let message = Message::parse(corpus("corpus/rfc4475/mpart01.dat")).expect("valid message");
    let mut body = message.body().to_vec();
    let close = body.len() - 4;
    assert_eq!(&body[close..], b"--\r\n");
    body.truncate(close);
    body.extend_from_slice(b"\r\n");
    let err = Multipart::parse(&body, b"7a9cbec02ceef655").unwrap_err();
    assert_eq!(mime_why(err.clone()), "no close delimiter");
    assert_eq!(err.offset, body.len());
}

// ----- structure -----

const SIGNED: &[u8] = b"--inner\r\n\
Content-Type: text/plain\r\n\
\r\n\
signed text\r\n\
--inner\r\n\
Content-Type: application/pkcs7-signature\r\n\
\r\n\
SIG\r\n\
--inner--\r\n";

fn mixed_with_signed() -> Vec<u8> {
    let mut body = b"--outer\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--outer\r\n\
Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n micalg=sha-256; boundary=\"inner\"\r\n\r\n"
        .to_vec();
    body.extend_from_slice(SIGNED);
    body.extend_from_slice(b"\r\n--outer--\r\n");
    body
}

#[test]
fn nested_multipart_signed_inside_mixed() {
    let body = mixed_with_signed();
    let outer = Multipart::parse(&body, b"outer").expect("outer");
    assert_eq!(outer.parts().len(), 2);
    assert_eq!(outer.parts()[0].body(), b"v=0");
    let inner_part = &outer.parts()[1];
    assert_eq!(inner_part.body(), SIGNED);
    let inner = inner_part.multipart().expect("inner multipart/signed");
    assert_eq!(inner.parts().len(), 2);
    assert_eq!(
        inner.parts()[0].bytes(),
        b"Content-Type: text/plain\r\n\r\nsigned text"
    );
    assert_eq!(inner.parts()[1].body(), b"SIG");
    // A part that is not multipart says so instead of guessing.
    let err = outer.parts()[0].multipart().unwrap_err();
    assert_eq!(mime_why(err), "Content-Type is not multipart/*");
}

#[test]
fn nested_error_offsets_point_into_the_outer_body() {
    let body = mixed_with_signed();
    let broken_at = memchr::memmem::find(&body, b"--inner--").expect("inner close");
    let mut broken = body.clone();
    broken[broken_at + 7] = b'x'; // `--innerx-` starts with the boundary but is no delimiter
    let outer = Multipart::parse(&broken, b"outer").expect("outer still fine");
    let err = outer.parts()[1].multipart().unwrap_err();
    assert_eq!(
        mime_why(err.clone()),
        "a line starts with the boundary but is not a delimiter"
    );
    assert_eq!(err.offset, broken_at);
}

#[test]
fn preamble_and_epilogue_are_kept_apart() {
    let body = b"This is the preamble.\r\nIt has two lines.\r\n--b1\r\n\r\nonly part\r\n--b1--  \r\nepilogue\r\nmore\r\n";
    let mp = Multipart::parse(body, b"b1").expect("parses");
    assert_eq!(mp.preamble(), b"This is the preamble.\r\nIt has two lines.");
    assert_eq!(mp.epilogue(), b"epilogue\r\nmore\r\n");
    assert_eq!(mp.parts().len(), 1);
    let part = &mp.parts()[0];
    assert!(part.fields().is_empty());
    assert_eq!(part.bytes(), b"\r\nonly part");
    assert_eq!(part.body(), b"only part");
}

#[test]
fn close_delimiter_at_the_very_end_and_transport_padding() {
    let body = b"--b \t\r\nA: 1\r\n\r\nx\r\n--b--";
    let mp = Multipart::parse(body, b"b").expect("parses");
    assert_eq!(mp.parts()[0].body(), b"x");
    assert_eq!(mp.parts()[0].value_named("a"), Some(&b"1"[..]));
    assert_eq!(mp.epilogue_range(), body.len()..body.len());
}

#[test]
fn lf_bodies_parse_like_crlf_bodies() {
    let crlf = b"--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n";
    let lf = b"--b\nContent-Type: text/plain\n\none\n--b\n\ntwo\n--b--\n";
    let a = Multipart::parse(crlf, b"b").expect("crlf");
    let b = Multipart::parse(lf, b"b").expect("lf");
    assert_eq!(a.line_ending(), LineEnding::CrLf);
    assert_eq!(b.line_ending(), LineEnding::Lf);
    for (x, y) in a.parts().iter().zip(b.parts()) {
        assert_eq!(x.body(), y.body());
        assert_eq!(x.content_type(), y.content_type());
    }
    assert_eq!(a.parts().len(), 2);
    assert_eq!(b.parts()[1].bytes(), b"\ntwo");
}

#[test]
fn boundary_inside_a_line_does_not_split_a_part() {
    let body = b"--b\r\n\r\nsee --b here and x--b--\r\n --b indented\r\n--b--\r\n";
    let mp = Multipart::parse(body, b"b").expect("parses");
    assert_eq!(mp.parts().len(), 1);
    assert_eq!(
        mp.parts()[0].body(),
        b"see --b here and x--b--\r\n --b indented"
    );
}

#[test]
fn binary_part_with_nul_and_non_utf8_survives() {
    let mut body = b"--b\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    let payload = [0u8, 0xff, 0xfe, b'\r', b'\n', b'-', b'-', 0, b'\r'];
    body.extend_from_slice(&payload);
    body.extend_from_slice(b"\r\n--b--\r\n");
    let mp = Multipart::parse(&body, b"b").expect("parses");
    assert_eq!(mp.parts()[0].body(), payload);
}

// ----- refusals -----

#[test]
fn refusals_name_what_is_wrong() {
    let cases: &[(&[u8], &[u8], &str, usize)] = &[
        (b"--b\r\n\r\nx\r\n", b"b", "no close delimiter", 10),
        (
            b"--b\r\n--b--\r\n",
            b"b",
            "a part without the line break before the next delimiter",
            5,
        ),
        (
            b"--b\r\n\r\nx\r\n--b",
            b"b",
            "a line starts with the boundary but is not a delimiter",
            10,
        ),
        (
            b"--b\r\n\r\nx\r\n--bb\r\n--b--",
            b"b",
            "a line starts with the boundary but is not a delimiter",
            10,
        ),
        (
            b"--b\r\n\r\nx\n--b--\r\n",
            b"b",
            "delimiter after a bare LF in a CRLF body",
            8,
        ),
        (
            b"--b\r\n\r\nx\r\n--b\n\r\ny\r\n--b--",
            b"b",
            "a line starts with the boundary but is not a delimiter",
            10,
        ),
        (b"--b--\r\n", b"b", "close delimiter before any part", 0),
        (
            b"--bx\r\n",
            b"b",
            "delimiter line does not end with a line break",
            0,
        ),
        (
            b"nothing here",
            b"b",
            "no delimiter line with this boundary",
            0,
        ),
        (b"--\r\n", b"", "missing boundary", 0),
        (
            b"--b\r\nINVITE sip:a@b SIP/2.0\r\n\r\n--b--",
            b"b",
            "part begins with a start line, not MIME headers",
            5,
        ),
    ];
    for &(body, boundary, why, offset) in cases {
        let err = Multipart::parse(body, boundary).unwrap_err();
        assert_eq!(err.offset, offset, "{:?}", String::from_utf8_lossy(body));
        assert_eq!(mime_why(err), why, "{:?}", String::from_utf8_lossy(body));
    }
}

#[test]
fn boundary_length_and_characters_are_checked() {
    let long = [b'a'; 71];
    let err = Multipart::parse(b"", &long).unwrap_err();
    assert_eq!(mime_why(err), "boundary longer than 70 characters");
    assert!(check_boundary(&long[..70]).is_ok());
    assert_eq!(
        mime_why(check_boundary(b"ab ").unwrap_err()),
        "boundary ends with a space"
    );
    assert_eq!(
        mime_why(check_boundary(b"a\"b").unwrap_err()),
        "boundary has a character outside RFC 2046 bchars"
    );
    assert!(check_boundary(b"a b'()+_,-./:=?").is_ok());
}

#[test]
fn part_header_garbage_and_mixed_line_ends_are_refused() {
    let err = Multipart::parse(b"--b\r\nno colon\r\n\r\nx\r\n--b--", b"b").unwrap_err();
    assert!(matches!(err.kind, ParseErrorKind::BadStartLine(_)), "{err}");
    assert_eq!(
        err.offset, 7,
        "the offset is in the body, past the delimiter line"
    );
    let err = Multipart::parse(b"--b\nA: 1\r\n\r\nx\n--b--", b"b").unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::MixedLineEnds);
    assert_eq!(err.offset, 4);
}

// ----- the Content-Type boundary parameter -----

#[test]
fn boundary_param_reads_token_and_quoted_forms() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"multipart/mixed;boundary=7a9cbec02ceef655", b"7a9cbec02ceef655"),
        (b"multipart/mixed; BOUNDARY = \"a b:c\" ; x=y", b"a b:c"),
        (
            b"multipart/signed;\r\n  protocol=\"application/pkcs7-signature\";\r\n  micalg=sha1; boundary=boundary42",
            b"boundary42",
        ),
        (b"multipart/mixed; x=\"boundary=evil;\"; boundary=real", b"real"),
        (b"multipart/mixed; flag; boundary=z", b"z"),
    ];
    for &(ct, want) in cases {
        assert_eq!(
            boundary_param(ct).expect("has a boundary"),
            want,
            "{}",
            String::from_utf8_lossy(ct)
        );
    }
}

#[test]
fn boundary_param_refusals() {
    for (ct, why) in [
        (&b"multipart/mixed"[..], "missing boundary"),
        (b"multipart/mixed; charset=x", "missing boundary"),
        (b"multipart/mixed; boundary=", "missing boundary"),
        (
            b"multipart/mixed; boundary=\"abc",
            "unterminated quoted parameter value",
        ),
        (
            b"multipart/mixed; boundary=\"a\\b\"",
            "escape in a quoted parameter value",
        ),
        (
            b"multipart/mixed; boundary=a\"b",
            "boundary has a character outside RFC 2046 bchars",
        ),
    ] {
        assert_eq!(
            mime_why(boundary_param(ct).unwrap_err()),
            why,
            "{}",
            String::from_utf8_lossy(ct)
        );
    }
    let long = format!("multipart/mixed; boundary={}", "x".repeat(71));
    assert_eq!(
        mime_why(boundary_param(long.as_bytes()).unwrap_err()),
        "boundary longer than 70 characters"
    );
    assert!(is_multipart(b" Multipart/Signed; boundary=x"));
    assert!(!is_multipart(b"message/sip"));
}

// ----- building -----

fn signed_parts() -> Vec<NewPart> {
    vec![
        NewPart::new(b"INVITE sip:bob@example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n".to_vec())
            .header("Content-Type", "message/sip"),
        NewPart::new(vec![0x30, 0x82, 0x00, b'\n', 0xff])
            .header(
                "Content-Type",
                "application/pkcs7-signature; name=smime.p7s",
            )
            .header("Content-Disposition", "attachment; handling=required"),
    ]
}

#[test]
fn build_with_a_given_boundary_writes_the_expected_bytes() {
    let parts = vec![
        NewPart::new(b"hello".to_vec()).header("Content-Type", "text/plain"),
        NewPart::new(b"raw".to_vec()),
    ];
    let built = build_multipart_with(&parts, "xyz", LineEnding::CrLf).expect("builds");
    assert_eq!(
        built.body,
        b"--xyz\r\nContent-Type: text/plain\r\n\r\nhello\r\n--xyz\r\n\r\nraw\r\n--xyz--\r\n"
    );
    assert_eq!(
        built.part(0),
        Some(&b"Content-Type: text/plain\r\n\r\nhello"[..])
    );
    assert_eq!(built.part(1), Some(&b"\r\nraw"[..]));
    assert_eq!(built.part(2), None);
}

#[test]
fn build_random_boundary_round_trips_and_differs_each_time() {
    let parts = signed_parts();
    let a = build_multipart(&parts, LineEnding::CrLf).expect("builds");
    let b = build_multipart(&parts, LineEnding::CrLf).expect("builds");
    assert_ne!(a.boundary, b.boundary);
    assert!(a.boundary.len() <= MAX_BOUNDARY_LEN);
    let ct = format!(
        "multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary={}",
        a.boundary
    );
    let mp = Multipart::with_content_type(ct.as_bytes(), &a.body).expect("parses back");
    assert_eq!(mp.parts().len(), 2);
    for (i, part) in mp.parts().iter().enumerate() {
        assert_eq!(Some(part.bytes()), a.part(i));
        assert_eq!(part.range(), a.parts[i]);
        assert_eq!(part.body(), parts[i].body);
    }
    let inner = parse_message_sip(mp.parts()[0].body()).expect("message/sip");
    assert_eq!(inner.method(), Some(&b"INVITE"[..]));
}

#[test]
fn build_refuses_a_boundary_found_in_content_and_bad_parts() {
    let parts = vec![NewPart::new(b"the text mentions --xyz here".to_vec())];
    assert!(matches!(
        build_multipart_with(&parts, "xyz", LineEnding::CrLf),
        Err(BuildError::BoundaryInContent(0))
    ));
    assert!(matches!(
        build_multipart(&[], LineEnding::CrLf),
        Err(BuildError::NoParts)
    ));
    let injected = vec![NewPart::new(b"x".to_vec()).header("Subject", "a\r\nEvil: 1")];
    assert!(matches!(
        build_multipart(&injected, LineEnding::CrLf),
        Err(BuildError::BadHeader { part: 0, error }) if error.kind == ParseErrorKind::BareLineBreak
    ));
    let bad_name = vec![NewPart::new(b"x".to_vec()).header("Bad Name", "v")];
    assert!(matches!(
        build_multipart(&bad_name, LineEnding::CrLf),
        Err(BuildError::BadHeader { part: 0, .. })
    ));
    let bad_length = vec![NewPart::new(b"x".to_vec()).header("Content-Length", "many")];
    assert!(matches!(
        build_multipart(&bad_length, LineEnding::CrLf),
        Err(BuildError::Unreadable(error)) if error.kind == ParseErrorKind::BadContentLength
    ));
    assert!(matches!(
        build_multipart_with(&parts, "bad\"b", LineEnding::CrLf),
        Err(BuildError::BadBoundary(_))
    ));
}

/// The boundary this thread's next random build will try first.
fn next_boundary() -> String {
    // Make sure the thread has drawn its randomness.
    build_multipart(&signed_parts(), LineEnding::CrLf).expect("builds");
    BOUNDARIES.with_borrow(|s| s.clone().expect("drawn").next())
}

#[test]
fn boundaries_of_a_thread_share_a_prefix_but_never_repeat() {
    let a = next_boundary();
    let b = build_multipart(&signed_parts(), LineEnding::CrLf).expect("builds");
    assert_eq!(a, b.boundary, "the next boundary is the predicted one");
    let c = build_multipart(&signed_parts(), LineEnding::CrLf).expect("builds");
    assert_ne!(b.boundary, c.boundary);
    assert_eq!(b.boundary.len(), c.boundary.len());
    assert_eq!(b.boundary[..23], c.boundary[..23]);
    check_boundary(b.boundary.as_bytes()).expect("valid");
    assert!(b.boundary[7..].bytes().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn mix_is_a_bijection_on_a_sample() {
    let outputs: std::collections::HashSet<u64> = (0..10_000u64).map(mix).collect();
    assert_eq!(outputs.len(), 10_000);
    let mut hex = String::new();
    push_hex(&mut hex, 0x0123_4567_89ab_cdef);
    assert_eq!(hex, "0123456789abcdef");
}

#[test]
fn a_nested_multipart_of_the_same_thread_is_no_collision() {
    let inner = build_multipart(&signed_parts(), LineEnding::CrLf).expect("builds");
    let parts = [
        NewPart::new(b"v=0\r\n".to_vec()).header("Content-Type", "application/sdp"),
        NewPart::new(inner.body.clone()).header(
            "Content-Type",
            format!("multipart/signed;boundary={}", inner.boundary),
        ),
    ];
    let outer = build_multipart(&parts, LineEnding::CrLf).expect("builds");
    assert_eq!(
        outer.boundary[..23],
        inner.boundary[..23],
        "no fresh draw was needed"
    );
    let mp = Multipart::parse(&outer.body, outer.boundary.as_bytes()).expect("parses");
    assert_eq!(mp.parts()[1].body(), inner.body);
}

#[test]
fn content_holding_the_next_boundary_gets_another_that_it_does_not_hold() {
    let predicted = next_boundary();
    let trap = format!("text that names --{predicted} on purpose\r\n--{predicted}--");
    let parts = [
        NewPart::new(b"first".to_vec()).header("Content-Type", "text/plain"),
        NewPart::new(trap.into_bytes()).header("Content-Type", "text/plain"),
    ];
    let built = build_multipart(&parts, LineEnding::CrLf).expect("builds");
    assert_ne!(built.boundary, predicted);
    assert_ne!(
        built.boundary[..23],
        predicted[..23],
        "a collision draws fresh randomness"
    );
    assert!(parts
        .iter()
        .all(|p| memchr::memmem::find(&p.body, built.boundary.as_bytes()).is_none()));
    let mp = Multipart::parse(&built.body, built.boundary.as_bytes()).expect("parses");
    for (i, part) in mp.parts().iter().enumerate() {
        assert_eq!(part.range(), built.parts[i]);
        assert_eq!(part.body(), parts[i].body);
    }
}

#[test]
fn written_parts_keep_their_exact_octets_and_parse_back_at_their_ranges() {
    let mut head = PartHead::new(LineEnding::CrLf);
    head.field("Content-Type", b"message/sipfrag")
        .expect("writes");
    let first = head.content(b"From: <sip:a@b>\r\n");
    assert_eq!(
        first.bytes(),
        b"Content-Type: message/sipfrag\r\n\r\nFrom: <sip:a@b>\r\n"
    );
    let mut head = PartHead::new(LineEnding::CrLf);
    head.field("Content-Type", b"application/pkcs7-signature")
        .expect("writes")
        .field("Content-Length", b"4")
        .expect("a number");
    let second = head.content(b"\x30\x82\x00\xff");
    let built = build_multipart_written(&[&first, &second], LineEnding::CrLf).expect("builds");
    assert_eq!(built.part(0), Some(first.bytes()));
    assert_eq!(built.part(1), Some(second.bytes()));
    let mp = Multipart::parse(&built.body, built.boundary.as_bytes()).expect("parses");
    assert_eq!(mp.parts().len(), 2);
    for (i, part) in mp.parts().iter().enumerate() {
        assert_eq!(part.range(), built.parts[i]);
    }
    assert_eq!(mp.parts()[1].body(), b"\x30\x82\x00\xff");
}

#[test]
fn heads_the_part_index_would_refuse_are_not_written() {
    let mut head = PartHead::new(LineEnding::CrLf);
    let refused = |r: ParseResult<&mut PartHead>| r.map(|_| ()).map_err(|e| e.kind);
    assert_eq!(
        refused(head.field("l", b"x")),
        Err(ParseErrorKind::BadContentLength)
    );
    assert_eq!(
        refused(head.field("X", b" padded")),
        Err(ParseErrorKind::BadValue("white space around a value"))
    );
    assert_eq!(refused(head.field("Content-Length", b"1")), Ok(()));
    assert_eq!(
        refused(head.field("content-length", b"1")),
        Err(ParseErrorKind::MultipleContentLength)
    );
    let part = head.content(b"x");
    assert_eq!(
        part.bytes(),
        b"Content-Length: 1\r\n\r\nx",
        "refused fields left nothing"
    );
    // A part written with LF does not go into a CRLF body, where the parser would refuse it.
    let lf = PartHead::new(LineEnding::Lf).content(b"x");
    assert!(matches!(
        build_multipart_written(&[&part, &lf], LineEnding::CrLf),
        Err(BuildError::Unreadable(e)) if e.kind == ParseErrorKind::MixedLineEnds
    ));
    assert!(matches!(
        build_multipart_written(&[], LineEnding::CrLf),
        Err(BuildError::NoParts)
    ));
}

// ----- message/sip and message/sipfrag -----

/// (file suffix, method, status code, number of fields, body)
type FragExpectation = (
    &'static str,
    Option<&'static [u8]>,
    Option<u16>,
    usize,
    &'static [u8],
);

#[test]
fn rfc3420_sipfrag_examples_parse() {
    let expect: [FragExpectation; 6] = [
        ("1", Some(b"INVITE"), None, 0, b""),
        ("2", None, Some(603), 0, b""),
        ("3", Some(b"REGISTER"), None, 2, b"SIP/2.0 400 Bad Request\r\nWarning: 399 atlanta.com Your Event header field was malformed\r\n"),
        ("4", None, None, 6, b""),
        ("5a", None, Some(200), 2, b""),
        ("5b", None, None, 2, b"Hi There!\r\n"),
    ];
    for (n, method, code, fields, body) in expect {
        let bytes = corpus(&format!("sipfrag/rfc3420-s3.1-valid-{n}.sipfrag"));
        let frag = parse_sipfrag(&bytes).unwrap_or_else(|e| panic!("valid-{n}: {e}"));
        assert_eq!(frag.as_bytes(), &bytes[..], "valid-{n}");
        assert_eq!(frag.method(), method, "valid-{n}");
        assert_eq!(frag.status_code(), code, "valid-{n}");
        assert_eq!(frag.fields().len(), fields, "valid-{n}");
        if n != "5a" {
            assert_eq!(frag.body(), body, "valid-{n}");
        }
    }
    let sdp = parse_sipfrag(&corpus("sipfrag/rfc3420-s3.1-valid-5a.sipfrag")).expect("valid-5a");
    assert_eq!(sdp.body().len(), 246);
    assert!(sdp.body().starts_with(b"v=0\r\n") && sdp.body().ends_with(b"MPV/90000\r\n"));
    // A sipfrag is not a message/sip: the complete-message parser refuses the headers-only one.
    assert!(parse_message_sip(&corpus("sipfrag/rfc3420-s3.1-valid-4.sipfrag")).is_err());
}

#[test]
fn sipfrag_bytes_after_content_length_are_refused_not_dropped() {
    // valid-5 as extracted holds two RFC examples back to back, and the first one's
    // Content-Length (247) ends one byte into the blank line between them.
    let bytes = corpus("sipfrag/rfc3420-s3.1-valid-5.sipfrag");
    let err = parse_sipfrag(&bytes).unwrap_err();
    assert_eq!(
        err.kind,
        ParseErrorKind::BadValue("bytes after the body that Content-Length delimits")
    );
    let whole_sdp = memchr::memmem::find(&bytes, b"\r\nContent-Type: text/plain").expect("5b");
    assert_eq!(err.offset, whole_sdp + 1);
    // The same refusal for a complete message/sip.
    let err = parse_message_sip(b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\n\r\nxy").unwrap_err();
    assert_eq!(err.offset, 34);
}

#[test]
fn rfc3893_identity_body_nested_structure() {
    // Illustrative example (fake signature, LF line ends): structure only.
    let message =
        parse_message_sip(&vector("rfc3893-s3-invite-with-aib.txt")).expect("INVITE with AIB");
    let mixed = Multipart::of_message(&message).expect("multipart/mixed");
    assert_eq!(mixed.line_ending(), LineEnding::Lf);
    assert_eq!(mixed.parts().len(), 2);
    // The RFC's first part starts with an empty line, so its "headers" are body text.
    assert!(mixed.parts()[0].fields().is_empty());
    assert!(mixed.parts()[0]
        .body()
        .starts_with(b"Content-Type: application/sdp\n"));
    let signed = mixed.parts()[1].multipart().expect("multipart/signed");
    assert_eq!(signed.parts().len(), 2);
    let aib = &signed.parts()[0];
    assert_eq!(aib.content_type(), Some(&b"message/sipfrag"[..]));
    assert_eq!(
        aib.value(HeaderKind::ContentDisposition),
        Some(&b"aib; handling=optional"[..])
    );
    let frag = parse_sipfrag(aib.body()).expect("sipfrag");
    assert_eq!(frag.value(HeaderKind::CallId), Some(&b"a84b4c76e66710"[..]));
    // The signed octets end before the LF that precedes `--boundary42`.
    assert!(aib.bytes().ends_with(b"CSeq: 314159 INVITE\n"));
    assert_eq!(
        signed.parts()[1].content_type(),
        Some(&b"application/pkcs7-signature; name=smime.p7s"[..])
    );

    let entity = vector("rfc3893-s2-aib-body.txt");
    let part = Part::parse(&entity).expect("AIB entity");
    assert_eq!(part.content_type(), Some(&b"message/sipfrag"[..]));
    assert_eq!(
        parse_sipfrag(part.body()).expect("sipfrag").fields().len(),
        6
    );

    let entity = vector("rfc3893-s9-encrypted-signed-aib.txt");
    let part = Part::parse(&entity).expect("s9 entity");
    let signed = part.multipart().expect("multipart/signed");
    assert_eq!(signed.parts().len(), 2);
    assert!(signed.parts()[0]
        .content_type()
        .is_some_and(|ct| ct.starts_with(b"application/pkcs7-mime")));
}

#[test]
fn rfc3261_tunneled_invite_has_a_broken_close_delimiter() {
    // RFC 3261 §23.4.2 as printed ends with `--boundary42-`: refused, not guessed at.
    let bytes = vector("rfc3261-s23.4.2-tunneled-signed-invite.txt");
    // Its Content-Length (568) is wrong too: take every byte after the head as the body.
    let (head, _) = Message::parse_with(bytes.clone(), &Default::default()).expect("head");
    let body = &bytes[head.body_span().range().start..];
    let ct = head.value(HeaderKind::ContentType).expect("Content-Type");
    let err = Multipart::with_content_type(ct, body).unwrap_err();
    assert_eq!(
        mime_why(err),
        "a line starts with the boundary but is not a delimiter"
    );

    // With the close delimiter repaired the structure is found, and the inner message/sip is
    // a complete message (LF line ends, its Content-Length counted with CRLF: too long).
    let mut fixed = body.to_vec();
    fixed.splice(fixed.len() - 1..fixed.len() - 1, *b"-");
    let mp = Multipart::with_content_type(ct, &fixed).expect("repaired");
    assert_eq!(mp.parts().len(), 2);
    let tunneled = &mp.parts()[0];
    assert_eq!(tunneled.content_type(), Some(&b"message/sip"[..]));
    let inner = parse_message_sip(tunneled.body()).unwrap_err();
    assert!(matches!(
        inner.kind,
        ParseErrorKind::BodyTooShort { declared: 147, .. }
    ));
}
