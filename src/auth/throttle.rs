//! Repeated failed authentications, per source address and per user: slowed, then refused for
//! a while, in tables of bounded size.
//!
//! Only failures whose nonce verified are counted (a wrong password, an unknown user): such a
//! nonce was handed to that source (bound to its address over UDP), so a spoofed source cannot
//! fill the tables or lock a victim out. A full table evicts the entry that matters least: not
//! refusing anyone, least recently failed.
//!
//! A user under attack is refused from every source except those it authenticated from before
//! (also a bounded table), so that guessing a member's password from elsewhere does not lock
//! the member out.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

/// The thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures before answers are delayed.
    pub slow_after: u32,
    /// Failures before the source or user is refused.
    pub refuse_after: u32,
    /// The longest delay, seconds (it doubles from one second per failure past `slow_after`).
    pub max_delay: u64,
    /// How long a refusal lasts, seconds.
    pub refuse_for: u64,
    /// Failures older than this are forgotten, seconds.
    pub forget_after: u64,
    /// Entries per table.
    pub capacity: usize,
}

impl Default for ThrottleConfig {
    fn default() -> ThrottleConfig {
        ThrottleConfig {
            slow_after: 3,
            refuse_after: 10,
            max_delay: 8,
            refuse_for: 300,
            forget_after: 900,
            capacity: 4096,
        }
    }
}

/// Whether to answer now, later, or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Answer after this many seconds.
    Slow(u64),
    /// Refuse until then (seconds on the caller's clock).
    Closed {
        until: u64,
    },
}

impl Gate {
    /// The stricter of two gates.
    fn and(self, other: Gate) -> Gate {
        match (self, other) {
            (Gate::Closed { until: a }, Gate::Closed { until: b }) => {
                Gate::Closed { until: a.max(b) }
            }
            (c @ Gate::Closed { .. }, _) | (_, c @ Gate::Closed { .. }) => c,
            (Gate::Slow(a), Gate::Slow(b)) => Gate::Slow(a.max(b)),
            (s @ Gate::Slow(_), Gate::Open) | (Gate::Open, s @ Gate::Slow(_)) => s,
            (Gate::Open, Gate::Open) => Gate::Open,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Failures {
    count: u32,
    last: u64,
    refused_until: u64,
}

/// A map of at most `capacity` entries that evicts by a priority (the smallest goes).
#[derive(Debug)]
struct Bounded<K, V> {
    map: HashMap<K, V>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Bounded<K, V> {
    fn new(capacity: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The entry for `key`, made with `make` (after evicting the entry of least `priority`
    /// when full).
    fn entry<P: Ord>(
        &mut self,
        key: K,
        make: impl FnOnce() -> V,
        priority: impl Fn(&V) -> P,
    ) -> &mut V {
        if !self.map.contains_key(&key) && self.map.len() >= self.capacity {
            let least = self
                .map
                .iter()
                .min_by_key(|(_, v)| priority(v))
                .map(|(k, _)| k.clone());
            if let Some(k) = least {
                self.map.remove(&k);
            }
        }
        self.map.entry(key).or_insert_with(make)
    }
}

impl Failures {
    fn gate(&self, config: &ThrottleConfig, now: u64) -> Gate {
        if now < self.refused_until {
            return Gate::Closed {
                until: self.refused_until,
            };
        }
        if now.saturating_sub(self.last) > config.forget_after || self.count < config.slow_after {
            return Gate::Open;
        }
        let doublings = (self.count - config.slow_after).min(16);
        Gate::Slow((1u64 << doublings).min(config.max_delay))
    }

    /// Eviction order: entries refusing someone are kept longest, then the most recent.
    fn priority(&self, now: u64) -> (bool, u64) {
        (now < self.refused_until, self.last)
    }
}

/// The failure tables.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    sources: Bounded<IpAddr, Failures>,
    users: Bounded<String, Failures>,
    /// (user, address) pairs that authenticated, with when they last did.
    known: Bounded<(String, IpAddr), u64>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Throttle {
        Throttle {
            config,
            sources: Bounded::new(config.capacity),
            users: Bounded::new(config.capacity),
            known: Bounded::new(config.capacity),
        }
    }

    pub fn config(&self) -> &ThrottleConfig {
        &self.config
    }

    /// How to treat a request from `source` for `user` (the digest username with its realm,
    /// when it sent credentials).
    pub fn gate(&self, source: IpAddr, user: Option<&str>, now: u64) -> Gate {
        let c = &self.config;
        let by_source = self
            .sources
            .map
            .get(&source)
            .map_or(Gate::Open, |f| f.gate(c, now));
        let by_user = match user {
            Some(u) if !self.is_known(u, source, now) => {
                self.users.map.get(u).map_or(Gate::Open, |f| f.gate(c, now))
            }
            _ => Gate::Open,
        };
        by_source.and(by_user)
    }

    fn is_known(&self, user: &str, source: IpAddr, now: u64) -> bool {
        self.known
            .map
            .get(&(user.to_string(), source))
            .is_some_and(|&at| now.saturating_sub(at) <= self.config.forget_after)
    }

    /// Records a failed authentication. `user` is given only for a user that exists, so that
    /// made-up names cannot crowd real ones out of the table.
    pub fn failed(&mut self, source: IpAddr, user: Option<&str>, now: u64) {
        let c = self.config;
        let bump = |f: &mut Failures| {
            if now.saturating_sub(f.last) > c.forget_after {
                f.count = 0;
            }
            f.count = f.count.saturating_add(1);
            f.last = now;
            if f.count >= c.refuse_after {
                f.refused_until = now + c.refuse_for;
                f.count = 0;
            }
        };
        let fresh = || Failures {
            count: 0,
            last: now,
            refused_until: 0,
        };
        bump(self.sources.entry(source, fresh, |f| f.priority(now)));
        if let Some(u) = user {
            if !self.is_known(u, source, now) {
                bump(self.users.entry(u.to_string(), fresh, |f| f.priority(now)));
            }
        }
    }

    /// Records a successful authentication: the pair is known from now on.
    pub fn succeeded(&mut self, source: IpAddr, user: &str, now: u64) {
        *self
            .known
            .entry((user.to_string(), source), || now, |&at| at) = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn throttle() -> Throttle {
        Throttle::new(ThrottleConfig {
            slow_after: 2,
            refuse_after: 5,
            max_delay: 4,
            refuse_for: 100,
            forget_after: 50,
            capacity: 3,
        })
    }

    #[test]
    fn failures_slow_then_refuse_then_are_forgotten() {
        let mut t = throttle();
        let a = ip("192.0.2.1");
        let mut gates = Vec::new();
        for now in 0..5 {
            gates.push(t.gate(a, None, now));
            t.failed(a, None, now);
        }
        assert_eq!(
            gates,
            [
                Gate::Open,
                Gate::Open,
                Gate::Slow(1),
                Gate::Slow(2),
                Gate::Slow(4)
            ]
        );
        assert_eq!(t.gate(a, None, 5), Gate::Closed { until: 104 });
        assert_eq!(t.gate(ip("192.0.2.2"), None, 5), Gate::Open);
        assert_eq!(t.gate(a, None, 104), Gate::Open);
        // Two failures long apart never add up.
        t.failed(a, None, 200);
        t.failed(a, None, 300);
        assert_eq!(t.gate(a, None, 300), Gate::Open);
    }

    #[test]
    fn user_under_attack_is_refused_except_from_where_it_authenticated() {
        let mut t = throttle();
        let home = ip("192.0.2.7");
        t.succeeded(home, "agent-7@callcentre.example", 0);
        // Five attackers, one guess each: no source is slowed, the user is refused.
        for i in 1..=5 {
            t.failed(
                ip(&format!("198.51.100.{i}")),
                Some("agent-7@callcentre.example"),
                1,
            );
        }
        let user = Some("agent-7@callcentre.example");
        assert_eq!(
            t.gate(ip("198.51.100.9"), user, 2),
            Gate::Closed { until: 101 }
        );
        assert_eq!(t.gate(home, user, 2), Gate::Open);
        // A mistyped password at home does not count against the user.
        t.failed(home, user, 3);
        assert_eq!(t.gate(home, user, 3), Gate::Open);
    }

    #[test]
    fn tables_stay_bounded_and_keep_refusals() {
        let mut t = throttle();
        let banned = ip("203.0.113.1");
        for now in 0..5 {
            t.failed(banned, None, now);
        }
        for i in 0..100 {
            t.failed(ip(&format!("198.51.100.{i}")), None, 10 + i / 10);
            t.failed(
                ip(&format!("198.51.100.{i}")),
                Some(&format!("u{i}")),
                10 + i / 10,
            );
            t.succeeded(
                ip(&format!("198.51.100.{i}")),
                &format!("u{i}"),
                10 + i / 10,
            );
        }
        assert!(t.sources.map.len() <= 3);
        assert!(t.users.map.len() <= 3);
        assert!(t.known.map.len() <= 3);
        assert_eq!(t.gate(banned, None, 60), Gate::Closed { until: 104 });
    }
}
