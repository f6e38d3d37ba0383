//! The encrypt filter: S/MIME confidentiality done by the sending proxy.
//!
//! The envelope is made for the AOR the message goes to (a request's To, else its
//! Request-URI; a response's From), with the certificate the store holds or has learned, or one
//! given on the command line, plus any extra recipients. A message that cannot be encrypted is
//! refused by default: passing it on in plaintext would be a downgrade an attacker can trigger.

use crate::clock::now_unix;
use crate::crypto::capabilities::strongest_common;
use crate::crypto::CmsEncryptOptions;
use crate::filter::{FailMode, Failure, Filter, MessageContext, Processed, Verdict};
use crate::message::{HeaderKind, Message};
use crate::smime::build::{self, EncryptSpec, Transfer};
use crate::smime::inner::InnerPolicy;
use crate::store::watch::WatchedStore;
use crate::store::{Lookup, PeerSettings};
use crate::tool::cache::TtlCache;
use crate::tool::select::Selection;
use crate::uri::{Aor, Uri};
use openssl::x509::X509;
use std::time::Duration;

/// What goes into the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EncryptForm {
    /// The body with its Content-Type (e.g. the SDP).
    Body,
    /// A copy of the whole message as message/sip (RFC 3261 §23.4.3).
    Sip,
}

impl EncryptForm {
    pub fn name(self) -> &'static str {
        match self {
            EncryptForm::Body => "body",
            EncryptForm::Sip => "sip",
        }
    }
}

/// Headers that routing and dialog matching need, so they always stay outside (RFC 3261
/// §23.4.1.2), and the ones that describe the outer body.
pub const ALWAYS_OUTSIDE: [&str; 12] = [
    "To",
    "From",
    "Call-ID",
    "CSeq",
    "Contact",
    "Via",
    "Route",
    "Record-Route",
    "Max-Forwards",
    "Content-Type",
    "Content-Length",
    "Content-Disposition",
];

/// Refuses a `--hide` header that must stay outside.
pub fn check_hide(name: &str) -> Result<(), String> {
    let kind = HeaderKind::from_name(name.as_bytes());
    let outside = ALWAYS_OUTSIDE.iter().any(|o| {
        o.eq_ignore_ascii_case(name)
            || (kind != HeaderKind::Other && HeaderKind::from_name(o.as_bytes()) == kind)
    });
    if outside {
        return Err(format!(
            "{name} cannot be hidden: it must stay outside for routing and dialogs (RFC 3261 §23.4.1.2)"
        ));
    }
    Ok(())
}

/// Everything the encrypt filter is told.
#[derive(Debug, Clone)]
pub struct EncryptOptions {
    pub form: EncryptForm,
    pub selection: Selection,
    /// The cipher and RSA padding when neither the user nor the recipient says otherwise.
    pub options: CmsEncryptOptions,
    /// The user chose the cipher (--cipher): the recipient's settings and advertised ciphers
    /// do not change it.
    pub cipher_chosen: bool,
    /// The user chose the RSA padding (--rsa-padding).
    pub padding_chosen: bool,
    pub transfer: Transfer,
    /// Used instead of the store's certificate for the message's recipient.
    pub recipient_cert: Option<X509>,
    /// Extra recipients of every envelope (e.g. the recipient's validating proxy).
    pub also_to: Vec<X509>,
    /// End-to-end headers that move inside (sip form).
    pub hide: Vec<String>,
    pub inner: InnerPolicy,
}

/// The encrypt filter over a store.
pub struct Encrypt {
    /// Looked at again while running: a certificate replaced in the store is used at once.
    store: WatchedStore,
    config: EncryptOptions,
    /// `config.inner` with sipsec's own headers first.
    inner: InnerPolicy,
    certs: TtlCache<Aor, X509>,
    peers: TtlCache<Aor, PeerSettings>,
}

/// How long a recipient certificate read from the store is reused.
pub const CERT_TTL: Duration = Duration::from_secs(60);

fn is_envelope(message: &Message) -> bool {
    message.content_type().ok().flatten().is_some_and(|ct| {
        (ct.is("application", "pkcs7-mime") || ct.is("application", "x-pkcs7-mime"))
            && ct.param("smime-type").is_some_and(|t| {
                t.eq_ignore_ascii_case(b"enveloped-data")
                    || t.eq_ignore_ascii_case(b"auth-enveloped-data")
                    || t.eq_ignore_ascii_case(b"authenveloped-data")
            })
    })
}

impl Encrypt {
    pub fn new(lookup: impl Lookup + 'static, config: EncryptOptions) -> Encrypt {
        Encrypt {
            store: WatchedStore::new(lookup),
            inner: super::inner_policy(&config.inner),
            config,
            certs: TtlCache::new(CERT_TTL),
            peers: TtlCache::new(CERT_TTL),
        }
    }

    /// The AORs the message goes to, in the order they are tried.
    fn destinations(message: &Message) -> Vec<Aor> {
        let mut out = Vec::with_capacity(2);
        if message.is_request() {
            out.extend(message.to().ok().and_then(|a| a.uri().aor()));
            let ruri = message
                .request_uri()
                .and_then(|u| Uri::parse(u).ok()?.aor());
            out.extend(ruri.filter(|a| !out.contains(a)));
        } else {
            out.extend(message.from().ok().and_then(|a| a.uri().aor()));
        }
        out
    }

    /// The recipient's name for the record, its AOR (none for --recipient-cert), and its
    /// certificate.
    fn recipient(&self, message: &Message) -> Result<(String, Option<Aor>, X509), String> {
        if let Some(cert) = &self.config.recipient_cert {
            return Ok(("--recipient-cert".into(), None, cert.clone()));
        }
        let destinations = Self::destinations(message);
        for aor in &destinations {
            let found = self
                .certs
                .get_or_try(aor, || self.store.get().recipient_cert(aor).ok_or(()));
            if let Ok(cert) = found {
                return Ok((aor.to_string(), Some(aor.clone()), cert));
            }
        }
        if destinations.is_empty() {
            return Err("the message names no recipient address-of-record".into());
        }
        let names: Vec<String> = destinations.iter().map(ToString::to_string).collect();
        Err(format!(
            "no certificate for {} in the store (own, group or learned); not sent in plaintext",
            names.join(" or ")
        ))
    }

    /// The cipher and padding for a recipient, and where the cipher came from: --cipher, then
    /// the cipher pinned for the peer in the store, then the strongest both sides support of
    /// what its signatures advertised, else the default.
    fn options_for(&self, aor: Option<&Aor>) -> (CmsEncryptOptions, &'static str) {
        let mut options = self.config.options.clone();
        let peer = match aor {
            Some(aor) => self
                .peers
                .get_or_try(aor, || Ok::<_, ()>(self.store.get().peer_settings(aor)))
                .unwrap_or_default(),
            None => PeerSettings::default(),
        };
        if !self.config.padding_chosen {
            options.rsa_padding = peer.rsa_padding.unwrap_or(options.rsa_padding);
        }
        let advertised = peer.capabilities.as_deref().and_then(strongest_common);
        let (cipher, from) = match (self.config.cipher_chosen, peer.cipher, advertised) {
            (true, _, _) => (None, "option"),
            (false, Some(c), _) => (Some(c), "peer setting"),
            (false, None, Some(c)) => (Some(c), "peer capabilities"),
            (false, None, None) => (None, "default"),
        };
        if let Some(c) = cipher {
            options.cipher = c;
        }
        (options, from)
    }

    fn encrypt(&self, message: &Message) -> Result<Processed, Failure> {
        if self.store.changed() {
            self.certs.clear();
        }
        let mut verdict = Verdict::new();
        verdict.set("form", self.config.form.name());
        let fail =
            |reason: String, verdict: &Verdict| Failure::with_verdict(reason, verdict.clone());
        let (recipient, aor, cert) = self.recipient(message).map_err(|e| fail(e, &verdict))?;
        let (options, cipher_from) = self.options_for(aor.as_ref());
        let mut recipients = vec![cert];
        recipients.extend(self.config.also_to.iter().cloned());
        let mut work = message.clone();
        let date_added =
            build::ensure_date(&mut work, now_unix()).map_err(|e| fail(e.to_string(), &verdict))?;
        let spec = EncryptSpec {
            recipients: &recipients,
            options: options.clone(),
            transfer: self.config.transfer,
        };
        let out = match self.config.form {
            EncryptForm::Body => build::encrypt_body(&work, &spec),
            EncryptForm::Sip => build::encrypt_sip(&work, &self.inner, &self.config.hide, &spec),
        }
        .map_err(|e| fail(format!("not encrypted: {e}"), &verdict))?;
        verdict
            .set("encrypted", true)
            .set("recipient", recipient)
            .set("recipients", recipients.len())
            .set("algorithm", options.cipher.name())
            .set("cipher_from", cipher_from)
            .set("smime_type", build::envelope_smime_type(&options))
            .set("rsa_padding", options.rsa_padding.name())
            .set("transfer_encoding", self.config.transfer.as_str())
            .set("date_added", date_added);
        if self.config.form == EncryptForm::Sip {
            verdict.set("hidden", self.config.hide.clone());
        }
        Ok(Processed::changed(out, verdict))
    }
}

impl Filter for Encrypt {
    fn name(&self) -> &'static str {
        "encrypt"
    }

    /// A silent fall-back to plaintext is a downgrade an attacker can trigger.
    fn default_fail_mode(&self) -> FailMode {
        FailMode::Closed
    }

    fn process(&self, message: &Message, _context: &MessageContext) -> Result<Processed, Failure> {
        let mut verdict = Verdict::new();
        if !self.config.selection.matches(message) {
            verdict.set("selected", false);
            return Ok(Processed::unchanged(verdict));
        }
        if is_envelope(message) {
            verdict.set("already_encrypted", true);
            return Ok(Processed::unchanged(verdict));
        }
        self.encrypt(message)
    }
}
