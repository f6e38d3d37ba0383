//! The verification service (RFC 8224 §6.2): each Identity header of a request judged in the
//! RFC's order, with a typed outcome that names the §6.2.2 response a verifier would send,
//! and a verdict for the request as a whole (§6.2.1: one valid header is enough).

use super::b64url;
use super::credential::{Credential, CredentialError, CredentialSource};
use super::header::{stir_reason, HeaderError, IdentityHeader, Token};
use super::jws::{self, JwsError};
use super::parties::{CallParties, PartiesError};
use super::passport::{Attestation, Claims, Passport, PassportError, PassportHeader, Ppt, ES256};
use super::tn::Party;
use super::tnauth::{Coverage, TnAuthError};
use crate::crypto::{check_trust, ChainKey, TrustContext, TrustPurpose, TrustVerdict};
use crate::message::{HeaderKind, Message};
use openssl::x509::X509;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// The responses of RFC 8224 §6.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ResponseCode {
    /// 428 Use Identity Header.
    UseIdentityHeader,
    /// 436 Bad Identity Info.
    BadIdentityInfo,
    /// 437 Unsupported Credential.
    UnsupportedCredential,
    /// 438 Invalid Identity Header.
    InvalidIdentityHeader,
    /// 403 Stale Date.
    StaleDate,
}

impl ResponseCode {
    pub fn code(self) -> u16 {
        match self {
            ResponseCode::UseIdentityHeader => 428,
            ResponseCode::BadIdentityInfo => 436,
            ResponseCode::UnsupportedCredential => 437,
            ResponseCode::InvalidIdentityHeader => 438,
            ResponseCode::StaleDate => 403,
        }
    }

    pub fn reason_phrase(self) -> &'static str {
        match self {
            ResponseCode::UseIdentityHeader => "Use Identity Header",
            ResponseCode::BadIdentityInfo => "Bad Identity Info",
            ResponseCode::UnsupportedCredential => "Unsupported Credential",
            ResponseCode::InvalidIdentityHeader => "Invalid Identity Header",
            ResponseCode::StaleDate => "Stale Date",
        }
    }
}

impl fmt::Display for ResponseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.reason_phrase())
    }
}

/// Why one Identity header failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Header(HeaderError),
    #[error("the Identity header's alg is {0:?}; only ES256 is supported")]
    UnsupportedAlg(String),
    #[error("a PASSporT segment is not base64url: {0}")]
    Encoding(b64url::Base64Error),
    #[error("{0}")]
    Passport(PassportError),
    #[error("the PASSporT's {what} does not match the Identity header's {what}")]
    HeaderMismatch { what: &'static str },
    #[error("the compact form carries only baseline PASSporTs; `ppt={0}` needs the full form")]
    CompactExtension(&'static str),
    #[error("the compact form needs a Date header to rebuild `iat` from")]
    CompactWithoutDate,
    #[error("{0}")]
    Parties(PartiesError),
    #[error("`orig` {claimed} is not the caller ({expected})")]
    WrongOrig { claimed: Party, expected: Party },
    #[error("`dest` does not name {expected}")]
    WrongDest { expected: Party },
    #[error("`div` {claimed} is not the diverting party {expected}")]
    WrongDiv { claimed: Party, expected: Party },
    #[error("a div PASSporT needs a Request-URI naming the new target")]
    NoTarget,
    #[error("`mky` does not list the SDP's a=fingerprint media keys")]
    WrongMky,
    #[error("{what} is {age} s from now, outside the {freshness} s freshness window")]
    Stale {
        what: &'static str,
        age: i64,
        freshness: i64,
    },
    #[error("{0}")]
    Credential(CredentialError),
    #[error("the x5u certificate is not trusted: {0}")]
    Untrusted(String),
    #[error("{0}")]
    TnAuth(TnAuthError),
    #[error("{party} is not among the numbers the certificate covers (TNAuthList)")]
    NotCovered { party: Party },
    #[error("{0}")]
    Signature(JwsError),
    #[error("more than {MAX_IDENTITY_HEADERS} Identity headers; the rest are not read")]
    TooMany,
}

impl Failure {
    /// The RFC 8224 §6.2.2 response for this failure.
    pub fn response(&self) -> ResponseCode {
        match self {
            Failure::Header(HeaderError::MissingInfo | HeaderError::BadInfo)
            | Failure::Header(HeaderError::Duplicate("info")) => ResponseCode::BadIdentityInfo,
            Failure::Credential(e) if e.code_is_436() => ResponseCode::BadIdentityInfo,
            Failure::UnsupportedAlg(_)
            | Failure::Passport(PassportError::UnsupportedAlg(_))
            | Failure::Credential(_)
            | Failure::Untrusted(_)
            | Failure::TnAuth(_) => ResponseCode::UnsupportedCredential,
            Failure::Stale { .. } => ResponseCode::StaleDate,
            _ => ResponseCode::InvalidIdentityHeader,
        }
    }
}

/// What a valid Identity header asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub ppt: Option<Ppt>,
    pub orig: Party,
    pub attest: Option<Attestation>,
    pub origid: Option<String>,
    pub div: Option<Party>,
    pub x5u: String,
    /// How the certificate covers the vouched-for number (`number`, `range`, `spc …`).
    pub coverage: String,
    pub iat: i64,
}

/// The outcome of one Identity header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderOutcome {
    Valid(Verified),
    /// An extension this verifier does not support: ignored (RFC 8224 §6.2 step 1).
    Ignored {
        ppt: String,
    },
    Failed(Failure),
}

/// One Identity header and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderCheck {
    /// Position among the request's Identity headers, from 0.
    pub index: usize,
    pub compact: bool,
    /// The signature segment (for the RFC 9410 `ppi`), when the header read that far.
    pub signature: Option<String>,
    pub outcome: HeaderOutcome,
}

/// The verdict on a request's Identity headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StirVerdict {
    pub headers: Vec<HeaderCheck>,
}

/// The request-level result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StirOutcome {
    /// At least one valid original (non-div) PASSporT; the best attestation among them
    /// (`None` for a baseline one).
    Verified {
        orig: Party,
        attest: Option<Attestation>,
        diverted: bool,
    },
    /// No Identity header this verifier can use (none, or only unsupported `ppt`): 428 where
    /// policy requires one.
    Absent,
    /// Every usable header failed: the response to send.
    Failed(ResponseCode),
}

impl StirVerdict {
    pub fn outcome(&self) -> StirOutcome {
        let valid = self.headers.iter().filter_map(|h| match &h.outcome {
            HeaderOutcome::Valid(v) => Some(v),
            _ => None,
        });
        let mut best: Option<&Verified> = None;
        let mut diverted = false;
        for v in valid {
            if v.ppt == Some(Ppt::Div) {
                diverted = true;
                continue;
            }
            if best.is_none_or(|b| v.attest > b.attest) {
                best = Some(v);
            }
        }
        if let Some(b) = best {
            return StirOutcome::Verified {
                orig: b.orig.clone(),
                attest: b.attest,
                diverted,
            };
        }
        let codes: Vec<ResponseCode> = self
            .headers
            .iter()
            .filter_map(|h| match &h.outcome {
                HeaderOutcome::Failed(f) => Some(f.response()),
                // A valid div PASSporT without a valid original proves nothing about the
                // caller.
                HeaderOutcome::Valid(_) => Some(ResponseCode::InvalidIdentityHeader),
                HeaderOutcome::Ignored { .. } => None,
            })
            .collect();
        // RFC 8224 §6.2.2: 436 only when no credential at all could be had; otherwise the
        // first other failure, in header order.
        match codes
            .iter()
            .find(|c| **c != ResponseCode::BadIdentityInfo)
            .or(codes.first())
        {
            Some(code) => StirOutcome::Failed(*code),
            None => StirOutcome::Absent,
        }
    }

    /// The RFC 9410 `Reason` values for the failed headers, in header order.
    pub fn reasons(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter_map(|h| match &h.outcome {
                HeaderOutcome::Failed(f) => {
                    let r = f.response();
                    Some(stir_reason(
                        r.code(),
                        r.reason_phrase(),
                        h.signature.as_deref(),
                    ))
                }
                _ => None,
            })
            .collect()
    }
}

/// What the verifier holds: the STI anchors and the freshness window.
pub struct StiPolicy {
    pub anchors: Vec<X509>,
    /// Seconds `iat` and Date may differ from now (RFC 8224 §6.2 step 4 recommends 60).
    pub freshness: i64,
}

impl Default for StiPolicy {
    fn default() -> Self {
        StiPolicy {
            anchors: Vec::new(),
            freshness: 60,
        }
    }
}

/// How long a chain judged trusted is believed without judging again (bounded also by the
/// chain's own notAfter).
const TRUST_MEMO_SECONDS: i64 = 300;
/// Identity headers judged per request (an original, a few div PASSporTs and spares).
pub const MAX_IDENTITY_HEADERS: usize = 8;
const TRUST_MEMO_ENTRIES: usize = 1024;

/// A verification service: policy, credential source and a bounded memo of trusted chains,
/// so that a cached x5u costs one signature check per request.
pub struct StiVerifier<S> {
    policy: StiPolicy,
    source: S,
    trusted: Mutex<HashMap<ChainKey, i64>>,
}

impl<S: CredentialSource> StiVerifier<S> {
    pub fn new(policy: StiPolicy, source: S) -> Self {
        StiVerifier {
            policy,
            source,
            trusted: Mutex::new(HashMap::new()),
        }
    }

    /// Judges every Identity header of `msg` at `now` (seconds since 1970); past
    /// [`MAX_IDENTITY_HEADERS`] they fail unread, so that one request cannot make the verifier
    /// fetch without end.
    pub fn verify(&self, msg: &Message, now: i64) -> StirVerdict {
        let parties = CallParties::of(msg);
        let headers = msg
            .values(HeaderKind::Identity)
            .enumerate()
            .map(|(index, value)| {
                if index >= MAX_IDENTITY_HEADERS {
                    return HeaderCheck {
                        index,
                        compact: false,
                        signature: None,
                        outcome: HeaderOutcome::Failed(Failure::TooMany),
                    };
                }
                let value = crate::message::unfold(value);
                let text = String::from_utf8_lossy(&value);
                self.check(index, &text, &parties, now)
            })
            .collect();
        StirVerdict { headers }
    }

    fn check(
        &self,
        index: usize,
        value: &str,
        parties: &Result<CallParties, PartiesError>,
        now: i64,
    ) -> HeaderCheck {
        let mut check = HeaderCheck {
            index,
            compact: false,
            signature: None,
            outcome: HeaderOutcome::Ignored { ppt: String::new() },
        };
        let header = match IdentityHeader::parse(value) {
            Ok(h) => h,
            Err(e) => {
                check.outcome = HeaderOutcome::Failed(Failure::Header(e));
                return check;
            }
        };
        check.compact = header.token.is_compact();
        check.signature = Some(header.token.signature().to_owned());
        check.outcome = match self.judge(&header, parties, now) {
            Ok(v) => HeaderOutcome::Valid(v),
            Err(Judged::Ignored(ppt)) => HeaderOutcome::Ignored { ppt },
            Err(Judged::Failed(f)) => HeaderOutcome::Failed(f),
        };
        check
    }

    fn judge(
        &self,
        header: &IdentityHeader<'_>,
        parties: &Result<CallParties, PartiesError>,
        now: i64,
    ) -> Result<Verified, Judged> {
        // Step 1: the extension, and the algorithm.
        let ppt = match header.ppt.as_deref() {
            None => None,
            Some(p) => Some(Ppt::parse(p).ok_or_else(|| Judged::Ignored(p.to_owned()))?),
        };
        if let Some(alg) = header.alg.as_deref().filter(|a| *a != ES256) {
            return Err(Failure::UnsupportedAlg(alg.into()).into());
        }
        let parties = parties.as_ref().map_err(|e| Failure::Parties(e.clone()))?;

        // The PASSporT: read from a full form, rebuilt from the request for a compact one.
        let (passport, signing_input) = match header.token {
            Token::Full {
                header: h,
                claims: c,
                ..
            } => {
                let hj = b64url::decode(h.as_bytes()).map_err(Failure::Encoding)?;
                let cj = b64url::decode(c.as_bytes()).map_err(Failure::Encoding)?;
                let p = Passport::from_json(&hj, &cj).map_err(Failure::Passport)?;
                if p.header.x5u != header.info {
                    return Err(Failure::HeaderMismatch { what: "x5u/info" }.into());
                }
                if p.header.ppt != ppt {
                    return Err(Failure::HeaderMismatch { what: "ppt" }.into());
                }
                let input = format!("{h}.{c}");
                (p, input)
            }
            Token::Compact { .. } => {
                if let Some(p) = ppt {
                    return Err(Failure::CompactExtension(p.as_str()).into());
                }
                let iat = parties.date.ok_or(Failure::CompactWithoutDate)?;
                let p = Passport {
                    header: PassportHeader {
                        ppt: None,
                        x5u: header.info.to_owned(),
                    },
                    claims: Claims {
                        orig: parties.orig.clone(),
                        dest: vec![parties.to.clone()],
                        iat,
                        attest: None,
                        origid: None,
                        div: None,
                        mky: parties.mky.clone(),
                    },
                };
                let input = p.signing_input();
                (p, input)
            }
        };
        let claims = &passport.claims;

        // Step 2: the identities, against the request (never taken from the PASSporT alone).
        if !parties.is_orig(&claims.orig) {
            return Err(Failure::WrongOrig {
                claimed: claims.orig.clone(),
                expected: parties.orig.clone(),
            }
            .into());
        }
        let dest = match ppt {
            Some(Ppt::Div) => {
                let div = claims
                    .div
                    .as_ref()
                    .ok_or(Failure::Passport(PassportError::MissingDiv))?;
                if *div != parties.to {
                    return Err(Failure::WrongDiv {
                        claimed: div.clone(),
                        expected: parties.to.clone(),
                    }
                    .into());
                }
                parties.target.as_ref().ok_or(Failure::NoTarget)?
            }
            _ => &parties.to,
        };
        // The media keys are the request's, whatever the PASSporT claims (a full-form token
        // lifted onto a call with other keys, or keys dropped from it).
        if claims.mky != parties.mky {
            return Err(Failure::WrongMky.into());
        }
        if !claims.dest.contains(dest) {
            return Err(Failure::WrongDest {
                expected: dest.clone(),
            }
            .into());
        }

        // Step 4 (before fetching anything): freshness of iat and Date.
        let freshness = self.policy.freshness;
        for (what, t) in [("iat", Some(claims.iat)), ("Date", parties.date)] {
            if let Some(t) = t {
                let age = now - t;
                if age.abs() > freshness {
                    return Err(Failure::Stale {
                        what,
                        age,
                        freshness,
                    }
                    .into());
                }
            }
        }

        // Step 3: the credential, its trust and its TNAuthList.
        let credential = self
            .source
            .credential(header.info, now)
            .map_err(Failure::Credential)?;
        self.trust(&credential, now)?;
        let tn_auth = credential
            .tn_auth
            .as_ref()
            .map_err(|e| Failure::TnAuth(e.clone()))?;

        // Step 5: the signature.
        let signature =
            b64url::decode(header.token.signature().as_bytes()).map_err(Failure::Encoding)?;
        jws::verify(signing_input.as_bytes(), &signature, &credential.key)
            .map_err(Failure::Signature)?;

        // The vouched-for number within the certificate's TNAuthList: the caller, or for a
        // diverted call the diverting party.
        let vouched = claims.div.as_ref().unwrap_or(&claims.orig);
        let coverage = vouched
            .tn()
            .and_then(|tn| tn_auth.covers(tn))
            .ok_or_else(|| Failure::NotCovered {
                party: vouched.clone(),
            })?;
        Ok(Verified {
            ppt,
            orig: claims.orig.clone(),
            attest: claims.attest,
            origid: claims.origid.clone(),
            div: claims.div.clone(),
            x5u: header.info.to_owned(),
            coverage: coverage_text(coverage),
            iat: claims.iat,
        })
    }

    fn trust(&self, credential: &Credential, now: i64) -> Result<(), Failure> {
        if let Ok(memo) = self.trusted.lock() {
            if memo
                .get(&credential.fingerprint)
                .is_some_and(|until| *until > now)
            {
                return Ok(());
            }
        }
        let ctx = TrustContext {
            anchors: self.policy.anchors.clone(),
            crls: Vec::new(),
            at_time: Some(now),
            purpose: TrustPurpose::Any,
        };
        let verdict = check_trust(&credential.cert, &credential.chain, &ctx)
            .map_err(|e| Failure::Untrusted(e.to_string()))?;
        match verdict {
            TrustVerdict::Trusted { valid_until, .. } => {
                let until = valid_until
                    .unwrap_or(i64::MAX)
                    .min(now + TRUST_MEMO_SECONDS);
                if let Ok(mut memo) = self.trusted.lock() {
                    if memo.len() >= TRUST_MEMO_ENTRIES {
                        memo.retain(|_, u| *u > now);
                        if memo.len() >= TRUST_MEMO_ENTRIES {
                            memo.clear();
                        }
                    }
                    memo.insert(credential.fingerprint, until);
                }
                Ok(())
            }
            other => Err(Failure::Untrusted(other.to_string())),
        }
    }
}

fn coverage_text(c: Coverage<'_>) -> String {
    c.to_string()
}

enum Judged {
    Ignored(String),
    Failed(Failure),
}

impl From<Failure> for Judged {
    fn from(f: Failure) -> Judged {
        Judged::Failed(f)
    }
}

#[cfg(test)]
mod tests;
