//! TCP reassembly: per direction, bytes in sequence order, each byte delivered once.
//!
//! Bytes already delivered always win over a retransmission; out-of-order segments wait (bounded
//! per flow) for the hole before them; a hole that does not fill is reported as a gap and skipped.
//! A flow is classified on its first in-order bytes: TLS is counted and skipped, SIP is emitted,
//! anything else is held back until a SIP start line shows up (a flow caught mid-message).

use super::{
    CaptureEvent, CaptureOrigin, CaptureSummary, FlowId, IpProtocol, Limits, Problem, ProblemKind,
    Timestamp,
};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Undecided,
    Sip,
    Tls,
}

struct Segment {
    frame: u64,
    ts: Timestamp,
    data: Vec<u8>,
}

struct Flow {
    /// Sequence number of stream offset 0; `None` until the first segment is seen.
    isn: Option<u32>,
    /// Stream offset of the next byte to deliver.
    next: u64,
    pending: BTreeMap<u64, Segment>,
    pending_bytes: usize,
    kind: Kind,
    /// Bytes of an undecided flow, kept (at most `MAX_HELD`) until it shows SIP or TLS.
    held: Vec<u8>,
    held_frames: Vec<u64>,
    last_seen: u64,
}

/// How much of a flow that has not shown a SIP start line yet is kept, per flow.
const MAX_HELD: usize = 2048;

pub(crate) struct Segment0<'a> {
    pub flow: FlowId,
    pub seq: u32,
    pub syn: bool,
    pub fin_or_rst: bool,
    pub payload: &'a [u8],
    pub frame: u64,
    pub ts: Timestamp,
}

pub(crate) struct Reassembler {
    limits: Limits,
    flows: HashMap<FlowId, Flow>,
    last_sweep: u64,
}

impl Reassembler {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            flows: HashMap::new(),
            last_sweep: 0,
        }
    }

    pub fn push(
        &mut self,
        seg: Segment0<'_>,
        summary: &mut CaptureSummary,
        out: &mut Vec<CaptureEvent>,
    ) {
        summary.tcp_segments += 1;
        let now = seg.ts.secs;
        if now > self.last_sweep {
            self.last_sweep = now;
            self.sweep(now, seg.frame, summary, out);
        }
        if !self.flows.contains_key(&seg.flow) {
            if seg.payload.is_empty() && !seg.syn {
                // A bare ACK or FIN of a flow we do not know: nothing to read.
                return;
            }
            if self.flows.len() >= self.limits.max_tcp_flows {
                problem(
                    summary,
                    out,
                    seg.frame,
                    ProblemKind::TcpFlowCapHit {
                        max: self.limits.max_tcp_flows,
                        flow: seg.flow,
                    },
                );
                return;
            }
            summary.tcp_flows += 1;
            self.flows.insert(
                seg.flow,
                Flow {
                    isn: None,
                    next: 0,
                    pending: BTreeMap::new(),
                    pending_bytes: 0,
                    kind: Kind::Undecided,
                    held: Vec::new(),
                    held_frames: Vec::new(),
                    last_seen: now,
                },
            );
        }
        let Some(flow) = self.flows.get_mut(&seg.flow) else {
            return;
        };
        flow.last_seen = now;
        let isn = *flow.isn.get_or_insert(if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        });
        let data_seq = if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        // Distance from the next expected byte, in a window of ±2 GiB around it.
        let expected = isn.wrapping_add(flow.next as u32);
        let delta = i64::from(data_seq.wrapping_sub(expected) as i32);
        let offset = flow.next as i64 + delta;
        let mut payload = seg.payload;
        let mut offset = offset;
        if offset < flow.next as i64 {
            let already = (flow.next as i64 - offset) as usize;
            if already >= payload.len() {
                if !payload.is_empty() {
                    summary.tcp_retransmitted_segments += 1;
                }
                payload = &[];
            } else {
                payload = &payload[already..];
            }
            offset = flow.next as i64;
        }
        if !payload.is_empty() {
            let offset = offset as u64;
            if let Some(existing) = flow.pending.get(&offset) {
                let n = existing.data.len().min(payload.len());
                if existing.data[..n] != payload[..n] {
                    problem(
                        summary,
                        out,
                        seg.frame,
                        ProblemKind::TcpOverlapConflict { flow: seg.flow },
                    );
                }
                if payload.len() > existing.data.len() {
                    let tail = payload[existing.data.len()..].to_vec();
                    let at = offset + existing.data.len() as u64;
                    flow.pending_bytes += tail.len();
                    flow.pending.entry(at).or_insert(Segment {
                        frame: seg.frame,
                        ts: seg.ts,
                        data: tail,
                    });
                } else {
                    summary.tcp_retransmitted_segments += 1;
                }
            } else {
                flow.pending_bytes += payload.len();
                flow.pending.insert(
                    offset,
                    Segment {
                        frame: seg.frame,
                        ts: seg.ts,
                        data: payload.to_vec(),
                    },
                );
            }
        }
        deliver(flow, seg.flow, summary, out);
        if flow.pending_bytes > self.limits.max_tcp_pending_bytes {
            skip_gap(flow, seg.flow, seg.frame, summary, out);
            deliver(flow, seg.flow, summary, out);
        }
        if seg.fin_or_rst {
            self.close(seg.flow, seg.frame, summary, out);
        }
    }

    fn close(
        &mut self,
        id: FlowId,
        frame: u64,
        summary: &mut CaptureSummary,
        out: &mut Vec<CaptureEvent>,
    ) {
        let Some(mut flow) = self.flows.remove(&id) else {
            return;
        };
        while !flow.pending.is_empty() {
            skip_gap(&mut flow, id, frame, summary, out);
            deliver(&mut flow, id, summary, out);
        }
        summary.tcp_bytes_not_sip += flow.held.len() as u64;
        if flow.kind == Kind::Sip {
            out.push(CaptureEvent::StreamEnd { flow: id, frame });
        }
    }

    /// Closes flows idle for longer than the timeout.
    fn sweep(
        &mut self,
        now: u64,
        frame: u64,
        summary: &mut CaptureSummary,
        out: &mut Vec<CaptureEvent>,
    ) {
        let timeout = self.limits.tcp_idle_timeout_secs;
        let idle: Vec<FlowId> = self
            .flows
            .iter()
            .filter(|(_, f)| now.saturating_sub(f.last_seen) > timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            self.close(id, frame, summary, out);
        }
    }

    pub fn finish(
        &mut self,
        frame: u64,
        summary: &mut CaptureSummary,
        out: &mut Vec<CaptureEvent>,
    ) {
        let mut ids: Vec<FlowId> = self.flows.keys().copied().collect();
        ids.sort_by_key(|id| (id.src, id.dst));
        for id in ids {
            self.close(id, frame, summary, out);
        }
    }
}

fn problem(
    summary: &mut CaptureSummary,
    out: &mut Vec<CaptureEvent>,
    frame: u64,
    kind: ProblemKind,
) {
    summary.problems += 1;
    out.push(CaptureEvent::Problem(Problem { frame, kind }));
}

/// Declares the hole before the first pending segment missing.
fn skip_gap(
    flow: &mut Flow,
    id: FlowId,
    frame: u64,
    summary: &mut CaptureSummary,
    out: &mut Vec<CaptureEvent>,
) {
    let Some((&first, _)) = flow.pending.iter().next() else {
        return;
    };
    if first > flow.next {
        let missing = first - flow.next;
        summary.tcp_gaps += 1;
        summary.tcp_gap_bytes += missing;
        if flow.kind == Kind::Sip {
            out.push(CaptureEvent::StreamGap {
                flow: id,
                frame,
                offset: flow.next,
                missing,
            });
        }
        flow.next = first;
        // Held bytes of an undecided flow cannot join what follows the hole.
        summary.tcp_bytes_not_sip += flow.held.len() as u64;
        flow.held.clear();
        flow.held_frames.clear();
    }
}

/// Emits every pending byte that is now in order, one event per segment so that the framer
/// knows which frame completed each message.
fn deliver(flow: &mut Flow, id: FlowId, summary: &mut CaptureSummary, out: &mut Vec<CaptureEvent>) {
    while let Some(entry) = flow.pending.first_entry() {
        let start = *entry.key();
        if start > flow.next {
            break;
        }
        let mut seg = entry.remove();
        flow.pending_bytes -= seg.data.len();
        let skip = (flow.next - start) as usize;
        if skip >= seg.data.len() {
            continue;
        }
        seg.data.drain(..skip);
        flow.next += seg.data.len() as u64;
        emit(flow, id, seg, summary, out);
    }
}

fn emit(
    flow: &mut Flow,
    id: FlowId,
    seg: Segment,
    summary: &mut CaptureSummary,
    out: &mut Vec<CaptureEvent>,
) {
    let (mut bytes, mut frames) = (seg.data, vec![seg.frame]);
    if flow.kind == Kind::Undecided {
        // Held back until the flow shows what it carries; a start line may span segments.
        let start = flow.next - bytes.len() as u64 - flow.held.len() as u64;
        flow.held.extend_from_slice(&bytes);
        flow.held_frames.push(seg.frame);
        flow.kind = classify(&flow.held, start == 0);
        match flow.kind {
            Kind::Tls => {
                summary.tls_flows += 1;
                problem(
                    summary,
                    out,
                    flow.held_frames[0],
                    ProblemKind::TlsFlow { flow: id },
                );
            }
            Kind::Sip => summary.tcp_sip_flows += 1,
            Kind::Undecided => {
                if flow.held.len() > MAX_HELD {
                    let drop = flow.held.len() - MAX_HELD;
                    flow.held.drain(..drop);
                    summary.tcp_bytes_not_sip += drop as u64;
                    flow.held_frames.drain(..flow.held_frames.len() - 1);
                }
                return;
            }
        }
        bytes = std::mem::take(&mut flow.held);
        frames = std::mem::take(&mut flow.held_frames);
    }
    match flow.kind {
        Kind::Tls => summary.tls_bytes += bytes.len() as u64,
        Kind::Undecided => {}
        Kind::Sip => out.push(CaptureEvent::StreamData {
            flow: id,
            origin: CaptureOrigin {
                frames,
                timestamp: seg.ts,
                src: id.src,
                dst: id.dst,
                transport: IpProtocol::Tcp,
            },
            bytes,
        }),
    }
}

/// TLS shows itself by a record header at the start of the stream: content type 20..=23 and
/// version 3.x. SIP shows itself by its version token anywhere in the chunk, since a flow caught
/// mid-message starts inside a body; the framer resynchronises on the start line.
fn classify(bytes: &[u8], at_start: bool) -> Kind {
    if let [ct @ 20..=23, 3, minor, ..] = bytes {
        if *minor <= 4 && (at_start || *ct == 23) {
            return Kind::Tls;
        }
    }
    if memchr::memmem::find(bytes, b"SIP/2.0").is_some() {
        Kind::Sip
    } else {
        Kind::Undecided
    }
}

#[cfg(test)]
mod tests;
