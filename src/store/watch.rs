//! When a long-running tool looks at its store again: a few `stat` calls at most once per
//! [`RECHECK`], and at once after SIGHUP. A revoked certificate, a new anchor or a member removed
//! from a group is then seen by the next message but one second at most.

use super::Lookup;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

/// How long a change of the store may go unseen by a running tool.
pub const RECHECK: Duration = Duration::from_secs(1);

/// SIGHUPs received; each [`Watch`] remembers how many it has seen.
static HANGUPS: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_hangup(_: libc::c_int) {
    look_again();
}

/// Makes SIGHUP ask every [`Watch`] of the process to look at the store now (instead of ending
/// the process, SIGHUP's default).
pub fn look_again_on_sighup() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGHUP, on_hangup as *const () as libc::sighandler_t);
    }
}

/// Asks every [`Watch`] of the process to look at the store now: what SIGHUP does, for a
/// process that handles the signal itself (the relay, whose chains run tools in process).
pub fn look_again() {
    HANGUPS.fetch_add(1, Ordering::SeqCst);
}

/// Says when it is time to look at the store again.
pub struct Watch {
    /// The next look, and the SIGHUPs seen so far.
    state: Mutex<(Instant, u64)>,
}

impl Default for Watch {
    fn default() -> Self {
        Watch {
            state: Mutex::new((Instant::now() + RECHECK, HANGUPS.load(Ordering::SeqCst))),
        }
    }
}

impl Watch {
    /// True once per [`RECHECK`], and at once after a SIGHUP.
    pub fn due(&self) -> bool {
        let hangups = HANGUPS.load(Ordering::SeqCst);
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            return true;
        };
        let (next, seen) = *state;
        if now < next && hangups == seen {
            return false;
        }
        *state = (now + RECHECK, hangups);
        true
    }
}

/// A tool's store, looked at again when due: what a long-running tool holds instead of a bare
/// [`Lookup`].
pub struct WatchedStore {
    lookup: RwLock<Box<dyn Lookup>>,
    watch: Watch,
}

impl WatchedStore {
    pub fn new(lookup: impl Lookup + 'static) -> WatchedStore {
        WatchedStore {
            lookup: RwLock::new(Box::new(lookup)),
            watch: Watch::default(),
        }
    }

    pub fn get(&self) -> RwLockReadGuard<'_, Box<dyn Lookup>> {
        self.lookup.read().unwrap_or_else(|e| e.into_inner())
    }

    /// When due ([`Watch::due`]), rereads the store if it changed; true when it did, so that
    /// the caller drops what it derived from it. A store that cannot be read now counts as
    /// unchanged: the tool goes on with what it read before.
    pub fn changed(&self) -> bool {
        if !self.watch.due() {
            return false;
        }
        let mut lookup = self.lookup.write().unwrap_or_else(|e| e.into_inner());
        matches!(lookup.reload_if_changed(), Ok(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_once_a_second_and_at_once_on_a_hangup() {
        let w = Watch::default();
        assert!(!w.due(), "not at once");
        w.state.lock().unwrap().0 = Instant::now();
        assert!(w.due());
        assert!(!w.due(), "then not for a second");
        look_again_on_sighup();
        // SAFETY: raising a signal whose handler only stores to an atomic.
        unsafe {
            libc::raise(libc::SIGHUP);
        }
        assert!(w.due());
        assert!(!w.due());
    }
}
