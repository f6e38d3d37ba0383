//! Writing messages back as a pcap that Wireshark and tshark read: Ethernet, IPv4 or IPv6, UDP
//! or TCP, with correct lengths and checksums, the original timestamps and addresses.
//!
//! UDP messages become one datagram each, fragmented at the MTU when one is given. TCP messages
//! are laid end to end per direction with sequence numbers recomputed, since signing and
//! encryption make messages longer than the segments they came in.

use super::{CaptureOrigin, FlowId, IpProtocol};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapTsResolution, PcapWriteError, PcapWriter};
use pcap_file::DataLink;
use pnet_packet::ip::IpNextHeaderProtocol;
use pnet_packet::util::{checksum, ipv4_checksum, ipv6_checksum};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};

const SNAPLEN: u32 = 262_144;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_IPV6_FRAGMENT: u8 = 44;
/// Largest IP payload a datagram can carry (16-bit length fields).
const MAX_IP_PAYLOAD: usize = 65_535 - 40 - 8;
/// TCP payload per segment when no MTU is given.
const DEFAULT_SEGMENT: usize = 32_768;
/// Arbitrary but fixed, so written captures are reproducible.
const INITIAL_SEQUENCE: u32 = 1_000;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x10;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write the capture: {0}")]
    Pcap(#[from] PcapWriteError),
    #[error("source and destination are of different address families ({0} -> {1})")]
    MixedFamilies(SocketAddr, SocketAddr),
    #[error("MTU {0} is too small to carry IP fragments")]
    MtuTooSmall(usize),
    #[error("a {0}-byte message does not fit in one UDP datagram")]
    TooLarge(usize),
    #[error("record refused by the pcap writer: {0}")]
    Record(#[from] pcap_file::pcap::PcapValidationError),
}

/// Writes messages as an Ethernet pcap with nanosecond timestamps.
pub struct PcapOut<W: Write> {
    out: PcapWriter<W>,
    mtu: Option<usize>,
    ip_id: u32,
    next_seq: HashMap<FlowId, u32>,
}

impl<W: Write> PcapOut<W> {
    /// `mtu`: fragment UDP datagrams and segment TCP streams to fit it (IP header included).
    pub fn new(w: W, mtu: Option<usize>) -> Result<Self, WriteError> {
        if let Some(m) = mtu {
            if m < 68 + 40 {
                return Err(WriteError::MtuTooSmall(m));
            }
        }
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            snaplen: SNAPLEN,
            ts_resolution: PcapTsResolution::NanoSecond,
            ..Default::default()
        };
        Ok(Self {
            out: PcapWriter::with_header(w, header)?,
            mtu,
            ip_id: 0,
            next_seq: HashMap::new(),
        })
    }

    /// Writes one message with the addresses, transport and time of its origin.
    pub fn write(&mut self, origin: &CaptureOrigin, message: &[u8]) -> Result<(), WriteError> {
        let ts = origin.timestamp.as_duration();
        self.ip_id = self.ip_id.wrapping_add(1);
        let frames = match origin.transport {
            IpProtocol::Udp => udp_frames(origin.src, origin.dst, message, self.ip_id, self.mtu)?,
            IpProtocol::Tcp => {
                let flow = FlowId {
                    src: origin.src,
                    dst: origin.dst,
                };
                let back = FlowId {
                    src: origin.dst,
                    dst: origin.src,
                };
                let ack = self.next_seq.get(&back).copied();
                let seq = self.next_seq.entry(flow).or_insert(INITIAL_SEQUENCE);
                let mss = self.mtu.map_or(DEFAULT_SEGMENT, |m| m - 60);
                let mut frames = Vec::new();
                for chunk in message.chunks(mss) {
                    let flags = TCP_PSH | if ack.is_some() { TCP_ACK } else { 0 };
                    frames.push(tcp_frame(
                        origin.src,
                        origin.dst,
                        *seq,
                        ack.unwrap_or(0),
                        flags,
                        chunk,
                    )?);
                    *seq = seq.wrapping_add(chunk.len() as u32);
                }
                frames
            }
        };
        for frame in frames {
            let packet = PcapPacket::new(ts, frame.len() as u32, frame.as_slice())?;
            self.out.write_packet(&packet)?;
        }
        Ok(())
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner()
    }
}

/// One UDP datagram as Ethernet frames: one frame, or IP fragments of at most `mtu` bytes.
pub fn udp_frames(
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
    ip_id: u32,
    mtu: Option<usize>,
) -> Result<Vec<Vec<u8>>, WriteError> {
    if payload.len() + 8 > MAX_IP_PAYLOAD {
        return Err(WriteError::TooLarge(payload.len()));
    }
    let mut seg = Vec::with_capacity(payload.len() + 8);
    seg.extend_from_slice(&src.port().to_be_bytes());
    seg.extend_from_slice(&dst.port().to_be_bytes());
    seg.extend_from_slice(&((payload.len() + 8) as u16).to_be_bytes());
    seg.extend_from_slice(&[0, 0]);
    seg.extend_from_slice(payload);
    let sum = match transport_checksum(&seg, 3, src, dst, PROTO_UDP)? {
        0 => 0xffff,
        s => s,
    };
    seg[6..8].copy_from_slice(&sum.to_be_bytes());
    ip_frames(src.ip(), dst.ip(), PROTO_UDP, &seg, ip_id, mtu)
}

/// One TCP segment (no options) as an Ethernet frame.
pub fn tcp_frame(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Result<Vec<u8>, WriteError> {
    let mut seg = Vec::with_capacity(payload.len() + 20);
    seg.extend_from_slice(&src.port().to_be_bytes());
    seg.extend_from_slice(&dst.port().to_be_bytes());
    seg.extend_from_slice(&seq.to_be_bytes());
    seg.extend_from_slice(&ack.to_be_bytes());
    seg.extend_from_slice(&[5 << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    seg.extend_from_slice(payload);
    let sum = transport_checksum(&seg, 8, src, dst, PROTO_TCP)?;
    seg[16..18].copy_from_slice(&sum.to_be_bytes());
    let mut frames = ip_frames(src.ip(), dst.ip(), PROTO_TCP, &seg, 0, None)?;
    frames.pop().ok_or(WriteError::TooLarge(payload.len()))
}

fn transport_checksum(
    seg: &[u8],
    skipword: usize,
    src: SocketAddr,
    dst: SocketAddr,
    proto: u8,
) -> Result<u16, WriteError> {
    let p = IpNextHeaderProtocol(proto);
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ok(ipv4_checksum(seg, skipword, &[], &s, &d, p)),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ok(ipv6_checksum(seg, skipword, &[], &s, &d, p)),
        _ => Err(WriteError::MixedFamilies(src, dst)),
    }
}

/// IP packets (in Ethernet frames) carrying `seg`, fragmented when it exceeds the MTU.
fn ip_frames(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    seg: &[u8],
    id: u32,
    mtu: Option<usize>,
) -> Result<Vec<Vec<u8>>, WriteError> {
    let (header, frag_header) = if src.is_ipv4() { (20, 0) } else { (40, 8) };
    let fits = mtu.is_none_or(|m| header + seg.len() <= m);
    if fits {
        return Ok(vec![ip_packet(src, dst, proto, seg, None, id)]);
    }
    let mtu = mtu.unwrap_or(usize::MAX);
    let per = (mtu - header - frag_header) & !7;
    let mut frames = Vec::new();
    let mut offset = 0;
    for chunk in seg.chunks(per) {
        let more = offset + chunk.len() < seg.len();
        frames.push(ip_packet(src, dst, proto, chunk, Some((offset, more)), id));
        offset += chunk.len();
    }
    Ok(frames)
}

fn ip_packet(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    data: &[u8],
    frag: Option<(usize, bool)>,
    id: u32,
) -> Vec<u8> {
    let mut f = Vec::with_capacity(data.len() + 62);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            f.extend_from_slice(&[0x08, 0x00]);
            let (offset, more) = frag.unwrap_or((0, false));
            let flags_offset = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
            let mut h = [0u8; 20];
            h[0] = 0x45;
            h[2..4].copy_from_slice(&((20 + data.len()) as u16).to_be_bytes());
            h[4..6].copy_from_slice(&(id as u16).to_be_bytes());
            h[6..8].copy_from_slice(&flags_offset.to_be_bytes());
            h[8] = 64;
            h[9] = proto;
            h[12..16].copy_from_slice(&s.octets());
            h[16..20].copy_from_slice(&d.octets());
            let sum = checksum(&h, 5);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
            f.extend_from_slice(&h);
        }
        _ => {
            let (s, d) = (v6(src), v6(dst));
            f.extend_from_slice(&[0x86, 0xdd]);
            let ext = if frag.is_some() { 8 } else { 0 };
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&((ext + data.len()) as u16).to_be_bytes());
            f.push(if frag.is_some() {
                PROTO_IPV6_FRAGMENT
            } else {
                proto
            });
            f.push(64);
            f.extend_from_slice(&s);
            f.extend_from_slice(&d);
            if let Some((offset, more)) = frag {
                f.extend_from_slice(&[proto, 0]);
                f.extend_from_slice(&(offset as u16 | u16::from(more)).to_be_bytes());
                f.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
    f.extend_from_slice(data);
    f
}

/// Mixed families never reach here (the checksum refuses them first); a v4 address in a v6
/// packet is written mapped.
fn v6(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}
