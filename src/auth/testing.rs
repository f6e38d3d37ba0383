//! A member gate and the credentials its member would send, for tests here and in the relay.

use super::attribution::MemberConnections;
use super::credentials::{self, MemberFile};
use super::digest::{Algorithm, ResponseInput};
use super::gate::AuthGate;
use super::nonce::NonceKey;
use super::{Answer, AuthConfig};
use crate::uri::Aor;
use std::path::Path;

/// A gate for `callcentre.example` whose one member, `agent-7`, has the password `pw` (MD5),
/// its credentials file written in `dir`.
pub fn gate(dir: &Path) -> AuthGate {
    let path = dir.join("members");
    let agent = Aor::parse("sip:agent-7@callcentre.example").unwrap();
    credentials::update(&path, |m| m.set(&agent, b"pw", &[Algorithm::Md5])).unwrap();
    let config = AuthConfig {
        domains: vec!["callcentre.example".into()],
        ..AuthConfig::default()
    };
    AuthGate::new(
        config,
        NonceKey::from_bytes(b"k"),
        MemberFile::open(&path).unwrap(),
        MemberConnections::new(16, false),
    )
}

/// The Proxy-Authorization field (with its CRLF) agent-7 sends for `method` `uri` with
/// `password`, nonce-count 1.
pub fn proxy_authorization(method: &str, uri: &str, nonce: &str, password: &[u8]) -> String {
    let ha1 = Algorithm::Md5.ha1("agent-7", "callcentre.example", password);
    let response = Algorithm::Md5.response(
        &ha1,
        &ResponseInput {
            method: method.as_bytes(),
            uri: uri.as_bytes(),
            nonce: nonce.as_bytes(),
            nc: b"00000001",
            cnonce: b"c",
        },
    );
    format!(
        "Proxy-Authorization: Digest username=\"agent-7\", realm=\"callcentre.example\", \
         nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", \
         algorithm=MD5, cnonce=\"c\", qop=auth, nc=00000001\r\n"
    )
}

/// The nonce of a challenge's first field.
pub fn nonce(a: &Answer) -> String {
    let v = &a.fields[0].1;
    let start = v.find("nonce=\"").unwrap() + 7;
    v[start..start + v[start..].find('"').unwrap()].to_string()
}
