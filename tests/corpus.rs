//! RFC 4475 (SIP torture tests) and RFC 5118 (IPv6 torture tests), every file of the Appendix A
//! archives: valid messages parse, serialise back byte-identical, pass `validate()` and show
//! the typed values the RFC describes; invalid ones are refused with the error that names the
//! defect. See testdata/README.md for where the files come from.

use sipsec::error::{ParseError, ParseErrorKind};
use sipsec::header::{Address, Contacts};
use sipsec::message::{Framing, LineEnding, ParseOptions, StartLine};
use sipsec::uri::{Host, Scheme, Uri};
use sipsec::Message;
use std::path::PathBuf;

type Check = fn(&Message, Option<&[u8]>);

enum Expect {
    /// Parses, round-trips, validates; then the check runs.
    Valid(Check),
    /// Refused by `parse` or `validate` with this kind, in this header (if named).
    Refused(ParseErrorKind, Option<&'static str>),
    /// In the archive but referenced by no section of RFC 4475 (test.dat): must not panic.
    Unclassified,
}

/// Defects of the archived bytes that are not the point of the test: each is asserted as
/// archived, then repaired before the row's expectation is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Archive {
    Exact,
    /// No empty line ends the header section (baddn.dat, the two RFC 5118 §4.10 files): as
    /// archived the message is `Incomplete`.
    Unterminated,
    /// Content-Length is larger than the archived body (RFC 5118 ipv6-in-sdp says 268 for a
    /// 242-byte LF body, 251 as CRLF; mult-ip-in-sdp says 181 for 180): as archived it is
    /// `BodyTooShort`; repaired to the body's length.
    WrongLength,
}

struct Row {
    file: &'static str,
    archive: Archive,
    expect: Expect,
}

use Expect::{Refused, Unclassified, Valid};
use ParseErrorKind as K;

const fn row(file: &'static str, expect: Expect) -> Row {
    Row {
        file,
        archive: Archive::Exact,
        expect,
    }
}

const fn unterminated(file: &'static str, expect: Expect) -> Row {
    Row {
        file,
        archive: Archive::Unterminated,
        expect,
    }
}

const fn wrong_length(file: &'static str, expect: Expect) -> Row {
    Row {
        file,
        archive: Archive::WrongLength,
        expect,
    }
}

fn path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/corpus")
        .join(file)
}

fn ruri(m: &Message) -> Uri<'_> {
    m.request_uri_parsed().unwrap().unwrap()
}

fn reason(m: &Message) -> &[u8] {
    match m.start_line().unwrap() {
        StartLine::Response { reason, .. } => reason,
        StartLine::Request { .. } => panic!("not a response"),
    }
}

fn ipv6_text<'a>(h: Host<'a>) -> &'a str {
    match h {
        Host::Ipv6 { text, .. } => text,
        other => panic!("not IPv6: {other:?}"),
    }
}

fn contacts(m: &Message) -> Vec<Address<'_>> {
    match m.contacts().unwrap() {
        Contacts::List(l) => l,
        Contacts::Star => panic!("unexpected *"),
    }
}

fn rfc4475_rows() -> Vec<Row> {
    let bad_start = |why| Refused(K::BadStartLine(why), None);
    vec![
        row(
            "rfc4475/wsinv.dat",
            Valid(|m, _| {
                let from = m.from().unwrap();
                assert_eq!(from.display_name().unwrap().as_ref(), b"J Rosenberg \\\"");
                assert_eq!(from.tag(), Some(&b"98asjd8"[..]));
                assert_eq!(m.to().unwrap().tag(), Some(&b"1918181833n"[..]));
                assert_eq!(m.max_forwards().unwrap(), Some(68));
                let cseq = m.cseq().unwrap();
                assert_eq!((cseq.seq, cseq.method), (9, &b"INVITE"[..]));
                let vias = m.vias().unwrap();
                let t: Vec<_> = vias.iter().map(|v| v.transport()).collect();
                assert_eq!(t, [&b"UDP"[..], b"TCP", b"UDP"]);
                assert_eq!(vias[2].branch(), Some(&b"z9hG4bK30239"[..]));
                let c = contacts(m);
                assert_eq!(c[0].display_name().unwrap().as_ref(), b"Quoted string \"\"");
                assert_eq!(c[0].params().get("newparam"), Some(Some(&b"newvalue"[..])));
                assert_eq!(c[0].params().get("q"), Some(Some(&b"0.33"[..])));
                assert!(m.routes().unwrap()[0].uri().lr());
                assert_eq!(m.subject().unwrap().as_ref(), b"");
                assert_eq!(
                    m.values_named("UnknownHeaderWithUnusualValue").next(),
                    Some(&b";;,,;;,;"[..])
                );
                assert_eq!(ruri(m).param("unknownparam"), Some(None));
            }),
        ),
        row(
            "rfc4475/intmeth.dat",
            Valid(|m, _| {
                let u = ruri(m);
                assert_eq!(
                    u.user(),
                    Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
                );
                assert_eq!(
                    u.password(),
                    Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
                );
                assert_eq!(
                    m.to().unwrap().display_name().unwrap().as_ref(),
                    b"BEL:\x07 NUL:\0 DEL:\x7f"
                );
                assert_eq!(
                    m.from().unwrap().display_raw(),
                    Some(&b"token1~` token2'+_ token3*%!.-"[..])
                );
                assert_eq!(m.from().unwrap().tag(), Some(&b"_token~1'+`*%!-."[..]));
                assert_eq!(m.cseq().unwrap().method, m.method().unwrap());
                assert_eq!(m.max_forwards().unwrap(), Some(255));
                assert_eq!(
                    m.top_via().unwrap().branch(),
                    Some(&b"z9hG4bK-.!%66*_+`'~"[..])
                );
            }),
        ),
        row(
            "rfc4475/esc01.dat",
            Valid(|m, _| {
                let u = ruri(m);
                assert_eq!(
                    u.user_unescaped().unwrap().as_ref(),
                    b"sips:user@example.com"
                );
                assert_eq!(u.host(), Some(Host::Name("example.net")));
                let to = m.to().unwrap();
                assert!(to
                    .uri()
                    .equivalent(&Uri::parse_str("sip:user@example.com").unwrap()));
                assert_eq!(
                    m.from().unwrap().uri().user_unescaped().unwrap().as_ref(),
                    b"I have spaces"
                );
                let c = contacts(m);
                let same =
                    Uri::parse_str("sip:caller@host5.example.net;lr;name=value%2541").unwrap();
                assert!(c[0].uri().equivalent(&same));
                assert!(c[0].uri().lr());
                assert_eq!(to.uri().aor().unwrap().to_string(), "user@example.com");
            }),
        ),
        row(
            "rfc4475/escnull.dat",
            Valid(|m, _| {
                assert_eq!(
                    m.to().unwrap().uri().user_unescaped().unwrap().as_ref(),
                    b"null-\0-null"
                );
                let c = contacts(m);
                let users: Vec<_> = c
                    .iter()
                    .map(|a| a.uri().user_unescaped().unwrap().into_owned())
                    .collect();
                assert_eq!(users, [b"\0".to_vec(), b"\0\0".to_vec()]);
            }),
        ),
        row(
            "rfc4475/esc02.dat",
            Valid(|m, _| {
                assert_eq!(m.method(), Some(&b"RE%47IST%45R"[..]));
                assert_eq!(m.to().unwrap().display_name().unwrap().as_ref(), b"%Z%45");
                assert_eq!(contacts(m).len(), 2);
                assert_eq!(m.values_named("C%6Fntact").count(), 1);
                assert_eq!(
                    m.top_via().unwrap().branch(),
                    Some(&b"z9hG4bK209%fzsnel234"[..])
                );
            }),
        ),
        row(
            "rfc4475/lwsdisp.dat",
            Valid(|m, _| {
                let from = m.from().unwrap();
                assert_eq!(from.display_raw(), Some(&b"caller"[..]));
                assert_eq!(from.uri().user(), Some("caller"));
            }),
        ),
        row(
            "rfc4475/longreq.dat",
            Valid(|m, _| {
                let to = m.to().unwrap();
                assert!(to
                    .display_name()
                    .unwrap()
                    .starts_with(b"I have a user name of extremeextreme"));
                assert_eq!(to.uri().port(), Some(6000));
                assert_eq!(to.uri().params().count(), 3);
                assert!(m.from().unwrap().tag().unwrap().len() > 150);
                let vias = m.vias().unwrap();
                assert_eq!(vias.len(), 34);
                assert_eq!(vias[33].received(), Some(&b"192.0.2.5"[..]));
                assert_eq!(m.body().len(), 150);
            }),
        ),
        row(
            "rfc4475/dblreq.dat",
            Valid(|m, trailing| {
                assert_eq!(m.method(), Some(&b"REGISTER"[..]));
                assert!(m.body().is_empty());
                let rest = trailing.expect("the second request is kept aside");
                assert!(rest.starts_with(b"\r\nINVITE sip:joe@example.com SIP/2.0\r\n"));
            }),
        ),
        row(
            "rfc4475/semiuri.dat",
            Valid(|m, _| {
                let u = ruri(m);
                assert_eq!(u.user(), Some("user;par=u%40example.net"));
                assert_eq!(
                    u.user_unescaped().unwrap().as_ref(),
                    b"user;par=u@example.net"
                );
                assert_eq!(u.host(), Some(Host::Name("example.com")));
                assert_eq!(u.params().count(), 0);
            }),
        ),
        row(
            "rfc4475/transports.dat",
            Valid(|m, _| {
                let t: Vec<_> = m
                    .vias()
                    .unwrap()
                    .iter()
                    .map(|v| v.transport().to_vec())
                    .collect();
                assert_eq!(t, [&b"UDP"[..], b"SCTP", b"TLS", b"UNKNOWN", b"TCP"]);
            }),
        ),
        row(
            "rfc4475/mpart01.dat",
            Valid(|m, _| {
                let ct = m.content_type().unwrap().unwrap();
                assert!(ct.is("multipart", "mixed"));
                assert_eq!(ct.boundary().unwrap().as_ref(), b"7a9cbec02ceef655");
                assert_eq!(m.body().len(), 553);
                assert!(m.body().ends_with(b"--7a9cbec02ceef655--\r\n"));
                assert_eq!(m.date().unwrap().unwrap().unix, 1129351496);
            }),
        ),
        row(
            "rfc4475/unreason.dat",
            Valid(|m, _| {
                let text = std::str::from_utf8(reason(m)).expect("UTF-8 reason phrase");
                assert_eq!(text, "= 2**3 * 5**2 но сто девяносто девять - простое");
                assert_eq!(m.status_code(), Some(200));
            }),
        ),
        row(
            "rfc4475/noreason.dat",
            Valid(|m, _| {
                assert_eq!(m.status_code(), Some(100));
                assert_eq!(reason(m), b"");
            }),
        ),
        row(
            "rfc4475/badinv01.dat",
            Refused(K::BadValue("empty parameter"), Some("Via")),
        ),
        row(
            "rfc4475/clerr.dat",
            Refused(
                K::BodyTooShort {
                    declared: 9999,
                    available: 154,
                },
                None,
            ),
        ),
        row(
            "rfc4475/ncl.dat",
            Refused(K::BadContentLength, Some("Content-Length")),
        ),
        row(
            "rfc4475/scalar02.dat",
            Refused(K::BadValue("CSeq number is not below 2**31"), Some("CSeq")),
        ),
        row(
            "rfc4475/scalarlg.dat",
            Refused(K::BadValue("CSeq number is not below 2**31"), Some("CSeq")),
        ),
        row(
            "rfc4475/quotbal.dat",
            Refused(K::BadValue("unterminated quoted string"), Some("To")),
        ),
        row(
            "rfc4475/ltgtruri.dat",
            bad_start("Request-URI has no scheme (angle brackets?)"),
        ),
        row(
            "rfc4475/lwsruri.dat",
            bad_start("white space in or around the Request-URI"),
        ),
        row(
            "rfc4475/lwsstart.dat",
            bad_start("white space in or around the Request-URI"),
        ),
        row("rfc4475/trws.dat", bad_start("no SIP version")),
        row(
            "rfc4475/escruri.dat",
            Refused(K::BadUri("headers are not allowed in a Request-URI"), None),
        ),
        row(
            "rfc4475/baddate.dat",
            Refused(K::BadValue("Date is not in GMT"), Some("Date")),
        ),
        row(
            "rfc4475/regbadct.dat",
            Refused(
                K::BadValue("a URI with headers must be enclosed in <>"),
                Some("Contact"),
            ),
        ),
        row(
            "rfc4475/badaspec.dat",
            Refused(
                K::BadUri("white space, control or non-ASCII character in a URI"),
                Some("To"),
            ),
        ),
        unterminated(
            "rfc4475/baddn.dat",
            Refused(
                K::BadValue("display name is neither tokens nor a quoted string"),
                Some("From"),
            ),
        ),
        row("rfc4475/badvers.dat", Refused(K::UnsupportedVersion, None)),
        row(
            "rfc4475/mismatch01.dat",
            Refused(
                K::BadValue("CSeq method differs from the request method"),
                Some("CSeq"),
            ),
        ),
        row(
            "rfc4475/mismatch02.dat",
            Refused(
                K::BadValue("CSeq method differs from the request method"),
                Some("CSeq"),
            ),
        ),
        row("rfc4475/bigcode.dat", Refused(K::BadStatusCode, None)),
        row(
            "rfc4475/badbranch.dat",
            Valid(|m, _| {
                assert_eq!(m.top_via().unwrap().branch(), Some(&b"z9hG4bK"[..]));
            }),
        ),
        row("rfc4475/insuf.dat", Refused(K::MissingHeader, Some("From"))),
        row(
            "rfc4475/unkscm.dat",
            Valid(|m, _| {
                let u = ruri(m);
                assert_eq!(
                    (u.scheme(), u.scheme_str()),
                    (Scheme::Other, "nobodyKnowsThisScheme")
                );
                assert_eq!(u.opaque(), "totallyopaquecontent");
            }),
        ),
        row(
            "rfc4475/novelsc.dat",
            Valid(|m, _| {
                assert_eq!(ruri(m).scheme_str(), "soap.beep");
                assert!(ruri(m).aor().is_none());
            }),
        ),
        row(
            "rfc4475/unksm2.dat",
            Valid(|m, _| {
                assert_eq!(m.to().unwrap().uri().scheme_str(), "isbn");
                assert_eq!(m.from().unwrap().uri().scheme_str(), "http");
                assert_eq!(contacts(m)[0].uri().as_str(), "name:John_Smith");
            }),
        ),
        row(
            "rfc4475/bext01.dat",
            Valid(|m, _| {
                assert_eq!(m.values_named("Proxy-Require").count(), 1);
            }),
        ),
        row(
            "rfc4475/invut.dat",
            Valid(|m, _| {
                assert!(m
                    .content_type()
                    .unwrap()
                    .unwrap()
                    .is("application", "unknownformat"));
            }),
        ),
        row(
            "rfc4475/regaut01.dat",
            Valid(|m, _| {
                let a = m.authorizations().unwrap();
                assert_eq!(a[0].scheme, b"NoOneKnowsThisScheme");
                assert_eq!(a[0].param("opaque-data").unwrap().as_ref(), b"here");
            }),
        ),
        row(
            "rfc4475/multi01.dat",
            Refused(K::RepeatedHeader, Some("CSeq")),
        ),
        row(
            "rfc4475/mcl01.dat",
            Refused(K::MultipleContentLength, Some("Content-Length")),
        ),
        row(
            "rfc4475/bcast.dat",
            Valid(|m, _| {
                assert_eq!(
                    m.vias().unwrap()[1].host(),
                    Host::Ipv4([255, 255, 255, 255].into())
                );
            }),
        ),
        row(
            "rfc4475/zeromf.dat",
            Valid(|m, _| assert_eq!(m.max_forwards().unwrap(), Some(0))),
        ),
        row(
            "rfc4475/cparam01.dat",
            Valid(|m, _| {
                let c = &contacts(m)[0];
                assert!(!c.is_bracketed());
                assert_eq!(c.params().get("unknownparam"), Some(None));
                assert_eq!(c.uri().params().count(), 0);
            }),
        ),
        row(
            "rfc4475/cparam02.dat",
            Valid(|m, _| {
                let c = &contacts(m)[0];
                assert!(c.params().is_empty());
                assert_eq!(c.uri().param("unknownparam"), Some(None));
            }),
        ),
        row(
            "rfc4475/regescrt.dat",
            Valid(|m, _| {
                let c = &contacts(m)[0];
                let h: Vec<_> = c.uri().headers().collect();
                assert_eq!(h, [("Route", "%3Csip:sip.example.com%3E")]);
                assert_eq!(
                    sipsec::uri::unescape(h[0].1.as_bytes()).as_ref(),
                    b"<sip:sip.example.com>"
                );
            }),
        ),
        row(
            "rfc4475/sdp01.dat",
            Valid(|m, _| {
                assert_eq!(
                    m.values_named("Accept").next(),
                    Some(&b"text/nobodyKnowsThis"[..])
                );
            }),
        ),
        row(
            "rfc4475/inv2543.dat",
            Valid(|m, _| {
                assert_eq!(m.max_forwards().unwrap(), None);
                assert_eq!(m.top_via().unwrap().branch(), None);
                assert_eq!(m.from().unwrap().uri().user_param(), Some("phone"));
                assert_eq!(
                    m.record_routes().unwrap()[0].uri().maddr(),
                    Some("ss1.example.com")
                );
            }),
        ),
        row("rfc4475/test.dat", Unclassified),
    ]
}

fn rfc5118_rows() -> Vec<Row> {
    vec![
        row(
            "rfc5118/ipv6-good",
            Valid(|m, _| {
                assert_eq!(ipv6_text(ruri(m).host().unwrap()), "2001:db8::10");
                assert_eq!(ruri(m).port(), None);
                assert_eq!(ipv6_text(m.top_via().unwrap().host()), "2001:db8::9:1");
                assert_eq!(
                    ipv6_text(contacts(m)[0].uri().host().unwrap()),
                    "2001:db8::1"
                );
            }),
        ),
        row(
            "rfc5118/ipv6-bad",
            Refused(K::BadUri("IPv6 address without brackets"), None),
        ),
        row(
            "rfc5118/port-ambiguous",
            Valid(|m, _| {
                assert_eq!(ipv6_text(ruri(m).host().unwrap()), "2001:db8::10:5070");
                assert_eq!(ruri(m).port(), None);
            }),
        ),
        row(
            "rfc5118/port-unambiguous",
            Valid(|m, _| {
                assert_eq!(ipv6_text(ruri(m).host().unwrap()), "2001:db8::10");
                assert_eq!(ruri(m).port(), Some(5070));
            }),
        ),
        row(
            "rfc5118/via-received-param-with-delim",
            Valid(|m, _| {
                assert_eq!(
                    m.top_via().unwrap().received(),
                    Some(&b"[2001:db8::9:255]"[..])
                );
            }),
        ),
        row(
            "rfc5118/via-received-param-no-delim",
            Valid(|m, _| {
                assert_eq!(
                    m.top_via().unwrap().received(),
                    Some(&b"2001:db8::9:255"[..])
                );
            }),
        ),
        wrong_length(
            "rfc5118/ipv6-in-sdp",
            Valid(|m, _| {
                assert!(m.content_type().unwrap().unwrap().is("application", "sdp"));
                assert!(m.body().windows(3).any(|w| w == b"IP6"));
            }),
        ),
        row(
            "rfc5118/mult-ip-in-header",
            Valid(|m, _| {
                let v = m.vias().unwrap();
                assert_eq!(v.len(), 3);
                assert_eq!(
                    (ipv6_text(v[0].host()), v[0].port()),
                    ("2001:db8::9:1", Some(6050))
                );
                assert_eq!(v[1].host(), Host::Ipv4([192, 0, 2, 1].into()));
                assert_eq!(ipv6_text(v[2].host()), "2001:db8::9:255");
                assert_eq!(v[2].received(), Some(&b"192.0.2.200"[..]));
                assert_eq!(v[2].transport(), b"TCP");
            }),
        ),
        wrong_length(
            "rfc5118/mult-ip-in-sdp",
            Valid(|m, _| assert!(!m.body().is_empty())),
        ),
        row(
            "rfc5118/ipv4-mapped-ipv6",
            Valid(|m, _| {
                let v = m.vias().unwrap();
                assert_eq!(
                    (ipv6_text(v[0].host()), v[0].port()),
                    ("::ffff:192.0.2.10", Some(19823))
                );
                assert_eq!(
                    ipv6_text(contacts(m)[0].uri().host().unwrap()),
                    "::ffff:192.0.2.2"
                );
            }),
        ),
        unterminated(
            "rfc5118/ipv6-bug-abnf-3-colons",
            Valid(|m, _| {
                let two = Uri::parse_str("sip:user@[2001:db8::192.0.2.1]").unwrap();
                assert_eq!(ipv6_text(ruri(m).host().unwrap()), "2001:db8:::192.0.2.1");
                assert!(ruri(m).equivalent(&two));
                assert!(m.to().unwrap().uri().equivalent(&two));
            }),
        ),
        unterminated(
            "rfc5118/ipv6-correct-abnf-2-colons",
            Valid(|m, _| {
                assert_eq!(ipv6_text(ruri(m).host().unwrap()), "2001:db8::192.0.2.1");
            }),
        ),
    ]
}

/// Parse, then validate; the first refusal.
fn parse_and_validate(bytes: &[u8]) -> Result<(Message, Option<Vec<u8>>), ParseError> {
    let options = ParseOptions {
        framing: Framing::Datagram,
        ..ParseOptions::default()
    };
    let (m, trailing) = Message::parse_with(bytes.to_vec(), &options)?;
    m.validate()?;
    Ok((m, trailing))
}

fn run(row: &Row, bytes: &[u8]) {
    let name = row.file;
    match &row.expect {
        Valid(check) => {
            let (m, trailing) =
                parse_and_validate(bytes).unwrap_or_else(|e| panic!("{name}: refused: {e}"));
            let kept = bytes.len() - trailing.as_ref().map_or(0, Vec::len);
            assert_eq!(m.as_bytes(), &bytes[..kept], "{name}: not byte-identical");
            // Every view a proxy reads parses on a valid message.
            m.from().unwrap();
            m.to().unwrap();
            m.call_id().unwrap();
            m.vias().unwrap();
            m.contacts().unwrap();
            check(&m, trailing.as_deref());
        }
        Refused(kind, header) => {
            let e = parse_and_validate(bytes).map(|_| ()).expect_err(name);
            assert_eq!(&e.kind, kind, "{name}: {e}");
            assert_eq!(e.header.as_deref(), *header, "{name}: {e}");
            assert!(e.offset <= bytes.len(), "{name}: offset {}", e.offset);
        }
        Unclassified => {
            let _ = parse_and_validate(bytes);
        }
    }
}

/// The offset of the body: after the first empty line.
fn body_start(b: &[u8]) -> usize {
    let crlf = b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = b.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    crlf.into_iter().chain(lf).min().expect("a header section")
}

/// Sets the Content-Length value to the length of the body.
fn fix_content_length(b: &[u8]) -> Vec<u8> {
    let split = body_start(b);
    let head = std::str::from_utf8(&b[..split]).unwrap();
    let len = b.len() - split;
    let head: String = head
        .split_inclusive('\n')
        .map(|l| match l.split_once(':') {
            Some((n, v)) if n.eq_ignore_ascii_case("content-length") => {
                let eol = &v[v.trim_end().len()..];
                format!("{n}: {len}{eol}")
            }
            _ => l.to_string(),
        })
        .collect();
    let mut out = head.into_bytes();
    out.extend_from_slice(&b[split..]);
    out
}

/// Asserts the archive defect the row names and repairs it.
fn prepare(bytes: &[u8], row: &Row) -> Vec<u8> {
    let mut b = bytes.to_vec();
    match row.archive {
        Archive::Exact => {}
        Archive::Unterminated => {
            let e = Message::parse(b.clone()).expect_err(row.file);
            assert_eq!(
                e.kind,
                K::Incomplete,
                "{}: archived without the empty line",
                row.file
            );
            let eol: &[u8] = if b.ends_with(b"\r\n") { b"\r\n" } else { b"\n" };
            b.extend_from_slice(eol);
        }
        Archive::WrongLength => {
            let e = Message::parse(b.clone()).expect_err(row.file);
            assert!(
                matches!(e.kind, K::BodyTooShort { .. }),
                "{}: {e}",
                row.file
            );
            b = fix_content_length(&b);
        }
    }
    b
}

#[test]
fn rfc4475_torture_messages() {
    for row in rfc4475_rows() {
        let bytes = std::fs::read(path(row.file)).unwrap();
        run(&row, &prepare(&bytes, &row));
    }
}

#[test]
fn rfc5118_ipv6_messages_with_lf_line_ends() {
    for row in rfc5118_rows() {
        let bytes = std::fs::read(path(row.file)).unwrap();
        assert!(
            !bytes.contains(&b'\r'),
            "{}: archived with bare LF",
            row.file
        );
        let bytes = prepare(&bytes, &row);
        if let Ok((m, _)) = parse_and_validate(&bytes) {
            assert_eq!(m.line_ending(), LineEnding::Lf);
        }
        run(&row, &bytes);
    }
}

/// Every LF made CRLF, body included, and Content-Length set to the converted body's length.
fn to_crlf(lf: &[u8]) -> Vec<u8> {
    let crlf: Vec<u8> = lf
        .iter()
        .flat_map(|&c| {
            if c == b'\n' {
                vec![b'\r', b'\n']
            } else {
                vec![c]
            }
        })
        .collect();
    if crlf.windows(4).any(|w| w == b"\r\n\r\n") {
        fix_content_length(&crlf)
    } else {
        crlf
    }
}

#[test]
fn rfc5118_ipv6_messages_converted_to_crlf() {
    for row in rfc5118_rows() {
        let lf = std::fs::read(path(row.file)).unwrap();
        let crlf = to_crlf(&lf);
        let bytes = match row.archive {
            // Converting repaired the length already.
            Archive::WrongLength => crlf,
            _ => prepare(&crlf, &row),
        };
        if let Ok((m, _)) = parse_and_validate(&bytes) {
            assert_eq!(m.line_ending(), LineEnding::CrLf);
        }
        run(&row, &bytes);
    }
}

/// The table covers every file in the corpus and every MANIFEST entry.
#[test]
fn every_corpus_file_has_a_row() {
    let mut rows: Vec<&str> = Vec::new();
    let all: Vec<Row> = rfc4475_rows().into_iter().chain(rfc5118_rows()).collect();
    rows.extend(all.iter().map(|r| r.file));
    for dir in ["rfc4475", "rfc5118"] {
        let manifest = std::fs::read_to_string(path(&format!("{dir}/MANIFEST"))).unwrap();
        let entries: Vec<Vec<&str>> = manifest
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split('\t').collect())
            .collect();
        let listed: Vec<String> = entries.iter().map(|e| format!("{dir}/{}", e[0])).collect();
        // The row's outcome agrees with the MANIFEST `class` column.
        for e in &entries {
            let file = format!("{dir}/{}", e[0]);
            let class = e[4];
            let r = all.iter().find(|r| r.file == file).expect(&file);
            let agrees = match r.expect {
                Valid(_) => class.starts_with("valid"),
                Refused(..) => class.starts_with("invalid"),
                Unclassified => class == "unclassified",
            };
            assert!(agrees, "{file}: row disagrees with class {class}");
        }
        let mut on_disk: Vec<String> = std::fs::read_dir(path(dir))
            .unwrap()
            .map(|e| format!("{dir}/{}", e.unwrap().file_name().to_string_lossy()))
            .filter(|f| !f.ends_with("/MANIFEST"))
            .collect();
        on_disk.sort();
        let mut listed_sorted = listed.clone();
        listed_sorted.sort();
        assert_eq!(on_disk, listed_sorted, "{dir}: MANIFEST and files differ");
        for f in &on_disk {
            assert!(rows.contains(&f.as_str()), "no row for {f}");
        }
    }
    assert_eq!(rows.len(), 50 + 12);
}
