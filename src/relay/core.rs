//! The sans-IO routing core: RFC 3261 §16 as a stateless proxy (§16.11), with the registrar
//! of [`super::registrar`] for its own domains.
//!
//! [`Relay::handle`] takes one message, where it came from and the time, and returns a
//! [`Decision`]: what to send where, and a one-line note saying why.

use super::registrar::{Location, RegisterOutcome};
use super::{Config, Peer, ServerIdentity, Transport};
use crate::auth::attribution::Attribution;
use crate::auth::gate::{AuthCounters, AuthGate, RequestAuth};
use crate::header::{split_list, Via};
use crate::message::Message;
use crate::uri::{Host, Scheme, Uri};
use crate::HeaderKind;
use siphasher::sip::SipHasher13;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

/// RFC 3261 §18.1.1: a request this large goes over a congestion-controlled transport.
pub const UDP_REQUEST_LIMIT: usize = 1300;

/// The magic cookie and our own mark: the branches we make start with this.
const BRANCH_PREFIX: &str = "z9hG4bKsr";

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: Peer,
    pub bytes: Vec<u8>,
    /// A response over TCP or TLS whose connection (`to`) is gone goes here on a new
    /// connection: the `received` address and the sent-by port (RFC 3261 §18.2.2).
    pub fallback: Option<Peer>,
    /// For a request: what the next hop's certificate must name when a TLS connection is
    /// opened for it. `None` (responses): the address it goes to.
    pub identity: Option<ServerIdentity>,
}

impl Transmit {
    fn new(to: Peer, bytes: Vec<u8>) -> Transmit {
        Transmit {
            to,
            bytes,
            fallback: None,
            identity: None,
        }
    }
}

/// The relay's key (SipHash-1-3, 128 bits): it keys the transaction part of our branches
/// (§16.11), so that responses can be checked, and the MAC of our Record-Route.
#[derive(Clone, PartialEq, Eq)]
pub struct RelayKey {
    k0: u64,
    k1: u64,
}

/// The key is a secret: never printed.
impl std::fmt::Debug for RelayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayKey(..)")
    }
}

impl RelayKey {
    /// A key drawn at random for this process, so that branches cannot be predicted.
    pub fn random() -> RelayKey {
        let mut bytes = [0u8; 32];
        // The CSPRNG fails only when the system has no entropy source at all.
        openssl::rand::rand_bytes(&mut bytes).expect("OpenSSL's random generator");
        RelayKey::from_secret(&bytes)
    }

    /// The all-zero key: reproducible branches (`--stdio` transcripts, tests). The same
    /// hash as std's `DefaultHasher::new()`.
    pub fn fixed() -> RelayKey {
        RelayKey { k0: 0, k1: 0 }
    }

    /// A key derived from a secret (SHA-256 of it), for relays that must agree across
    /// restarts or with each other.
    pub fn from_secret(secret: &[u8]) -> RelayKey {
        let digest = openssl::sha::sha256(secret);
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&digest[i..i + 8]);
            u64::from_le_bytes(w)
        };
        RelayKey {
            k0: word(0),
            k1: word(8),
        }
    }

    fn hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Passed on (a request to its next hop, a response along the Via path).
    Forwarded,
    /// Answered by the relay itself with this status code.
    Answered(u16),
    /// Nothing sent (ACK that cannot go on, response not for us, no usable Via, …).
    Dropped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    pub transmits: Vec<Transmit>,
    /// Why, in one line (logged at `-v`).
    pub note: String,
    /// The attack or abuse this decision refused, if it was one (counted by the network
    /// layer).
    pub refusal: Option<Refusal>,
    /// For a forwarded message: the filter chain it goes through first, if any.
    pub passage: Option<Passage>,
    /// For an answer: how long to hold it first (seconds; the digest throttle slows repeated
    /// failures).
    pub delay: u64,
}

/// Which of the relay's filter chains a forwarded message goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passage {
    /// From an authenticated member: the outbound chain, told who.
    Outbound(Attribution),
    /// Towards the relay's terminals (requests to a registered contact or, in a dialog the
    /// relay record-routed, to the Request-URI; responses not from a member): the inbound
    /// chain.
    Inbound,
}

/// A message refused because the relay did not mean to carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A request the relay has no reason to forward (403): not to its domains, not along a
    /// `--route`, not in a dialog it record-routed, not from an authenticated member.
    NotForwarded,
    /// As [`Refusal::NotForwarded`], and a Route naming the relay carried no valid MAC.
    ForgedRoute,
    /// A response whose top Via is the relay's but whose branch the relay did not make.
    ForgedResponse,
    /// A REGISTER past the registrar's bounds (403).
    RegistrarFull,
}

impl Decision {
    pub(super) fn drop(note: impl Into<String>) -> Decision {
        Decision {
            verdict: Verdict::Dropped,
            transmits: Vec::new(),
            note: note.into(),
            refusal: None,
            passage: None,
            delay: 0,
        }
    }

    /// One message sent on, as it is.
    pub(super) fn forwarded(transmit: Transmit) -> Decision {
        Decision {
            verdict: Verdict::Forwarded,
            transmits: vec![transmit],
            note: String::new(),
            refusal: None,
            passage: None,
            delay: 0,
        }
    }

    fn refused(mut self, why: Refusal) -> Decision {
        self.refusal = Some(why);
        self
    }
}

/// Where the next hop of a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    Route,
    Location,
    StaticRoute,
    RequestUri,
}

impl Hop {
    fn name(self) -> &'static str {
        match self {
            Hop::Route => "Route",
            Hop::Location => "location",
            Hop::StaticRoute => "static route",
            Hop::RequestUri => "Request-URI",
        }
    }

    /// The relay forwards along these whoever asks: they are its own configuration.
    fn is_configured(self) -> bool {
        matches!(self, Hop::Location | Hop::StaticRoute)
    }
}

/// Whether a Route (or a strict-routed Request-URI) named the relay, and if so whether it
/// carried the MAC the relay writes into its Record-Route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnRoute {
    Absent,
    Verified,
    Unverified,
}

/// The URI parameter of our Record-Route that carries its MAC.
const ROUTE_MAC_PARAM: &str = "sr";

/// This host's addresses, which a relay listening on a wildcard address (0.0.0.0, ::) asks
/// for: its Via and Record-Route must name an address its peers can reach, and an address
/// names the relay only when it is one of the host's (not every address with its port).
pub trait HostAddresses: Send {
    /// The address the system sends from towards `to`.
    fn source_towards(&self, to: IpAddr) -> Option<IpAddr>;
    /// Whether `ip` is one of this host's addresses.
    fn is_local(&self, ip: IpAddr) -> bool;
}

/// Turns a URI into a transport address: the place RFC 3263 DNS resolution plugs in.
pub trait Resolver: Send {
    fn resolve(&self, uri: &Uri<'_>) -> Option<Peer>;
}

/// Resolves IP literals only (no DNS): the transport from `transport=` (TLS for sips), the
/// port from the URI or the transport's default.
#[derive(Debug, Default, Clone, Copy)]
pub struct LiteralResolver;

impl Resolver for LiteralResolver {
    fn resolve(&self, uri: &Uri<'_>) -> Option<Peer> {
        let ip: IpAddr = match uri.maddr().and_then(|m| m.parse().ok()) {
            Some(ip) => ip,
            None => match uri.host()? {
                Host::Ipv4(a) => a.into(),
                Host::Ipv6 { addr, .. } => addr.into(),
                Host::Name(_) => return None,
            },
        };
        let transport = uri_transport(uri);
        let port = uri.port().unwrap_or(default_port(transport));
        Some(Peer::new(transport, SocketAddr::new(ip, port)))
    }
}

fn uri_transport(uri: &Uri<'_>) -> Transport {
    if uri.scheme() == Scheme::Sips {
        return Transport::Tls;
    }
    uri.transport()
        .and_then(|t| Transport::from_token(t.as_bytes()))
        .unwrap_or(Transport::Udp)
}

fn default_port(t: Transport) -> u16 {
    if t == Transport::Tls {
        5061
    } else {
        5060
    }
}

/// The relay: configuration, location service, resolver.
pub struct Relay {
    config: Config,
    location: Location,
    resolver: Box<dyn Resolver>,
    /// Without it, a wildcard listener names itself by its wildcard address, and every
    /// address with its port names the relay (`--stdio` transcripts, tests).
    host: Option<Box<dyn HostAddresses>>,
    /// Member authentication, when the relay has members: a request from an authenticated
    /// member may go anywhere.
    auth: Option<AuthGate>,
    key: RelayKey,
    /// The key before the last [`Relay::rekey`]: still accepted, so that transactions and
    /// dialogs set up before a key rotation go on.
    previous_key: Option<RelayKey>,
    /// Whether decisions on the forwarding path carry a note (off when nobody reads them:
    /// formatting them is a tenth of the work of forwarding).
    notes: bool,
}

impl Relay {
    pub fn new(config: Config) -> Relay {
        Relay::with_resolver(config, Box::new(LiteralResolver))
    }

    pub fn with_resolver(config: Config, resolver: Box<dyn Resolver>) -> Relay {
        Relay {
            location: Location::with_bounds(config.registrar),
            resolver,
            host: None,
            auth: None,
            key: RelayKey::random(),
            previous_key: None,
            notes: true,
            config,
        }
    }

    /// How a wildcard listener learns which of the host's addresses to name, and which are
    /// its own.
    pub fn with_host_addresses(mut self, host: Box<dyn HostAddresses>) -> Relay {
        self.host = Some(host);
        self
    }

    /// Makes requests from the relay's own domains authenticate (digest) before anything else.
    pub fn with_auth(mut self, gate: AuthGate) -> Relay {
        self.auth = Some(gate);
        self
    }

    /// What member authentication counted, when the relay has members.
    pub fn auth_counters(&self) -> Option<AuthCounters> {
        self.auth.as_ref().map(AuthGate::counters)
    }

    /// Whether forwarded messages get a note in their decision (refusals always do).
    pub fn with_notes(mut self, notes: bool) -> Relay {
        self.notes = notes;
        self
    }

    fn note(&self, text: impl FnOnce() -> String) -> String {
        if self.notes {
            text()
        } else {
            String::new()
        }
    }

    /// Replaces the random key (see [`RelayKey`]).
    pub fn with_key(mut self, key: RelayKey) -> Relay {
        self.key = key;
        self
    }

    /// Takes a new key (a `--key-file` read again): branches and Record-Routes are made with
    /// it from now on, and the key it replaces is still accepted until the next rotation.
    /// False when `key` is the key already in use.
    pub fn rekey(&mut self, key: RelayKey) -> bool {
        if key == self.key {
            return false;
        }
        self.previous_key = Some(std::mem::replace(&mut self.key, key));
        true
    }

    /// The keys a branch or Record-Route MAC may have been made with, the current one first.
    fn keys(&self) -> impl Iterator<Item = &RelayKey> {
        std::iter::once(&self.key).chain(self.previous_key.as_ref())
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The listen addresses as bound (a port 0 replaced by the port the system chose): the
    /// relay's Via and Record-Route name them.
    pub fn bound_to(&mut self, listen: Vec<Peer>) {
        self.config.listen = listen;
    }

    /// Takes a new configuration, keeping the bindings and keys. The listen addresses are
    /// the sockets already bound: they cannot change without a restart.
    pub fn reconfigure(&mut self, config: Config) -> Result<(), String> {
        if config.listen != self.config.listen {
            return Err("the listen addresses cannot change without a restart".into());
        }
        self.location.set_bounds(config.registrar);
        self.config = config;
        Ok(())
    }

    pub fn location(&mut self) -> &mut Location {
        &mut self.location
    }

    /// Handles one datagram (or one framed stream message): parse, then [`Relay::handle`].
    pub fn handle_bytes(&mut self, bytes: &[u8], from: Peer, now: u64) -> Decision {
        match crate::framing::datagram(bytes, crate::message::DEFAULT_MAX_SIZE) {
            Ok(d) => self.handle(d.message, from, now),
            Err(e) => refuse_unparsable(bytes, from, &e.to_string()),
        }
    }

    /// Handles one message that arrived from `from` at `now` (seconds, any monotonic origin).
    pub fn handle(&mut self, msg: Message, from: Peer, now: u64) -> Decision {
        if msg.is_request() {
            self.request(msg, from, now)
        } else {
            self.response(msg, from, now)
        }
    }

    fn request(&mut self, mut msg: Message, from: Peer, now: u64) -> Decision {
        if let Err(e) = stamp_via(&mut msg, from) {
            return Decision::drop(format!("request without a usable Via: {e}"));
        }
        if let Err(e) = msg.validate() {
            return self.refuse(&msg, from, 400, "Bad Request", &format!("invalid: {e}"));
        }
        // Before anything rewrites the Request-URI: the credentials cover it as sent.
        let checked = self.auth.as_mut().map(|g| {
            let out = g.check_request(&mut msg, from, now);
            (out, g.take_warning())
        });
        let member = match checked {
            None | Some((RequestAuth::Exempt, None)) => None,
            Some((RequestAuth::Exempt, Some(w))) => {
                eprintln!("sipsec-relay: {w}");
                None
            }
            Some((RequestAuth::Member(a), _)) => Some(a),
            Some((RequestAuth::Answer(answer), warning)) => {
                if let Some(w) = warning {
                    eprintln!("sipsec-relay: {w}");
                }
                let note = format!("authentication: {}", answer.refusal.name());
                let fields: Vec<(&str, String)> = answer.fields;
                let mut d = self.reply(&msg, from, answer.code, answer.reason, &fields, &note);
                d.delay = answer.delay;
                return d;
            }
        };
        let txn = transaction_hash(&msg, self.key.hasher());
        let scheme_ok = matches!(
            msg.request_uri_parsed().map(|u| u.map(|u| u.scheme())),
            Some(Ok(Scheme::Sip | Scheme::Sips))
        );
        if !scheme_ok {
            return self.refuse(
                &msg,
                from,
                416,
                "Unsupported URI Scheme",
                "unsupported scheme",
            );
        }
        match msg.max_forwards() {
            Ok(Some(0)) => {
                return self.refuse(&msg, from, 483, "Too Many Hops", "Max-Forwards exhausted")
            }
            Ok(Some(n)) => set_first(&mut msg, HeaderKind::MaxForwards, &(n - 1).to_string()),
            _ => {
                let _ = msg.append_field("Max-Forwards", b"70");
            }
        }
        let own_route = match self.preprocess_routes(&mut msg) {
            Ok(p) => p,
            Err(note) => return self.refuse(&msg, from, 400, "Bad Request", &note),
        };
        let loop_hash = loop_hash(&msg);
        if self.looped(&msg, loop_hash) {
            return self.refuse(
                &msg,
                from,
                482,
                "Loop Detected",
                "our own Via with this hash",
            );
        }
        if msg.method() == Some(b"REGISTER") && self.request_uri_is_own_domain(&msg) {
            return self.register(&msg, from, now, member.as_ref());
        }
        let (target, hop, identity) = match self.next_hop(&mut msg, now) {
            Ok(t) => t,
            Err((code, reason, note)) => return self.refuse(&msg, from, code, reason, &note),
        };
        let permitted = hop.is_configured()
            || own_route == OwnRoute::Verified
            || self.config.open_relay
            || member.is_some();
        if !permitted {
            let (why, note) = match own_route {
                OwnRoute::Unverified => (
                    Refusal::ForgedRoute,
                    "a Route naming the relay without its MAC gives no right to be forwarded",
                ),
                _ => (
                    Refusal::NotForwarded,
                    "not for our domains, not along a --route, not in a dialog we record-routed",
                ),
            };
            let note = format!("{note} (next hop {target} by {})", hop.name());
            return self
                .refuse(&msg, from, 403, "Forbidden", &note)
                .refused(why);
        }
        if self.is_own_address(target.addr) {
            return self.refuse(
                &msg,
                from,
                482,
                "Loop Detected",
                "next hop is the relay itself",
            );
        }
        // Record-Route what may create a dialog (RFC 3261 §16.6 step 4; RFC 6665, 3515).
        let dialog_creating = matches!(
            msg.method(),
            Some(b"INVITE" | b"SUBSCRIBE" | b"REFER" | b"NOTIFY")
        ) && msg.to().is_ok_and(|t| t.tag().is_none());
        if dialog_creating {
            let me = self.own_address(target);
            let mut rr = format!("<sip:{}", host_port(me.addr));
            if me.transport != Transport::Udp {
                let _ = write!(rr, ";transport={}", me.transport.name());
            }
            let from_tag = msg.from().ok().and_then(|a| a.tag());
            let mac = route_mac(&self.key, msg.call_id().ok(), from_tag);
            let _ = write!(rr, ";lr;{ROUTE_MAC_PARAM}={mac:016x}>");
            let at = msg
                .indices_of(HeaderKind::RecordRoute)
                .next()
                .or_else(|| msg.indices_of(HeaderKind::Via).last().map(|i| i + 1))
                .unwrap_or(0);
            let _ = msg.insert_field(at, "Record-Route", rr.as_bytes());
        }
        let branch = format!("{BRANCH_PREFIX}{txn:016x}.{loop_hash:016x}");
        let mut target = target;
        self.insert_own_via(&mut msg, target, &branch);
        if target.transport == Transport::Udp && msg.len() > UDP_REQUEST_LIMIT {
            // §18.1.1: too large for UDP; the Via must name the transport actually used.
            target.transport = Transport::Tcp;
            msg.remove_field(0);
            self.insert_own_via(&mut msg, target, &branch);
        }
        Decision {
            verdict: Verdict::Forwarded,
            note: self.note(|| {
                format!(
                    "{} {} from {from} -> {target} ({}{})",
                    String::from_utf8_lossy(msg.method().unwrap_or_default()),
                    String::from_utf8_lossy(msg.request_uri().unwrap_or_default()),
                    hop.name(),
                    match own_route {
                        OwnRoute::Verified => ", after our Route",
                        OwnRoute::Unverified => ", after a Route naming us without our MAC",
                        OwnRoute::Absent => "",
                    }
                )
            }),
            refusal: None,
            passage: match member {
                Some(m) => Some(Passage::Outbound(m)),
                // Towards a terminal: to a registered contact, or in a dialog straight to
                // the Request-URI once our own Route is taken off (a request that goes on to
                // another proxy's Route leaves for the network).
                None if hop == Hop::Location
                    || (hop == Hop::RequestUri && own_route == OwnRoute::Verified) =>
                {
                    Some(Passage::Inbound)
                }
                None => None,
            },
            delay: 0,
            transmits: vec![Transmit {
                identity: Some(identity),
                ..Transmit::new(target, msg.into_bytes())
            }],
        }
    }

    fn insert_own_via(&self, msg: &mut Message, target: Peer, branch: &str) {
        // Our Via goes first of all fields, so field 0 is ours when it must be replaced.
        let _ = msg.insert_field(0, "Via", self.own_via(target, branch).as_bytes());
    }

    fn own_via(&self, target: Peer, branch: &str) -> String {
        let me = self.own_address(target);
        format!(
            "SIP/2.0/{} {};branch={branch}",
            target.transport.via_token(),
            host_port(me.addr)
        )
    }

    /// Whether the Route (or strict-routed Request-URI) `uri` carries the MAC our
    /// Record-Route gave this dialog (see [`route_mac`]): under the current or the previous
    /// key, over the request's Call-ID and its From tag (a request from the dialog's
    /// initiator) or its To tag (one from the other side, which swaps From and To).
    fn carries_our_mac(&self, msg: &Message, uri: &str) -> bool {
        let mac = Uri::parse_str(uri)
            .ok()
            .and_then(|u| u.param(ROUTE_MAC_PARAM)?)
            .filter(|m| m.len() == 16)
            .and_then(|m| u64::from_str_radix(m, 16).ok());
        let Some(mac) = mac else { return false };
        let call_id = msg.call_id().ok();
        let tags = [
            msg.from().ok().and_then(|a| a.tag()),
            msg.to().ok().and_then(|a| a.tag()),
        ];
        self.keys()
            .any(|k| tags.iter().any(|&tag| route_mac(k, call_id, tag) == mac))
    }

    /// §16.4: a strict-routed request (Request-URI is ours) gets its Request-URI back from the
    /// last Route; a top Route naming us is removed.
    /// Says whether a Route naming us was removed, and whether it carried our MAC.
    fn preprocess_routes(&self, msg: &mut Message) -> Result<OwnRoute, String> {
        let routes: Vec<String> = match msg.routes() {
            Ok(r) => r.iter().map(|a| a.uri().as_str().to_string()).collect(),
            Err(e) => return Err(format!("bad Route: {e}")),
        };
        if routes.is_empty() {
            // Neither strict-routed to us nor a Route of ours to take off.
            return Ok(OwnRoute::Absent);
        }
        let ruri = String::from_utf8_lossy(msg.request_uri().unwrap_or_default()).to_string();
        let ruri_is_me = Uri::parse_str(&ruri).is_ok_and(|u| self.uri_is_me(&u));
        let mut routes = routes;
        let strict = ruri_is_me && !routes.is_empty();
        let verified = |msg: &Message, uri: &str| match self.carries_our_mac(msg, uri) {
            true => OwnRoute::Verified,
            false => OwnRoute::Unverified,
        };
        let mut own = OwnRoute::Absent;
        if strict {
            own = verified(msg, &ruri);
            if let Some(last) = routes.pop() {
                let method = String::from_utf8_lossy(msg.method().unwrap_or_default()).to_string();
                msg.set_start_line(format!("{method} {last} SIP/2.0").as_bytes())
                    .map_err(|e| format!("strict route: {e}"))?;
                remove_list_element(msg, HeaderKind::Route, Position::Last);
            }
        }
        let top_is_me = routes
            .first()
            .and_then(|r| Uri::parse_str(r).ok().map(|u| self.uri_is_me(&u)))
            .unwrap_or(false);
        if top_is_me {
            if own != OwnRoute::Verified {
                own = verified(msg, &routes[0]);
            }
            remove_list_element(msg, HeaderKind::Route, Position::First);
        }
        Ok(own)
    }

    fn looped(&self, msg: &Message, loop_hash: u64) -> bool {
        msg.vias().unwrap_or_default().iter().any(|v| {
            self.via_is_me(v)
                && v.branch()
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .and_then(|b| b.strip_prefix(BRANCH_PREFIX))
                    .and_then(|b| b.split_once('.'))
                    .is_some_and(|(_, l)| {
                        l.len() == 16 && u64::from_str_radix(l, 16).ok() == Some(loop_hash)
                    })
        })
    }

    /// Route, then the location service for our domains, then static routes, then the
    /// resolver. Rewrites the Request-URI when the location service answers.
    fn next_hop(
        &mut self,
        msg: &mut Message,
        now: u64,
    ) -> Result<(Peer, Hop, ServerIdentity), (u16, &'static str, String)> {
        let unroutable = |why: String| (404, "Not Found", why);
        let identity = |uri: &Uri<'_>| match uri.host() {
            Some(Host::Ipv4(a)) => ServerIdentity::Ip(a.into()),
            Some(Host::Ipv6 { addr, .. }) => ServerIdentity::Ip(addr.into()),
            _ => ServerIdentity::of_host(&host_key(uri)),
        };
        if let Some(route) = msg.routes().ok().and_then(|r| r.first().map(|a| *a.uri())) {
            return self
                .resolver
                .resolve(&route)
                .map(|p| (p, Hop::Route, identity(&route)))
                .ok_or_else(|| unroutable(format!("cannot resolve Route {}", route.as_str())));
        }
        let uri_text = String::from_utf8_lossy(msg.request_uri().unwrap_or_default()).to_string();
        let uri = Uri::parse_str(&uri_text).map_err(|e| (400, "Bad Request", e.to_string()))?;
        let own_domain = self.uri_is_own_domain(&uri);
        if own_domain {
            if let Some(aor) = uri.aor() {
                if let Some(b) = self.location.lookup(&aor, now).into_iter().next() {
                    let contact = Uri::parse_str(&b.contact)
                        .map_err(|e| (500, "Server Internal Error", e.to_string()))?;
                    let target = if b.source.transport.is_stream() {
                        b.source
                    } else {
                        self.resolver.resolve(&contact).ok_or_else(|| {
                            unroutable(format!("cannot resolve contact {}", b.contact))
                        })?
                    };
                    let method =
                        String::from_utf8_lossy(msg.method().unwrap_or_default()).to_string();
                    msg.set_start_line(format!("{method} {} SIP/2.0", b.contact).as_bytes())
                        .map_err(|e| (500, "Server Internal Error", e.to_string()))?;
                    return Ok((target, Hop::Location, identity(&contact)));
                }
            }
        }
        if let Some(Host::Name(_) | Host::Ipv4(_) | Host::Ipv6 { .. }) = uri.host() {
            let host = host_key(&uri);
            if let Some(r) = self.config.routes.iter().find(|r| r.domain == host) {
                return Ok((
                    r.target,
                    Hop::StaticRoute,
                    ServerIdentity::of_host(&r.domain),
                ));
            }
        }
        if own_domain {
            return Err(unroutable(format!("no binding for {uri_text}")));
        }
        self.resolver
            .resolve(&uri)
            .map(|p| (p, Hop::RequestUri, identity(&uri)))
            .ok_or_else(|| unroutable(format!("no route for {uri_text}")))
    }

    fn register(
        &mut self,
        msg: &Message,
        from: Peer,
        now: u64,
        member: Option<&Attribution>,
    ) -> Decision {
        let aor = match msg.to().ok().and_then(|t| t.uri().aor()) {
            Some(a) if self.is_own_domain_name(a.host()) => a,
            _ => return self.refuse(msg, from, 404, "Not Found", "REGISTER for a foreign AOR"),
        };
        let c = &self.config;
        let (min, max) = (c.min_expires, c.max_expires);
        match self.location.register(&aor, msg, from, now, min, max) {
            RegisterOutcome::Ok(bindings) => {
                if let (Some(gate), Some(m)) = (self.auth.as_mut(), member) {
                    // Responses over this flow are the member's while a binding lives.
                    let longest = bindings.iter().map(|(_, secs)| *secs).max().unwrap_or(0);
                    gate.registered(from, &m.member, now + longest, now);
                }
                let extra = listed_bindings(&bindings);
                let note = format!("REGISTER {aor}: {} binding(s)", bindings.len());
                self.reply(msg, from, 200, "OK", &extra, &note)
            }
            RegisterOutcome::Full(reason) => self
                .refuse(msg, from, 403, reason, &format!("REGISTER {aor}"))
                .refused(Refusal::RegistrarFull),
            RegisterOutcome::TooBrief(min) => self.reply(
                msg,
                from,
                423,
                "Interval Too Brief",
                &[("Min-Expires", min.to_string())],
                &format!("REGISTER {aor}: expiry under {min}"),
            ),
            RegisterOutcome::Refused(code, reason) => {
                self.refuse(msg, from, code, reason, &format!("REGISTER {aor}"))
            }
        }
    }

    /// The answer to a request the relay was forwarding (`forwarded`, with the relay's Via on
    /// top) when its filter chain withheld it: sent back to `from`, where it came from.
    pub fn answer_withheld(
        &self,
        forwarded: &Message,
        from: Peer,
        code: u16,
        reason: &str,
        extra: &[(&str, String)],
        note: &str,
    ) -> Decision {
        let mut original = forwarded.clone();
        remove_list_element(&mut original, HeaderKind::Via, Position::First);
        self.reply(&original, from, code, reason, extra, note)
    }

    /// A forwarded request that its chain made too large for UDP (§18.1.1) goes over TCP
    /// instead, its Via (ours, on top) saying so.
    pub fn fit_transport(&self, transmit: &mut Transmit, message: &mut Message) {
        if transmit.to.transport != Transport::Udp
            || !message.is_request()
            || message.len() <= UDP_REQUEST_LIMIT
        {
            return;
        }
        // The top Via is ours: the chain's tools leave Via fields where they are.
        let Some(index) = message.indices_of(HeaderKind::Via).next() else {
            return;
        };
        let Some(branch) = message
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(|b| String::from_utf8_lossy(b).into_owned()))
        else {
            return;
        };
        let over_tcp = Peer::new(Transport::Tcp, transmit.to.addr);
        if message
            .set_field_value(index, self.own_via(over_tcp, &branch).as_bytes())
            .is_ok()
        {
            transmit.to = over_tcp;
        }
    }

    /// Reads the members' credentials again (SIGHUP); says what came of it.
    pub fn reload_members(&mut self) -> Option<String> {
        self.auth.as_mut().map(AuthGate::reload)
    }

    /// A connection closed: responses arriving on a new one from the same address are no
    /// longer any member's.
    pub fn connection_closed(&mut self, flow: Peer) {
        if let Some(g) = self.auth.as_mut() {
            g.closed(flow);
        }
    }

    /// 503 with Retry-After: the answer to a request that comes too fast.
    pub fn busy(&self, msg: &Message, from: Peer, retry_after: u32) -> Decision {
        let extra = [("Retry-After", retry_after.to_string())];
        let note = "over the source's request rate";
        self.reply(msg, from, 503, "Service Unavailable", &extra, note)
    }

    fn refuse(&self, msg: &Message, from: Peer, code: u16, reason: &str, note: &str) -> Decision {
        self.reply(msg, from, code, reason, &[], note)
    }

    /// A response made here (§8.2.6, §16.11), sent where the top Via says (§18.2.2; the Via
    /// was stamped with received/rport already). Never to an ACK.
    fn reply(
        &self,
        msg: &Message,
        from: Peer,
        code: u16,
        reason: &str,
        extra: &[(&str, String)],
        note: &str,
    ) -> Decision {
        let method = String::from_utf8_lossy(msg.method().unwrap_or_default()).to_string();
        if method == "ACK" {
            return Decision::drop(format!("ACK not answered ({code} {reason}): {note}"));
        }
        let via = msg.top_via().ok();
        let bytes = build_response(msg, code, reason, extra);
        let send = if from.transport.is_stream() {
            // The connection first; the Via's received address and sent-by port if it is gone.
            let fallback = via
                .and_then(|v| via_address(&v, false))
                .map(|p| Peer::new(from.transport, p.addr))
                .filter(|p| *p != from);
            Transmit {
                fallback,
                ..Transmit::new(from, bytes)
            }
        } else {
            Transmit::new(via.and_then(|v| via_target(&v)).unwrap_or(from), bytes)
        };
        Decision {
            verdict: Verdict::Answered(code),
            note: format!("{method} from {from}: {code} {reason}: {note}"),
            transmits: vec![send],
            refusal: None,
            passage: None,
            delay: 0,
        }
    }

    fn response(&mut self, mut msg: Message, from: Peer, now: u64) -> Decision {
        let code = msg.status_code().unwrap_or(0);
        let txn = match msg.top_via() {
            Ok(v) if self.via_is_me(&v) => our_transaction_part(&v),
            Ok(_) => return Decision::drop(format!("{code} from {from}: top Via is not ours")),
            Err(e) => return Decision::drop(format!("{code} from {from}: bad Via: {e}")),
        };
        remove_list_element(&mut msg, HeaderKind::Via, Position::First);
        // The request we forwarded had, as its next Via, the one this response now has on top:
        // our branch's keyed part must be that Via's transaction hash.
        let made_by_us = txn.is_some_and(|txn| {
            self.keys()
                .any(|k| transaction_hash(&msg, k.hasher()) == txn)
        });
        if !made_by_us {
            return Decision::drop(format!(
                "{code} from {from}: our Via with a branch we did not make (forged)"
            ))
            .refused(Refusal::ForgedResponse);
        }
        let target = match msg.top_via() {
            Ok(v) => via_target(&v).map(|to| {
                let fallback =
                    via_address(&v, false).filter(|p| to.transport.is_stream() && *p != to);
                (to, fallback)
            }),
            Err(_) => None,
        };
        match target {
            Some((to, fallback)) => Decision {
                verdict: Verdict::Forwarded,
                note: self.note(|| format!("{code} from {from} -> {to}")),
                transmits: vec![Transmit {
                    fallback,
                    ..Transmit::new(to, msg.into_bytes())
                }],
                refusal: None,
                passage: Some(
                    match self
                        .auth
                        .as_ref()
                        .and_then(|g| g.attribute_response(from, now))
                    {
                        Some(a) => Passage::Outbound(a),
                        None => Passage::Inbound,
                    },
                ),
                delay: 0,
            },
            None => Decision::drop(format!("{code} from {from}: no Via to send it on")),
        }
    }

    /// The address our Via and Record-Route name towards `target`: the listener's, or the
    /// advertised address of its family, or, for a wildcard listener, the address the system
    /// sends from towards the target.
    fn own_address(&self, target: Peer) -> Peer {
        let l = &self.config.listen;
        let same_family = |p: &&Peer| p.addr.is_ipv4() == target.addr.is_ipv4();
        let mut me = l
            .iter()
            .filter(|p| p.transport == target.transport)
            .find(same_family)
            .or_else(|| l.iter().find(same_family))
            .or_else(|| l.first())
            .copied()
            .unwrap_or(Peer::new(
                target.transport,
                SocketAddr::from(([127, 0, 0, 1], 5060)),
            ));
        let listening = me.addr.ip();
        let named = (self.config.advertise.iter().copied())
            .find(|a| a.is_ipv4() == listening.is_ipv4())
            .or_else(|| {
                let host = self.host.as_ref().filter(|_| listening.is_unspecified())?;
                host.source_towards(target.addr.ip())
            });
        if let Some(ip) = named {
            me.addr.set_ip(ip);
        }
        me
    }

    fn is_own_address(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip();
        self.config.listen.iter().any(|l| {
            l.addr.port() == addr.port()
                && (l.addr.ip() == ip
                    || self.config.advertise.contains(&ip)
                    || (l.addr.ip().is_unspecified()
                        && self.host.as_ref().is_none_or(|h| h.is_local(ip))))
        })
    }

    fn host_port_is_me(&self, host: &Host<'_>, port: Option<u16>, default: u16) -> bool {
        let port = port.unwrap_or(default);
        let ip: Option<IpAddr> = match host {
            Host::Ipv4(a) => Some((*a).into()),
            Host::Ipv6 { addr, .. } => Some((*addr).into()),
            Host::Name(n) => {
                return self
                    .config
                    .aliases
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(n))
                    && self.config.listen.iter().any(|l| l.addr.port() == port);
            }
        };
        ip.is_some_and(|ip| self.is_own_address(SocketAddr::new(ip, port)))
    }

    fn uri_is_me(&self, uri: &Uri<'_>) -> bool {
        uri.host()
            .is_some_and(|h| self.host_port_is_me(&h, uri.port(), default_port(uri_transport(uri))))
    }

    fn via_is_me(&self, via: &Via<'_>) -> bool {
        let t = Transport::from_token(via.transport()).unwrap_or(Transport::Udp);
        self.host_port_is_me(&via.host(), via.port(), default_port(t))
    }

    fn is_own_domain_name(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.config
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(host))
    }

    /// The URI is in one of our domains and names no other server by port.
    fn uri_is_own_domain(&self, uri: &Uri<'_>) -> bool {
        if !self.is_own_domain_name(&host_key(uri)) {
            return false;
        }
        match (uri.port(), uri.host()) {
            (None, _) => true,
            (Some(_), Some(h)) => matches!(h, Host::Name(_)) || self.uri_is_me(uri),
            _ => false,
        }
    }

    fn request_uri_is_own_domain(&self, msg: &Message) -> bool {
        msg.request_uri_parsed()
            .and_then(Result::ok)
            .is_some_and(|u| self.uri_is_own_domain(&u))
    }
}

/// The MAC our Record-Route carries (`sr`): the relay's key over the Call-ID and `tag`, the
/// From tag of the request that creates the dialog. The To tag is not known yet then; every
/// later request of the dialog repeats the initiator's tag, as From tag or as To tag. So a
/// Route naming the relay proves that the relay record-routed a dialog with this Call-ID and
/// this initiator, not only one with the same Call-ID; and nothing in it depends on how a UA
/// echoes the Record-Route URI, as long as it keeps the `sr` parameter.
fn route_mac(key: &RelayKey, call_id: Option<&[u8]>, tag: Option<&[u8]>) -> u64 {
    let mut h = key.hasher();
    b"record-route".hash(&mut h);
    call_id.hash(&mut h);
    tag.hash(&mut h);
    h.finish()
}

/// A message that cannot be parsed: when its start line is a request's (not ACK), a 400 made
/// from its Via, From, To, Call-ID and CSeq lines as they stand. Over TCP and TLS it goes back
/// on the connection (even when no Via can be read: the connection is the return path); over
/// UDP only to an address a readable top Via gives (§18.2.2), else nothing is sent.
pub fn refuse_unparsable(bytes: &[u8], from: Peer, why: &str) -> Decision {
    let unanswered = |what: &str| Decision::drop(format!("{what} from {from}: {why}"));
    let head_end = memchr::memmem::find(bytes, b"\r\n\r\n").unwrap_or(bytes.len());
    let mut lines = bytes[..head_end]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let Some(method) = lines.next().and_then(request_method) else {
        return unanswered("unparsable message");
    };
    if method == b"ACK" {
        return unanswered("unparsable ACK (never answered)");
    }
    let mut copied: Vec<(HeaderKind, Vec<u8>)> = Vec::new();
    let mut last_copied = false;
    for line in lines {
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            // A folded continuation belongs to the line before it.
            if let (true, Some((_, prev))) = (last_copied, copied.last_mut()) {
                prev.extend_from_slice(b"\r\n");
                prev.extend_from_slice(line);
            }
            continue;
        }
        let kind = memchr::memchr(b':', line)
            .map(|colon| HeaderKind::from_name(line[..colon].trim_ascii()));
        last_copied = matches!(
            kind,
            Some(HeaderKind::Via | HeaderKind::From | HeaderKind::To)
                | Some(HeaderKind::CallId | HeaderKind::CSeq)
        );
        if let (true, Some(kind)) = (last_copied, kind) {
            copied.push((kind, line.to_vec()));
        }
    }
    let to = if from.transport.is_stream() {
        from
    } else {
        let top = copied
            .iter()
            .find(|(k, _)| *k == HeaderKind::Via)
            .and_then(|(_, line)| unparsable_via_target(line, from));
        match top {
            Some(t) => t,
            None => {
                return unanswered("unparsable request without a readable Via (no return path)")
            }
        }
    };
    let mut out = b"SIP/2.0 400 Bad Request\r\n".to_vec();
    for (kind, line) in &copied {
        out.extend_from_slice(line);
        let to_has_tag = memchr::memmem::find(&line.to_ascii_lowercase(), b";tag=").is_some();
        if *kind == HeaderKind::To && !to_has_tag {
            let mut h = DefaultHasher::new();
            bytes.hash(&mut h);
            let _ = write!(VecWriter(&mut out), ";tag=sr{:016x}", h.finish());
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Server: sipsec-relay\r\nContent-Length: 0\r\n\r\n");
    Decision {
        verdict: Verdict::Answered(400),
        note: format!(
            "unparsable {} from {from}: 400 Bad Request: {why}",
            String::from_utf8_lossy(method)
        ),
        transmits: vec![Transmit::new(to, out)],
        refusal: None,
        passage: None,
        delay: 0,
    }
}

/// The method of a request line `METHOD SP Request-URI SP SIP/2.0`.
fn request_method(line: &[u8]) -> Option<&[u8]> {
    let mut parts = line.split(|&b| b == b' ');
    let method = parts
        .next()
        .filter(|m| !m.is_empty() && m.iter().all(|&c| crate::message::is_token_char(c)))?;
    let uri = parts.next()?;
    let version = parts.next()?;
    let ok = !uri.is_empty() && version.eq_ignore_ascii_case(b"SIP/2.0") && parts.next().is_none();
    ok.then_some(method)
}

/// Over UDP: the source address, and the port from rport (the source port) or sent-by.
fn unparsable_via_target(line: &[u8], from: Peer) -> Option<Peer> {
    let colon = memchr::memchr(b':', line)?;
    let value = line.get(colon + 1..)?.trim_ascii();
    let (_, elem) = split_list(value).next()?.ok()?;
    let via = Via::parse(elem).ok()?;
    let port = match via.rport() {
        Some(_) => from.addr.port(),
        None => via.port().unwrap_or(default_port(from.transport)),
    };
    Some(Peer::new(
        from.transport,
        SocketAddr::new(from.addr.ip(), port),
    ))
}

/// The host of a URI as a domain key: names lower-cased without a final dot, IPv4 dotted,
/// IPv6 bracketed.
fn host_key(uri: &Uri<'_>) -> String {
    match uri.host() {
        Some(Host::Name(n)) => n.trim_end_matches('.').to_ascii_lowercase(),
        Some(Host::Ipv4(a)) => a.to_string(),
        Some(Host::Ipv6 { addr, .. }) => format!("[{addr}]"),
        None => String::new(),
    }
}

fn host_port(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// Where a response goes by this Via (§18.2.2, RFC 3581): received (else the sent-by host,
/// if it is an address) and rport (else the sent-by port, else the default).
fn via_target(via: &Via<'_>) -> Option<Peer> {
    via_address(via, true)
}

/// [`via_target`], or with `use_rport` false the sent-by port even when rport is there: where
/// a new connection goes when the one a request came on is gone (§18.2.2).
fn via_address(via: &Via<'_>, use_rport: bool) -> Option<Peer> {
    let transport = Transport::from_token(via.transport())?;
    let ip: IpAddr = match via.received() {
        Some(r) => std::str::from_utf8(r)
            .ok()?
            .trim_matches(|c| c == '[' || c == ']')
            .parse()
            .ok()?,
        None => match via.host() {
            Host::Ipv4(a) => a.into(),
            Host::Ipv6 { addr, .. } => addr.into(),
            Host::Name(_) => return None,
        },
    };
    let port = match via.rport().filter(|_| use_rport) {
        Some(Some(p)) => std::str::from_utf8(p).ok()?.parse().ok()?,
        _ => via.port().unwrap_or(default_port(transport)),
    };
    Some(Peer::new(transport, SocketAddr::new(ip, port)))
}

/// §18.2.1 and RFC 3581 §4: `received` when the sent-by is not the source address, `rport`
/// filled in when asked. Over TCP and TLS `rport` is always set, so the response finds the
/// connection the request came on (§18.2.2).
fn stamp_via(msg: &mut Message, from: Peer) -> Result<(), String> {
    let index = msg
        .indices_of(HeaderKind::Via)
        .next()
        .ok_or("no Via header")?;
    let value = msg.field_value(&msg.fields()[index]).to_vec();
    let (at, elem) = split_list(&value)
        .next()
        .ok_or("empty Via")?
        .map_err(|e| e.to_string())?;
    let via = Via::parse(elem).map_err(|e| e.to_string())?;
    let src_ip = from.addr.ip();
    let sent_by_is_source = match via.host() {
        Host::Ipv4(a) => IpAddr::from(a) == src_ip,
        Host::Ipv6 { addr, .. } => IpAddr::from(addr) == src_ip,
        Host::Name(_) => false,
    };
    let wants_rport = via.rport().is_some() || from.transport.is_stream();
    if sent_by_is_source && !wants_rport {
        return Ok(());
    }
    let base = elem.as_ptr() as usize;
    let offset = |s: &[u8]| s.as_ptr() as usize - base;
    let mut new_elem = Vec::with_capacity(elem.len() + 40);
    let mut copied = 0;
    for p in via.params().iter() {
        let is_received = p.name.eq_ignore_ascii_case(b"received");
        let is_rport = p.name.eq_ignore_ascii_case(b"rport");
        if !is_received && !is_rport {
            continue;
        }
        // Drop the old parameter (from its `;`) and write ours in its place later.
        let name_at = offset(p.name);
        let start = elem[..name_at]
            .iter()
            .rposition(|&b| b == b';')
            .unwrap_or(name_at);
        let end = p
            .value
            .map_or(name_at + p.name.len(), |v| offset(v) + v.len());
        new_elem.extend_from_slice(&elem[copied..start]);
        copied = end;
    }
    new_elem.extend_from_slice(&elem[copied..]);
    let ip_text = match src_ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    let _ = write!(VecWriter(&mut new_elem), ";received={ip_text}");
    if wants_rport {
        let _ = write!(VecWriter(&mut new_elem), ";rport={}", from.addr.port());
    }
    let mut new_value = value[..at].to_vec();
    new_value.extend_from_slice(&new_elem);
    new_value.extend_from_slice(&value[at + elem.len()..]);
    msg.set_field_value(index, &new_value)
        .map_err(|e| e.to_string())
}

/// Formats straight into a hasher: the bytes a `String` would hold, in the same order (the
/// SipHash hashers are streaming, so pieces hash as the whole would).
struct HashWriter<'a, H: Hasher>(&'a mut H);

impl<H: Hasher> std::fmt::Write for HashWriter<'_, H> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.write(s.as_bytes());
        Ok(())
    }
}

struct VecWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Contacts listed in a 200 to REGISTER at most, and their bytes at most: the answer to a
/// small REGISTER stays small however many bindings the AOR has.
const LISTED_CONTACTS: usize = 10;
const LISTED_BYTES: usize = 1024;

/// The Contact fields of a 200 to REGISTER, most recent first as the registrar keeps them,
/// within the bounds above, and a Warning saying how many were left out.
fn listed_bindings(bindings: &[(String, u64)]) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut bytes = 0;
    for (contact, secs) in bindings {
        let field = format!("<{contact}>;expires={secs}");
        if out.len() == LISTED_CONTACTS || bytes + field.len() > LISTED_BYTES {
            break;
        }
        bytes += field.len();
        out.push(("Contact", field));
    }
    let omitted = bindings.len() - out.len();
    if omitted > 0 {
        out.push((
            "Warning",
            format!("399 sipsec-relay \"{omitted} more binding(s) not listed\""),
        ));
    }
    out
}

/// The keyed transaction part of a branch we made (`z9hG4bKsr<txn>.<loop>`, 16 hex digits).
fn our_transaction_part(via: &Via<'_>) -> Option<u64> {
    let branch = std::str::from_utf8(via.branch()?).ok()?;
    let (txn, _) = branch.strip_prefix(BRANCH_PREFIX)?.split_once('.')?;
    (txn.len() == 16 && txn.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u64::from_str_radix(txn, 16).ok())
        .flatten()
}

/// The transaction part of our branch (§16.11): the same for retransmissions, and for a CANCEL
/// or non-2xx ACK as for their INVITE, so the method is left out. Over a request's top Via, or
/// over a response's after our own was removed: the same value.
fn transaction_hash(msg: &Message, mut h: impl Hasher) -> u64 {
    let top = msg.top_via().ok();
    match top
        .and_then(|v| v.branch())
        .filter(|b| b.starts_with(b"z9hG4bK"))
    {
        Some(branch) => {
            branch.hash(&mut h);
            if let Some(v) = top {
                // As `v.host().to_string().hash(..)` would, without the String.
                let _ = write!(HashWriter(&mut h), "{}", v.host());
                h.write_u8(0xff);
                v.port().hash(&mut h);
            }
        }
        None => {
            // RFC 2543 peers: the fields that identify their transaction and that a response
            // repeats (not the To tag, which the response adds).
            msg.value(HeaderKind::Via).hash(&mut h);
            msg.call_id().ok().hash(&mut h);
            msg.from().ok().and_then(|a| a.tag()).hash(&mut h);
            msg.cseq().ok().map(|c| c.seq).hash(&mut h);
        }
    }
    h.finish()
}

/// The loop-detection part of our branch (§16.6 step 8): the fields whose change makes a
/// returning request a spiral rather than a loop.
fn loop_hash(msg: &Message) -> u64 {
    let mut h = DefaultHasher::new();
    msg.request_uri().hash(&mut h);
    hash_dialog(msg, &mut h);
    for r in msg.values(HeaderKind::Route) {
        r.hash(&mut h);
    }
    for p in msg.values_named("Proxy-Require") {
        p.hash(&mut h);
    }
    h.finish()
}

fn hash_dialog(msg: &Message, h: &mut impl Hasher) {
    msg.from().ok().and_then(|a| a.tag()).hash(h);
    msg.to().ok().and_then(|a| a.tag()).hash(h);
    msg.call_id().ok().hash(h);
    msg.cseq().ok().map(|c| c.seq).hash(h);
}

/// A response to `req` (§8.2.6): its Vias, From, To (with a tag made from the request, so a
/// retransmission gets the same one), Call-ID and CSeq, then `extra`.
pub fn build_response(req: &Message, code: u16, reason: &str, extra: &[(&str, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let _ = write!(VecWriter(&mut out), "SIP/2.0 {code} {reason}\r\n");
    for f in req.fields() {
        let copy = matches!(
            f.kind,
            HeaderKind::Via | HeaderKind::From | HeaderKind::CallId | HeaderKind::CSeq
        );
        if copy || f.kind == HeaderKind::To {
            out.extend_from_slice(req.field_name(f));
            out.extend_from_slice(b": ");
            out.extend_from_slice(req.field_value(f));
            if f.kind == HeaderKind::To && code > 100 && req.to().is_ok_and(|t| t.tag().is_none()) {
                // Unkeyed: the tag only has to repeat for a retransmission.
                let txn = transaction_hash(req, DefaultHasher::new());
                let _ = write!(VecWriter(&mut out), ";tag=sr{txn:016x}");
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    for (name, value) in extra {
        let _ = write!(VecWriter(&mut out), "{name}: {value}\r\n");
    }
    out.extend_from_slice(b"Server: sipsec-relay\r\nContent-Length: 0\r\n\r\n");
    out
}

#[derive(Clone, Copy)]
enum Position {
    First,
    Last,
}

/// Removes the first or last element of a list header (Via, Route) across all its fields.
fn remove_list_element(msg: &mut Message, kind: HeaderKind, pos: Position) {
    let indices: Vec<usize> = msg.indices_of(kind).collect();
    let index = match pos {
        Position::First => indices.first(),
        Position::Last => indices.last(),
    };
    let Some(&index) = index else { return };
    let value = msg.field_value(&msg.fields()[index]).to_vec();
    let elems: Vec<(usize, usize)> = split_list(&value)
        .filter_map(Result::ok)
        .map(|(at, e)| (at, at + e.len()))
        .collect();
    if elems.len() <= 1 {
        msg.remove_field(index);
        return;
    }
    let rest = match pos {
        Position::First => value[elems[1].0..].to_vec(),
        Position::Last => {
            let before = &value[..elems[elems.len() - 1].0];
            let end = before
                .iter()
                .rposition(|&b| b == b',')
                .unwrap_or(before.len());
            value[..end].trim_ascii_end().to_vec()
        }
    };
    let _ = msg.set_field_value(index, &rest);
}

fn set_first(msg: &mut Message, kind: HeaderKind, value: &str) {
    let first = msg.indices_of(kind).next();
    if let Some(i) = first {
        let _ = msg.set_field_value(i, value.as_bytes());
    }
}

#[cfg(test)]
mod tests;
