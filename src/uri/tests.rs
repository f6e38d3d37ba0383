use super::*;

fn uri(text: &str) -> Uri<'_> {
    Uri::parse_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn refused(text: &str) -> (&'static str, usize) {
    match Uri::parse_str(text) {
        Err(ParseError {
            kind: ParseErrorKind::BadUri(why),
            offset,
            ..
        }) => (why, offset),
        other => panic!("{text}: expected BadUri, got {other:?}"),
    }
}

#[test]
fn full_sip_uri_components() {
    let u = uri("sips:alice:secret@Atlanta.Example.com:5061;transport=tcp;lr;maddr=239.255.255.1;ttl=15;method=INVITE;user=phone?subject=x%20y&priority=urgent");
    assert_eq!(u.scheme(), Scheme::Sips);
    assert_eq!(u.user(), Some("alice"));
    assert_eq!(u.password(), Some("secret"));
    assert_eq!(u.host(), Some(Host::Name("Atlanta.Example.com")));
    assert_eq!(u.port(), Some(5061));
    assert_eq!(u.transport(), Some("tcp"));
    assert!(u.lr());
    assert_eq!(u.maddr(), Some("239.255.255.1"));
    assert_eq!(u.ttl(), Some("15"));
    assert_eq!(u.method_param(), Some("INVITE"));
    assert_eq!(u.user_param(), Some("phone"));
    assert!(u.has_headers());
    let headers: Vec<_> = u.headers().collect();
    assert_eq!(headers, [("subject", "x%20y"), ("priority", "urgent")]);
    assert_eq!(u.to_string(), u.as_str());
    assert_eq!(u.aor().unwrap().to_string(), "alice@atlanta.example.com");
}

#[test]
fn user_part_may_hold_semicolons_and_escaped_at() {
    let u = uri("sip:user;par=u%40example.net@example.com");
    assert_eq!(u.user(), Some("user;par=u%40example.net"));
    assert_eq!(
        u.user_unescaped().unwrap().as_ref(),
        b"user;par=u@example.net"
    );
    assert_eq!(u.host(), Some(Host::Name("example.com")));
    assert_eq!(u.params().count(), 0);
}

#[test]
fn escaped_nul_does_not_truncate() {
    let u = uri("sip:null-%00-null@example.com");
    assert_eq!(u.user_unescaped().unwrap().as_ref(), b"null-\0-null");
}

#[test]
fn ipv6_hosts_and_ports() {
    let u = uri("sip:[2001:db8::10]:5070");
    assert!(matches!(
        u.host(),
        Some(Host::Ipv6 {
            text: "2001:db8::10",
            ..
        })
    ));
    assert_eq!(u.port(), Some(5070));
    // RFC 5118 §4.3: the whole bracket is the address, there is no port.
    let u = uri("sip:[2001:db8::10:5070]");
    assert_eq!(u.port(), None);
    // RFC 5118 §4.10: the three-colon form is tolerated and means the two-colon address.
    let three = uri("sip:user@[2001:db8:::192.0.2.1]");
    let two = uri("sip:user@[2001:db8::192.0.2.1]");
    assert!(three.equivalent(&two));
    assert!(matches!(
        three.host(),
        Some(Host::Ipv6 {
            text: "2001:db8:::192.0.2.1",
            ..
        })
    ));
    assert_eq!(
        uri("sip:[::ffff:192.0.2.2]").aor().unwrap().host(),
        "[::ffff:192.0.2.2]"
    );
}

#[test]
fn ipv4_hosts() {
    assert_eq!(
        uri("sip:a@192.0.2.4").host(),
        Some(Host::Ipv4(Ipv4Addr::new(192, 0, 2, 4)))
    );
    assert_eq!(refused("sip:a@192.0.2.400").0, "malformed IPv4 address");
}

#[test]
fn refusals() {
    assert_eq!(
        refused("sip:2001:db8::10").0,
        "IPv6 address without brackets"
    );
    assert_eq!(refused("sip:a@[2001:db8::10").0, "unbalanced [ in host");
    assert_eq!(
        refused("sip:a@example.com:99999").0,
        "port is larger than 65535"
    );
    assert_eq!(refused("sip:a@example.com:").0, "port is not a number");
    assert_eq!(refused("sip:"), ("empty host", 4));
    assert_eq!(refused("sip:a@"), ("empty host", 6));
    assert_eq!(refused("sip:a@;lr"), ("empty host", 6));
    assert_eq!(refused("sip:a b@example.com").1, 5);
    assert_eq!(refused("sip:@example.com").0, "empty user part before @");
    assert_eq!(
        refused("sip:a%4@example.com").0,
        "% not followed by two hex digits"
    );
    assert_eq!(
        refused("sip:a@exa_mple.com").0,
        "character not allowed in a host name"
    );
    assert_eq!(
        refused("sip:a@example.com;;lr").0,
        "empty URI parameter name"
    );
    assert_eq!(
        refused("sip:a@example.com;a=").0,
        "empty URI parameter value"
    );
    assert_eq!(
        refused("sip:a@example.com?subject").0,
        "URI header without ="
    );
    assert_eq!(
        refused("sip:a@example.com;a=<b>").0,
        "character not allowed in a URI parameter"
    );
    assert_eq!(refused("<sip:a@example.com>").0, "no scheme");
    assert_eq!(refused("sip:a@[zz::1]").0, "malformed IPv6 address");
    assert_eq!(refused("sip:a@-bad-.com").0, "malformed host name");
    assert_eq!(refused("tel:").0, "tel URI without digits");
    assert_eq!(
        refused("tel:+1-20x").0,
        "character not allowed in a telephone number"
    );
    assert_eq!(
        refused("tel:5550123").0,
        "local telephone number without phone-context"
    );
    assert_eq!(refused("x:a<b").0, "character not allowed in a URI");
    assert_eq!(refused("nobody:").0, "empty URI after the scheme");
}

#[test]
fn unknown_schemes_are_opaque() {
    let u = uri("nobodyKnowsThisScheme:totallyopaquecontent");
    assert_eq!(u.scheme(), Scheme::Other);
    assert_eq!(u.scheme_str(), "nobodyKnowsThisScheme");
    assert_eq!(u.opaque(), "totallyopaquecontent");
    assert!(u.aor().is_none());
    let u = uri("soap.beep://192.0.2.103:3002");
    assert_eq!(u.opaque(), "//192.0.2.103:3002");
}

#[test]
fn tel_uris() {
    let u = uri("tel:+1-201-555-0123;ext=1234");
    assert_eq!(u.scheme(), Scheme::Tel);
    assert_eq!(u.user(), Some("+1-201-555-0123"));
    assert_eq!(u.param("ext"), Some(Some("1234")));
    assert_eq!(u.aor().unwrap().to_string(), "+12015550123");
    assert_eq!(
        Aor::parse("tel:+1-201-555-0123").unwrap().to_string(),
        "+12015550123"
    );
    let local = uri("tel:7042;phone-context=example.com");
    assert_eq!(local.user(), Some("7042"));
}

/// The one-pass reader takes the common shapes (so that the proptests comparing it with the
/// general parser compare something) and leaves the others to the general parser.
#[test]
fn plain_sip_uris_take_the_one_pass_reader() {
    for text in [
        "sip:sipp@127.0.0.1:5072",
        "sip:service@127.0.0.1",
        "SIPS:alice@Atlanta.Example.COM.:05061;transport=tcp;lr;maddr=239.255.255.1",
        "sip:+1-212-555-1212@gw.example.com;user=phone",
    ] {
        let fast = Uri::parse_plain_sip(text.as_bytes());
        assert!(fast.is_some(), "{text}");
        assert_eq!(fast.map(Ok), Some(Uri::parse_general(text.as_bytes())));
    }
    for text in [
        "sip:host.example.com",
        "sip:a%41@h",
        "sip:a:pw@h",
        "sip:a;b@h",
        "sip:a@[::1]",
        "sip:a@h?x=y",
        "sip:a@h;%6Cr",
        "sip:a@h:65536",
        "sip:a@h:",
        "sip:a@256.0.0.1",
        "sip:a@-h",
        "sip:a@h;",
        "sip:a@h;x=",
        "tel:+1",
    ] {
        assert!(Uri::parse_plain_sip(text.as_bytes()).is_none(), "{text}");
    }
}

#[test]
fn aor_key_is_the_aor_written_out() {
    for text in [
        "sip:Alice%41%2a@Atlanta.Example.COM.:5060;transport=tcp",
        "sips:%61lice@[2001:DB8::1]",
        "sip:bob@192.0.2.4",
        "sip:host.example.com",
        "tel:+1-201-555-0123;phone-context=x",
        "sip:a%20b@h",
    ] {
        let u = Uri::parse_str(text).unwrap();
        assert_eq!(u.aor_key(), Some(u.aor().unwrap().key()), "{text}");
    }
    assert_eq!(
        Uri::parse_str("sip:Alice%41%2a@Atlanta.Example.COM.")
            .unwrap()
            .aor_key()
            .as_deref(),
        Some("AliceA*@atlanta.example.com")
    );
    assert_eq!(Uri::parse_str("x:opaque").unwrap().aor_key(), None);
}

#[test]
fn aor_api() {
    let a = Aor::parse("sip:Alice@Atlanta.COM:5060;transport=tcp").unwrap();
    assert_eq!(a.user(), Some("Alice"));
    assert_eq!(a.host(), "atlanta.com");
    assert_eq!(a.to_string(), "Alice@atlanta.com");
    assert_eq!(
        Aor::parse("bob@Biloxi.com").unwrap().to_string(),
        "bob@biloxi.com"
    );
    assert_eq!(
        Aor::parse("sip:%61lice@a.com").unwrap(),
        Aor::parse("sip:alice@a.com").unwrap()
    );
    assert_eq!(Aor::parse("sip:biloxi.com").unwrap().user(), None);
    assert!(Aor::parse("http://example.com").is_err());
    assert!(Aor::parse("sip:").is_err());
    assert_eq!(Aor::parse("a b@c").unwrap_err().offset, 1);
}

fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (uri(a), uri(b));
    assert_eq!(
        a.equivalent(&b),
        b.equivalent(&a),
        "equivalence must be symmetric"
    );
    a.equivalent(&b)
}

/// Every pair RFC 3261 §19.1.4 lists.
#[test]
fn rfc3261_equivalent_pairs() {
    assert!(eq(
        "sip:%61lice@atlanta.com;transport=TCP",
        "sip:alice@AtLanTa.CoM;Transport=tcp"
    ));
    assert!(eq(
        "sip:carol@chicago.com",
        "sip:carol@chicago.com;newparam=5"
    ));
    assert!(eq(
        "sip:carol@chicago.com",
        "sip:carol@chicago.com;security=on"
    ));
    assert!(eq(
        "sip:carol@chicago.com;newparam=5",
        "sip:carol@chicago.com;security=on"
    ));
    assert!(eq(
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
    ));
    assert!(eq(
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
    ));
}

#[test]
fn rfc3261_unequal_pairs() {
    assert!(!eq(
        "SIP:ALICE@AtLanTa.CoM;Transport=udp",
        "sip:alice@AtLanTa.CoM;Transport=UDP"
    ));
    assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
    assert!(!eq(
        "sip:bob@biloxi.com",
        "sip:bob@biloxi.com;transport=udp"
    ));
    assert!(!eq(
        "sip:bob@biloxi.com",
        "sip:bob@biloxi.com:6000;transport=tcp"
    ));
    assert!(!eq(
        "sip:carol@chicago.com",
        "sip:carol@chicago.com?Subject=next%20meeting"
    ));
    assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
    // The intransitivity example: both equal sip:carol@chicago.com, not each other.
    assert!(!eq(
        "sip:carol@chicago.com;security=on",
        "sip:carol@chicago.com;security=off"
    ));
}

#[test]
fn other_equivalence_rules() {
    assert!(!eq("sip:alice@a.com", "sips:alice@a.com"));
    assert!(!eq("sip:alice:x@a.com", "sip:alice:y@a.com"));
    assert!(!eq("sip:a.com;ttl=1", "sip:a.com"));
    assert!(!eq("sip:a.com;maddr=x.com", "sip:a.com"));
    assert!(!eq("sip:a.com;user=phone", "sip:a.com"));
    assert!(!eq("sip:a.com;method=INVITE", "sip:a.com"));
    assert!(eq("sip:a.com;lr", "sip:a.com"));
    assert!(eq("sip:a.com;lr", "sip:a.com;lr"));
    assert!(!eq("sip:a.com?a=b&c=d", "sip:a.com?a=b"));
    assert!(eq("sip:%41@a.com", "sip:A@a.com"));
    assert!(!eq("sip:a@a.com", "sip:A@a.com"));
    assert!(eq(
        "sip:a.com;%6C%72;n%61me=v%61lue",
        "sip:a.com;lr;name=value"
    ));
    assert!(!eq("sip:a.com;n%61me=v%61lue", "sip:a.com;name=other"));
    assert!(uri("sip:a.com;%6C%72").lr());
    assert!(eq("tel:+1-555", "tel:+1-555"));
    assert!(eq("tel:+1-201-555-0123", "tel:+1(201)5550123"));
    assert!(eq("tel:+1-555;ext=1;isub=2", "tel:+1555;ISUB=2;ext=1"));
    assert!(!eq("tel:+1-555;ext=1", "tel:+1555"));
    assert!(!eq("tel:+1-555", "tel:+1-556"));
    assert!(!eq("tel:1555;phone-context=a.com", "tel:+1555"));
    assert!(!eq("tel:+1-555", "sip:+1-555@a.com"));
    assert!(eq("x-foo:Bar", "X-FOO:bar"));
}

#[test]
fn unescape_keeps_malformed_escapes() {
    assert_eq!(unescape(b"a%zz%41").as_ref(), b"a%zzA");
    assert!(matches!(unescape(b"plain"), Cow::Borrowed(_)));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Bytes drawn mostly from URI syntax so that the parser gets deep, plus some of anything.
    fn uri_bytes() -> impl Strategy<Value = Vec<u8>> {
        let syntax = proptest::sample::select(b"sip:tel+@[]:;=?&%0aF.-_ 1".to_vec());
        proptest::collection::vec(prop_oneof![4 => syntax, 1 => any::<u8>()], 0..48)
    }

    /// The shapes the one-pass reader takes, with the ways of leaving them close by: escapes,
    /// passwords and `;` in the user part, bad IPv4 addresses, labels ending in `-`, ports out
    /// of range, escaped, empty or `?`-ended parameters.
    const PLAIN_ISH: &str = "(sip|SIP|sIpS|sips):[a-zA-Z0-9.!~_%:;-]{1,6}@[a-z0-9.-]{1,12}\
        (:[0-9]{0,6})?(;[a-z0-9=.%?-]{0,6}){0,3}";
    /// Farther away: no scheme or another, empty parts, IPv6 references, headers.
    const NEAR_PLAIN: &str = "(sip|SIP|sIpS|sips|tel|x)?:?[a-zA-Z0-9.%;:?!~_-]{0,6}@?\\[?\
        [a-zA-Z0-9.:-]{0,12}\\]?(:[0-9]{0,6})?(;[a-zA-Z0-9=;%?&.-]{0,6}){0,3}(\\?[a-z=&]{0,4})?";

    /// The one-pass reader accepts only what the general parser accepts, with the same
    /// components; `Uri::parse` as a whole, refusals included, is the general parser.
    fn same_as_general(input: &[u8]) -> Result<(), TestCaseError> {
        if let Some(fast) = Uri::parse_plain_sip(input) {
            prop_assert_eq!(Ok(fast), Uri::parse_general(input));
        }
        prop_assert_eq!(Uri::parse(input), Uri::parse_general(input));
        Ok(())
    }

    proptest! {
        #[test]
        fn one_pass_reader_agrees_with_the_general_parser(
            plain in PLAIN_ISH,
            near in NEAR_PLAIN,
        ) {
            same_as_general(plain.as_bytes())?;
            same_as_general(near.as_bytes())?;
        }

        #[test]
        fn one_pass_reader_agrees_on_any_bytes(tail in uri_bytes()) {
            for scheme in [&b"sip:"[..], b"sips:", b"sip:a@", b"sip:a@h", b"sip:a@1.2.3.4"] {
                let mut input = scheme.to_vec();
                input.extend_from_slice(&tail);
                same_as_general(&input)?;
            }
        }

        #[test]
        fn ipv4_addresses_are_read_as_std_reads_them(text in "[0-9.]{0,16}") {
            prop_assert_eq!(super::parse_ipv4(text.as_bytes()), text.parse().ok());
        }

        #[test]
        fn accepted_uris_are_self_equivalent_and_kept_verbatim(tail in uri_bytes()) {
            for scheme in [&b"sip:"[..], b"tel:", b"x:"] {
                let mut input = scheme.to_vec();
                input.extend_from_slice(&tail);
                match Uri::parse(&input) {
                    Ok(u) => {
                        prop_assert_eq!(u.as_str().as_bytes(), &input[..]);
                        prop_assert!(u.equivalent(&u), "{}", u);
                        if u.scheme() != Scheme::Other {
                            prop_assert!(u.aor().is_some());
                        }
                        prop_assert_eq!(u.aor_key(), u.aor().map(|a| a.key()));
                    }
                    Err(e) => prop_assert!(e.offset <= input.len()),
                }
            }
        }
    }
}

/// Found by the `uri` fuzz target: with a parameter repeated, only the first value of the other
/// URI was compared, so a URI was not equivalent to itself.
#[test]
fn repeated_parameters_compare_every_value() {
    let u = Uri::parse_str("sip:alice@atlanta.com;foo=A;foo=B;transport=tcp").unwrap();
    assert!(u.equivalent(&u));
    let swapped = Uri::parse_str("sip:alice@atlanta.com;foo=B;foo=A;transport=tcp").unwrap();
    assert!(!u.equivalent(&swapped) && !swapped.equivalent(&u));
    // A second transport cannot hide behind the first.
    let one = Uri::parse_str("sip:alice@atlanta.com;transport=tcp").unwrap();
    let two = Uri::parse_str("sip:alice@atlanta.com;transport=tcp;transport=udp").unwrap();
    assert!(two.equivalent(&two));
    assert!(!one.equivalent(&two) && !two.equivalent(&one));
    // Unrepeated parameters compare as before.
    let a = Uri::parse_str("sip:alice@atlanta.com;Transport=TCP;lr").unwrap();
    let b = Uri::parse_str("sip:alice@AtLanTa.CoM;transport=tcp").unwrap();
    assert!(a.equivalent(&b) && b.equivalent(&a));
}

#[test]
fn ipv4_hosts_are_read_as_std_reads_them() {
    let mut cases: Vec<String> = [
        "0.0.0.0",
        "127.0.0.1",
        "255.255.255.255",
        "256.0.0.1",
        "1.2.3",
        "1.2.3.4.5",
        "01.2.3.4",
        "1..2.3",
        ".1.2.3",
        "1.2.3.",
        "1.2.3.4.",
        "0.00.0.0",
        "1000.1.1.1",
        "192.168.001.1",
        "",
        "...",
        "9.99.199.249",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for a in [0u32, 7, 10, 99, 100, 199, 200, 255, 256, 999] {
        cases.push(format!("{a}.{a}.1.{a}"));
    }
    for text in cases {
        let ours = super::parse_ipv4(text.as_bytes());
        assert_eq!(ours, text.parse::<std::net::Ipv4Addr>().ok(), "{text:?}");
        if let Some(addr) = ours {
            let mut written = String::new();
            super::push_ipv4(&mut written, addr);
            assert_eq!(written, addr.to_string());
        }
    }
}
