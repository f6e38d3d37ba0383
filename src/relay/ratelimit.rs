//! Per-source rate limits: a token bucket per source address in a table of bounded size.
//!
//! A source is an IPv4 address or an IPv6 /64 (one host usually holds a whole /64, so a
//! limit per IPv6 address would be no limit). When the table is full the source that entered
//! it first is forgotten. A forgotten source
//! starts again with a full bucket, so eviction only ever favours the evicted; what it cannot
//! do is let a flood of source addresses grow the table.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// The source an address belongs to: itself for IPv4 (and IPv4-mapped IPv6), its /64 for
/// IPv6.
pub fn source_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(a) & !((1u128 << 64) - 1)).into()),
        },
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// Seconds (the caller's clock) at the last refill.
    at: f64,
}

/// Token buckets of `rate` per second and `2 * rate` deep, one per source address.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    capacity: usize,
    buckets: HashMap<IpAddr, Bucket>,
    /// Sources in the order they entered the table (the eviction order).
    order: VecDeque<IpAddr>,
}

impl RateLimiter {
    /// `rate` 0 means unlimited.
    pub fn new(rate: u32, capacity: usize) -> RateLimiter {
        RateLimiter {
            rate: f64::from(rate),
            burst: 2.0 * f64::from(rate),
            capacity: capacity.max(1),
            buckets: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Takes a new rate (a reload): the sources keep their buckets, which refill at the new
    /// rate and never above the new burst.
    pub fn set_rate(&mut self, rate: u32) {
        self.rate = f64::from(rate);
        self.burst = 2.0 * f64::from(rate);
        if rate == 0 {
            self.buckets.clear();
            self.order.clear();
        }
    }

    /// Whether one more message from `source` at `now` (seconds) is within its rate; takes a
    /// token when it is.
    pub fn allow(&mut self, source: IpAddr, now: f64) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let (rate, burst) = (self.rate, self.burst);
        let source = source_of(source);
        let bucket = match self.buckets.entry(source) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                self.order.push_back(source);
                e.insert(Bucket {
                    tokens: burst,
                    at: now,
                })
            }
        };
        bucket.tokens = (bucket.tokens + (now - bucket.at).max(0.0) * rate).min(burst);
        bucket.at = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        while self.buckets.len() > self.capacity {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.buckets.remove(&oldest);
                }
                None => break,
            }
        }
        allowed
    }

    #[cfg(test)]
    fn sources(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    #[test]
    fn a_source_gets_its_burst_then_its_rate() {
        let mut l = RateLimiter::new(10, 100);
        let allowed = (0..50).filter(|_| l.allow(ip(1), 0.0)).count();
        assert_eq!(allowed, 20, "burst is two seconds' worth");
        assert!(!l.allow(ip(1), 0.05), "half a token is not one");
        assert!(l.allow(ip(1), 0.1));
        // Another source is not affected.
        assert!(l.allow(ip(2), 0.1));
        // After long enough, the full burst again, never more.
        let allowed = (0..50).filter(|_| l.allow(ip(1), 100.0)).count();
        assert_eq!(allowed, 20);
    }

    #[test]
    fn the_table_stays_bounded_and_forgets_the_oldest_source() {
        let mut l = RateLimiter::new(1, 3);
        for _ in 0..2 {
            assert!(l.allow(ip(1), 0.0));
        }
        assert!(!l.allow(ip(1), 0.0));
        for n in 2..1000 {
            l.allow(ip(n), 0.0);
            assert!(l.sources() <= 3);
        }
        assert!(l.allow(ip(1), 0.0), "forgotten, so a full bucket again");
    }

    #[test]
    fn an_ipv6_64_is_one_source() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_of(a), source_of(b));
        assert_ne!(source_of(a), source_of(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(source_of(mapped), ip(0xc000_0201));
        let mut l = RateLimiter::new(1, 100);
        assert!(l.allow(a, 0.0) && l.allow(b, 0.0));
        assert!(!l.allow(b, 0.0), "the /64 shares one bucket");
        assert!(l.allow(c, 0.0));
    }

    #[test]
    fn a_new_rate_applies_to_known_sources_without_a_fresh_burst() {
        let mut l = RateLimiter::new(10, 100);
        assert_eq!((0..50).filter(|_| l.allow(ip(1), 0.0)).count(), 20);
        l.set_rate(2);
        assert!(!l.allow(ip(1), 0.0), "the spent bucket stays spent");
        assert_eq!((0..50).filter(|_| l.allow(ip(1), 100.0)).count(), 4);
        l.set_rate(0);
        assert!((0..50).all(|_| l.allow(ip(1), 100.0)));
        assert_eq!(l.sources(), 0);
    }

    #[test]
    fn rate_zero_is_unlimited_and_keeps_no_table() {
        let mut l = RateLimiter::new(0, 3);
        assert!((0..10_000).all(|n| l.allow(ip(n), 0.0)));
        assert_eq!(l.sources(), 0);
    }
}
