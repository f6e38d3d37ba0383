//! The relay's options for live security: member authentication (digest), attribution, the
//! filter chains and the audit log. Flattened into `sipsec-relay`'s command line.

use crate::auth::attribution::MemberConnections;
use crate::auth::audit::AuditLog;
use crate::auth::credentials::MemberFile;
use crate::auth::digest::Algorithm;
use crate::auth::gate::AuthGate;
use crate::auth::nonce::NonceKey;
use crate::auth::AuthConfig;
use crate::chain::Chain;
use crate::cli::chain::{self, ChainSettings};
use crate::cli::member::DigestAlgorithm;
use crate::filter::control::ControlKey;
use crate::relay::live::{CertificateOf, LiveOptions};
use crate::store::Store;
use crate::uri::Aor;
use anyhow::Context;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Member flows remembered at most (one per registered connection).
const MEMBER_FLOWS: usize = 65536;

#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct LiveArgs {
    /// The members' digest credentials (made by `sipsec-certgen member add`). With it, every
    /// request whose From (REGISTER: To) is in one of the relay's --domain is challenged (401 for
    /// REGISTER, 407 otherwise) and goes on only once its member authenticated. The file is
    /// re-read when it changes; it must be mode 0600 and owned by the relay's user.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// The digest algorithms offered, in order of preference (repeatable; default SHA-256 then
    /// MD5, one challenge each with the same nonce). Clients that read only the first
    /// challenge and know only MD5 (SIPp 3.6, many older phones) need MD5 first.
    #[arg(long = "digest-algorithm", value_enum, value_name = "ALGORITHM")]
    pub digest_algorithms: Vec<DigestAlgorithm>,
    /// How long a nonce is good for; an older one is answered `stale=true` (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub nonce_lifetime: u64,
    /// Also attribute responses that come from the UDP address a member registered from. A UDP
    /// source address can be forged by anyone: use this only where spoofing is ruled out
    /// (members on a network that filters forged sources). Without it only responses over the
    /// TCP or TLS connection a member registered over are the member's.
    #[arg(long)]
    pub attribute_udp_responses: bool,
    /// The filter chain for messages from authenticated members, e.g.
    /// 'sipsec-sign --store DIR | sipsec-encrypt --store DIR'. sipsec's own tools, named by
    /// their bare name, run inside the relay; any other command runs as a long-lived child
    /// reading and writing the framed stream (one message out for each in).
    #[arg(long, value_name = "CHAIN")]
    pub outbound: Option<String>,
    /// The filter chain for other messages towards the relay's terminals (requests routed to
    /// a registered contact or, in a dialog the relay record-routed, to the Request-URI; and
    /// responses), e.g. 'sipsec-decrypt --store DIR | sipsec-verify
    /// --store DIR --unwrap'. Marks that arrive from the network are removed before it runs.
    #[arg(long, value_name = "CHAIN")]
    pub inbound: Option<String>,
    /// How long a child of a chain may take over one message before it is killed and
    /// restarted (milliseconds); the message follows the stage's fail mode.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub chain_timeout: u64,
    /// Messages waiting for a chain at most; past it a message follows the fail mode at once.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub chain_queue: usize,
    /// Append one JSON line per signature made as a group for a member (who, how attributed,
    /// which message, when) to FILE (mode 0600). Needs sipsec-sign in process in --outbound
    /// (by its bare name): a child gives back only the message, not what it signed as.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
}

impl LiveArgs {
    /// The algorithms to offer, in order.
    pub fn algorithms(&self) -> Vec<Algorithm> {
        if self.digest_algorithms.is_empty() {
            return Algorithm::ALL.to_vec();
        }
        let mut out: Vec<Algorithm> = Vec::new();
        for a in &self.digest_algorithms {
            let a = Algorithm::from(*a);
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    /// Member authentication for a relay of `domains` listening on `own_addresses`, when
    /// --credentials names the members.
    pub fn auth_gate(
        &self,
        domains: &[String],
        own_addresses: Vec<SocketAddr>,
    ) -> anyhow::Result<Option<AuthGate>> {
        let Some(path) = &self.credentials else {
            return Ok(None);
        };
        if domains.is_empty() {
            anyhow::bail!(
                "--credentials needs at least one --domain: members authenticate for the relay's \
                 own domains"
            );
        }
        let members = MemberFile::open(path)?;
        let config = AuthConfig {
            domains: domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            own_addresses,
            algorithms: self.algorithms(),
            nonce_lifetime: self.nonce_lifetime,
            ..AuthConfig::default()
        };
        let flows = MemberConnections::new(MEMBER_FLOWS, self.attribute_udp_responses);
        Ok(Some(AuthGate::new(
            config,
            NonceKey::generate(),
            members,
            flows,
        )))
    }
}

/// The chains a relay runs.
pub struct Chains {
    pub outbound: Option<Chain>,
    pub inbound: Option<Chain>,
}

impl LiveArgs {
    /// What the relay runs on live traffic, when it runs anything: the chains (their children
    /// started), the audit log opened, and the store's certificates for 493 answers.
    pub fn options(
        &self,
        max_size: usize,
        store: Option<Store>,
    ) -> anyhow::Result<Option<LiveOptions>> {
        if self.audit_log.is_some() && self.outbound.is_none() {
            anyhow::bail!("--audit-log records what --outbound signs: give --outbound too");
        }
        let chains = self.chains(max_size)?;
        if chains.outbound.is_none() && chains.inbound.is_none() {
            return Ok(None);
        }
        if self.audit_log.is_some()
            && !chains
                .outbound
                .as_ref()
                .is_some_and(Chain::signs_in_process)
        {
            anyhow::bail!(
                "--audit-log records the signatures sipsec-sign makes inside the relay: name it \
                 by its bare name in --outbound ('sipsec-sign --store DIR'), not as a child"
            );
        }
        let audit = self
            .audit_log
            .as_deref()
            .map(|p| AuditLog::open(p).with_context(|| format!("--audit-log {}", p.display())))
            .transpose()?;
        let certificate_of: Option<CertificateOf> =
            store.map(|s| Box::new(move |aor: &Aor| s.recipient_cert(aor)) as CertificateOf);
        Ok(Some(LiveOptions {
            outbound: chains.outbound,
            inbound: chains.inbound,
            queue: self.chain_queue,
            audit,
            certificate_of,
        }))
    }

    /// Builds --outbound and --inbound (children are started now, so that a command that
    /// cannot run is reported at start-up). One control key serves the run.
    pub fn chains(&self, max_size: usize) -> anyhow::Result<Chains> {
        let settings = ChainSettings {
            timeout: Duration::from_millis(self.chain_timeout.max(1)),
            max_size,
            control: ControlKey::generate(),
        };
        let build = |text: &Option<String>, which: &str| {
            text.as_deref()
                .map(|t| chain::build(t, &settings).with_context(|| format!("--{which}")))
                .transpose()
        };
        Ok(Chains {
            outbound: build(&self.outbound, "outbound")?,
            inbound: build(&self.inbound, "inbound")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        live: LiveArgs,
    }

    #[test]
    fn algorithms_keep_the_order_given() {
        let cli = Cli::parse_from(["x"]);
        assert_eq!(cli.live.algorithms(), [Algorithm::Sha256, Algorithm::Md5]);
        let cli = Cli::parse_from([
            "x",
            "--digest-algorithm",
            "md5",
            "--digest-algorithm",
            "sha-256",
            "--digest-algorithm",
            "md5",
        ]);
        assert_eq!(cli.live.algorithms(), [Algorithm::Md5, Algorithm::Sha256]);
    }

    #[test]
    fn the_audit_log_needs_sipsec_sign_in_process() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit");
        let cli = Cli::parse_from([
            "x",
            "--outbound",
            "cat",
            "--audit-log",
            log.to_str().unwrap(),
        ]);
        let e = cli.live.options(65536, None).err().unwrap();
        assert!(e.to_string().contains("inside the relay"), "{e}");
        let cli = Cli::parse_from(["x", "--audit-log", log.to_str().unwrap()]);
        let e = cli.live.options(65536, None).err().unwrap();
        assert!(e.to_string().contains("give --outbound"), "{e}");
        assert!(!log.exists());
    }

    #[test]
    fn chains_are_built_and_errors_name_the_option() {
        let cli = Cli::parse_from([
            "x",
            "--outbound",
            "cat",
            "--inbound",
            "sipsec-verify --json",
        ]);
        let e = cli.live.chains(65536).err().unwrap();
        assert!(format!("{e:#}").starts_with("--inbound: "), "{e:#}");
        let cli = Cli::parse_from(["x", "--outbound", "cat"]);
        let chains = cli.live.chains(65536).unwrap();
        assert!(chains.outbound.is_some() && chains.inbound.is_none());
    }

    #[test]
    fn credentials_need_a_domain_and_a_safe_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("members");
        let cli = Cli::parse_from(["x", "--credentials", path.to_str().unwrap()]);
        let e = cli.live.auth_gate(&[], Vec::new()).err().unwrap();
        assert!(e.to_string().contains("--domain"), "{e}");
        let e = cli
            .live
            .auth_gate(&["callcentre.example".into()], Vec::new())
            .err()
            .unwrap();
        assert!(e.to_string().contains("No such file"), "{e}");
        let cli = Cli::parse_from(["x"]);
        assert!(cli.live.auth_gate(&[], Vec::new()).unwrap().is_none());
    }
}
