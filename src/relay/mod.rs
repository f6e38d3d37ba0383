//! `sipsec-relay`: a stateless SIP proxy (RFC 3261 §16.11) and registrar (§10).
//!
//! The routing core ([`core::Relay`]) is sans-IO: it is given a message with where it came
//! from and a clock, and answers with what to send where. [`stdio`] drives it from NDJSON
//! lines; [`net`] is the only module with sockets (UDP, TCP, TLS).

pub mod core;
pub mod live;
pub mod net;
pub mod ratelimit;
pub mod registrar;
pub mod stdio;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
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

/// Why a `TRANSPORT:ADDRESS:PORT` (or a route's `DOMAIN=TRANSPORT:ADDRESS:PORT`) was refused:
/// each names the part that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPeer {
    #[error("{0:?}: expected TRANSPORT:ADDRESS:PORT, e.g. udp:127.0.0.1:5060 or tls:[::1]:5061")]
    Shape(String),
    #[error("{input:?}: no transport: start with udp:, tcp: or tls:")]
    MissingTransport { input: String },
    #[error("{input:?}: unknown transport {transport:?}: use udp, tcp or tls")]
    Transport { input: String, transport: String },
    #[error(
        "{input:?}: {host:?} is a host name; give an IP address (the relay resolves no names)"
    )]
    HostName { input: String, host: String },
    #[error("{input:?}: {address:?} is not an IPv4 or IPv6 address")]
    Address { input: String, address: String },
    #[error("{input:?}: an IPv6 address goes in brackets, e.g. udp:[::1]:5060")]
    UnbracketedIpv6 { input: String },
    #[error("{input:?}: no port: add one, e.g. :5060")]
    MissingPort { input: String },
    #[error("{input:?}: port {port:?} is not a number from 0 to 65535")]
    Port { input: String, port: String },
    #[error(
        "{0:?}: a route is DOMAIN=TRANSPORT:ADDRESS:PORT (e.g. example.com=udp:192.0.2.1:5060); \
         the DOMAIN= is missing"
    )]
    RouteWithoutDomain(String),
}

impl FromStr for Peer {
    type Err = BadPeer;

    fn from_str(s: &str) -> Result<Peer, BadPeer> {
        let input = || s.to_string();
        let (t, rest) = s.split_once(':').ok_or_else(|| BadPeer::Shape(input()))?;
        let transport = Transport::from_token(t.as_bytes()).ok_or_else(|| {
            if t.contains(['.', '[']) {
                BadPeer::MissingTransport { input: input() }
            } else {
                BadPeer::Transport {
                    input: input(),
                    transport: t.to_string(),
                }
            }
        })?;
        let (host, port) = split_host_port(rest).ok_or_else(|| {
            if rest.matches(':').count() > 1 && !rest.starts_with('[') {
                BadPeer::UnbracketedIpv6 { input: input() }
            } else {
                BadPeer::MissingPort { input: input() }
            }
        })?;
        if host.contains(':') && !rest.starts_with('[') {
            return Err(BadPeer::UnbracketedIpv6 { input: input() });
        }
        let ip: IpAddr = host.parse().map_err(|_| {
            if is_host_name(host) {
                BadPeer::HostName {
                    input: input(),
                    host: host.to_string(),
                }
            } else {
                BadPeer::Address {
                    input: input(),
                    address: host.to_string(),
                }
            }
        })?;
        if rest.starts_with('[') && !ip.is_ipv6() {
            return Err(BadPeer::Address {
                input: input(),
                address: format!("[{host}]"),
            });
        }
        let port: u16 = port.parse().map_err(|_| BadPeer::Port {
            input: input(),
            port: port.to_string(),
        })?;
        Ok(Peer {
            transport,
            addr: SocketAddr::new(ip, port),
        })
    }
}

/// `host:port` or `[v6]:port` split at the port's colon; `None` when there is no port.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    match s.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']')?;
            Some((host, after.strip_prefix(':')?))
        }
        None => s.rsplit_once(':'),
    }
}

/// A DNS name rather than a mistyped address: letters, digits, `-` and `.`, with a letter.
fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        && s.bytes().any(|c| c.is_ascii_alphabetic())
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
        let (domain, target) = s
            .split_once('=')
            .filter(|(domain, _)| !domain.trim().is_empty())
            .ok_or_else(|| BadPeer::RouteWithoutDomain(s.to_string()))?;
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
    /// The address peers reach the relay by, one per address family, named in its Via and
    /// Record-Route instead of the listen address (behind NAT, or to choose among a wildcard
    /// listener's addresses); a URI naming it names the relay.
    pub advertise: Vec<IpAddr>,
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
            advertise: Vec::new(),
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
        let refusal = |s: &str| s.parse::<Peer>().unwrap_err().to_string();
        for (input, says) in [
            ("udp", "expected TRANSPORT:ADDRESS:PORT"),
            (
                "sctp:1.2.3.4:5",
                "unknown transport \"sctp\": use udp, tcp or tls",
            ),
            (
                "127.0.0.1:5060",
                "no transport: start with udp:, tcp: or tls:",
            ),
            (
                "udp:host.example:5060",
                "\"host.example\" is a host name; give an IP address",
            ),
            (
                "udp:127.0.0.256:5060",
                "\"127.0.0.256\" is not an IPv4 or IPv6 address",
            ),
            (
                "tcp:[127.0.0.1]:5060",
                "\"[127.0.0.1]\" is not an IPv4 or IPv6 address",
            ),
            ("udp:::1:5060", "an IPv6 address goes in brackets"),
            ("udp:127.0.0.1", "no port: add one"),
            ("tls:[::1]", "no port: add one"),
            (
                "udp:127.0.0.1:65536",
                "port \"65536\" is not a number from 0 to 65535",
            ),
            ("udp:127.0.0.1:sip", "port \"sip\" is not a number"),
        ] {
            let got = refusal(input);
            assert!(got.contains(says), "{input}: {got}");
            assert!(got.starts_with(&format!("{input:?}: ")), "{input}: {got}");
        }
        let r: StaticRoute = "Example.COM.=tcp:192.0.2.1:5060".parse().unwrap();
        assert_eq!(r.domain, "example.com");
        for input in ["udp:127.0.0.1:5070", "=udp:127.0.0.1:5070"] {
            let got = input.parse::<StaticRoute>().unwrap_err().to_string();
            assert!(got.contains("the DOMAIN= is missing"), "{input}: {got}");
        }
        let got = "example.com=udp:host:5060"
            .parse::<StaticRoute>()
            .unwrap_err();
        assert!(got.to_string().contains("is a host name"), "{got}");
    }
}
