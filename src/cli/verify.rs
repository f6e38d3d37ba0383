//! `sipsec-verify`: the clap definitions (man page and completions come from here) and the
//! runner that builds the verifier from them.

use crate::cli::{
    run_filter, setup_failed, CommonArgs, Exit, FilterArgs, StoreArgs, EXIT_CODES_HELP,
};
use crate::identity::fetch::FetchPolicy;
use crate::identity::Attestation;
use crate::store::Store;
use crate::tool::verify::{PeerPolicy, Require, StirVerifyOptions, Verify, VerifyOptions};
use clap::Parser;
use clap::ValueEnum;
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Every check is reported on its own in the Sipsec-Verdict header and the JSON report, never one \
merged \"valid\": integrity (the signature over the exact octets received), coverage (which \
headers and whether the body are signed: a body form covers no header, an AIB does not cover \
the SDP, a cms form covers no outer header), trust (chain to the store's anchors at the capture \
time or --now, validity, key usage, CRLs, and the host of every SIP URI of the certificate \
within each CA's name constraints, which OpenSSL does not check), identity (the certificate's SIP URI against the From \
of a request or the To of a response; a domain certificate only with id-kp-sipDomain; a group \
certificate vouches for the group AOR only), freshness (the Date inside the signed content, \
within --window, at most --future-skew ahead), replay (the same signature again: a \
retransmission within --retransmit-interval, a replay after; when the cache is full new \
messages are refused, never forgotten) and inner-outer (RFC 3261 §23.4.1.1).

Marks: any incoming `Subject: validated ...` or Sipsec-Verdict header is removed and reported \
first. `Subject: validated <sip:...>` (the certificate's own SIP URI) is added only when the \
signature is intact, trusted, of the sender, not a replay, agrees with the message, covers the \
From of a request (the To of a response), the Call-ID and the CSeq, carries a signed Date within \
the window, and covers the body the terminal receives. So only the sip form (a signed \
message/sip copy, sipsec-sign's default) earns it for a message with a body, and an AIB for one \
without; the body and cms forms and an AIB beside a body get their verdict and never the mark \
(the JSON record says why in mark_refused). Outer headers that a signed copy does not cover \
(and no proxy may change) are listed as uncovered= in Sipsec-Verdict and removed under \
--require identity or fresh; --unwrap gives the terminal the signed From and To, display names \
included. The outgoing header section is scanned (splitting at every CR and LF) and a message \
carrying a mark that is not the verifier's own is refused. A Content-Type that repeats a \
parameter (two boundary= parameters, say) is refused. Replays are known by the signature value \
(with the signer's issuer and serial), however it is encoded, and only signatures with a trusted \
chain enter the replay cache; a signature that is not DER (bytes after it, a longer length than \
needed, a padded integer) fails integrity. For a capture, times are judged at the frames' \
capture time, which the verdict says (judged-at=capture-time): forensics, not proof. Pass the \
marks on to sipsec-decrypt with the run's control key (--control-key K --keep-control here, \
--control-key K there): any other tool removes marks no sipsec-verify of the run made.

Default fail mode: closed. A message that misses the --require level (or the peer policy) is \
withheld: forwarding it unchanged (--fail-open) would also forward the sender's bytes as they \
came, including any forged mark. With the default --require none every message is forwarded, \
marked or not, with its verdict; only a smuggled mark is refused. That default is deliberate: most SIP traffic is unsigned, and refusing it would break calls without making anyone safer, because a terminal behind this proxy trusts the mark, never the absence of a refusal. Senders that must sign go in --peer-policy (a stripped signature is then refused), and a deployment that wants every message checked says --require identity or fresh.

STIR (--sti-anchors): every Identity header of a request is checked as an RFC 8224 \
verification service would: syntax (full or compact form; a compact one is rebuilt from the \
request), the ES256 signature (raw R||S; a DER signature is refused), the x5u certificate \
(from --x5u-cache, or fetched over HTTPS with --fetch-x5u, bounded by --x5u-timeout and \
--x5u-max-bytes, no redirects; cached with its chain and an expiry), its chain to the STI \
anchors and its validity, the calling number within its TNAuthList (its contents, not its \
presence), orig and dest against P-Asserted-Identity/From and To, and iat and Date within \
--stir-freshness of now. The outcome joins the verdict (stir=pass;attest=A, stir=fail; \
stir-cause=438, stir=absent) and the JSON (per header: the RFC 8224 response, 436, 437, 438 or \
403, with the reason). One valid original PASSporT is enough (RFC 8224 §6.2.1). A request let \
through with a failed Identity header gets one `Reason: STIR;cause=…` per failure (RFC 9410), \
after any incoming STIR Reason is removed; --require attested=A|B|C withholds a request \
without a valid SHAKEN PASSporT of at least that attestation (428 when there is none). The \
STIR outcome never makes or removes the S/MIME mark.
The signer certificate is taken from the signature, else from the store: the sender's AOR (learned or own certificates), then every store certificate by issuer and serial number. Trust verdicts are cached per certificate chain for the span in which every certificate of the chain is valid; A running verify looks at its store once a second (a few stat calls) and at once on SIGHUP: a changed CRL, anchor, group or setting is reread before the next message, and every cached trust verdict is then forgotten, so a certificate revoked mid-run is refused from the next message on. No private key is read, so a store whose keys are encrypted needs no passphrase here.

";

/// Check S/MIME signatures for terminals that cannot, and mark what was checked.
#[derive(Debug, Parser)]
#[command(name = "sipsec-verify", version, after_long_help = help())]
pub struct VerifyCli {
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Which checks must pass for a message to be accepted (levels include the ones before):
    /// signed (intact, not a replay), trusted, identity (and inner-outer), fresh; and, for
    /// STIR, attested=A|B|C (a valid SHAKEN Identity with at least that attestation). Repeat
    /// to ask for both.
    #[arg(long, value_name = "LEVEL", default_value = "none")]
    pub require: Vec<RequireSpec>,
    /// Check STIR Identity headers (RFC 8224) against these STI anchors (PEM, one or more
    /// certificates); the outcome joins the verdict.
    #[arg(long, value_name = "FILE")]
    pub sti_anchors: Option<PathBuf>,
    /// Where x5u certificate chains are cached (one .pem and one .meta per URL); without
    /// --fetch-x5u only cached chains are used.
    #[arg(long, value_name = "DIR", requires = "sti_anchors")]
    pub x5u_cache: Option<PathBuf>,
    /// Fetch x5u chains that are not cached, over HTTPS (no redirects followed).
    #[arg(long, requires = "sti_anchors")]
    pub fetch_x5u: bool,
    /// Trust these CAs (PEM) for the HTTPS servers of x5u URLs instead of the system's.
    #[arg(long, value_name = "FILE", requires = "fetch_x5u")]
    pub x5u_tls_anchors: Option<PathBuf>,
    /// The whole time one x5u fetch may take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub x5u_timeout: u64,
    /// The largest x5u answer accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 65536)]
    pub x5u_max_bytes: usize,
    /// How far iat and Date may be from now, in seconds (RFC 8224 recommends 60).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub stir_freshness: i64,
    /// File of AORs or domains (one a line) that must always arrive signed: their messages
    /// need at least `--require identity`, so a stripped signature is noticed.
    #[arg(long, value_name = "FILE")]
    pub peer_policy: Option<PathBuf>,
    /// Replace the S/MIME body with the content it protected (the original SDP).
    #[arg(long)]
    pub unwrap: bool,
    /// Store signer certificates that passed trust and identity (in the store's learned/ part,
    /// never replacing a known one), for sipsec-encrypt.
    #[arg(long)]
    pub learn_certs: bool,
    /// Judge at this time (seconds since 1970) when a message has no capture time.
    #[arg(long, value_name = "UNIX")]
    pub now: Option<i64>,
    /// Oldest signed Date accepted, in seconds (RFC 3893 §10).
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub window: i64,
    /// How far ahead of now a signed Date may be, in seconds (clock skew).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub future_skew: i64,
    /// A repeat of a signature within this many seconds is a retransmission (64*T1).
    #[arg(long, value_name = "SECS", default_value_t = 32)]
    pub retransmit_interval: i64,
    /// Signatures the replay cache holds (about 100 bytes each); when full, new signed
    /// messages are refused until entries expire.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub replay_cache: usize,
}

fn help() -> String {
    format!("{AFTER_HELP}{EXIT_CODES_HELP}")
}

/// The whole of sipsec-verify.
pub fn run(cli: &VerifyCli) -> Exit {
    match tool(cli) {
        Ok(verify) => {
            // A relay's chain reads the verdicts (tool() stays as it is for it); this run
            // reads them only to write records.
            let verify = if cli.filter.json || cli.filter.report.is_some() {
                verify
            } else {
                verify.unreported()
            };
            crate::store::watch::look_again_on_sighup();
            run_filter(&verify, &cli.filter, &cli.common)
        }
        Err(e) => setup_failed("verify", e),
    }
}

/// The tool the command line describes (also run in process by a relay's chain).
pub fn tool(cli: &VerifyCli) -> Result<Verify, String> {
    let peers = match &cli.peer_policy {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| PeerPolicy::parse(&t))
            .map_err(|e| format!("{}: {e}", p.display()))?,
        None => PeerPolicy::default(),
    };
    let store = Store::open(&cli.store.store).map_err(|e| e.to_string())?;
    let (require, attested) = RequireSpec::split(&cli.require);
    let stir = stir_options(cli, attested)?;
    let options = VerifyOptions {
        window: cli.window,
        future_skew: cli.future_skew,
        retransmit_interval: cli.retransmit_interval,
        replay_capacity: cli.replay_cache,
        now: cli.now,
        require,
        peers,
        unwrap: cli.unwrap,
        learn_certs: cli.learn_certs,
        stir,
    };
    Ok(Verify::new(store, options))
}

/// One `--require` value: an S/MIME level or a STIR attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequireSpec {
    Smime(Require),
    Attested(Attestation),
}

impl std::str::FromStr for RequireSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<RequireSpec, String> {
        if let Some(level) = text.strip_prefix("attested=") {
            return Attestation::parse(&level.to_ascii_uppercase())
                .map(RequireSpec::Attested)
                .ok_or_else(|| format!("attested= takes A, B or C, not {level:?}"));
        }
        Require::from_str(text, true)
            .map(RequireSpec::Smime)
            .map_err(|_| {
                format!(
                    "{text:?} is none of none, signed, trusted, identity, fresh, attested=A|B|C"
                )
            })
    }
}

impl RequireSpec {
    /// The S/MIME level and the STIR attestation asked for (the highest of each).
    fn split(specs: &[RequireSpec]) -> (Require, Option<Attestation>) {
        let mut level = Require::None;
        let mut attested = None;
        for s in specs {
            match *s {
                RequireSpec::Smime(r) => level = level.max(r),
                RequireSpec::Attested(a) => attested = attested.max(Some(a)),
            }
        }
        (level, attested)
    }
}

fn read_pem_certs(path: &std::path::Path) -> Result<Vec<openssl::x509::X509>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    openssl::x509::X509::stack_from_pem(&pem)
        .ok()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("{}: no PEM certificate", path.display()))
}

fn stir_options(
    cli: &VerifyCli,
    attested: Option<Attestation>,
) -> Result<Option<StirVerifyOptions>, String> {
    let Some(path) = &cli.sti_anchors else {
        return match attested {
            Some(_) => Err("--require attested=… needs --sti-anchors".into()),
            None => Ok(None),
        };
    };
    let anchors = read_pem_certs(path)?;
    let tls_anchors = cli
        .x5u_tls_anchors
        .as_deref()
        .map(read_pem_certs)
        .transpose()?;
    Ok(Some(StirVerifyOptions {
        anchors,
        cache_dir: cli.x5u_cache.clone(),
        fetch: cli.fetch_x5u.then(|| FetchPolicy {
            timeout: std::time::Duration::from_millis(cli.x5u_timeout),
            max_bytes: cli.x5u_max_bytes,
            tls_anchors,
        }),
        freshness: cli.stir_freshness,
        cache_lifetime: 3600,
        require: attested,
    }))
}
