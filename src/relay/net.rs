//! The sockets: UDP, TCP and TLS listeners (IPv4 and IPv6), outgoing connections, the
//! connection table, counters and signals. The only module of the relay that does I/O.
//!
//! One thread runs one event loop (tokio's current-thread runtime). Nothing in it waits for a
//! peer: a datagram is sent or dropped at once, a message for a connection goes into that
//! connection's write queue, and connecting happens in a task of its own. Each connection is
//! one task holding its reader, its writer and its timers, so a peer that does not read stalls
//! only its own writer until the write timeout or the queue's byte bound closes it.

use super::core::{refuse_unparsable, Decision, Refusal, Relay, RelayKey, Transmit, Verdict};
use super::live::{Live, LiveOptions, Next, Pending};
use super::ratelimit::{source_of, RateLimiter};
use super::{Config, Peer, ServerIdentity, Transport};
use crate::framing::{FrameEvent, OnGarbage, StreamFramer};
use crate::message::Message;
use openssl::ssl::{Ssl, SslAcceptor, SslConnector};
use openssl::x509::{X509Ref, X509};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_openssl::SslStream;

/// TLS contexts: the server side (our certificate, if the relay has one) and the client
/// side (trust anchors that the next hop's certificate must chain to).
pub struct Tls {
    pub acceptor: Option<SslAcceptor>,
    pub connector: SslConnector,
    /// Which anchors the connector trusts, in words; `None` when it has none (no next hop
    /// is connected over TLS then, rather than falling back to the system's CAs).
    pub anchors: Option<String>,
}

const NO_ANCHORS: &str =
    "no trust anchors for TLS next hops (--tls-ca FILE, --tls-ca system, or --store)";

/// Whether `cert` names `identity` as RFC 5922 §7.1 asks: a subjectAltName of type DNS equal
/// to the domain (no wildcards) or of type URI equal to `sip:domain`; for an IP address, an
/// iPAddress entry. The subject's CN is never used.
fn certificate_names(cert: &X509Ref, identity: &ServerIdentity) -> bool {
    let Some(names) = cert.subject_alt_names() else {
        return false;
    };
    names.iter().any(|n| match identity {
        ServerIdentity::Domain(d) => {
            n.dnsname()
                .is_some_and(|dns| dns.trim_end_matches('.').eq_ignore_ascii_case(d))
                || n.uri().is_some_and(|uri| {
                    uri.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("sip:"))
                        && uri[4..].eq_ignore_ascii_case(d)
                })
        }
        ServerIdentity::Ip(ip) => n.ipaddress().is_some_and(|raw| match ip {
            IpAddr::V4(a) => raw == a.octets(),
            IpAddr::V6(a) => raw == a.octets(),
        }),
    })
}

/// This host's addresses as the system sees them, asked once per address and kept in a
/// bounded table (emptied when full): which address it sends from towards a peer (a UDP
/// socket connected to the peer, which sends nothing), and whether an address is its own (a
/// socket can be bound to it).
#[derive(Default)]
pub struct SystemAddresses {
    source: std::sync::Mutex<HashMap<IpAddr, Option<IpAddr>>>,
    local: std::sync::Mutex<HashMap<IpAddr, bool>>,
}

/// Addresses each table of [`SystemAddresses`] holds at most.
const HOST_ADDRESS_TABLE: usize = 1024;

fn remembered<V: Copy>(
    table: &std::sync::Mutex<HashMap<IpAddr, V>>,
    ip: IpAddr,
    ask: impl FnOnce() -> V,
) -> V {
    let mut table = table.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(v) = table.get(&ip) {
        return *v;
    }
    if table.len() >= HOST_ADDRESS_TABLE {
        table.clear();
    }
    *table.entry(ip).or_insert_with(ask)
}

fn any_address(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::from([0u8; 4]),
        IpAddr::V6(_) => IpAddr::from([0u8; 16]),
    }
}

impl super::core::HostAddresses for SystemAddresses {
    fn source_towards(&self, to: IpAddr) -> Option<IpAddr> {
        remembered(&self.source, to, || {
            let s = std::net::UdpSocket::bind((any_address(to), 0)).ok()?;
            s.connect((to, 5060)).ok()?;
            Some(s.local_addr().ok()?.ip()).filter(|ip| !ip.is_unspecified())
        })
    }

    fn is_local(&self, ip: IpAddr) -> bool {
        ip.is_loopback()
            || remembered(&self.local, ip, || {
                !ip.is_unspecified() && std::net::UdpSocket::bind((ip, 0)).is_ok()
            })
    }
}

/// What bounds every peer's share of the relay. SIGHUP applies new values at once: to what
/// arrives, is queued or is connected from then on (connections already open over a lowered
/// cap stay until they close).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Stream connections with no traffic for this long are closed.
    pub idle_timeout: Duration,
    /// Connections accepted at once (beyond it new ones are closed at once, counted); the
    /// same number again for connections the relay opens.
    pub max_connections: usize,
    /// Connections accepted at once from one source address (an IPv6 /64 is one source).
    pub max_connections_per_source: usize,
    /// Bytes waiting to be written to one connection; past it the peer is closed.
    pub write_queue_bytes: usize,
    /// A write that makes no progress for this long closes the connection.
    pub write_timeout: Duration,
    /// TCP connect and TLS handshake together, from the first SYN; a peer cannot extend it.
    pub handshake_timeout: Duration,
    /// After SIGTERM: how long queued messages may take to go out.
    pub drain_timeout: Duration,
    /// Requests a second from one source address (twice as many in a burst; 0: no limit).
    /// The next hops of `--route`s are exempt.
    pub request_rate: u32,
    /// Unparsable messages and forged responses a second from one source address.
    pub bad_input_rate: u32,
    /// Bytes of unfinished messages held across all connections, and bytes queued for
    /// writing across all connections: each at most this.
    pub buffer_budget: usize,
}

/// Sources the rate limiters remember at most, each.
const RATE_TABLE_SOURCES: usize = 16_384;

/// Socket-level options.
pub struct NetOptions {
    pub limits: Limits,
    /// Messages over this size are refused (datagram) or end the connection (stream).
    pub max_size: usize,
    pub tls: Option<Tls>,
    /// Log one line per decision on stderr.
    pub verbose: bool,
    /// Where SIGUSR1 writes the counters (stderr when `None`).
    pub status_file: Option<std::path::PathBuf>,
    /// No counters on stderr at exit (-q); a status file is still written.
    pub quiet: bool,
    /// Whether the relay's key comes from `--key-file` (a reload without one keeps it).
    pub key_from_file: bool,
    /// The filter chains, when the relay runs any.
    pub live: Option<LiveOptions>,
}

/// What SIGHUP re-reads: the relay's configuration, its socket options (limits and TLS
/// contexts among them) and the key of `--key-file`, if one is given.
pub type Reloader = Box<dyn FnMut() -> anyhow::Result<(Config, NetOptions, Option<RelayKey>)>>;

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// What the relay counts (written by SIGUSR1 as `name=value` pairs).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(non_camel_case_types)]
        pub enum Counter { $($name),* }

        impl Counter {
            pub const ALL: &'static [Counter] = &[$(Counter::$name),*];

            pub fn name(self) -> &'static str {
                match self { $(Counter::$name => stringify!($name)),* }
            }
        }
    };
}

counters!(
    in_udp,
    in_tcp,
    in_tls,
    out_udp,
    out_tcp,
    out_tls,
    generated,
    dropped,
    parse_failures,
    send_failures,
    connections_opened,
    connections_closed,
    connections_refused,
    write_queue_overflows,
    write_timeouts,
    handshake_timeouts,
    tls_name_mismatches,
    not_forwarded,
    forged_routes,
    forged_responses,
    registrar_refused,
    rate_limited,
    budget_refusals,
);

/// The counters since start-up.
#[derive(Debug, Default)]
pub struct Counters {
    values: [Cell<u64>; Counter::ALL.len()],
}

impl Counters {
    pub fn bump(&self, c: Counter) {
        let cell = &self.values[c as usize];
        cell.set(cell.get() + 1);
    }

    pub fn get(&self, c: Counter) -> u64 {
        self.values[c as usize].get()
    }

    /// `name=value` pairs on one line.
    pub fn line(&self) -> String {
        let pairs: Vec<String> = Counter::ALL
            .iter()
            .map(|c| format!("{}={}", c.name(), self.get(*c)))
            .collect();
        pairs.join(" ")
    }
}

fn inbound(t: Transport) -> Counter {
    match t {
        Transport::Udp => Counter::in_udp,
        Transport::Tcp => Counter::in_tcp,
        Transport::Tls => Counter::in_tls,
    }
}

fn outbound(t: Transport) -> Counter {
    match t {
        Transport::Udp => Counter::out_udp,
        Transport::Tcp => Counter::out_tcp,
        Transport::Tls => Counter::out_tls,
    }
}

/// The listening sockets, bound before serving starts (so that a failure to bind is a
/// start-up error naming the address), and the event loop they are registered with.
pub struct Bound {
    runtime: tokio::runtime::Runtime,
    /// What each listener is bound to, in the order asked (a port 0 replaced by the port the
    /// system chose).
    local: Vec<Peer>,
    udp: Vec<UdpSocket>,
    streams: Vec<(Transport, TcpListener)>,
    signals: Signals,
}

/// The signals the relay handles, registered when binding: once the caller says it listens, a
/// SIGUSR1 or SIGHUP must not meet the default action (which ends the process).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

/// The receive buffer asked for each UDP socket.
const UDP_RECEIVE_BUFFER: usize = 4 << 20;

/// Connections waiting to be accepted: a burst of connects is not dropped and retried.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds every listener of `listen`.
pub fn bind(listen: &[Peer]) -> io::Result<Bound> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _in_runtime = runtime.enter();
    let mut udp = Vec::new();
    let mut streams = Vec::new();
    let mut local = Vec::new();
    for l in listen {
        let named = |e: io::Error| io::Error::new(e.kind(), format!("cannot bind {l}: {e}"));
        match l.transport {
            Transport::Udp => {
                let s = std::net::UdpSocket::bind(l.addr).map_err(named)?;
                s.set_nonblocking(true)?;
                // A burst (or a flood beside legitimate traffic) while the loop is busy waits
                // here rather than being dropped; the kernel caps it at net.core.rmem_max.
                let _ = socket2::SockRef::from(&s).set_recv_buffer_size(UDP_RECEIVE_BUFFER);
                local.push(Peer::new(l.transport, s.local_addr()?));
                udp.push(UdpSocket::from_std(s)?);
            }
            t => {
                let s = match l.addr {
                    SocketAddr::V4(_) => TcpSocket::new_v4(),
                    SocketAddr::V6(_) => TcpSocket::new_v6(),
                }?;
                s.set_reuseaddr(true)?;
                s.bind(l.addr).map_err(named)?;
                let listener = s.listen(LISTEN_BACKLOG).map_err(named)?;
                local.push(Peer::new(t, listener.local_addr()?));
                streams.push((t, listener));
            }
        }
    }
    let signals = Signals {
        term: signal(SignalKind::terminate())?,
        int: signal(SignalKind::interrupt())?,
        usr1: signal(SignalKind::user_defined1())?,
        hup: signal(SignalKind::hangup())?,
    };
    Ok(Bound {
        runtime,
        local,
        udp,
        streams,
        signals,
    })
}

impl Bound {
    /// The addresses bound, in the order of `listen` (with the ports the system chose).
    pub fn local(&self) -> &[Peer] {
        &self.local
    }
}

/// One stream connection's shared state: its write queue and why it is closing.
struct Conn {
    /// For a TLS connection the relay opens: the name it was opened for, and the
    /// certificate the next hop showed (once the handshake is done).
    opened_for: Option<ServerIdentity>,
    peer_cert: RefCell<Option<X509>>,
    queue: RefCell<VecDeque<Vec<u8>>>,
    queued_bytes: Cell<usize>,
    wake_writer: Notify,
    closing: RefCell<Option<String>>,
    close_now: Notify,
    /// Set when reading has ended: the writer closes once the queue is empty.
    read_done: RefCell<Option<String>>,
    last_active: Cell<Instant>,
}

impl Conn {
    fn new(opened_for: Option<ServerIdentity>) -> Rc<Conn> {
        Rc::new(Conn {
            opened_for,
            peer_cert: RefCell::new(None),
            queue: RefCell::new(VecDeque::new()),
            queued_bytes: Cell::new(0),
            wake_writer: Notify::new(),
            closing: RefCell::new(None),
            close_now: Notify::new(),
            read_done: RefCell::new(None),
            last_active: Cell::new(Instant::now()),
        })
    }

    fn close(&self, why: String) {
        self.closing.borrow_mut().get_or_insert(why);
        self.close_now.notify_one();
    }

    fn is_closing(&self) -> bool {
        self.closing.borrow().is_some()
    }

    /// Queues `bytes`; false (and the connection closing) when that would pass `bound`.
    fn enqueue(&self, bytes: Vec<u8>, bound: usize) -> bool {
        let total = self.queued_bytes.get() + bytes.len();
        if total > bound {
            self.close(format!(
                "write queue over {bound} bytes (the peer does not read)"
            ));
            return false;
        }
        self.queued_bytes.set(total);
        self.queue.borrow_mut().push_back(bytes);
        self.wake_writer.notify_one();
        true
    }

    /// Whether a request whose next hop must be `id` may go on this connection: any accepted
    /// one (a flow a UA registered over), an opened one only if its certificate names `id`.
    fn may_carry(&self, id: &ServerIdentity) -> bool {
        match &self.opened_for {
            Some(opened) if opened != id => self
                .peer_cert
                .borrow()
                .as_ref()
                .is_some_and(|c| certificate_names(c, id)),
            _ => true,
        }
    }

    async fn closed(&self) -> String {
        loop {
            if let Some(why) = self.closing.borrow().clone() {
                return why;
            }
            self.close_now.notified().await;
        }
    }
}

/// Bytes held across all connections, against a limit.
struct Budget {
    used: Cell<usize>,
    limit: Cell<usize>,
}

impl Budget {
    fn new(limit: usize) -> Budget {
        Budget {
            used: Cell::new(0),
            limit: Cell::new(limit),
        }
    }

    fn is_spent(&self) -> bool {
        self.used.get() > self.limit.get()
    }

    /// Takes `n` bytes if they fit.
    fn take(&self, n: usize) -> bool {
        let fits = self.used.get() + n <= self.limit.get();
        if fits {
            self.used.set(self.used.get() + n);
        }
        fits
    }

    fn give(&self, n: usize) {
        self.used.set(self.used.get() - n);
    }
}

/// What one connection's framer holds of the input budget; given back when dropped (the
/// reader may be dropped mid-read when its connection ends).
struct Held<'a> {
    budget: &'a Budget,
    bytes: usize,
}

impl Held<'_> {
    fn set(&mut self, bytes: usize) {
        self.budget.give(self.bytes);
        self.budget.used.set(self.budget.used.get() + bytes);
        self.bytes = bytes;
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.budget.give(self.bytes);
    }
}

/// How many connections are open, in total and per source address, for the caps.
#[derive(Default)]
struct Occupancy {
    accepted: Cell<usize>,
    opened: Cell<usize>,
    per_source: RefCell<HashMap<IpAddr, usize>>,
}

/// A place in [`Occupancy`], given back when dropped.
struct Slot {
    sh: Rc<Shared>,
    source: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let occ = &self.sh.occupancy;
        match self.source {
            Some(ip) => {
                occ.accepted.set(occ.accepted.get() - 1);
                let mut per = occ.per_source.borrow_mut();
                if let Some(n) = per.get_mut(&ip) {
                    *n -= 1;
                    if *n == 0 {
                        per.remove(&ip);
                    }
                }
            }
            None => occ.opened.set(occ.opened.get() - 1),
        }
    }
}

struct Shared {
    relay: RefCell<Relay>,
    udp: Vec<(SocketAddr, Rc<UdpSocket>)>,
    conns: RefCell<HashMap<Peer, Rc<Conn>>>,
    occupancy: Occupancy,
    counters: Counters,
    input_budget: Budget,
    queue_budget: Budget,
    requests: RefCell<RateLimiter>,
    bad_input: RefCell<RateLimiter>,
    /// The next hops of the static routes: not rate-limited.
    route_targets: RefCell<Vec<IpAddr>>,
    tls: RefCell<Option<Rc<Tls>>>,
    limits: Cell<Limits>,
    max_size: Cell<usize>,
    /// The listen addresses as the configuration gives them, and as bound: a reload that
    /// gives the same ones means the sockets bound (whose ports may have been 0).
    listen_asked: Vec<Peer>,
    listen_bound: Vec<Peer>,
    key_from_file: Cell<bool>,
    verbose: bool,
    status_file: Option<std::path::PathBuf>,
    quiet: bool,
    start: Instant,
    live: RefCell<Option<Live>>,
    /// Answers held back by the digest throttle, at most [`MAX_DELAYED_ANSWERS`].
    delayed: Cell<usize>,
}

/// Answers the digest throttle holds back at once; past it, an answer due for a delay is
/// dropped (the client retransmits, or gives up: what a slowed guesser should do).
const MAX_DELAYED_ANSWERS: usize = 1024;

impl Shared {
    fn limits(&self) -> Limits {
        self.limits.get()
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_secs()
    }

    fn log(&self, line: impl FnOnce() -> String) {
        if self.verbose {
            eprintln!("sipsec-relay: {}", line());
        }
    }

    fn bump(&self, c: Counter) {
        self.counters.bump(c);
    }

    /// The open connection to `peer`; one that is closing counts as gone (a message for the
    /// peer opens a new one, or takes the response's fallback).
    fn conn(&self, peer: &Peer) -> Option<Rc<Conn>> {
        self.conns
            .borrow()
            .get(peer)
            .filter(|c| !c.is_closing())
            .cloned()
    }

    /// A place for a connection accepted from `source` (`Some`) or opened by the relay, if
    /// the caps allow one.
    fn admit(self: &Rc<Shared>, source: Option<IpAddr>) -> Option<Slot> {
        let occ = &self.occupancy;
        let limits = self.limits();
        let max = limits.max_connections;
        match source {
            Some(ip) => {
                let mut per = occ.per_source.borrow_mut();
                let n = per.entry(ip).or_insert(0);
                if occ.accepted.get() >= max || *n >= limits.max_connections_per_source {
                    if *n == 0 {
                        per.remove(&ip);
                    }
                    return None;
                }
                *n += 1;
                occ.accepted.set(occ.accepted.get() + 1);
            }
            None => {
                if occ.opened.get() >= max {
                    return None;
                }
                occ.opened.set(occ.opened.get() + 1);
            }
        }
        Some(Slot {
            sh: Rc::clone(self),
            source,
        })
    }

    fn tls(&self) -> io::Result<Rc<Tls>> {
        self.tls
            .borrow()
            .clone()
            .ok_or_else(|| io::Error::other(NO_ANCHORS))
    }

    fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Takes one token of bad input from `from`'s bucket; false when it has none left.
    fn bad_input_allowed(&self, from: Peer) -> bool {
        let ok = self
            .bad_input
            .borrow_mut()
            .allow(from.addr.ip(), self.seconds());
        if !ok {
            self.bump(Counter::rate_limited);
        }
        ok
    }

    fn request_allowed(&self, from: Peer) -> bool {
        let ip = from.addr.ip();
        if self.route_targets.borrow().contains(&ip) {
            return true;
        }
        let ok = self.requests.borrow_mut().allow(ip, self.seconds());
        if !ok {
            self.bump(Counter::rate_limited);
        }
        ok
    }

    /// The network's counters, then member authentication's and the chains'.
    fn status_line(&self) -> String {
        let mut line = self.counters.line();
        let removed = self.relay.borrow().network_marks_removed();
        line.push_str(&format!(" network_marks_removed={removed}"));
        if let Some(a) = self.relay.borrow().auth_counters() {
            line.push_str(&format!(
                " challenges={} auth_passed={} auth_failed={} auth_throttled={}",
                a.challenges, a.passed, a.failed, a.throttled
            ));
        }
        if let Some(live) = self.live.borrow().as_ref() {
            let c = live.counters();
            line.push_str(&format!(
                " signed={} encrypted={} verified={} decrypted={} chain_refused={} \
                 chain_passed_on_failure={} chain_busy={} marks_kept_off_plain_transports={} \
                 filter_restarts={}",
                c.chains.signed,
                c.chains.encrypted,
                c.chains.verified,
                c.chains.decrypted,
                c.chains.refused,
                c.chains.passed_on_failure,
                c.chain_busy,
                c.marks_kept_off_plain_transports,
                c.filter_restarts
            ));
        }
        line
    }

    fn dump(&self) {
        let line = self.status_line();
        match &self.status_file {
            Some(path) => {
                if let Err(e) = std::fs::write(path, format!("{line}\n")) {
                    eprintln!("sipsec-relay: {}: {e}", path.display());
                }
            }
            None => eprintln!("sipsec-relay: {line}"),
        }
    }
}

fn handle_datagram(sh: &Rc<Shared>, bytes: &[u8], from: Peer) {
    sh.bump(inbound(from.transport));
    match crate::framing::datagram(bytes, sh.max_size.get()) {
        Ok(d) => handle_message(sh, d.message, from),
        Err(e) => handle_unparsable(sh, bytes, from, &e.to_string()),
    }
}

/// A message that cannot be parsed: answered with 400 where possible, unless its source
/// sends too many of them (then dropped unanswered: an answer would only feed a flood, or a
/// reflection when the UDP source is forged).
fn handle_unparsable(sh: &Rc<Shared>, bytes: &[u8], from: Peer, why: &str) {
    sh.bump(Counter::parse_failures);
    if sh.bad_input_allowed(from) {
        dispatch(sh, refuse_unparsable(bytes, from, why));
    } else {
        sh.log(|| format!("unparsable message from {from} dropped: over its rate"));
    }
}

/// A request over its source's rate: over UDP dropped unanswered (the source may be forged,
/// and the sender retransmits anyway); over TCP or TLS, whose source is real, answered 503
/// with Retry-After.
fn handle_message(sh: &Rc<Shared>, message: Message, from: Peer) {
    if message.is_request() && !sh.request_allowed(from) {
        if from.transport.is_stream() {
            let busy = sh.relay.borrow().busy(&message, from, 1);
            dispatch(sh, busy);
        } else {
            sh.log(|| format!("request from {from} dropped: over its rate"));
        }
        return;
    }
    let decision = sh.relay.borrow_mut().handle(message, from, sh.now());
    if decision.refusal == Some(Refusal::ForgedResponse) {
        // Forged responses use up the source's allowance of bad input, like garbage.
        sh.bad_input_allowed(from);
    }
    if let Some(d) = through_chain(sh, decision, from) {
        dispatch(sh, d);
    }
}

/// A forwarded message whose passage names a chain goes to that chain (`None`: its outcome
/// comes back later); anything else is sent as it is.
fn through_chain(sh: &Rc<Shared>, mut decision: Decision, from: Peer) -> Option<Decision> {
    let mut live = sh.live.borrow_mut();
    let (Some(live), Some(passage)) = (live.as_mut(), decision.passage.take()) else {
        return Some(decision);
    };
    if !live.runs(&passage) || decision.transmits.len() != 1 {
        return Some(decision);
    }
    sh.log(|| decision.note.clone());
    let pending = Pending {
        transmit: decision.transmits.remove(0),
        from,
        passage,
    };
    match live.submit(&sh.relay.borrow(), pending) {
        Next::Queued => None,
        Next::Send(d) => Some(d),
    }
}

/// Sends what the chains give back, in the order they give it.
async fn chain_outcomes(
    sh: Rc<Shared>,
    mut outcomes: tokio::sync::mpsc::UnboundedReceiver<(Pending, crate::chain::ChainOutcome)>,
) {
    while let Some((pending, outcome)) = outcomes.recv().await {
        let decision = match sh.live.borrow_mut().as_mut() {
            Some(live) => live.finish(&sh.relay.borrow(), pending, outcome),
            None => return,
        };
        dispatch(&sh, decision);
    }
}

/// Sends what a decision says, without waiting for any peer (an answer the digest throttle
/// delays waits in a task of its own).
fn dispatch(sh: &Rc<Shared>, mut decision: Decision) {
    if decision.delay > 0 {
        if sh.delayed.get() >= MAX_DELAYED_ANSWERS {
            sh.bump(Counter::dropped);
            return sh.log(|| format!("{} (dropped: too many answers held)", decision.note));
        }
        sh.delayed.set(sh.delayed.get() + 1);
        let delay = Duration::from_secs(std::mem::take(&mut decision.delay));
        let sh = Rc::clone(sh);
        tokio::task::spawn_local(async move {
            tokio::time::sleep(delay).await;
            sh.delayed.set(sh.delayed.get() - 1);
            dispatch(&sh, decision);
        });
        return;
    }
    match decision.verdict {
        Verdict::Answered(_) => sh.bump(Counter::generated),
        Verdict::Dropped => sh.bump(Counter::dropped),
        Verdict::Forwarded => {}
    }
    if let Some(why) = decision.refusal {
        sh.bump(match why {
            Refusal::NotForwarded => Counter::not_forwarded,
            Refusal::ForgedRoute => Counter::forged_routes,
            Refusal::ForgedResponse => Counter::forged_responses,
            Refusal::RegistrarFull => Counter::registrar_refused,
        });
    }
    if !decision.note.is_empty() {
        sh.log(|| decision.note.clone());
    }
    for t in decision.transmits {
        if t.to.transport == Transport::Udp {
            send_datagram(sh, t.to.addr, &t.bytes);
        } else {
            send_on_stream(sh, t);
        }
    }
}

fn send_datagram(sh: &Shared, to: SocketAddr, bytes: &[u8]) {
    let sock = sh
        .udp
        .iter()
        .find(|(a, _)| a.is_ipv4() == to.is_ipv4())
        .map(|(_, s)| s);
    let result = match sock {
        Some(s) => s.try_send_to(bytes, to),
        None => Err(io::Error::other("no UDP socket of this address family")),
    };
    match result {
        Ok(_) => sh.bump(Counter::out_udp),
        Err(e) => {
            // A full socket buffer drops the datagram rather than wait: UDP is lossy anyway.
            sh.bump(Counter::send_failures);
            sh.log(|| format!("send to udp:{to} failed: {e}"));
        }
    }
}

fn send_on_stream(sh: &Rc<Shared>, t: Transmit) {
    let mut to = t.to;
    let mut conn = sh.conn(&to);
    if conn.is_none() {
        // §18.2.2: a response whose connection is gone goes on a new one to the Via's
        // received address and sent-by port, never to the old ephemeral port.
        if let Some(f) = t.fallback {
            sh.log(|| format!("connection {to} is gone; response to {f}"));
            to = f;
            conn = sh.conn(&to);
        }
    }
    if let (Some(c), Some(id)) = (&conn, &t.identity) {
        if !c.may_carry(id) {
            sh.bump(Counter::send_failures);
            sh.bump(Counter::tls_name_mismatches);
            sh.log(|| format!("send to {to} refused: its certificate does not name {id}"));
            return;
        }
    }
    let conn = match conn {
        Some(c) => c,
        None => match open(sh, to, t.identity) {
            Some(c) => c,
            None => {
                sh.bump(Counter::send_failures);
                sh.bump(Counter::connections_refused);
                sh.log(|| format!("send to {to} failed: too many connections open"));
                return;
            }
        },
    };
    if !sh.queue_budget.take(t.bytes.len()) {
        sh.bump(Counter::send_failures);
        sh.bump(Counter::budget_refusals);
        sh.log(|| format!("send to {to} failed: the relay's queues hold their budget"));
        return;
    }
    let len = t.bytes.len();
    if !conn.enqueue(t.bytes, sh.limits().write_queue_bytes) {
        sh.queue_budget.give(len);
        sh.bump(Counter::send_failures);
        sh.bump(Counter::write_queue_overflows);
        sh.log(|| format!("send to {to} failed: its write queue is full"));
    }
}

/// Starts a connection to a next hop: the connection is in the table (so that messages
/// queue) while a task connects, then serves it.
fn open(sh: &Rc<Shared>, to: Peer, identity: Option<ServerIdentity>) -> Option<Rc<Conn>> {
    let slot = sh.admit(None)?;
    let identity = (to.transport == Transport::Tls)
        .then(|| identity.unwrap_or(ServerIdentity::Ip(to.addr.ip())));
    let conn = Conn::new(identity);
    sh.conns.borrow_mut().insert(to, Rc::clone(&conn));
    tokio::task::spawn_local(connect(Rc::clone(sh), to, Rc::clone(&conn), slot));
    Some(conn)
}

async fn connect(sh: Rc<Shared>, to: Peer, conn: Rc<Conn>, slot: Slot) {
    let deadline = sh.limits().handshake_timeout;
    let attempt = async {
        let tcp = TcpStream::connect(to.addr).await?;
        tcp.set_nodelay(true)?;
        if to.transport != Transport::Tls {
            return Ok(Stream::Tcp(tcp));
        }
        let tls = sh.tls()?;
        if tls.anchors.is_none() {
            return Err(io::Error::other(NO_ANCHORS));
        }
        let identity = conn
            .opened_for
            .clone()
            .unwrap_or(ServerIdentity::Ip(to.addr.ip()));
        // The name is checked below by RFC 5922's rules, not by OpenSSL's (which would allow
        // wildcards and the CN); the domain still goes out as SNI.
        let ssl = tls
            .connector
            .configure()
            .and_then(|c| c.verify_hostname(false).into_ssl(&identity.to_string()))
            .map_err(io::Error::other)?;
        let mut s = SslStream::new(ssl, tcp).map_err(io::Error::other)?;
        Pin::new(&mut s)
            .connect()
            .await
            .map_err(|e| io::Error::other(format!("TLS handshake with {to}: {e}")))?;
        let cert = s.ssl().peer_certificate();
        if !cert
            .as_ref()
            .is_some_and(|c| certificate_names(c, &identity))
        {
            sh.bump(Counter::tls_name_mismatches);
            return Err(io::Error::other(format!(
                "the certificate of {to} does not name {identity} (RFC 5922)"
            )));
        }
        *conn.peer_cert.borrow_mut() = cert;
        Ok::<_, io::Error>(Stream::Tls(Box::new(s)))
    };
    let stream = match timeout(deadline, attempt).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return fail_connect(&sh, to, &conn, e.to_string()),
        Err(_) => {
            sh.bump(Counter::handshake_timeouts);
            let why = format!("no connection within {} s", deadline.as_secs_f32());
            return fail_connect(&sh, to, &conn, why);
        }
    };
    serve(sh, stream, to, conn, slot).await;
}

fn fail_connect(sh: &Shared, to: Peer, conn: &Rc<Conn>, why: String) {
    remove_conn(sh, to, conn);
    release_queue(sh, conn);
    let lost = conn.queue.borrow().len() as u64;
    for _ in 0..lost {
        sh.bump(Counter::send_failures);
    }
    sh.log(|| format!("connect to {to} failed: {why}"));
}

/// Gives back to the budget what a connection that ends still had queued.
fn release_queue(sh: &Shared, conn: &Conn) {
    sh.queue_budget.give(conn.queued_bytes.replace(0));
}

fn remove_conn(sh: &Shared, peer: Peer, conn: &Rc<Conn>) {
    let mut conns = sh.conns.borrow_mut();
    if conns.get(&peer).is_some_and(|c| Rc::ptr_eq(c, conn)) {
        conns.remove(&peer);
    }
}

enum Stream {
    Tcp(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
}

async fn accept_loop(sh: Rc<Shared>, transport: Transport, listener: TcpListener) {
    loop {
        let (tcp, addr) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors, mostly: refuse for a moment instead of spinning.
                sh.bump(Counter::connections_refused);
                sh.log(|| format!("accept on {transport:?}: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let peer = Peer::new(transport, addr);
        let Some(slot) = sh.admit(Some(source_of(addr.ip()))) else {
            sh.bump(Counter::connections_refused);
            sh.log(|| format!("connection from {peer} refused: too many connections"));
            continue;
        };
        tokio::task::spawn_local(serve_accepted(Rc::clone(&sh), tcp, peer, slot));
    }
}

async fn serve_accepted(sh: Rc<Shared>, tcp: TcpStream, peer: Peer, slot: Slot) {
    let _ = tcp.set_nodelay(true);
    let stream = if peer.transport == Transport::Tls {
        let deadline = sh.limits().handshake_timeout;
        let handshake = async {
            let tls = sh.tls()?;
            let acceptor = tls
                .acceptor
                .as_ref()
                .ok_or_else(|| io::Error::other("no certificate of our own"))?;
            let ssl = Ssl::new(acceptor.context()).map_err(io::Error::other)?;
            let mut s = SslStream::new(ssl, tcp).map_err(io::Error::other)?;
            Pin::new(&mut s)
                .accept()
                .await
                .map_err(|e| io::Error::other(format!("TLS handshake: {e}")))?;
            Ok::<_, io::Error>(s)
        };
        match timeout(deadline, handshake).await {
            Ok(Ok(s)) => Stream::Tls(Box::new(s)),
            Ok(Err(e)) => return sh.log(|| format!("{peer}: {e}")),
            Err(_) => {
                sh.bump(Counter::handshake_timeouts);
                return sh.log(|| format!("{peer}: no TLS handshake within {deadline:?}"));
            }
        }
    } else {
        Stream::Tcp(tcp)
    };
    let conn = Conn::new(None);
    sh.conns.borrow_mut().insert(peer, Rc::clone(&conn));
    serve(sh, stream, peer, conn, slot).await;
}

/// Runs one connection until it ends, then takes it out of the table.
async fn serve(sh: Rc<Shared>, stream: Stream, peer: Peer, conn: Rc<Conn>, slot: Slot) {
    sh.bump(Counter::connections_opened);
    sh.log(|| format!("connection {peer} opened"));
    let why = match stream {
        Stream::Tcp(s) => run_connection(&sh, s, peer, &conn).await,
        Stream::Tls(s) => run_connection(&sh, *s, peer, &conn).await,
    };
    remove_conn(&sh, peer, &conn);
    release_queue(&sh, &conn);
    sh.relay.borrow_mut().connection_closed(peer);
    drop(slot);
    sh.bump(Counter::connections_closed);
    sh.log(|| format!("connection {peer} closed: {why}"));
}

async fn run_connection<S: AsyncRead + AsyncWrite>(
    sh: &Rc<Shared>,
    stream: S,
    peer: Peer,
    conn: &Conn,
) -> String {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let reader = async {
        // What is queued (a 400 for the message that ended the reading) still goes out.
        let why = read_loop(sh, &mut rd, peer, conn).await;
        *conn.read_done.borrow_mut() = Some(why);
        conn.wake_writer.notify_one();
        std::future::pending().await
    };
    tokio::select! {
        why = reader => why,
        why = write_loop(sh, &mut wr, peer, conn) => why,
        why = conn.closed() => why,
        why = idle(sh, conn) => why,
    }
}

/// Bytes read at once from one connection (per connection, so kept small).
const READ_CHUNK: usize = 4096;

async fn read_loop<R: AsyncRead + Unpin>(
    sh: &Rc<Shared>,
    rd: &mut R,
    peer: Peer,
    conn: &Conn,
) -> String {
    let mut framer = StreamFramer::with_max_size(OnGarbage::Stop, sh.max_size.get());
    let mut buf = vec![0u8; READ_CHUNK];
    let mut held = Held {
        budget: &sh.input_budget,
        bytes: 0,
    };
    let why = loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) => break "closed by peer".to_string(),
            Ok(n) => n,
            Err(e) => break e.to_string(),
        };
        conn.last_active.set(Instant::now());
        framer.push(&buf[..n]);
        if let Some(why) = drain(sh, &mut framer, peer) {
            break why;
        }
        held.set(framer.buffered());
        // A connection holding more than a read's worth of an unfinished message, while
        // such bytes across all connections pass the budget, is the one to let go.
        if held.bytes > READ_CHUNK && sh.input_budget.is_spent() {
            sh.bump(Counter::budget_refusals);
            break format!(
                "holds {} bytes of an unfinished message while the relay's input budget is spent",
                held.bytes
            );
        }
    };
    if framer.buffered() > 0 && why == "closed by peer" {
        sh.bump(Counter::parse_failures);
        sh.log(|| {
            format!(
                "{peer}: {} bytes of an unfinished message",
                framer.buffered()
            )
        });
    }
    why
}

async fn write_loop<W: AsyncWrite + Unpin>(
    sh: &Shared,
    wr: &mut W,
    peer: Peer,
    conn: &Conn,
) -> String {
    let limit = sh.limits().write_timeout;
    loop {
        let next = conn.queue.borrow_mut().pop_front();
        let Some(bytes) = next else {
            let read_done = conn.read_done.borrow().clone();
            if let Some(why) = read_done {
                let _ = timeout(limit, wr.shutdown()).await;
                return why;
            }
            conn.wake_writer.notified().await;
            continue;
        };
        match timeout(limit, wr.write_all(&bytes)).await {
            Ok(Ok(())) => {
                conn.queued_bytes.set(conn.queued_bytes.get() - bytes.len());
                sh.queue_budget.give(bytes.len());
                conn.last_active.set(Instant::now());
                sh.bump(outbound(peer.transport));
            }
            Ok(Err(e)) => {
                sh.bump(Counter::send_failures);
                return format!("write failed: {e}");
            }
            Err(_) => {
                sh.bump(Counter::send_failures);
                sh.bump(Counter::write_timeouts);
                return format!(
                    "the peer read nothing for {} s (write timeout)",
                    limit.as_secs_f32()
                );
            }
        }
    }
}

async fn idle(sh: &Shared, conn: &Conn) -> String {
    loop {
        let limit = sh.limits().idle_timeout;
        let deadline = conn.last_active.get() + limit;
        if deadline <= Instant::now() {
            return format!("idle for {} s", limit.as_secs());
        }
        sleep_until(deadline).await;
    }
}

/// Handles every complete message buffered; `Some(reason)` when the connection must close.
fn drain(sh: &Rc<Shared>, framer: &mut StreamFramer, peer: Peer) -> Option<String> {
    while let Some(event) = framer.next_event() {
        match event {
            FrameEvent::Message { message, .. } => {
                sh.bump(inbound(peer.transport));
                handle_message(sh, message, peer);
            }
            FrameEvent::Refused { error, raw, .. } => {
                sh.log(|| format!("{peer}: refused message: {error}"));
                match raw {
                    Some(raw) => handle_unparsable(sh, &raw, peer, &error.to_string()),
                    None => sh.bump(Counter::parse_failures),
                }
            }
            FrameEvent::Garbage { offset, len, .. } => {
                sh.bump(Counter::parse_failures);
                return Some(format!("{len} bytes that are not SIP at offset {offset}"));
            }
        }
    }
    framer.is_stopped().then(|| "framing stopped".to_string())
}

async fn udp_loop(sh: Rc<Shared>, local: SocketAddr, sock: Rc<UdpSocket>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, src) = match sock.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // ICMP port unreachable from an earlier send lands here on Linux: not fatal.
                sh.log(|| format!("udp {local}: {e}"));
                continue;
            }
        };
        let data = &buf[..n];
        // RFC 5626 keep-alives.
        if data.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            continue;
        }
        handle_datagram(&sh, data, Peer::new(Transport::Udp, src));
    }
}

/// Serves until SIGTERM or SIGINT, then lets queued messages go out for at most the drain
/// timeout. SIGUSR1 writes the counters; SIGHUP calls `reload` and applies what it gives.
pub fn serve_until_signal(
    bound: Bound,
    mut relay: Relay,
    opts: NetOptions,
    reload: Option<Reloader>,
) -> io::Result<()> {
    let listen_asked = relay.config().listen.clone();
    relay.bound_to(bound.local);
    let runtime = bound.runtime;
    let listeners = Listeners {
        listen_asked,
        udp: bound.udp,
        streams: bound.streams,
        signals: bound.signals,
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run(listeners, relay, opts, reload))
}

struct Listeners {
    listen_asked: Vec<Peer>,
    udp: Vec<UdpSocket>,
    streams: Vec<(Transport, TcpListener)>,
    signals: Signals,
}

async fn run(
    bound: Listeners,
    relay: Relay,
    opts: NetOptions,
    mut reload: Option<Reloader>,
) -> io::Result<()> {
    let mut udp = Vec::new();
    for s in bound.udp {
        udp.push((s.local_addr()?, Rc::new(s)));
    }
    let route_targets = RefCell::new(route_targets(relay.config()));
    let listen_bound = relay.config().listen.clone();
    let sh = Rc::new(Shared {
        listen_asked: bound.listen_asked,
        listen_bound,
        requests: RefCell::new(RateLimiter::new(
            opts.limits.request_rate,
            RATE_TABLE_SOURCES,
        )),
        bad_input: RefCell::new(RateLimiter::new(
            opts.limits.bad_input_rate,
            RATE_TABLE_SOURCES,
        )),
        route_targets,
        input_budget: Budget::new(opts.limits.buffer_budget),
        queue_budget: Budget::new(opts.limits.buffer_budget),
        relay: RefCell::new(relay),
        udp,
        conns: RefCell::new(HashMap::new()),
        occupancy: Occupancy::default(),
        counters: Counters::default(),
        tls: RefCell::new(opts.tls.map(Rc::new)),
        limits: Cell::new(opts.limits),
        max_size: Cell::new(opts.max_size),
        key_from_file: Cell::new(opts.key_from_file),
        verbose: opts.verbose,
        status_file: opts.status_file,
        quiet: opts.quiet,
        start: Instant::now(),
        live: RefCell::new(None),
        delayed: Cell::new(0),
    });
    if let Some(live) = opts.live {
        let (done, outcomes) = tokio::sync::mpsc::unbounded_channel();
        *sh.live.borrow_mut() = Some(Live::start(live, done));
        tokio::task::spawn_local(chain_outcomes(Rc::clone(&sh), outcomes));
    }
    let mut listeners: Vec<JoinHandle<()>> = Vec::new();
    for (local, s) in &sh.udp {
        let task = udp_loop(Rc::clone(&sh), *local, Rc::clone(s));
        listeners.push(tokio::task::spawn_local(task));
    }
    for (t, l) in bound.streams {
        let task = accept_loop(Rc::clone(&sh), t, l);
        listeners.push(tokio::task::spawn_local(task));
    }
    let Signals {
        mut term,
        mut int,
        mut usr1,
        mut hup,
    } = bound.signals;
    // The signals and the sweep run in a task of their own: the future given to the LocalSet
    // is polled at every turn of the loop, so it only waits for the stop.
    let stop = Rc::new(Notify::new());
    let control = {
        let (sh, stop) = (Rc::clone(&sh), Rc::clone(&stop));
        async move {
            let mut sweep = tokio::time::interval(Duration::from_secs(30));
            loop {
                tokio::select! {
                    _ = term.recv() => break,
                    _ = int.recv() => break,
                    _ = usr1.recv() => sh.dump(),
                    _ = hup.recv() => apply_reload(&sh, reload.as_mut()),
                    _ = sweep.tick() => {
                        let now = sh.now();
                        sh.relay.borrow_mut().location().sweep(now);
                    }
                }
            }
            stop.notify_one();
        }
    };
    tokio::task::spawn_local(control);
    stop.notified().await;
    for l in &listeners {
        l.abort();
    }
    drain_queues(&sh).await;
    if !sh.quiet || sh.status_file.is_some() {
        sh.dump();
    }
    Ok(())
}

/// After the listeners stop: waits until every write queue is empty, or the drain timeout.
fn drain_queues(sh: &Rc<Shared>) -> impl Future<Output = ()> + '_ {
    let deadline = Instant::now() + sh.limits().drain_timeout;
    async move {
        while Instant::now() < deadline {
            let busy = sh
                .conns
                .borrow()
                .values()
                .any(|c| c.queued_bytes.get() > 0 && !c.is_closing());
            let chains_busy = sh.live.borrow().as_ref().is_some_and(|l| l.in_flight() > 0);
            if !busy && !chains_busy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sh.log(|| "drain timeout: messages still queued are dropped".to_string());
    }
}

fn route_targets(config: &Config) -> Vec<IpAddr> {
    config.routes.iter().map(|r| r.target.addr.ip()).collect()
}

fn apply_reload(sh: &Shared, reload: Option<&mut Reloader>) {
    // The chains' tools look at their stores, and the members' file is read, again now.
    crate::store::watch::look_again();
    if let Some(note) = sh.relay.borrow_mut().reload_members() {
        eprintln!("sipsec-relay: {note}");
    }
    let Some(reload) = reload else {
        return eprintln!("sipsec-relay: SIGHUP: nothing else to reload");
    };
    let (mut config, opts, key) = match reload() {
        Ok(r) => r,
        Err(e) => {
            return eprintln!("sipsec-relay: reload failed, the old configuration stays: {e:#}")
        }
    };
    if config.listen == sh.listen_asked {
        config.listen = sh.listen_bound.clone();
    }
    if let Err(e) = sh.relay.borrow_mut().reconfigure(config.clone()) {
        return eprintln!("sipsec-relay: reload refused: {e}");
    }
    *sh.route_targets.borrow_mut() = route_targets(&config);
    *sh.tls.borrow_mut() = opts.tls.map(Rc::new);
    let mut notes = Vec::new();
    let old = sh.limits();
    let new = opts.limits;
    if new != old {
        sh.limits.set(new);
        sh.requests.borrow_mut().set_rate(new.request_rate);
        sh.bad_input.borrow_mut().set_rate(new.bad_input_rate);
        sh.input_budget.limit.set(new.buffer_budget);
        sh.queue_budget.limit.set(new.buffer_budget);
        notes.push("new limits".to_string());
        let occ = &sh.occupancy;
        let accepted = occ.accepted.get();
        if accepted > new.max_connections {
            notes.push(format!(
                "{accepted} accepted connections stay open over --max-connections {} until \
                 they close",
                new.max_connections
            ));
        }
        let crowded = occ
            .per_source
            .borrow()
            .values()
            .filter(|&&n| n > new.max_connections_per_source)
            .count();
        if crowded > 0 {
            notes.push(format!(
                "{crowded} source(s) keep more than --max-connections-per-source {} open until \
                 their connections close",
                new.max_connections_per_source
            ));
        }
    }
    if opts.max_size != sh.max_size.get() {
        sh.max_size.set(opts.max_size);
        notes.push(format!("--max-size {}", opts.max_size));
    }
    match key {
        Some(key) => {
            sh.key_from_file.set(true);
            if sh.relay.borrow_mut().rekey(key) {
                notes.push(
                    "a new key from --key-file (the previous one is still accepted until the \
                     next)"
                        .to_string(),
                );
            }
        }
        None if sh.key_from_file.get() => {
            notes.push("no --key-file any more: the key read before stays".to_string())
        }
        None => {}
    }
    let mut restart = Vec::new();
    if opts.verbose != sh.verbose {
        restart.push("-v");
    }
    if opts.quiet != sh.quiet {
        restart.push("-q");
    }
    if opts.status_file != sh.status_file {
        restart.push("--status-file");
    }
    if !restart.is_empty() {
        notes.push(format!(
            "not applied until a restart: {}",
            restart.join(", ")
        ));
    }
    match notes.is_empty() {
        true => eprintln!("sipsec-relay: reloaded"),
        false => eprintln!("sipsec-relay: reloaded; {}", notes.join("; ")),
    }
}
