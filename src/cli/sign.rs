//! `sipsec-sign`: the command line of the sign filter (man page and completions come from here).

use crate::cli::Exit;
use crate::cli::{
    open_store, run_filter, setup_failed, CommonArgs, FilterArgs, KeyPassArgs, StoreArgs,
};
use crate::crypto::DigestAlgorithm;
use crate::filter::Filter;
use crate::smime::build::{Handling, Transfer};
use crate::smime::inner::InnerPolicy;
use crate::store::x509;
use crate::tool::select::Selection;
use crate::tool::sign::{Form, Sign, SignOptions};
use crate::tool::stir::{Chain, StirSign, StirSignOptions};
use clap::{Parser, ValueEnum};

const AFTER_HELP: &str = "\
Whose signature. A request is signed as its From, a response as its To, mapped through the \
store's group map: an agent (a member of sip:support@callcentre.example) signs as the group. \
In a relay the message must be attributed to a member by the relay's control header; a From \
or To header alone proves nothing and is not signed. A shell pipeline has no attribution: with \
--trust-from-header YOU vouch that the input's From/To headers are authentic (a pipeline trusts \
its input), and sipsec-sign signs as they say. For a request an agent starts, the From URI is \
replaced by the group URI (tag and header parameters kept, display name dropped so the agent \
stays anonymous), so that the signature and the From agree. A running sign looks at its store \
once a second and at once on SIGHUP: a member removed from its group is no longer signed for \
from the next message on. Certificates missing from the store \
are made on demand only when the store's config allows it and only for an attributed member.

Forms (--form), and whether a validating proxy's sipsec-verify can mark the message \
`Subject: validated`: the mark needs a signature over the From (request) or To (response), \
the Call-ID, the CSeq, a Date, and the body the terminal receives.
  sip   (default) RFC 3261 §23.4: a complete copy of the message (credentials, sipsec's own \
headers and --internal headers removed) as message/sip in multipart/signed. Covers every \
header and the body: the only form that can earn the mark whatever the message holds, hence \
the default. The SDP sits inside; a validating proxy gives it to the terminal with \
`sipsec-verify --unwrap`.
  aib   RFC 3893 Authenticated Identity Body: a message/sipfrag with From, To, Contact, Date, \
Call-ID and CSeq (responses: the responder as From, no To), signed, beside the original body \
in multipart/mixed. Identity only: the body (e.g. the SDP) is NOT covered, so a message with a \
body is never marked (a rewritten c= line would reach the terminal); it gets its verdict.
  body  RFC 3261 §23.2: the body in multipart/signed with a detached signature. Covers the \
body and nothing of the headers: a signed body can be moved into another message, so it is \
never marked. The SDP stays readable.
  cms   RFC 8591: application/pkcs7-mime signed-data holding the body. Covers the body only \
(never marked); the body is unreadable without S/MIME. Choose it for RFC 8591 peers (SIP \
MESSAGE).

--handling defaults to optional: in the call-centre case the caller's terminal may not \
understand S/MIME, and handling=required would make it reject the call with 415. Use \
required towards peers that do S/MIME (RFC 3261 §23.3), so that a stripped signature is noticed.

A message the user agent signed itself is left as it is, unless its Content-Type carries the \
parameter substitute_by_proxy_cert: then the user agent's signature is checked and replaced by \
the group's (anonymity). Messages not selected (--select) pass unchanged.

STIR (--identity, alone or with --form): initial requests get an Identity header (RFC 8224) \
with an ES256 PASSporT (RFC 8225, full form unless --compact) whose x5u is the STI \
certificate's URL (sipsec-certgen sti). orig is the first telephone number of \
P-Asserted-Identity, else From (tel: URIs, user=phone or numeric user parts); dest is To; iat \
is the Date (added when missing; a Date more than 60 s from now is refused). The certificate is \
that of the caller's group (or the caller's own), and must cover orig in its TNAuthList. SHAKEN \
attestation (RFC 8588): A only for a member the relay authenticated (attribution) in a group \
whose certificate lists the number itself; B for a known customer otherwise (attributed, or \
vouched for by --trust-from-header); C for other callers, who are signed only with the \
--sti-fallback certificate. A request that already carries an Identity and whose Request-URI \
differs from its To was forwarded by a member: the original Identity stays and a div PASSporT \
(RFC 8946) is added, signed with the forwarding member's certificate, which must cover the To.

Default fail mode: OPEN, as in the proxy-based security design of Ramos et al. that sipsec \
follows (signing must never break a call): a message that cannot be signed passes unchanged \
with a warning; --fail-closed withholds it instead.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DigestArg {
    Sha256,
    Sha1,
    Sha384,
    Sha512,
}

impl DigestArg {
    pub fn algorithm(self) -> DigestAlgorithm {
        match self {
            DigestArg::Sha256 => DigestAlgorithm::Sha256,
            DigestArg::Sha1 => DigestAlgorithm::Sha1,
            DigestArg::Sha384 => DigestAlgorithm::Sha384,
            DigestArg::Sha512 => DigestAlgorithm::Sha512,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HandlingArg {
    Required,
    Optional,
}

impl HandlingArg {
    pub fn handling(self) -> Handling {
        match self {
            HandlingArg::Required => Handling::Required,
            HandlingArg::Optional => Handling::Optional,
        }
    }
}

/// Sign SIP messages with S/MIME on behalf of the store's members and groups.
#[derive(Debug, Parser)]
#[command(
    name = "sipsec-sign",
    version,
    after_long_help = format!("{AFTER_HELP}\n\n{}", crate::cli::EXIT_CODES_HELP)
)]
pub struct SignCli {
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub key_pass: KeyPassArgs,
    /// What the S/MIME signature covers (see below). Default sip; with --identity and no
    /// --form, only the Identity header is added.
    #[arg(long, value_enum)]
    pub form: Option<Form>,
    /// Which messages to sign: all, request, response, body, rfc3261, METHOD, STATUS or
    /// STATUS/METHOD (e.g. 2xx/INVITE), comma-separated. Default: RFC 3261 §23.2
    /// (dialog-initiating and out-of-dialog requests, 2xx responses to INVITE).
    #[arg(long, value_name = "LIST", default_value = "rfc3261")]
    pub select: Selection,
    /// Digest algorithm (micalg); SHA-256 is RFC 8591's MUST.
    #[arg(long, value_enum, default_value_t = DigestArg::Sha256)]
    pub digest: DigestArg,
    /// Leave the signer certificate and chain out of the CMS (RFC 3261 §23.2 wants them in;
    /// some implementations leave them out).
    #[arg(long)]
    pub no_certs: bool,
    /// Also advertise 3DES in the signature's SMIMECapabilities (only for peers that have
    /// nothing better; AES-GCM and AES-CBC are always advertised).
    #[arg(long)]
    pub legacy_ciphers: bool,
    /// The handling parameter of the signature's Content-Disposition.
    #[arg(long, value_enum, default_value_t = HandlingArg::Optional)]
    pub handling: HandlingArg,
    /// Base64 Content-Transfer-Encoding for the CMS instead of binary (RFC 3853).
    #[arg(long)]
    pub base64: bool,
    /// Vouch that the input's From (requests) and To (responses) are authentic, so
    /// unattributed messages are signed as they say (for shell pipelines).
    #[arg(long)]
    pub trust_from_header: bool,
    /// A header private to this deployment, never copied into a signed message (repeatable).
    #[arg(long, value_name = "HEADER")]
    pub internal: Vec<String>,
    /// Add a STIR Identity header (RFC 8224) to initial requests: a SHAKEN PASSporT signed with
    /// the STI certificate of the caller's group (see below), or a div PASSporT when a call
    /// that already carries one is forwarded.
    #[arg(long)]
    pub identity: bool,
    /// The Identity in compact form (a baseline PASSporT, without SHAKEN attestation, which
    /// only the full form carries).
    #[arg(long, requires = "identity")]
    pub compact: bool,
    /// The STI identity (a store AOR with an STI certificate) that signs calls from callers
    /// the store does not know, with attestation C.
    #[arg(long, value_name = "AOR", requires = "identity")]
    pub sti_fallback: Option<String>,
}

/// The whole `main` of sipsec-sign.
pub fn run(cli: &SignCli) -> Exit {
    match tool(cli) {
        Ok(sign) => {
            crate::store::watch::look_again_on_sighup();
            run_filter(&*sign, &cli.filter, &cli.common)
        }
        Err(e) => setup_failed("sign", e),
    }
}

/// The tool the command line describes (also run in process by a relay's chain): the S/MIME
/// signature, the Identity header, or the one then the other.
pub fn tool(cli: &SignCli) -> anyhow::Result<Box<dyn Filter + Send>> {
    // The group keys are read per message: a passphrase that cannot read them is a set-up
    // error, not a warning on every message passed on unsigned.
    let store = open_store(&cli.store.store, &cli.key_pass)
        .and_then(|s| s.check_passphrase().map(|()| s))?;
    let form = match (cli.form, cli.identity) {
        (Some(f), _) => Some(f),
        (None, true) => None,
        (None, false) => Some(Form::Sip),
    };
    let config = SignOptions {
        form: form.unwrap_or(Form::Sip),
        selection: cli.select.clone(),
        digest: cli.digest.algorithm(),
        include_certs: !cli.no_certs,
        legacy_ciphers: cli.legacy_ciphers,
        handling: cli.handling.handling(),
        transfer: if cli.base64 {
            Transfer::Base64
        } else {
            Transfer::Binary
        },
        trust_from_header: cli.trust_from_header,
        inner: InnerPolicy {
            internal: cli.internal.clone(),
        },
    };
    if !cli.identity {
        return Ok(Box::new(Sign::new(store, config)));
    }
    let fallback = cli
        .sti_fallback
        .as_deref()
        .map(x509::parse_aor)
        .transpose()?;
    let stir = StirSignOptions {
        compact: cli.compact,
        trust_from_header: cli.trust_from_header,
        fallback,
        freshness: 60,
    };
    match form {
        None => Ok(Box::new(StirSign::new(store, stir))),
        Some(_) => {
            // The S/MIME signature reads the store's keys per message, the Identity its STI
            // keys: each filter gets its own handle on the same store.
            let second = open_store(&cli.store.store, &cli.key_pass)?;
            Ok(Box::new(Chain {
                first: Sign::new(store, config),
                then: StirSign::new(second, stir),
            }))
        }
    }
}
