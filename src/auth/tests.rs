//! The authenticator end to end, as a client meets it: challenge, answer, and every refusal.

use super::*;

const REALM: &str = "callcentre.example";
const PASSWORD: &[u8] = b"correct horse";

fn members() -> Members {
    let mut m = Members::default();
    m.set(
        &aor("sip:agent-7@callcentre.example"),
        PASSWORD,
        &Algorithm::ALL,
    )
    .unwrap();
    m.set(
        &aor("sip:agent-8@callcentre.example"),
        b"other",
        &[Algorithm::Sha256],
    )
    .unwrap();
    m
}

fn aor(s: &str) -> Aor {
    Aor::parse(s).unwrap()
}

fn config() -> AuthConfig {
    AuthConfig {
        domains: vec![REALM.into()],
        own_addresses: vec!["127.0.0.1:5060".parse().unwrap()],
        ..AuthConfig::default()
    }
}

fn auth() -> Authenticator {
    Authenticator::new(config(), NonceKey::generate())
}

fn udp(s: &str) -> Peer {
    format!("udp:{s}").parse().unwrap()
}

const AGENT: &str = "127.0.0.7:5060";

fn invite(from: &str, extra: &str) -> Message {
    let text = format!(
        "INVITE sip:caller@example.net SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.7:5060;branch=z9hG4bK1\r\n\
         From: <sip:{from}>;tag=1\r\nTo: <sip:caller@example.net>\r\n\
         Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.into_bytes()).unwrap()
}

fn register(to: &str, extra: &str) -> Message {
    let text = format!(
        "REGISTER sip:callcentre.example SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.7:5060;branch=z9hG4bK2\r\n\
         From: <sip:{to}>;tag=2\r\nTo: <sip:{to}>\r\n\
         Call-ID: r1\r\nCSeq: 1 REGISTER\r\nContact: <sip:agent@127.0.0.7>\r\n{extra}Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.into_bytes()).unwrap()
}

/// The answer, or a panic naming what came instead.
fn answer(o: Outcome) -> Answer {
    match o {
        Outcome::Answer(a) => a,
        other => panic!("expected an answer, got {other:?}"),
    }
}

/// What a client does with a challenge: the credentials header line for it.
struct Client<'a> {
    user: &'a str,
    password: &'a [u8],
    realm: &'a str,
    algorithm: Algorithm,
    uri: &'a str,
    method: &'a str,
    nc: u32,
}

impl Client<'_> {
    fn agent() -> Client<'static> {
        Client {
            user: "agent-7",
            password: PASSWORD,
            realm: REALM,
            algorithm: Algorithm::Sha256,
            uri: "sip:caller@example.net",
            method: "INVITE",
            nc: 1,
        }
    }

    fn line(&self, nonce: &str) -> String {
        let ha1 = self.algorithm.ha1(self.user, self.realm, self.password);
        let nc = format!("{:08x}", self.nc);
        let response = self.algorithm.response(
            &ha1,
            &digest::ResponseInput {
                method: self.method.as_bytes(),
                uri: self.uri.as_bytes(),
                nonce: nonce.as_bytes(),
                nc: nc.as_bytes(),
                cnonce: b"0a4f113b",
            },
        );
        let name = if self.method == "REGISTER" {
            "Authorization"
        } else {
            "Proxy-Authorization"
        };
        format!(
            "{name}: Digest username=\"{}\", realm=\"{}\", nonce=\"{nonce}\", uri=\"{}\", \
             response=\"{response}\", algorithm={}, cnonce=\"0a4f113b\", qop=auth, nc={nc}\r\n",
            self.user, self.realm, self.uri, self.algorithm
        )
    }
}

/// The nonce of an answer's first challenge.
fn nonce_of(a: &Answer) -> String {
    let v = &a.fields[0].1;
    let auth = Auth::parse(v.as_bytes()).unwrap();
    String::from_utf8(auth.param("nonce").unwrap().into_owned()).unwrap()
}

fn stale(a: &Answer) -> bool {
    a.fields.iter().all(|(_, v)| v.ends_with(", stale=true"))
}

const AGENT_AOR: &str = "agent-7@callcentre.example";

/// An INVITE from `from_aor` with the credential lines `creds`, arriving from `peer`.
fn ask(a: &mut Authenticator, from_aor: &str, creds: &str, peer: Peer, now: u64) -> Outcome {
    a.check(&invite(from_aor, creds), peer, &members(), &NoGroups, now)
}

/// [`ask`] as the agent from its address, expecting an answer.
fn ask_agent(a: &mut Authenticator, creds: &str, now: u64) -> Answer {
    answer(ask(a, AGENT_AOR, creds, udp(AGENT), now))
}

/// A nonce from a first challenge to an INVITE from the agent at `now`.
fn challenge(a: &mut Authenticator, now: u64) -> String {
    nonce_of(&ask_agent(a, "", now))
}

/// The agent's INVITE answering `nonce` as `client` does.
fn answer_with(a: &mut Authenticator, client: &Client<'_>, nonce: &str, now: u64) -> Outcome {
    ask(a, AGENT_AOR, &client.line(nonce), udp(AGENT), now)
}

fn authenticated(o: &Outcome) -> bool {
    matches!(o, Outcome::Authenticated(_))
}

fn agent_attribution(algorithm: Algorithm) -> Outcome {
    Outcome::Authenticated(Attribution {
        member: aor("sip:agent-7@callcentre.example"),
        basis: Basis::Digest(algorithm),
    })
}

#[test]
fn first_challenge_offers_sha256_then_md5_with_one_nonce() {
    let mut a = auth();
    let ans = ask_agent(&mut a, "", 0);
    assert_eq!(
        (ans.code, ans.reason),
        (407, "Proxy Authentication Required")
    );
    assert_eq!((ans.refusal, ans.delay), (Refusal::NoCredentials, 0));
    let mut nonces = Vec::new();
    let algs: Vec<_> = ans
        .fields
        .iter()
        .map(|(name, v)| {
            assert_eq!(*name, "Proxy-Authenticate");
            let c = Auth::parse(v.as_bytes()).unwrap();
            assert_eq!(&*c.param("realm").unwrap(), REALM.as_bytes());
            assert_eq!(&*c.param("qop").unwrap(), b"auth");
            assert!(c.param("stale").is_none());
            nonces.push(c.param("nonce").unwrap().into_owned());
            String::from_utf8(c.param("algorithm").unwrap().into_owned()).unwrap()
        })
        .collect();
    assert_eq!(algs, ["SHA-256", "MD5"]);
    assert_eq!(nonces[0], nonces[1]);

    let reg = answer(a.check(
        &register(AGENT_AOR, ""),
        udp(AGENT),
        &members(),
        &NoGroups,
        0,
    ));
    assert_eq!((reg.code, reg.reason), (401, "Unauthorized"));
    assert!(reg.fields.iter().all(|(n, _)| *n == "WWW-Authenticate"));
}

#[test]
fn outsiders_ack_and_cancel_are_exempt() {
    let mut a = auth();
    let mut from = |aor: &str| ask(&mut a, aor, "", udp(AGENT), 0);
    assert_eq!(from("caller@example.net"), Outcome::Exempt);
    // The domain is matched whole and without regard to case.
    assert_eq!(from("x@evilcallcentre.example"), Outcome::Exempt);
    assert!(!authenticated(&from("x@CallCentre.Example")));
    assert_ne!(from("x@CallCentre.Example"), Outcome::Exempt);
    for method in ["ACK", "CANCEL"] {
        let text = String::from_utf8(invite(AGENT_AOR, "").into_bytes())
            .unwrap()
            .replace("INVITE", method);
        let msg = Message::parse(text.into_bytes()).unwrap();
        assert_eq!(
            a.check(&msg, udp(AGENT), &members(), &NoGroups, 0),
            Outcome::Exempt
        );
    }
}

#[test]
fn right_password_with_either_algorithm_authenticates() {
    for algorithm in Algorithm::ALL {
        let mut a = auth();
        let nonce = challenge(&mut a, 10);
        let client = Client {
            algorithm,
            ..Client::agent()
        };
        let out = answer_with(&mut a, &client, &nonce, 11);
        assert_eq!(out, agent_attribution(algorithm));
    }
}

#[test]
fn register_authenticates_with_authorization_only() {
    let mut a = auth();
    let mut reg = |creds: &str, now| {
        a.check(
            &register(AGENT_AOR, creds),
            udp(AGENT),
            &members(),
            &NoGroups,
            now,
        )
    };
    let nonce = nonce_of(&answer(reg("", 0)));
    let client = Client {
        method: "REGISTER",
        uri: "sip:callcentre.example",
        ..Client::agent()
    };
    assert!(authenticated(&reg(&client.line(&nonce), 1)));
    // The same credentials in Proxy-Authorization are not an answer to a 401.
    let client = Client { nc: 2, ..client };
    let line = client
        .line(&nonce)
        .replace("Authorization:", "Proxy-Authorization:");
    assert_eq!(answer(reg(&line, 1)).refusal, Refusal::NoCredentials);
}

#[test]
fn wrong_password_is_refused_and_counted() {
    let mut a = auth();
    let nonce = challenge(&mut a, 0);
    let client = Client {
        password: b"guess",
        ..Client::agent()
    };
    let ans = answer(answer_with(&mut a, &client, &nonce, 1));
    assert_eq!((ans.code, ans.refusal), (407, Refusal::WrongPassword));
    assert!(!stale(&ans));
    assert_ne!(nonce_of(&ans), nonce);
}

#[test]
fn unknown_user_looks_like_a_wrong_password_on_the_wire() {
    let mut a = auth();
    let nonce = challenge(&mut a, 0);
    let client = Client {
        user: "nobody",
        ..Client::agent()
    };
    let unknown = answer(ask(
        &mut a,
        "nobody@callcentre.example",
        &client.line(&nonce),
        udp(AGENT),
        1,
    ));
    assert_eq!(unknown.refusal, Refusal::UnknownUser);
    let client = Client {
        password: b"guess",
        ..Client::agent()
    };
    let wrong = answer(answer_with(&mut a, &client, &nonce, 1));
    let shape = |a: &Answer| {
        let fields: Vec<_> = a
            .fields
            .iter()
            .map(|(n, v)| (*n, v.replace(&nonce_of(a), "N")))
            .collect();
        (a.code, a.delay, fields)
    };
    assert_eq!(shape(&unknown), shape(&wrong));
}

#[test]
fn replayed_nonce_count_is_answered_stale() {
    let mut a = auth();
    let nonce = challenge(&mut a, 0);
    assert!(authenticated(&answer_with(
        &mut a,
        &Client::agent(),
        &nonce,
        1
    )));
    // The very same request again (a capture replayed).
    let ans = answer(answer_with(&mut a, &Client::agent(), &nonce, 2));
    assert_eq!(ans.refusal, Refusal::ReplayedCount);
    assert!(stale(&ans));
    // The client's next count goes through.
    let next = Client {
        nc: 2,
        ..Client::agent()
    };
    assert!(authenticated(&answer_with(&mut a, &next, &nonce, 3)));
}

#[test]
fn nonce_from_another_key_is_refused_without_stale() {
    let mut a = auth();
    let nonce = challenge(&mut auth(), 0);
    let ans = answer(answer_with(&mut a, &Client::agent(), &nonce, 1));
    assert_eq!(ans.refusal, Refusal::ForeignNonce);
    assert!(!stale(&ans));
    let made_up = answer(answer_with(&mut a, &Client::agent(), "bm90IG91cnM=", 1));
    assert_eq!(made_up.refusal, Refusal::ForeignNonce);
    // Not a password guess: nothing is counted, however many.
    for _ in 0..20 {
        answer_with(&mut a, &Client::agent(), &nonce, 1);
    }
    assert_eq!(ask_agent(&mut a, "", 1).delay, 0);
}

#[test]
fn expired_nonce_is_stale_only_with_the_right_password() {
    let mut a = auth();
    let nonce = challenge(&mut a, 0);
    let late = 301;
    let ans = answer(answer_with(&mut a, &Client::agent(), &nonce, late));
    assert_eq!(ans.refusal, Refusal::Expired);
    assert!(stale(&ans));
    let wrong = Client {
        password: b"guess",
        ..Client::agent()
    };
    let refused = answer(answer_with(&mut a, &wrong, &nonce, late));
    assert_eq!(refused.refusal, Refusal::WrongPassword);
    assert!(!stale(&refused));
    // The stale challenge's new nonce works.
    assert!(authenticated(&answer_with(
        &mut a,
        &Client::agent(),
        &nonce_of(&ans),
        late + 1
    )));
}

#[test]
fn wrong_realm_is_not_our_credentials_and_another_realms_hash_fails() {
    let mut a = auth();
    let nonce = challenge(&mut a, 0);
    // Credentials for another realm are someone else's: we challenge again.
    let line = Client::agent()
        .line(&nonce)
        .replace("realm=\"callcentre.example\"", "realm=\"other.example\"");
    assert_eq!(ask_agent(&mut a, &line, 1).refusal, Refusal::NoCredentials);
    // Our realm named, but the hash made with another realm's secret.
    let client = Client {
        realm: "other.example",
        ..Client::agent()
    };
    let line = client
        .line(&nonce)
        .replace("realm=\"other.example\"", "realm=\"callcentre.example\"");
    assert_eq!(ask_agent(&mut a, &line, 1).refusal, Refusal::WrongPassword);
}

#[test]
fn algorithm_downgrade_is_refused_where_the_member_or_relay_forbids_it() {
    // agent-8 has only a SHA-256 secret: an MD5 answer (a stripped challenge) is refused.
    let mut a = auth();
    let nonce = challenge(&mut a, 0);
    let client = Client {
        user: "agent-8",
        password: b"other",
        algorithm: Algorithm::Md5,
        ..Client::agent()
    };
    let from = "agent-8@callcentre.example";
    let ans = answer(ask(&mut a, from, &client.line(&nonce), udp(AGENT), 1));
    assert_eq!(ans.refusal, Refusal::AlgorithmNotAllowed);
    // A relay that offers SHA-256 only refuses MD5 from everyone, and offers one challenge.
    let config = AuthConfig {
        algorithms: vec![Algorithm::Sha256],
        ..config()
    };
    let mut strict = Authenticator::new(config, NonceKey::generate());
    let first = ask_agent(&mut strict, "", 0);
    assert_eq!(first.fields.len(), 1);
    let md5 = Client {
        algorithm: Algorithm::Md5,
        ..Client::agent()
    };
    let line = md5.line(&nonce_of(&first));
    assert_eq!(
        ask_agent(&mut strict, &line, 1).refusal,
        Refusal::AlgorithmNotOffered
    );
    // A SHA-256 claim computed with MD5 does not even read (the response length is MD5's).
    let line = line.replace("algorithm=MD5", "algorithm=SHA-256");
    assert_eq!(
        ask_agent(&mut strict, &line, 1).refusal,
        Refusal::Malformed(CredentialsError::BadResponse)
    );
}

#[test]
fn udp_nonce_is_good_only_from_its_address() {
    let mut a = auth();
    let line = Client::agent().line(&challenge(&mut a, 0));
    let ans = answer(ask(&mut a, AGENT_AOR, &line, udp("127.0.0.66:5060"), 1));
    assert_eq!(ans.refusal, Refusal::ForeignNonce);
    // Another port of the same address is the same client behind its NAT.
    assert!(authenticated(&ask(
        &mut a,
        AGENT_AOR,
        &line,
        udp("127.0.0.7:5999"),
        1
    )));
    // A nonce handed out over TCP is refused over UDP.
    let tcp: Peer = format!("tcp:{AGENT}").parse().unwrap();
    let nonce = nonce_of(&answer(ask(&mut a, AGENT_AOR, "", tcp, 0)));
    let line = Client::agent().line(&nonce);
    assert!(authenticated(&ask(&mut a, AGENT_AOR, &line, tcp, 1)));
    assert_eq!(ask_agent(&mut a, &line, 1).refusal, Refusal::WrongSource);
}

#[test]
fn credentials_for_another_request_uri_are_refused() {
    let mut a = auth();
    let nonce = challenge(&mut a, 0);
    let client = Client {
        uri: "sip:someone-else@example.net",
        ..Client::agent()
    };
    let ans = answer(answer_with(&mut a, &client, &nonce, 1));
    assert_eq!(ans.refusal, Refusal::UriMismatch);
    // An equivalent spelling is the same URI.
    let client = Client {
        uri: "sip:caller@EXAMPLE.net",
        ..Client::agent()
    };
    assert!(authenticated(&answer_with(&mut a, &client, &nonce, 1)));
    // The relay's own address or domain, as many clients write it.
    for (i, uri) in [
        "sip:127.0.0.1",
        "sip:127.0.0.1:5060;transport=udp",
        "sip:callcentre.example",
    ]
    .into_iter()
    .enumerate()
    {
        let client = Client {
            uri,
            nc: 2 + i as u32,
            ..Client::agent()
        };
        assert!(
            authenticated(&answer_with(&mut a, &client, &nonce, 1)),
            "{uri}"
        );
    }
    // But not another address, port, a user at our domain, or our domain with a port.
    for uri in [
        "sip:127.0.0.2",
        "sip:127.0.0.1:5070",
        "sip:agent-7@callcentre.example",
        "sip:callcentre.example:5060",
        "tel:+15551234",
    ] {
        let client = Client {
            uri,
            nc: 9,
            ..Client::agent()
        };
        let ans = answer(answer_with(&mut a, &client, &nonce, 1));
        assert_eq!(ans.refusal, Refusal::UriMismatch, "{uri}");
    }
}

#[test]
fn member_posing_as_another_is_forbidden() {
    let mut a = auth();
    let boss = "boss@callcentre.example";
    let nonce = nonce_of(&answer(ask(&mut a, boss, "", udp(AGENT), 0)));
    let line = Client::agent().line(&nonce);
    let ans = answer(ask(&mut a, boss, &line, udp(AGENT), 1));
    assert_eq!((ans.code, ans.refusal), (403, Refusal::NotTheMember));
    assert!(ans.fields.is_empty());
}

#[test]
fn member_may_speak_as_its_group() {
    struct Support;
    impl Groups for Support {
        fn group_of(&self, member: &Aor) -> Option<Aor> {
            (member.user().is_some_and(|u| u.starts_with("agent-")))
                .then(|| aor("sip:support@callcentre.example"))
        }
    }
    let mut a = auth();
    let support = "support@callcentre.example";
    let nonce = nonce_of(&answer(ask(&mut a, support, "", udp(AGENT), 0)));
    let line = Client::agent().line(&nonce);
    let msg = invite(support, &line);
    // Without the group map it is another's address; with it, the agent's group.
    let refused = answer(a.check(&msg, udp(AGENT), &members(), &NoGroups, 1));
    assert_eq!(refused.refusal, Refusal::NotTheMember);
    let next = Client {
        nc: 2,
        ..Client::agent()
    }
    .line(&nonce);
    let out = a.check(&invite(support, &next), udp(AGENT), &members(), &Support, 1);
    assert_eq!(out, agent_attribution(Algorithm::Sha256));
    // But not another group's address.
    let sales = "sales@callcentre.example";
    let third = Client {
        nc: 3,
        ..Client::agent()
    }
    .line(&nonce);
    let refused = answer(a.check(&invite(sales, &third), udp(AGENT), &members(), &Support, 1));
    assert_eq!(refused.refusal, Refusal::NotTheMember);
}

#[test]
fn two_credentials_for_our_realm_or_malformed_ones_are_refused() {
    let mut a = auth();
    let nonce = challenge(&mut a, 0);
    let line = Client::agent().line(&nonce);
    let second = Client {
        nc: 2,
        ..Client::agent()
    };
    let twice = format!("{line}{}", second.line(&nonce));
    assert_eq!(ask_agent(&mut a, &twice, 1).refusal, Refusal::Ambiguous);
    let no_qop = line.replace(", qop=auth", "");
    assert_eq!(
        ask_agent(&mut a, &no_qop, 1).refusal,
        Refusal::Malformed(CredentialsError::Missing("qop"))
    );
}

#[test]
fn brute_force_is_slowed_then_refused_while_the_member_still_gets_in() {
    let mut a = auth();
    // The member authenticated from home once.
    let nonce = challenge(&mut a, 0);
    assert!(authenticated(&answer_with(
        &mut a,
        &Client::agent(),
        &nonce,
        0
    )));
    let attacker = udp("127.0.0.99:5060");
    let mut delays = Vec::new();
    let mut refused = None;
    let mut attacker_nonce = String::new();
    let passwords: Vec<String> = (0..12).map(|i| format!("guess{i}")).collect();
    for password in &passwords {
        let ch = answer(ask(&mut a, AGENT_AOR, "", attacker, 1));
        attacker_nonce = nonce_of(&ch);
        let guess = Client {
            password: password.as_bytes(),
            ..Client::agent()
        };
        let ans = answer(ask(
            &mut a,
            AGENT_AOR,
            &guess.line(&attacker_nonce),
            attacker,
            1,
        ));
        if ans.code == 403 {
            refused = Some(ans);
            break;
        }
        assert_eq!(ans.refusal, Refusal::WrongPassword);
        delays.push(ans.delay);
    }
    // Slowed from the third failure, doubling up to the cap, then refused at the tenth.
    assert_eq!(delays, [0, 0, 1, 2, 4, 8, 8, 8, 8]);
    assert_eq!(refused.map(|r| r.refusal), Some(Refusal::Throttled));
    // Even the right password is refused from the attacker's address now.
    let right = Client::agent().line(&attacker_nonce);
    let attempt = answer(ask(&mut a, AGENT_AOR, &right, attacker, 2));
    assert_eq!((attempt.code, attempt.refusal), (403, Refusal::Throttled));
    // The member, from where it authenticated before, gets in.
    let nonce = challenge(&mut a, 2);
    let out = answer_with(&mut a, &Client::agent(), &nonce, 2);
    assert_eq!(out, agent_attribution(Algorithm::Sha256));
    // After the refusal period the attacker is back to being challenged.
    let later = 2 + a.config().throttle.refuse_for;
    assert_eq!(
        answer(ask(&mut a, AGENT_AOR, "", attacker, later)).code,
        407
    );
}

#[test]
fn own_credentials_are_stripped_and_others_kept() {
    let text = "INVITE sip:x@example.net SIP/2.0\r\n\
        Proxy-Authorization: Digest realm=\"callcentre.example\", username=\"a\"\r\n\
        Proxy-Authorization: Digest realm=\"carrier.example\", username=\"trunk\"\r\n\
        Proxy-Authorization: Digest realm=\"carrier.example\", username=\"t2\", Digest realm=\"callcentre.example\", username=\"b\"\r\n\
        Proxy-Authorization: not parsable ,,\r\n\
        Content-Length: 0\r\n\r\n";
    let mut m = Message::parse(text.as_bytes().to_vec()).unwrap();
    assert_eq!(strip_own_credentials(&mut m, &[REALM.into()]), 2);
    let left: Vec<_> = m
        .values(HeaderKind::ProxyAuthorization)
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
        .collect();
    assert_eq!(
        left,
        [
            "Digest realm=\"carrier.example\", username=\"trunk\"",
            "Digest realm=\"carrier.example\", username=\"t2\"",
            "not parsable ,,",
        ]
    );
    assert_eq!(strip_own_credentials(&mut m, &[REALM.into()]), 0);
}

#[test]
fn credentials_file_feeds_the_authenticator() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("members");
    let agent = aor("sip:agent-7@callcentre.example");
    credentials::update(&path, |m| m.set(&agent, PASSWORD, &Algorithm::ALL)).unwrap();
    let file = credentials::MemberFile::open(&path).unwrap();
    let mut a = auth();
    let line = Client::agent().line(&challenge(&mut a, 0));
    let msg = invite(AGENT_AOR, &line);
    assert!(authenticated(&a.check(
        &msg,
        udp(AGENT),
        file.members(),
        &NoGroups,
        1
    )));
}
