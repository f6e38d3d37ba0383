//! The filter contract: what every sipsec tool is, written once.
//!
//! A tool is a [`Filter`]: a function from one message (and what is known of where it came
//! from) to a [`Processed`] message with its verdict, or a [`Failure`]. The [`driver`] owns
//! everything else: reading and framing inputs, order, `--jobs`, fail-open and fail-closed,
//! the report records, exit codes and the [`control`] header that carries sequence, origin and
//! attribution between sipsec processes.
//!
//! Every input message yields exactly one outcome, in input order:
//! - the tool processed it: the message (changed or not) is written, with its verdict;
//! - the tool failed and the run is fail-open: the original bytes are written unchanged, with a
//!   warning;
//! - the tool failed and the run is fail-closed: nothing is written for it, and a refusal
//!   record says what, where and why (between sipsec processes a refusal placeholder keeps
//!   inputs and outputs paired);
//! - the bytes did not parse as SIP: a refusal record (never passed on: it is not a message).

pub mod control;
pub mod driver;
pub mod mark;
pub mod report;

use crate::capture::{IpProtocol, Timestamp};
use crate::message::Message;
use crate::uri::Aor;
use serde::Serialize;
use serde_json::{Map, Value};
use std::net::SocketAddr;
use std::sync::Arc;

/// Where a message came from, as far as sipsec knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Origin {
    /// The input it was read from (file name, `-` for stdin, or a capture).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Arc<str>>,
    /// Byte offset of the message in that input (stream inputs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Capture frame numbers (as tshark counts them) that carried it.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub frames: Vec<u64>,
    /// Capture time of the frame that completed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<IpProtocol>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "socket_addr_text"
    )]
    pub src: Option<SocketAddr>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "socket_addr_text"
    )]
    pub dst: Option<SocketAddr>,
}

/// `192.0.2.1:5060` / `[2001:db8::1]:5060`, as `SocketAddr`'s `Display` writes it, but without
/// the formatting machinery for IPv4: one record per message is written, and `Ipv4Addr`'s
/// `Display` was the largest single cost of a `--json` run over a capture.
fn socket_addr_text<S: serde::Serializer>(
    addr: &Option<SocketAddr>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match addr {
        Some(addr) => {
            let mut text = String::with_capacity(21);
            push_socket_addr(&mut text, addr);
            s.serialize_str(&text)
        }
        None => s.serialize_none(),
    }
}

fn push_socket_addr(text: &mut String, addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(v4) => {
            crate::uri::push_ipv4(text, *v4.ip());
            text.push(':');
            crate::uri::push_u64(text, u64::from(v4.port()));
        }
        SocketAddr::V6(_) => text.push_str(&addr.to_string()),
    }
}

impl Origin {
    /// A message read from a capture.
    pub fn from_capture(input: &Arc<str>, capture: crate::capture::CaptureOrigin) -> Origin {
        Origin {
            input: Some(Arc::clone(input)),
            offset: None,
            frames: capture.frames,
            timestamp: Some(capture.timestamp),
            transport: Some(capture.transport),
            src: Some(capture.src),
            dst: Some(capture.dst),
        }
    }

    /// The capture origin, when the message came from one (for `--pcap-out`).
    pub fn capture(&self) -> Option<crate::capture::CaptureOrigin> {
        Some(crate::capture::CaptureOrigin {
            frames: self.frames.clone(),
            timestamp: self.timestamp?,
            src: self.src?,
            dst: self.dst?,
            transport: self.transport?,
        })
    }
}

/// What the tool knows about a message besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct MessageContext {
    /// The message's sequence number in the run (carried across a pipeline by the control
    /// header, so every filter's report names the same message by the same number).
    pub index: u64,
    pub origin: Origin,
    /// The authenticated member the message comes from, trusted only from a control header
    /// whose MAC verified: a process holding the run's key vouches for it, never a header of
    /// the message itself.
    pub attribution: Option<Aor>,
    /// The marks the message carries that a sipsec-verify of this run made (the control
    /// header's MAC vouches for them). Every other incoming mark is removed before a tool that
    /// does not judge marks itself sees the message.
    pub marks: Vec<String>,
}

/// A tool's statement about a message: named checks and facts, plus warnings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    pub fields: Map<String, Value>,
    pub warnings: Vec<String>,
}

impl Verdict {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a named check or fact.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> &mut Self {
        self.fields.insert(key.to_string(), value.into());
        self
    }

    pub fn warn(&mut self, warning: impl Into<String>) -> &mut Self {
        self.warnings.push(warning.into());
        self
    }
}

/// A message the tool handled.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The changed message, or `None` when the tool left it as it was.
    pub message: Option<Message>,
    pub verdict: Verdict,
}

impl Processed {
    pub fn unchanged(verdict: Verdict) -> Self {
        Self {
            message: None,
            verdict,
        }
    }

    pub fn changed(message: Message, verdict: Verdict) -> Self {
        Self {
            message: Some(message),
            verdict,
        }
    }
}

/// A message the tool could not handle, or refuses. The run's fail mode decides whether the
/// original passes on unchanged (with the reason as a warning) or is withheld.
#[derive(Debug, Clone)]
pub struct Failure {
    pub reason: String,
    /// What the tool found before failing (e.g. each check of a verification).
    pub verdict: Verdict,
}

impl Failure {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            verdict: Verdict::default(),
        }
    }

    pub fn with_verdict(reason: impl Into<String>, verdict: Verdict) -> Self {
        Self {
            reason: reason.into(),
            verdict,
        }
    }
}

/// What a worker made of a message: the outcome, or the step left for input order.
pub enum Examined<'f> {
    /// The outcome does not depend on any other message.
    Decided(Result<Processed, Failure>),
    /// The outcome depends on the messages before this one: the driver takes the step after
    /// every earlier message's, and before any later one's.
    InOrder(Box<dyn InOrderStep + 'f>),
}

/// The order-dependent end of a message's handling (for sipsec-verify: the replay decision and
/// everything that rests on it). It should be cheap: the driver takes the steps one at a time.
pub trait InOrderStep: Send {
    fn decide(self: Box<Self>) -> Result<Processed, Failure>;
}

impl Examined<'_> {
    /// The outcome now, for a caller that hands messages over in input order itself.
    pub fn decide(self) -> Result<Processed, Failure> {
        match self {
            Examined::Decided(outcome) => outcome,
            Examined::InOrder(step) => step.decide(),
        }
    }
}

/// Whether a message the tool could not handle passes on unchanged or is withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailMode {
    Open,
    Closed,
}

/// One sipsec tool: a transformation of one message. Implementations are shared between the
/// driver's worker threads, so state they keep across messages is behind their own locks.
pub trait Filter: Sync {
    /// The tool's name in reports (`sign`, `verify`, …).
    fn name(&self) -> &'static str;

    /// The fail mode when the user gives neither `--fail-open` nor `--fail-closed`.
    fn default_fail_mode(&self) -> FailMode;

    /// Handles one message. The control header has already been removed and its content put in
    /// `context`; the tool never sees it. Messages given in input order are judged as the
    /// driver judges them, whatever [`Filter::examine`] leaves for later.
    fn process(&self, message: &Message, context: &MessageContext) -> Result<Processed, Failure>;

    /// Handles one message on any of the driver's workers, in whatever order they come: the
    /// part of the decision that depends on the messages before it (sipsec-verify's replay
    /// cache) is left as a step the driver takes in input order. By default nothing is.
    fn examine(&self, message: &Message, context: &MessageContext) -> Examined<'_> {
        Examined::Decided(self.process(message, context))
    }

    /// True for the tool that judges incoming marks and makes its own (sipsec-verify). For
    /// every other tool the driver removes the marks no sipsec-verify of this run made, and
    /// refuses output with a mark that is neither its input's vouched ones nor its own.
    fn judges_marks(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_addresses_serialise_as_socket_addr_display_does() {
        for text in [
            "192.0.2.1:5060",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[2001:db8::1]:5061",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            let origin = Origin {
                src: Some(addr),
                ..Origin::default()
            };
            let json = serde_json::to_value(&origin).unwrap();
            assert_eq!(json["src"], addr.to_string());
            let back: Origin = serde_json::from_value(json).unwrap();
            assert_eq!(back.src, Some(addr));
        }
    }
}
