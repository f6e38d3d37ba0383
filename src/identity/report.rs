//! How the verification service reports: the STIR part of `Sipsec-Verdict` and of the JSON,
//! the `attested=` requirement, and the RFC 9410 `Reason: STIR` headers a forwarded request
//! carries when policy lets it through despite a failed Identity header.

use super::passport::Attestation;
use super::verify::{HeaderOutcome, ResponseCode, StirOutcome, StirVerdict};
use crate::message::Message;
use serde_json::{json, Value};

/// `stir=pass;attest=A[;diverted=yes]`, `stir=fail;stir-cause=438` or `stir=absent`.
pub fn header_tokens(v: &StirVerdict) -> String {
    match v.outcome() {
        StirOutcome::Verified {
            attest, diverted, ..
        } => {
            let mut s = String::from("stir=pass");
            match attest {
                Some(a) => {
                    s.push_str(";attest=");
                    s.push_str(a.as_str());
                }
                None => s.push_str(";attest=none"),
            }
            if diverted {
                s.push_str(";diverted=yes");
            }
            s
        }
        StirOutcome::Absent => "stir=absent".into(),
        StirOutcome::Failed(code) => format!("stir=fail;stir-cause={}", code.code()),
    }
}

fn outcome_json(h: &HeaderOutcome) -> Value {
    match h {
        HeaderOutcome::Valid(v) => json!({
            "result": "pass",
            "ppt": v.ppt.map(|p| p.as_str()),
            "orig": v.orig.to_string(),
            "attest": v.attest.map(Attestation::as_str),
            "origid": v.origid,
            "div": v.div.as_ref().map(ToString::to_string),
            "x5u": v.x5u,
            "coverage": v.coverage,
            "iat": v.iat,
        }),
        HeaderOutcome::Ignored { ppt } => json!({
            "result": "ignored",
            "reason": format!("unsupported ppt {ppt:?} (RFC 8224 §6.2 step 1)"),
        }),
        HeaderOutcome::Failed(f) => json!({
            "result": "fail",
            "response": f.response().code(),
            "response_text": f.response().reason_phrase(),
            "reason": f.to_string(),
        }),
    }
}

/// The `stir` member of the JSON verdict: the outcome, the attestation, and each header.
pub fn json(v: &StirVerdict) -> Value {
    let (result, attest, response) = match v.outcome() {
        StirOutcome::Verified { attest, .. } => ("pass", attest.map(Attestation::as_str), None),
        StirOutcome::Absent => ("absent", None, None),
        StirOutcome::Failed(code) => ("fail", None, Some(code.code())),
    };
    let headers: Vec<Value> = v
        .headers
        .iter()
        .map(|h| {
            let mut o = outcome_json(&h.outcome);
            if let Value::Object(m) = &mut o {
                m.insert("index".into(), json!(h.index));
                m.insert(
                    "form".into(),
                    json!(if h.compact { "compact" } else { "full" }),
                );
            }
            o
        })
        .collect();
    json!({
        "result": result,
        "attest": attest,
        "response": response,
        "headers": headers,
    })
}

/// Why the request misses `attested=min`, with the response a verification service sends:
/// 428 without a usable Identity, the failure's own code, or 438 for a lower attestation.
pub fn unmet_attestation(v: &StirVerdict, min: Attestation) -> Option<(ResponseCode, String)> {
    match v.outcome() {
        StirOutcome::Verified {
            attest: Some(a), ..
        } if a >= min => None,
        StirOutcome::Verified { attest, .. } => Some((
            ResponseCode::InvalidIdentityHeader,
            format!(
                "attestation {} is below the required {min}",
                attest.map_or("none (baseline PASSporT)", Attestation::as_str)
            ),
        )),
        StirOutcome::Absent => Some((
            ResponseCode::UseIdentityHeader,
            "no usable Identity header".into(),
        )),
        StirOutcome::Failed(code) => {
            let first = v.headers.iter().find_map(|h| match &h.outcome {
                HeaderOutcome::Failed(f) => Some(f.to_string()),
                _ => None,
            });
            Some((code, first.unwrap_or_else(|| code.reason_phrase().into())))
        }
    }
}

fn is_stir_reason(value: &[u8]) -> bool {
    let v = crate::message::unfold(value);
    let v = v.trim_ascii_start();
    v.len() >= 4
        && v[..4].eq_ignore_ascii_case(b"STIR")
        && v.get(4)
            .is_none_or(|c| matches!(c, b' ' | b'\t' | b';' | b','))
}

/// Removes incoming `Reason: STIR…` headers (only the verifier reports STIR causes on what it
/// forwards) and adds one per failed Identity header. Returns the number added.
pub fn replace_reasons(msg: &mut Message, v: &StirVerdict) -> Result<usize, crate::ParseError> {
    let stale: Vec<usize> = msg
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            msg.field_name(f).eq_ignore_ascii_case(b"Reason") && is_stir_reason(msg.field_value(f))
        })
        .map(|(i, _)| i)
        .collect();
    for i in stale.into_iter().rev() {
        msg.remove_field(i);
    }
    let reasons = v.reasons();
    for r in &reasons {
        msg.append_field("Reason", r.as_bytes())?;
    }
    Ok(reasons.len())
}

/// SHAKEN attestation (RFC 8588 §4) for a call from a member of the store: full (A) only for
/// a member the relay authenticated (`attributed`) who belongs to a group whose numbers the
/// certificate lists (`listed`: by number or range, not merely by service provider code);
/// partial (B) for a customer sipsec knows (`known`: attributed, or vouched for by the
/// pipeline); gateway (C) otherwise. Never A without attribution.
pub fn attestation(attributed: bool, in_group: bool, listed: bool, known: bool) -> Attestation {
    if attributed && in_group && listed {
        Attestation::A
    } else if attributed || known {
        Attestation::B
    } else {
        Attestation::C
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::tn::Party;
    use crate::identity::verify::{Failure, HeaderCheck, Verified};

    fn valid(attest: Option<Attestation>) -> HeaderCheck {
        HeaderCheck {
            index: 0,
            compact: false,
            signature: Some("c2ln".into()),
            outcome: HeaderOutcome::Valid(Verified {
                ppt: attest.map(|_| crate::identity::Ppt::Shaken),
                orig: Party::Tn("1".into()),
                attest,
                origid: None,
                div: None,
                x5u: "https://x/".into(),
                coverage: "number".into(),
                iat: 0,
            }),
        }
    }

    fn failed(f: Failure) -> HeaderCheck {
        HeaderCheck {
            index: 1,
            compact: true,
            signature: Some("c2ln".into()),
            outcome: HeaderOutcome::Failed(f),
        }
    }

    #[test]
    fn tokens_and_json() {
        let v = StirVerdict {
            headers: vec![valid(Some(Attestation::B))],
        };
        assert_eq!(header_tokens(&v), "stir=pass;attest=B");
        assert_eq!(json(&v)["attest"], "B");
        let v = StirVerdict {
            headers: vec![failed(Failure::NoTarget)],
        };
        assert_eq!(header_tokens(&v), "stir=fail;stir-cause=438");
        let j = json(&v);
        assert_eq!(j["response"], 438);
        assert_eq!(j["headers"][0]["form"], "compact");
        assert_eq!(
            header_tokens(&StirVerdict { headers: vec![] }),
            "stir=absent"
        );
    }

    #[test]
    fn required_attestation() {
        let a = StirVerdict {
            headers: vec![valid(Some(Attestation::A))],
        };
        assert_eq!(unmet_attestation(&a, Attestation::A), None);
        let c = StirVerdict {
            headers: vec![valid(Some(Attestation::C))],
        };
        assert_eq!(unmet_attestation(&c, Attestation::C), None);
        assert_eq!(
            unmet_attestation(&c, Attestation::B).map(|(r, _)| r.code()),
            Some(438)
        );
        let baseline = StirVerdict {
            headers: vec![valid(None)],
        };
        assert!(unmet_attestation(&baseline, Attestation::C).is_some());
        let none = StirVerdict { headers: vec![] };
        assert_eq!(
            unmet_attestation(&none, Attestation::C).map(|(r, _)| r.code()),
            Some(428)
        );
        let stale = StirVerdict {
            headers: vec![failed(Failure::Stale {
                what: "iat",
                age: 100,
                freshness: 60,
            })],
        };
        let (r, why) = unmet_attestation(&stale, Attestation::C).unwrap();
        assert_eq!(r.code(), 403);
        assert!(why.contains("freshness"), "{why}");
    }

    #[test]
    fn reasons_replace_incoming_stir_ones_only() {
        let mut m = Message::parse(
            "INVITE sip:b@example.com SIP/2.0\r\nReason: STIR;cause=438;text=\"forged\"\r\n\
             Reason: SIP;cause=200\r\nreason: stir ;cause=436\r\nReason: STIRRED\r\n\
             Content-Length: 0\r\n\r\n",
        )
        .unwrap();
        let v = StirVerdict {
            headers: vec![valid(Some(Attestation::A)), failed(Failure::NoTarget)],
        };
        assert_eq!(replace_reasons(&mut m, &v).unwrap(), 1);
        let reasons: Vec<_> = m
            .values_named("Reason")
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect();
        assert_eq!(
            reasons,
            [
                "SIP;cause=200",
                "STIRRED",
                "STIR;cause=438;text=\"Invalid Identity Header\";ppi=\"..c2ln\""
            ]
        );
    }

    #[test]
    fn attestation_levels() {
        assert_eq!(attestation(true, true, true, true), Attestation::A);
        assert_eq!(attestation(true, true, false, true), Attestation::B);
        assert_eq!(attestation(true, false, true, true), Attestation::B);
        // Vouched for by the pipeline but not attributed: never A.
        assert_eq!(attestation(false, true, true, true), Attestation::B);
        assert_eq!(attestation(false, false, false, false), Attestation::C);
    }
}
