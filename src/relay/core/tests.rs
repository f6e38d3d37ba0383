use super::*;
use crate::error::ParseErrorKind;
use crate::relay::StaticRoute;

const ALICE: &str = "udp:192.0.2.7:5070";

fn relay() -> Relay {
    Relay::new(Config {
        listen: vec![
            "udp:192.0.2.1:5060".parse().unwrap(),
            "tcp:192.0.2.1:5060".parse().unwrap(),
        ],
        domains: vec!["example.com".into()],
        routes: vec!["other.org=udp:192.0.2.50:5060"
            .parse::<StaticRoute>()
            .unwrap()],
        ..Config::default()
    })
}

/// A relay that forwards anything (for tests of routing mechanics, not of policy).
fn open_relay() -> Relay {
    let mut r = relay();
    let mut config = r.config().clone();
    config.open_relay = true;
    r.reconfigure(config).unwrap();
    r
}

/// The response a next hop would give to what the relay forwarded of `req`.
fn answer(r: &mut Relay, req: Message, code: u16) -> Message {
    let (_, forwarded) = only(&r.handle(req, peer(ALICE), 0));
    let reason = if code == 200 { "OK" } else { "Ringing" };
    Message::parse(build_response(&forwarded, code, reason, &[])).unwrap()
}

fn peer(s: &str) -> Peer {
    s.parse().unwrap()
}

fn request(first: &str, via: &str, extra: &str) -> Message {
    Message::parse(format!(
        "{first}\r\nVia: {via}\r\nFrom: <sip:alice@other.net>;tag=a1\r\n\
         To: <sip:carol@other.org>\r\nCall-ID: c1\r\nCSeq: 1 {}\r\n{extra}Content-Length: 0\r\n\r\n",
        first.split(' ').next().unwrap()
    ))
    .unwrap()
}

fn invite(extra: &str) -> Message {
    request(
        "INVITE sip:carol@other.org SIP/2.0",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1",
        extra,
    )
}

fn only(d: &Decision) -> (Peer, Message) {
    assert_eq!(d.transmits.len(), 1, "{d:?}");
    let s = &d.transmits[0];
    (s.to, Message::parse(s.bytes.clone()).unwrap())
}

fn status(d: &Decision) -> u16 {
    only(d).1.status_code().unwrap()
}

#[test]
fn max_forwards_is_decremented_added_and_refused_at_zero() {
    let mut r = relay();
    let (to, m) = only(&r.handle(invite("Max-Forwards: 5\r\n"), peer(ALICE), 0));
    assert_eq!(to, peer("udp:192.0.2.50:5060"));
    assert_eq!(m.max_forwards().unwrap(), Some(4));
    let (_, m) = only(&r.handle(invite(""), peer(ALICE), 0));
    assert_eq!(m.max_forwards().unwrap(), Some(70));
    let d = r.handle(invite("Max-Forwards: 0\r\n"), peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Answered(483));
    assert_eq!(only(&d).0, peer(ALICE));
}

#[test]
fn branch_is_stable_for_retransmissions_and_cancel_and_differs_otherwise() {
    let mut r = relay();
    let branch = |r: &mut Relay, m: Message| {
        let (_, out) = only(&r.handle(m, peer(ALICE), 0));
        out.top_via().unwrap().branch().unwrap().to_vec()
    };
    let a = branch(&mut r, invite(""));
    assert!(a.starts_with(b"z9hG4bK"));
    assert_eq!(a, branch(&mut r, invite("")));
    let cancel = request(
        "CANCEL sip:carol@other.org SIP/2.0",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1",
        "",
    );
    assert_eq!(a, branch(&mut r, cancel));
    let other = request(
        "INVITE sip:carol@other.org SIP/2.0",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa2",
        "",
    );
    assert_ne!(a, branch(&mut r, other));
}

#[test]
fn a_request_with_our_via_and_same_loop_hash_is_a_loop_but_a_spiral_is_not() {
    let mut r = relay();
    let (_, out) = only(&r.handle(invite(""), peer(ALICE), 0));
    // Back to us unchanged: 482.
    let d = r.handle(out.clone(), peer("udp:192.0.2.50:5060"), 0);
    assert_eq!(d.verdict, Verdict::Answered(482), "{d:?}");
    // Same message with another Request-URI: a spiral, forwarded.
    let mut spiral = out;
    spiral
        .set_start_line(b"INVITE sip:dave@other.org SIP/2.0")
        .unwrap();
    let d = r.handle(spiral, peer("udp:192.0.2.50:5060"), 0);
    assert_eq!(d.verdict, Verdict::Forwarded, "{d:?}");
}

#[test]
fn received_and_rport_are_stamped_per_rfc_3581() {
    let mut r = relay();
    // sent-by equals the source, no rport: untouched.
    let (_, m) = only(&r.handle(invite(""), peer(ALICE), 0));
    assert_eq!(m.vias().unwrap()[1].received(), None);
    // A NATed client asking for rport, with a stale received: both set from the source.
    let natted = request(
        "INVITE sip:carol@other.org SIP/2.0",
        "SIP/2.0/UDP 10.0.0.5:5070;received=1.1.1.1;rport;branch=z9hG4bKn",
        "",
    );
    let (_, m) = only(&r.handle(natted, peer("udp:203.0.113.9:40123"), 0));
    let v = m.vias().unwrap()[1];
    assert_eq!(v.received(), Some(&b"203.0.113.9"[..]));
    assert_eq!(v.rport(), Some(Some(&b"40123"[..])));
    assert_eq!(v.branch(), Some(&b"z9hG4bKn"[..]));
    // Without rport, a response goes to received and the sent-by port (§18.2.2).
    let no_rport = request(
        "OPTIONS sip:x@nowhere.test SIP/2.0",
        "SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKq",
        "",
    );
    let d = r.handle(no_rport, peer("udp:203.0.113.9:40123"), 0);
    assert_eq!(only(&d).0, peer("udp:203.0.113.9:5070"));
}

#[test]
fn responses_follow_the_via_path_only_when_the_top_via_is_ours() {
    let mut r = relay();
    let resp = |vias: &str| {
        Message::parse(format!(
            "SIP/2.0 180 Ringing\r\n{vias}From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        ))
        .unwrap()
    };
    // Both Vias in one field: ours removed, the rest kept.
    let req = request(
        "INVITE sip:carol@other.org SIP/2.0",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1;rport",
        "",
    );
    let (_, fwd) = only(&r.handle(req, peer("udp:192.0.2.8:6000"), 0));
    let vias: Vec<&[u8]> = fwd.values(HeaderKind::Via).collect();
    let joined = format!(
        "Via: {}, {}\r\n",
        String::from_utf8_lossy(vias[0]),
        String::from_utf8_lossy(vias[1])
    );
    let m = resp(&joined);
    let (to, out) = only(&r.handle(m, peer("udp:192.0.2.50:5060"), 0));
    assert_eq!(to, peer("udp:192.0.2.8:6000"));
    assert_eq!(out.vias().unwrap().len(), 1);
    // A top Via naming someone else (a spoofed or misrouted response): dropped.
    let m = resp("Via: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKz\r\nVia: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1\r\n");
    assert_eq!(
        r.handle(m, peer("udp:192.0.2.50:5060"), 0).verdict,
        Verdict::Dropped
    );
    // Our Via is the only one: nowhere to send it.
    let m = resp("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKsrx\r\n");
    assert_eq!(
        r.handle(m, peer("udp:192.0.2.50:5060"), 0).verdict,
        Verdict::Dropped
    );
}

#[test]
fn only_dialog_creating_requests_are_record_routed() {
    let mut r = relay();
    let (_, m) = only(&r.handle(invite(""), peer(ALICE), 0));
    assert_eq!(m.record_routes().unwrap().len(), 1);
    assert!(m.record_routes().unwrap()[0].uri().lr());
    let opt = request(
        "OPTIONS sip:carol@other.org SIP/2.0",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKo",
        "",
    );
    let (_, m) = only(&r.handle(opt, peer(ALICE), 0));
    assert!(m.record_routes().unwrap().is_empty());
}

#[test]
fn strict_route_restores_the_request_uri_and_loose_route_pops_ours() {
    let mut r = open_relay();
    let strict = request(
        "BYE sip:192.0.2.1 SIP/2.0",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKs",
        "Route: <sip:192.0.2.61;lr>\r\nRoute: <sip:bob@192.0.2.9:5080>\r\n",
    );
    let (to, m) = only(&r.handle(strict, peer(ALICE), 0));
    assert_eq!(to, peer("udp:192.0.2.61:5060"));
    assert_eq!(m.request_uri(), Some(&b"sip:bob@192.0.2.9:5080"[..]));
    assert_eq!(m.routes().unwrap().len(), 1);
    let loose = request(
        "BYE sip:bob@192.0.2.9:5080 SIP/2.0",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKl",
        "Route: <sip:192.0.2.1:5060;lr>\r\n",
    );
    let (to, m) = only(&r.handle(loose, peer(ALICE), 0));
    assert_eq!(to, peer("udp:192.0.2.9:5080"));
    assert!(m.routes().unwrap().is_empty());
    // A Route naming another port of the same host is not ours: kept and followed.
    let other_port = request(
        "BYE sip:bob@192.0.2.9:5080 SIP/2.0",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKp",
        "Route: <sip:192.0.2.1:5999;lr>\r\n",
    );
    let (to, _) = only(&r.handle(other_port, peer(ALICE), 0));
    assert_eq!(to, peer("udp:192.0.2.1:5999"));
}

#[test]
fn a_large_request_goes_over_tcp_with_a_matching_via() {
    let mut r = relay();
    let big = format!("Subject: {}\r\n", "x".repeat(UDP_REQUEST_LIMIT));
    let (to, m) = only(&r.handle(invite(&big), peer(ALICE), 0));
    assert_eq!(to.transport, Transport::Tcp);
    assert_eq!(m.top_via().unwrap().transport(), b"TCP");
    assert_eq!(
        m.vias().unwrap().len(),
        2,
        "the UDP Via was replaced, not stacked"
    );
}

#[test]
fn invalid_requests_get_400_and_invalid_acks_nothing() {
    let mut r = relay();
    let bad = Message::parse(
        "OPTIONS sip:a@other.org SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKb\r\n\
         From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(status(&r.handle(bad, peer(ALICE), 0)), 400);
    let bad_ack = Message::parse(
        "ACK sip:a@other.org SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKb\r\n\
         From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(r.handle(bad_ack, peer(ALICE), 0).verdict, Verdict::Dropped);
    assert_eq!(
        r.handle_bytes(b"not sip\r\n\r\n", peer(ALICE), 0).verdict,
        Verdict::Dropped
    );
}

/// Which chain a forwarded message takes: the inbound one towards a terminal (a registered
/// contact, or straight to the Request-URI in a dialog we record-routed, and responses), none
/// towards the network (a --route, or another proxy's Route after ours).
/// An INVITE from alice to bob@example.com, with `extra` header lines.
fn invite_bob(extra: &str) -> Message {
    request(
        "INVITE sip:bob@example.com SIP/2.0",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKp1",
        extra,
    )
}

/// Registers bob@example.com at 192.0.2.9:5080 (a terminal of the relay's).
fn register_bob(r: &mut Relay) {
    let reg = Message::parse(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5080;branch=z9hG4bKr\r\n\
         From: <sip:bob@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: r\r\n\
         CSeq: 1 REGISTER\r\nContact: <sip:bob@192.0.2.9:5080>\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(
        only(&r.handle(reg, peer("udp:192.0.2.9:5080"), 0))
            .1
            .status_code(),
        Some(200)
    );
}

#[test]
fn messages_towards_terminals_take_the_inbound_passage_and_others_none() {
    let mut r = relay();
    register_bob(&mut r);
    let to_bob = invite_bob("");
    let d = r.handle(to_bob, peer(ALICE), 0);
    assert_eq!(d.passage, Some(Passage::Inbound), "{d:?}");
    // Along a --route: towards the network.
    let d = r.handle(invite(""), peer(ALICE), 0);
    assert_eq!(d.passage, None);
    let rr = only(&d).1.record_routes().unwrap()[0]
        .uri()
        .as_str()
        .to_string();
    let in_dialog = |routes: &str| {
        Message::parse(format!(
            "BYE sip:carol@192.0.2.50:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKp2\r\n\
             {routes}From: <sip:alice@other.net>;tag=a1\r\nTo: <sip:carol@other.org>;tag=c9\r\n\
             Call-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        ))
        .unwrap()
    };
    // Our Route only: straight to the terminal's contact.
    let d = r.handle(in_dialog(&format!("Route: <{rr}>\r\n")), peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Forwarded, "{d:?}");
    assert_eq!(d.passage, Some(Passage::Inbound));
    // Our Route, then another proxy's: towards the network.
    let two = format!("Route: <{rr}>\r\nRoute: <sip:192.0.2.60;lr>\r\n");
    let d = r.handle(in_dialog(&two), peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Forwarded, "{d:?}");
    assert_eq!(d.passage, None);
    // A response: towards whoever sent the request.
    let ok = answer(&mut r, invite(""), 200);
    let d = r.handle(ok, peer("udp:192.0.2.50:5060"), 0);
    assert_eq!(d.verdict, Verdict::Forwarded, "{d:?}");
    assert_eq!(d.passage, Some(Passage::Inbound));
}

#[test]
fn location_routes_registered_aors_and_refuses_unknown_ones() {
    let mut r = relay();
    let reg = Message::parse(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5080;branch=z9hG4bKr\r\n\
         From: <sip:bob@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: r\r\n\
         CSeq: 1 REGISTER\r\nContact: <sip:bob@192.0.2.9:5080>;expires=100\r\n\
         Content-Length: 0\r\n\r\n",
    )
    .unwrap();
    let d = r.handle(reg, peer("udp:192.0.2.9:5080"), 1000);
    let (_, ok) = only(&d);
    assert_eq!(ok.status_code(), Some(200));
    assert!(ok
        .value(HeaderKind::Contact)
        .unwrap()
        .ends_with(b";expires=100"));
    let call = |r: &mut Relay, now| {
        r.handle(
            request(
                "INVITE sip:bob@example.com SIP/2.0",
                "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKc",
                "",
            ),
            peer(ALICE),
            now,
        )
    };
    let (to, m) = only(&call(&mut r, 1099));
    assert_eq!(to, peer("udp:192.0.2.9:5080"));
    assert_eq!(m.request_uri(), Some(&b"sip:bob@192.0.2.9:5080"[..]));
    assert_eq!(status(&call(&mut r, 1100)), 404);
}

#[test]
fn branches_are_keyed_per_process_unless_fixed() {
    let branch = |r: &mut Relay| {
        let (_, out) = only(&r.handle(invite(""), peer(ALICE), 0));
        let b = out.top_via().unwrap().branch().unwrap().to_vec();
        String::from_utf8(b).unwrap()
    };
    let (mut a, mut b) = (relay(), relay());
    let (ba, bb) = (branch(&mut a), branch(&mut b));
    // The transaction part differs between two random keys; the loop part does not.
    assert_ne!(ba.split('.').next(), bb.split('.').next());
    assert_eq!(ba.split('.').nth(1), bb.split('.').nth(1));
    assert_eq!(ba, branch(&mut a), "a retransmission keeps its branch");
    let mut f1 = relay().with_key(RelayKey::fixed());
    let mut f2 = relay().with_key(RelayKey::fixed());
    assert_eq!(branch(&mut f1), branch(&mut f2));
    // A key from a shared secret: two relays (or one after a restart) agree.
    let mut s1 = relay().with_key(RelayKey::from_secret(b"a secret of the relays"));
    let mut s2 = relay().with_key(RelayKey::from_secret(b"a secret of the relays"));
    assert_eq!(branch(&mut s1), branch(&mut s2));
    assert_ne!(branch(&mut s1), branch(&mut f1));
}

#[test]
fn the_fixed_key_hashes_as_std_default_hasher() {
    // The --stdio transcripts were made with DefaultHasher::new(); they must not change.
    let mut a = RelayKey::fixed().hasher();
    let mut b = DefaultHasher::new();
    (b"z9hG4bKa1", "192.0.2.7", Some(5070u16), 17u32).hash(&mut a);
    (b"z9hG4bKa1", "192.0.2.7", Some(5070u16), 17u32).hash(&mut b);
    assert_eq!(a.finish(), b.finish());
    assert_eq!(format!("{:?}", RelayKey::random()), "RelayKey(..)");
}

#[test]
fn stream_responses_fall_back_to_received_and_sent_by_port() {
    let mut r = relay();
    // Made here: to the connection, else to received with the sent-by port.
    let req = request(
        "OPTIONS sip:nobody@example.com SIP/2.0",
        "SIP/2.0/TCP 10.0.0.5:5080;branch=z9hG4bKt1",
        "",
    );
    let d = r.handle(req, peer("tcp:192.0.2.7:40001"), 0);
    assert_eq!(d.verdict, Verdict::Answered(404));
    assert_eq!(d.transmits[0].to, peer("tcp:192.0.2.7:40001"));
    assert_eq!(d.transmits[0].fallback, Some(peer("tcp:192.0.2.7:5080")));
    // Forwarded along the Via path: rport names the connection, sent-by the fallback.
    let req = request(
        "INVITE sip:carol@other.org SIP/2.0",
        "SIP/2.0/TCP 10.0.0.5:5080;branch=z9hG4bKt1",
        "",
    );
    let (_, fwd) = only(&r.handle(req, peer("tcp:192.0.2.7:40001"), 0));
    let m = Message::parse(build_response(&fwd, 200, "OK", &[])).unwrap();
    let d = r.handle(m, peer("udp:192.0.2.50:5060"), 0);
    assert_eq!(d.transmits[0].to, peer("tcp:192.0.2.7:40001"));
    assert_eq!(d.transmits[0].fallback, Some(peer("tcp:192.0.2.7:5080")));
    // UDP has no connection to lose.
    let d = r.handle(invite("Max-Forwards: 0\r\n"), peer(ALICE), 0);
    assert_eq!(d.transmits[0].fallback, None);
}

#[test]
fn unparsable_requests_get_400_where_a_return_path_exists() {
    let broken = |via: &str| {
        format!(
            "INVITE sip:carol@other.org SIP/2.0\r\n{via}From: <sip:alice@other.net>;tag=a1\r\n\
             To: <sip:carol@other.org>\r\nCall-ID: u1\r\nCSeq: 1 INVITE\r\nBroken header line\r\n\
             Content-Length: 0\r\n\r\n"
        )
    };
    let with_via = broken("Via: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKu1\r\n");
    let mut r = relay();
    let d = r.handle_bytes(with_via.as_bytes(), peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Answered(400));
    let (to, m) = only(&d);
    // The source address, the sent-by port.
    assert_eq!(to, peer("udp:192.0.2.7:5070"));
    assert_eq!(m.status_code(), Some(400));
    assert_eq!(m.call_id().unwrap(), b"u1");
    assert!(m.to().unwrap().tag().is_some());
    assert_eq!(
        m.top_via().unwrap().branch(),
        Some(&b"z9hG4bKu1"[..]),
        "the client can match it"
    );
    // No readable Via over UDP: no return path, nothing sent.
    let no_via = broken("");
    let d = r.handle_bytes(no_via.as_bytes(), peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Dropped);
    assert!(d.transmits.is_empty());
    let d = r.handle_bytes(broken("Via: garbage\r\n").as_bytes(), peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Dropped);
    // Over TCP the connection is the return path.
    let tcp = peer("tcp:192.0.2.7:40001");
    let d = r.handle_bytes(no_via.as_bytes(), tcp, 0);
    assert_eq!(d.verdict, Verdict::Answered(400));
    assert_eq!(only(&d).0, tcp);
    // An ACK is never answered; a broken response is not a request.
    let ack = with_via.replacen("INVITE sip", "ACK sip", 1);
    assert_eq!(
        r.handle_bytes(ack.as_bytes(), tcp, 0).verdict,
        Verdict::Dropped
    );
    let resp = b"SIP/2.0 200 OK\r\nBroken\r\n\r\n";
    assert_eq!(r.handle_bytes(resp, tcp, 0).verdict, Verdict::Dropped);
    assert_eq!(
        r.handle_bytes(b"not sip at all\r\n\r\n", tcp, 0).verdict,
        Verdict::Dropped
    );
}

#[test]
fn requests_are_forwarded_only_for_our_domains_routes_dialogs_and_members() {
    let to_ip = || {
        request(
            "INVITE sip:victim@192.0.2.99 SIP/2.0",
            "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKip",
            "",
        )
    };
    let mut r = relay();
    let d = r.handle(to_ip(), peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Answered(403), "{d:?}");
    assert_eq!(d.refusal, Some(Refusal::NotForwarded));
    // Along a --route: forwarded, whoever asks.
    let d = r.handle(invite(""), peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Forwarded);
    assert_eq!(d.refusal, None);
    // An unroutable name is still 404, not 403.
    let nowhere = request(
        "OPTIONS sip:x@nowhere.test SIP/2.0",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKnw",
        "",
    );
    assert_eq!(status(&r.handle(nowhere, peer(ALICE), 0)), 404);
    // --open-relay, or an authenticated member: forwarded.
    assert_eq!(
        open_relay().handle(to_ip(), peer(ALICE), 0).verdict,
        Verdict::Forwarded
    );
    let dir = tempfile::tempdir().unwrap();
    let mut r = relay().with_auth(crate::auth::testing::gate(dir.path()));
    let from_agent = |creds: &str| {
        let text = String::from_utf8(to_ip().into_bytes())
            .unwrap()
            .replace("alice@other.net", "agent-7@callcentre.example")
            .replace("Content-Length", &format!("{creds}Content-Length"));
        Message::parse(text.into_bytes()).unwrap()
    };
    let challenge = r.handle(from_agent(""), peer(ALICE), 0);
    assert_eq!(challenge.verdict, Verdict::Answered(407), "{challenge:?}");
    let text = String::from_utf8(only(&challenge).1.clone().into_bytes()).unwrap();
    let start = text.find("nonce=\"").unwrap() + 7;
    let nonce = &text[start..start + text[start..].find('"').unwrap()];
    let creds =
        crate::auth::testing::proxy_authorization("INVITE", "sip:victim@192.0.2.99", nonce, b"pw");
    let d = r.handle(from_agent(&creds), peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Forwarded, "{d:?}");
    // Our credentials are not forwarded.
    assert_eq!(only(&d).1.values(HeaderKind::ProxyAuthorization).count(), 0);
    // An outsider still may not.
    let d = r.handle(to_ip(), peer("udp:192.0.2.66:5060"), 0);
    assert_eq!(d.verdict, Verdict::Answered(403));
}

#[test]
fn in_dialog_requests_need_the_mac_of_our_record_route() {
    let mut r = relay();
    let (_, fwd) = only(&r.handle(invite(""), peer(ALICE), 0));
    let rr = fwd.record_routes().unwrap()[0].uri().as_str().to_string();
    assert!(rr.contains(";lr;sr="), "{rr}");
    let bye = |route: &str, call_id: &str| {
        Message::parse(format!(
            "BYE sip:bob@192.0.2.9:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKb{call_id}\r\n\
             Route: <{route}>\r\nFrom: <sip:alice@other.net>;tag=a1\r\nTo: <sip:carol@other.org>;tag=c9\r\n\
             Call-ID: {call_id}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
        ))
        .unwrap()
    };
    let d = r.handle(bye(&rr, "c1"), peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Forwarded, "{d:?}");
    assert_eq!(d.transmits[0].to, peer("udp:192.0.2.9:5080"));
    assert!(d.note.contains("after our Route"), "{}", d.note);
    // The same Route on another dialog, a changed MAC, or none: refused as forged.
    let mac_at = rr.find(";sr=").unwrap() + 4;
    let mut flipped = rr.clone();
    let digit = if &rr[mac_at..mac_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    flipped.replace_range(mac_at..mac_at + 1, digit);
    let bare = rr[..rr.find(";sr=").unwrap()].to_string();
    for (route, call_id) in [(&rr, "c2"), (&flipped, "c1"), (&bare, "c1")] {
        let d = r.handle(bye(route, call_id), peer(ALICE), 0);
        assert_eq!(d.verdict, Verdict::Answered(403), "{route} {call_id}");
        assert_eq!(d.refusal, Some(Refusal::ForgedRoute));
    }
    // A strict router puts our Record-Route URI in the Request-URI: its MAC counts the same.
    let strict = Message::parse(format!(
        "BYE {rr} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKst\r\n\
         Route: <sip:bob@192.0.2.9:5080>\r\nFrom: <sip:alice@other.net>;tag=a1\r\n\
         To: <sip:carol@other.org>;tag=c9\r\nCall-ID: c1\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n"
    ))
    .unwrap();
    let d = r.handle(strict, peer(ALICE), 0);
    assert_eq!(d.transmits[0].to, peer("udp:192.0.2.9:5080"), "{d:?}");
    // A key from another process does not verify.
    let d = relay().handle(bye(&rr, "c1"), peer(ALICE), 0);
    assert_eq!(d.refusal, Some(Refusal::ForgedRoute));
}

/// An INVITE that creates the dialog `call_id` with the initiator's tag `tag`.
fn invite_in(call_id: &str, tag: &str) -> Message {
    Message::parse(format!(
        "INVITE sip:carol@other.org SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKi{call_id}{tag}\r\n\
         From: <sip:alice@other.net>;tag={tag}\r\nTo: <sip:carol@other.org>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    ))
    .unwrap()
}

/// A BYE along `route` with these tags, to an address only the Route can vouch for.
fn bye_in(route: &str, call_id: &str, from_tag: &str, to_tag: &str) -> Message {
    Message::parse(format!(
        "BYE sip:someone@192.0.2.9:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.8:5080;branch=z9hG4bKb{from_tag}\r\n\
         Route: <{route}>\r\nFrom: <sip:x@other.org>;tag={from_tag}\r\nTo: <sip:y@other.net>;tag={to_tag}\r\n\
         Call-ID: {call_id}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    ))
    .unwrap()
}

fn record_route_of(r: &mut Relay, invite: Message) -> String {
    let (_, fwd) = only(&r.handle(invite, peer(ALICE), 0));
    fwd.record_routes().unwrap()[0].uri().as_str().to_string()
}

#[test]
fn our_record_route_mac_binds_the_call_id_and_the_initiators_tag() {
    let mut r = relay();
    let rr = record_route_of(&mut r, invite_in("c1", "a1"));
    // Both directions of the dialog: the caller's requests carry its tag as From tag, the
    // callee's (From and To swapped) as To tag.
    for (from_tag, to_tag) in [("a1", "b7"), ("b7", "a1")] {
        let d = r.handle(bye_in(&rr, "c1", from_tag, to_tag), peer(ALICE), 0);
        assert_eq!(d.verdict, Verdict::Forwarded, "{from_tag}->{to_tag}: {d:?}");
        assert_eq!(d.transmits[0].to, peer("udp:192.0.2.9:5080"));
    }
    // The Route of this dialog on another one: same Call-ID but another initiator (in
    // either direction), or another Call-ID with the same tags.
    for (call_id, from_tag, to_tag) in [
        ("c1", "x1", "b7"),
        ("c1", "b7", "x1"),
        ("c2", "a1", "b7"),
        ("c2", "b7", "a1"),
    ] {
        let d = r.handle(bye_in(&rr, call_id, from_tag, to_tag), peer(ALICE), 0);
        assert_eq!(
            d.verdict,
            Verdict::Answered(403),
            "{call_id} {from_tag}->{to_tag}"
        );
        assert_eq!(d.refusal, Some(Refusal::ForgedRoute));
    }
    // A valid Route from another dialog sharing the Call-ID (one the attacker set up through
    // the relay with its own tag), transplanted into this dialog: refused.
    let theirs = record_route_of(&mut r, invite_in("c1", "m1"));
    assert_ne!(theirs, rr);
    for (from_tag, to_tag) in [("a1", "b7"), ("b7", "a1")] {
        let d = r.handle(bye_in(&theirs, "c1", from_tag, to_tag), peer(ALICE), 0);
        assert_eq!(
            d.refusal,
            Some(Refusal::ForgedRoute),
            "{from_tag}->{to_tag}"
        );
    }
    let d = r.handle(bye_in(&theirs, "c1", "m1", "b7"), peer(ALICE), 0);
    assert_eq!(
        d.verdict,
        Verdict::Forwarded,
        "their own dialog still works"
    );
    // A UA that echoes the Record-Route with the parameters in another order and the MAC in
    // upper case keeps the dialog.
    let mac_at = rr.find(";sr=").unwrap();
    let reordered = format!(
        "{};sr={};lr",
        rr[..mac_at].trim_end_matches(";lr"),
        rr[mac_at + 4..].to_ascii_uppercase()
    );
    let d = r.handle(bye_in(&reordered, "c1", "b7", "a1"), peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Forwarded, "{reordered}: {d:?}");
}

#[test]
fn after_a_new_key_the_previous_one_is_still_accepted_until_the_next() {
    let mut r = relay();
    let old_rr = record_route_of(&mut r, invite_in("k1", "a1"));
    let old_180 = answer(&mut r, invite_in("k2", "a2"), 180);
    assert!(r.rekey(RelayKey::from_secret(b"second key, 16+ bytes")));
    assert!(
        !r.rekey(RelayKey::from_secret(b"second key, 16+ bytes")),
        "same key"
    );
    let new_rr = record_route_of(&mut r, invite_in("k1", "a1"));
    assert_ne!(new_rr, old_rr, "new Record-Routes use the new key");
    for rr in [&old_rr, &new_rr] {
        let d = r.handle(bye_in(rr, "k1", "b1", "a1"), peer(ALICE), 0);
        assert_eq!(d.verdict, Verdict::Forwarded, "{rr}");
    }
    let d = r.handle(old_180.clone(), peer("udp:192.0.2.50:5060"), 0);
    assert_eq!(
        d.verdict,
        Verdict::Forwarded,
        "a response to a request sent before"
    );
    assert!(r.rekey(RelayKey::from_secret(b"third key, 16+ bytes")));
    let d = r.handle(bye_in(&old_rr, "k1", "b1", "a1"), peer(ALICE), 0);
    assert_eq!(d.refusal, Some(Refusal::ForgedRoute), "two keys back");
    let d = r.handle(old_180, peer("udp:192.0.2.50:5060"), 0);
    assert_eq!(d.refusal, Some(Refusal::ForgedResponse));
}

#[test]
fn forged_responses_are_dropped_and_counted() {
    let mut r = relay();
    let genuine = answer(&mut r, invite(""), 180);
    let d = r.handle(genuine.clone(), peer("udp:192.0.2.50:5060"), 0);
    assert_eq!(d.verdict, Verdict::Forwarded);
    assert_eq!(d.transmits[0].to, peer("udp:192.0.2.7:5070"));
    // Our Via, a branch we never made.
    let text = String::from_utf8(genuine.as_bytes().to_vec()).unwrap();
    let branch = std::str::from_utf8(genuine.top_via().unwrap().branch().unwrap())
        .unwrap()
        .to_string();
    let made_up = text.replace(&branch, "z9hG4bKsr0123456789abcdef.0123456789abcdef");
    // Our genuine branch, with a victim's Via under it (a reflection attempt).
    let victim = text.replace("192.0.2.7:5070", "203.0.113.5:5060");
    for forged in [made_up, victim] {
        let d = r.handle(
            Message::parse(forged.clone()).unwrap(),
            peer("udp:192.0.2.50:5060"),
            0,
        );
        assert_eq!(d.verdict, Verdict::Dropped, "{forged}");
        assert_eq!(d.refusal, Some(Refusal::ForgedResponse));
        assert!(d.transmits.is_empty());
    }
    // RFC 2543 requests (no magic cookie) are keyed over their Via, Call-ID, From tag, CSeq.
    let old = request(
        "INVITE sip:carol@other.org SIP/2.0",
        "SIP/2.0/UDP 192.0.2.7:5070;branch=2543",
        "",
    );
    let resp = answer(&mut r, old, 200);
    assert_eq!(
        r.handle(resp, peer("udp:192.0.2.50:5060"), 0).verdict,
        Verdict::Forwarded
    );
}

#[test]
fn a_register_answer_lists_a_bounded_number_of_bytes_and_contacts() {
    let long = (format!("sip:{}@192.0.2.9", "u".repeat(600)), 60);
    let listed = listed_bindings(&vec![long; 5]);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed[1].0, "Warning");
    assert!(listed[1].1.contains("\"4 more binding(s)"));
    let short: Vec<(String, u64)> = (0..30).map(|i| (format!("sip:{i}@h"), 60)).collect();
    let listed = listed_bindings(&short);
    assert_eq!(listed.len(), LISTED_CONTACTS + 1);
    assert!(listed_bindings(&short[..3])
        .iter()
        .all(|(n, _)| *n == "Contact"));
}

#[test]
fn without_notes_forwarding_says_nothing_but_refusals_still_explain() {
    let mut r = relay().with_notes(false);
    assert_eq!(r.handle(invite(""), peer(ALICE), 0).note, "");
    let d = r.handle(invite("Max-Forwards: 0\r\n"), peer(ALICE), 0);
    assert!(d.note.contains("483"), "{}", d.note);
}

/// The loop hash is taken before the Route and Request-URI edits are made, over what they
/// will leave: it must equal the hash of the edited request, for every shape of Route set.
#[test]
fn the_loop_hash_covers_the_routes_and_request_uri_as_they_will_be_forwarded() {
    let r = relay();
    let cases = [
        ("sip:carol@other.org", ""),
        ("sip:carol@other.org", "Route: <sip:p9.example;lr>\r\n"),
        ("sip:carol@other.org", "Route: <sip:192.0.2.1;lr>\r\n"),
        (
            "sip:carol@other.org",
            "Route: <sip:192.0.2.1;lr> , <sip:p2.example;lr>,\r\n <sip:p3.example;lr>\r\n\
             Proxy-Require: foo\r\nRoute: <sip:p4.example;lr>\r\n",
        ),
        ("sip:192.0.2.1:5060", "Route: <sip:carol@other.org>\r\n"),
        (
            "sip:192.0.2.1",
            "Route: <sip:p1.example;lr>, <sip:p2.example>  \r\n",
        ),
        (
            "sip:192.0.2.1",
            "Route: <sip:192.0.2.1;lr> , <sip:p2.example;lr> ,  <sip:carol@other.org>\r\n",
        ),
        (
            "sip:192.0.2.1",
            "Route: <sip:192.0.2.1;lr>\r\nRoute: <sip:p2.example;lr>,<sip:carol@other.org>\r\n",
        ),
        (
            "sip:192.0.2.1",
            "Route: <sip:192.0.2.1;lr>\r\nRoute: <sip:carol@other.org>\r\n",
        ),
        // Folded: the edited field is unfolded, the others stay as they are.
        (
            "sip:192.0.2.1",
            "Route: <sip:p1.example;lr>,\r\n <sip:p2.example;lr>, <sip:carol@other.org>\r\n",
        ),
        (
            "sip:192.0.2.1",
            "Route: <sip:192.0.2.1;lr>,\r\n <sip:p2.example;lr>,\r\n <sip:carol@other.org>\r\n",
        ),
        (
            "sip:carol@other.org",
            "Route: <sip:192.0.2.1;lr>,\r\n\t<sip:p2.example;lr> ,\r\n <sip:p3.example;lr>\r\n\
             Route: <sip:p4.example;lr>,\r\n <sip:p5.example;lr>\r\n",
        ),
        (
            "sip:carol@other.org",
            "Route: <sip:192.0.2.1;lr>\r\n ;x=1, <sip:p2.example;lr>\r\n",
        ),
        (
            "sip:carol@other.org",
            "Route: <sip:192.0.2.1;lr>\r\n ;x=1\r\nRoute: <sip:p2.example;lr>,\r\n <sip:p3.example;lr>\r\n",
        ),
        (
            "sip:192.0.2.1",
            "Route: <sip:192.0.2.1;lr>,\r\n <sip:carol@other.org>\r\n",
        ),
    ];
    for (uri, routes) in cases {
        let msg = request(
            &format!("INVITE {uri} SIP/2.0"),
            "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1",
            routes,
        );
        let view = msg.validated().unwrap();
        let routing = r
            .preprocess_routes(&msg, &view, view.request_uri.unwrap())
            .unwrap();
        let mut edited = msg.clone();
        if let Some(line) = &routing.strict {
            edited.set_start_line(line).unwrap();
            remove_list_element(&mut edited, HeaderKind::Route, Position::Last);
        }
        if routing.top_removed {
            remove_list_element(&mut edited, HeaderKind::Route, Position::First);
        }
        let mut h = DefaultHasher::new();
        edited.request_uri().hash(&mut h);
        edited.from().ok().and_then(|a| a.tag()).hash(&mut h);
        edited.to().ok().and_then(|a| a.tag()).hash(&mut h);
        edited.call_id().ok().hash(&mut h);
        edited.cseq().ok().map(|c| c.seq).hash(&mut h);
        edited
            .values(HeaderKind::Route)
            .for_each(|v| v.hash(&mut h));
        edited
            .values_named("Proxy-Require")
            .for_each(|v| v.hash(&mut h));
        let case = format!("{uri} {routes:?}");
        assert_eq!(loop_hash(&msg, &view, &routing), h.finish(), "{case}");
        let left: Vec<&str> = routing.routes.iter().map(|a| a.uri().as_str()).collect();
        let routes_left = edited.routes().unwrap();
        let edited_left: Vec<&str> = routes_left.iter().map(|a| a.uri().as_str()).collect();
        assert_eq!(left, edited_left, "{case}");
        let uri_left = routing.request_uri.as_str().as_bytes();
        assert_eq!(Some(uri_left), edited.request_uri(), "{case}");
    }
}

/// A line break that is not a fold (which the parser never lets through) is not unfolded
/// into the rest: the element stays, in the edit as in the decision made before it.
#[test]
fn a_list_removal_never_unfolds_a_line_break_that_is_not_a_fold() {
    for value in [
        &b"<sip:192.0.2.1;lr>, <sip:p2.example>\r\nSubject: forged"[..],
        b"<sip:192.0.2.1;lr>, <sip:p2.example>\rSubject: forged",
        b"<sip:192.0.2.1;lr>, <sip:p2.example>\nSubject: forged",
        b"<sip:192.0.2.1;lr>,\r\n <sip:p2.example>\r\n;x=1",
    ] {
        let e = list_removal(value, Position::First).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::BareLineBreak);
        let (left, removed) = removal(Some(Cow::Borrowed(value)), Position::First);
        assert_eq!((left.as_deref(), removed), (Some(value), false));
    }
    let folded = &b"<sip:192.0.2.1;lr>,\r\n <sip:p2.example>,\r\n\t<sip:p3.example>"[..];
    let (left, removed) = removal(Some(Cow::Borrowed(folded)), Position::First);
    let left = left.unwrap();
    assert_eq!(
        (&*left, removed),
        (&b"<sip:p2.example>, <sip:p3.example>"[..], true)
    );
    let (left, removed) = removal(Some(left), Position::Last);
    assert_eq!(
        (left.as_deref(), removed),
        (Some(&b"<sip:p2.example>"[..]), true)
    );
    assert_eq!(removal(None, Position::First), (None, false));
}

#[test]
fn host_keys_are_compared_as_the_built_key_would_be() {
    let uris = [
        "sip:a@example.com",
        "sip:a@Example.COM.",
        "sip:a@192.0.2.1",
        "sip:a@[2001:db8::1]",
        "tel:+1234",
    ];
    let keys = [
        "example.com",
        "EXAMPLE.com",
        "example.com.",
        "192.0.2.1",
        "192.0.2.1.",
        "[2001:db8::1]",
        "",
    ];
    for text in uris {
        let uri = Uri::parse_str(text).unwrap();
        for key in keys {
            assert_eq!(
                host_key_is(&uri, key),
                host_key(&uri) == key,
                "{text} {key}"
            );
            let mut r = relay();
            let mut config = r.config().clone();
            config.domains = vec![key.to_string()];
            r.reconfigure(config).unwrap();
            let built = r.is_own_domain_name(&host_key(&uri));
            assert_eq!(r.uri_is_own_domain(&uri), built, "{text} {key}");
        }
    }
}

#[test]
fn hand_written_formats_match_the_formatting_machinery() {
    for n in [0, 1, 0xabc, 0x0123_4567_89ab_cdef, u64::MAX] {
        let mut hex = Vec::new();
        push_hex16(&mut hex, n);
        assert_eq!(hex, format!("{n:016x}").into_bytes());
    }
    for addr in ["192.0.2.1:5060", "10.0.0.255:0", "[2001:db8::1]:65535"] {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut text = Vec::new();
        push_host_port(&mut text, addr);
        assert_eq!(text, addr.to_string().into_bytes());
    }
    let msg = invite("");
    for via in [
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1",
        "SIP/2.0/TCP host.example;branch=z9hG4bKa1",
        "SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKa1",
    ] {
        let v = Via::parse(via.as_bytes()).unwrap();
        let mut h = DefaultHasher::new();
        v.branch().unwrap().hash(&mut h);
        v.host().to_string().hash(&mut h);
        v.port().hash(&mut h);
        let top_field = msg.value(HeaderKind::Via);
        let hashed = transaction_hash(&msg, Some(&v), top_field, DefaultHasher::new());
        assert_eq!(hashed, h.finish(), "{via}");
    }
}

/// An OPTIONS with this top Via that the relay refuses (483: Max-Forwards 0).
fn unforwardable(via: &str) -> Message {
    request(
        "OPTIONS sip:carol@other.org SIP/2.0",
        via,
        "Max-Forwards: 0\r\n",
    )
}

/// received/rport are written after the decision: a refusal still carries them (and goes
/// where they say).
#[test]
fn refusals_carry_received_and_rport() {
    let mut r = relay();
    let natted = "SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKn";
    let refused = unforwardable(natted);
    let d = r.handle(refused, peer("udp:203.0.113.9:40000"), 0);
    assert_eq!(d.verdict, Verdict::Answered(483), "{d:?}");
    let (to, answer) = only(&d);
    assert_eq!(to, peer("udp:203.0.113.9:40000"));
    let via = answer.top_via().unwrap();
    assert_eq!(via.received(), Some(&b"203.0.113.9"[..]));
    assert_eq!(via.rport(), Some(Some(&b"40000"[..])));
    // Folded, but nothing to stamp: forwarded with the field as it came.
    let folded = "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1,\r\n SIP/2.0/UDP 10.0.0.6";
    let (_, m) = only(&r.handle(invite_via(folded), peer(ALICE), 0));
    assert_eq!(m.values(HeaderKind::Via).nth(1), Some(folded.as_bytes()));
}

/// `text` with LF line ends instead of CRLF (folds included), as the RFC 5118 archive writes
/// messages.
fn lf_only(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// A folded top Via that needs received/rport is unfolded, stamped and forwarded; the
/// response goes back where they say, with the Via as it was forwarded.
#[test]
fn a_folded_top_via_that_needs_received_and_rport_is_unfolded_and_stamped() {
    let stamps = ";received=203.0.113.9;rport=40000";
    let cases = [
        (
            "SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKn,\r\n SIP/2.0/UDP 10.0.0.6;branch=z9hG4bKg",
            format!("SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKn{stamps}, SIP/2.0/UDP 10.0.0.6;branch=z9hG4bKg"),
        ),
        (
            "SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKn ,\r\n\tSIP/2.0/UDP 10.0.0.6;branch=z9hG4bKg",
            format!("SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKn{stamps} , SIP/2.0/UDP 10.0.0.6;branch=z9hG4bKg"),
        ),
        // Folded within the first element, and between the elements: every fold one SP.
        (
            "SIP/2.0/UDP 10.0.0.5:5070\r\n ;rport;branch=z9hG4bKn,\r\n\t \r\n SIP/2.0/UDP 10.0.0.6",
            format!("SIP/2.0/UDP 10.0.0.5:5070 ;branch=z9hG4bKn{stamps}, SIP/2.0/UDP 10.0.0.6"),
        ),
        // Folded within the first element only, nothing after it; no rport asked for.
        (
            "SIP/2.0/UDP\r\n\t10.0.0.5:5070;branch=z9hG4bKn",
            "SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKn;received=203.0.113.9".to_string(),
        ),
    ];
    for (via, expected) in cases {
        // With rport, responses go to the source port; without, to the sent-by port.
        let back_to = match expected.contains(";rport=") {
            true => peer("udp:203.0.113.9:40000"),
            false => peer("udp:203.0.113.9:5070"),
        };
        for crlf in [true, false] {
            let mut r = relay();
            let text = String::from_utf8(invite_via(via).into_bytes()).unwrap();
            let (text, expected_line) = match crlf {
                true => (text, format!("Via: {expected}\r\n")),
                false => (lf_only(&text), format!("Via: {expected}\n")),
            };
            let case = format!("{text:?}");
            let from = peer("udp:203.0.113.9:40000");
            let d = r.handle(Message::parse(text.clone()).unwrap(), from, 0);
            assert_eq!(d.verdict, Verdict::Forwarded, "{case}: {d:?}");
            let (_, mut fwd) = only(&d);
            let stamped = fwd.fields()[1];
            assert_eq!(fwd.field_line(&stamped), expected_line.as_bytes(), "{case}");
            // Every other field as it came: without ours, Max-Forwards and Record-Route, the
            // request is the input with only the top Via field replaced.
            let mut rest = fwd.clone();
            rest.remove_field(0);
            rest.remove_all(HeaderKind::MaxForwards);
            rest.remove_all(HeaderKind::RecordRoute);
            let input = Message::parse(text.clone()).unwrap();
            let old_line = input.field_line(&input.fields()[0]);
            let old_line = String::from_utf8(old_line.to_vec()).unwrap();
            let want = text.replacen(&old_line, &expected_line, 1);
            assert_eq!(String::from_utf8_lossy(rest.as_bytes()), want, "{case}");
            // The response: back to the source address and port, with the Via as stamped.
            fwd.set_start_line(b"INVITE sip:carol@other.org SIP/2.0")
                .unwrap();
            let ok = Message::parse(build_response(&fwd, 200, "OK", &[])).unwrap();
            let d = r.handle(ok, peer("udp:192.0.2.50:5060"), 0);
            assert_eq!(d.verdict, Verdict::Forwarded, "{case}: {d:?}");
            let (to, back) = only(&d);
            assert_eq!(to, back_to, "{case}");
            assert_eq!(back.value(HeaderKind::Via), Some(expected.as_bytes()));
        }
    }
}

/// A request that fails validation is stamped before it is answered (no deferred stamp):
/// a folded top Via takes received/rport there too, and the 400 goes where they say.
#[test]
fn an_invalid_request_with_a_folded_via_is_answered_at_its_source() {
    let mut r = relay();
    let via = "SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKn,\r\n SIP/2.0/UDP 10.0.0.6";
    let bad = Message::parse(format!(
        "OPTIONS sip:carol@other.org SIP/2.0\r\nVia: {via}\r\nFrom: <sip:alice@other.net>;tag=a1\r\n\
         To: <sip:carol@other.org>\r\nCall-ID: c1\r\nCSeq: x OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ))
    .unwrap();
    let d = r.handle(bad, peer("udp:203.0.113.9:40000"), 0);
    assert_eq!(d.verdict, Verdict::Answered(400), "{d:?}");
    let (to, answer) = only(&d);
    assert_eq!(to, peer("udp:203.0.113.9:40000"));
    assert_eq!(
        answer.value(HeaderKind::Via),
        Some(
            &b"SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKn;received=203.0.113.9;rport=40000, \
               SIP/2.0/UDP 10.0.0.6"[..]
        )
    );
}

/// A response whose top Via field holds ours and the next, folded over lines (a hop may
/// combine fields): ours taken off, the rest unfolded, sent on.
#[test]
fn a_response_with_our_via_folded_into_the_next_passes_back() {
    for (sent_via, fold) in [
        ("SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1", ",\r\n "),
        ("SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1", " ,\r\n\t"),
        // Folds left after ours is taken off.
        (
            "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1,\r\n SIP/2.0/UDP 10.0.0.6",
            ",\r\n\t",
        ),
        // RFC 2543: the transaction is keyed over the whole field, which the fold is not
        // part of.
        ("SIP/2.0/UDP 192.0.2.7:5070;branch=2543", ",\r\n "),
        (
            "SIP/2.0/UDP 192.0.2.7:5070;branch=2543,\r\n SIP/2.0/UDP 10.0.0.6",
            ",\r\n ",
        ),
    ] {
        let mut r = relay();
        let (_, fwd) = only(&r.handle(invite_via(sent_via), peer(ALICE), 0));
        let ok = String::from_utf8(build_response(&fwd, 200, "OK", &[])).unwrap();
        let vias: Vec<&[u8]> = fwd.values(HeaderKind::Via).collect();
        let (ours, theirs) = (
            String::from_utf8_lossy(vias[0]),
            String::from_utf8_lossy(vias[1]),
        );
        let separate = format!("Via: {ours}\r\nVia: {theirs}\r\n");
        let combined = format!("Via: {ours}{fold}{theirs}\r\n");
        assert!(ok.contains(&separate), "{ok}");
        let ok = ok.replacen(&separate, &combined, 1);
        let d = r.handle(Message::parse(ok).unwrap(), peer("udp:192.0.2.50:5060"), 0);
        assert_eq!(
            d.verdict,
            Verdict::Forwarded,
            "{sent_via:?} {fold:?}: {d:?}"
        );
        let (to, back) = only(&d);
        assert_eq!(to, peer(ALICE));
        let unfolded = theirs.replace(",\r\n ", ", ");
        assert_eq!(back.value(HeaderKind::Via), Some(unfolded.as_bytes()));
        assert_eq!(back.values(HeaderKind::Via).count(), 1);
    }
}

/// Loose routing (§16.4) with a Route folded over lines: our element taken off, the rest
/// unfolded onto one line and followed; every field the edit does not touch as it came.
#[test]
fn a_folded_route_naming_the_relay_loses_our_element_and_is_followed() {
    let us = "<sip:192.0.2.1;lr>";
    // (Request-URI, Route fields as they come, as they leave, next hop)
    let cases = [
        (
            "sip:bob@192.0.2.9:5080",
            format!("Route: {us},\r\n <sip:192.0.2.60;lr>\r\n"),
            "Route: <sip:192.0.2.60;lr>\r\n".to_string(),
            "udp:192.0.2.60:5060",
        ),
        (
            "sip:bob@192.0.2.9:5080",
            format!("Route: {us},\r\n\t<sip:192.0.2.60;lr>\r\n"),
            "Route: <sip:192.0.2.60;lr>\r\n".to_string(),
            "udp:192.0.2.60:5060",
        ),
        // Several folds, one of them after white space and a line of white space only.
        (
            "sip:bob@192.0.2.9:5080",
            format!("Route: {us},\r\n <sip:192.0.2.60;lr> ,\r\n\t \r\n <sip:192.0.2.61;lr>\r\n"),
            "Route: <sip:192.0.2.60;lr> , <sip:192.0.2.61;lr>\r\n".to_string(),
            "udp:192.0.2.60:5060",
        ),
        // Folded within the element that stays.
        (
            "sip:bob@192.0.2.9:5080",
            format!("Route: {us}, <sip:192.0.2.60;lr>\r\n ;x=1\r\n"),
            "Route: <sip:192.0.2.60;lr> ;x=1\r\n".to_string(),
            "udp:192.0.2.60:5060",
        ),
        // Folded within ours only: the rest has no fold.
        (
            "sip:bob@192.0.2.9:5080",
            format!("Route: {us}\r\n ;x=1 ,<sip:192.0.2.60;lr>\r\n"),
            "Route: <sip:192.0.2.60;lr>\r\n".to_string(),
            "udp:192.0.2.60:5060",
        ),
        // Nothing left of a folded field: it goes; the next field stays as it came, folded.
        (
            "sip:bob@192.0.2.9:5080",
            format!(
                "Route: {us}\r\n ;x=1\r\nRoute: <sip:192.0.2.60;lr>,\r\n <sip:192.0.2.61;lr>\r\n"
            ),
            "Route: <sip:192.0.2.60;lr>,\r\n <sip:192.0.2.61;lr>\r\n".to_string(),
            "udp:192.0.2.60:5060",
        ),
        (
            "sip:bob@192.0.2.9:5080",
            format!("Route: {us}\r\n ;x=1\r\n"),
            String::new(),
            "udp:192.0.2.9:5080",
        ),
        // A fold inside a quoted parameter: unfolded, it stays inside the parameter (a
        // continuation line that looks like a header never becomes one).
        (
            "sip:bob@192.0.2.9:5080",
            format!("Route: {us}, <sip:192.0.2.60;lr>;x=\"a,\r\n Subject: forged\"\r\n"),
            "Route: <sip:192.0.2.60;lr>;x=\"a, Subject: forged\"\r\n".to_string(),
            "udp:192.0.2.60:5060",
        ),
        // Strict-routed to us (§16.4): the last Route becomes the Request-URI and ours goes.
        (
            "sip:192.0.2.1",
            "Route: <sip:192.0.2.60;lr>,\r\n <sip:192.0.2.61;lr>,\r\n <sip:bob@192.0.2.9:5080>\r\n"
                .to_string(),
            "Route: <sip:192.0.2.60;lr>, <sip:192.0.2.61;lr>\r\n".to_string(),
            "udp:192.0.2.60:5060",
        ),
        (
            "sip:192.0.2.1",
            format!("Route: {us},\r\n <sip:192.0.2.60;lr>,\r\n <sip:bob@192.0.2.9:5080>\r\n"),
            "Route: <sip:192.0.2.60;lr>\r\n".to_string(),
            "udp:192.0.2.60:5060",
        ),
    ];
    for (uri, routes, left, next) in &cases {
        for crlf in [true, false] {
            let mut r = open_relay();
            let input = request(
                &format!("BYE {uri} SIP/2.0"),
                "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKl",
                routes,
            );
            let text = String::from_utf8(input.into_bytes()).unwrap();
            let (text, routes, left) = match crlf {
                true => (text, routes.clone(), left.clone()),
                false => (lf_only(&text), lf_only(routes), lf_only(left)),
            };
            let case = format!("{text:?}");
            let d = r.handle(Message::parse(text.clone()).unwrap(), peer(ALICE), 0);
            assert_eq!(d.verdict, Verdict::Forwarded, "{case}: {d:?}");
            let (to, mut fwd) = only(&d);
            assert_eq!(to, peer(next), "{case}");
            assert_eq!(fwd.request_uri(), Some(&b"sip:bob@192.0.2.9:5080"[..]));
            fwd.remove_field(0);
            fwd.remove_all(HeaderKind::MaxForwards);
            let want = text
                .replacen(&routes, &left, 1)
                .replacen(uri, "sip:bob@192.0.2.9:5080", 1);
            assert_eq!(String::from_utf8_lossy(fwd.as_bytes()), want, "{case}");
        }
    }
}

/// On a closed relay: our Record-Route echoed as the top Route, folded before the next hops'
/// (the rest after ours is folded too).
#[test]
fn an_in_dialog_request_with_our_route_folded_goes_to_the_next_route() {
    let mut r = relay();
    let rr = record_route_of(&mut r, invite_in("c1", "a1"));
    let routes = format!("{rr}>,\r\n <sip:192.0.2.60;lr>,\r\n <sip:192.0.2.61;lr");
    let bye = bye_in(&routes, "c1", "a1", "c9");
    let d = r.handle(bye, peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Forwarded, "{d:?}");
    assert!(d.note.contains("after our Route"), "{}", d.note);
    let (to, fwd) = only(&d);
    assert_eq!(to, peer("udp:192.0.2.60:5060"));
    assert_eq!(
        fwd.value(HeaderKind::Route),
        Some(&b"<sip:192.0.2.60;lr>, <sip:192.0.2.61;lr>"[..])
    );
}

fn invite_via(via: &str) -> Message {
    request("INVITE sip:carol@other.org SIP/2.0", via, "")
}

/// A host whose addresses are 192.0.2.1 and 198.51.100.1, sending from 198.51.100.1 towards
/// 198.51.100.0/24 and from 192.0.2.1 elsewhere.
struct TwoInterfaces;

impl HostAddresses for TwoInterfaces {
    fn source_towards(&self, to: IpAddr) -> Option<IpAddr> {
        let net_b = matches!(to, IpAddr::V4(a) if a.octets()[..3] == [198, 51, 100]);
        Some(
            if net_b {
                [198, 51, 100, 1]
            } else {
                [192, 0, 2, 1]
            }
            .into(),
        )
    }

    fn is_local(&self, ip: IpAddr) -> bool {
        ip == IpAddr::from([192, 0, 2, 1]) || ip == IpAddr::from([198, 51, 100, 1])
    }
}

fn wildcard_relay(advertise: &[&str]) -> Relay {
    Relay::new(Config {
        listen: vec!["udp:0.0.0.0:5060".parse().unwrap()],
        advertise: advertise.iter().map(|a| a.parse().unwrap()).collect(),
        open_relay: true,
        ..Config::default()
    })
    .with_host_addresses(Box::new(TwoInterfaces))
}

/// A request from alice to carol at `hostport`.
fn from_alice(method: &str, hostport: &str) -> Message {
    request(
        &format!("{method} sip:carol@{hostport} SIP/2.0"),
        "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1",
        "",
    )
}

fn top_via_and_record_route(d: &Decision) -> (String, String) {
    let (_, m) = only(d);
    let via = m.vias().unwrap()[0].host().to_string();
    let rr = m.record_routes().unwrap()[0].uri().as_str().to_string();
    (via, rr)
}

#[test]
fn a_wildcard_listener_names_the_address_it_sends_from_or_the_advertised_one() {
    let mut r = wildcard_relay(&[]);
    let to = |host: &str| from_alice("INVITE", &format!("{host}:5070"));
    let (via, rr) = top_via_and_record_route(&r.handle(to("198.51.100.9"), peer(ALICE), 0));
    assert_eq!(via, "198.51.100.1");
    assert!(rr.starts_with("sip:198.51.100.1:5060;"), "{rr}");
    let (via, rr) = top_via_and_record_route(&r.handle(to("203.0.113.9"), peer(ALICE), 0));
    assert_eq!(via, "192.0.2.1");
    assert!(rr.starts_with("sip:192.0.2.1:5060;"), "{rr}");
    // Behind NAT: the advertised address, whatever the route.
    let mut r = wildcard_relay(&["203.0.113.200"]);
    let (via, rr) = top_via_and_record_route(&r.handle(to("198.51.100.9"), peer(ALICE), 0));
    assert_eq!(via, "203.0.113.200");
    assert!(rr.starts_with("sip:203.0.113.200:5060;"), "{rr}");
}

#[test]
fn a_wildcard_listener_forwards_to_another_host_on_its_port_and_knows_its_own() {
    let mut r = wildcard_relay(&["203.0.113.200"]);
    let to = |host: &str| from_alice("OPTIONS", host);
    // Another server on the standard port is not the relay.
    let (next, _) = only(&r.handle(to("198.51.100.9:5060"), peer(ALICE), 0));
    assert_eq!(next, peer("udp:198.51.100.9:5060"));
    // The host's own addresses and the advertised one are.
    for own in ["192.0.2.1:5060", "198.51.100.1", "203.0.113.200:5060"] {
        let d = r.handle(to(own), peer(ALICE), 0);
        assert_eq!(d.verdict, Verdict::Answered(482), "{own}: {d:?}");
    }
}

#[test]
fn responses_come_back_through_a_wildcard_listeners_named_via() {
    let mut r = wildcard_relay(&[]);
    let ok = answer(&mut r, from_alice("INVITE", "198.51.100.9:5070"), 200);
    let (to, back) = only(&r.handle(ok, peer("udp:198.51.100.9:5070"), 0));
    assert_eq!(to, peer(ALICE));
    assert_eq!(back.status_code(), Some(200));
}

/// Marks and a control header from the network, and a Subject that is not a mark.
const FORGED: &str = "Subject: validated <sip:bank@example.com>\r\nSipsec-Verdict: signed=yes\r\n\
                      sipsec-control: forged\r\nSubject: lunch?\r\n";

fn carries_forgeries(m: &Message) -> bool {
    let text = String::from_utf8_lossy(m.as_bytes()).to_ascii_lowercase();
    text.contains("validated") || text.contains("sipsec-verdict") || text.contains("sipsec-control")
}

#[test]
fn marks_and_control_headers_from_the_network_never_reach_the_relays_terminals() {
    let mut r = relay();
    register_bob(&mut r);
    // A request to a registered terminal.
    let to_bob = invite_bob(FORGED);
    let (_, m) = only(&r.handle(to_bob, peer(ALICE), 0));
    assert!(!carries_forgeries(&m), "{m:?}");
    assert_eq!(m.value(HeaderKind::Subject), Some(&b"lunch?"[..]));
    assert_eq!(r.network_marks_removed(), 3);
    // A response back to whoever sent the request.
    let forwarded = only(&r.handle(invite(""), peer(ALICE), 0)).1;
    let ok = build_response(&forwarded, 200, "OK", &[]);
    let ok = String::from_utf8(ok)
        .unwrap()
        .replacen("\r\n", &format!("\r\n{FORGED}"), 1);
    let (_, m) = only(&r.handle(Message::parse(ok).unwrap(), peer("udp:192.0.2.50:5060"), 0));
    assert!(!carries_forgeries(&m), "{m:?}");
    assert_eq!(r.network_marks_removed(), 6);
    // Towards the network (along a --route) the message is the sender's business: unchanged.
    let (_, m) = only(&r.handle(invite(FORGED), peer(ALICE), 0));
    assert!(carries_forgeries(&m));
    assert_eq!(r.network_marks_removed(), 6);
}

#[test]
fn a_mark_hidden_in_a_folded_field_reaches_the_relays_terminals_on_one_line_only() {
    let mut r = relay();
    register_bob(&mut r);
    const HIDDEN: &str = "X-Note: a\r\n Subject: validated <sip:bank@example.com>\r\n";
    let (_, m) = only(&r.handle(invite_bob(HIDDEN), peer(ALICE), 0));
    assert_eq!(mark::foreign_mark(&m, &[]), None, "{m:?}");
    assert_eq!(
        m.values_named("X-Note").next(),
        Some(&b"a Subject: validated <sip:bank@example.com>"[..])
    );
    assert_eq!(r.network_marks_removed(), 1);
    // Towards the network the message is the sender's business: the fold stays.
    let (_, m) = only(&r.handle(invite(HIDDEN), peer(ALICE), 0));
    assert!(mark::foreign_mark(&m, &[]).is_some());
    assert_eq!(r.network_marks_removed(), 1);
}

/// The relay's own responses end their lines in CRLF: a request with LF line ends has its
/// folded fields unfolded in them, or its folds would be bare line breaks there.
#[test]
fn an_answer_to_an_lf_only_request_with_folded_fields_is_crlf_throughout() {
    let mut r = relay();
    let via = "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1,\r\n\tSIP/2.0/UDP 10.0.0.6";
    let refused = unforwardable(via);
    let text = String::from_utf8(refused.into_bytes()).unwrap();
    let text = lf_only(&text).replace(
        "From: <sip:alice@other.net>",
        "From:\n <sip:alice@other.net>",
    );
    let d = r.handle(Message::parse(text).unwrap(), peer(ALICE), 0);
    assert_eq!(d.verdict, Verdict::Answered(483), "{d:?}");
    let (to, answer) = only(&d);
    assert_eq!(to, peer(ALICE));
    assert_eq!(answer.line_ending(), LineEnding::CrLf);
    assert_eq!(
        answer.value(HeaderKind::Via),
        Some(&b"SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bKa1, SIP/2.0/UDP 10.0.0.6"[..])
    );
    assert_eq!(
        answer.value(HeaderKind::From),
        Some(&b"<sip:alice@other.net>;tag=a1"[..])
    );
    // With CRLF line ends the folds are copied as they came.
    let refused = unforwardable(via);
    let (_, answer) = only(&r.handle(refused, peer(ALICE), 0));
    assert_eq!(answer.value(HeaderKind::Via), Some(via.as_bytes()));
}
