//! The per-message record: one JSON object a line, for `--report` and `--json`.

use super::{FailMode, Origin, Verdict};
use crate::message::{unfold, HeaderKind, Message, StartLine};
use serde::Serialize;
use serde_json::{Map, Value};

/// What became of one input item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    /// Written unchanged; the tool had nothing to do or checked it.
    Unchanged,
    /// Written changed by the tool.
    Changed,
    /// The tool failed and the run is fail-open: written byte for byte as it came.
    PassedOnFailure,
    /// The tool failed and the run is fail-closed: not written.
    Withheld,
    /// An earlier filter of the pipeline withheld it.
    WithheldUpstream,
    /// Not a SIP message that parses: not written.
    Unparsable,
    /// Bytes between messages that are not SIP: not written.
    Garbage,
    /// A capture record that could not be read as it claims (lying length, truncation, a gap).
    CaptureProblem,
    /// Something in a capture that is reported but is no defect (a TLS flow sipsec cannot read).
    CaptureNote,
}

impl Disposition {
    /// True when nothing was written for the item.
    pub fn is_refusal(self) -> bool {
        !matches!(
            self,
            Disposition::Unchanged | Disposition::Changed | Disposition::PassedOnFailure
        )
    }
}

/// Why an item was refused, and where.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub tool: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    pub disposition: Disposition,
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub len: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cseq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_mode: Option<FailMode>,
    pub verdict: Map<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
}

impl Record {
    pub fn new(tool: &'static str, disposition: Disposition, origin: Origin) -> Self {
        Record {
            tool,
            index: None,
            disposition,
            origin,
            len: None,
            method: None,
            status: None,
            call_id: None,
            cseq: None,
            from: None,
            to: None,
            attribution: None,
            fail_mode: None,
            verdict: Map::new(),
            warnings: Vec::new(),
            refusal: None,
        }
    }

    /// Fills in what the message says about itself: method or status, Call-ID, CSeq, From/To.
    pub fn describe(&mut self, message: &Message) {
        match message.start_line() {
            Some(StartLine::Request { method, .. }) => {
                self.method = Some(String::from_utf8_lossy(method).into_owned())
            }
            Some(StartLine::Response { code, .. }) => self.status = Some(code),
            None => {}
        }
        let text = |kind| {
            message
                .value(kind)
                .map(|v| String::from_utf8_lossy(&unfold(v)).into_owned())
        };
        self.call_id = text(HeaderKind::CallId);
        self.cseq = text(HeaderKind::CSeq);
        self.from = address_aor(message.from());
        self.to = address_aor(message.to());
    }

    pub fn with_verdict(mut self, verdict: Verdict) -> Self {
        self.verdict = verdict.fields;
        self.warnings.extend(verdict.warnings);
        self
    }

    pub fn to_json_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("records are plain data");
        line.push('\n');
        line
    }
}

/// The address-of-record of a From or To header, for the report (a header that does not parse
/// is reported as absent; the record still says what the message is).
fn address_aor(address: crate::error::ParseResult<crate::header::Address<'_>>) -> Option<String> {
    address.ok()?.uri().aor().map(|a| a.to_string())
}
