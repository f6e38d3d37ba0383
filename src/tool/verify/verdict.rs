//! The verifier's statement about one message: each check on its own (never one merged
//! "valid"), and the `Sipsec-Verdict` header that carries them.

pub use crate::filter::mark::VERDICT_HEADER;
use crate::smime::Form;
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
    /// In the order noted; a later fact of the same name replaces an earlier one in the
    /// report. Kept as a list (names are literals) and made a JSON object only when a record
    /// is written: most runs never render them.
    pub facts: Vec<(&'static str, Value)>,
}

impl Check {
    pub fn new(status: Status) -> Check {
        Check {
            status,
            reason: None,
            facts: Vec::new(),
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

    pub fn with(mut self, key: &'static str, value: impl Into<Value>) -> Check {
        self.facts.push((key, value.into()));
        self
    }

    pub fn into_json(self) -> Value {
        let mut m: serde_json::Map<String, Value> = self
            .facts
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        m.insert("result".into(), json!(self.status));
        if let Some(r) = self.reason {
            m.insert("reason".into(), Value::String(r));
        }
        Value::Object(m)
    }
}

/// The checks, each reported on its own; declared in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckName {
    Integrity,
    Coverage,
    Trust,
    Identity,
    Freshness,
    Replay,
    InnerOuter,
}

impl CheckName {
    /// In the order they are reported.
    pub const ALL: [CheckName; 7] = [
        CheckName::Integrity,
        CheckName::Coverage,
        CheckName::Trust,
        CheckName::Identity,
        CheckName::Freshness,
        CheckName::Replay,
        CheckName::InnerOuter,
    ];

    /// The name in the JSON report.
    pub fn key(self) -> &'static str {
        match self {
            CheckName::Integrity => "integrity",
            CheckName::Coverage => "coverage",
            CheckName::Trust => "trust",
            CheckName::Identity => "identity",
            CheckName::Freshness => "freshness",
            CheckName::Replay => "replay",
            CheckName::InnerOuter => "inner_outer",
        }
    }

    /// The name in the `Sipsec-Verdict` header.
    pub fn token(self) -> &'static str {
        match self {
            CheckName::InnerOuter => "inner-outer",
            other => other.key(),
        }
    }
}

/// Whether the body the terminal receives is what the signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyCoverage {
    /// Not judged (the signed content did not read).
    #[default]
    Unknown,
    Yes,
    /// Beside the signature, not under it (an identity body in multipart/mixed).
    No,
    /// An envelope under the signature: its content is covered once decrypted.
    Encrypted,
}

impl BodyCoverage {
    pub fn token(self) -> &'static str {
        match self {
            BodyCoverage::Unknown => "unknown",
            BodyCoverage::Yes => "yes",
            BodyCoverage::No => "no",
            BodyCoverage::Encrypted => "encrypted",
        }
    }
}

/// What the signature covers of what the mark rests on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// The header the mark names: the From of a request, the To of a response.
    pub identity: bool,
    pub call_id: bool,
    pub cseq: bool,
    pub body: BodyCoverage,
    /// Outer headers (lower-case names) the signature does not cover and no proxy may change.
    pub uncovered: Vec<crate::smime::restore::HeaderLabel>,
}

/// Why a message does not earn `Subject: validated`, though it may pass on with its verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkRefused {
    #[error("not signed")]
    NotSigned,
    #[error("{} {}", .0.key(), if *.1 == Status::Fail { "failed" } else { "not passed" })]
    Check(CheckName, Status),
    #[error("no certificate name matched the sender")]
    NoSignerName,
    #[error(
        "the signature does not cover the {0}: a form without the headers (body, cms) gets its \
         verdict, never the mark"
    )]
    HeadersNotCovered(String),
    #[error("no signed Date: freshness cannot be judged")]
    NoSignedDate,
    #[error("the body the terminal receives is not covered by the signature")]
    BodyNotCovered,
}

/// Whether a message earns the mark: a genuine, trusted, fresh signature that covers what the
/// terminal relies on. The one place that decides it.
pub fn earns_mark(r: &Report) -> Result<(), MarkRefused> {
    if !r.signed {
        return Err(MarkRefused::NotSigned);
    }
    for name in [CheckName::Integrity, CheckName::Trust, CheckName::Identity] {
        match r.status(name) {
            Status::Pass => {}
            other => return Err(MarkRefused::Check(name, other)),
        }
    }
    for name in [
        CheckName::Coverage,
        CheckName::Replay,
        CheckName::InnerOuter,
    ] {
        match r.get(name) {
            Some(c) if c.status.not_failed() => {}
            other => {
                let status = other.map_or(Status::NotApplicable, |c| c.status);
                return Err(MarkRefused::Check(name, status));
            }
        }
    }
    if r.validated.is_none() {
        return Err(MarkRefused::NoSignerName);
    }
    let c = &r.coverage;
    let missing: Vec<&str> = [
        (c.identity, r.identity_header),
        (c.call_id, "Call-ID"),
        (c.cseq, "CSeq"),
    ]
    .into_iter()
    .filter(|(covered, _)| !covered)
    .map(|(_, name)| name)
    .collect();
    if !missing.is_empty() {
        return Err(MarkRefused::HeadersNotCovered(missing.join(", ")));
    }
    match r.status(CheckName::Freshness) {
        Status::Pass => {}
        Status::Absent => return Err(MarkRefused::NoSignedDate),
        other => return Err(MarkRefused::Check(CheckName::Freshness, other)),
    }
    match c.body {
        BodyCoverage::Yes | BodyCoverage::Encrypted => Ok(()),
        BodyCoverage::No | BodyCoverage::Unknown => Err(MarkRefused::BodyNotCovered),
    }
}

/// Every check of a signed message, or the plain fact that it is not signed.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub signed: bool,
    pub form: Option<Form>,
    /// `(name, check)` in [`CheckName::ALL`] order, only for signed messages.
    pub checks: Vec<(CheckName, Check)>,
    pub coverage: Coverage,
    /// The header the identity is judged against and the mark names: `From` or `To`.
    pub identity_header: &'static str,
    /// The SAN URI the identity check matched: what `Subject: validated` names.
    pub validated: Option<String>,
    /// Marks found on the incoming message and removed.
    pub marks_removed: Vec<String>,
    /// An unsigned envelope: whatever it holds (perhaps a signature) is for after decryption.
    pub encrypted: bool,
    /// Time was judged at the capture time of the frames (which a sender can choose).
    pub judged_at_capture_time: bool,
}

impl Report {
    pub fn get(&self, name: CheckName) -> Option<&Check> {
        self.checks.iter().find(|(n, _)| *n == name).map(|(_, c)| c)
    }

    pub fn status(&self, name: CheckName) -> Status {
        self.get(name).map_or(Status::NotApplicable, |c| c.status)
    }

    /// Sets a check in its place in the report order, whenever it is decided.
    pub fn set(&mut self, name: CheckName, check: Check) {
        match self.checks.iter().position(|(n, _)| *n >= name) {
            Some(i) if self.checks[i].0 == name => self.checks[i].1 = check,
            Some(i) => self.checks.insert(i, (name, check)),
            None => self.checks.push((name, check)),
        }
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
        // Pushed piece by piece: one header a message, on the hot path.
        let mut v = String::with_capacity(256);
        v.push_str("signed=yes;form=");
        v.push_str(self.form.map_or("unknown", Form::name));
        for name in CheckName::ALL {
            for part in [";", name.token(), "=", self.status(name).token()] {
                v.push_str(part);
            }
        }
        if self.get(CheckName::Coverage).is_some() {
            v.push_str(";body=");
            v.push_str(self.coverage.body.token());
        }
        if !self.coverage.uncovered.is_empty() {
            v.push_str(";uncovered=");
            v.push_str(&self.coverage.uncovered.join(","));
        }
        if self.judged_at_capture_time {
            v.push_str(";judged-at=capture-time");
        }
        if let Some(uri) = &self.validated {
            for part in [";signer=\"", uri, "\""] {
                v.push_str(part);
            }
        }
        v
    }

    /// The verdict as JSON fields, for the run's report.
    pub fn into_fields(self) -> serde_json::Map<String, Value> {
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
        let mark = earns_mark(&self);
        for (name, c) in self.checks {
            m.insert(name.key().into(), c.into_json());
        }
        m.insert("marked".into(), json!(mark.is_ok()));
        if let (Err(why), true) = (&mark, self.signed) {
            m.insert("mark_refused".into(), json!(why.to_string()));
        }
        if let Some(uri) = self.validated {
            m.insert("signer".into(), Value::String(uri));
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

    /// A report that earns the mark: every rule met.
    fn marked() -> Report {
        let mut r = Report {
            signed: true,
            form: Some(Form::Sip),
            identity_header: "From",
            validated: Some("sip:alice@example.com".into()),
            coverage: Coverage {
                identity: true,
                call_id: true,
                cseq: true,
                body: BodyCoverage::Yes,
                uncovered: Vec::new(),
            },
            ..Report::default()
        };
        for n in CheckName::ALL {
            r.set(n, Check::pass());
        }
        r
    }

    #[test]
    fn a_checks_facts_become_one_object_the_last_of_a_name_kept() {
        let c = Check::fail("why")
            .with("seen", "first")
            .with("date", 7)
            .with("seen", "replay");
        assert_eq!(
            c.into_json(),
            json!({"seen": "replay", "date": 7, "result": "fail", "reason": "why"})
        );
    }

    #[test]
    fn checks_keep_the_report_order_whenever_they_are_set() {
        let mut r = Report::default();
        for n in [
            CheckName::Replay,
            CheckName::Integrity,
            CheckName::InnerOuter,
        ] {
            r.set(n, Check::pass());
        }
        r.set(CheckName::Trust, Check::fail("no chain"));
        r.set(CheckName::Replay, Check::fail("replay"));
        let order: Vec<CheckName> = r.checks.iter().map(|(n, _)| *n).collect();
        let expected = [
            CheckName::Integrity,
            CheckName::Trust,
            CheckName::Replay,
            CheckName::InnerOuter,
        ];
        assert_eq!(order, expected);
        assert!(CheckName::ALL.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(r.status(CheckName::Replay), Status::Fail);
    }

    #[test]
    fn header_lists_every_check() {
        let mut r = marked();
        r.set(CheckName::Freshness, Check::new(Status::Absent));
        r.coverage.uncovered = vec!["reply-to".into(), "call-info".into()];
        r.judged_at_capture_time = true;
        let h = r.header_value();
        assert!(
            h.starts_with("signed=yes;form=sip;integrity=pass;coverage=pass")
                && h.contains("freshness=absent")
                && h.contains("inner-outer=pass;body=yes;uncovered=reply-to,call-info")
                && h.contains(";judged-at=capture-time;signer=\"sip:alice@example.com\""),
            "{h}"
        );
        assert_eq!(Report::default().header_value(), "signed=no");
        let f = r.into_fields();
        assert_eq!(f["marked"], false);
        assert_eq!(f["inner_outer"]["result"], "pass");
    }

    #[test]
    fn a_genuine_trusted_fresh_covering_signature_earns_the_mark() {
        assert_eq!(earns_mark(&marked()), Ok(()));
        let mut r = marked();
        r.coverage.body = BodyCoverage::Encrypted;
        assert_eq!(earns_mark(&r), Ok(()), "an envelope under the signature");
        r.set(CheckName::InnerOuter, Check::new(Status::NotApplicable));
        r.set(CheckName::Replay, Check::new(Status::NotApplicable));
        assert_eq!(earns_mark(&r), Ok(()), "nothing to judge is no failure");
        assert_eq!(marked().into_fields()["marked"], true);
    }

    #[test]
    fn each_rule_alone_withholds_the_mark() {
        let unsigned = Report::default();
        assert_eq!(earns_mark(&unsigned), Err(MarkRefused::NotSigned));
        for name in CheckName::ALL {
            let mut r = marked();
            r.set(name, Check::fail("x"));
            assert_eq!(
                earns_mark(&r),
                Err(MarkRefused::Check(name, Status::Fail)),
                "{name:?}"
            );
        }
        for name in [CheckName::Integrity, CheckName::Trust, CheckName::Identity] {
            let mut r = marked();
            r.set(name, Check::new(Status::NotApplicable));
            assert!(earns_mark(&r).is_err(), "{name:?} must pass");
        }
        let mut r = marked();
        r.validated = None;
        assert_eq!(earns_mark(&r), Err(MarkRefused::NoSignerName));
        // Item by item of what the signature must cover.
        let mut r = marked();
        r.coverage.identity = false;
        r.coverage.cseq = false;
        let why = earns_mark(&r).unwrap_err();
        assert_eq!(why, MarkRefused::HeadersNotCovered("From, CSeq".into()));
        assert!(why.to_string().contains("does not cover the From, CSeq"));
        let mut r = marked();
        r.coverage.call_id = false;
        assert!(matches!(earns_mark(&r), Err(MarkRefused::HeadersNotCovered(h)) if h == "Call-ID"));
        let mut r = marked();
        r.set(CheckName::Freshness, Check::new(Status::Absent));
        assert_eq!(earns_mark(&r), Err(MarkRefused::NoSignedDate));
        for body in [BodyCoverage::No, BodyCoverage::Unknown] {
            let mut r = marked();
            r.coverage.body = body;
            assert_eq!(earns_mark(&r), Err(MarkRefused::BodyNotCovered));
        }
        let mut r = marked();
        r.coverage.body = BodyCoverage::No;
        let refused = r.into_fields();
        assert_eq!(refused["marked"], false);
        assert!(refused["mark_refused"].as_str().unwrap().contains("body"));
    }
}
