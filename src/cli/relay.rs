//! `sipsec-relay`: the stateless SIP proxy and registrar. The clap definitions (man pages and
//! completions are generated from them), the configuration file, and `run`.

use crate::cli::{CommonArgs, Exit, KeyPassArgs};
use crate::relay::core::{Relay, RelayKey};
use crate::relay::net::{self, Limits, NetOptions, Tls};
use crate::relay::registrar::Bounds;
use crate::relay::{stdio, Config, Peer, StaticRoute, Transport};
use crate::store::Store;
use clap::Parser;
use openssl::ssl::{SslAcceptor, SslConnector, SslFiletype, SslMethod, SslVersion};
use openssl::x509::X509;
use std::ffi::OsString;
use std::io::{self, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

const AFTER_HELP: &str = "Routing: a Route header first; then, for the --domain domains, the \
location service filled by REGISTER; then --route; then a Request-URI holding an IP address \
(a Route, or such a Request-URI, is followed only when permitted: see below). Anything else \
gets 404.

What is forwarded: requests for the --domain domains (location service) and along a --route, \
whoever sends them; requests in a dialog the relay record-routed (its Record-Route URI carries \
a MAC, the `sr` parameter, under the relay's key over the Call-ID and the From tag of the \
request that created the dialog, and the Route that comes back must carry it, in a request of \
that dialog from either side); anything else gets 403 Forbidden unless --open-relay. A Route \
naming the relay without that MAC (an outbound proxy's preloaded Route) is removed and gives \
no right of its own. Responses are forwarded only when the top Via is the relay's and its branch is one the \
relay made (keyed over the next Via); other responses are dropped and counted \
(forged_responses). The relay is stateless (RFC 3261 §16.11): it keeps no transaction \
state, record-routes dialog-creating requests, answers 483 when Max-Forwards is exhausted and \
482 on a loop.

Configuration file (--config): one `key = value` a line, keys the long option names without \
`--` (`listen = udp:127.0.0.1:5060`; repeat keys that may repeat; `stdio = true` for a flag); \
`#` starts a comment. Options on the command line come after the file's and add to or \
override them.

--stdio: reads NDJSON lines {\"from\":\"udp:192.0.2.7:5060\",\"time\":12,\"message\":\"…\"} \
and writes {\"in\":LINE,\"to\":\"udp:…\",\"message\":\"…\"} for every message it would send \
(with \"fallback\": where a TCP/TLS response goes if its connection is gone, RFC 3261 \
§18.2.2). \"time\" is seconds on the registrar's clock (optional, default the previous line's). \
Branches: over sockets their transaction part is keyed with a key drawn at random per process \
(unpredictable; stable for retransmissions within the process); in --stdio mode the key is \
fixed so that transcripts are reproducible.

Network: one thread, one event loop. No peer is waited for: datagrams are sent or dropped at \
once; each connection has its own write queue (--write-queue-bytes) and write timeout, and a \
peer that does not read is closed and counted; TCP connect plus TLS handshake must finish \
within --handshake-timeout however the peer trickles; connections past --max-connections or \
--max-connections-per-source are closed at once and counted (connections_refused).

Signals: SIGUSR1 writes the counters (to --status-file, else stderr); SIGHUP reads the \
command line's configuration file and files again (routes, domains, aliases, registrar \
bounds, rate limits, connection caps, timeouts, buffer budget, --max-size, --key-file, TLS \
certificates and anchors) without dropping connections, and keeps the old configuration if \
the new one is wrong. The listen addresses cannot change (the reload is refused); -v, -q and \
--status-file change at the next restart, and the reload says so; connections already open \
over a lowered cap stay until they close. SIGTERM and SIGINT stop reading, let queued \
messages go out for at most --drain-timeout, and exit 0.

Logs: one line per event on stderr, without timestamps (journald or the caller adds them); \
-v adds one line per routing decision.

Exit codes: 0 stopped cleanly (or --check-config found the configuration usable); 2 usage \
error; 3 setup failed (binding, TLS files, store).";

#[derive(Debug, Parser)]
#[command(
    name = "sipsec-relay",
    version,
    about = "Stateless SIP proxy and registrar over UDP, TCP and TLS, or scripted over stdio",
    args_override_self = true,
    after_long_help = AFTER_HELP
)]
pub struct RelayCli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub live: crate::cli::live::LiveArgs,
    /// Read options from this file first (see below).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Listen here: `udp:127.0.0.1:5060`, `tcp:[::1]:5060`, `tls:0.0.0.0:5061` (repeatable).
    /// In --stdio mode these are the relay's own addresses (Via, Record-Route), not bound.
    #[arg(long, value_name = "TRANSPORT:ADDR:PORT", required = true)]
    pub listen: Vec<Peer>,
    /// The address peers reach the relay by, named in its Via and Record-Route instead of the
    /// listen address: one per address family (behind NAT, or to choose one address of a
    /// wildcard listener). Without it a wildcard listener (0.0.0.0, ::) names the address the
    /// system sends from towards each next hop.
    #[arg(long, value_name = "IP")]
    pub advertise: Vec<IpAddr>,
    /// A domain this relay is registrar and location service for (repeatable).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Vec<String>,
    /// Another host name that names this relay in Route and Request-URI (repeatable).
    #[arg(long, value_name = "HOST")]
    pub alias: Vec<String>,
    /// Requests for DOMAIN go to this next hop (repeatable).
    #[arg(long, value_name = "DOMAIN=TRANSPORT:ADDR:PORT")]
    pub route: Vec<StaticRoute>,
    /// Forward any request wherever its Route or Request-URI points. Without it only requests
    /// for the --domain domains, along a --route, or in a dialog the relay record-routed are
    /// forwarded; others get 403.
    #[arg(long)]
    pub open_relay: bool,
    /// The relay's secret key: a file of at least 16 random bytes (`head -c 32 /dev/urandom`),
    /// mode 0600. It keys the branches and the Record-Route MAC, so that dialogs outlive a
    /// restart and relays sharing it accept each other's Record-Route. Default: a key drawn at
    /// random per process (a fixed one in --stdio mode). SIGHUP reads it again: a new key
    /// makes new branches and Record-Routes, and the one it replaces is still accepted until
    /// the next change (rotate keys further apart than the longest dialog and transaction).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Run the routing core over NDJSON on stdin/stdout instead of sockets.
    #[arg(long)]
    pub stdio: bool,
    /// Registrations shorter than this are refused with 423 (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub min_expires: u32,
    /// Registrations are granted at most this long, and this long when no expiry is asked.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub max_expires: u32,
    /// Bindings one address-of-record may have; a REGISTER past it gets 403.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_bindings: usize,
    /// Addresses-of-record the registrar holds in all; a REGISTER for a new one past it gets
    /// 403.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_aors: usize,
    /// Close TCP and TLS connections idle this long (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub idle_timeout: u64,
    /// Accept at most this many TCP and TLS connections at once (and open at most as many).
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_connections: usize,
    /// Accept at most this many connections at once from one source address (an IPv6 /64
    /// counts as one source, here and for the rate limits).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_connections_per_source: usize,
    /// Close a connection whose unsent messages pass this many bytes (a peer that does not
    /// read).
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub write_queue_bytes: usize,
    /// Close a connection on which a write makes no progress this long (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub write_timeout: f64,
    /// TCP connect plus TLS handshake must finish within this (seconds, from the start).
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub handshake_timeout: f64,
    /// Requests a second accepted from one source address, twice that in a burst (0: no
    /// limit). Past it: dropped over UDP (the source may be forged), 503 with Retry-After over
    /// TCP and TLS. The next hops of --route are exempt.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub request_rate: u32,
    /// Unparsable messages and forged responses a second from one source address (0: no
    /// limit); past it they are dropped without the 400.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub bad_input_rate: u32,
    /// Bytes of unfinished messages held across all connections, and bytes queued for
    /// writing across all connections, each at most this. Past the first, a connection holding
    /// more than a read's worth of an unfinished message is closed; past the second, messages
    /// are not queued (both counted as budget_refusals).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub buffer_budget: usize,
    /// On SIGTERM, queued messages may take this long to go out (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub drain_timeout: f64,
    /// Refuse messages larger than this.
    #[arg(long, value_name = "BYTES", default_value_t = 65535)]
    pub max_size: usize,
    /// TLS: our certificate chain (PEM, leaf first).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        conflicts_with = "tls_identity"
    )]
    pub tls_cert: Option<PathBuf>,
    /// TLS: our private key (PEM file; never given on the command line itself).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// TLS: trust anchors (PEM) a next hop's certificate must chain to, or `system` for the
    /// system's CAs (default: the --store's anchors; without a store, no TLS next hop is
    /// trusted). Enough for TLS next hops; a certificate of the relay's own is needed only to
    /// listen on TLS. The next hop's certificate must also name the SIP domain that selected it
    /// (RFC 5922: subjectAltName DNS or `sip:` URI, no wildcards, never the CN), or its IP
    /// address when it was reached by one (an IP-literal Request-URI or --route).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// TLS: our certificate, key and chain from the --store, as made by
    /// `sipsec-certgen issue-tls --host HOST`.
    #[arg(long, value_name = "HOST", requires = "store")]
    pub tls_identity: Option<String>,
    /// The certificate store (for --tls-identity and its trust anchors).
    #[arg(long, env = "SIPSEC_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Passphrase of the store's private keys.
    #[command(flatten)]
    pub key_pass: KeyPassArgs,
    /// SIGUSR1 writes the counters to this file instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub status_file: Option<PathBuf>,
    /// Check the configuration (options, TLS files, store and key passphrase) without
    /// binding, print what would run, and exit: 0 usable, 2 a wrong option, 3 a file that
    /// cannot be used.
    #[arg(long)]
    pub check_config: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("{path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{path}:{line}: expected `key = value`")]
    Syntax { path: String, line: usize },
}

/// The arguments with the configuration file's options placed before the command line's.
pub fn args_with_config(args: Vec<OsString>) -> Result<Vec<OsString>, ConfigFileError> {
    let mut path = None;
    for (i, a) in args.iter().enumerate() {
        let a = a.to_string_lossy();
        if a == "--config" {
            path = args.get(i + 1).map(PathBuf::from);
        } else if let Some(p) = a.strip_prefix("--config=") {
            path = Some(PathBuf::from(p));
        }
    }
    let Some(path) = path else { return Ok(args) };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigFileError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let mut out: Vec<OsString> = args.iter().take(1).cloned().collect();
    out.extend(config_args(&text, &path)?);
    out.extend(args.into_iter().skip(1));
    Ok(out)
}

fn config_args(text: &str, path: &Path) -> Result<Vec<OsString>, ConfigFileError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, _)| !k.is_empty() && !k.starts_with('-'))
            .ok_or_else(|| ConfigFileError::Syntax {
                path: path.display().to_string(),
                line: i + 1,
            })?;
        match value {
            "true" => out.push(format!("--{key}").into()),
            "false" => {}
            v => {
                out.push(format!("--{key}").into());
                out.push(v.into());
            }
        }
    }
    Ok(out)
}

impl RelayCli {
    pub fn relay_config(&self) -> Config {
        Config {
            listen: self.listen.clone(),
            advertise: self.advertise.clone(),
            aliases: self.alias.clone(),
            domains: self
                .domain
                .iter()
                .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            routes: self.route.clone(),
            min_expires: self.min_expires,
            max_expires: self.max_expires,
            open_relay: self.open_relay,
            registrar: Bounds {
                bindings_per_aor: self.max_bindings,
                aors: self.max_aors,
            },
        }
    }

    /// At most one `--advertise` per address family, each for a family the relay listens on.
    fn check_advertise(&self) -> anyhow::Result<()> {
        for (i, a) in self.advertise.iter().enumerate() {
            if self.advertise[..i]
                .iter()
                .any(|b| b.is_ipv4() == a.is_ipv4())
            {
                anyhow::bail!("--advertise {a}: one address per family (IPv4, IPv6), not two");
            }
            if !self.listen.iter().any(|l| l.addr.is_ipv4() == a.is_ipv4()) {
                anyhow::bail!("--advertise {a}: no --listen address of its family");
            }
            if a.is_unspecified() || a.is_multicast() {
                anyhow::bail!("--advertise {a}: peers cannot reach the relay by this address");
            }
        }
        Ok(())
    }

    /// What `--check-config` reports: the listeners, domains and routes that would serve.
    fn config_summary(&self, tls: bool) -> String {
        let list = |items: Vec<String>| match items.is_empty() {
            true => "none".to_string(),
            false => items.join(" "),
        };
        let routes = self
            .route
            .iter()
            .map(|r| format!("{}={}", r.domain, r.target))
            .collect();
        format!(
            "sipsec-relay: configuration usable: listen {}; domains {}; routes {}; tls {}",
            list(self.listen.iter().map(Peer::to_string).collect()),
            list(self.relay_config().domains),
            list(routes),
            if tls { "yes" } else { "no" },
        )
    }

    fn limits(&self) -> anyhow::Result<Limits> {
        Ok(Limits {
            idle_timeout: Duration::from_secs(self.idle_timeout),
            max_connections: self.max_connections,
            max_connections_per_source: self.max_connections_per_source,
            write_queue_bytes: self.write_queue_bytes,
            write_timeout: seconds("write-timeout", self.write_timeout)?,
            handshake_timeout: seconds("handshake-timeout", self.handshake_timeout)?,
            drain_timeout: seconds("drain-timeout", self.drain_timeout)?,
            request_rate: self.request_rate,
            bad_input_rate: self.bad_input_rate,
            buffer_budget: self.buffer_budget,
        })
    }

    fn store(&self) -> anyhow::Result<Option<Store>> {
        let Some(dir) = &self.store else {
            return Ok(None);
        };
        Ok(Some(crate::cli::open_store(dir, &self.key_pass)?))
    }

    /// The TLS contexts: a server side when the relay has a certificate, a client side
    /// always (it connects to next hops only with trust anchors); `None` when neither a
    /// certificate nor anchors are given.
    fn tls(&self) -> anyhow::Result<Option<Tls>> {
        let store = self.store()?;
        let acceptor = self.tls_acceptor(store.as_ref())?;
        let (connector, anchors) = self.tls_connector(store.as_ref())?;
        if acceptor.is_none() && anchors.is_none() {
            return Ok(None);
        }
        Ok(Some(Tls {
            acceptor,
            connector,
            anchors,
        }))
    }

    fn tls_acceptor(&self, store: Option<&Store>) -> anyhow::Result<Option<SslAcceptor>> {
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls())?;
        acceptor.set_min_proto_version(Some(SslVersion::TLS1_2))?;
        match (&self.tls_cert, &self.tls_key, &self.tls_identity, store) {
            (Some(cert), Some(key), _, _) => {
                acceptor.set_certificate_chain_file(cert)?;
                acceptor.set_private_key_file(key, SslFiletype::PEM)?;
            }
            (_, _, Some(host), Some(store)) => {
                let id = store.tls_identity(host)?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}: no TLS certificate for {host} (sipsec-certgen issue-tls --host {host})",
                        store.path().display()
                    )
                })?;
                acceptor.set_certificate(&id.cert)?;
                for c in &id.chain {
                    acceptor.add_extra_chain_cert(c.clone())?;
                }
                acceptor.set_private_key(&id.key)?;
            }
            _ => return Ok(None),
        }
        acceptor.check_private_key()?;
        Ok(Some(acceptor.build()))
    }

    /// The client side and, in words, the anchors it trusts (`None`: none).
    fn tls_connector(
        &self,
        store: Option<&Store>,
    ) -> anyhow::Result<(SslConnector, Option<String>)> {
        let mut connector = SslConnector::builder(SslMethod::tls())?;
        connector.set_min_proto_version(Some(SslVersion::TLS1_2))?;
        let anchors = match (&self.tls_ca, store) {
            (Some(ca), _) if ca.as_os_str() == "system" => {
                connector.set_default_verify_paths()?;
                Some("the system's CAs (--tls-ca system)".to_string())
            }
            (Some(ca), _) => {
                let pem = std::fs::read(ca)
                    .map_err(|e| anyhow::anyhow!("--tls-ca {}: {e}", ca.display()))?;
                let certs = X509::stack_from_pem(&pem)
                    .map_err(|e| anyhow::anyhow!("--tls-ca {}: {e}", ca.display()))?;
                if certs.is_empty() {
                    anyhow::bail!("--tls-ca {}: no PEM certificate in it", ca.display());
                }
                for c in &certs {
                    connector.cert_store_mut().add_cert(c.clone())?;
                }
                Some(format!("{} ({} certificate(s))", ca.display(), certs.len()))
            }
            (None, Some(store)) => {
                let anchors = store.trust_anchors();
                let n = anchors.len();
                for anchor in anchors {
                    connector.cert_store_mut().add_cert(anchor)?;
                }
                Some(format!(
                    "the store's {n} anchor(s) in {}",
                    store.path().display()
                ))
            }
            (None, None) => None,
        };
        Ok((connector.build(), anchors))
    }
}

/// Runs the relay from its parsed command line.
pub fn run(cli: &RelayCli) -> Exit {
    match try_run(cli) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("sipsec-relay: {e:#}");
            Exit::Fatal
        }
    }
}

/// The socket options, with every file they name read and checked.
fn net_options(cli: &RelayCli) -> anyhow::Result<NetOptions> {
    let opts = NetOptions {
        limits: cli.limits()?,
        max_size: cli.max_size,
        tls: cli.tls()?,
        verbose: cli.common.verbose > 0,
        status_file: cli.status_file.clone(),
        quiet: cli.common.quiet,
        key_from_file: cli.key_file.is_some(),
        live: None,
    };
    let serves_tls = opts.tls.as_ref().is_some_and(|t| t.acceptor.is_some());
    if cli.listen.iter().any(|l| l.transport == Transport::Tls) && !serves_tls {
        anyhow::bail!(
            "a tls listener needs --tls-cert and --tls-key, or --tls-identity and --store"
        );
    }
    Ok(opts)
}

/// `--check-config`: everything `run` would set up, short of binding.
fn check_config(cli: &RelayCli) -> anyhow::Result<Exit> {
    if let Some(path) = &cli.key_file {
        read_key_file(path)?;
    }
    let tls = !cli.stdio && net_options(cli)?.tls.is_some();
    if !cli.common.quiet {
        println!("{}", cli.config_summary(tls));
    }
    Ok(Exit::Ok)
}

/// The key of `--key-file`: private to its owner, as ssh asks of keys, and long enough.
fn read_key_file(path: &Path) -> anyhow::Result<RelayKey> {
    crate::store::fsio::check_secret_mode(path)?;
    let secret = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if secret.len() < 16 {
        anyhow::bail!(
            "{}: {} bytes; a key file needs at least 16 random bytes (head -c 32 /dev/urandom)",
            path.display(),
            secret.len()
        );
    }
    Ok(RelayKey::from_secret(&secret))
}

fn try_run(cli: &RelayCli) -> anyhow::Result<Exit> {
    cli.check_advertise()?;
    if cli.check_config {
        return check_config(cli);
    }
    let key = match &cli.key_file {
        Some(path) => read_key_file(path)?,
        // Transcripts must be reproducible; no branch made there reaches a network.
        None if cli.stdio => RelayKey::fixed(),
        None => RelayKey::random(),
    };
    let config = cli.relay_config();
    let live = cli.live.options(cli.max_size, cli.store()?)?;
    if !cli.stdio {
        if let Some(live) = &live {
            if live.inbound.is_some() && !cli.listen.iter().any(|l| l.transport == Transport::Tls) {
                anyhow::bail!(
                    "--inbound makes marks for terminals, and marks go to them only over TLS: add \
                     --listen tls:ADDR (with --tls-cert and --tls-key, or --tls-identity)"
                );
            }
        }
    }
    // Over sockets, the relay's own addresses are the ones bound (a port 0 is the port the
    // system chose).
    let sockets = match cli.stdio {
        true => None,
        false => Some((net_options(cli)?, net::bind(&cli.listen)?)),
    };
    let listen = sockets
        .as_ref()
        .map_or(&config.listen[..], |(_, b)| b.local());
    // Credentials name the relay by a listen address or, on its port, an advertised one.
    let advertised = listen.iter().flat_map(|l| {
        let family = cli
            .advertise
            .iter()
            .filter(|a| a.is_ipv4() == l.addr.is_ipv4());
        family.map(|a| SocketAddr::new(*a, l.addr.port()))
    });
    let own: Vec<_> = listen.iter().map(|p| p.addr).chain(advertised).collect();
    let mut relay = Relay::new(config.clone())
        .with_key(key)
        .with_notes(cli.common.verbose > 0);
    if sockets.is_some() {
        relay = relay.with_host_addresses(Box::new(net::SystemAddresses::default()));
    }
    if let Some(gate) = cli.live.auth_gate(&config.domains, own)? {
        let gate = match cli.store()? {
            Some(store) => gate.with_groups(Box::new(store.groups().clone())),
            None => gate,
        };
        relay = relay.with_auth(gate);
    }
    let Some((mut opts, bound)) = sockets else {
        let mut relay = relay;
        let stdin = io::stdin();
        let stdout = io::BufWriter::new(io::stdout());
        let mut stderr = io::stderr();
        let log = (cli.common.verbose > 0).then_some(&mut stderr as &mut dyn io::Write);
        let summary = stdio::run(&mut relay, BufReader::new(stdin.lock()), stdout, log)?;
        if summary.bad_lines > 0 && !cli.common.quiet {
            eprintln!(
                "sipsec-relay: {} input line(s) were not records",
                summary.bad_lines
            );
        }
        return Ok(if summary.bad_lines > 0 {
            Exit::Refused
        } else {
            Exit::Ok
        });
    };
    opts.live = live;
    if !cli.common.quiet {
        if let Some(tls) = &opts.tls {
            match &tls.anchors {
                Some(a) => eprintln!("sipsec-relay: TLS next hops are verified against {a}"),
                None => eprintln!(
                    "sipsec-relay: no trust anchors (--tls-ca FILE, --tls-ca system, --store): \
                     no TLS next hop will be connected"
                ),
            }
        }
        let l: Vec<String> = bound.local().iter().map(Peer::to_string).collect();
        eprintln!("sipsec-relay: listening on {}", l.join(" "));
        let unnamed = bound.local().iter().filter(|l| {
            let ip = l.addr.ip();
            ip.is_unspecified() && !cli.advertise.iter().any(|a| a.is_ipv4() == ip.is_ipv4())
        });
        for l in unnamed {
            eprintln!(
                "sipsec-relay: {l}: Via and Record-Route name the address the system sends \
                 from towards each next hop (--advertise IP names one address instead)"
            );
        }
    }
    let live_at_start = cli.live.clone();
    let reload: net::Reloader = Box::new(move || {
        // The same command line and configuration file, read again.
        let args = args_with_config(std::env::args_os().collect())?;
        let cli = RelayCli::try_parse_from(args)?;
        if cli.live != live_at_start {
            // The chains' children run, and the members' file is watched, as started: the
            // file's contents are read again, a change of these options needs a restart.
            eprintln!(
                "sipsec-relay: --credentials, --digest-algorithm, --outbound, --inbound, \
                 --audit-log or the chain options changed: not applied until a restart"
            );
        }
        let key = cli.key_file.as_deref().map(read_key_file).transpose()?;
        Ok((cli.relay_config(), net_options(&cli)?, key))
    });
    net::serve_until_signal(bound, relay, opts, Some(reload))?;
    Ok(Exit::Ok)
}

fn seconds(flag: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow::anyhow!("--{flag} {s}: expected a positive number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_lines_become_options_before_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.conf");
        std::fs::write(
            &path,
            "# comment\nlisten = udp:127.0.0.1:5060\nlisten=tcp:127.0.0.1:5060\nstdio = true\n\
             domain = example.com  # ours\nmin-expires = 30\n",
        )
        .unwrap();
        let args = args_with_config(vec![
            "sipsec-relay".into(),
            "--config".into(),
            path.clone().into(),
            "--min-expires".into(),
            "90".into(),
        ])
        .unwrap();
        let cli = RelayCli::try_parse_from(args).unwrap();
        assert_eq!(cli.listen.len(), 2);
        assert!(cli.stdio);
        assert_eq!(cli.domain, ["example.com"]);
        assert_eq!(cli.min_expires, 90, "the command line wins");
        std::fs::write(&path, "listen udp:127.0.0.1:5060\n").unwrap();
        let bad = args_with_config(vec!["x".into(), "--config".into(), path.into()]);
        assert!(matches!(bad, Err(ConfigFileError::Syntax { line: 1, .. })));
    }
}
