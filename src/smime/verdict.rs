//! The verifier's statement about one message: each check on its own (never one merged
//! "valid"), and the `Sipsec-Verdict` header that carries them.

pub use crate::filter::mark::VERDICT_HEADER;
use serde::Serialize;
use serde_json::{json, Value};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    /// The message carries nothing to check (no Date in the signed content, for example).
    Absent,
    /// The check does not apply to this form or message.
    NotApplicable,
}

impl Status {
    pub fn token(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Absent => "absent",
            Status::NotApplicable => "n-a",
        }
    }

    /// Passed, or had nothing to judge: what a mark may rest on.
    pub fn not_failed(self) -> bool {
        self != Status::Fail
    }
}

/// One named check with its reason and facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub status: Status,
    pub reason: Option<String>,
    pub facts: serde_json::Map<String, Value>,
}

impl Check {
    pub fn new(status: Status) -> Check {
        Check {
            status,
            reason: None,
            facts: serde_json::Map::new(),
        }
    }

    pub fn pass() -> Check {
        Check::new(Status::Pass)
    }

    pub fn fail(reason: impl Into<String>) -> Check {
        Check {
            reason: Some(reason.into()),
            ..Check::new(Status::Fail)
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Check {
        self.facts.insert(key.to_string(), value.into());
        self
    }

    pub fn json(&self) -> Value {
        let mut m = self.facts.clone();
        m.insert("result".into(), json!(self.status));
        if let Some(r) = &self.reason {
            m.insert("reason".into(), json!(r));
        }
        Value::Object(m)
    }
}

/// The checks in the order they are reported.
pub const CHECKS: [&str; 7] = [
    "integrity",
    "coverage",
    "trust",
    "identity",
    "freshness",
    "replay",
    "inner_outer",
];

/// Every check of a signed message, or the plain fact that it is not signed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub signed: bool,
    pub form: Option<&'static str>,
    /// `(name, check)` in [`CHECKS`] order, only for signed messages.
    pub checks: Vec<(&'static str, Check)>,
    /// The SAN URI the identity check matched: what `Subject: validated` names.
    pub validated: Option<String>,
    /// Marks found on the incoming message and removed.
    pub marks_removed: Vec<String>,
    /// An unsigned envelope: whatever it holds (perhaps a signature) is for after decryption.
    pub encrypted: bool,
}

impl Report {
    pub fn get(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|(n, _)| *n == name).map(|(_, c)| c)
    }

    pub fn status(&self, name: &str) -> Status {
        self.get(name).map_or(Status::NotApplicable, |c| c.status)
    }

    pub fn set(&mut self, name: &'static str, check: Check) {
        match self.checks.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = check,
            None => self.checks.push((name, check)),
        }
    }

    /// Every check passed or had nothing to judge: the message may carry the mark.
    pub fn all_passed(&self) -> bool {
        self.signed
            && CHECKS
                .iter()
                .all(|n| self.get(n).is_some_and(|c| c.status.not_failed()))
            && self.status("integrity") == Status::Pass
            && self.status("trust") == Status::Pass
            && self.status("identity") == Status::Pass
    }

    /// The value of the `Sipsec-Verdict` header: `signed=no`, or every check as a token.
    pub fn header_value(&self) -> String {
        if !self.signed {
            return if self.encrypted {
                "signed=no;encrypted=yes".into()
            } else {
                "signed=no".into()
            };
        }
        let mut v = format!("signed=yes;form={}", self.form.unwrap_or("unknown"));
        for name in CHECKS {
            v.push_str(&format!(
                ";{}={}",
                name.replace('_', "-"),
                self.status(name).token()
            ));
        }
        if let Some(c) = self.get("coverage") {
            if let Some(Value::String(what)) = c.facts.get("body") {
                v.push_str(&format!(";body={what}"));
            }
        }
        if let Some(uri) = &self.validated {
            v.push_str(&format!(";signer=\"{uri}\""));
        }
        v
    }

    /// The verdict as JSON fields, for the run's report.
    pub fn fields(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("signed".into(), json!(self.signed));
        if self.encrypted {
            m.insert(
                "note".into(),
                json!("an envelope: run sipsec-decrypt first, a signature may be inside"),
            );
        }
        if let Some(f) = self.form {
            m.insert("form".into(), json!(f));
        }
        for (name, c) in &self.checks {
            m.insert((*name).into(), c.json());
        }
        m.insert(
            "marked".into(),
            json!(self.validated.is_some() && self.all_passed()),
        );
        if let Some(uri) = &self.validated {
            m.insert("signer".into(), json!(uri));
        }
        if !self.marks_removed.is_empty() {
            m.insert("marks_removed".into(), json!(self.marks_removed));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lists_every_check() {
        let mut r = Report {
            signed: true,
            form: Some("body"),
            ..Report::default()
        };
        for n in CHECKS {
            r.set(n, Check::pass());
        }
        r.set("freshness", Check::new(Status::Absent));
        assert!(r.all_passed());
        let h = r.header_value();
        assert!(
            h.contains("integrity=pass")
                && h.contains("freshness=absent")
                && h.contains("inner-outer=pass"),
            "{h}"
        );
        r.set("replay", Check::fail("replay"));
        assert!(!r.all_passed());
        assert_eq!(Report::default().header_value(), "signed=no");
    }
}
