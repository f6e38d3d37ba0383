//! `sipsec-encrypt`: the command line of the encrypt filter.

use crate::cli::Exit;
use crate::cli::{
    open_store, run_filter, setup_failed, CommonArgs, FilterArgs, KeyPassArgs, StoreArgs,
};
use crate::crypto::{CmsEncryptOptions, ContentCipher, RsaPadding};
use crate::smime::build::Transfer;
use crate::smime::inner::InnerPolicy;
use crate::store::Store;
use crate::tool::encrypt::{check_hide, Encrypt, EncryptForm, EncryptOptions};
use crate::tool::select::Selection;
use crate::uri::Aor;
use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use openssl::x509::X509;
use std::path::{Path, PathBuf};

const AFTER_HELP: &str = "\
Recipients. The envelope is made for the address-of-record the message goes to: a request's \
To (else its Request-URI), a response's From, with the certificate the store holds for it (an \
own identity or its group's, or one learned by sipsec-verify --learn-certs), or the one given \
with --recipient-cert. --also-to adds recipients to every envelope (e.g. the recipient's \
validating proxy). Certificates read from the store are reused for a minute, and forgotten as \
soon as the store changes (looked at once a second, at once on SIGHUP).

Forms (--form):
  body  (default) the body with its Content-Type (e.g. the SDP, whose a=crypto lines carry \
media keys) in application/pkcs7-mime enveloped-data; the headers stay readable.
  sip   RFC 3261 §23.4.3: a copy of the whole message (credentials, sipsec's own headers and \
--internal headers removed) as message/sip in the envelope. Headers given with --hide move \
inside (removed outside); To, From, Call-ID, CSeq, Contact, Via, Route, Record-Route and \
Max-Forwards always stay outside.

Algorithms: --cipher aes128 (AES-128-CBC, RFC 3853's MUST and the interoperable default), \
aes256, aes128gcm (AuthEnvelopedData, smime-type=auth-enveloped-data, RFC 8591), des3 (only for \
old peers). RSA keys: OAEP by default, --rsa-padding pkcs1 for older implementations (such as \
the one behind RFC 6216); EC certificates use ECDH. Without --cipher, a recipient whose \
signatures advertised their ciphers (SMIMECapabilities, learned by sipsec-verify --learn-certs) \
gets the strongest both sides support (AES-256-GCM first). Peers that can do neither RSA-OAEP \
nor AES-GCM exist (the other SIP S/MIME stack in use): reach them with --rsa-padding pkcs1 \
--cipher aes128, or remember it for the peer with `sipsec-certgen peer AOR --cipher aes128 \
--rsa-padding pkcs1`, which this tool then follows when the options are not given.

To compose with signing: `sipsec-sign | sipsec-encrypt` signs then encrypts (RFC 8591); \
`sipsec-encrypt | sipsec-sign` encrypts then signs (RFC 3261 §23.4.3, RFC 3893 §8). A message \
already holding an envelope is passed on unchanged.

Default fail mode: CLOSED. A message for a recipient without a certificate, or one that cannot \
be encrypted, is withheld and the refusal recorded: a silent fall-back to plaintext is a \
downgrade an attacker can trigger, and it exposes SDP keys. --fail-open passes it on \
unchanged with a warning, as the proxy-based security design of Ramos et al. does.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CipherArg {
    Aes128,
    Aes256,
    Aes128gcm,
    Des3,
}

impl CipherArg {
    pub fn cipher(self) -> ContentCipher {
        match self {
            CipherArg::Aes128 => ContentCipher::Aes128Cbc,
            CipherArg::Aes256 => ContentCipher::Aes256Cbc,
            CipherArg::Aes128gcm => ContentCipher::Aes128Gcm,
            CipherArg::Des3 => ContentCipher::DesEde3Cbc,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PaddingArg {
    Oaep,
    Pkcs1,
}

impl PaddingArg {
    pub fn padding(self) -> RsaPadding {
        match self {
            PaddingArg::Oaep => RsaPadding::Oaep,
            PaddingArg::Pkcs1 => RsaPadding::Pkcs1v15,
        }
    }
}

/// Encrypt SIP messages with S/MIME for their recipients.
#[derive(Debug, Parser)]
#[command(
    name = "sipsec-encrypt",
    version,
    after_long_help = format!("{AFTER_HELP}\n\n{}", crate::cli::EXIT_CODES_HELP)
)]
pub struct EncryptCli {
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub key_pass: KeyPassArgs,
    /// What goes into the envelope (see below).
    #[arg(long, value_enum, default_value_t = EncryptForm::Body)]
    pub form: EncryptForm,
    /// Which messages to encrypt (the grammar of sipsec-sign --select). Default: every message
    /// with a body.
    #[arg(long, value_name = "LIST", default_value = "body")]
    pub select: Selection,
    /// Content-encryption algorithm [default: the recipient's setting in the store, else the
    /// strongest its signatures advertised, else aes128].
    #[arg(long, value_enum)]
    pub cipher: Option<CipherArg>,
    /// RSA key transport padding [default: the recipient's setting in the store, else oaep].
    #[arg(long, value_enum)]
    pub rsa_padding: Option<PaddingArg>,
    /// Encrypt every message to this certificate (PEM) instead of looking up its recipient.
    #[arg(long, value_name = "FILE")]
    pub recipient_cert: Option<PathBuf>,
    /// Also encrypt to this AOR (certificate from the store) or certificate file (repeatable).
    #[arg(long, value_name = "AOR|FILE")]
    pub also_to: Vec<String>,
    /// With --form sip, move this end-to-end header inside (repeatable).
    #[arg(long, value_name = "HEADER")]
    pub hide: Vec<String>,
    /// Base64 Content-Transfer-Encoding instead of binary.
    #[arg(long)]
    pub base64: bool,
    /// A header private to this deployment, never copied into an envelope (repeatable).
    #[arg(long, value_name = "HEADER")]
    pub internal: Vec<String>,
}

fn read_cert(path: &Path) -> anyhow::Result<X509> {
    let pem = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    X509::from_pem(&pem)
        .or_else(|_| X509::from_der(&pem))
        .with_context(|| format!("{}: not a PEM or DER certificate", path.display()))
}

fn extra_recipient(store: &Store, arg: &str) -> anyhow::Result<X509> {
    let path = Path::new(arg);
    if path.exists() {
        return read_cert(path);
    }
    let aor =
        Aor::parse(arg).with_context(|| format!("--also-to {arg}: neither a file nor an AOR"))?;
    store
        .recipient_cert(&aor)
        .with_context(|| format!("--also-to {arg}: no certificate for {aor} in the store"))
}

fn config(cli: &EncryptCli, store: &Store) -> anyhow::Result<EncryptOptions> {
    for name in &cli.hide {
        check_hide(name).map_err(anyhow::Error::msg)?;
    }
    if !cli.hide.is_empty() && cli.form != EncryptForm::Sip {
        bail!("--hide needs --form sip (only a message/sip copy can carry headers inside)");
    }
    Ok(EncryptOptions {
        form: cli.form,
        selection: cli.select.clone(),
        options: CmsEncryptOptions {
            cipher: cli.cipher.unwrap_or(CipherArg::Aes128).cipher(),
            rsa_padding: cli.rsa_padding.unwrap_or(PaddingArg::Oaep).padding(),
        },
        cipher_chosen: cli.cipher.is_some(),
        padding_chosen: cli.rsa_padding.is_some(),
        transfer: if cli.base64 {
            Transfer::Base64
        } else {
            Transfer::Binary
        },
        recipient_cert: cli.recipient_cert.as_deref().map(read_cert).transpose()?,
        also_to: cli
            .also_to
            .iter()
            .map(|a| extra_recipient(store, a))
            .collect::<anyhow::Result<_>>()?,
        hide: cli.hide.clone(),
        inner: InnerPolicy {
            internal: cli.internal.clone(),
        },
    })
}

/// The whole `main` of sipsec-encrypt.
pub fn run(cli: &EncryptCli) -> Exit {
    match tool(cli) {
        Ok(encrypt) => {
            crate::store::watch::look_again_on_sighup();
            run_filter(&encrypt, &cli.filter, &cli.common)
        }
        Err(e) => setup_failed("encrypt", format_args!("{e:#}")),
    }
}

/// The tool the command line describes (also run in process by a relay's chain).
pub fn tool(cli: &EncryptCli) -> anyhow::Result<Encrypt> {
    let store = open_store(&cli.store.store, &cli.key_pass)?;
    let config = config(cli, &store)?;
    Ok(Encrypt::new(store, config))
}
