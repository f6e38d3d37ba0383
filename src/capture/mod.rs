//! Captures: reading pcap and pcapng, decoding link layers, reassembling IP fragments and TCP
//! streams, and writing messages back as pcap.
//!
//! The core is sans-IO: a [`Decoder`] takes one captured [`Frame`] at a time and pushes
//! [`CaptureEvent`]s (UDP datagram payloads that look like SIP, in-order TCP byte chunks, gaps,
//! problems), each with its [`CaptureOrigin`]. [`CaptureReader`] is the I/O adapter that reads a file or
//! stdin with constant memory and feeds the decoder; the stream framer turns `StreamData` into
//! messages. Every limit ([`Limits`]) is enforced and reported, so memory does not grow with the
//! capture, and hostile records become [`Problem`]s with their frame number, never panics.

mod decode;
mod defrag;
mod link;
mod reader;
mod tcp;
pub mod writer;

pub use decode::{looks_like_sip, Decoder, Frame};
pub use reader::{sniff_format, CaptureFormat, CaptureReader};
pub use writer::{PcapOut, WriteError};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;

/// Capture time: seconds since the epoch and nanoseconds, as the record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Timestamp {
    pub secs: u64,
    pub nanos: u32,
}

impl Timestamp {
    pub fn from_duration(d: std::time::Duration) -> Self {
        Self {
            secs: d.as_secs(),
            nanos: d.subsec_nanos(),
        }
    }

    pub fn as_duration(self) -> std::time::Duration {
        std::time::Duration::new(self.secs, self.nanos)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.secs, self.nanos)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpProtocol {
    Udp,
    Tcp,
}

impl IpProtocol {
    /// The name in reports (what the `Serialize` derive writes).
    pub fn as_str(self) -> &'static str {
        match self {
            IpProtocol::Udp => "udp",
            IpProtocol::Tcp => "tcp",
        }
    }
}

/// Where a message (or a chunk of a TCP stream) came from in the capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptureOrigin {
    /// Frame numbers (1-based, as tshark counts them) of every record that carried these bytes:
    /// all fragments of a reassembled datagram, every segment of a stream chunk.
    pub frames: Vec<u64>,
    /// Time of the record that completed these bytes.
    pub timestamp: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub transport: IpProtocol,
}

/// One direction of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct FlowId {
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.src, self.dst)
    }
}

/// What the decoder produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CaptureEvent {
    /// A UDP payload whose first line is a SIP start line: one message candidate.
    Datagram {
        origin: CaptureOrigin,
        payload: Vec<u8>,
    },
    /// The next in-order bytes of a TCP flow carrying SIP.
    StreamData {
        flow: FlowId,
        origin: CaptureOrigin,
        bytes: Vec<u8>,
    },
    /// Bytes of a flow that were never captured: whatever message spans them is incomplete.
    /// `offset` is the stream offset (bytes delivered so far) where the hole starts.
    StreamGap {
        flow: FlowId,
        frame: u64,
        offset: u64,
        missing: u64,
    },
    /// The flow ended (FIN, RST, eviction or end of capture); a framer flushes what it holds.
    StreamEnd {
        flow: FlowId,
        frame: u64,
    },
    Problem(Problem),
}

/// Something in the capture that could not be read as it claims to be, with its frame number
/// (0 for the file header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("frame {frame}: {kind}")]
pub struct Problem {
    pub frame: u64,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProblemKind {
    #[error("capture ends inside a record: {detail}")]
    TruncatedFile { detail: String },
    #[error("record refused by the capture format reader: {detail}")]
    BadRecord { detail: String },
    #[error("record cut short by the capture's snap length ({captured} of {original} bytes) in the {layer} header")]
    TruncatedRecord {
        layer: Layer,
        captured: u32,
        original: u32,
    },
    #[error("{layer} length field says {claimed} bytes but {available} are present")]
    LyingLength {
        layer: Layer,
        claimed: usize,
        available: usize,
    },
    #[error("malformed {layer} header: {detail}")]
    Malformed { layer: Layer, detail: &'static str },
    #[error("link type {linktype} is not supported (reported once per link type)")]
    UnknownLinkType { linktype: u32 },
    #[error("pcapng packet names interface {interface}, which was never described")]
    UnknownInterface { interface: u32 },
    #[error("fragment overlaps earlier bytes of datagram with different content; datagram dropped (frames {frames:?})")]
    FragmentOverlap { frames: Vec<u64> },
    #[error("reassembled datagram would exceed {limit} bytes; dropped (frames {frames:?})")]
    FragmentTooLarge { limit: usize, frames: Vec<u64> },
    #[error("fragments of an incomplete datagram timed out (frames {frames:?})")]
    FragmentTimeout { frames: Vec<u64> },
    #[error(
        "fragment cap hit ({cap}); the oldest incomplete datagram was dropped (frames {frames:?})"
    )]
    FragmentCapHit { cap: &'static str, frames: Vec<u64> },
    #[error("TCP flow {flow} overlaps its own pending bytes with different content; the first copy is kept")]
    TcpOverlapConflict { flow: FlowId },
    #[error("TCP flow cap ({max}) reached; segment of new flow {flow} ignored")]
    TcpFlowCapHit { max: usize, flow: FlowId },
    #[error("TCP flow {flow} carries TLS; its SIP cannot be read and is skipped")]
    TlsFlow { flow: FlowId },
    #[error("IPv6 jumbogram or ESP payload cannot be read")]
    Unreadable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Link,
    Ipv4,
    Ipv6,
    Udp,
    Tcp,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Link => "link",
            Layer::Ipv4 => "IPv4",
            Layer::Ipv6 => "IPv6",
            Layer::Udp => "UDP",
            Layer::Tcp => "TCP",
        })
    }
}

/// Opening a capture failed: nothing can be read from it.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot read the capture: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a pcap or pcapng capture (magic {0:02x?})")]
    NotACapture([u8; 4]),
    #[error("bad capture header: {0}")]
    BadHeader(String),
}

/// Bounds that keep memory constant whatever the capture holds. Times are capture time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_pending_datagrams: usize,
    pub max_fragment_bytes: usize,
    pub fragment_timeout_secs: u64,
    pub max_tcp_flows: usize,
    /// Out-of-order bytes held per flow before the hole is declared a gap.
    pub max_tcp_pending_bytes: usize,
    pub tcp_idle_timeout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pending_datagrams: 1024,
            max_fragment_bytes: 16 << 20,
            fragment_timeout_secs: 30,
            max_tcp_flows: 4096,
            max_tcp_pending_bytes: 256 << 10,
            tcp_idle_timeout_secs: 300,
        }
    }
}

/// Counts for the end-of-run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CaptureSummary {
    pub frames: u64,
    pub frames_not_ip: u64,
    pub frames_unknown_link: u64,
    pub udp_datagrams: u64,
    pub udp_sip_datagrams: u64,
    pub udp_not_sip: u64,
    pub tcp_segments: u64,
    pub tcp_flows: u64,
    pub tcp_sip_flows: u64,
    pub tcp_retransmitted_segments: u64,
    pub tcp_gaps: u64,
    pub tcp_gap_bytes: u64,
    pub tcp_bytes_not_sip: u64,
    pub tls_flows: u64,
    pub tls_bytes: u64,
    pub fragments: u64,
    pub fragments_duplicate: u64,
    pub datagrams_reassembled: u64,
    pub fragments_dropped: u64,
    pub problems: u64,
}

impl fmt::Display for CaptureSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frames {}; UDP datagrams {} (SIP {}); TCP segments {} in {} flows (SIP flows {}, \
             retransmitted {}); IP datagrams reassembled {} from {} fragments; TCP gaps {} \
             ({} bytes); TLS flows skipped {} ({} bytes); records refused {}",
            self.frames,
            self.udp_datagrams,
            self.udp_sip_datagrams,
            self.tcp_segments,
            self.tcp_flows,
            self.tcp_sip_flows,
            self.tcp_retransmitted_segments,
            self.datagrams_reassembled,
            self.fragments,
            self.tcp_gaps,
            self.tcp_gap_bytes,
            self.tls_flows,
            self.tls_bytes,
            self.problems
        )
    }
}
