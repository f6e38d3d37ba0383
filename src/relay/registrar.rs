//! The registrar and location service (RFC 3261 §10.3): bindings from an address-of-record to
//! contact URIs, each with its own expiry, driven by the caller's clock.

use super::Peer;
use crate::header::Contacts;
use crate::message::Message;
use crate::uri::Aor;
use std::collections::HashMap;

/// One binding of an AOR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI as the UA wrote it.
    pub contact: String,
    /// When it lapses (seconds on the caller's clock).
    pub expires_at: u64,
    pub call_id: Vec<u8>,
    pub cseq: u32,
    /// Where the REGISTER came from: over TCP or TLS, requests for the AOR reuse that flow.
    pub source: Peer,
}

/// What a REGISTER led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// 200: the bindings of the AOR now, with their remaining seconds.
    Ok(Vec<(String, u64)>),
    /// 423 Interval Too Brief, with the Min-Expires to send.
    TooBrief(u32),
    /// Any other refusal: code and reason phrase.
    Refused(u16, &'static str),
    /// 403: past a bound (bindings of the AOR, or AORs in all), with the reason phrase.
    Full(&'static str),
}

/// How much the location service holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub bindings_per_aor: usize,
    pub aors: usize,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds {
            bindings_per_aor: 10,
            aors: 100_000,
        }
    }
}

/// The location service.
#[derive(Debug, Default)]
pub struct Location {
    bindings: HashMap<Aor, Vec<Binding>>,
    bounds: Bounds,
    /// When a full table was last swept for lapsed bindings (at most once a second, so a
    /// flood of REGISTERs at the bound does not sweep the whole table each time).
    last_full_sweep: Option<u64>,
}

impl Location {
    pub fn with_bounds(bounds: Bounds) -> Location {
        Location {
            bounds,
            ..Location::default()
        }
    }

    pub fn set_bounds(&mut self, bounds: Bounds) {
        self.bounds = bounds;
    }

    /// AORs with at least one binding (lapsed ones included until swept).
    #[cfg(test)]
    fn aors(&self) -> usize {
        self.bindings.len()
    }

    /// The live bindings of an AOR, most recently refreshed first.
    pub fn lookup(&mut self, aor: &Aor, now: u64) -> Vec<Binding> {
        self.expire(aor, now);
        let mut found = self.bindings.get(aor).cloned().unwrap_or_default();
        found.sort_by_key(|b| std::cmp::Reverse(b.expires_at));
        found
    }

    fn expire(&mut self, aor: &Aor, now: u64) {
        if let Some(list) = self.bindings.get_mut(aor) {
            list.retain(|b| b.expires_at > now);
            if list.is_empty() {
                self.bindings.remove(aor);
            }
        }
    }

    /// Drops every lapsed binding (called now and then so memory follows live bindings).
    pub fn sweep(&mut self, now: u64) {
        self.bindings.retain(|_, list| {
            list.retain(|b| b.expires_at > now);
            !list.is_empty()
        });
    }

    pub fn len(&self) -> usize {
        self.bindings.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    /// Applies a REGISTER for `aor` (its To, already checked to be one of our domains).
    pub fn register(
        &mut self,
        aor: &Aor,
        req: &Message,
        source: Peer,
        now: u64,
        min_expires: u32,
        max_expires: u32,
    ) -> RegisterOutcome {
        self.expire(aor, now);
        let (Ok(call_id), Ok(cseq)) = (req.call_id(), req.cseq()) else {
            return RegisterOutcome::Refused(400, "Bad Request");
        };
        let header_expires = match req.expires() {
            Ok(e) => e,
            Err(_) => return RegisterOutcome::Refused(400, "Bad Expires"),
        };
        let contacts = match req.contacts() {
            Ok(c) => c,
            Err(_) => return RegisterOutcome::Refused(400, "Bad Contact"),
        };
        match contacts {
            Contacts::Star => {
                // §10.3 step 6: `*` only with Expires: 0.
                if header_expires != Some(0) {
                    return RegisterOutcome::Refused(400, "Contact * Needs Expires 0");
                }
                self.bindings.remove(aor);
            }
            Contacts::List(list) => {
                // Check every contact before changing anything: a REGISTER is applied whole.
                let mut changes = Vec::with_capacity(list.len());
                for c in &list {
                    let asked = match c.params().get("expires") {
                        Some(Some(v)) => match std::str::from_utf8(v)
                            .ok()
                            .and_then(|v| v.parse::<u64>().ok())
                        {
                            Some(n) => n.min(u64::from(u32::MAX)) as u32,
                            None => return RegisterOutcome::Refused(400, "Bad Contact Expires"),
                        },
                        Some(None) => return RegisterOutcome::Refused(400, "Bad Contact Expires"),
                        None => header_expires.unwrap_or(max_expires),
                    };
                    if asked != 0 && asked < min_expires {
                        return RegisterOutcome::TooBrief(min_expires);
                    }
                    changes.push((c.uri().as_str().to_string(), asked.min(max_expires)));
                }
                // Applied to a copy, so that a REGISTER past a bound changes nothing.
                let existed = self.bindings.contains_key(aor);
                let mut list = self.bindings.get(aor).cloned().unwrap_or_default();
                for (contact, secs) in changes {
                    let existing = list.iter().position(|b| same_contact(&b.contact, &contact));
                    if let Some(i) = existing {
                        let b = &list[i];
                        // §10.3 step 7: an older or repeated request of the same Call-ID loses.
                        if b.call_id == call_id && b.cseq >= cseq.seq {
                            continue;
                        }
                        list.remove(i);
                    }
                    if secs > 0 {
                        list.push(Binding {
                            contact,
                            expires_at: now + u64::from(secs),
                            call_id: call_id.to_vec(),
                            cseq: cseq.seq,
                            source,
                        });
                    }
                }
                if list.len() > self.bounds.bindings_per_aor {
                    return RegisterOutcome::Full("Too Many Bindings");
                }
                if list.is_empty() {
                    self.bindings.remove(aor);
                } else {
                    if !existed && !self.has_room_for_an_aor(now) {
                        return RegisterOutcome::Full("Registrar Full");
                    }
                    self.bindings.insert(aor.clone(), list);
                }
            }
        }
        RegisterOutcome::Ok(
            self.bindings
                .get(aor)
                .map(|l| {
                    l.iter()
                        .map(|b| (b.contact.clone(), b.expires_at - now))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }
}

impl Location {
    fn has_room_for_an_aor(&mut self, now: u64) -> bool {
        if self.bindings.len() < self.bounds.aors {
            return true;
        }
        if self.last_full_sweep != Some(now) {
            self.last_full_sweep = Some(now);
            self.sweep(now);
        }
        self.bindings.len() < self.bounds.aors
    }
}

/// Contact URIs compare by RFC 3261 §19.1.4 equivalence, falling back to exact text.
fn same_contact(a: &str, b: &str) -> bool {
    match (crate::uri::Uri::parse_str(a), crate::uri::Uri::parse_str(b)) {
        (Ok(x), Ok(y)) => x.equivalent(&y),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;

    pub fn reg(contact: &str, expires: Option<&str>, cseq: u32) -> Message {
        let mut text = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKr{cseq}\r\n\
             From: <sip:bob@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\n\
             CSeq: {cseq} REGISTER\r\nContact: {contact}\r\n"
        );
        if let Some(e) = expires {
            text.push_str(&format!("Expires: {e}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        Message::parse(text).unwrap()
    }

    pub fn src() -> Peer {
        "udp:192.0.2.9:5060".parse().unwrap()
    }

    pub fn bob() -> Aor {
        Aor::parse("bob@example.com").unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;

    #[test]
    fn bindings_expire_on_time_and_several_contacts_coexist() {
        let mut loc = Location::default();
        let r = reg(
            "<sip:bob@192.0.2.9>;expires=100, <sip:bob@192.0.2.10>",
            Some("300"),
            1,
        );
        let out = loc.register(&bob(), &r, src(), 1000, 60, 3600);
        assert_eq!(
            out,
            RegisterOutcome::Ok(vec![
                ("sip:bob@192.0.2.9".into(), 100),
                ("sip:bob@192.0.2.10".into(), 300)
            ])
        );
        assert_eq!(loc.lookup(&bob(), 1099).len(), 2);
        let later = loc.lookup(&bob(), 1100);
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].contact, "sip:bob@192.0.2.10");
        assert!(loc.lookup(&bob(), 1300).is_empty());
    }

    #[test]
    fn too_brief_is_refused_with_min_expires_and_changes_nothing() {
        let mut loc = Location::default();
        let r = reg(
            "<sip:bob@192.0.2.9>, <sip:bob@192.0.2.10>;expires=5",
            None,
            1,
        );
        assert_eq!(
            loc.register(&bob(), &r, src(), 0, 60, 3600),
            RegisterOutcome::TooBrief(60)
        );
        assert!(loc.lookup(&bob(), 0).is_empty());
    }

    #[test]
    fn star_removes_all_only_with_expires_zero() {
        let mut loc = Location::default();
        loc.register(
            &bob(),
            &reg("<sip:bob@192.0.2.9>", None, 1),
            src(),
            0,
            60,
            3600,
        );
        assert!(matches!(
            loc.register(&bob(), &reg("*", Some("60"), 2), src(), 0, 60, 3600),
            RegisterOutcome::Refused(400, _)
        ));
        assert_eq!(loc.lookup(&bob(), 0).len(), 1);
        assert_eq!(
            loc.register(&bob(), &reg("*", Some("0"), 3), src(), 0, 60, 3600),
            RegisterOutcome::Ok(vec![])
        );
        assert!(loc.lookup(&bob(), 0).is_empty());
    }

    #[test]
    fn refresh_replaces_and_stale_cseq_is_ignored_and_max_clamps() {
        let mut loc = Location::default();
        loc.register(
            &bob(),
            &reg("<sip:bob@192.0.2.9>", Some("99999"), 5),
            src(),
            0,
            60,
            3600,
        );
        assert_eq!(loc.lookup(&bob(), 0)[0].expires_at, 3600);
        // Same Call-ID, older CSeq: ignored.
        loc.register(
            &bob(),
            &reg("<sip:bob@192.0.2.9>", Some("0"), 4),
            src(),
            0,
            60,
            3600,
        );
        assert_eq!(loc.lookup(&bob(), 0).len(), 1);
        // Newer CSeq with expires 0 removes it.
        loc.register(
            &bob(),
            &reg("<sip:BOB@192.0.2.9>;expires=0", None, 6),
            src(),
            0,
            60,
            3600,
        );
        assert_eq!(
            loc.lookup(&bob(), 0).len(),
            1,
            "user part is case-sensitive"
        );
        loc.register(
            &bob(),
            &reg("<sip:bob@192.0.2.9>;expires=0", None, 7),
            src(),
            0,
            60,
            3600,
        );
        assert!(loc.lookup(&bob(), 0).is_empty());
        assert!(loc.is_empty());
    }
}

#[cfg(test)]
mod bounds_tests {
    use super::tests_support::*;
    use super::*;

    #[test]
    fn bindings_per_aor_and_aors_in_all_are_bounded_and_a_refusal_changes_nothing() {
        let mut loc = Location::with_bounds(Bounds {
            bindings_per_aor: 3,
            aors: 2,
        });
        let contacts = |n: usize| {
            (0..n)
                .map(|i| format!("<sip:bob@192.0.2.{i}>"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ok = |o: &RegisterOutcome| matches!(o, RegisterOutcome::Ok(_));
        assert!(ok(&loc.register(
            &bob(),
            &reg(&contacts(3), None, 1),
            src(),
            0,
            60,
            3600
        )));
        let more = reg("<sip:bob@192.0.2.200>", None, 2);
        assert_eq!(
            loc.register(&bob(), &more, src(), 0, 60, 3600),
            RegisterOutcome::Full("Too Many Bindings")
        );
        assert_eq!(loc.lookup(&bob(), 0).len(), 3, "nothing changed");
        // Refreshing an existing binding is not a new one.
        assert!(ok(&loc.register(
            &bob(),
            &reg("<sip:bob@192.0.2.1>", None, 3),
            src(),
            0,
            60,
            3600
        )));
        let carol = Aor::parse("carol@example.com").unwrap();
        let dave = Aor::parse("dave@example.com").unwrap();
        assert!(ok(&loc.register(
            &carol,
            &reg("<sip:c@192.0.2.9>", None, 1),
            src(),
            0,
            60,
            3600
        )));
        assert_eq!(
            loc.register(
                &dave,
                &reg("<sip:d@192.0.2.9>", None, 1),
                src(),
                0,
                60,
                3600
            ),
            RegisterOutcome::Full("Registrar Full")
        );
        assert_eq!(loc.aors(), 2);
        // Once bindings lapse, there is room again.
        assert!(ok(&loc.register(
            &dave,
            &reg("<sip:d@192.0.2.9>", None, 1),
            src(),
            4000,
            60,
            3600
        )));
    }
}
