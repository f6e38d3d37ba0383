//! Where a verifier finds the credential of an x5u URI: a bounded in-memory table, then a cache
//! directory, then (when allowed) an HTTPS fetch whose answer is written to the directory.
//! A cache entry keeps the whole chain the URI served and an expiry: the earlier of the
//! configured lifetime and the earliest notAfter of the chain.
//!
//! Directory layout: for each URI, `<sha256 of the URI in hex>.pem` (the chain, signer first)
//! and `<same>.meta` (`expires <seconds since 1970>` and `x5u <URI>` lines, so that an entry is
//! never used for another URI).

use super::credential::{Credential, CredentialError, CredentialSource};
use super::fetch::{fetch, FetchPolicy};
use crate::crypto::epoch_seconds;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How many URIs the in-memory table holds; past that, expired entries go first, then any.
const MEMORY_ENTRIES: usize = 1024;
/// How long a URI whose chain could not be had is not asked for again, seconds: a stalled
/// server costs one timeout, not one per request.
const FAILURE_SECONDS: i64 = 30;

pub struct X5uResolver {
    cache_dir: Option<PathBuf>,
    fetch: Option<FetchPolicy>,
    /// Seconds a fetched or cached chain is used at most.
    lifetime: i64,
    memory: Mutex<HashMap<String, (i64, Arc<Credential>)>>,
    failures: Mutex<HashMap<String, (i64, CredentialError)>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn entry_paths(dir: &Path, x5u: &str) -> (PathBuf, PathBuf) {
    let name = hex(&openssl::sha::sha256(x5u.as_bytes()));
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.meta")),
    )
}

/// The expiry of a chain fetched at `now`: `lifetime` later, or the first notAfter.
fn expiry(credential: &Credential, now: i64, lifetime: i64) -> i64 {
    std::iter::once(&credential.cert)
        .chain(&credential.chain)
        .filter_map(|c| epoch_seconds(c.not_after()))
        .fold(now.saturating_add(lifetime), i64::min)
}

/// Writes a cache entry for `x5u` (what a fetch does, and how an operator or a test seeds the
/// cache with a chain it got otherwise).
pub fn store_entry(dir: &Path, x5u: &str, pem: &[u8], expires: i64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (pem_path, meta_path) = entry_paths(dir, x5u);
    // The chain first, the meta last: a reader that finds the meta finds the chain it names.
    let tmp = pem_path.with_extension("pem.tmp");
    std::fs::write(&tmp, pem)?;
    std::fs::rename(&tmp, &pem_path)?;
    let tmp = meta_path.with_extension("meta.tmp");
    std::fs::write(&tmp, format!("expires {expires}\nx5u {x5u}\n"))?;
    std::fs::rename(&tmp, &meta_path)
}

fn read_entry(dir: &Path, x5u: &str, now: i64) -> Option<(i64, Vec<u8>)> {
    let (pem_path, meta_path) = entry_paths(dir, x5u);
    let meta = std::fs::read_to_string(meta_path).ok()?;
    let mut expires = None;
    let mut named = None;
    for line in meta.lines() {
        match line.split_once(' ') {
            Some(("expires", v)) => expires = v.parse::<i64>().ok(),
            Some(("x5u", v)) => named = Some(v),
            _ => {}
        }
    }
    let expires = expires?;
    if named != Some(x5u) || expires <= now {
        return None;
    }
    Some((expires, std::fs::read(pem_path).ok()?))
}

impl X5uResolver {
    /// `cache_dir`: where chains are kept; `fetch`: `Some` to fetch what is not cached.
    pub fn new(cache_dir: Option<PathBuf>, fetch: Option<FetchPolicy>, lifetime: i64) -> Self {
        X5uResolver {
            cache_dir,
            fetch,
            lifetime,
            memory: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn remember(&self, x5u: &str, expires: i64, credential: Arc<Credential>, now: i64) {
        let Ok(mut memory) = self.memory.lock() else {
            return;
        };
        if memory.len() >= MEMORY_ENTRIES {
            memory.retain(|_, (exp, _)| *exp > now);
        }
        if memory.len() >= MEMORY_ENTRIES {
            if let Some(k) = memory.keys().next().cloned() {
                memory.remove(&k);
            }
        }
        memory.insert(x5u.to_owned(), (expires, credential));
    }

    fn load(&self, x5u: &str, now: i64) -> Result<(i64, Credential), CredentialError> {
        if let Some(dir) = &self.cache_dir {
            if let Some((expires, pem)) = read_entry(dir, x5u, now) {
                let c = Credential::from_pem(x5u, &pem)?;
                return Ok((expires.min(expiry(&c, now, self.lifetime)), c));
            }
        }
        let Some(policy) = &self.fetch else {
            return Err(CredentialError::Unavailable {
                x5u: x5u.into(),
                detail: "not in the x5u cache and fetching is off (--fetch-x5u)".into(),
            });
        };
        let body = fetch(x5u, policy).map_err(|e| CredentialError::Unavailable {
            x5u: x5u.into(),
            detail: e.to_string(),
        })?;
        let c = Credential::from_pem(x5u, &body)?;
        let expires = expiry(&c, now, self.lifetime);
        if let Some(dir) = &self.cache_dir {
            // A cache that cannot be written costs a fetch next time, nothing else.
            let _ = store_entry(dir, x5u, &c.to_pem(), expires);
        }
        Ok((expires, c))
    }
}

impl CredentialSource for X5uResolver {
    fn credential(&self, x5u: &str, now: i64) -> Result<Arc<Credential>, CredentialError> {
        if let Ok(memory) = self.memory.lock() {
            if let Some((expires, c)) = memory.get(x5u) {
                if *expires > now {
                    return Ok(Arc::clone(c));
                }
            }
        }
        if let Ok(failures) = self.failures.lock() {
            if let Some((until, e)) = failures.get(x5u) {
                if *until > now {
                    return Err(e.clone());
                }
            }
        }
        let (expires, c) = match self.load(x5u, now) {
            Ok(loaded) => loaded,
            Err(e) => {
                if let Ok(mut failures) = self.failures.lock() {
                    if failures.len() >= MEMORY_ENTRIES {
                        failures.retain(|_, (until, _)| *until > now);
                        if failures.len() >= MEMORY_ENTRIES {
                            failures.clear();
                        }
                    }
                    failures.insert(x5u.to_owned(), (now + FAILURE_SECONDS, e.clone()));
                }
                return Err(e);
            }
        };
        let c = Arc::new(c);
        self.remember(x5u, expires, Arc::clone(&c), now);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkit::{now, Ca, KeyKind};

    #[test]
    fn cache_directory_keeps_the_chain_and_honours_expiry_and_uri() {
        let dir = tempfile::tempdir().unwrap();
        let root = Ca::new(KeyKind::P256);
        let inter = root.sub_ca(KeyKind::P256);
        let (leaf, _) = inter.leaf(KeyKind::P256, "sip:sti@example.com");
        let mut pem = leaf.to_pem().unwrap();
        pem.extend(inter.cert.to_pem().unwrap());
        let url = "https://sti.example/cert.pem";
        store_entry(dir.path(), url, &pem, now() + 100).unwrap();
        let r = X5uResolver::new(Some(dir.path().into()), None, 3600);
        let c = r.credential(url, now()).unwrap();
        assert_eq!(c.chain.len(), 1, "the chain is kept with the certificate");
        // From memory the second time, even with the directory gone.
        drop(dir);
        assert!(r.credential(url, now()).is_ok());
        // After expiry neither memory nor directory serve it, and nothing is fetched.
        let e = r.credential(url, now() + 200).unwrap_err();
        assert!(e.to_string().contains("--fetch-x5u"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        store_entry(dir.path(), url, &pem, now() - 1).unwrap();
        let r = X5uResolver::new(Some(dir.path().into()), None, 3600);
        assert!(r.credential(url, now()).is_err(), "expired entry");
        // An entry whose meta names another URI (a copied file) is not used.
        let other = "https://other.example/cert.pem";
        store_entry(dir.path(), other, &pem, now() + 100).unwrap();
        let (_, meta) = entry_paths(dir.path(), other);
        let (_, mine) = entry_paths(dir.path(), url);
        std::fs::copy(&meta, &mine).unwrap();
        assert!(r.credential(url, now()).is_err(), "meta of another URI");
    }

    #[test]
    fn expiry_is_bounded_by_the_chain() {
        let ca = Ca::new(KeyKind::P256);
        let (leaf, _) = ca.leaf(KeyKind::P256, "sip:sti@example.com");
        let c = Credential::new("u", leaf, vec![]).unwrap();
        let t = now();
        assert_eq!(expiry(&c, t, 60), t + 60);
        let not_after = epoch_seconds(c.cert.not_after()).unwrap();
        assert_eq!(expiry(&c, t, 10 * 365 * 86_400), not_after);
    }
}
