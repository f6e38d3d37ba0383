//! The STIR check of sipsec-verify: every Identity header of a request judged by the
//! verification service (RFC 8224 §6.2) against the STI anchors, its outcome added to the
//! Sipsec-Verdict header and the JSON, `--require attested=…` enforced with the RFC 8224
//! response named, and RFC 9410 `Reason: STIR` headers on a request forwarded despite a failed
//! Identity header. Apart from the S/MIME checks: it never makes or withholds the S/MIME mark.

use crate::filter::Verdict;
use crate::identity::fetch::FetchPolicy;
use crate::identity::report;
use crate::identity::{Attestation, StiPolicy, StiVerifier, StirVerdict, X5uResolver};
use crate::message::Message;
use openssl::x509::X509;
use std::path::PathBuf;

/// What `--sti-anchors` and its companions say.
#[derive(Debug, Clone)]
pub struct StirVerifyOptions {
    pub anchors: Vec<X509>,
    /// Where x5u chains are cached (and found when fetching is off).
    pub cache_dir: Option<PathBuf>,
    /// `Some` to fetch x5u URLs not in the cache.
    pub fetch: Option<FetchPolicy>,
    /// Seconds iat and Date may be from now.
    pub freshness: i64,
    /// Seconds a fetched chain is kept at most.
    pub cache_lifetime: i64,
    /// The least attestation a request must carry (`--require attested=…`).
    pub require: Option<Attestation>,
}

pub(super) struct StirCheck {
    verifier: StiVerifier<X5uResolver>,
    require: Option<Attestation>,
}

impl StirCheck {
    pub(super) fn new(o: &StirVerifyOptions) -> StirCheck {
        StirCheck {
            verifier: StiVerifier::new(
                StiPolicy {
                    anchors: o.anchors.clone(),
                    freshness: o.freshness,
                },
                X5uResolver::new(o.cache_dir.clone(), o.fetch.clone(), o.cache_lifetime),
            ),
            require: o.require,
        }
    }

    /// Judges a request's Identity headers as the request arrived (before `--unwrap`, which
    /// would show another body than the one signed); `None` for a response.
    pub(super) fn judge(&self, message: &Message, now: i64) -> Option<StirVerdict> {
        message
            .is_request()
            .then(|| self.verifier.verify(message, now))
    }

    /// Adds the verdict to the header value and the JSON; returns why the request misses the
    /// required attestation, if it does. A request let through gets a Reason per failed
    /// Identity header.
    pub(super) fn apply(
        &self,
        stir: &StirVerdict,
        out: &mut Message,
        header: &mut String,
        verdict: &mut Verdict,
    ) -> Option<String> {
        header.push(';');
        header.push_str(&report::header_tokens(stir));
        verdict.fields.insert("stir".into(), report::json(stir));
        if let Some(min) = self.require {
            if let Some((code, why)) = report::unmet_attestation(stir, min) {
                return Some(format!("STIR: attested={min} required: {code}: {why}"));
            }
        }
        if let Err(e) = report::replace_reasons(out, stir) {
            verdict.warn(format!("no Reason header added: {e}"));
        }
        None
    }
}
