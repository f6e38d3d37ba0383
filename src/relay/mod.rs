//! `sipsec-relay`: a stateless SIP proxy (RFC 3261 §16.11) and registrar (§10).
//!
//! The routing core ([`core::Relay`]) is sans-IO: it is given a message with where it came
//! from and a clock, and answers with what to send where. [`stdio`] drives it from NDJSON
//! lines; [`net`] is the only module with sockets (UDP, TCP, TLS).

pub mod core;
pub mod net;
pub mod ratelimit;
pub mod registrar;
pub mod stdio;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// A SIP transport (RFC 3261 §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// The token used in Via (`UDP`, `TCP`, `TLS`).
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }

    /// The lower-case name used in URIs and in `udp:host:port` addresses.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }

    pub fn from_token(token: &[u8]) -> Option<Transport> {
        [Transport::Udp, Transport::Tcp, Transport::Tls]
            .into_iter()
            .find(|t| token.eq_ignore_ascii_case(t.name().as_bytes()))
    }

    /// Reliable transports carry responses back on the connection of their request.
    pub fn is_stream(self) -> bool {
        self != Transport::Udp
    }
}

/// Where a message came from or goes to: a transport and a socket address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl Peer {
    pub fn new(transport: Transport, addr: SocketAddr) -> Peer {
        Peer { transport, addr }
    }
}

/// `udp:127.0.0.1:5060`, `tls:[::1]:5061`.
impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport.name(), self.addr)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected transport:address:port, e.g. udp:127.0.0.1:5060 or tls:[::1]:5061")]
pub struct BadPeer(pub String);

impl FromStr for Peer {
    type Err = BadPeer;

    fn from_str(s: &str) -> Result<Peer, BadPeer> {
        let bad = || BadPeer(s.to_string());
        let (t, addr) = s.split_once(':').ok_or_else(bad)?;
        let transport = Transport::from_token(t.as_bytes()).ok_or_else(bad)?;
        let addr = addr.parse().map_err(|_| bad())?;
        Ok(Peer { transport, addr })
    }
}

/// What a next hop's TLS certificate must name (RFC 5922 §7.3): the SIP domain that
/// selected the hop, or the IP address when the hop was named by one (an IP-literal
/// Request-URI, or a `--route` configured for an IP address).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerIdentity {
    Domain(String),
    Ip(std::net::IpAddr),
}

impl ServerIdentity {
    /// From a domain key: a name, a dotted IPv4 address, or a bracketed IPv6 address.
    pub fn of_host(host: &str) -> ServerIdentity {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse() {
            Ok(ip) => ServerIdentity::Ip(ip),
            Err(_) => ServerIdentity::Domain(host.trim_end_matches('.').to_ascii_lowercase()),
        }
    }
}

impl fmt::Display for ServerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerIdentity::Domain(d) => f.write_str(d),
            ServerIdentity::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// A static route: requests for `domain` go to `target` (`--route domain=udp:host:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    pub domain: String,
    pub target: Peer,
}

impl FromStr for StaticRoute {
    type Err = BadPeer;

    fn from_str(s: &str) -> Result<StaticRoute, BadPeer> {
        let (domain, target) = s.split_once('=').ok_or_else(|| BadPeer(s.to_string()))?;
        Ok(StaticRoute {
            domain: domain.trim().trim_end_matches('.').to_ascii_lowercase(),
            target: target.trim().parse()?,
        })
    }
}

/// What the core needs to know about this relay.
#[derive(Debug, Clone)]
pub struct Config {
    /// The addresses it listens on: its own Via sent-by and Record-Route come from these, and
    /// a URI naming one of them names the relay.
    pub listen: Vec<Peer>,
    /// Extra host names that name the relay itself (in Route and Request-URI).
    pub aliases: Vec<String>,
    /// The domains it is registrar and location service for.
    pub domains: Vec<String>,
    pub routes: Vec<StaticRoute>,
    /// Shortest registration accepted (423 below it), seconds.
    pub min_expires: u32,
    /// Longest registration granted, seconds; also the default when none is asked.
    pub max_expires: u32,
    /// Forward any request wherever its Route or Request-URI points (an open relay).
    pub open_relay: bool,
    /// How much the location service holds.
    pub registrar: registrar::Bounds,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: Vec::new(),
            aliases: Vec::new(),
            domains: Vec::new(),
            routes: Vec::new(),
            min_expires: 60,
            max_expires: 3600,
            open_relay: false,
            registrar: registrar::Bounds::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_round_trip_and_refuse_junk() {
        for s in ["udp:127.0.0.1:5060", "tls:[::1]:5061", "tcp:10.0.0.1:1"] {
            assert_eq!(s.parse::<Peer>().unwrap().to_string(), s);
        }
        for s in [
            "udp:127.0.0.1",
            "sctp:1.2.3.4:5",
            "127.0.0.1:5060",
            "udp:host:5060",
        ] {
            assert!(s.parse::<Peer>().is_err(), "{s}");
        }
        let r: StaticRoute = "Example.COM.=tcp:192.0.2.1:5060".parse().unwrap();
        assert_eq!(r.domain, "example.com");
        assert!("example.com".parse::<StaticRoute>().is_err());
    }
}
