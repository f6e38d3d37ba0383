//! Digests fetched from OpenSSL once per process. OpenSSL 3 resolves a legacy handle such as
//! `EVP_sha256()` to a provider's implementation on every use (a name lookup under a lock, with
//! a property query); an algorithm fetched once is used as it is, on every message of a run.

use super::DigestAlgorithm;
use openssl::md::{Md, MdRef};
use openssl::md_ctx::MdCtx;
use openssl::nid::Nid;
use std::sync::OnceLock;

/// The fetched implementation of `algorithm`; `None` for one OpenSSL lacks or sipsec does not
/// sign with.
pub(crate) fn md(algorithm: &DigestAlgorithm) -> Option<&'static MdRef> {
    static FETCHED: OnceLock<[Option<Md>; 4]> = OnceLock::new();
    let fetched = FETCHED.get_or_init(|| {
        ["SHA1", "SHA256", "SHA384", "SHA512"].map(|name| Md::fetch(None, name, None).ok())
    });
    let at = match algorithm {
        DigestAlgorithm::Sha1 => 0,
        DigestAlgorithm::Sha256 => 1,
        DigestAlgorithm::Sha384 => 2,
        DigestAlgorithm::Sha512 => 3,
        DigestAlgorithm::Other(_) => return None,
    };
    fetched[at].as_deref()
}

/// A digest value (at most SHA-512's 64 octets).
pub(crate) struct Digest {
    octets: [u8; 64],
    len: usize,
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        &self.octets[..self.len]
    }
}

/// The digest of the concatenation of `parts`.
pub(crate) fn digest(md: &MdRef, parts: &[&[u8]]) -> Option<Digest> {
    if md.type_() == Nid::SHA256 {
        let mut out = Digest {
            octets: [0; 64],
            len: 32,
        };
        out.octets[..32].copy_from_slice(&sha256_of(parts));
        return Some(out);
    }
    // A context per thread, used again for the next digest: after a digest_final,
    // digest_init starts a new digest on it. One that failed midway is dropped.
    thread_local! {
        static KEPT: std::cell::Cell<Option<MdCtx>> = const { std::cell::Cell::new(None) };
    }
    let mut ctx = match KEPT.take() {
        Some(ctx) => ctx,
        None => MdCtx::new().ok()?,
    };
    ctx.digest_init(md).ok()?;
    for part in parts {
        ctx.digest_update(part).ok()?;
    }
    let mut out = Digest {
        octets: [0; 64],
        len: md.size(),
    };
    ctx.digest_final(out.octets.get_mut(..out.len)?).ok()?;
    KEPT.set(Some(ctx));
    Some(out)
}

/// SHA-256 of the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> Option<[u8; 32]> {
    Some(sha256_of(parts))
}

/// OpenSSL's SHA-256 without the EVP layer: the same function, without a provider dispatch on
/// each init, update and final (a verified message takes three SHA-256 digests).
fn sha256_of(parts: &[&[u8]]) -> [u8; 32] {
    let mut sha = openssl::sha::Sha256::new();
    for part in parts {
        sha.update(part);
    }
    sha.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::hash::{hash, MessageDigest};

    #[test]
    fn fetched_digests_are_openssls() {
        let data = b"sipsec";
        for (algorithm, legacy) in [
            (DigestAlgorithm::Sha1, MessageDigest::sha1()),
            (DigestAlgorithm::Sha256, MessageDigest::sha256()),
            (DigestAlgorithm::Sha384, MessageDigest::sha384()),
            (DigestAlgorithm::Sha512, MessageDigest::sha512()),
        ] {
            let md = md(&algorithm).expect("fetched");
            let split = digest(md, &[&data[..2], &data[2..]]).unwrap();
            assert_eq!(
                split.as_ref(),
                &hash(legacy, data).unwrap()[..],
                "{algorithm:?}"
            );
        }
        assert!(md(&DigestAlgorithm::Other("1.2.3".into())).is_none());
        assert_eq!(
            &sha256(&[data]).unwrap()[..],
            &hash(MessageDigest::sha256(), data).unwrap()[..]
        );
    }
}
