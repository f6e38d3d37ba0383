//! Stateless nonces: what a challenge carries is checked later with the key alone, no table.
//!
//! A nonce is base64 of `version | flags | issued (u64, big-endian) | salt (8 bytes) | tag`,
//! where the tag is HMAC-SHA256 (first 16 bytes) over those fields, the realm and, for a nonce
//! issued over UDP, the source address: a UDP source can be spoofed, so a nonce handed to one
//! address is worthless from another. The salt makes every nonce distinct, so that nonce-counts
//! can be kept per nonce. The key is drawn per process: a nonce from before a restart, or from
//! another relay, does not verify.

use openssl::hash::MessageDigest;
use openssl::memcmp;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use std::net::IpAddr;

const VERSION: u8 = 1;
/// The nonce is bound to the source address it was issued to.
const BOUND_TO_ADDRESS: u8 = 1;
const TAG_LEN: usize = 16;
const SALT_LEN: usize = 8;
const RAW_LEN: usize = 2 + 8 + SALT_LEN + TAG_LEN;

/// The secret nonces are made with. Never printed.
pub struct NonceKey {
    hmac: PKey<Private>,
}

impl std::fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

/// What a nonce is known by in the nonce-count table: when it was issued and its salt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NonceId {
    pub issued: u64,
    pub salt: [u8; SALT_LEN],
}

/// What checking a nonce found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Ours, for this realm and source, and alive.
    Fresh(NonceId),
    /// Ours, but older than the lifetime: the client is told `stale=true` (if its digest is
    /// right) and retries with a new one without asking its user.
    Expired(NonceId),
    /// Not made with this key for this realm (another relay, a restart, altered, or forged).
    Foreign,
    /// Ours, but issued to another address (UDP) or issued over a reliable transport and now
    /// used over UDP.
    WrongSource,
    /// Not a nonce of ours at all (length, encoding, version).
    Malformed,
}

impl NonceKey {
    pub fn generate() -> NonceKey {
        let mut key = [0u8; 32];
        openssl::rand::rand_bytes(&mut key).expect("the OpenSSL random generator failed");
        NonceKey::from_bytes(&key)
    }

    /// A fixed key (tests, reproducible transcripts).
    pub fn from_bytes(key: &[u8]) -> NonceKey {
        NonceKey {
            hmac: PKey::hmac(key).expect("HMAC key"),
        }
    }

    fn tag(&self, head: &[u8], realm: &str, source: Option<IpAddr>) -> [u8; TAG_LEN] {
        let mut signer = Signer::new(MessageDigest::sha256(), &self.hmac).expect("HMAC-SHA256");
        let mut update = |d: &[u8]| signer.update(d).expect("HMAC update");
        update(b"sipsec-nonce\0");
        update(head);
        update(&(realm.len() as u64).to_be_bytes());
        update(realm.as_bytes());
        match source {
            Some(IpAddr::V4(a)) => update(&a.octets()),
            Some(IpAddr::V6(a)) => update(&a.octets()),
            None => {}
        }
        let full = signer.sign_to_vec().expect("HMAC final");
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// A new nonce for `realm` at `now`; `bind_to` is the source address for UDP.
    pub fn issue(&self, realm: &str, now: u64, bind_to: Option<IpAddr>) -> String {
        let mut salt = [0u8; SALT_LEN];
        openssl::rand::rand_bytes(&mut salt).expect("the OpenSSL random generator failed");
        self.issue_with_salt(realm, now, bind_to, salt)
    }

    fn issue_with_salt(
        &self,
        realm: &str,
        now: u64,
        bind_to: Option<IpAddr>,
        salt: [u8; SALT_LEN],
    ) -> String {
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.push(VERSION);
        raw.push(if bind_to.is_some() {
            BOUND_TO_ADDRESS
        } else {
            0
        });
        raw.extend_from_slice(&now.to_be_bytes());
        raw.extend_from_slice(&salt);
        let tag = self.tag(&raw, realm, bind_to);
        raw.extend_from_slice(&tag);
        openssl::base64::encode_block(&raw)
    }

    /// Checks a nonce presented with credentials for `realm` from `source` at `now`.
    /// `over_udp`: a nonce not bound to an address is refused over UDP.
    pub fn check(
        &self,
        nonce: &[u8],
        realm: &str,
        source: IpAddr,
        over_udp: bool,
        now: u64,
        lifetime: u64,
    ) -> NonceCheck {
        let Some(raw) = std::str::from_utf8(nonce)
            .ok()
            .filter(|t| t.len() <= 4 * RAW_LEN.div_ceil(3))
            .and_then(|t| openssl::base64::decode_block(t).ok())
            .filter(|r| r.len() == RAW_LEN && r[0] == VERSION)
        else {
            return NonceCheck::Malformed;
        };
        let (head, tag) = raw.split_at(RAW_LEN - TAG_LEN);
        let bound = match head[1] {
            0 => false,
            BOUND_TO_ADDRESS => true,
            _ => return NonceCheck::Malformed,
        };
        if !memcmp::eq(&self.tag(head, realm, bound.then_some(source)), tag) {
            // Bound to an address, it may be ours for another one: tell that apart only by
            // the tag, so nothing is believed before the tag verifies.
            return NonceCheck::Foreign;
        }
        if over_udp && !bound {
            return NonceCheck::WrongSource;
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&head[2..10]);
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&head[10..10 + SALT_LEN]);
        let id = NonceId {
            issued: u64::from_be_bytes(issued),
            salt,
        };
        if id.issued > now {
            // Made with our key but in our future: only a clock that went back does that.
            return NonceCheck::Expired(id);
        }
        if now - id.issued > lifetime {
            NonceCheck::Expired(id)
        } else {
            NonceCheck::Fresh(id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REALM: &str = "callcentre.example";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn fresh_nonce_verifies_and_each_is_distinct() {
        let key = NonceKey::generate();
        let a = key.issue(REALM, 100, Some(ip("127.0.0.1")));
        let b = key.issue(REALM, 100, Some(ip("127.0.0.1")));
        assert_ne!(a, b);
        let check = key.check(a.as_bytes(), REALM, ip("127.0.0.1"), true, 130, 300);
        assert!(matches!(
            check,
            NonceCheck::Fresh(NonceId { issued: 100, .. })
        ));
    }

    #[test]
    fn expired_nonce_is_told_apart_from_a_foreign_one() {
        let key = NonceKey::generate();
        let n = key.issue(REALM, 100, None);
        assert!(matches!(
            key.check(n.as_bytes(), REALM, ip("::1"), false, 401, 300),
            NonceCheck::Expired(_)
        ));
        assert!(matches!(
            key.check(n.as_bytes(), REALM, ip("::1"), false, 400, 300),
            NonceCheck::Fresh(_)
        ));
        // Issued "later" than now: a clock step back; never fresh.
        assert!(matches!(
            key.check(n.as_bytes(), REALM, ip("::1"), false, 99, 300),
            NonceCheck::Expired(_)
        ));
    }

    #[test]
    fn nonce_from_another_key_or_realm_is_foreign() {
        let key = NonceKey::generate();
        let other = NonceKey::generate();
        let n = other.issue(REALM, 100, None);
        assert_eq!(
            key.check(n.as_bytes(), REALM, ip("::1"), false, 100, 300),
            NonceCheck::Foreign
        );
        let n = key.issue("other.example", 100, None);
        assert_eq!(
            key.check(n.as_bytes(), REALM, ip("::1"), false, 100, 300),
            NonceCheck::Foreign
        );
    }

    #[test]
    fn udp_nonce_from_another_address_is_refused() {
        let key = NonceKey::generate();
        let n = key.issue(REALM, 100, Some(ip("192.0.2.1")));
        assert_eq!(
            key.check(n.as_bytes(), REALM, ip("192.0.2.2"), true, 100, 300),
            NonceCheck::Foreign
        );
        // A nonce handed out over TCP is not good for UDP, where it could come from anyone.
        let n = key.issue(REALM, 100, None);
        assert_eq!(
            key.check(n.as_bytes(), REALM, ip("192.0.2.1"), true, 100, 300),
            NonceCheck::WrongSource
        );
    }

    #[test]
    fn altered_timestamp_or_flags_do_not_verify() {
        let key = NonceKey::from_bytes(b"fixed key for this test");
        let n = key.issue_with_salt(REALM, 100, Some(ip("192.0.2.1")), [7; SALT_LEN]);
        let mut raw = openssl::base64::decode_block(&n).unwrap();
        raw[9] ^= 1; // issued 101 instead of 100: a longer life
        let forged = openssl::base64::encode_block(&raw);
        assert_eq!(
            key.check(forged.as_bytes(), REALM, ip("192.0.2.1"), true, 100, 300),
            NonceCheck::Foreign
        );
        let mut raw = openssl::base64::decode_block(&n).unwrap();
        raw[1] = 0; // claims not to be bound to an address
        let forged = openssl::base64::encode_block(&raw);
        assert_eq!(
            key.check(forged.as_bytes(), REALM, ip("192.0.2.9"), false, 100, 300),
            NonceCheck::Foreign
        );
    }

    #[test]
    fn malformed_nonces() {
        let key = NonceKey::generate();
        for n in [
            &b""[..],
            b"not base64 at all!",
            b"AAAA",
            "A".repeat(4000).as_bytes(),
            "\u{e9}".as_bytes(),
        ] {
            assert_eq!(
                key.check(n, REALM, ip("::1"), false, 0, 300),
                NonceCheck::Malformed
            );
        }
        let mut raw = openssl::base64::decode_block(&key.issue(REALM, 1, None)).unwrap();
        raw[0] = 2;
        let n = openssl::base64::encode_block(&raw);
        assert_eq!(
            key.check(n.as_bytes(), REALM, ip("::1"), false, 1, 300),
            NonceCheck::Malformed
        );
    }

    #[test]
    fn key_is_not_printed() {
        assert_eq!(format!("{:?}", NonceKey::generate()), "NonceKey(..)");
    }
}
