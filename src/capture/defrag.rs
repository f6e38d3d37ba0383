//! IPv4 and IPv6 fragment reassembly, bounded in datagrams, bytes and capture time.
//!
//! Overlaps are compared, never overwritten: identical bytes are a duplicate; different bytes
//! drop the whole datagram and say so (RFC 5722), because a later fragment that rewrites earlier
//! bytes is how IDS evasion works, and a signature checker must not see a different message
//! than the receiver.

use super::{CaptureSummary, Limits, ProblemKind};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// The largest reassembled IP payload: both IPv4 total length and the IPv6 payload length are
/// 16-bit, so a fragment ending past this is an attack.
pub(crate) const MAX_DATAGRAM: usize = 65535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    pub proto: u8,
}

pub(crate) struct Fragment<'a> {
    pub offset: usize,
    pub more: bool,
    pub data: &'a [u8],
}

struct Pending {
    generation: u64,
    frames: Vec<u64>,
    buf: Vec<u8>,
    /// Sorted, merged byte ranges already received.
    have: Vec<(usize, usize)>,
    total: Option<usize>,
    /// Set after a conflict: later fragments are swallowed until the entry times out.
    poisoned: bool,
}

pub(crate) struct Defragmenter {
    limits: Limits,
    pending: HashMap<FragKey, Pending>,
    /// Creation order, for timeouts and for evicting the oldest when a cap is hit.
    order: VecDeque<(u64, FragKey, u64)>,
    bytes: usize,
    generation: u64,
}

impl Defragmenter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            pending: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            generation: 0,
        }
    }

    /// Adds one fragment; returns the reassembled payload and every frame that carried it once
    /// the datagram is complete. Problems (with the frames they concern) go to `problems`.
    pub fn push(
        &mut self,
        key: FragKey,
        frag: Fragment<'_>,
        now_secs: u64,
        frame: u64,
        summary: &mut CaptureSummary,
        problems: &mut Vec<ProblemKind>,
    ) -> Option<(Vec<u8>, Vec<u64>)> {
        summary.fragments += 1;
        self.expire(now_secs, summary, problems);
        let end = frag.offset + frag.data.len();
        if end > MAX_DATAGRAM {
            let mut frames = self.remove(&key).map(|p| p.frames).unwrap_or_default();
            frames.push(frame);
            summary.fragments_dropped += frames.len() as u64;
            problems.push(ProblemKind::FragmentTooLarge {
                limit: MAX_DATAGRAM,
                frames,
            });
            return None;
        }
        if !self.pending.contains_key(&key) {
            self.make_room(end, summary, problems);
            self.generation += 1;
            self.order.push_back((
                now_secs + self.limits.fragment_timeout_secs,
                key,
                self.generation,
            ));
            self.pending.insert(
                key,
                Pending {
                    generation: self.generation,
                    frames: Vec::new(),
                    buf: Vec::new(),
                    have: Vec::new(),
                    total: None,
                    poisoned: false,
                },
            );
        }
        let p = self.pending.get_mut(&key)?;
        p.frames.push(frame);
        if p.poisoned {
            summary.fragments_dropped += 1;
            return None;
        }
        let conflict = conflicts(p, &frag, end);
        if conflict {
            p.poisoned = true;
            self.bytes -= p.buf.capacity();
            p.buf = Vec::new();
            summary.fragments_dropped += p.frames.len() as u64;
            problems.push(ProblemKind::FragmentOverlap {
                frames: p.frames.clone(),
            });
            return None;
        }
        if !frag.more {
            p.total = Some(end);
        }
        if covered(&p.have, frag.offset, end) {
            summary.fragments_duplicate += 1;
        } else {
            if p.buf.len() < end {
                self.bytes -= p.buf.capacity();
                p.buf.resize(end, 0);
                self.bytes += p.buf.capacity();
            }
            p.buf[frag.offset..end].copy_from_slice(frag.data);
            insert_range(&mut p.have, frag.offset, end);
        }
        let total = p.total?;
        if p.have.first() != Some(&(0, total)) {
            return None;
        }
        let mut done = self.remove(&key)?;
        done.buf.truncate(total);
        summary.datagrams_reassembled += 1;
        Some((done.buf, done.frames))
    }

    fn remove(&mut self, key: &FragKey) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        self.bytes -= p.buf.capacity();
        Some(p)
    }

    /// Drops incomplete datagrams older than the timeout, reporting each.
    pub fn expire(
        &mut self,
        now_secs: u64,
        summary: &mut CaptureSummary,
        problems: &mut Vec<ProblemKind>,
    ) {
        while let Some(&(deadline, key, generation)) = self.order.front() {
            let live = self.pending.get(&key).map(|p| p.generation) == Some(generation);
            if live && deadline > now_secs {
                break;
            }
            self.order.pop_front();
            if live {
                if let Some(p) = self.remove(&key) {
                    summary.fragments_dropped += p.frames.len() as u64;
                    if !p.poisoned {
                        problems.push(ProblemKind::FragmentTimeout { frames: p.frames });
                    }
                }
            }
        }
    }

    /// Evicts the oldest incomplete datagrams until one more (of up to `need` bytes) fits.
    fn make_room(
        &mut self,
        need: usize,
        summary: &mut CaptureSummary,
        problems: &mut Vec<ProblemKind>,
    ) {
        loop {
            let cap = if self.pending.len() >= self.limits.max_pending_datagrams {
                "pending datagrams"
            } else if self.bytes + need > self.limits.max_fragment_bytes {
                "pending fragment bytes"
            } else {
                return;
            };
            let Some((_, key, generation)) = self.order.pop_front() else {
                return;
            };
            if self.pending.get(&key).map(|p| p.generation) != Some(generation) {
                continue;
            }
            if let Some(p) = self.remove(&key) {
                summary.fragments_dropped += p.frames.len() as u64;
                problems.push(ProblemKind::FragmentCapHit {
                    cap,
                    frames: p.frames,
                });
            }
        }
    }

    /// Incomplete datagrams left at the end of the capture.
    pub fn finish(&mut self, summary: &mut CaptureSummary, problems: &mut Vec<ProblemKind>) {
        self.expire(u64::MAX, summary, problems);
    }
}

/// Whether the new fragment disagrees with bytes or with a total length already received.
fn conflicts(p: &Pending, frag: &Fragment<'_>, end: usize) -> bool {
    if let Some(total) = p.total {
        if end > total || (!frag.more && end != total) {
            return true;
        }
    } else if !frag.more && p.have.last().is_some_and(|&(_, e)| e > end) {
        return true;
    }
    p.have.iter().any(|&(s, e)| {
        let (lo, hi) = (s.max(frag.offset), e.min(end));
        lo < hi && p.buf.get(lo..hi) != frag.data.get(lo - frag.offset..hi - frag.offset)
    })
}

fn covered(have: &[(usize, usize)], start: usize, end: usize) -> bool {
    have.iter().any(|&(s, e)| s <= start && end <= e)
}

fn insert_range(have: &mut Vec<(usize, usize)>, start: usize, end: usize) {
    have.push((start, end));
    have.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(have.len());
    for &(s, e) in have.iter() {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    *have = merged;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: Ipv4Addr::new(10, 0, 0, 1).into(),
            dst: Ipv4Addr::new(10, 0, 0, 2).into(),
            id,
            proto: 17,
        }
    }

    fn frag(offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment { offset, more, data }
    }

    type Done = Option<(Vec<u8>, Vec<u64>)>;

    /// Feeds (offset, more, data, frame) pieces of datagram 1; returns what completed last.
    fn feed(pieces: &[(usize, bool, &[u8], u64)]) -> (Done, CaptureSummary, Vec<ProblemKind>) {
        let mut d = Defragmenter::new(Limits::default());
        let (mut s, mut p) = (CaptureSummary::default(), Vec::new());
        let mut done = None;
        for &(offset, more, data, frame) in pieces {
            done = d.push(key(1), frag(offset, more, data), 0, frame, &mut s, &mut p);
        }
        (done, s, p)
    }

    #[test]
    fn out_of_order_and_duplicated_fragments_reassemble() {
        let (done, s, p) = feed(&[
            (16, false, b"cccc", 3),
            (8, true, b"bbbbbbbb", 2),
            (8, true, b"bbbbbbbb", 4),
            (0, true, b"aaaaaaaa", 1),
        ]);
        let (data, frames) = done.unwrap();
        assert_eq!(data, b"aaaaaaaabbbbbbbbcccc");
        assert_eq!(frames, vec![3, 2, 4, 1]);
        assert_eq!(s.fragments_duplicate, 1);
        assert!(p.is_empty());
    }

    #[test]
    fn overlap_with_different_bytes_drops_the_datagram() {
        let (done, _, p) = feed(&[
            (0, true, b"aaaaaaaa", 1),
            (0, true, b"aaaaXXXXdddd", 2),
            (8, false, b"bbbb", 3),
        ]);
        assert!(done.is_none());
        assert_eq!(p, vec![ProblemKind::FragmentOverlap { frames: vec![1, 2] }]);
    }

    #[test]
    fn caps_and_timeouts_are_reported() {
        let limits = Limits {
            max_pending_datagrams: 2,
            ..Limits::default()
        };
        let mut d = Defragmenter::new(limits);
        let (mut s, mut p) = (CaptureSummary::default(), Vec::new());
        for id in 0..3 {
            d.push(
                key(id),
                frag(0, true, b"aaaaaaaa"),
                10,
                u64::from(id) + 1,
                &mut s,
                &mut p,
            );
        }
        assert_eq!(
            p,
            vec![ProblemKind::FragmentCapHit {
                cap: "pending datagrams",
                frames: vec![1]
            }]
        );
        p.clear();
        d.expire(100, &mut s, &mut p);
        assert_eq!(p.len(), 2);
        assert!(matches!(&p[0], ProblemKind::FragmentTimeout { frames } if frames == &[2]));
        let too_far = vec![0u8; 16];
        d.push(key(9), frag(65528, true, &too_far), 100, 9, &mut s, &mut p);
        assert!(matches!(
            p.last(),
            Some(ProblemKind::FragmentTooLarge { .. })
        ));
    }
}
