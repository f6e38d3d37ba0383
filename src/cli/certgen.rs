//! `sipsec-certgen`: the administrator's tool for the certificate store. The clap definitions
//! live here (man pages and completions are generated from them) together with `run`, which
//! turns a parsed command line into store operations and output lines.
//!
//! Exit codes: [`CERTGEN_EXIT_CODES_HELP`].

use crate::cli::{pass_source, CommonArgs, Exit, KeyPassArgs, StoreArgs};
use crate::identity::{TnAuthList, TnEntry};
use crate::store::fsio::{self, PUBLIC_MODE, SECRET_MODE};
use crate::store::x509::{self, KeyType, LeafProfile, TlsProfile};
use crate::store::{policy::MemberPattern, Store, StoreError};
use clap::{Args, Parser, Subcommand};
use openssl::pkey::PKey;
use openssl::x509::{X509Req, X509};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The text sipsec-certgen's `--help` ends with.
pub const CERTGEN_EXIT_CODES_HELP: &str = "Exit codes: 0 done; 1 the command was refused or \
failed; 2 usage error; 3 the store could not be opened or created, or its keys cannot be read \
with the passphrase given.";

#[derive(Debug, Parser)]
#[command(
    name = "sipsec-certgen",
    version,
    about = "Manage the sipsec certificate store: CAs, group identities, CSRs, PKCS#12, CRLs",
    after_help = CERTGEN_EXIT_CODES_HELP,
    after_long_help = format!("{}\n\n{CERTGEN_EXIT_CODES_HELP}", crate::store::LAYOUT_HELP)
)]
pub struct CertgenCli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Passphrase protecting the store's private keys.
    #[command(flatten)]
    pub key_pass: KeyPassArgs,
    #[command(subcommand)]
    pub command: CertgenCommand,
}

/// Where a PKCS#12 passphrase comes from (never from argv).
#[derive(Debug, Clone, Args)]
pub struct P12PassArgs {
    /// Read the PKCS#12 passphrase from the first line of FILE.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "p12_pass_env",
        required_unless_present = "p12_pass_env"
    )]
    pub p12_pass_file: Option<PathBuf>,
    /// Read the PKCS#12 passphrase from environment variable NAME.
    #[arg(long, value_name = "NAME")]
    pub p12_pass_env: Option<String>,
}

/// Options of every command that makes a key and certificate.
#[derive(Debug, Clone, Args)]
pub struct KeyOpts {
    /// Key type (RSA-2048 for RFC 3853 interop; P-256 for the RFC 8591 profile).
    #[arg(long, value_enum, default_value = "rsa2048")]
    pub key_type: KeyType,
    /// Validity in days.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
}

/// What a leaf certificate names.
#[derive(Debug, Clone, Args)]
pub struct LeafOpts {
    /// The SIP URI (address-of-record) the certificate is for.
    pub uri: String,
    /// Also name the `im:` and `pres:` forms of the URI.
    #[arg(long)]
    pub im_pres: bool,
    /// A domain certificate (`sip:domain`): adds DNS:domain and id-kp-sipDomain.
    #[arg(long)]
    pub domain_cert: bool,
}

impl LeafOpts {
    fn profile(&self, days: u32) -> Result<LeafProfile, StoreError> {
        let mut p = LeafProfile::new(x509::parse_aor(&self.uri)?, days);
        p.im_pres = self.im_pres;
        p.domain_cert = self.domain_cert;
        Ok(p)
    }
}

#[derive(Debug, Subcommand)]
pub enum CertgenCommand {
    /// Create the store (if missing) and a self-signed root CA, trusted by the store.
    InitCa {
        /// Common name of the CA.
        #[arg(long, default_value = "sipsec root CA")]
        cn: String,
        /// Use the root directly as the issuing CA (no intermediate).
        #[arg(long)]
        issuing: bool,
        /// Key type of the root CA.
        #[arg(long, value_enum, default_value = "rsa2048")]
        key_type: KeyType,
        /// Validity of the root CA in days.
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
    /// Create the issuing intermediate CA, name-constrained to the given domains.
    InitIntermediate {
        /// A domain the proxy serves (repeat for more).
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
        /// Common name of the issuing CA.
        #[arg(long, default_value = "sipsec issuing CA")]
        cn: String,
        /// Also constrain URI names to the domains. OpenSSL cannot match a sip: URI against a
        /// URI constraint and then refuses every sip: leaf this CA issues, so leave it out
        /// unless every verifier checks the constraints itself (sipsec-verify holds sip: URIs
        /// against the DNS constraints without it).
        #[arg(long)]
        uri_constraints: bool,
        /// Key type of the issuing CA.
        #[arg(long, value_enum, default_value = "rsa2048")]
        key_type: KeyType,
        /// Validity of the issuing CA in days.
        #[arg(long, default_value_t = 1825)]
        days: u32,
    },
    /// Issue a certificate for a SIP URI from the store's issuing CA (made by
    /// init-intermediate, or init-ca --issuing); self-signed with --self-signed, or in a store
    /// that has no CA at all.
    Issue {
        #[command(flatten)]
        leaf: LeafOpts,
        #[command(flatten)]
        key: KeyOpts,
        /// Self-signed even when the store has a CA.
        #[arg(long)]
        self_signed: bool,
    },
    /// Issue the TLS certificate of the proxy's own host (for `sipsec-relay --tls-identity`):
    /// DNS:HOST and IP: names, server and client authentication, stored in tls/HOST/.
    IssueTls {
        /// The proxy's host name.
        #[arg(long)]
        host: String,
        /// An address the proxy is also reached by (repeatable).
        #[arg(long = "ip", value_name = "ADDR")]
        ips: Vec<std::net::IpAddr>,
        #[command(flatten)]
        key: KeyOpts,
        /// Replace an existing TLS certificate for the host.
        #[arg(long)]
        replace: bool,
    },
    /// Issue an STI certificate (RFC 8226: P-256, TNAuthList) for an identity or group with
    /// the store's CA, for sipsec-sign --identity. Publish the chain (--chain-out) at --x5u.
    Sti {
        /// The identity or group it signs for (e.g. sip:support@callcentre.example).
        uri: String,
        #[command(flatten)]
        sti: StiOpts,
        /// How long the certificate is valid, in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Replace an existing STI certificate.
        #[arg(long)]
        replace: bool,
        /// Also write the chain verifiers fetch from the x5u URL (signer first) to FILE.
        #[arg(long, value_name = "FILE")]
        chain_out: Option<PathBuf>,
        /// Also put the chain in this x5u cache directory (sipsec-verify --x5u-cache), valid
        /// as long as the certificate.
        #[arg(long, value_name = "DIR")]
        x5u_cache: Option<PathBuf>,
    },
    /// Make a P-256 key and a CSR with a TNAuthList for an outside STI-CA; the CSR goes to
    /// --out or stdout. Bring the certificate back with `sti-import`.
    StiCsr {
        /// The identity or group the certificate will sign for.
        uri: String,
        #[command(flatten)]
        sti: StiOpts,
        /// Where to write the CSR (PEM); stdout when absent.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Import the STI certificate an outside STI-CA returned for `sti-csr` (extra
    /// certificates in FILE become the chain).
    StiImport {
        /// The certificate (PEM), followed by its chain.
        file: PathBuf,
        /// The identity or group the CSR was made for.
        uri: String,
    },
    /// Make a key and a CSR for a SIP URI, for an outside CA; the CSR goes to --out or stdout.
    Csr {
        #[command(flatten)]
        leaf: LeafOpts,
        #[command(flatten)]
        key: KeyOpts,
        /// Write the CSR (PEM) here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Import a certificate an outside CA returned (or one with --key): must match the key and
    /// name the URI. Extra certificates in FILE become the chain.
    ImportCert {
        /// The certificate (PEM), followed by its chain.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The URI (default: the certificate's first SIP URI).
        #[arg(long)]
        uri: Option<String>,
        /// The private key, when it is not already in the store.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
    },
    /// Sign a CSR with the store's issuing CA; the certificate goes to --out or stdout.
    SignCsr {
        /// The CSR (PEM).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The URI to certify (default: the CSR's subject CN).
        #[arg(long)]
        uri: Option<String>,
        /// Also name the `im:` and `pres:` forms of the URI.
        #[arg(long)]
        im_pres: bool,
        /// A domain certificate (`sip:domain`): adds DNS:domain and id-kp-sipDomain.
        #[arg(long)]
        domain_cert: bool,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Write the certificate (PEM) here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Export an identity's key, certificate and chain as PKCS#12.
    ExportP12 {
        /// The identity's SIP URI, e.g. sip:support@callcentre.example.
        uri: String,
        /// The PKCS#12 file to write (mode 0600).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        pass: P12PassArgs,
        /// 3DES/SHA-1 encryption for old importers (default: PBES2/AES-256, SHA-256 MAC).
        #[arg(long)]
        legacy: bool,
    },
    /// Import a PKCS#12 file as an own identity.
    ImportP12 {
        /// The PKCS#12 file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The URI (default: the certificate's first SIP URI).
        #[arg(long)]
        uri: Option<String>,
        #[command(flatten)]
        pass: P12PassArgs,
    },
    /// Revoke a certificate (by URI of an own identity, or --serial) and publish the CRL.
    Revoke {
        /// The SIP URI of an own identity whose current certificate is revoked.
        #[arg(required_unless_present = "serial")]
        uri: Option<String>,
        /// The serial number (hex) of the certificate to revoke, e.g. one the store no longer
        /// holds.
        #[arg(long, conflicts_with = "uri")]
        serial: Option<String>,
        /// Validity of the published CRL in days.
        #[arg(long, default_value_t = 30)]
        crl_days: u32,
    },
    /// Publish the CRL of the issuing CA (crl/issuing-ca.pem; also to --out).
    Crl {
        /// Validity of the CRL in days (its nextUpdate).
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Also write the CRL (PEM) here.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Replace an identity's key and certificate; the old certificate is kept for verification.
    Rotate {
        #[command(flatten)]
        leaf: LeafOpts,
        #[command(flatten)]
        key: KeyOpts,
    },
    /// Define and list groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Members who authenticate to the relay with SIP digest: their HA1 per algorithm in the
    /// credentials file (never the password).
    #[command(subcommand)]
    Member(super::member::MemberCommand),
    /// List identities, learned certificates, groups and CAs.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show a certificate: an own or learned identity by URI, or a PEM file.
    Show {
        /// A SIP URI (own or learned identity) or a PEM file.
        #[arg(value_name = "URI|FILE")]
        target: String,
        /// One JSON object on one line.
        #[arg(long)]
        json: bool,
    },
    /// Manage trust anchors (anchor add makes the store when it is missing).
    #[command(subcommand)]
    Anchor(AnchorCommand),
    /// Remember how to encrypt to a peer that cannot take the defaults (sipsec-encrypt follows
    /// it when not given --cipher or --rsa-padding), and print what the store keeps about the
    /// peer, with the ciphers its signatures advertised.
    Peer {
        /// The peer's address of record (e.g. sip:alice@example.org).
        aor: String,
        /// The content cipher to use for this peer.
        #[arg(long, value_enum)]
        cipher: Option<crate::cli::encrypt::CipherArg>,
        /// The RSA key-transport padding to use for this peer (pkcs1 for peers without OAEP).
        #[arg(long, value_enum)]
        rsa_padding: Option<crate::cli::encrypt::PaddingArg>,
    },
    /// Change store settings (on-demand issuance, own domains) and print them.
    Config {
        /// Whether sipsec-sign may make a missing certificate for an attributed member's
        /// group (with the issuing CA).
        #[arg(long, value_parser = ["yes", "no"])]
        on_demand: Option<String>,
        /// Add a domain the store issues and makes certificates for (repeatable).
        #[arg(long = "add-domain", value_name = "DOMAIN")]
        add_domains: Vec<String>,
        /// Key type of certificates made on demand.
        #[arg(long, value_enum)]
        key_type: Option<KeyType>,
        /// Validity in days of certificates made on demand.
        #[arg(long)]
        days: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Map members (exact AORs or `*` patterns) to a group identity.
    Add {
        /// The group's SIP URI, whose certificate members sign with.
        group: String,
        /// Members: exact SIP URIs, or patterns with `*` in the user part
        /// (`sip:agent-*@callcentre.example`).
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// List the group map.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AnchorCommand {
    /// Trust the CA certificates in FILE.
    Add {
        /// PEM file of CA certificates, e.g. another store's root/cert.pem.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Why a certgen command failed: exit code 3 for [`CertgenError::Setup`], else 1.
#[derive(Debug, thiserror::Error)]
pub enum CertgenError {
    /// The store could not be opened or created, or its keys not read.
    #[error(transparent)]
    Setup(StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
    #[error("{0}")]
    Refused(String),
}

/// What an STI certificate asks for.
#[derive(Debug, Args)]
pub struct StiOpts {
    /// A telephone number it may sign for, a range `START+COUNT` (12155550100+100), or a
    /// service provider code `spc:CODE` (repeatable).
    #[arg(long = "tn", required = true, value_name = "TN")]
    pub tns: Vec<TnEntry>,
    /// The https URL where verifiers fetch the certificate chain (the PASSporT's x5u).
    #[arg(long, value_name = "URL")]
    pub x5u: String,
}

impl StiOpts {
    fn list(&self) -> Result<TnAuthList, CertgenError> {
        TnAuthList::new(self.tns.clone()).map_err(|e| CertgenError::Refused(e.to_string()))
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, CertgenError> {
    std::fs::read(path).map_err(|e| CertgenError::Refused(format!("{}: {e}", path.display())))
}

fn crypto(what: &'static str) -> impl FnOnce(openssl::error::ErrorStack) -> StoreError {
    move |source| StoreError::Crypto { what, source }
}

fn read_certs(path: &Path) -> Result<Vec<X509>, CertgenError> {
    let pem = read_file(path)?;
    let certs = X509::stack_from_pem(&pem).unwrap_or_default();
    if certs.is_empty() {
        return Err(StoreError::BadFile {
            path: path.to_path_buf(),
            what: "certificate",
        }
        .into());
    }
    Ok(certs)
}

fn emit(out: &mut dyn Write, to: Option<&Path>, pem: &[u8]) -> Result<(), CertgenError> {
    match to {
        Some(p) => fsio::write_atomic(p, pem, PUBLIC_MODE).map_err(Into::into),
        None => out.write_all(pem).map_err(Into::into),
    }
}

/// The whole of sipsec-certgen: one command, its results on stdout.
pub fn run(cli: &CertgenCli) -> Exit {
    let stdout = std::io::stdout();
    match execute(cli, &mut stdout.lock()) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            let exit = match e {
                CertgenError::Setup(_) => Exit::Fatal,
                _ => Exit::Refused,
            };
            eprintln!("sipsec-certgen: {:#}", anyhow::Error::from(e));
            exit
        }
    }
}

/// Where `execute` writes: what the command produces (a CSR, a listing) always, and its
/// confirmation lines ("issued ...") unless `-q`.
struct Output<'a> {
    out: &'a mut dyn Write,
    quiet: bool,
    silent: std::io::Sink,
}

impl Output<'_> {
    fn data(&mut self) -> &mut dyn Write {
        self.out
    }

    fn note(&mut self) -> &mut dyn Write {
        if self.quiet {
            &mut self.silent
        } else {
            self.out
        }
    }
}

/// Runs one certgen command against the store, writing results to `out`.
fn execute(cli: &CertgenCli, out: &mut dyn Write) -> Result<(), CertgenError> {
    let mut o = Output {
        out,
        quiet: cli.common.quiet,
        silent: std::io::sink(),
    };
    let path = &cli.store.store;
    let key_pass = cli.key_pass.source();
    // A store is made by its first CA, or by its first anchor (a store that only verifies).
    let creating = matches!(
        cli.command,
        CertgenCommand::InitCa { .. } | CertgenCommand::Anchor(AnchorCommand::Add { .. })
    );
    let store = if creating {
        Store::create(path)
    } else {
        Store::open(path)
    };
    let mut store = store
        .and_then(|s| s.with_passphrase(key_pass.as_ref()))
        .map_err(CertgenError::Setup)?;
    match &cli.command {
        CertgenCommand::InitCa {
            cn,
            issuing,
            key_type,
            days,
        } => {
            let c = store.init_root(cn, *key_type, *days, *issuing)?;
            writeln!(o.note(), "root CA {cn:?} {}", x509::fingerprint(&c)?)?;
        }
        CertgenCommand::InitIntermediate {
            domains,
            cn,
            uri_constraints,
            key_type,
            days,
        } => {
            let c = store.init_intermediate(cn, *key_type, *days, domains, *uri_constraints)?;
            writeln!(o.note(), "issuing CA {cn:?} {}", x509::fingerprint(&c)?)?;
        }
        CertgenCommand::Issue {
            leaf,
            key,
            self_signed,
        } => {
            let id = store.issue(&leaf.profile(key.days)?, key.key_type, *self_signed, false)?;
            let how = match id.cert.issued(&id.cert) {
                openssl::x509::X509VerifyResult::OK => " (self-signed)",
                _ => "",
            };
            writeln!(
                o.note(),
                "issued sip:{} serial {}{how}",
                id.aor,
                x509::serial_hex(&id.cert)?
            )?;
        }
        CertgenCommand::IssueTls {
            host,
            ips,
            key,
            replace,
        } => {
            let profile = TlsProfile::new(host, ips.clone(), key.days)?;
            let id = store.issue_tls(&profile, key.key_type, *replace)?;
            writeln!(
                o.note(),
                "issued TLS {} serial {}",
                profile.host,
                x509::serial_hex(&id.cert)?
            )?;
        }
        CertgenCommand::Sti {
            uri,
            sti,
            days,
            replace,
            chain_out,
            x5u_cache,
        } => {
            let aor = x509::parse_aor(uri)?;
            let id = store.issue_sti(&aor, sti.list()?, &sti.x5u, *days, *replace)?;
            let mut pem = Vec::new();
            for c in std::iter::once(&id.identity.cert).chain(&id.identity.chain) {
                pem.extend(c.to_pem().map_err(crypto("encoding the chain"))?);
            }
            if let Some(path) = chain_out {
                fsio::write_atomic(path, &pem, PUBLIC_MODE)?;
            }
            if let Some(dir) = x5u_cache {
                let until = crate::crypto::epoch_seconds(id.identity.cert.not_after()).unwrap_or(0);
                crate::identity::x5u::store_entry(dir, &id.x5u, &pem, until)
                    .map_err(|e| CertgenError::Refused(format!("{}: {e}", dir.display())))?;
            }
            writeln!(
                out,
                "issued STI sip:{aor} serial {} x5u {}",
                x509::serial_hex(&id.identity.cert)?,
                id.x5u
            )?;
        }
        CertgenCommand::StiCsr { uri, sti, out: to } => {
            let aor = x509::parse_aor(uri)?;
            let csr = store.sti_csr(&aor, sti.list()?, &sti.x5u)?;
            emit(
                out,
                to.as_deref(),
                &csr.to_pem().map_err(crypto("encoding the CSR"))?,
            )?;
        }
        CertgenCommand::StiImport { file, uri } => {
            let aor = x509::parse_aor(uri)?;
            let mut certs = read_certs(file)?;
            let cert = certs.remove(0);
            let id = store.import_sti_cert(&aor, cert, certs)?;
            writeln!(out, "imported STI sip:{aor} x5u {}", id.x5u)?;
        }
        CertgenCommand::Csr { leaf, key, out: to } => {
            let csr = store.make_csr(&leaf.profile(key.days)?, key.key_type)?;
            emit(
                o.data(),
                to.as_deref(),
                &csr.to_pem().map_err(crypto("encoding the CSR"))?,
            )?;
        }
        CertgenCommand::ImportCert { file, uri, key } => {
            let mut certs = read_certs(file)?;
            let cert = certs.remove(0);
            let key = match key {
                Some(k) => Some(read_key_file(k)?),
                None => None,
            };
            let aor = uri.as_deref().map(x509::parse_aor).transpose()?;
            let id = store.import_cert(cert, certs, key, aor)?;
            writeln!(o.note(), "imported sip:{}", id.aor)?;
        }
        CertgenCommand::SignCsr {
            file,
            uri,
            im_pres,
            domain_cert,
            days,
            out: to,
        } => {
            let pem = read_file(file)?;
            let csr = X509Req::from_pem(&pem).map_err(|_| StoreError::BadFile {
                path: file.clone(),
                what: "CSR",
            })?;
            let aor = match uri {
                Some(u) => x509::parse_aor(u)?,
                None => x509::csr_subject_aor(&csr)?,
            };
            let mut profile = LeafProfile::new(aor, *days);
            profile.im_pres = *im_pres;
            profile.domain_cert = *domain_cert;
            let cert = store.sign_csr(&csr, &profile)?;
            emit(
                o.data(),
                to.as_deref(),
                &cert.to_pem().map_err(crypto("encoding"))?,
            )?;
        }
        CertgenCommand::ExportP12 {
            uri,
            out: to,
            pass,
            legacy,
        } => {
            let pw = p12_pass(pass)?;
            let der = store.export_p12(&x509::parse_aor(uri)?, &pw, *legacy)?;
            fsio::write_atomic(to, &der, SECRET_MODE)?;
            writeln!(o.note(), "exported {uri} to {}", to.display())?;
        }
        CertgenCommand::ImportP12 { file, uri, pass } => {
            let pw = p12_pass(pass)?;
            let aor = uri.as_deref().map(x509::parse_aor).transpose()?;
            let id = store.import_p12(&read_file(file)?, &pw, aor)?;
            writeln!(o.note(), "imported sip:{}", id.aor)?;
        }
        CertgenCommand::Revoke {
            uri,
            serial,
            crl_days,
        } => {
            let serial = match (uri, serial) {
                (_, Some(s)) => s.clone(),
                (Some(u), None) => {
                    let aor = x509::parse_aor(u)?;
                    let id = store
                        .identity(&aor)?
                        .ok_or_else(|| StoreError::NoIdentity(aor.to_string()))?;
                    x509::serial_hex(&id.cert)?
                }
                (None, None) => return Err(CertgenError::Refused("give a URI or --serial".into())),
            };
            store.revoke(&serial)?;
            store.publish_crl(*crl_days)?;
            writeln!(o.note(), "revoked serial {serial}")?;
        }
        CertgenCommand::Crl { days, out: to } => {
            let crl = store.publish_crl(*days)?;
            if let Some(p) = to {
                fsio::write_atomic(p, &crl.to_pem().map_err(crypto("encoding"))?, PUBLIC_MODE)?;
            }
            writeln!(o.note(), "published crl/issuing-ca.pem")?;
        }
        CertgenCommand::Rotate { leaf, key } => {
            let id = store.rotate(&leaf.profile(key.days)?, key.key_type)?;
            writeln!(
                o.note(),
                "rotated sip:{} new serial {}",
                id.aor,
                x509::serial_hex(&id.cert)?
            )?;
        }
        CertgenCommand::Group(GroupCommand::Add { group, members }) => {
            let g = x509::parse_aor(group)?;
            for m in members {
                store.add_group_member(g.clone(), MemberPattern::parse(m)?)?;
            }
        }
        CertgenCommand::Member(command) => {
            super::member::run(command, store.path(), out)
                .map_err(|e| CertgenError::Refused(e.to_string()))?;
        }
        CertgenCommand::Group(GroupCommand::List) => {
            for (g, m) in store.groups().entries() {
                writeln!(o.data(), "sip:{g}\tsip:{}", m.as_str())?;
            }
        }
        CertgenCommand::List { json } => list(&store, *json, o.data())?,
        CertgenCommand::Show { target, json } => {
            let p = Path::new(target);
            let cert = if p.exists() {
                read_certs(p)?.remove(0)
            } else {
                let aor = x509::parse_aor(target)?;
                store
                    .recipient_cert(&aor)
                    .ok_or_else(|| StoreError::NoIdentity(aor.to_string()))?
            };
            show(&cert, "certificate", *json, o.data())?;
        }
        CertgenCommand::Peer {
            aor,
            cipher,
            rsa_padding,
        } => {
            let aor = x509::parse_aor(aor)?;
            store.update_peer_settings(&aor, |s| {
                if let Some(c) = cipher {
                    s.cipher = Some(c.cipher());
                }
                if let Some(p) = rsa_padding {
                    s.rsa_padding = Some(p.padding());
                }
            })?;
            write!(out, "{}", store.peer_settings(&aor).render())?;
        }
        CertgenCommand::Anchor(AnchorCommand::Add { file }) => {
            let certs = read_certs(file)?;
            store.add_anchor(&certs)?;
            writeln!(o.note(), "added {} anchor(s)", certs.len())?;
        }
        CertgenCommand::Config {
            on_demand,
            add_domains,
            key_type,
            days,
        } => {
            let mut cfg = store.config().clone();
            if let Some(v) = on_demand {
                cfg.on_demand = v == "yes";
            }
            for d in add_domains {
                let d = d.to_ascii_lowercase();
                if !cfg.domains.contains(&d) {
                    cfg.domains.push(d);
                }
            }
            cfg.key_type = key_type.unwrap_or(cfg.key_type);
            cfg.days = days.unwrap_or(cfg.days);
            store.set_config(&cfg)?;
            o.data().write_all(cfg.render().as_bytes())?;
        }
    }
    Ok(())
}

fn p12_pass(args: &P12PassArgs) -> Result<String, CertgenError> {
    let src = pass_source(&args.p12_pass_file, &args.p12_pass_env)
        .ok_or_else(|| CertgenError::Refused("give --p12-pass-file or --p12-pass-env".into()))?;
    Ok(src.read()?)
}

fn read_key_file(path: &Path) -> Result<PKey<openssl::pkey::Private>, CertgenError> {
    let pem = read_file(path)?;
    // A callback that supplies nothing, so OpenSSL never prompts on a terminal.
    PKey::private_key_from_pem_callback(&pem, |_| Ok(0)).map_err(|_| {
        CertgenError::Refused(format!(
            "{}: not an unencrypted PEM private key (import encrypted keys as PKCS#12)",
            path.display()
        ))
    })
}

fn name_text(name: &openssl::x509::X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let k = e.object().nid().short_name().unwrap_or("?");
            let v = e.data().to_string().unwrap_or_default();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn sans(cert: &X509) -> Vec<String> {
    cert.subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| {
                    n.uri()
                        .map(|u| format!("URI:{u}"))
                        .or_else(|| n.dnsname().map(|d| format!("DNS:{d}")))
                        .or_else(|| n.email().map(|e| format!("email:{e}")))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Prints one certificate: text lines, or one JSON object on one line.
fn show(cert: &X509, kind: &str, json: bool, out: &mut dyn Write) -> Result<(), CertgenError> {
    let subject = name_text(cert.subject_name());
    let issuer = name_text(cert.issuer_name());
    let sans = sans(cert);
    let fp = x509::fingerprint(cert)?;
    let serial = x509::serial_hex(cert)?;
    let (nb, na) = (cert.not_before().to_string(), cert.not_after().to_string());
    if json {
        let v = serde_json::json!({
            "kind": kind, "subject": subject, "issuer": issuer, "san": sans,
            "serial": serial, "not_before": nb, "not_after": na,
            "current": x509::is_current(cert), "sha256": fp,
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(
            out,
            "{kind}\n  subject:    {subject}\n  issuer:     {issuer}"
        )?;
        writeln!(out, "  san:        {}", sans.join(", "))?;
        writeln!(
            out,
            "  serial:     {serial}\n  not before: {nb}\n  not after:  {na}"
        )?;
        writeln!(out, "  sha256:     {fp}")?;
    }
    Ok(())
}

fn list(store: &Store, json: bool, out: &mut dyn Write) -> Result<(), CertgenError> {
    for aor in store.identities()? {
        if let Some(c) = store.recipient_cert(&aor) {
            show(&c, "identity", json, out)?;
        }
    }
    for (_, c) in store.learned()? {
        show(&c, "learned", json, out)?;
    }
    if let Some(ca) = store.issuing_ca()? {
        show(&ca.cert, "issuing-ca", json, out)?;
    }
    for a in store.trust_anchors() {
        show(&a, "anchor", json, out)?;
    }
    for (g, m) in store.groups().entries() {
        if json {
            let v = serde_json::json!({"kind": "group", "group": format!("sip:{g}"), "member": format!("sip:{}", m.as_str())});
            writeln!(out, "{v}")?;
        } else {
            writeln!(out, "group sip:{g} <- sip:{}", m.as_str())?;
        }
    }
    Ok(())
}
