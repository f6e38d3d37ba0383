//! The sans-IO routing core: RFC 3261 §16 as a stateless proxy (§16.11), with the registrar
//! of [`super::registrar`] for its own domains.
//!
//! [`Relay::handle`] takes one message, where it came from and the time, and returns a
//! [`Decision`]: what to send where, and a one-line note saying why.

use super::registrar::{Location, RegisterOutcome};
use super::{Config, Peer, ServerIdentity, Transport};
use crate::auth::attribution::Attribution;
use crate::auth::gate::{AuthCounters, AuthGate, RequestAuth};
use crate::error::ParseResult;
use crate::filter::{control, mark};
use crate::header::{split_list, Address, Validated, Via};
use crate::message::{unfold, unfold_checked, LineEnding, Message};
use crate::uri::{Host, Ipv4Text, Scheme, Uri};
use crate::HeaderKind;
use siphasher::sip::SipHasher13;
use std::borrow::Cow;
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

/// Bytes a forwarded request grows by at most, usually: our Via, our Record-Route,
/// received and rport.
const EDIT_ROOM: usize = 256;

/// What §16.4 makes of a request's Route set and Request-URI (the edits not made yet).
struct Routing<'a> {
    own: OwnRoute,
    /// Strict-routed to us: the request line with the last Route as Request-URI (that Route
    /// is removed).
    strict: Option<Vec<u8>>,
    /// The top Route named us: it is removed.
    top_removed: bool,
    /// The Route elements left after those removals (a removal that cannot be made leaves
    /// its element: see [`list_removal`]).
    routes: &'a [Address<'a>],
    /// The last and the first Route field (their indices, the same field when there is one)
    /// as the removals leave them (`None`: removed; a field they edit is unfolded).
    edited: [(usize, Option<Cow<'a, [u8]>>); 2],
    /// The Request-URI after them.
    request_uri: Uri<'a>,
}

/// Where a request goes, and the request line the location service gave it.
struct NextHop {
    target: Peer,
    hop: Hop,
    identity: ServerIdentity,
    request_line: Option<Vec<u8>>,
}

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
    /// What the next hop of each of `config.routes` must prove, in the same order.
    route_identities: Vec<ServerIdentity>,
    /// Marks and control headers that came from the network on their way to the relay's
    /// terminals, removed.
    network_marks_removed: u64,
}

fn route_identities(config: &Config) -> Vec<ServerIdentity> {
    let of = |r: &super::StaticRoute| ServerIdentity::of_host(&r.domain);
    config.routes.iter().map(of).collect()
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
            network_marks_removed: 0,
            notes: true,
            route_identities: route_identities(&config),
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
        self.route_identities = route_identities(&config);
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
        // Room for our Via, Record-Route and received/rport: the message is copied once.
        msg.reserve(EDIT_ROOM, 2);
        // Every check of validate, and the fields parsed once for all that follows. Nothing
        // edits the message until the decision is made: the edits come last, in the order
        // they were always made (received/rport first, then as §16.6 gives them), and a
        // refusal is made from the request with received/rport stamped.
        let checked = match self.auth {
            // Authentication sees the request stamped (below).
            Some(_) => None,
            None => match msg.validated() {
                Ok(view) => deferred_stamp(&msg, &view, from).map(|stamp| (view, stamp)),
                Err(_) => None,
            },
        };
        let (view, stamp, member) = match checked {
            Some((view, stamp)) => (view, stamp, None),
            None => {
                if let Err(e) = stamp_via(&mut msg, from) {
                    return Decision::drop(format!("request without a usable Via: {e}"));
                }
                let member = match self.auth.is_some() {
                    true => match self.authenticate(&mut msg, from, now) {
                        Ok(member) => member,
                        Err(answer) => return answer,
                    },
                    false => None,
                };
                match msg.validated() {
                    Ok(view) => (view, None, member),
                    Err(e) => {
                        let note = format!("invalid: {e}");
                        return self.refuse(&msg, from, 400, "Bad Request", &note);
                    }
                }
            }
        };
        let top_field = match &stamp {
            Some(s) => Some(&s.value[..]),
            None => msg.value(HeaderKind::Via),
        };
        let txn = transaction_hash(&msg, view.vias.first(), top_field, self.key.hasher());
        let request_uri = match view.request_uri {
            Some(u) if matches!(u.scheme(), Scheme::Sip | Scheme::Sips) => u,
            _ => {
                return self.refuse_stamped(
                    msg,
                    stamp,
                    from,
                    416,
                    "Unsupported URI Scheme",
                    "unsupported scheme",
                )
            }
        };
        if view.max_forwards == Some(0) {
            let (code, reason) = (483, "Too Many Hops");
            let note = "Max-Forwards exhausted";
            return self.refuse_stamped(msg, stamp, from, code, reason, note);
        }
        let routing = match self.preprocess_routes(&msg, &view, request_uri) {
            Ok(r) => r,
            Err(note) => return self.refuse_stamped(msg, stamp, from, 400, "Bad Request", &note),
        };
        let own_route = routing.own;
        let loop_hash = loop_hash(&msg, &view, &routing);
        if self.looped(&view.vias, loop_hash) {
            let (code, reason) = (482, "Loop Detected");
            let note = "our own Via with this hash";
            return self.refuse_stamped(msg, stamp, from, code, reason, note);
        }
        if msg.method() == Some(b"REGISTER") && self.uri_is_own_domain(&routing.request_uri) {
            let msg = stamped(msg, stamp);
            return self.register(&msg, from, now, member.as_ref());
        }
        let next = match self.next_hop(&msg, &routing, now) {
            Ok(t) => t,
            Err((code, reason, note)) => {
                return self.refuse_stamped(msg, stamp, from, code, reason, &note)
            }
        };
        let (target, hop) = (next.target, next.hop);
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
                .refuse_stamped(msg, stamp, from, 403, "Forbidden", &note)
                .refused(why);
        }
        if self.is_own_address(target.addr) {
            let (code, reason) = (482, "Loop Detected");
            let note = "next hop is the relay itself";
            return self.refuse_stamped(msg, stamp, from, code, reason, note);
        }
        // Record-Route what may create a dialog (RFC 3261 §16.6 step 4; RFC 6665, 3515).
        let dialog_creating = matches!(
            msg.method(),
            Some(b"INVITE" | b"SUBSCRIBE" | b"REFER" | b"NOTIFY")
        ) && view.to.tag().is_none();
        let record_route = dialog_creating.then(|| {
            let mac = route_mac(&self.key, Some(view.call_id), view.from.tag());
            self.own_record_route(target, mac)
        });
        let branch = our_branch(txn, loop_hash);
        // The edits, in the order §16.6 makes them: Max-Forwards, Route, Request-URI,
        // Record-Route, Via.
        let max_forwards = view.max_forwards;
        let (strict, top_removed) = (routing.strict.is_some(), routing.top_removed);
        let request_line = next.request_line.or(routing.strict);
        let mut msg = stamped(msg, stamp);
        match max_forwards {
            Some(n) => {
                let mut digits = itoa::Buffer::new();
                set_first(
                    &mut msg,
                    HeaderKind::MaxForwards,
                    digits.format(n - 1).as_bytes(),
                );
            }
            None => {
                let _ = msg.append_field("Max-Forwards", b"70");
            }
        }
        if strict {
            remove_list_element(&mut msg, HeaderKind::Route, Position::Last);
        }
        if top_removed {
            remove_list_element(&mut msg, HeaderKind::Route, Position::First);
        }
        if let Some(line) = request_line {
            if let Err(e) = msg.set_start_line(&line) {
                return self.refuse(&msg, from, 500, "Server Internal Error", &e.to_string());
            }
        }
        if let Some(rr) = record_route {
            let at = msg
                .indices_of(HeaderKind::RecordRoute)
                .next()
                .or_else(|| msg.indices_of(HeaderKind::Via).last().map(|i| i + 1))
                .unwrap_or(0);
            let _ = msg.insert_field(at, "Record-Route", &rr);
        }
        let passage = match member {
            Some(m) => Some(Passage::Outbound(m)),
            // Towards a terminal: to a registered contact, or in a dialog straight to the
            // Request-URI once our own Route is taken off (a request that goes on to another
            // proxy's Route leaves for the network).
            None if hop == Hop::Location
                || (hop == Hop::RequestUri && own_route == OwnRoute::Verified) =>
            {
                self.remove_network_marks(&mut msg);
                Some(Passage::Inbound)
            }
            None => None,
        };
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
            passage,
            delay: 0,
            transmits: vec![Transmit {
                identity: Some(next.identity),
                ..Transmit::new(target, msg.into_bytes())
            }],
        }
    }

    /// Member authentication, on the request as it arrived (before its Request-URI or Route
    /// is changed: the credentials cover it as sent). The member it came from, if any, or
    /// the answer to send instead of forwarding it.
    fn authenticate(
        &mut self,
        msg: &mut Message,
        from: Peer,
        now: u64,
    ) -> Result<Option<Attribution>, Decision> {
        if let Err(e) = msg.validate() {
            return Err(self.refuse(msg, from, 400, "Bad Request", &format!("invalid: {e}")));
        }
        let Some(gate) = self.auth.as_mut() else {
            return Ok(None);
        };
        let out = gate.check_request(msg, from, now);
        match (out, gate.take_warning()) {
            (RequestAuth::Exempt, None) => Ok(None),
            (RequestAuth::Exempt, Some(w)) => {
                eprintln!("sipsec-relay: {w}");
                Ok(None)
            }
            (RequestAuth::Member(a), _) => Ok(Some(a)),
            (RequestAuth::Answer(answer), warning) => {
                if let Some(w) = warning {
                    eprintln!("sipsec-relay: {w}");
                }
                let note = format!("authentication: {}", answer.refusal.name());
                let fields: Vec<(&str, String)> = answer.fields;
                let mut d = self.reply(msg, from, answer.code, answer.reason, &fields, &note);
                d.delay = answer.delay;
                Err(d)
            }
        }
    }

    fn insert_own_via(&self, msg: &mut Message, target: Peer, branch: &[u8]) {
        // Our Via goes first of all fields, so field 0 is ours when it must be replaced.
        let _ = msg.insert_field(0, "Via", &self.own_via(target, branch));
    }

    fn own_via(&self, target: Peer, branch: &[u8]) -> Vec<u8> {
        let me = self.own_address(target);
        let mut via = Vec::with_capacity(60 + branch.len());
        via.extend_from_slice(b"SIP/2.0/");
        via.extend_from_slice(target.transport.via_token().as_bytes());
        via.push(b' ');
        push_host_port(&mut via, me.addr);
        via.extend_from_slice(b";branch=");
        via.extend_from_slice(branch);
        via
    }

    /// `<sip:host:port[;transport=…];lr;sr=MAC>`: the address the relay listens on for
    /// `target`'s transport, and the MAC that makes a Route back to it valid.
    fn own_record_route(&self, target: Peer, mac: u64) -> Vec<u8> {
        let me = self.own_address(target);
        let mut rr = Vec::with_capacity(80);
        rr.extend_from_slice(b"<sip:");
        push_host_port(&mut rr, me.addr);
        if me.transport != Transport::Udp {
            rr.extend_from_slice(b";transport=");
            rr.extend_from_slice(me.transport.name().as_bytes());
        }
        rr.extend_from_slice(b";lr;");
        rr.extend_from_slice(ROUTE_MAC_PARAM.as_bytes());
        rr.push(b'=');
        push_hex16(&mut rr, mac);
        rr.push(b'>');
        rr
    }

    /// Whether the Route (or strict-routed Request-URI) `uri` carries the MAC our
    /// Record-Route gave this dialog (see [`route_mac`]): under the current or the previous
    /// key, over the request's Call-ID and its From tag (a request from the dialog's
    /// initiator) or its To tag (one from the other side, which swaps From and To).
    fn carries_our_mac(&self, view: &Validated<'_>, uri: &Uri<'_>) -> bool {
        let mac = uri
            .param(ROUTE_MAC_PARAM)
            .flatten()
            .filter(|m| m.len() == 16)
            .and_then(|m| u64::from_str_radix(m, 16).ok());
        let Some(mac) = mac else { return false };
        let call_id = Some(view.call_id);
        let tags = [view.from.tag(), view.to.tag()];
        self.keys()
            .any(|k| tags.iter().any(|&tag| route_mac(k, call_id, tag) == mac))
    }

    /// §16.4: a strict-routed request (Request-URI is ours) gets its Request-URI back from the
    /// last Route; a top Route naming us is removed. Decided on the request as it is; the
    /// edits are made once the request is to be forwarded.
    fn preprocess_routes<'a>(
        &self,
        msg: &'a Message,
        view: &'a Validated<'a>,
        request_uri: Uri<'a>,
    ) -> Result<Routing<'a>, String> {
        let mut routing = Routing {
            own: OwnRoute::Absent,
            strict: None,
            top_removed: false,
            routes: &view.routes,
            edited: [(usize::MAX, None), (usize::MAX, None)],
            request_uri,
        };
        if routing.routes.is_empty() {
            // Neither strict-routed to us nor a Route of ours to take off.
            return Ok(routing);
        }
        let verified = |uri: &Uri<'_>| match self.carries_our_mac(view, uri) {
            true => OwnRoute::Verified,
            false => OwnRoute::Unverified,
        };
        if self.uri_is_me(&request_uri) {
            routing.own = verified(&request_uri);
            if let Some((last, rest)) = routing.routes.split_last() {
                let line = request_line(msg.method().unwrap_or_default(), last.uri().as_str());
                Message::check_start_line(&line).map_err(|e| format!("strict route: {e}"))?;
                routing.strict = Some(line);
                routing.request_uri = *last.uri();
                // Which Route names us is judged without the last one.
                routing.routes = rest;
            }
        }
        if let Some(top) = routing.routes.first() {
            if self.uri_is_me(top.uri()) {
                if routing.own != OwnRoute::Verified {
                    routing.own = verified(top.uri());
                }
                routing.top_removed = true;
            }
        }
        // What the removals will leave of the last and the first Route field, and which
        // elements they will actually take off.
        let (Some(first), Some(last)) = (
            msg.indices_of(HeaderKind::Route).next(),
            msg.indices_of(HeaderKind::Route).last(),
        ) else {
            return Ok(routing);
        };
        let value = |i: usize| Some(Cow::Borrowed(msg.field_value(&msg.fields()[i])));
        let (last_value, strict_done) = match routing.strict {
            Some(_) => removal(value(last), Position::Last),
            None => (value(last), false),
        };
        let first_value = if first == last {
            last_value.clone()
        } else {
            value(first)
        };
        let (first_value, top_done) = match routing.top_removed {
            true => removal(first_value, Position::First),
            false => (first_value, false),
        };
        routing.edited = [(last, last_value), (first, first_value)];
        let all = &view.routes;
        routing.routes = &all[usize::from(top_done)..all.len() - usize::from(strict_done)];
        Ok(routing)
    }

    fn looped(&self, vias: &[Via<'_>], loop_hash: u64) -> bool {
        vias.iter().any(|v| {
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
    /// resolver. The location service gives a new Request-URI.
    fn next_hop(
        &mut self,
        msg: &Message,
        routing: &Routing<'_>,
        now: u64,
    ) -> Result<NextHop, (u16, &'static str, String)> {
        let unroutable = |why: String| (404, "Not Found", why);
        let identity = |uri: &Uri<'_>| match uri.host() {
            Some(Host::Ipv4(a)) => ServerIdentity::Ip(a.into()),
            Some(Host::Ipv6 { addr, .. }) => ServerIdentity::Ip(addr.into()),
            _ => ServerIdentity::of_host(&host_key(uri)),
        };
        let hop = |target, hop, identity| NextHop {
            target,
            hop,
            identity,
            request_line: None,
        };
        if let Some(route) = routing.routes.first().map(|a| *a.uri()) {
            return self
                .resolver
                .resolve(&route)
                .map(|p| hop(p, Hop::Route, identity(&route)))
                .ok_or_else(|| unroutable(format!("cannot resolve Route {}", route.as_str())));
        }
        let uri = routing.request_uri;
        let uri_text = uri.as_str();
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
                    let line = request_line(msg.method().unwrap_or_default(), &b.contact);
                    Message::check_start_line(&line)
                        .map_err(|e| (500, "Server Internal Error", e.to_string()))?;
                    return Ok(NextHop {
                        request_line: Some(line),
                        ..hop(target, Hop::Location, identity(&contact))
                    });
                }
            }
        }
        if uri.host().is_some() {
            let routes = self.config.routes.iter().zip(&self.route_identities);
            if let Some((r, identity)) = routes
                .into_iter()
                .find(|(r, _)| host_key_is(&uri, &r.domain))
            {
                return Ok(hop(r.target, Hop::StaticRoute, identity.clone()));
            }
        }
        if own_domain {
            return Err(unroutable(format!("no binding for {uri_text}")));
        }
        self.resolver
            .resolve(&uri)
            .map(|p| hop(p, Hop::RequestUri, identity(&uri)))
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
        let over_tcp = Peer::new(Transport::Tcp, transmit.to.addr);
        let Some(via) = message
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .map(|b| self.own_via(over_tcp, String::from_utf8_lossy(b).as_bytes()))
        else {
            return;
        };
        if message.set_field_value(index, &via).is_ok() {
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

    /// [`Relay::refuse`] of a request whose received/rport is still to be stamped.
    fn refuse_stamped(
        &self,
        msg: Message,
        stamp: Option<Stamp>,
        from: Peer,
        code: u16,
        reason: &str,
        note: &str,
    ) -> Decision {
        self.refuse(&stamped(msg, stamp), from, code, reason, note)
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
        let forged = || {
            Decision::drop(format!(
                "{code} from {from}: our Via with a branch we did not make (forged)"
            ))
            .refused(Refusal::ForgedResponse)
        };
        let Some(txn) = txn else { return forged() };
        remove_list_element(&mut msg, HeaderKind::Via, Position::First);
        let next = msg.top_via().ok();
        let top_field = msg.value(HeaderKind::Via);
        // The request we forwarded had, as its next Via, the one this response now has on top:
        // our branch's keyed part must be that Via's transaction hash.
        let made_by_us = self
            .keys()
            .any(|k| transaction_hash(&msg, next.as_ref(), top_field, k.hasher()) == txn);
        if !made_by_us {
            return forged();
        }
        let target = next.and_then(|v| {
            via_target(&v).map(|to| {
                let fallback = match to.transport.is_stream() {
                    true => via_address(&v, false).filter(|p| *p != to),
                    false => None,
                };
                (to, fallback)
            })
        });
        let Some((to, fallback)) = target else {
            return Decision::drop(format!("{code} from {from}: no Via to send it on"));
        };
        let attribution = self
            .auth
            .as_ref()
            .and_then(|g| g.attribute_response(from, now));
        let passage = match attribution {
            Some(a) => Passage::Outbound(a),
            None => {
                self.remove_network_marks(&mut msg);
                Passage::Inbound
            }
        };
        Decision {
            verdict: Verdict::Forwarded,
            note: self.note(|| format!("{code} from {from} -> {to}")),
            transmits: vec![Transmit {
                fallback,
                ..Transmit::new(to, msg.into_bytes())
            }],
            refusal: None,
            passage: Some(passage),
            delay: 0,
        }
    }

    /// Removes from a message on its way to the relay's terminals what only sipsec may put
    /// there: marks (`Subject: validated …`, `Sipsec-Verdict`) and control headers. Here they
    /// came from the network; an inbound chain's verifier makes the marks a terminal gets. A
    /// mark hidden in a folded field, for a terminal whose parser does not know folding, is put
    /// on one line with the rest of its field.
    fn remove_network_marks(&mut self, msg: &mut Message) {
        let marks = mark::strip_marks(msg).len();
        let control = msg.remove_named(control::HEADER);
        let hidden = mark::unfold_hidden_marks(msg);
        self.network_marks_removed += (marks + control + hidden) as u64;
    }

    /// Marks and control headers removed from messages towards the relay's terminals (and
    /// fields unfolded that hid a mark).
    pub fn network_marks_removed(&self) -> u64 {
        self.network_marks_removed
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
        let domain = |d: &String| match uri.host() {
            // As `is_own_domain_name(&host_key(uri))`, without building the key.
            Some(Host::Name(n)) => n.trim_end_matches('.').eq_ignore_ascii_case(d),
            Some(Host::Ipv4(a)) => Ipv4Text::new(a).as_str().eq_ignore_ascii_case(d),
            _ => host_key(uri).eq_ignore_ascii_case(d),
        };
        if !self.config.domains.iter().any(domain) {
            return false;
        }
        match (uri.port(), uri.host()) {
            (None, _) => true,
            (Some(_), Some(h)) => matches!(h, Host::Name(_)) || self.uri_is_me(uri),
            _ => false,
        }
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

/// Whether `host_key(uri) == key`, without building the key (a static route is looked up
/// for every request).
fn host_key_is(uri: &Uri<'_>, key: &str) -> bool {
    match uri.host() {
        // host_key lower-cases: a key with upper-case letters never matches.
        Some(Host::Name(n)) => {
            n.trim_end_matches('.').eq_ignore_ascii_case(key)
                && !key.bytes().any(|b| b.is_ascii_uppercase())
        }
        Some(Host::Ipv4(a)) => Ipv4Text::new(a).as_str() == key,
        _ => host_key(uri) == key,
    }
}

/// Appends `host:port` (IPv6 bracketed), as `SocketAddr`'s `Display` writes it for IPv4.
fn push_host_port(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr {
        SocketAddr::V4(a) => {
            out.extend_from_slice(Ipv4Text::new(*a.ip()).as_str().as_bytes());
            out.push(b':');
            out.extend_from_slice(itoa::Buffer::new().format(a.port()).as_bytes());
        }
        SocketAddr::V6(a) => {
            let _ = write!(VecWriter(out), "[{}]:{}", a.ip(), a.port());
        }
    }
}

/// Appends `n` as 16 lower-case hex digits, as `{n:016x}` does.
fn push_hex16(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&hex16(n));
}

fn hex16(n: u64) -> [u8; 16] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    std::array::from_fn(|i| DIGITS[(n >> ((15 - i) * 4)) as usize & 0xf])
}

/// `z9hG4bKsr<txn>.<loop>`: the branch of a request we forward.
fn our_branch(txn: u64, loop_hash: u64) -> [u8; BRANCH_PREFIX.len() + 33] {
    let mut branch = [b'.'; BRANCH_PREFIX.len() + 33];
    let (prefix, rest) = branch.split_at_mut(BRANCH_PREFIX.len());
    prefix.copy_from_slice(BRANCH_PREFIX.as_bytes());
    rest[..16].copy_from_slice(&hex16(txn));
    rest[17..].copy_from_slice(&hex16(loop_hash));
    branch
}

/// `METHOD SP Request-URI SP SIP/2.0`.
fn request_line(method: &[u8], uri: &str) -> Vec<u8> {
    [method, b" ", uri.as_bytes(), b" SIP/2.0"].concat()
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
    let stamp = top_via_stamp(msg, None, from)?;
    match stamp {
        None => Ok(()),
        Some(s) => msg
            .set_field_value(s.index, &s.value)
            .map_err(|e| e.to_string()),
    }
}

/// received/rport to write into the top Via field once the request is decided on.
struct Stamp {
    index: usize,
    value: Vec<u8>,
}

/// [`stamp_via`] on a validated request, made later: `Some(None)` when there is nothing to
/// stamp, `None` when the stamp cannot wait ([`stamp_via`] says why).
fn deferred_stamp(msg: &Message, view: &Validated<'_>, from: Peer) -> Option<Option<Stamp>> {
    top_via_stamp(msg, view.vias.first(), from).ok()
}

/// The stamp [`stamp_via`] makes, or `None` when the top Via stays as it is. A folded field
/// is unfolded first: its new value is written on one line. `parsed` is the field's first
/// via-parm as the validated view parsed it, if the caller has it.
fn top_via_stamp(
    msg: &Message,
    parsed: Option<&Via<'_>>,
    from: Peer,
) -> Result<Option<Stamp>, String> {
    let index = msg
        .indices_of(HeaderKind::Via)
        .next()
        .ok_or("no Via header")?;
    let value = unfold_checked(msg.field_value(&msg.fields()[index])).map_err(|e| e.to_string())?;
    let (at, elem) = split_list(&value)
        .next()
        .ok_or("empty Via")?
        .map_err(|e| e.to_string())?;
    // `stamped_value` finds the parameters by their place in `elem`: the view's parse is of
    // these very bytes unless they were unfolded.
    let reparsed;
    let via = match (parsed, &value) {
        (Some(via), Cow::Borrowed(_)) => via,
        _ => {
            reparsed = Via::parse(elem).map_err(|e| e.to_string())?;
            &reparsed
        }
    };
    let stamp = stamped_value(&value, at, elem, via, from);
    Ok(stamp.map(|value| Stamp { index, value }))
}

fn stamped(mut msg: Message, stamp: Option<Stamp>) -> Message {
    if let Some(s) = stamp {
        // Made from an unfolded value: a value without line breaks is always accepted.
        let _ = msg.set_field_value(s.index, &s.value);
    }
    msg
}

/// The top Via field's value with received/rport set, or `None` when it stays as it is.
/// `elem` (at `at` in `value`) is the first via-parm, parsed as `via`.
fn stamped_value(
    value: &[u8],
    at: usize,
    elem: &[u8],
    via: &Via<'_>,
    from: Peer,
) -> Option<Vec<u8>> {
    let src_ip = from.addr.ip();
    let sent_by_is_source = match via.host() {
        Host::Ipv4(a) => IpAddr::from(a) == src_ip,
        Host::Ipv6 { addr, .. } => IpAddr::from(addr) == src_ip,
        Host::Name(_) => false,
    };
    let wants_rport = via.rport().is_some() || from.transport.is_stream();
    if sent_by_is_source && !wants_rport {
        return None;
    }
    let base = elem.as_ptr() as usize;
    let offset = |s: &[u8]| s.as_ptr() as usize - base;
    let mut new_value = Vec::with_capacity(value.len() + 48);
    new_value.extend_from_slice(&value[..at]);
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
        new_value.extend_from_slice(&elem[copied..start]);
        copied = end;
    }
    new_value.extend_from_slice(&elem[copied..]);
    new_value.extend_from_slice(b";received=");
    match src_ip {
        IpAddr::V4(a) => new_value.extend_from_slice(Ipv4Text::new(a).as_str().as_bytes()),
        IpAddr::V6(a) => {
            let _ = write!(VecWriter(&mut new_value), "[{a}]");
        }
    }
    if wants_rport {
        new_value.extend_from_slice(b";rport=");
        new_value.extend_from_slice(itoa::Buffer::new().format(from.addr.port()).as_bytes());
    }
    new_value.extend_from_slice(&value[at + elem.len()..]);
    Some(new_value)
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
    if txn.len() != 16 {
        return None;
    }
    // Hex digits only (no sign, unlike from_str_radix).
    txn.chars()
        .try_fold(0u64, |n, d| Some(n << 4 | u64::from(d.to_digit(16)?)))
}

/// The transaction part of our branch (§16.11): the same for retransmissions, and for a CANCEL
/// or non-2xx ACK as for their INVITE, so the method is left out. Over a request's top Via, or
/// over a response's after our own was removed: the same value.
/// `top` is the message's top Via, parsed already; `top_field` the value of its first Via
/// field.
fn transaction_hash(
    msg: &Message,
    top: Option<&Via<'_>>,
    top_field: Option<&[u8]>,
    mut h: impl Hasher,
) -> u64 {
    match top
        .and_then(|v| v.branch())
        .filter(|b| b.starts_with(b"z9hG4bK"))
    {
        Some(branch) => {
            branch.hash(&mut h);
            if let Some(v) = top {
                // As `v.host().to_string().hash(..)` would, without the String (the SipHash
                // hashers are streaming: pieces hash as the whole would).
                match v.host() {
                    Host::Name(n) => h.write(n.as_bytes()),
                    Host::Ipv4(a) => h.write(Ipv4Text::new(a).as_str().as_bytes()),
                    Host::Ipv6 { text, .. } => {
                        h.write(b"[");
                        h.write(text.as_bytes());
                        h.write(b"]");
                    }
                }
                h.write_u8(0xff);
                v.port().hash(&mut h);
            }
        }
        None => {
            // RFC 2543 peers: the fields that identify their transaction and that a response
            // repeats (not the To tag, which the response adds). The Via field unfolded: a
            // hop that folds it, or combines it with ours which we then take off (unfolding
            // the rest), leaves its meaning as it was.
            top_field.map(unfold).as_deref().hash(&mut h);
            msg.call_id().ok().hash(&mut h);
            msg.from().ok().and_then(|a| a.tag()).hash(&mut h);
            msg.cseq().ok().map(|c| c.seq).hash(&mut h);
        }
    }
    h.finish()
}

/// The loop-detection part of our branch (§16.6 step 8): the fields whose change makes a
/// returning request a spiral rather than a loop.
/// Over the request as it will be forwarded: its Request-URI and Route fields after
/// `routing`'s edits.
fn loop_hash(msg: &Message, view: &Validated<'_>, routing: &Routing<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    Some(routing.request_uri.as_str().as_bytes()).hash(&mut h);
    view.from.tag().hash(&mut h);
    view.to.tag().hash(&mut h);
    Some(view.call_id).hash(&mut h);
    Some(view.cseq.seq).hash(&mut h);
    let [(last, last_value), (first, first_value)] = &routing.edited;
    for (i, f) in msg.fields().iter().enumerate() {
        if f.kind != HeaderKind::Route {
            continue;
        }
        let value = match i {
            _ if i == *first => first_value.as_deref(),
            _ if i == *last => last_value.as_deref(),
            _ => Some(msg.field_value(f)),
        };
        if let Some(v) = value {
            v.hash(&mut h);
        }
    }
    for p in msg.values(HeaderKind::ProxyRequire) {
        p.hash(&mut h);
    }
    h.finish()
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
            let value = req.field_value(f);
            match req.line_ending() {
                LineEnding::CrLf => out.extend_from_slice(value),
                // In this CRLF response the request's LF folds would be bare line breaks.
                LineEnding::Lf => out.extend_from_slice(&unfold(value)),
            }
            if f.kind == HeaderKind::To && code > 100 && req.to().is_ok_and(|t| t.tag().is_none()) {
                // Unkeyed: the tag only has to repeat for a retransmission.
                let top = req.top_via().ok();
                let top_field = req.value(HeaderKind::Via);
                let txn = transaction_hash(req, top.as_ref(), top_field, DefaultHasher::new());
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
    let index = match pos {
        Position::First => msg.indices_of(kind).next(),
        Position::Last => msg.indices_of(kind).last(),
    };
    let Some(index) = index else { return };
    match list_removal(msg.field_value(&msg.fields()[index]), pos) {
        Err(_) => {}
        Ok(None) => msg.remove_field(index),
        Ok(Some(rest)) => {
            let rest = rest.into_owned();
            let _ = msg.set_field_value(index, &rest);
        }
    }
}

/// What [`remove_list_element`] does to a field's value: `Ok(None)` removes the field,
/// `Ok(Some(rest))` keeps the rest, its folds undone (a field value is replaced only by one
/// without line breaks). An error changes nothing: a line break that is not a fold, which
/// the parser never lets through.
fn list_removal(value: &[u8], pos: Position) -> ParseResult<Option<Cow<'_, [u8]>>> {
    list_rest(value, pos).map(unfold_checked).transpose()
}

/// The value [`remove_list_element`] leaves of a field (`None`: the field is gone), and
/// whether it took an element off. `value` may be what an earlier removal left of the same
/// field (strict routing takes off the last Route, then ours first).
fn removal(value: Option<Cow<'_, [u8]>>, pos: Position) -> (Option<Cow<'_, [u8]>>, bool) {
    let Some(value) = value else {
        return (None, false);
    };
    let rest = match &value {
        Cow::Borrowed(v) => list_removal(v, pos),
        Cow::Owned(v) => list_removal(v, pos).map(|r| r.map(|r| Cow::Owned(r.into_owned()))),
    };
    match rest {
        Ok(rest) => (rest, true),
        Err(_) => (Some(value), false),
    }
}

/// What is left of a list value without its first or last element; `None` when nothing is
/// (the field goes).
fn list_rest(value: &[u8], pos: Position) -> Option<&[u8]> {
    let mut elems = split_list(value).filter_map(Result::ok).map(|(at, _)| at);
    match pos {
        Position::First => {
            elems.next();
            elems.next().map(|second| &value[second..])
        }
        Position::Last => {
            let (count, last) = elems.fold((0, 0), |(n, _), at| (n + 1, at));
            if count <= 1 {
                return None;
            }
            let before = &value[..last];
            let end = before
                .iter()
                .rposition(|&b| b == b',')
                .unwrap_or(before.len());
            Some(value[..end].trim_ascii_end())
        }
    }
}

fn set_first(msg: &mut Message, kind: HeaderKind, value: &[u8]) {
    let first = msg.indices_of(kind).next();
    if let Some(i) = first {
        let _ = msg.set_field_value(i, value);
    }
}

#[cfg(test)]
mod tests;
