//! The nonce-counts seen for each live nonce, so that a replayed request is refused.
//!
//! A client counts the requests it makes with one nonce (`nc`, from 1); requests may overtake
//! each other (UDP, parallel transactions), so each nonce keeps the highest count seen and a
//! window of the 64 below it, as IPsec does for sequence numbers (RFC 4303 §3.4.3): a count
//! is accepted once, in any order within the window.
//!
//! The table is bounded. Entries are kept in the order their nonces were issued; when it is
//! full the oldest goes, and the issue time of the newest evicted nonce becomes a watermark:
//! a nonce issued at or before it that is not in the table may have been used already, so it
//! is refused too (answered as stale, and the client simply takes a new nonce). Only requests
//! whose digest verified reach the table, so filling it takes valid credentials.

use super::nonce::NonceId;
use std::collections::BTreeMap;

const WINDOW: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    highest: u32,
    /// Bit i: count `highest - 1 - i` was seen.
    below: u64,
}

/// What a nonce-count is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountCheck {
    /// First use of this count with this nonce: accepted and recorded.
    New,
    /// Seen before with this nonce, too far below the highest, or the nonce's record is gone.
    Replayed,
}

/// The bounded nonce-count table.
#[derive(Debug)]
pub struct NonceCounts {
    seen: BTreeMap<NonceId, Seen>,
    capacity: usize,
    /// Nonces issued at or before this time and absent from the table are refused.
    watermark: Option<u64>,
}

impl NonceCounts {
    pub fn new(capacity: usize) -> NonceCounts {
        NonceCounts {
            seen: BTreeMap::new(),
            capacity: capacity.max(1),
            watermark: None,
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Checks `nc` for the nonce `id` and records it when new. Nonces issued before
    /// `oldest_live` are dead (expired) and are dropped from the table first.
    pub fn check(&mut self, id: NonceId, nc: u32, oldest_live: u64) -> CountCheck {
        while let Some(entry) = self.seen.first_entry() {
            if entry.key().issued >= oldest_live {
                break;
            }
            entry.remove();
        }
        if let Some(seen) = self.seen.get_mut(&id) {
            return record(seen, nc);
        }
        if self.watermark.is_some_and(|w| id.issued <= w) {
            return CountCheck::Replayed;
        }
        while self.seen.len() >= self.capacity {
            let Some((evicted, _)) = self.seen.pop_first() else {
                break;
            };
            self.watermark = Some(
                self.watermark
                    .map_or(evicted.issued, |w| w.max(evicted.issued)),
            );
            if id.issued <= evicted.issued {
                // The newcomer is no younger than what had to go: refusing it keeps the
                // watermark's promise.
                return CountCheck::Replayed;
            }
        }
        self.seen.insert(
            id,
            Seen {
                highest: nc,
                below: 0,
            },
        );
        CountCheck::New
    }
}

fn record(seen: &mut Seen, nc: u32) -> CountCheck {
    if nc > seen.highest {
        let shift = nc - seen.highest;
        seen.below = if shift >= WINDOW {
            0
        } else {
            (seen.below << shift) | (1 << (shift - 1))
        };
        seen.highest = nc;
        return CountCheck::New;
    }
    let back = seen.highest - nc;
    if back == 0 || back > WINDOW {
        return CountCheck::Replayed;
    }
    let bit = 1u64 << (back - 1);
    if seen.below & bit != 0 {
        return CountCheck::Replayed;
    }
    seen.below |= bit;
    CountCheck::New
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(issued: u64, salt: u8) -> NonceId {
        NonceId {
            issued,
            salt: [salt; 8],
        }
    }

    #[test]
    fn each_count_is_accepted_once_in_any_order() {
        let mut t = NonceCounts::new(16);
        let n = id(10, 1);
        assert_eq!(t.check(n, 1, 0), CountCheck::New);
        assert_eq!(t.check(n, 1, 0), CountCheck::Replayed);
        assert_eq!(t.check(n, 3, 0), CountCheck::New);
        assert_eq!(t.check(n, 2, 0), CountCheck::New);
        assert_eq!(t.check(n, 2, 0), CountCheck::Replayed);
        assert_eq!(t.check(n, 3, 0), CountCheck::Replayed);
        assert_eq!(t.check(n, 200, 0), CountCheck::New);
        // Beyond the window below the highest: cannot be told from a replay.
        assert_eq!(t.check(n, 100, 0), CountCheck::Replayed);
        assert_eq!(t.check(n, 199, 0), CountCheck::New);
        assert_eq!(t.check(n, 136, 0), CountCheck::New);
        assert_eq!(t.check(n, 135, 0), CountCheck::Replayed);
        // Another nonce has its own counts.
        assert_eq!(t.check(id(10, 2), 1, 0), CountCheck::New);
    }

    #[test]
    fn full_table_evicts_oldest_and_refuses_what_it_forgot() {
        let mut t = NonceCounts::new(2);
        assert_eq!(t.check(id(1, 0), 1, 0), CountCheck::New);
        assert_eq!(t.check(id(2, 0), 1, 0), CountCheck::New);
        assert_eq!(t.check(id(3, 0), 1, 0), CountCheck::New); // evicts issued 1
        assert_eq!(t.len(), 2);
        // The evicted nonce's counts are forgotten: any use of it is now refused.
        assert_eq!(t.check(id(1, 0), 2, 0), CountCheck::Replayed);
        assert_eq!(t.check(id(1, 9), 1, 0), CountCheck::Replayed);
        // Newer nonces still work.
        assert_eq!(t.check(id(3, 0), 2, 0), CountCheck::New);
        assert_eq!(t.check(id(4, 0), 1, 0), CountCheck::New);
        assert_eq!(t.len(), 2);
        // Full of nonces no older than a newcomer: the newcomer is refused.
        assert_eq!(t.check(id(2, 5), 1, 0), CountCheck::Replayed);
    }

    #[test]
    fn expired_nonces_leave_the_table() {
        let mut t = NonceCounts::new(8);
        for i in 0..5 {
            t.check(id(i, 0), 1, 0);
        }
        assert_eq!(t.len(), 5);
        assert_eq!(t.check(id(10, 0), 1, 3), CountCheck::New);
        assert_eq!(t.len(), 3);
    }
}
