//! Attribution: which authenticated member a message comes from, and why that may be believed.
//!
//! The relay attributes a request only after its digest verified, and a response only when it
//! arrives over the TCP or TLS connection that the member registered over after
//! authenticating. A UDP source address can be spoofed by anyone, so attributing responses
//! by the UDP address a member registered from happens only when the relay is told to
//! ([`MemberConnections::new`] with `udp` set), for networks where spoofing is ruled out by
//! other means.
//!
//! Attribution reaches the filters as the `attribution` of the filter contract's control
//! header (see [`crate::filter::control`]), which only verifies under the run's key: nothing
//! from outside can claim to be a member.

use super::digest::Algorithm;
use crate::filter::control::ControlData;
use crate::filter::Origin;
use crate::relay::{Peer, Transport};
use crate::uri::Aor;
use std::collections::HashMap;
use std::fmt;

/// Why a message is attributed to a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// A request whose digest credentials verified, with the algorithm used.
    Digest(Algorithm),
    /// A response over the connection the member registered over.
    RegisteredConnection,
    /// A response from the UDP address the member registered from (spoofable; only when the
    /// relay was told to trust it).
    RegisteredUdpAddress,
}

impl Basis {
    /// The name used in logs and the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Basis::Digest(Algorithm::Sha256) => "digest-sha-256",
            Basis::Digest(Algorithm::Md5) => "digest-md5",
            Basis::RegisteredConnection => "registered-connection",
            Basis::RegisteredUdpAddress => "registered-udp-address",
        }
    }
}

/// "This message comes from member X", as established by the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub member: Aor,
    pub basis: Basis,
}

impl Attribution {
    /// The control-header data that carries this attribution to the filters, for the message
    /// numbered `seq` of the run.
    pub fn control_data(&self, seq: u64, origin: Origin) -> ControlData {
        ControlData {
            seq,
            origin,
            attribution: Some(self.member.to_string()),
            marks: None,
        }
    }
}

impl fmt::Display for Attribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sip:{} ({})", self.member, self.basis.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Registered {
    member: Aor,
    expires_at: u64,
}

/// The flows members registered over after authenticating: a response arriving on one is the
/// member's. One entry per flow, so the table is bounded by the connections the network layer
/// admits, and by `capacity` besides (the entry nearest its expiry goes first).
#[derive(Debug)]
pub struct MemberConnections {
    by_flow: HashMap<Peer, Registered>,
    capacity: usize,
    udp: bool,
}

impl MemberConnections {
    /// `udp`: also attribute responses from the UDP address a member registered from.
    pub fn new(capacity: usize, udp: bool) -> MemberConnections {
        MemberConnections {
            by_flow: HashMap::new(),
            capacity: capacity.max(1),
            udp,
        }
    }

    pub fn len(&self) -> usize {
        self.by_flow.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_flow.is_empty()
    }

    /// An authenticated REGISTER of `member` from `flow` was accepted until `expires_at`
    /// (an expiry of now or earlier removes it: the member unregistered).
    pub fn registered(&mut self, flow: Peer, member: &Aor, expires_at: u64, now: u64) {
        if expires_at <= now {
            self.by_flow.remove(&flow);
            return;
        }
        if flow.transport == Transport::Udp && !self.udp {
            return;
        }
        self.by_flow.retain(|_, r| r.expires_at > now);
        if !self.by_flow.contains_key(&flow) && self.by_flow.len() >= self.capacity {
            let soonest = self
                .by_flow
                .iter()
                .min_by_key(|(_, r)| r.expires_at)
                .map(|(p, _)| *p);
            if let Some(p) = soonest {
                self.by_flow.remove(&p);
            }
        }
        self.by_flow.insert(
            flow,
            Registered {
                member: member.clone(),
                expires_at,
            },
        );
    }

    /// The connection closed: whatever comes from its address later is another connection.
    pub fn closed(&mut self, flow: Peer) {
        self.by_flow.remove(&flow);
    }

    /// The attribution of a response that arrived from `flow` at `now`, if any.
    pub fn attribute_response(&self, flow: Peer, now: u64) -> Option<Attribution> {
        let r = self.by_flow.get(&flow).filter(|r| r.expires_at > now)?;
        let basis = match flow.transport {
            Transport::Udp if self.udp => Basis::RegisteredUdpAddress,
            Transport::Udp => return None,
            Transport::Tcp | Transport::Tls => Basis::RegisteredConnection,
        };
        Some(Attribution {
            member: r.member.clone(),
            basis,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::control::{self, ControlCheck, ControlKey, ControlKind};
    use crate::message::Message;

    fn peer(s: &str) -> Peer {
        s.parse().unwrap()
    }

    fn agent() -> Aor {
        Aor::parse("sip:agent-7@callcentre.example").unwrap()
    }

    #[test]
    fn responses_over_the_registered_connection_are_the_members() {
        let mut t = MemberConnections::new(8, false);
        let flow = peer("tls:127.0.0.1:40000");
        t.registered(flow, &agent(), 100, 0);
        let a = t.attribute_response(flow, 50).unwrap();
        assert_eq!(a.member, agent());
        assert_eq!(a.basis, Basis::RegisteredConnection);
        assert_eq!(
            a.to_string(),
            "sip:agent-7@callcentre.example (registered-connection)"
        );
        // Another connection of the same host, the registration lapsed, or the connection gone.
        assert!(t
            .attribute_response(peer("tls:127.0.0.1:40001"), 50)
            .is_none());
        assert!(t.attribute_response(flow, 100).is_none());
        t.closed(flow);
        assert!(t.attribute_response(flow, 50).is_none());
        // Unregistering (expiry now) removes it.
        t.registered(flow, &agent(), 100, 0);
        t.registered(flow, &agent(), 10, 10);
        assert!(t.is_empty());
    }

    #[test]
    fn udp_is_attributed_only_when_asked() {
        let flow = peer("udp:127.0.0.1:5070");
        let mut strict = MemberConnections::new(8, false);
        strict.registered(flow, &agent(), 100, 0);
        assert!(strict.attribute_response(flow, 1).is_none());
        assert!(strict.is_empty());
        let mut trusting = MemberConnections::new(8, true);
        trusting.registered(flow, &agent(), 100, 0);
        assert_eq!(
            trusting.attribute_response(flow, 1).unwrap().basis,
            Basis::RegisteredUdpAddress
        );
    }

    #[test]
    fn table_is_bounded() {
        let mut t = MemberConnections::new(2, false);
        t.registered(peer("tcp:127.0.0.1:1"), &agent(), 300, 0);
        t.registered(peer("tcp:127.0.0.1:2"), &agent(), 100, 0);
        t.registered(peer("tcp:127.0.0.1:3"), &agent(), 200, 0);
        assert_eq!(t.len(), 2);
        assert!(t.attribute_response(peer("tcp:127.0.0.1:2"), 1).is_none());
        assert!(t.attribute_response(peer("tcp:127.0.0.1:1"), 1).is_some());
    }

    /// The attribution the relay makes is what a filter reads from the control header, and
    /// only under the run's key.
    #[test]
    fn attribution_travels_in_the_control_header() {
        let key = ControlKey::generate();
        let mut m = Message::parse(
            &b"SIP/2.0 200 OK\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let a = Attribution {
            member: agent(),
            basis: Basis::RegisteredConnection,
        };
        control::attach(
            &mut m,
            &key,
            ControlKind::Message,
            &a.control_data(3, Origin::default()),
        );
        let mut forged = m.clone();
        match control::take(&mut m, Some(&key)) {
            ControlCheck::Valid { data, .. } => {
                let read = Aor::parse(data.attribution.as_deref().unwrap()).unwrap();
                assert_eq!(read, agent());
                assert_eq!(data.seq, 3);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            control::take(&mut forged, Some(&ControlKey::generate())),
            ControlCheck::Invalid(_)
        ));
    }
}
