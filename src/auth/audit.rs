//! The audit log: one JSON line for every signature the relay made as a group, saying which
//! member it was made for, on what grounds, which message and when. The group's signature
//! hides the member from the far end by design; this log is how the call centre can still
//! answer "who said that".

use super::attribution::Attribution;
use crate::message::{unfold, HeaderKind, Message};
use crate::relay::Peer;
use crate::uri::Aor;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Which message a record is about: enough to find it in a capture or a call log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageRef {
    /// The request's method, or the method of the request a response answers (its CSeq).
    pub method: String,
    /// The status code of a response; absent for a request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub call_id: String,
    pub cseq: String,
}

impl MessageRef {
    pub fn of(message: &Message) -> MessageRef {
        let text = |kind| {
            message
                .value(kind)
                .map(|v| String::from_utf8_lossy(&unfold(v)).into_owned())
                .unwrap_or_default()
        };
        let cseq = text(HeaderKind::CSeq);
        let method = match message.method() {
            Some(m) => String::from_utf8_lossy(m).into_owned(),
            None => cseq.rsplit(' ').next().unwrap_or_default().to_string(),
        };
        MessageRef {
            method,
            status: message.status_code(),
            call_id: text(HeaderKind::CallId),
            cseq,
        }
    }
}

/// One signature made as a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// When, in Unix seconds.
    pub time: i64,
    /// The member the message was attributed to.
    pub member: String,
    /// How the attribution was established (`digest-sha-256`, `registered-connection`, …).
    pub basis: &'static str,
    /// The identity the signature was made as.
    pub signed_as: String,
    /// Where the message came from (`tls:192.0.2.7:40000`).
    pub from: String,
    pub message: MessageRef,
}

impl AuditRecord {
    pub fn new(
        time: i64,
        attribution: &Attribution,
        signed_as: &Aor,
        from: Peer,
        message: &Message,
    ) -> AuditRecord {
        AuditRecord {
            time,
            member: format!("sip:{}", attribution.member),
            basis: attribution.basis.name(),
            signed_as: format!("sip:{signed_as}"),
            from: from.to_string(),
            message: MessageRef::of(message),
        }
    }
}

/// The log file, appended to; each record is one `write` of one line, so lines from several
/// writers never interleave.
#[derive(Debug)]
pub struct AuditLog {
    file: File,
}

impl AuditLog {
    /// Opens (or creates, mode 0600: it names members) the log for appending.
    pub fn open(path: &Path) -> io::Result<AuditLog> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(AuditLog { file })
    }

    pub fn record(&mut self, record: &AuditRecord) -> io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::attribution::Basis;
    use crate::auth::digest::Algorithm;

    #[test]
    fn one_json_line_per_signature() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut log = AuditLog::open(&path).unwrap();
        let ok = Message::parse(
            &b"SIP/2.0 200 OK\r\nCall-ID: c\"1\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let attribution = Attribution {
            member: Aor::parse("sip:agent-7@callcentre.example").unwrap(),
            basis: Basis::RegisteredConnection,
        };
        let group = Aor::parse("sip:support@callcentre.example").unwrap();
        let from: Peer = "tls:127.0.0.1:40000".parse().unwrap();
        log.record(&AuditRecord::new(
            1_700_000_000,
            &attribution,
            &group,
            from,
            &ok,
        ))
        .unwrap();
        let invite = Message::parse(
            &b"INVITE sip:x@y SIP/2.0\r\nCall-ID: c2\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let digest = Attribution {
            basis: Basis::Digest(Algorithm::Sha256),
            ..attribution
        };
        log.record(&AuditRecord::new(
            1_700_000_001,
            &digest,
            &group,
            from,
            &invite,
        ))
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            lines[0],
            serde_json::json!({
                "time": 1_700_000_000,
                "member": "sip:agent-7@callcentre.example",
                "basis": "registered-connection",
                "signed_as": "sip:support@callcentre.example",
                "from": "tls:127.0.0.1:40000",
                "message": {"method": "INVITE", "status": 200, "call_id": "c\"1", "cseq": "7 INVITE"}
            })
        );
        assert_eq!(lines[1]["basis"], "digest-sha-256");
        assert!(lines[1]["message"].get("status").is_none());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
