//! Link layers: strip the link header and say which network protocol follows.

use pnet_packet::ethernet::EthernetPacket;
use pnet_packet::sll::SLLPacket;
use pnet_packet::sll2::SLL2Packet;

pub(crate) const LINKTYPE_NULL: u32 = 0;
pub(crate) const LINKTYPE_ETHERNET: u32 = 1;
pub(crate) const LINKTYPE_RAW: u32 = 101;
pub(crate) const LINKTYPE_LOOP: u32 = 108;
pub(crate) const LINKTYPE_LINUX_SLL: u32 = 113;
pub(crate) const LINKTYPE_IPV4: u32 = 228;
pub(crate) const LINKTYPE_IPV6: u32 = 229;
pub(crate) const LINKTYPE_LINUX_SLL2: u32 = 276;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
/// More tags than this is not a real frame.
const MAX_VLAN_TAGS: usize = 4;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Network<'a> {
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    /// ARP, LLDP and the like: nothing for us, not a problem either.
    Other,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LinkError {
    /// The record ends inside the link header.
    Short,
    Unknown,
}

pub(crate) fn strip(linktype: u32, data: &[u8]) -> Result<Network<'_>, LinkError> {
    match linktype {
        LINKTYPE_ETHERNET => ethernet(data),
        LINKTYPE_LINUX_SLL => {
            // ARPHRD 772 (loopback) and 1 (Ethernet) both carry an Ethertype in the protocol field.
            // pnet's SLL minimum size is too small for its own getters: check first.
            let p =
                SLLPacket::new(data.get(..16).ok_or(LinkError::Short)?).ok_or(LinkError::Short)?;
            Ok(by_ethertype(
                p.get_protocol().0,
                data.get(16..).unwrap_or_default(),
            ))
        }
        LINKTYPE_LINUX_SLL2 => {
            let p =
                SLL2Packet::new(data.get(..20).ok_or(LinkError::Short)?).ok_or(LinkError::Short)?;
            Ok(by_ethertype(
                p.get_protocol_type().0,
                data.get(20..).unwrap_or_default(),
            ))
        }
        LINKTYPE_RAW | LINKTYPE_IPV4 | LINKTYPE_IPV6 => Ok(by_version(data)),
        LINKTYPE_NULL => {
            let h: [u8; 4] = data
                .get(..4)
                .ok_or(LinkError::Short)?
                .try_into()
                .unwrap_or_default();
            // Host byte order of the writer, unknown to us: the family is small either way.
            let le = u32::from_le_bytes(h);
            let family = if le < 256 { le } else { u32::from_be_bytes(h) };
            Ok(by_family(family, &data[4..]))
        }
        LINKTYPE_LOOP => {
            let h: [u8; 4] = data
                .get(..4)
                .ok_or(LinkError::Short)?
                .try_into()
                .unwrap_or_default();
            Ok(by_family(u32::from_be_bytes(h), &data[4..]))
        }
        _ => Err(LinkError::Unknown),
    }
}

fn ethernet(data: &[u8]) -> Result<Network<'_>, LinkError> {
    let eth = EthernetPacket::new(data).ok_or(LinkError::Short)?;
    let mut ethertype = eth.get_ethertype().0;
    let mut at = 14;
    let mut tags = 0;
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        tags += 1;
        if tags > MAX_VLAN_TAGS {
            return Ok(Network::Other);
        }
        let tag = data.get(at..at + 4).ok_or(LinkError::Short)?;
        ethertype = u16::from_be_bytes([tag[2], tag[3]]);
        at += 4;
    }
    Ok(by_ethertype(ethertype, &data[at..]))
}

fn by_ethertype(ethertype: u16, rest: &[u8]) -> Network<'_> {
    match ethertype {
        ETHERTYPE_IPV4 => Network::Ipv4(rest),
        ETHERTYPE_IPV6 => Network::Ipv6(rest),
        _ => Network::Other,
    }
}

fn by_version(data: &[u8]) -> Network<'_> {
    match data.first().map(|b| b >> 4) {
        Some(4) => Network::Ipv4(data),
        Some(6) => Network::Ipv6(data),
        _ => Network::Other,
    }
}

/// BSD address families: AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30 depending on the OS.
fn by_family(family: u32, rest: &[u8]) -> Network<'_> {
    match family {
        2 => Network::Ipv4(rest),
        24 | 28 | 30 => Network::Ipv6(rest),
        _ => Network::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_with_qinq_tags() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x08, 0x00, 0x45]);
        assert_eq!(strip(LINKTYPE_ETHERNET, &f), Ok(Network::Ipv4(&[0x45][..])));
        // A tag cut short is a short record, not a panic.
        assert_eq!(strip(LINKTYPE_ETHERNET, &f[..16]), Err(LinkError::Short));
    }

    #[test]
    fn sll_loopback_and_null_both_orders() {
        let mut sll = vec![0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xdd];
        sll.push(0x60);
        assert_eq!(
            strip(LINKTYPE_LINUX_SLL, &sll),
            Ok(Network::Ipv6(&[0x60][..]))
        );
        assert_eq!(
            strip(LINKTYPE_NULL, &[2, 0, 0, 0, 0x45]),
            Ok(Network::Ipv4(&[0x45][..]))
        );
        assert_eq!(
            strip(LINKTYPE_NULL, &[0, 0, 0, 30, 0x60]),
            Ok(Network::Ipv6(&[0x60][..]))
        );
        assert_eq!(strip(LINKTYPE_LOOP, &[0, 0]), Err(LinkError::Short));
        assert_eq!(strip(147, &[0; 40]), Err(LinkError::Unknown));
    }
}
