//! The authentication service (RFC 8224 §6.1): builds and signs the PASSporT of a request and
//! the Identity header value that carries it.

use super::b64url;
use super::header::{build, is_valid_x5u};
use super::jws::{self, JwsError};
use super::parties::CallParties;
use super::passport::{Attestation, Claims, Passport, PassportHeader, Ppt};
use super::tn::Party;
use super::tnauth::{Coverage, TnAuthError, TnAuthList};
use openssl::ec::EcKey;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

/// What kind of PASSporT to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assertion {
    /// RFC 8225 baseline: `orig`, `dest`, `iat`.
    Baseline,
    /// RFC 8588: with the attestation level and the origination identifier.
    Shaken { attest: Attestation, origid: String },
    /// RFC 8946: the request was diverted from its To to its Request-URI.
    Div,
}

/// How the PASSporT travels (RFC 8224 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Form {
    #[default]
    Full,
    /// Only the signature; the verifier rebuilds the rest from the request, which it can do
    /// for a baseline PASSporT only (RFC 8588 §3 leaves SHAKEN to the full form).
    Compact,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the STI key is not ECDSA P-256, which ES256 needs")]
    NotP256,
    #[error("the STI key does not belong to the STI certificate")]
    KeyMismatch,
    #[error("the x5u {0:?} is not an absolute URI that can stand in `info=<…>`")]
    BadX5u(String),
    #[error("the STI certificate's TNAuthList does not read: {0}")]
    TnAuth(TnAuthError),
    #[error("{party} is not among the numbers the STI certificate covers (TNAuthList)")]
    NotCovered { party: Party },
    #[error(
        "the Date is {skew} s from now, outside the {freshness} s freshness window (RFC 8224 §4.1)"
    )]
    StaleDate { skew: i64, freshness: i64 },
    #[error("a diverted call needs a Request-URI naming the new target")]
    NoTarget,
    #[error("the compact form carries only baseline PASSporTs; SHAKEN and div need the full form")]
    CompactNotBaseline,
    #[error(transparent)]
    Jws(#[from] JwsError),
}

/// An STI key with its certificate's TNAuthList and the x5u URL that serves the certificate.
pub struct StiSigner {
    key: EcKey<Private>,
    x5u: String,
    tn_auth: TnAuthList,
}

impl StiSigner {
    pub fn new(key: &PKey<Private>, cert: &X509, x5u: &str) -> Result<StiSigner, SignError> {
        if !is_valid_x5u(x5u) {
            return Err(SignError::BadX5u(x5u.into()));
        }
        let ec = key.ec_key().map_err(|_| SignError::NotP256)?;
        let public = cert.public_key().map_err(|_| SignError::KeyMismatch)?;
        if !public.public_eq(key) {
            return Err(SignError::KeyMismatch);
        }
        Ok(StiSigner {
            key: ec,
            x5u: x5u.into(),
            tn_auth: TnAuthList::of(cert).map_err(SignError::TnAuth)?,
        })
    }

    pub fn x5u(&self) -> &str {
        &self.x5u
    }

    /// Whether the certificate covers `party` by number, range or service provider code.
    pub fn covers(&self, party: &Party) -> bool {
        party
            .tn()
            .is_some_and(|tn| self.tn_auth.covers(tn).is_some())
    }

    /// Whether the certificate lists `party` itself (by number or range): what full
    /// attestation rests on, as a service provider code says nothing about one number.
    pub fn lists(&self, party: &Party) -> bool {
        party
            .tn()
            .and_then(|tn| self.tn_auth.covers(tn))
            .is_some_and(|c| matches!(c, Coverage::Number | Coverage::Range))
    }

    /// The PASSporT for a request. The number the signer vouches for — `orig`, or for a
    /// diverted call the `div` number — must be covered by the certificate: a PASSporT that
    /// every verifier refuses is not made.
    pub fn passport(
        &self,
        parties: &CallParties,
        assertion: &Assertion,
        iat: i64,
    ) -> Result<Passport, SignError> {
        let (ppt, attest, origid, dest, div) = match assertion {
            Assertion::Baseline => (None, None, None, parties.to.clone(), None),
            Assertion::Shaken { attest, origid } => (
                Some(Ppt::Shaken),
                Some(*attest),
                Some(origid.clone()),
                parties.to.clone(),
                None,
            ),
            Assertion::Div => (
                Some(Ppt::Div),
                None,
                None,
                parties.target.clone().ok_or(SignError::NoTarget)?,
                Some(parties.to.clone()),
            ),
        };
        let vouched = div.as_ref().unwrap_or(&parties.orig);
        if !self.covers(vouched) {
            return Err(SignError::NotCovered {
                party: vouched.clone(),
            });
        }
        Ok(Passport {
            header: PassportHeader {
                ppt,
                x5u: self.x5u.clone(),
            },
            claims: Claims {
                orig: parties.orig.clone(),
                dest: vec![dest],
                iat,
                attest,
                origid,
                div,
                mky: parties.mky.clone(),
            },
        })
    }

    /// The Identity header value for `passport` in `form`.
    pub fn identity(&self, passport: &Passport, form: Form) -> Result<String, SignError> {
        if form == Form::Compact && passport.header.ppt.is_some() {
            return Err(SignError::CompactNotBaseline);
        }
        let input = passport.signing_input();
        let signature = jws::sign(input.as_bytes(), &self.key)?;
        let mut token = match form {
            Form::Full => {
                let mut t = input;
                t.push('.');
                t
            }
            Form::Compact => String::from(".."),
        };
        b64url::encode_into(&signature, &mut token);
        Ok(build(&token, &self.x5u, passport.header.ppt))
    }
}

/// The `iat` for a request: its Date, which must lie within `freshness` seconds of `now`
/// (RFC 8224 §4.1: no PASSporT for a request outside the freshness policy).
pub fn iat_of(parties: &CallParties, now: i64, freshness: i64) -> Result<i64, SignError> {
    match parties.date {
        Some(date) => {
            let skew = date - now;
            if skew.abs() > freshness {
                return Err(SignError::StaleDate { skew, freshness });
            }
            Ok(date)
        }
        None => Ok(now),
    }
}

/// A stable origination identifier for an origin (a member, a trunk): a UUID (RFC 9562
/// version 8, name-based on SHA-256) so that calls from one origin can be traced together
/// without naming it (RFC 8588 §6).
pub fn origid_for(origin: &str) -> String {
    let mut d = openssl::sha::sha256(origin.as_bytes());
    d[6] = (d[6] & 0x0f) | 0x80;
    d[8] = (d[8] & 0x3f) | 0x80;
    let h: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::passport::is_uuid;
    use crate::identity::testkit::{parties, sti};

    #[test]
    fn refuses_what_no_verifier_would_accept() {
        let signer = sti(&["12155550100+100"]).signer;
        let p = parties("12155550221", "12155550131", None);
        let shaken = Assertion::Shaken {
            attest: Attestation::A,
            origid: origid_for("x"),
        };
        assert!(matches!(
            signer.passport(&p, &shaken, 1),
            Err(SignError::NotCovered { .. })
        ));
        let p = parties("12155550121", "12155550131", Some("12155550199"));
        let div_signer = sti(&["12155550131"]).signer;
        assert!(div_signer.passport(&p, &Assertion::Div, 1).is_ok());
        assert!(matches!(
            div_signer.passport(&parties("1", "2", None), &Assertion::Div, 1),
            Err(SignError::NoTarget)
        ));
        assert!(signer.lists(&Party::Tn("12155550150".into())));
        assert!(!signer.lists(&Party::Tn("12155550221".into())));
        assert!(sti(&["spc:ACME"]).signer.covers(&Party::Tn("1".into())));
        assert!(!sti(&["spc:ACME"]).signer.lists(&Party::Tn("1".into())));
        let covered = parties("12155550150", "12155550131", None);
        let passport = signer.passport(&covered, &shaken, 1).unwrap();
        assert_eq!(
            signer.identity(&passport, Form::Compact),
            Err(SignError::CompactNotBaseline)
        );
        let baseline = signer.passport(&covered, &Assertion::Baseline, 1).unwrap();
        let compact = signer.identity(&baseline, Form::Compact).unwrap();
        assert!(compact.starts_with(".."), "{compact}");
    }

    #[test]
    fn key_certificate_and_x5u_are_checked() {
        let kit = sti(&["1"]);
        let (cert, key) = (kit.cert, kit.key);
        assert!(StiSigner::new(&key, &cert, "https://sti.example/c.pem").is_ok());
        assert!(matches!(
            StiSigner::new(&key, &cert, "not a uri"),
            Err(SignError::BadX5u(_))
        ));
        let other = sti(&["1"]).key;
        assert!(matches!(
            StiSigner::new(&other, &cert, "https://sti.example/c.pem"),
            Err(SignError::KeyMismatch)
        ));
    }

    #[test]
    fn iat_is_a_fresh_date_or_now() {
        let mut p = parties("1", "2", None);
        assert_eq!(iat_of(&p, 1000, 60), Ok(1000));
        p.date = Some(950);
        assert_eq!(iat_of(&p, 1000, 60), Ok(950));
        p.date = Some(900);
        assert_eq!(
            iat_of(&p, 1000, 60),
            Err(SignError::StaleDate {
                skew: -100,
                freshness: 60
            })
        );
    }

    #[test]
    fn origid_is_a_stable_uuid() {
        let a = origid_for("sip:agent1@callcentre.example");
        assert!(is_uuid(&a), "{a}");
        assert_eq!(a, origid_for("sip:agent1@callcentre.example"));
        assert_ne!(a, origid_for("sip:agent2@callcentre.example"));
        assert_eq!(&a[14..15], "8");
    }
}
