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
    /// The name in the report (what the `Serialize` derive writes).
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Unchanged => "unchanged",
            Disposition::Changed => "changed",
            Disposition::PassedOnFailure => "passed-on-failure",
            Disposition::Withheld => "withheld",
            Disposition::WithheldUpstream => "withheld-upstream",
            Disposition::Unparsable => "unparsable",
            Disposition::Garbage => "garbage",
            Disposition::CaptureProblem => "capture-problem",
            Disposition::CaptureNote => "capture-note",
        }
    }

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

impl Refusal {
    /// A refusal of a whole item, placed where the item starts.
    pub fn at(origin: &Origin, reason: impl Into<String>) -> Refusal {
        Refusal {
            reason: reason.into(),
            byte: origin.offset,
            header: None,
        }
    }
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
            Some(StartLine::Request { method, .. }) => self.method = Some(text_of(method)),
            Some(StartLine::Response { code, .. }) => self.status = Some(code),
            None => {}
        }
        let text = |kind| message.value(kind).map(|v| text_of(&unfold(v)));
        self.call_id = text(HeaderKind::CallId);
        self.cseq = text(HeaderKind::CSeq);
        self.from = address_aor(message.from());
        self.to = address_aor(message.to());
    }

    pub fn set_verdict(&mut self, verdict: Verdict) {
        self.verdict = verdict.fields;
        self.warnings.extend(verdict.warnings);
    }

    /// The record as one JSON line. Written by hand rather than through serde: one record is
    /// written per message, and serde's escaping and map machinery cost more than framing and
    /// indexing the message. It writes exactly what the `Serialize` derive does (a test holds
    /// the two to each other).
    pub fn to_json_line(&self) -> String {
        let mut out = String::with_capacity(512);
        out.push_str("{\"tool\":");
        push_json_str(&mut out, self.tool);
        if let Some(index) = self.index {
            push_u64_field(&mut out, ",\"index\":", index);
        }
        out.push_str(",\"disposition\":");
        push_json_str(&mut out, self.disposition.as_str());
        out.push_str(",\"origin\":");
        self.origin.push_json(&mut out);
        if let Some(len) = self.len {
            push_u64_field(&mut out, ",\"len\":", len);
        }
        push_str_field(&mut out, ",\"method\":", self.method.as_deref());
        if let Some(status) = self.status {
            push_u64_field(&mut out, ",\"status\":", u64::from(status));
        }
        push_str_field(&mut out, ",\"call_id\":", self.call_id.as_deref());
        push_str_field(&mut out, ",\"cseq\":", self.cseq.as_deref());
        push_str_field(&mut out, ",\"from\":", self.from.as_deref());
        push_str_field(&mut out, ",\"to\":", self.to.as_deref());
        push_str_field(&mut out, ",\"attribution\":", self.attribution.as_deref());
        if let Some(mode) = &self.fail_mode {
            out.push_str(",\"fail_mode\":");
            push_json_value(&mut out, mode);
        }
        out.push_str(",\"verdict\":");
        push_json_object(&mut out, &self.verdict);
        if !self.warnings.is_empty() {
            out.push_str(",\"warnings\":");
            push_json_value(&mut out, &self.warnings);
        }
        if let Some(refusal) = &self.refusal {
            out.push_str(",\"refusal\":");
            push_json_value(&mut out, refusal);
        }
        out.push_str("}\n");
        out
    }
}

impl Origin {
    /// Writes what the `Serialize` derive writes (see [`Record::to_json_line`]).
    fn push_json(&self, out: &mut String) {
        let mut first = true;
        // `name` comes quoted and with its colon: one copy a key (a record's many short
        // copies were a tenth of writing it).
        let mut key = |out: &mut String, name: &str| {
            out.push(if first { '{' } else { ',' });
            first = false;
            out.push_str(name);
        };
        if let Some(input) = &self.input {
            key(out, "\"input\":");
            push_json_str(out, input);
        }
        if let Some(offset) = self.offset {
            key(out, "\"offset\":");
            crate::uri::push_u64(out, offset);
        }
        if !self.frames.is_empty() {
            key(out, "\"frames\":");
            for (i, frame) in self.frames.iter().enumerate() {
                out.push(if i == 0 { '[' } else { ',' });
                crate::uri::push_u64(out, *frame);
            }
            out.push(']');
        }
        if let Some(t) = self.timestamp {
            key(out, "\"timestamp\":");
            out.push_str("{\"secs\":");
            crate::uri::push_u64(out, t.secs);
            out.push_str(",\"nanos\":");
            crate::uri::push_u64(out, u64::from(t.nanos));
            out.push('}');
        }
        if let Some(transport) = &self.transport {
            key(out, "\"transport\":");
            push_json_str(out, transport.as_str());
        }
        for (name, addr) in [("\"src\":", &self.src), ("\"dst\":", &self.dst)] {
            if let Some(addr) = addr {
                key(out, name);
                out.push('"');
                super::push_socket_addr(out, addr);
                out.push('"');
            }
        }
        if first {
            out.push('{');
        }
        out.push('}');
    }
}

/// `key` is the whole `,"name":` text, copied in one piece (see `Origin::push_json`).
fn push_u64_field(out: &mut String, key: &str, value: u64) {
    out.push_str(key);
    crate::uri::push_u64(out, value);
}

/// `key` as for [`push_u64_field`].
fn push_str_field(out: &mut String, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        out.push_str(key);
        push_json_str(out, value);
    }
}

/// Anything rarer or nested (the tool's verdict, warnings, refusals) goes through serde_json.
fn push_json_value<T: Serialize + ?Sized>(out: &mut String, value: &T) {
    out.push_str(&serde_json::to_string(value).expect("records are plain data"));
}

/// A verdict's fields: the common values (strings, booleans, objects of them) written
/// directly, numbers and arrays through serde_json.
fn push_json_object(out: &mut String, fields: &Map<String, Value>) {
    let mut first = true;
    for (name, value) in fields {
        out.push(if first { '{' } else { ',' });
        first = false;
        push_json_str(out, name);
        out.push(':');
        match value {
            Value::String(text) => push_json_str(out, text),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Object(inner) => push_json_object(out, inner),
            other => push_json_value(out, other),
        }
    }
    if first {
        out.push('{');
    }
    out.push('}');
}

/// Bytes a JSON string cannot hold as they are: control characters, `"` and `\`.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// True when a byte of `text` is in [`NEEDS_ESCAPE`]. Eight bytes at a time, with the
/// "has a byte below n" and "has a zero byte" word tricks (both exact): a record's strings (the
/// input path on every line among them) were otherwise looked up byte by byte.
fn needs_escape(text: &[u8]) -> bool {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS != 0;
    let mut words = text.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        if below(w, 0x20) || below(w ^ (ONES * 0x22), 1) || below(w ^ (ONES * 0x5c), 1) {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| NEEDS_ESCAPE[usize::from(b)])
}

/// A JSON string: copied as it is when nothing in it needs escaping (the common case),
/// otherwise escaped by serde_json.
fn push_json_str(out: &mut String, text: &str) {
    if !needs_escape(text.as_bytes()) {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        push_json_value(out, text);
    }
}

/// Header text for the report: valid UTF-8 (nearly always ASCII) copied as it is, anything else
/// with replacement characters (`from_utf8_lossy` walks the text in chunks even when valid).
fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The address-of-record of a From or To header, for the report (a header that does not parse
/// is reported as absent; the record still says what the message is).
fn address_aor(address: crate::error::ParseResult<crate::header::Address<'_>>) -> Option<String> {
    address.ok()?.uri().aor_key()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{IpProtocol, Timestamp};

    fn records() -> Vec<Record> {
        let mut plain = Record::new("verify", Disposition::Changed, Origin::default());
        plain.index = Some(7);
        let mut full = Record::new(
            "sign",
            Disposition::Withheld,
            Origin {
                input: Some("dir/\"odd\"\\name\u{1}.pcap".into()),
                offset: Some(12),
                frames: vec![3, 4],
                timestamp: Some(Timestamp {
                    secs: 1_700_000_000,
                    nanos: 5,
                }),
                transport: Some(IpProtocol::Tcp),
                src: Some("192.0.2.1:5060".parse().unwrap()),
                dst: Some("[2001:db8::2]:5061".parse().unwrap()),
            },
        );
        full.index = Some(0);
        full.len = Some(99);
        full.method = Some("INVITE".into());
        full.status = Some(200);
        full.call_id = Some("a\tb\"c".into());
        full.cseq = Some("1 INVITE".into());
        full.from = Some("alice@example.com".into());
        full.to = Some("b\u{e9}b@example.com".into());
        full.attribution = Some("agent-1@callcentre.example".into());
        full.fail_mode = Some(FailMode::Closed);
        full.verdict.insert(
            "integrity".into(),
            serde_json::json!({"result": "fail", "depth": 2, "names": ["a", "b\"c"], "ok": true,
                "nested": {"x": null, "y": 1.5, "z": {}}}),
        );
        full.verdict
            .insert("signed".into(), serde_json::json!(false));
        full.warnings = vec!["w\n1".into()];
        full.refusal = Some(Refusal {
            reason: "why".into(),
            byte: Some(12),
            header: Some("From".into()),
        });
        vec![plain, full]
    }

    #[test]
    fn names_are_what_serde_writes() {
        use Disposition::*;
        for d in [
            Unchanged,
            Changed,
            PassedOnFailure,
            Withheld,
            WithheldUpstream,
            Unparsable,
            Garbage,
            CaptureProblem,
            CaptureNote,
        ] {
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str(), "{d:?}");
        }
        for t in [IpProtocol::Udp, IpProtocol::Tcp] {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str(), "{t:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn escapes_are_found_where_serde_would_make_them(text in "[ -~\t\n\u{0}\u{1f}\u{7f}é\"\\\\]{0,40}") {
            let escaped = serde_json::to_string(&text).unwrap();
            proptest::prop_assert_eq!(needs_escape(text.as_bytes()), escaped.len() != text.len() + 2);
        }
    }

    #[test]
    fn hand_written_json_is_what_serde_writes() {
        for record in records() {
            let line = record.to_json_line();
            assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
            assert_eq!(line.trim_end(), serde_json::to_string(&record).unwrap());
        }
    }
}
