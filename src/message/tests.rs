use super::*;

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
