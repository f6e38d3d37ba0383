//! The wall clock, read in one place: seconds since the Unix epoch (0 for a clock set before
//! it). Decisions that depend on time take the time as a value, so tests can pass their own.

/// Now, in seconds since the Unix epoch.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
