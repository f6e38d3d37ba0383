//! `sipsec-verify`: the clap definitions (man page and completions come from here) and the
//! runner that builds the verifier from them.

use crate::cli::{
    run_filter, setup_failed, CommonArgs, Exit, FilterArgs, StoreArgs, EXIT_CODES_HELP,
};
use crate::store::Store;
use crate::tool::verify::{PeerPolicy, Require, Verify, VerifyOptions};
use clap::Parser;
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
    /// signed (intact, not a replay), trusted, identity (and inner-outer), fresh.
    #[arg(long, value_enum, default_value = "none")]
    pub require: Require,
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
    let peers = match &cli.peer_policy {
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| PeerPolicy::parse(&t))
        {
            Ok(p) => p,
            Err(e) => return setup_failed("verify", format_args!("{}: {e}", p.display())),
        },
        None => PeerPolicy::default(),
    };
    let store = match Store::open(&cli.store.store) {
        Ok(s) => s,
        Err(e) => return setup_failed("verify", e),
    };
    let options = VerifyOptions {
        window: cli.window,
        future_skew: cli.future_skew,
        retransmit_interval: cli.retransmit_interval,
        replay_capacity: cli.replay_cache,
        now: cli.now,
        require: cli.require,
        peers,
        unwrap: cli.unwrap,
        learn_certs: cli.learn_certs,
    };
    crate::store::watch::look_again_on_sighup();
    run_filter(&Verify::new(store, options), &cli.filter, &cli.common)
}
