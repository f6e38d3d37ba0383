//! The sans-IO decoder: one captured frame in, capture events out.

use super::defrag::{Defragmenter, FragKey, Fragment};
use super::link::{self, LinkError, Network};
use super::tcp::{Reassembler, Segment0};
use super::{
    CaptureEvent, CaptureOrigin, CaptureSummary, FlowId, IpProtocol, Layer, Limits, Problem,
    ProblemKind, Timestamp,
};
use crate::message::is_token_char;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One captured record, as the capture file gives it.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based, counting every packet record as tshark does.
    pub number: u64,
    pub linktype: u32,
    pub timestamp: Timestamp,
    pub data: &'a [u8],
    /// Length on the wire; larger than `data` when the snap length cut the record.
    pub orig_len: u32,
}

impl Frame<'_> {
    fn truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.orig_len)
    }
}

/// IPv6 extension headers beyond this many are not a real packet.
const MAX_EXTENSION_HEADERS: usize = 8;

pub struct Decoder {
    summary: CaptureSummary,
    defrag: Defragmenter,
    tcp: Reassembler,
    unknown_links: Vec<u32>,
    problems: Vec<ProblemKind>,
    last_frame: u64,
}

struct Ip {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
}

impl Decoder {
    pub fn new(limits: Limits) -> Self {
        Self {
            summary: CaptureSummary::default(),
            defrag: Defragmenter::new(limits),
            tcp: Reassembler::new(limits),
            unknown_links: Vec::new(),
            problems: Vec::new(),
            last_frame: 0,
        }
    }

    pub fn summary(&self) -> &CaptureSummary {
        &self.summary
    }

    /// Reports a problem found outside the decoder (by the file reader) and counts it.
    pub fn report(&mut self, frame: u64, kind: ProblemKind, out: &mut Vec<CaptureEvent>) {
        self.summary.problems += 1;
        out.push(CaptureEvent::Problem(Problem { frame, kind }));
    }

    /// Counts a record the file reader had to skip, so frame numbers stay tshark's.
    pub fn skip_frame(&mut self) -> u64 {
        self.summary.frames += 1;
        self.summary.frames
    }

    pub fn push(&mut self, frame: &Frame<'_>, out: &mut Vec<CaptureEvent>) {
        self.summary.frames += 1;
        self.last_frame = frame.number;
        match link::strip(frame.linktype, frame.data) {
            Ok(Network::Ipv4(ip)) => self.ipv4(frame, ip, out),
            Ok(Network::Ipv6(ip)) => self.ipv6(frame, ip, out),
            Ok(Network::Other) => self.summary.frames_not_ip += 1,
            Err(LinkError::Short) => self.short(
                frame,
                Layer::Link,
                "record shorter than its link header",
                out,
            ),
            Err(LinkError::Unknown) => {
                self.summary.frames_unknown_link += 1;
                if !self.unknown_links.contains(&frame.linktype) {
                    self.unknown_links.push(frame.linktype);
                    self.report(
                        frame.number,
                        ProblemKind::UnknownLinkType {
                            linktype: frame.linktype,
                        },
                        out,
                    );
                }
            }
        }
    }

    /// Flushes what is still held: incomplete datagrams become problems, open flows end.
    pub fn finish(&mut self, out: &mut Vec<CaptureEvent>) {
        self.defrag.finish(&mut self.summary, &mut self.problems);
        self.flush_problems(self.last_frame, out);
        self.tcp.finish(self.last_frame, &mut self.summary, out);
    }

    fn flush_problems(&mut self, frame: u64, out: &mut Vec<CaptureEvent>) {
        for kind in self.problems.drain(..) {
            self.summary.problems += 1;
            out.push(CaptureEvent::Problem(Problem { frame, kind }));
        }
    }

    /// A header that does not fit: cut by the snap length, or simply malformed.
    fn short(
        &mut self,
        frame: &Frame<'_>,
        layer: Layer,
        detail: &'static str,
        out: &mut Vec<CaptureEvent>,
    ) {
        let kind = if frame.truncated() {
            ProblemKind::TruncatedRecord {
                layer,
                captured: frame.data.len() as u32,
                original: frame.orig_len,
            }
        } else {
            ProblemKind::Malformed { layer, detail }
        };
        self.report(frame.number, kind, out);
    }

    /// A length field that claims more than the record holds.
    fn lying(
        &mut self,
        frame: &Frame<'_>,
        layer: Layer,
        claimed: usize,
        available: usize,
        out: &mut Vec<CaptureEvent>,
    ) {
        if frame.truncated() {
            return self.short(frame, layer, "", out);
        }
        self.report(
            frame.number,
            ProblemKind::LyingLength {
                layer,
                claimed,
                available,
            },
            out,
        );
    }

    fn ipv4(&mut self, frame: &Frame<'_>, b: &[u8], out: &mut Vec<CaptureEvent>) {
        if b.len() < 20 {
            return self.short(frame, Layer::Ipv4, "shorter than 20 bytes", out);
        }
        let ihl = usize::from(b[0] & 0x0f) * 4;
        if b[0] >> 4 != 4 || ihl < 20 {
            return self.report(
                frame.number,
                ProblemKind::Malformed {
                    layer: Layer::Ipv4,
                    detail: "bad version or header length",
                },
                out,
            );
        }
        let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if ihl > b.len() {
            return self.lying(frame, Layer::Ipv4, ihl, b.len(), out);
        }
        if total < ihl || total > b.len() {
            return self.lying(frame, Layer::Ipv4, total, b.len(), out);
        }
        let ip = Ip {
            src: IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15])),
            dst: IpAddr::V4(Ipv4Addr::new(b[16], b[17], b[18], b[19])),
            proto: b[9],
        };
        // Ethernet padding past the total length is cut off here.
        let payload = &b[ihl..total];
        let flags_offset = u16::from_be_bytes([b[6], b[7]]);
        let more = flags_offset & 0x2000 != 0;
        let offset = usize::from(flags_offset & 0x1fff) * 8;
        if !more && offset == 0 {
            return self.transport(frame, &ip, payload, None, out);
        }
        let key = FragKey {
            src: ip.src,
            dst: ip.dst,
            id: u32::from(u16::from_be_bytes([b[4], b[5]])),
            proto: ip.proto,
        };
        self.fragment(
            frame,
            &ip,
            key,
            Fragment {
                offset,
                more,
                data: payload,
            },
            out,
        );
    }

    fn fragment(
        &mut self,
        frame: &Frame<'_>,
        ip: &Ip,
        key: FragKey,
        frag: Fragment<'_>,
        out: &mut Vec<CaptureEvent>,
    ) {
        let done = self.defrag.push(
            key,
            frag,
            frame.timestamp.secs,
            frame.number,
            &mut self.summary,
            &mut self.problems,
        );
        self.flush_problems(frame.number, out);
        if let Some((payload, frames)) = done {
            self.transport(frame, ip, &payload, Some(frames), out);
        }
    }

    fn ipv6(&mut self, frame: &Frame<'_>, b: &[u8], out: &mut Vec<CaptureEvent>) {
        if b.len() < 40 {
            return self.short(frame, Layer::Ipv6, "shorter than 40 bytes", out);
        }
        if b[0] >> 4 != 6 {
            return self.report(
                frame.number,
                ProblemKind::Malformed {
                    layer: Layer::Ipv6,
                    detail: "bad version",
                },
                out,
            );
        }
        let plen = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if plen == 0 && b[6] == 0 {
            return self.report(frame.number, ProblemKind::Unreadable, out);
        }
        if 40 + plen > b.len() {
            return self.lying(frame, Layer::Ipv6, 40 + plen, b.len(), out);
        }
        let addr = |at: usize| -> IpAddr {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[at..at + 16]);
            IpAddr::V6(Ipv6Addr::from(a))
        };
        let (src, dst) = (addr(8), addr(24));
        let end = 40 + plen;
        let mut next = b[6];
        let mut at = 40;
        for _ in 0..MAX_EXTENSION_HEADERS {
            let h = &b[at.min(end)..end];
            let ext_len = match next {
                0 | 43 | 60 if h.len() >= 2 => (usize::from(h[1]) + 1) * 8,
                51 if h.len() >= 2 => (usize::from(h[1]) + 2) * 4,
                44 if h.len() >= 8 => {
                    let off_flags = u16::from_be_bytes([h[2], h[3]]);
                    let key = FragKey {
                        src,
                        dst,
                        id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                        proto: h[0],
                    };
                    let frag = Fragment {
                        offset: usize::from(off_flags & 0xfff8),
                        more: off_flags & 1 != 0,
                        data: &h[8..],
                    };
                    let ip = Ip {
                        src,
                        dst,
                        proto: h[0],
                    };
                    if frag.offset == 0 && !frag.more {
                        // An atomic fragment (RFC 6946) is a whole datagram.
                        return self.transport(frame, &ip, frag.data, None, out);
                    }
                    return self.fragment(frame, &ip, key, frag, out);
                }
                0 | 43 | 60 | 51 | 44 => {
                    return self.short(
                        frame,
                        Layer::Ipv6,
                        "extension header runs past the payload",
                        out,
                    )
                }
                // ESP and No Next Header carry nothing we can read; anything else is the payload.
                50 | 59 => return self.summary.frames_not_ip += 1,
                proto => return self.transport(frame, &Ip { src, dst, proto }, h, None, out),
            };
            if at + ext_len > end {
                return self.short(
                    frame,
                    Layer::Ipv6,
                    "extension header runs past the payload",
                    out,
                );
            }
            next = h[0];
            at += ext_len;
        }
        self.report(
            frame.number,
            ProblemKind::Malformed {
                layer: Layer::Ipv6,
                detail: "too many extension headers",
            },
            out,
        );
    }

    /// `frames` is set when the payload was reassembled from several records (whose lengths the
    /// reassembler already checked).
    fn transport(
        &mut self,
        frame: &Frame<'_>,
        ip: &Ip,
        b: &[u8],
        frames: Option<Vec<u64>>,
        out: &mut Vec<CaptureEvent>,
    ) {
        let layer = match ip.proto {
            17 => Layer::Udp,
            6 => Layer::Tcp,
            _ => return self.summary.frames_not_ip += 1,
        };
        let min = if layer == Layer::Udp { 8 } else { 20 };
        if b.len() < min {
            return self.short(frame, layer, "transport header cut short", out);
        }
        let port = |at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
        let src = SocketAddr::new(ip.src, port(0));
        let dst = SocketAddr::new(ip.dst, port(2));
        if layer == Layer::Udp {
            let ulen = usize::from(port(4));
            if ulen < 8 {
                return self.report(
                    frame.number,
                    ProblemKind::Malformed {
                        layer,
                        detail: "UDP length below 8",
                    },
                    out,
                );
            }
            if ulen > b.len() {
                return self.lying(frame, layer, ulen, b.len(), out);
            }
            self.summary.udp_datagrams += 1;
            let payload = &b[8..ulen];
            if !looks_like_sip(payload) {
                self.summary.udp_not_sip += 1;
                return;
            }
            self.summary.udp_sip_datagrams += 1;
            out.push(CaptureEvent::Datagram {
                origin: CaptureOrigin {
                    frames: frames.unwrap_or_else(|| vec![frame.number]),
                    timestamp: frame.timestamp,
                    src,
                    dst,
                    transport: IpProtocol::Udp,
                },
                payload: payload.to_vec(),
            });
            return;
        }
        let doff = usize::from(b[12] >> 4) * 4;
        if doff < 20 {
            return self.report(
                frame.number,
                ProblemKind::Malformed {
                    layer,
                    detail: "TCP data offset below 5",
                },
                out,
            );
        }
        if doff > b.len() {
            return self.lying(frame, layer, doff, b.len(), out);
        }
        let flags = b[13];
        let seg = Segment0 {
            flow: FlowId { src, dst },
            seq: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            syn: flags & 0x02 != 0,
            fin_or_rst: flags & 0x05 != 0,
            payload: &b[doff..],
            frame: frame.number,
            ts: frame.timestamp,
        };
        self.tcp.push(seg, &mut self.summary, out);
    }
}

/// Whether the bytes start with a SIP start line (request or status line). Port numbers are never
/// consulted: SIP runs on any port, and other protocols use 5060.
pub fn looks_like_sip(bytes: &[u8]) -> bool {
    const MAX_LINE: usize = 8192;
    let head = &bytes[..bytes.len().min(MAX_LINE)];
    let Some(nl) = memchr::memchr(b'\n', head) else {
        return false;
    };
    let line = head[..nl].strip_suffix(b"\r").unwrap_or(&head[..nl]);
    if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
        return rest.len() >= 3
            && rest[..3].iter().all(u8::is_ascii_digit)
            && rest.get(3).is_none_or(|&c| c == b' ');
    }
    let Some(sp) = memchr::memchr(b' ', line) else {
        return false;
    };
    sp > 0
        && line[..sp].iter().all(|&c| is_token_char(c))
        && line.ends_with(b" SIP/2.0")
        && line.len() > sp + 9
}

#[cfg(test)]
mod tests;
