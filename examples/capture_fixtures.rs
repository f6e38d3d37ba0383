//! Writes the hand-built captures of `testdata/captures/` (what loopback cannot produce):
//! `cargo run --example capture_fixtures -- testdata/captures`.
//! The output is deterministic; `tests/capture.rs` checks it against tshark.

use anyhow::Result;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use sipsec::capture::writer::{tcp_frame, udp_frames, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

const T0: u64 = 1_700_000_000;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("literal address")
}

/// A SIP request with a body of `body` bytes, so that it can exceed the MTU.
fn request(call: &str, cseq: u32, body: usize) -> Vec<u8> {
    let mut m = format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{call}{cseq}\r\n\
         From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: {call}\r\n\
         CSeq: {cseq} INVITE\r\nMax-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: {body}\r\n\r\n"
    )
    .into_bytes();
    m.extend((0..body).map(|i| b'a' + (i % 26) as u8));
    m
}

fn pcap(path: &Path, frames: &[Vec<u8>]) -> Result<()> {
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        snaplen: 262_144,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header)?;
    for (i, f) in frames.iter().enumerate() {
        w.write_packet(&PcapPacket::new(
            Duration::from_secs(T0 + i as u64),
            f.len() as u32,
            f.as_slice(),
        )?)?;
    }
    std::fs::write(path, w.into_inner())?;
    Ok(())
}

/// Inserts VLAN tags (TPID, TCI pairs) after the MAC addresses.
fn tagged(frame: &[u8], tags: &[(u16, u16)]) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&frame[12..]);
    f
}

fn fragments(dir: &Path) -> Result<()> {
    for (name, a, b, mtu) in [
        ("frag-ipv4.pcap", "192.0.2.1:5060", "192.0.2.2:5060", 576),
        (
            "frag-ipv6.pcap",
            "[2001:db8::1]:5060",
            "[2001:db8::2]:5060",
            1280,
        ),
    ] {
        let (a, b) = (addr(a), addr(b));
        let mut frames = udp_frames(a, b, &request("frag-small", 1, 10), 1, None)?;
        frames.extend(udp_frames(
            a,
            b,
            &request("frag-in-order", 1, 3000),
            2,
            Some(mtu),
        )?);
        let mut reversed = udp_frames(a, b, &request("frag-reversed", 2, 3000), 3, Some(mtu))?;
        reversed.reverse();
        let dup = reversed[1].clone();
        reversed.insert(2, dup);
        frames.extend(reversed);
        // Interleaved with a datagram of another id.
        let x = udp_frames(a, b, &request("frag-x", 3, 2000), 4, Some(mtu))?;
        let y = udp_frames(a, b, &request("frag-y", 4, 2000), 5, Some(mtu))?;
        for (fx, fy) in x.into_iter().zip(y) {
            frames.push(fy);
            frames.push(fx);
        }
        pcap(&dir.join(name), &frames)?;
    }
    Ok(())
}

fn vlan(dir: &Path) -> Result<()> {
    let mut frames = Vec::new();
    for (a, b, call, tags) in [
        (
            "192.0.2.1:5060",
            "192.0.2.2:5080",
            "vlan-dot1q",
            &[(0x8100, 100)][..],
        ),
        (
            "[2001:db8::1]:5060",
            "[2001:db8::2]:5080",
            "vlan-qinq",
            &[(0x88a8, 10), (0x8100, 200)][..],
        ),
    ] {
        let f = udp_frames(addr(a), addr(b), &request(call, 1, 0), 1, None)?;
        frames.push(tagged(&f[0], tags));
    }
    pcap(&dir.join("vlan.pcap"), &frames)
}

fn tcp(dir: &Path) -> Result<()> {
    let (c, s) = (addr("192.0.2.1:40000"), addr("192.0.2.2:5060"));
    let split = request("tcp-split-three", 1, 200);
    let three: Vec<u8> = (1..=3)
        .flat_map(|i| request(&format!("tcp-three-{i}"), i, 20))
        .collect();
    let late = request("tcp-out-of-order", 1, 50);
    let (late_a, late_b) = late.split_at(120);
    let data = TCP_ACK | TCP_PSH;
    let mut seq = 1000u32;
    let mut frames = vec![
        tcp_frame(c, s, seq, 0, TCP_SYN, b"")?,
        tcp_frame(s, c, 5000, seq + 1, TCP_SYN | TCP_ACK, b"")?,
    ];
    seq += 1;
    // One message over three segments.
    for part in [&split[..100], &split[100..250], &split[250..]] {
        frames.push(tcp_frame(c, s, seq, 5001, data, part)?);
        seq += part.len() as u32;
    }
    // Three messages in one segment, then its retransmission.
    let three_seg = tcp_frame(c, s, seq, 5001, data, &three)?;
    frames.push(three_seg.clone());
    frames.push(three_seg);
    seq += three.len() as u32;
    // The second half of a message arrives before the first.
    frames.push(tcp_frame(
        c,
        s,
        seq + late_a.len() as u32,
        5001,
        data,
        late_b,
    )?);
    frames.push(tcp_frame(c, s, seq, 5001, data, late_a)?);
    seq += late.len() as u32;
    let reply = b"SIP/2.0 200 OK\r\nCall-ID: tcp-split-three\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    frames.push(tcp_frame(s, c, 5001, seq, data, reply)?);
    frames.push(tcp_frame(
        c,
        s,
        seq,
        5001 + reply.len() as u32,
        TCP_ACK | TCP_FIN,
        b"",
    )?);
    pcap(&dir.join("tcp-segments.pcap"), &frames)
}

/// Bad records between good ones; the file then ends inside a record.
fn malformed(dir: &Path) -> Result<()> {
    let (a, b) = (addr("192.0.2.1:5060"), addr("192.0.2.2:5060"));
    let good = |call: &str| -> Result<Vec<u8>> {
        Ok(udp_frames(a, b, &request(call, 1, 0), 1, None)?.remove(0))
    };
    let mut ip_lies = good("bad-ip-length")?;
    ip_lies[16..18].copy_from_slice(&4000u16.to_be_bytes());
    let mut udp_lies = good("bad-udp-length")?;
    udp_lies[38..40].copy_from_slice(&4000u16.to_be_bytes());
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        snaplen: 262_144,
        ..Default::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header)?;
    let records: Vec<(Vec<u8>, u32)> = vec![
        (good("good-before")?, 0),
        // Cut by the snap length inside the IP header.
        (good("cut-by-snaplen")?[..30].to_vec(), 0),
        (ip_lies, 0),
        (udp_lies, 0),
        (good("good-after")?, 0),
        (good("cut-by-end-of-file")?, 0),
    ];
    for (i, (f, _)) in records.iter().enumerate() {
        let orig = if i == 1 {
            f.len() as u32 + 400
        } else {
            f.len() as u32
        };
        w.write_packet(&PcapPacket::new(
            Duration::from_secs(T0 + i as u64),
            orig,
            f.as_slice(),
        )?)?;
    }
    let mut bytes = w.into_inner();
    bytes.truncate(bytes.len() - 40);
    std::fs::write(dir.join("malformed.pcap"), bytes)?;
    Ok(())
}

/// Three interfaces of different link types in one pcapng.
fn multi_link(dir: &Path) -> Result<()> {
    let mut w = PcapNgWriter::new(Vec::new())?;
    for lt in [DataLink::ETHERNET, DataLink::RAW, DataLink::LINUX_SLL] {
        w.write_pcapng_block(InterfaceDescriptionBlock::new(lt, 0))?;
    }
    let eth = udp_frames(
        addr("192.0.2.1:5060"),
        addr("192.0.2.2:5060"),
        &request("ng-ethernet", 1, 0),
        1,
        None,
    )?
    .remove(0);
    let raw = udp_frames(
        addr("[2001:db8::1]:5062"),
        addr("[2001:db8::2]:5062"),
        &request("ng-raw", 1, 0),
        1,
        None,
    )?
    .remove(0)[14..]
        .to_vec();
    // SLL from a loopback device: ARPHRD 772, protocol IPv4.
    let mut sll = vec![0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(
        &udp_frames(
            addr("127.0.0.1:5060"),
            addr("127.0.0.1:5064"),
            &request("ng-sll-loopback", 1, 0),
            1,
            None,
        )?
        .remove(0)[14..],
    );
    for (i, data) in [eth, raw, sll].into_iter().enumerate() {
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: i as u32,
            timestamp: Duration::new(T0 + i as u64, 123_456_000),
            original_len: data.len() as u32,
            data: data.into(),
            options: vec![],
        })?;
    }
    std::fs::write(dir.join("multi-link.pcapng"), w.into_inner())?;
    Ok(())
}

fn main() -> Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "testdata/captures".into());
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir)?;
    fragments(dir)?;
    vlan(dir)?;
    tcp(dir)?;
    malformed(dir)?;
    multi_link(dir)?;
    Ok(())
}
