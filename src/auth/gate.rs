//! What the relay core holds to authenticate members: the authenticator, the members' file
//! (re-read on change), the flows members registered over, and the counters. The core asks it
//! about every request before routing and every response before forwarding.

use super::attribution::{Attribution, MemberConnections};
use super::credentials::{MemberFile, Reload};
use super::{
    strip_own_credentials, Answer, AuthConfig, Authenticator, Groups, NoGroups, Outcome, Refusal,
};
use crate::message::Message;
use crate::relay::Peer;
use crate::uri::Aor;

/// Counts kept for the relay's status (SIGUSR1, the status file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthCounters {
    /// 401 and 407 answers sent.
    pub challenges: u64,
    /// Requests whose digest verified.
    pub passed: u64,
    /// Failed authentications: credentials that were wrong, replayed, expired, foreign, …
    pub failed: u64,
    /// Requests refused because their source or user failed too often.
    pub throttled: u64,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestAuth {
    /// Not ours to authenticate: route it as it is.
    Exempt,
    /// From this member; our credentials have been removed from it.
    Member(Attribution),
    /// Answer with this (after its delay) and go no further.
    Answer(Answer),
}

/// Member authentication for a relay.
pub struct AuthGate {
    authenticator: Authenticator,
    members: MemberFile,
    flows: MemberConnections,
    groups: Box<dyn Groups + Send>,
    counters: AuthCounters,
    /// Why the members' file could not be read, until said once.
    warning: Option<String>,
}

impl AuthGate {
    /// `flows`: the table of member flows (its capacity, and whether UDP responses are
    /// attributed).
    pub fn new(
        config: AuthConfig,
        key: super::nonce::NonceKey,
        members: MemberFile,
        flows: MemberConnections,
    ) -> AuthGate {
        AuthGate {
            authenticator: Authenticator::new(config, key),
            members,
            flows,
            groups: Box::new(NoGroups),
            counters: AuthCounters::default(),
            warning: None,
        }
    }

    /// Lets members speak as their groups (the store's group map).
    pub fn with_groups(mut self, groups: Box<dyn Groups + Send>) -> AuthGate {
        self.groups = groups;
        self
    }

    pub fn counters(&self) -> AuthCounters {
        self.counters
    }

    pub fn config(&self) -> &AuthConfig {
        self.authenticator.config()
    }

    /// Checks a request as it arrived (before its Request-URI or Route is changed); removes
    /// our realms' Proxy-Authorization from a member's request.
    pub fn check_request(&mut self, msg: &mut Message, from: Peer, now: u64) -> RequestAuth {
        if let Reload::Failed(e) = self.members.refresh(now) {
            self.warning = Some(format!(
                "members' credentials unusable, nobody can authenticate: {e}"
            ));
        }
        match self
            .authenticator
            .check(msg, from, self.members.members(), self.groups.as_ref(), now)
        {
            Outcome::Exempt => RequestAuth::Exempt,
            Outcome::Authenticated(a) => {
                self.counters.passed += 1;
                strip_own_credentials(msg, &self.authenticator.config().domains);
                RequestAuth::Member(a)
            }
            Outcome::Answer(answer) => {
                if answer.refusal == Refusal::Throttled {
                    self.counters.throttled += 1;
                } else if answer.refusal.is_failure() {
                    self.counters.failed += 1;
                }
                if matches!(answer.code, 401 | 407) {
                    self.counters.challenges += 1;
                }
                RequestAuth::Answer(answer)
            }
        }
    }

    /// A member's REGISTER was accepted from `flow` until `expires_at` (now or earlier:
    /// unregistered).
    pub fn registered(&mut self, flow: Peer, member: &Aor, expires_at: u64, now: u64) {
        self.flows.registered(flow, member, expires_at, now);
    }

    /// The member a response arriving from `flow` comes from, if it came over a member's flow.
    pub fn attribute_response(&self, flow: Peer, now: u64) -> Option<Attribution> {
        self.flows.attribute_response(flow, now)
    }

    /// A connection closed: nothing arriving from its address later is the member's.
    pub fn closed(&mut self, flow: Peer) {
        self.flows.closed(flow);
    }

    /// Re-reads the members' file now (SIGHUP); says what happened.
    pub fn reload(&mut self) -> String {
        match self.members.reload() {
            Reload::Reloaded { members } => {
                format!("{} members in {}", members, self.members.path().display())
            }
            Reload::Unchanged => "members unchanged".into(),
            Reload::Failed(e) => {
                format!("members' credentials unusable, nobody can authenticate: {e}")
            }
        }
    }

    /// A warning to log once (the members' file became unusable).
    pub fn take_warning(&mut self) -> Option<String> {
        self.warning.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::testing::{gate, nonce, proxy_authorization};
    use crate::HeaderKind;
    use std::os::unix::fs::PermissionsExt;

    fn invite(creds: &str) -> Message {
        Message::parse(format!(
            "INVITE sip:x@example.net SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             From: <sip:agent-7@callcentre.example>;tag=1\r\nTo: <sip:x@example.net>\r\n\
             Call-ID: c\r\nCSeq: 1 INVITE\r\n{creds}Content-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    fn creds(nonce: &str, password: &[u8]) -> String {
        proxy_authorization("INVITE", "sip:x@example.net", nonce, password)
            + "Proxy-Authorization: Digest realm=\"carrier.example\", username=\"trunk\"\r\n"
    }

    #[test]
    fn counts_challenges_passes_and_failures_and_strips_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = gate(dir.path());
        let from: Peer = "tcp:127.0.0.1:5070".parse().unwrap();
        let RequestAuth::Answer(first) = g.check_request(&mut invite(""), from, 0) else {
            panic!("expected a challenge")
        };
        let RequestAuth::Answer(_) =
            g.check_request(&mut invite(&creds(&nonce(&first), b"guess")), from, 0)
        else {
            panic!("expected a refusal")
        };
        let mut ok = invite(&creds(&nonce(&first), b"pw"));
        let RequestAuth::Member(a) = g.check_request(&mut ok, from, 0) else {
            panic!("expected the member")
        };
        assert_eq!(a.member.to_string(), "agent-7@callcentre.example");
        // Our credentials are gone; the carrier's stay.
        let left: Vec<_> = ok.values(HeaderKind::ProxyAuthorization).collect();
        assert_eq!(
            left,
            [&b"Digest realm=\"carrier.example\", username=\"trunk\""[..]]
        );
        assert_eq!(
            g.counters(),
            AuthCounters {
                challenges: 2,
                passed: 1,
                failed: 1,
                throttled: 0
            }
        );
        // An outsider's request is not counted at all.
        let text = String::from_utf8(invite("").into_bytes())
            .unwrap()
            .replace("agent-7@callcentre.example", "caller@example.net");
        let mut outsider = Message::parse(text.into_bytes()).unwrap();
        assert_eq!(g.check_request(&mut outsider, from, 0), RequestAuth::Exempt);
        assert_eq!(g.counters().challenges, 2);
    }

    #[test]
    fn registered_flow_attributes_responses_until_closed() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = gate(dir.path());
        let flow: Peer = "tls:127.0.0.1:40000".parse().unwrap();
        let agent = Aor::parse("sip:agent-7@callcentre.example").unwrap();
        g.registered(flow, &agent, 100, 0);
        assert_eq!(g.attribute_response(flow, 1).unwrap().member, agent);
        g.closed(flow);
        assert!(g.attribute_response(flow, 1).is_none());
    }

    #[test]
    fn unusable_members_file_is_warned_about_and_refuses_everyone() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = gate(dir.path());
        let from: Peer = "tcp:127.0.0.1:5070".parse().unwrap();
        let RequestAuth::Answer(first) = g.check_request(&mut invite(""), from, 0) else {
            panic!("expected a challenge")
        };
        let path = dir.path().join("members");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = g.check_request(&mut invite(&creds(&nonce(&first), b"pw")), from, 1);
        assert!(matches!(out, RequestAuth::Answer(_)), "{out:?}");
        assert!(g.take_warning().unwrap().contains("chmod 600"));
        assert!(g.take_warning().is_none());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(g.reload(), format!("1 members in {}", path.display()));
    }
}
