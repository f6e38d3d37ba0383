//! The inner copy of a message: what may be put inside a signature or an envelope.
//!
//! A signed or encrypted copy travels end to end and outlives the hop it was made on, so it must
//! never carry what belongs to one hop or to sipsec itself: credentials (a replayable
//! Authorization or Proxy-Authorization would be handed to every recipient), and the headers
//! the caller names: its own control data and marks, and any header the deployment declares
//! internal.

use crate::message::{HeaderField, HeaderKind, Message};

/// The header fields that describe a body rather than the message: they move with the body
/// into the first part of a signature or into an envelope.
pub const BODY_HEADERS: [&str; 5] = [
    "Content-Type",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Transfer-Encoding",
];

/// The canonical name of `field` when it is one of [`BODY_HEADERS`] (compact forms included).
pub fn body_header_name(message: &Message, field: &HeaderField) -> Option<&'static str> {
    match field.kind {
        HeaderKind::ContentType => Some(BODY_HEADERS[0]),
        HeaderKind::ContentDisposition => Some(BODY_HEADERS[1]),
        HeaderKind::ContentEncoding => Some(BODY_HEADERS[2]),
        HeaderKind::ContentTransferEncoding => Some(BODY_HEADERS[4]),
        HeaderKind::Other
            if message
                .field_name(field)
                .eq_ignore_ascii_case(BODY_HEADERS[3].as_bytes()) =>
        {
            Some(BODY_HEADERS[3])
        }
        _ => None,
    }
}

/// Which headers never go inside: the credentials, plus the names the caller gives (its own
/// control data and marks, then the deployment's internal headers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InnerPolicy {
    /// Extra header names (any case) that are private to this caller and deployment.
    pub internal: Vec<String>,
}

impl InnerPolicy {
    /// This policy with the caller's `own` headers (removed first, in this order) before the
    /// deployment's internal ones.
    pub fn with_own(&self, own: &[&str]) -> InnerPolicy {
        let own = own.iter().map(|name| name.to_string());
        InnerPolicy {
            internal: own.chain(self.internal.iter().cloned()).collect(),
        }
    }

    /// Removes from `message` everything that must not travel inside; returns the names removed
    /// (once each), for the verdict.
    pub fn clean(&self, message: &mut Message) -> Vec<String> {
        let mut removed = Vec::new();
        let fixed = ["Authorization", "Proxy-Authorization"];
        for name in fixed
            .iter()
            .copied()
            .chain(self.internal.iter().map(String::as_str))
        {
            if message.remove_named(name) > 0 {
                removed.push(name.to_string());
            }
        }
        removed
    }

    /// A cleaned copy of `message`.
    pub fn copy(&self, message: &Message) -> Message {
        let mut copy = message.clone();
        self.clean(&mut copy);
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
From: <sip:agent-7@callcentre.example>;tag=1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: c1\r\n\
CSeq: 1 INVITE\r\n\
Authorization: Digest username=\"agent-7\", response=\"secret\"\r\n\
Proxy-Authorization: Digest username=\"agent-7\", response=\"secret2\"\r\n\
Sipsec-Control: v1 1 msg e30 00\r\n\
sipsec-verdict: verified\r\n\
X-Internal-Route: pool-3\r\n\
Content-Length: 0\r\n\r\n";

    /// The headers the tools name as their own.
    const OWN: &[&str] = &["Sipsec-Control", "Sipsec-Verdict"];

    #[test]
    fn credentials_marks_and_internal_headers_never_go_inside() {
        let msg = Message::parse(MSG).unwrap();
        let policy = InnerPolicy {
            internal: vec!["x-internal-route".into()],
        }
        .with_own(OWN);
        let copy = policy.copy(&msg);
        let text = String::from_utf8_lossy(copy.as_bytes()).to_ascii_lowercase();
        for gone in [
            "authorization",
            "secret",
            "sipsec-control",
            "sipsec-verdict",
            "x-internal-route",
        ] {
            assert!(
                !text.contains(gone),
                "{gone} left in the inner copy:\n{text}"
            );
        }
        assert!(text.contains("from: <sip:agent-7@callcentre.example>;tag=1"));
        // The original is untouched.
        assert_eq!(msg.as_bytes(), MSG);
    }

    #[test]
    fn without_internal_headers_only_the_fixed_set_goes() {
        let mut msg = Message::parse(MSG).unwrap();
        let removed = InnerPolicy::default().with_own(OWN).clean(&mut msg);
        assert_eq!(
            removed,
            [
                "Authorization",
                "Proxy-Authorization",
                "Sipsec-Control",
                "Sipsec-Verdict"
            ]
        );
        assert!(msg.values_named("X-Internal-Route").next().is_some());
    }
}
