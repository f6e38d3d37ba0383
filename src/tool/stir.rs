//! The STIR side of the tools: the authentication service of sipsec-sign (`--identity`), which
//! adds an Identity header (RFC 8224) with a SHAKEN PASSporT, or a div PASSporT when a member
//! forwards a call, signed with the STI certificate of the member's group; and [`Chain`], which
//! runs the S/MIME signature and then the Identity on one message.
//!
//! Attestation follows from who is known to have sent the call: A only for a member the relay
//! authenticated (attribution) whose group's certificate lists the calling number, B for a
//! known customer otherwise (also a pipeline's `--trust-from-header`), C for anyone else, who
//! can only be signed with the `--sti-fallback` (gateway) certificate.

use crate::clock::now_unix;
use crate::filter::{FailMode, Failure, Filter, MessageContext, Processed, Verdict};
use crate::identity::report::attestation;
use crate::identity::sign::{iat_of, origid_for};
use crate::identity::{Assertion, CallParties, Form, StiSigner};
use crate::message::{HeaderKind, Message};
use crate::smime::build;
use crate::store::Lookup;
use crate::tool::cache::TtlCache;
use crate::uri::Aor;
use std::sync::Arc;
use std::time::Duration;

/// What `--identity` is told.
#[derive(Debug, Clone)]
pub struct StirSignOptions {
    /// Compact form (a baseline PASSporT; SHAKEN needs the full form).
    pub compact: bool,
    /// The pipeline vouches for From: an unattributed caller is a known customer (B).
    pub trust_from_header: bool,
    /// The STI identity that signs for callers the store does not know (attestation C).
    pub fallback: Option<Aor>,
    /// How far the Date may be from now, seconds (RFC 8224 §4.1 recommends 60).
    pub freshness: i64,
}

/// The Identity-adding filter.
pub struct StirSign {
    lookup: Box<dyn Lookup>,
    options: StirSignOptions,
    signers: TtlCache<Aor, Arc<StiSigner>>,
}

fn failure(reason: impl Into<String>, verdict: &Verdict) -> Failure {
    Failure::with_verdict(reason, verdict.clone())
}

/// Who the call is from, as far as sipsec knows.
struct Caller {
    member: Option<Aor>,
    attributed: bool,
    in_group: bool,
    /// The identity whose STI certificate signs.
    signs_as: Aor,
}

impl StirSign {
    pub fn new(lookup: impl Lookup + 'static, options: StirSignOptions) -> StirSign {
        StirSign {
            lookup: Box::new(lookup),
            options,
            signers: TtlCache::new(Duration::from_secs(60)),
        }
    }

    /// The signer of `aor`'s STI identity: `None` when the store holds none (not cached, so
    /// one made later is found), an error when it holds an unusable one.
    fn signer(&self, aor: &Aor) -> Result<Option<Arc<StiSigner>>, String> {
        enum Missing {
            None,
            Unusable(String),
        }
        let found = self.signers.get_or_try(aor, || {
            let sti = self
                .lookup
                .sti_identity(aor)
                .map_err(|e| Missing::Unusable(e.to_string()))?
                .ok_or(Missing::None)?;
            StiSigner::new(&sti.identity.key, &sti.identity.cert, &sti.x5u)
                .map(Arc::new)
                .map_err(|e| {
                    Missing::Unusable(format!("the STI identity of sip:{aor} is unusable: {e}"))
                })
        });
        match found {
            Ok(s) => Ok(Some(s)),
            Err(Missing::None) => Ok(None),
            Err(Missing::Unusable(e)) => Err(e),
        }
    }

    fn caller(&self, message: &Message, context: &MessageContext) -> Result<Caller, String> {
        let attributed = context.attribution.is_some();
        let member = match &context.attribution {
            Some(m) => Some(m.clone()),
            None if self.options.trust_from_header => Some(
                message
                    .from()
                    .map_err(|e| format!("cannot read From: {e}"))?
                    .uri()
                    .aor()
                    .ok_or("the From URI has no address-of-record")?,
            ),
            None => None,
        };
        let group = member
            .as_ref()
            .and_then(|m| self.lookup.groups().group_of(m).cloned());
        let signs_as = group.clone().or_else(|| member.clone());
        let fallback = || {
            self.options.fallback.clone().ok_or_else(|| {
                "the caller is not attributed to a member and no --sti-fallback certificate \
                 signs for unknown callers"
                    .to_string()
            })
        };
        Ok(Caller {
            attributed,
            in_group: group.is_some(),
            signs_as: match signs_as {
                Some(a) => a,
                None => fallback()?,
            },
            member,
        })
    }

    fn add_identity(
        &self,
        message: &Message,
        context: &MessageContext,
        verdict: &mut Verdict,
    ) -> Result<Option<Message>, String> {
        let forwarded = message.value(HeaderKind::Identity).is_some();
        let caller = self.caller(message, context)?;
        let (signer, signs_as) = match self.signer(&caller.signs_as)? {
            Some(s) => (s, caller.signs_as.clone()),
            None => match &self.options.fallback {
                Some(f) if !forwarded => (
                    self.signer(f)?
                        .ok_or_else(|| format!("no STI certificate for the fallback sip:{f}"))?,
                    f.clone(),
                ),
                _ => {
                    return Err(format!(
                        "no STI certificate for sip:{}; make one with `sipsec-certgen sti`",
                        caller.signs_as
                    ))
                }
            },
        };
        verdict.set("sti_identity", format!("sip:{signs_as}"));
        let mut work = message.clone_with_room(1024);
        let now = now_unix();
        let date_added = build::ensure_date(&mut work, now).map_err(|e| e.to_string())?;
        verdict.set("date_added", date_added);
        let parties = CallParties::of(&work).map_err(|e| e.to_string())?;
        let iat = iat_of(&parties, now, self.options.freshness).map_err(|e| e.to_string())?;
        let (assertion, form) = if forwarded {
            // A member forwards a call that came signed: the original stays, a div PASSporT
            // says who diverted it where (RFC 8946).
            if parties.target.as_ref() == Some(&parties.to) {
                verdict.set("identity", "kept");
                return Ok(None);
            }
            (Assertion::Div, Form::Full)
        } else if self.options.compact {
            (Assertion::Baseline, Form::Compact)
        } else {
            let listed = signer.lists(&parties.orig);
            let attest = attestation(
                caller.attributed,
                caller.in_group && signs_as == caller.signs_as,
                listed,
                caller.member.is_some(),
            );
            let origin = caller.member.as_ref().unwrap_or(&signs_as).to_string();
            (
                Assertion::Shaken {
                    attest,
                    origid: origid_for(&origin),
                },
                Form::Full,
            )
        };
        let passport = signer
            .passport(&parties, &assertion, iat)
            .map_err(|e| e.to_string())?;
        let value = signer
            .identity(&passport, form)
            .map_err(|e| e.to_string())?;
        work.append_field("Identity", value.as_bytes())
            .map_err(|e| e.to_string())?;
        verdict.set(
            "identity",
            match assertion {
                Assertion::Div => "div",
                _ if form == Form::Compact => "compact",
                _ => "full",
            },
        );
        if let Some(a) = passport.claims.attest {
            verdict.set("attest", a.as_str());
        }
        verdict.set("orig", passport.claims.orig.to_string());
        verdict.set("x5u", signer.x5u());
        Ok(Some(work))
    }
}

impl Filter for StirSign {
    fn name(&self) -> &'static str {
        "sign"
    }

    /// Open: a call without an Identity header still goes through (the verifier decides).
    fn default_fail_mode(&self) -> FailMode {
        FailMode::Open
    }

    fn process(&self, message: &Message, context: &MessageContext) -> Result<Processed, Failure> {
        let mut verdict = Verdict::new();
        let initial = message.is_request() && message.to().is_ok_and(|to| to.tag().is_none());
        if !initial {
            verdict.set("identity", "not-applicable");
            return Ok(Processed::unchanged(verdict));
        }
        match self.add_identity(message, context, &mut verdict) {
            Ok(Some(m)) => Ok(Processed::changed(m, verdict)),
            Ok(None) => Ok(Processed::unchanged(verdict)),
            Err(e) => Err(failure(format!("no Identity added: {e}"), &verdict)),
        }
    }
}

/// Two filters on one message, the second on what the first made; the verdicts merged (the
/// second's fields under `identity_` names where both set one). A failure of either is the
/// failure of both: the run's fail mode then passes the original or withholds it. Both run on
/// the worker (their `process`): only tools that leave no step for input order are chained
/// (sign and STIR sign).
pub struct Chain<A, B> {
    pub first: A,
    pub then: B,
}

impl<A: Filter, B: Filter> Filter for Chain<A, B> {
    fn name(&self) -> &'static str {
        self.first.name()
    }

    fn default_fail_mode(&self) -> FailMode {
        self.first.default_fail_mode()
    }

    fn process(&self, message: &Message, context: &MessageContext) -> Result<Processed, Failure> {
        let first = self.first.process(message, context)?;
        let middle = first.message.as_ref().unwrap_or(message);
        let then = self.then.process(middle, context).map_err(|mut f| {
            let mut fields = first.verdict.fields.clone();
            fields.append(&mut f.verdict.fields);
            f.verdict.fields = fields;
            f
        })?;
        let mut verdict = first.verdict;
        for (k, v) in then.verdict.fields {
            let key = if verdict.fields.contains_key(&k) {
                format!("identity_{k}")
            } else {
                k
            };
            verdict.fields.insert(key, v);
        }
        verdict.warnings.extend(then.verdict.warnings);
        Ok(Processed {
            message: then.message.or(first.message),
            verdict,
        })
    }
}
