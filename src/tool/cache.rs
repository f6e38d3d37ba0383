//! A small time-bounded cache shared by a filter's worker threads: identities and certificates
//! are read from the store once a minute instead of once a message, and a rotation in the store
//! is still seen by a long-running process.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached value, or `load`'s (cached when it succeeds; failures are retried next time).
    pub fn get_or_try<E>(&self, key: &K, load: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        if let Ok(entries) = self.entries.lock() {
            if let Some((at, v)) = entries.get(key) {
                if at.elapsed() < self.ttl {
                    return Ok(v.clone());
                }
            }
        }
        let v = load()?;
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(key.clone(), (Instant::now(), v.clone()));
        }
        Ok(v)
    }

    /// Forgets every entry (the store changed).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_once_and_retries_failures() {
        let cache = TtlCache::new(Duration::from_secs(3600));
        let mut loads = 0;
        for _ in 0..3 {
            let v: Result<u32, ()> = cache.get_or_try(&"k", || {
                loads += 1;
                Ok(7)
            });
            assert_eq!(v, Ok(7));
        }
        assert_eq!(loads, 1);
        assert_eq!(cache.get_or_try(&"e", || Err::<u32, _>("no")), Err("no"));
        assert_eq!(cache.get_or_try(&"e", || Ok::<u32, &str>(1)), Ok(1));
        let zero = TtlCache::new(Duration::ZERO);
        let mut loads = 0;
        for _ in 0..2 {
            let _ = zero.get_or_try(&1, || {
                loads += 1;
                Ok::<_, ()>(1)
            });
        }
        assert_eq!(loads, 2, "an expired entry is loaded again");
    }
}
