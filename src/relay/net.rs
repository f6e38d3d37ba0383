//! The sockets: UDP, TCP and TLS listeners (IPv4 and IPv6), outgoing connections, the
//! connection table, counters and signals. The only module of the relay that does I/O.
//!
//! Threads and blocking sockets: one thread per UDP socket, one accept thread per stream
//! listener, one reader thread per connection. The core sits behind one mutex; a message is
//! handled and its sends done before the next is read from the same socket.

use super::core::{refuse_unparsable, Decision, Relay, Verdict};
use super::{Peer, Transport};
use crate::framing::{FrameEvent, OnGarbage, StreamFramer};
use openssl::ssl::{SslAcceptor, SslConnector, SslStream};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Set by SIGTERM/SIGINT: stop reading, finish what is in hand, exit.
pub static SHUTDOWN: AtomicBool = AtomicBool::new(false);
/// Set by SIGUSR1: write the counters.
pub static DUMP: AtomicBool = AtomicBool::new(false);
/// Set by SIGHUP: read the configuration again.
pub static RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    SHUTDOWN.store(true, Ordering::SeqCst);
}

extern "C" fn on_usr1(_: libc::c_int) {
    DUMP.store(true, Ordering::SeqCst);
}

extern "C" fn on_hup(_: libc::c_int) {
    RELOAD.store(true, Ordering::SeqCst);
}

/// Installs the SIGTERM, SIGINT, SIGUSR1 and SIGHUP handlers (they only set the flags above).
pub fn install_signal_handlers() {
    // SAFETY: the handlers only store to atomics, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_term as *const () as libc::sighandler_t);
        libc::signal(libc::SIGUSR1, on_usr1 as *const () as libc::sighandler_t);
        libc::signal(libc::SIGHUP, on_hup as *const () as libc::sighandler_t);
    }
}

/// TLS contexts: the server side (our certificate) and the client side (trust anchors that
/// the next hop's certificate must chain to).
pub struct Tls {
    pub acceptor: SslAcceptor,
    pub connector: SslConnector,
}

/// Socket-level options.
pub struct NetOptions {
    /// Stream connections with no traffic for this long are closed.
    pub idle_timeout: Duration,
    /// Messages over this size are refused (datagram) or end the connection (stream).
    pub max_size: usize,
    pub tls: Option<Tls>,
    /// Log one line per decision on stderr.
    pub verbose: bool,
    /// Where SIGUSR1 writes the counters (stderr when `None`).
    pub status_file: Option<std::path::PathBuf>,
    /// Write no counters to stderr at exit (`-q`); a status file is still written.
    pub quiet: bool,
    /// Reads the configuration again on SIGHUP; `None`: SIGHUP is ignored.
    pub reload: Option<Reload>,
}

/// Makes the relay's configuration anew, or says why it cannot.
pub type Reload = Box<dyn Fn() -> Result<super::Config, String> + Send + Sync>;

/// What the relay counted since it started.
#[derive(Debug, Default)]
pub struct Counters {
    pub in_udp: AtomicU64,
    pub in_tcp: AtomicU64,
    pub in_tls: AtomicU64,
    pub out_udp: AtomicU64,
    pub out_tcp: AtomicU64,
    pub out_tls: AtomicU64,
    pub generated: AtomicU64,
    pub dropped: AtomicU64,
    pub parse_failures: AtomicU64,
    pub send_failures: AtomicU64,
    pub connections_opened: AtomicU64,
    pub connections_closed: AtomicU64,
}

impl Counters {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn inbound(&self, t: Transport) -> &AtomicU64 {
        match t {
            Transport::Udp => &self.in_udp,
            Transport::Tcp => &self.in_tcp,
            Transport::Tls => &self.in_tls,
        }
    }

    fn outbound(&self, t: Transport) -> &AtomicU64 {
        match t {
            Transport::Udp => &self.out_udp,
            Transport::Tcp => &self.out_tcp,
            Transport::Tls => &self.out_tls,
        }
    }

    /// `name=value` pairs on one line.
    pub fn line(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "in_udp={} in_tcp={} in_tls={} out_udp={} out_tcp={} out_tls={} generated={} \
             dropped={} parse_failures={} send_failures={} connections_opened={} \
             connections_closed={}",
            g(&self.in_udp),
            g(&self.in_tcp),
            g(&self.in_tls),
            g(&self.out_udp),
            g(&self.out_tcp),
            g(&self.out_tls),
            g(&self.generated),
            g(&self.dropped),
            g(&self.parse_failures),
            g(&self.send_failures),
            g(&self.connections_opened),
            g(&self.connections_closed),
        )
    }
}

enum Stream {
    Tcp(TcpStream),
    /// One TLS session cannot be read and written from two threads at once: the reader holds
    /// the lock only for short, time-limited reads.
    Tls(Arc<Mutex<SslStream<TcpStream>>>),
}

struct Conn {
    writer: Mutex<Stream>,
    last_active: AtomicU64,
}

struct Shared {
    relay: Mutex<Relay>,
    udp: Vec<(SocketAddr, UdpSocket)>,
    conns: Mutex<HashMap<Peer, Arc<Conn>>>,
    counters: Counters,
    opts: NetOptions,
    start: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking thread cannot leave the relay state half-updated in a way that matters more
    // than stopping the relay would.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn now(&self) -> u64 {
        self.start.elapsed().as_secs()
    }

    fn log(&self, line: impl FnOnce() -> String) {
        if self.opts.verbose {
            eprintln!("sipsec-relay: {}", line());
        }
    }

    fn send(self: &Shared, to: Peer, bytes: &[u8]) -> io::Result<()> {
        if to.transport == Transport::Udp {
            let sock = self
                .udp
                .iter()
                .find(|(a, _)| a.is_ipv4() == to.addr.is_ipv4())
                .map(|(_, s)| s)
                .ok_or_else(|| io::Error::other("no UDP socket of this address family"))?;
            sock.send_to(bytes, to.addr)?;
            return Ok(());
        }
        let existing = lock(&self.conns).get(&to).cloned();
        let conn = match existing {
            Some(c) => c,
            None => return Err(io::Error::other("no connection (connect first)")),
        };
        let result = match &mut *lock(&conn.writer) {
            Stream::Tcp(s) => s.write_all(bytes),
            Stream::Tls(s) => lock(s).write_all(bytes),
        };
        if result.is_err() {
            lock(&self.conns).remove(&to);
        }
        conn.last_active.store(self.now(), Ordering::Relaxed);
        result
    }
}

fn handle(sh: &Arc<Shared>, bytes: &[u8], from: Peer) {
    Counters::bump(sh.counters.inbound(from.transport));
    let message = match crate::framing::datagram(bytes, sh.opts.max_size) {
        Ok(d) => d.message,
        Err(e) => {
            Counters::bump(&sh.counters.parse_failures);
            dispatch(sh, refuse_unparsable(bytes, from, &e.to_string()));
            return;
        }
    };
    let decision = lock(&sh.relay).handle(message, from, sh.now());
    dispatch(sh, decision);
}

fn dispatch(sh: &Arc<Shared>, decision: Decision) {
    match decision.verdict {
        Verdict::Answered(_) => Counters::bump(&sh.counters.generated),
        Verdict::Dropped => Counters::bump(&sh.counters.dropped),
        Verdict::Forwarded => {}
    }
    sh.log(|| decision.note.clone());
    for send in decision.sends {
        let mut to = send.to;
        if to.transport.is_stream() && !lock(&sh.conns).contains_key(&to) {
            // §18.2.2: a response whose connection is gone goes on a new one to the Via's
            // received address and sent-by port, never to the old ephemeral port.
            if let Some(f) = send.fallback {
                sh.log(|| format!("connection {to} is gone; response to {f}"));
                to = f;
            }
            if !lock(&sh.conns).contains_key(&to) {
                if let Err(e) = connect(sh, to) {
                    sh.log(|| format!("connect to {to} failed: {e}"));
                }
            }
        }
        match sh.send(to, &send.bytes) {
            Ok(()) => Counters::bump(sh.counters.outbound(to.transport)),
            Err(e) => {
                Counters::bump(&sh.counters.send_failures);
                sh.log(|| format!("send to {to} failed: {e}"));
            }
        }
    }
}

/// Refuses options the listeners cannot be served with (a tls listener without certificates).
pub fn check(listen: &[Peer], opts: &NetOptions) -> io::Result<()> {
    if listen.iter().any(|l| l.transport == Transport::Tls) && opts.tls.is_none() {
        return Err(io::Error::other(
            "a tls listener needs --tls-cert and --tls-key, or --tls-identity and --store",
        ));
    }
    Ok(())
}

/// A running relay's handle: its counters, and the threads to join after shutdown.
pub struct Running {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// Binds every listener and starts serving. Fails only on setup (binding, TLS without
/// certificates); everything after that is counted and logged, never fatal.
pub fn start(relay: Relay, opts: NetOptions) -> io::Result<Running> {
    let listen = relay.config().listen.clone();
    check(&listen, &opts)?;
    let mut udp = Vec::new();
    let mut streams = Vec::new();
    for l in &listen {
        match l.transport {
            Transport::Udp => {
                let s = UdpSocket::bind(l.addr)?;
                s.set_read_timeout(Some(Duration::from_millis(200)))?;
                udp.push((s.local_addr()?, s));
            }
            _ => {
                let s = TcpListener::bind(l.addr)?;
                s.set_nonblocking(true)?;
                streams.push((l.transport, s));
            }
        }
    }
    let shared = Arc::new(Shared {
        relay: Mutex::new(relay),
        udp,
        conns: Mutex::new(HashMap::new()),
        counters: Counters::default(),
        opts,
        start: Instant::now(),
    });
    let mut threads = Vec::new();
    for i in 0..shared.udp.len() {
        let sh = Arc::clone(&shared);
        threads.push(thread::spawn(move || udp_loop(&sh, i)));
    }
    for (transport, listener) in streams {
        let sh = Arc::clone(&shared);
        threads.push(thread::spawn(move || accept_loop(&sh, transport, listener)));
    }
    Ok(Running { shared, threads })
}

impl Running {
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Serves until [`SHUTDOWN`] is set, writing counters when [`DUMP`] is set.
    pub fn wait(self) {
        let mut last_sweep = Instant::now();
        while !SHUTDOWN.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(100));
            if DUMP.swap(false, Ordering::SeqCst) {
                self.dump();
            }
            if RELOAD.swap(false, Ordering::SeqCst) {
                self.reload();
            }
            if last_sweep.elapsed() > Duration::from_secs(30) {
                let now = self.shared.now();
                lock(&self.shared.relay).location().sweep(now);
                last_sweep = Instant::now();
            }
        }
        if !self.shared.opts.quiet || self.shared.opts.status_file.is_some() {
            self.dump();
        }
        for t in self.threads {
            let _ = t.join();
        }
    }

    /// Applies a new configuration; a configuration that cannot be read leaves the running one
    /// in place. Sockets and TLS contexts are kept: their options change on a restart.
    fn reload(&self) {
        let Some(reload) = &self.shared.opts.reload else {
            return;
        };
        match reload() {
            Ok(config) => {
                let mut relay = lock(&self.shared.relay);
                if config.listen != relay.config().listen {
                    eprintln!(
                        "sipsec-relay: reload: listen addresses change only on a restart; kept"
                    );
                }
                relay.reconfigure(config);
                eprintln!("sipsec-relay: reloaded the configuration");
            }
            Err(e) => eprintln!("sipsec-relay: reload refused, configuration kept: {e}"),
        }
    }

    fn dump(&self) {
        let line = self.shared.counters.line();
        match &self.shared.opts.status_file {
            Some(path) => {
                if let Err(e) = std::fs::write(path, format!("{line}\n")) {
                    eprintln!("sipsec-relay: {}: {e}", path.display());
                }
            }
            None => eprintln!("sipsec-relay: {line}"),
        }
    }
}

fn udp_loop(sh: &Arc<Shared>, index: usize) {
    let (local, sock) = &sh.udp[index];
    let mut buf = vec![0u8; 65536];
    while !SHUTDOWN.load(Ordering::SeqCst) {
        let (n, src) = match sock.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
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
        handle(sh, data, Peer::new(Transport::Udp, src));
    }
}

fn accept_loop(sh: &Arc<Shared>, transport: Transport, listener: TcpListener) {
    while !SHUTDOWN.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, addr)) => {
                let sh2 = Arc::clone(sh);
                let peer = Peer::new(transport, addr);
                thread::spawn(move || {
                    if let Err(e) = serve_accepted(&sh2, stream, peer) {
                        sh2.log(|| format!("{peer}: {e}"));
                    }
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => sh.log(|| format!("accept on {transport:?}: {e}")),
        }
    }
}

/// How long a TLS handshake may wait for its peer.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS configuration, for a peer whose transport is TLS.
fn tls_of(sh: &Shared) -> io::Result<&Tls> {
    sh.opts
        .tls
        .as_ref()
        .ok_or_else(|| io::Error::other("no TLS"))
}

fn serve_accepted(sh: &Arc<Shared>, stream: TcpStream, peer: Peer) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    let stream = match peer.transport {
        Transport::Tls => {
            let tls = tls_of(sh)?;
            stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
            let s = tls
                .acceptor
                .accept(stream)
                .map_err(|e| io::Error::other(format!("TLS handshake: {e}")))?;
            Stream::Tls(Arc::new(Mutex::new(s)))
        }
        _ => Stream::Tcp(stream),
    };
    run_connection(sh, stream, peer)
}

/// Opens a connection to a next hop (TLS: verified against the trust anchors), registers it
/// and starts its reader.
fn connect(sh: &Arc<Shared>, to: Peer) -> io::Result<()> {
    let tcp = TcpStream::connect_timeout(&to.addr, Duration::from_secs(3))?;
    let stream = match to.transport {
        Transport::Tls => {
            let tls = tls_of(sh)?;
            tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
            let s = tls
                .connector
                .connect(&to.addr.ip().to_string(), tcp)
                .map_err(|e| io::Error::other(format!("TLS handshake with {to}: {e}")))?;
            Stream::Tls(Arc::new(Mutex::new(s)))
        }
        _ => Stream::Tcp(tcp),
    };
    let (reader, conn) = register(sh, stream, to)?;
    let sh2 = Arc::clone(sh);
    thread::spawn(move || read_connection(&sh2, reader, &conn, to));
    Ok(())
}

enum Reader {
    Tcp(TcpStream),
    Tls(Arc<Mutex<SslStream<TcpStream>>>),
}

fn register(sh: &Shared, stream: Stream, peer: Peer) -> io::Result<(Reader, Arc<Conn>)> {
    let reader = match &stream {
        Stream::Tcp(s) => {
            s.set_read_timeout(Some(Duration::from_millis(500)))?;
            Reader::Tcp(s.try_clone()?)
        }
        Stream::Tls(s) => {
            lock(s)
                .get_ref()
                .set_read_timeout(Some(Duration::from_millis(5)))?;
            Reader::Tls(Arc::clone(s))
        }
    };
    let conn = Arc::new(Conn {
        writer: Mutex::new(stream),
        last_active: AtomicU64::new(sh.now()),
    });
    lock(&sh.conns).insert(peer, Arc::clone(&conn));
    Counters::bump(&sh.counters.connections_opened);
    sh.log(|| format!("connection {peer} opened"));
    Ok((reader, conn))
}

fn run_connection(sh: &Arc<Shared>, stream: Stream, peer: Peer) -> io::Result<()> {
    let (reader, conn) = register(sh, stream, peer)?;
    read_connection(sh, reader, &conn, peer);
    Ok(())
}

fn read_connection(sh: &Arc<Shared>, mut reader: Reader, conn: &Conn, peer: Peer) {
    let mut framer = StreamFramer::with_max_size(OnGarbage::Stop, sh.opts.max_size);
    let mut buf = vec![0u8; 16384];
    let why = loop {
        if SHUTDOWN.load(Ordering::SeqCst) {
            break "shutdown".to_string();
        }
        let idle = sh
            .now()
            .saturating_sub(conn.last_active.load(Ordering::Relaxed));
        if idle > sh.opts.idle_timeout.as_secs() {
            break format!("idle for {idle} s");
        }
        let read = match &mut reader {
            Reader::Tcp(s) => s.read(&mut buf),
            Reader::Tls(s) => {
                let r = lock(s).read(&mut buf);
                if r.as_ref().is_err_and(is_timeout) {
                    // Let writers have the session between polls.
                    thread::sleep(Duration::from_millis(2));
                }
                r
            }
        };
        let n = match read {
            Ok(0) => break "closed by peer".to_string(),
            Ok(n) => n,
            Err(e) if is_timeout(&e) => continue,
            Err(e) => break e.to_string(),
        };
        conn.last_active.store(sh.now(), Ordering::Relaxed);
        framer.push(&buf[..n]);
        if let Some(why) = drain(sh, &mut framer, peer) {
            break why;
        }
    };
    if framer.buffered() > 0 && why == "closed by peer" {
        Counters::bump(&sh.counters.parse_failures);
        sh.log(|| {
            format!(
                "{peer}: {} bytes of an unfinished message",
                framer.buffered()
            )
        });
    }
    let mut conns = lock(&sh.conns);
    if conns
        .get(&peer)
        .is_some_and(|c| std::ptr::eq(Arc::as_ptr(c), conn))
    {
        conns.remove(&peer);
    }
    drop(conns);
    if let Stream::Tcp(s) = &*lock(&conn.writer) {
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
    Counters::bump(&sh.counters.connections_closed);
    sh.log(|| format!("connection {peer} closed: {why}"));
}

/// Handles every complete message buffered; `Some(reason)` when the connection must close.
fn drain(sh: &Arc<Shared>, framer: &mut StreamFramer, peer: Peer) -> Option<String> {
    while let Some(event) = framer.next_event() {
        match event {
            FrameEvent::Message { message, .. } => {
                Counters::bump(sh.counters.inbound(peer.transport));
                let decision = lock(&sh.relay).handle(message, peer, sh.now());
                dispatch(sh, decision);
            }
            FrameEvent::Refused { error, raw, .. } => {
                Counters::bump(&sh.counters.parse_failures);
                sh.log(|| format!("{peer}: refused message: {error}"));
                if let Some(raw) = raw {
                    dispatch(sh, refuse_unparsable(&raw, peer, &error.to_string()));
                }
            }
            FrameEvent::Garbage { offset, len, .. } => {
                Counters::bump(&sh.counters.parse_failures);
                return Some(format!("{len} bytes that are not SIP at offset {offset}"));
            }
        }
    }
    framer.is_stopped().then(|| "framing stopped".to_string())
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
