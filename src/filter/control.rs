//! The control header: sipsec's own data about a message (sequence number, origin,
//! attribution) carried between sipsec processes, protected by an HMAC-SHA256 with a per-run key
//! so that nothing from outside can pose as it.
//!
//! `Sipsec-Control: v1 <seq> <kind> <payload> <mac>` where `payload` is base64 of a JSON object
//! `{origin, attribution}` and `mac` is hex HMAC-SHA256 over the version, seq, kind, payload and
//! the message's Call-ID and CSeq, so a header cannot be moved to another message. A key is
//! made fresh for each run (a file created by the first process that needs it, or a descriptor
//! the launching process passes), so a header from another run never verifies.
//!
//! Every filter removes the header before the tool sees the message; it is written again on the
//! way out only with `--keep-control`, so it never leaves sipsec at an edge and never reaches an
//! inner copy made for signing or encryption.

use super::Origin;
use crate::message::{unfold, HeaderKind, Message};
use openssl::hash::MessageDigest;
use openssl::memcmp;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The header's name.
pub const HEADER: &str = "Sipsec-Control";

/// The method of the placeholder that stands for a withheld message between sipsec processes.
pub const REFUSAL_METHOD: &[u8] = b"SIPSEC-REFUSAL";

const KEY_LEN: usize = 32;

/// The per-run secret. Never printed: `Debug` shows nothing of it.
#[derive(Clone)]
pub struct ControlKey([u8; KEY_LEN]);

impl std::fmt::Debug for ControlKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControlKey(..)")
    }
}

/// Why a control key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ControlKeyError {
    #[error("control key file {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("control key file {0} is readable by others: chmod 600 it, or let sipsec create it")]
    Unsafe(String),
    #[error(
        "control key file {path} is owned by uid {owner}, not by this user (uid {user}): \
         another user could have planted it; use a fresh file of your own"
    )]
    Foreign { path: String, owner: u32, user: u32 },
    #[error("control key in {0} is not {KEY_LEN} bytes of hex")]
    Malformed(String),
}

impl ControlKey {
    pub fn generate() -> ControlKey {
        let mut key = [0u8; KEY_LEN];
        openssl::rand::rand_bytes(&mut key).expect("the OpenSSL random generator failed");
        ControlKey(key)
    }

    /// Reads the key from `path`, or creates the file (mode 0600) with a fresh key when it does
    /// not exist. Two processes of a pipeline that start at once agree on one key: the file
    /// appears whole (written aside, then linked into place, which fails if it exists).
    pub fn load_or_create(path: &Path) -> Result<ControlKey, ControlKeyError> {
        let io_err = |source| ControlKeyError::Io {
            path: path.display().to_string(),
            source,
        };
        if !path.exists() {
            let key = ControlKey::generate();
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io_err)?;
            file.write_all(hex(&key.0).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io_err)?;
            let linked = fs::hard_link(&tmp, path);
            let _ = fs::remove_file(&tmp);
            match linked {
                Ok(()) => return Ok(key),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        let meta = fs::metadata(path).map_err(io_err)?;
        let user = crate::store::fsio::effective_uid();
        if meta.uid() != user {
            return Err(ControlKeyError::Foreign {
                path: path.display().to_string(),
                owner: meta.uid(),
                user,
            });
        }
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(ControlKeyError::Unsafe(path.display().to_string()));
        }
        let mut text = String::new();
        File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .map_err(io_err)?;
        Self::from_hex(text.trim())
            .ok_or_else(|| ControlKeyError::Malformed(path.display().to_string()))
    }

    /// Reads the key from an inherited descriptor (passed by the process that launches a
    /// pipeline), then closes it.
    pub fn from_fd(fd: i32) -> Result<ControlKey, ControlKeyError> {
        use std::os::fd::FromRawFd;
        let name = format!("fd {fd}");
        // SAFETY: the descriptor was passed to this process for this purpose only; taking
        // ownership closes it after reading so children never inherit it.
        let mut file = unsafe { File::from_raw_fd(fd) };
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|source| ControlKeyError::Io {
                path: name.clone(),
                source,
            })?;
        Self::from_hex(text.trim()).ok_or(ControlKeyError::Malformed(name))
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    fn from_hex(text: &str) -> Option<ControlKey> {
        if text.len() != KEY_LEN * 2 {
            return None;
        }
        let mut key = [0u8; KEY_LEN];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(ControlKey(key))
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        let pkey = PKey::hmac(&self.0).expect("HMAC key");
        let mut signer = Signer::new(MessageDigest::sha256(), &pkey).expect("HMAC-SHA256");
        signer.update(data).expect("HMAC update");
        signer.sign_to_vec().expect("HMAC final")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the header travels with a message or stands for one a filter withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlKind {
    Message,
    Refusal,
}

impl ControlKind {
    fn token(self) -> &'static str {
        match self {
            ControlKind::Message => "msg",
            ControlKind::Refusal => "refusal",
        }
    }
}

/// What the control header says about a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlData {
    #[serde(skip)]
    pub seq: u64,
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
    /// The digest ([`crate::filter::mark::digest`]) of the marks the message carried as the
    /// filter that wrote this header passed it on: marks sipsec-verify made in this run.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub marks: Option<String>,
}

/// The result of looking for a control header.
#[derive(Debug, Clone, PartialEq)]
pub enum ControlCheck {
    Absent,
    Valid {
        kind: ControlKind,
        data: ControlData,
    },
    /// Present but not trusted; it has been removed. The reason says why.
    Invalid(String),
}

fn mac_input(message: &Message, seq: u64, kind: ControlKind, payload: &str) -> Vec<u8> {
    let mut data = format!("sipsec-control v1|{seq}|{}|{payload}|", kind.token()).into_bytes();
    data.extend_from_slice(&unfold(message.value(HeaderKind::CallId).unwrap_or(b"")));
    data.push(b'|');
    data.extend_from_slice(&unfold(message.value(HeaderKind::CSeq).unwrap_or(b"")));
    data
}

/// Removes every control header from `message` and says whether the one it carried is
/// trusted.
pub fn take(message: &mut Message, key: Option<&ControlKey>) -> ControlCheck {
    let values: Vec<Vec<u8>> = message.values_named(HEADER).map(<[u8]>::to_vec).collect();
    if values.is_empty() {
        return ControlCheck::Absent;
    }
    message.remove_named(HEADER);
    if values.len() > 1 {
        return ControlCheck::Invalid(format!("{} control headers on one message", values.len()));
    }
    let Some(key) = key else {
        return ControlCheck::Invalid("no control key given, so it cannot be trusted".into());
    };
    match verify(message, key, &values[0]) {
        Ok((kind, data)) => ControlCheck::Valid { kind, data },
        Err(why) => ControlCheck::Invalid(why.into()),
    }
}

fn verify(
    message: &Message,
    key: &ControlKey,
    value: &[u8],
) -> Result<(ControlKind, ControlData), &'static str> {
    let text = std::str::from_utf8(value).map_err(|_| "not ASCII")?;
    let parts: Vec<&str> = text.split(' ').collect();
    let [version, seq, kind, payload, mac] = parts[..] else {
        return Err("malformed");
    };
    if version != "v1" {
        return Err("unknown version");
    }
    let seq: u64 = seq.parse().map_err(|_| "malformed sequence number")?;
    let kind = match kind {
        "msg" => ControlKind::Message,
        "refusal" => ControlKind::Refusal,
        _ => return Err("unknown kind"),
    };
    let expected = key.mac(&mac_input(message, seq, kind, payload));
    let given = ControlKey::from_hex(mac)
        .map(|k| k.0)
        .ok_or("malformed MAC")?;
    if !memcmp::eq(&expected, &given) {
        return Err(
            "MAC does not verify (forged, altered, moved to another message, or from another run)",
        );
    }
    let json = openssl::base64::decode_block(payload).map_err(|_| "malformed payload")?;
    let mut data: ControlData = serde_json::from_slice(&json).map_err(|_| "malformed payload")?;
    data.seq = seq;
    Ok((kind, data))
}

/// Adds a control header (after removing any) carrying `data`.
pub fn attach(message: &mut Message, key: &ControlKey, kind: ControlKind, data: &ControlData) {
    message.remove_named(HEADER);
    let payload =
        openssl::base64::encode_block(&serde_json::to_vec(data).expect("JSON of plain data"));
    let mac = hex(&key.mac(&mac_input(message, data.seq, kind, &payload)));
    let value = format!("v1 {} {} {payload} {mac}", data.seq, kind.token());
    // Base64, hex and digits only: the value cannot break out of its line.
    message
        .append_field(HEADER, value.as_bytes())
        .expect("a control header value is one safe line");
}

/// The placeholder that stands for a withheld message between sipsec processes: it names the
/// message by its Call-ID and CSeq and carries the reason, and only verifies with the run's key.
pub fn refusal_placeholder(
    original: Option<&Message>,
    key: &ControlKey,
    data: &ControlData,
    reason: &str,
    tool: &str,
) -> Message {
    let mut head = b"SIPSEC-REFUSAL sipsec:refusal SIP/2.0\r\n".to_vec();
    for kind in [HeaderKind::CallId, HeaderKind::CSeq] {
        if let Some(value) = original.and_then(|m| m.value(kind)) {
            let value = unfold(value);
            head.extend_from_slice(kind.name().unwrap_or_default().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(&value);
            head.extend_from_slice(b"\r\n");
        }
    }
    head.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: 0\r\n\r\n");
    let mut message = Message::parse(head).expect("the placeholder is a valid message");
    let body = serde_json::json!({ "tool": tool, "reason": reason });
    message
        .set_body(body.to_string().as_bytes())
        .expect("a JSON body");
    attach(&mut message, key, ControlKind::Refusal, data);
    message
}

/// Whether a message is a refusal placeholder (trusted only with a valid control header).
pub fn is_refusal_placeholder(message: &Message) -> bool {
    message.method() == Some(REFUSAL_METHOD)
}

/// The reason a placeholder carries.
pub fn refusal_reason(message: &Message) -> String {
    serde_json::from_slice::<serde_json::Value>(message.body())
        .ok()
        .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_string))
        .unwrap_or_else(|| "withheld by an earlier filter".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message::parse(&b"INVITE sip:a@b SIP/2.0\r\nCall-ID: abc\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"[..]).unwrap()
    }

    fn data(seq: u64) -> ControlData {
        ControlData {
            seq,
            origin: Origin {
                input: Some("in.sip".into()),
                offset: Some(7),
                ..Origin::default()
            },
            attribution: Some("agent-7@callcentre.example".into()),
            marks: None,
        }
    }

    #[test]
    fn attached_header_verifies_and_is_removed() {
        let key = ControlKey::generate();
        let mut m = message();
        let original = m.as_bytes().to_vec();
        attach(&mut m, &key, ControlKind::Message, &data(42));
        assert_ne!(m.as_bytes(), &original[..]);
        let check = take(&mut m, Some(&key));
        assert_eq!(
            check,
            ControlCheck::Valid {
                kind: ControlKind::Message,
                data: data(42)
            }
        );
        assert_eq!(m.as_bytes(), &original[..]);
    }

    #[test]
    fn header_from_another_run_is_refused() {
        let mut m = message();
        attach(
            &mut m,
            &ControlKey::generate(),
            ControlKind::Message,
            &data(1),
        );
        assert!(matches!(
            take(&mut m, Some(&ControlKey::generate())),
            ControlCheck::Invalid(_)
        ));
        assert_eq!(m.values_named(HEADER).count(), 0);
    }

    #[test]
    fn header_moved_to_another_message_is_refused() {
        let key = ControlKey::generate();
        let mut m = message();
        attach(&mut m, &key, ControlKind::Message, &data(1));
        let header = m.values_named(HEADER).next().unwrap().to_vec();
        let mut other = Message::parse(&b"INVITE sip:a@b SIP/2.0\r\nCall-ID: other\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"[..]).unwrap();
        other.append_field(HEADER, &header).unwrap();
        assert!(matches!(
            take(&mut other, Some(&key)),
            ControlCheck::Invalid(_)
        ));
    }

    #[test]
    fn altered_attribution_is_refused() {
        let key = ControlKey::generate();
        let mut m = message();
        attach(&mut m, &key, ControlKind::Message, &data(1));
        let value = String::from_utf8(m.values_named(HEADER).next().unwrap().to_vec()).unwrap();
        let parts: Vec<&str> = value.split(' ').collect();
        let forged_payload = openssl::base64::encode_block(
            br#"{"origin":{},"attribution":"boss@callcentre.example"}"#,
        );
        let forged = format!(
            "v1 {} {} {} {}",
            parts[1], parts[2], forged_payload, parts[4]
        );
        let i = m.indices_of(HeaderKind::Other).next().unwrap();
        m.set_field_value(i, forged.as_bytes()).unwrap();
        assert!(matches!(take(&mut m, Some(&key)), ControlCheck::Invalid(_)));
    }

    #[test]
    fn duplicated_or_unkeyed_headers_are_refused() {
        let key = ControlKey::generate();
        let mut m = message();
        attach(&mut m, &key, ControlKind::Message, &data(1));
        let mut twice = m.clone();
        let value = twice.values_named(HEADER).next().unwrap().to_vec();
        twice.append_field("sipsec-control", &value).unwrap();
        assert!(matches!(
            take(&mut twice, Some(&key)),
            ControlCheck::Invalid(_)
        ));
        assert!(matches!(take(&mut m, None), ControlCheck::Invalid(_)));
        assert_eq!(take(&mut message(), Some(&key)), ControlCheck::Absent);
    }

    #[test]
    fn refusal_placeholder_round_trips() {
        let key = ControlKey::generate();
        let mut p = refusal_placeholder(
            Some(&message()),
            &key,
            &data(9),
            "no certificate for bob",
            "encrypt",
        );
        assert!(is_refusal_placeholder(&p));
        assert_eq!(p.value(HeaderKind::CallId), Some(&b"abc"[..]));
        assert!(matches!(
            take(&mut p, Some(&key)),
            ControlCheck::Valid {
                kind: ControlKind::Refusal,
                ..
            }
        ));
        assert_eq!(refusal_reason(&p), "no certificate for bob");
    }

    #[test]
    fn key_file_is_created_private_and_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.key");
        let a = ControlKey::load_or_create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = ControlKey::load_or_create(&path).unwrap();
        assert_eq!(a.to_hex(), b.to_hex());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            ControlKey::load_or_create(&path),
            Err(ControlKeyError::Unsafe(_))
        ));
        assert_eq!(format!("{a:?}"), "ControlKey(..)");
    }

    #[test]
    fn a_key_file_of_another_owner_is_refused() {
        if crate::store::fsio::effective_uid() != 0 {
            eprintln!("note: not root, a file of another owner cannot be made");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("planted.key");
        ControlKey::load_or_create(&path).unwrap();
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        let refused = ControlKey::load_or_create(&path);
        assert!(
            matches!(refused, Err(ControlKeyError::Foreign { owner: 65534, .. })),
            "{refused:?}"
        );
    }
}
