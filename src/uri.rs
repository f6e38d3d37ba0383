//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) and the address-of-record key.
//!
//! PLACEHOLDER: the real parser replaces this file; the `Aor` API below is the contract.

use crate::error::{ParseError, ParseErrorKind, ParseResult};
use std::fmt;

/// An address-of-record, `user@host` with the host in lower case: the identity key used
/// everywhere (store, groups, identity checks).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aor {
    user: Option<String>,
    host: String,
}

impl Aor {
    /// Accepts `sip:user@host…`, `sips:…` or a bare `user@host`.
    pub fn parse(text: &str) -> ParseResult<Aor> {
        let rest = text
            .strip_prefix("sips:")
            .or_else(|| text.strip_prefix("sip:"))
            .unwrap_or(text);
        let rest = rest.split([';', '?', '>']).next().unwrap_or("");
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, rest),
        };
        let host = hostport
            .split(':')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err(ParseError::new(ParseErrorKind::BadUri("no host"), 0));
        }
        Ok(Aor { user, host })
    }

    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for Aor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(u) => write!(f, "{u}@{}", self.host),
            None => f.write_str(&self.host),
        }
    }
}
