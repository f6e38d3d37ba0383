//! The sign filter: S/MIME signatures made by the proxy on behalf of its members.
//!
//! Whose identity: a request's From or a response's To names the signer, and the store's group
//! map turns a member into its group, so every agent's 200 OK is signed as the call centre. That
//! claim is only believed when someone vouches for it: an attribution (an authenticated
//! member, carried by a MAC-verified control header), or, in a shell pipeline, the user's
//! explicit `trust_from_header`. Without either the message is not signed.

use crate::clock::now_unix;
use crate::crypto::{self, CmsContentType, CmsSignOptions, DigestAlgorithm, Signer, VerifyContext};
use crate::filter::{FailMode, Failure, Filter, MessageContext, Processed, Verdict};
use crate::message::{unfold, HeaderKind, Message};
use crate::mime::{Multipart, Part};
use crate::smime::build::{self, Entity, Handling, SignSpec, Transfer, WrapError};
use crate::smime::inner::InnerPolicy;
use crate::store::watch::WatchedStore;
use crate::store::{Lookup, StoreError};
use crate::tool::cache::TtlCache;
use crate::tool::select::Selection;
use crate::uri::Aor;
use std::sync::Arc;
use std::time::Duration;

/// The Content-Type parameter by which a user agent asks the proxy to replace its signature
/// with the group's (the paper's anonymity option).
pub const SUBSTITUTE_PARAM: &str = "substitute_by_proxy_cert";

pub use crate::smime::Form;

/// Everything the sign filter is told.
#[derive(Debug, Clone)]
pub struct SignOptions {
    pub form: Form,
    pub selection: Selection,
    pub digest: DigestAlgorithm,
    pub include_certs: bool,
    /// Also advertise 3DES among the ciphers we decrypt (SMIMECapabilities).
    pub legacy_ciphers: bool,
    pub handling: Handling,
    pub transfer: Transfer,
    /// The pipeline's input is vouched for: its From (requests) or To (responses) names the
    /// member without attribution.
    pub trust_from_header: bool,
    pub inner: InnerPolicy,
}

/// What signing usually adds to a message (a Date, the wrapping headers and delimiters, a
/// signature with its certificates): room reserved up front, so the edits that follow do not
/// each copy the message into a larger buffer.
const SIGNED_ROOM: usize = 4096;

/// How long a loaded signing identity is reused before the store is read again.
pub const IDENTITY_TTL: Duration = Duration::from_secs(60);

/// The sign filter over a store.
pub struct Sign {
    /// Looked at again while running: a member removed from its group must stop being signed
    /// for.
    store: WatchedStore,
    config: SignOptions,
    /// `config.inner` with sipsec's own headers first.
    inner: InnerPolicy,
    cache: TtlCache<Aor, Arc<Signer>>,
}

/// How a message is already signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UaSignature {
    MultipartSigned,
    Pkcs7Signed,
    /// An AIB (a multipart/signed part) inside multipart/mixed.
    AibMixed,
}

fn failure(reason: impl Into<String>, verdict: &Verdict) -> Failure {
    Failure::with_verdict(reason, verdict.clone())
}

fn aor_of(message: &Message, kind: HeaderKind) -> Result<Aor, String> {
    let address = match kind {
        HeaderKind::From => message.from(),
        _ => message.to(),
    }
    .map_err(|e| format!("cannot read the signer's header: {e}"))?;
    address
        .uri()
        .aor()
        .ok_or_else(|| "the signer's URI has no address-of-record".to_string())
}

impl Sign {
    pub fn new(lookup: impl Lookup + 'static, config: SignOptions) -> Sign {
        Sign {
            store: WatchedStore::new(lookup),
            inner: super::inner_policy(&config.inner),
            config,
            cache: TtlCache::new(IDENTITY_TTL),
        }
    }

    /// Forgets the identities loaded when the store changed (groups, settings, identities).
    fn look_at_store(&self) {
        if self.store.changed() {
            self.cache.clear();
        }
    }

    /// The signing identity of `target` (a group, or a member without one): cached, else from
    /// the store, else made on demand when the store allows it for the attributed member.
    fn signer(&self, target: &Aor, attribution: Option<&Aor>) -> Result<Arc<Signer>, StoreError> {
        self.cache.get_or_try(target, || {
            let lookup = self.store.get();
            let id = match lookup.identity(target)? {
                Some(id) => id,
                None => lookup.ensure_identity(target, attribution)?,
            };
            Ok(Arc::new(Signer {
                cert: id.cert,
                key: id.key,
                chain: id.chain,
            }))
        })
    }

    fn ua_signature(message: &Message) -> Result<Option<(UaSignature, bool)>, String> {
        let ct = match message.content_type() {
            Ok(Some(ct)) => ct,
            Ok(None) => return Ok(None),
            Err(e) => return Err(format!("Content-Type does not parse: {e}")),
        };
        let substitute = ct.params().get(SUBSTITUTE_PARAM).is_some();
        let kind = if ct.is("multipart", "signed") {
            Some(UaSignature::MultipartSigned)
        } else if ct.is("application", "pkcs7-mime") || ct.is("application", "x-pkcs7-mime") {
            let signed = match ct.param("smime-type") {
                Some(t) => t.eq_ignore_ascii_case(b"signed-data"),
                None => crypto::content_type(message.body())
                    .is_ok_and(|t| t == CmsContentType::SignedData),
            };
            signed.then_some(UaSignature::Pkcs7Signed)
        } else if ct.is("multipart", "mixed") {
            Multipart::of_message(message)
                .ok()
                .filter(|mp| mp.parts().iter().any(is_signed_part))
                .map(|_| UaSignature::AibMixed)
        } else {
            None
        };
        Ok(kind.map(|k| (k, substitute)))
    }

    /// The message with the user agent's signature taken off: the signed content becomes the
    /// body again, with its own describing headers.
    fn unwrap_ua(&self, message: &Message, kind: UaSignature) -> Result<Message, String> {
        let entity = match kind {
            UaSignature::MultipartSigned => {
                let mp = Multipart::of_message(message).map_err(|e| e.to_string())?;
                let (Some(content), Some(sig)) = (mp.parts().first(), mp.parts().get(1)) else {
                    return Err("multipart/signed without two parts".into());
                };
                self.check_ua_signature(sig.body(), Some(content.bytes()))?;
                Entity::of_part(content)
            }
            UaSignature::Pkcs7Signed => {
                let content = self
                    .check_ua_signature(message.body(), None)?
                    .ok_or("signed-data without content")?;
                Entity::of_part(&Part::parse(&content).map_err(|e| e.to_string())?)
            }
            UaSignature::AibMixed => {
                let mp = Multipart::of_message(message).map_err(|e| e.to_string())?;
                let rest: Vec<&Part<'_>> =
                    mp.parts().iter().filter(|p| !is_signed_part(p)).collect();
                match rest.as_slice() {
                    [] => Entity {
                        headers: Vec::new(),
                        body: Vec::new(),
                    },
                    [one] => Entity::of_part(one),
                    _ => return Err("an AIB beside more than one body part".into()),
                }
            }
        };
        let mut out = message.clone();
        let headers: Vec<(&str, &[u8])> = entity
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        build::replace_body(&mut out, &headers, &entity.body).map_err(|e| e.to_string())?;
        Ok(out)
    }

    /// The user agent's signature must be intact before the proxy vouches for what it covers.
    fn check_ua_signature(
        &self,
        der: &[u8],
        detached: Option<&[u8]>,
    ) -> Result<Option<Vec<u8>>, String> {
        let verify = |ctx: &VerifyContext| crypto::verify(der, detached, ctx);
        let verified = match verify(&VerifyContext::default()) {
            Err(crypto::CmsError::SignerNotFound) => verify(&VerifyContext {
                extra_certs: self.store.get().all_certs(),
            }),
            other => other,
        };
        verified
            .map(|v| v.content)
            .map_err(|e| format!("the user agent's signature cannot be replaced: {e}"))
    }

    /// Who signs: returns (member, claimed AoR, identity to sign as).
    fn resolve(
        &self,
        message: &Message,
        context: &MessageContext,
    ) -> Result<(Aor, Aor, Aor), String> {
        let header = if message.is_request() {
            HeaderKind::From
        } else {
            HeaderKind::To
        };
        let claimed = aor_of(message, header)?;
        let member = match (&context.attribution, self.config.trust_from_header) {
            (Some(member), _) => member.clone(),
            (None, true) => claimed.clone(),
            (None, false) => {
                return Err(format!(
                    "not signed: the message is not attributed to a member, and its {} \
                     ({claimed}) alone proves nothing; in a pipeline whose input you vouch \
                     for, pass --trust-from-header",
                    header.name().unwrap_or("header")
                ))
            }
        };
        let target = self
            .store
            .get()
            .groups()
            .group_of(&member)
            .cloned()
            .unwrap_or_else(|| member.clone());
        if claimed != member && claimed != target {
            return Err(format!(
                "not signed: the {} names {claimed}, but the message comes from {member}, who \
                 signs as {target}",
                header.name().unwrap_or("header")
            ));
        }
        Ok((member, claimed, target))
    }

    fn sign(&self, message: &Message, context: &MessageContext) -> Result<Processed, Failure> {
        self.look_at_store();
        let mut verdict = Verdict::new();
        verdict.set("form", self.config.form.name());
        let mut work = match Self::ua_signature(message).map_err(|e| failure(e, &verdict))? {
            None => message.clone_with_room(SIGNED_ROOM),
            Some((_, false)) => {
                verdict.set("signed", false);
                verdict.set("ua_signature_kept", true);
                return Ok(Processed::unchanged(verdict));
            }
            Some((kind, true)) => {
                verdict.set("substituted_ua_signature", true);
                self.unwrap_ua(message, kind)
                    .map_err(|e| failure(e, &verdict))?
            }
        };
        let (member, claimed, target) = self
            .resolve(&work, context)
            .map_err(|e| failure(e, &verdict))?;
        verdict.set("member", member.to_string());
        let signer = self
            .signer(&target, context.attribution.as_ref())
            .map_err(|e| failure(format!("no signing identity for {target}: {e}"), &verdict))?;
        let rewrite = work.is_request() && claimed == member && target != member;
        if rewrite {
            rewrite_from(&mut work, &target).map_err(|e| failure(e, &verdict))?;
        }
        verdict.set("from_rewritten", rewrite);
        let date_added = build::ensure_date(&mut work, now_unix())
            .map_err(|e| failure(e.to_string(), &verdict))?;
        verdict.set("date_added", date_added);
        let spec = SignSpec {
            signer: &signer,
            options: CmsSignOptions {
                digest: self.config.digest.clone(),
                detached: true,
                include_certs: self.config.include_certs,
                legacy_ciphers: self.config.legacy_ciphers,
            },
            handling: self.config.handling,
            transfer: self.config.transfer,
        };
        let signed = match self.config.form {
            Form::Body => build::sign_body(work, &spec),
            Form::Sip => build::sign_sip(work, &self.inner, &spec),
            Form::Aib => build::sign_aib(work, &target, &spec),
            Form::Cms => build::sign_cms(work, &spec),
        }
        .map_err(|e: WrapError| failure(format!("not signed: {e}"), &verdict))?;
        verdict
            .set("signed", true)
            .set("signed_as", target.to_string())
            .set("digest", self.config.digest.micalg())
            .set("certs_included", self.config.include_certs)
            .set("handling", self.config.handling.as_str())
            .set("transfer_encoding", self.config.transfer.as_str());
        Ok(Processed::changed(signed, verdict))
    }
}

fn is_signed_part(part: &Part<'_>) -> bool {
    part.content_type().is_some_and(|ct| {
        crate::header::MediaType::parse(&unfold(ct)).is_ok_and(|t| t.is("multipart", "signed"))
    })
}

/// Replaces the From URI with the group's, keeping the tag and the other header parameters.
/// The agent's display name is dropped: the group speaks, and the agent stays anonymous.
fn rewrite_from(message: &mut Message, group: &Aor) -> Result<(), String> {
    let from = message.from().map_err(|e| e.to_string())?;
    let scheme = match from.uri().scheme_str() {
        s if s.eq_ignore_ascii_case("sips") => "sips",
        _ => "sip",
    };
    let mut value = format!("<{scheme}:{group}>").into_bytes();
    value.extend_from_slice(from.params().as_bytes());
    message
        .set_header(HeaderKind::From, &value)
        .map_err(|e| e.to_string())
}

impl Filter for Sign {
    fn name(&self) -> &'static str {
        "sign"
    }

    /// The paper's behaviour: a message that cannot be signed still goes through.
    fn default_fail_mode(&self) -> FailMode {
        FailMode::Open
    }

    fn process(&self, message: &Message, context: &MessageContext) -> Result<Processed, Failure> {
        if !self.config.selection.matches(message) {
            let mut verdict = Verdict::new();
            verdict.set("selected", false);
            return Ok(Processed::unchanged(verdict));
        }
        self.sign(message, context)
    }
}
