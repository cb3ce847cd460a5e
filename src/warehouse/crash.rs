//! Named crash points, so the crash-safety tests can stop an ingest at each step of a commit
//! as surely as a power cut would. With `SEATCOUNT_CRASH_AT=<point>` set, the process aborts
//! at that point: no destructors, no cleanup, exactly like SIGKILL. Unset, a point costs one
//! environment lookup, and there are a handful per ingest.

/// The environment variable naming the point to crash at.
pub const CRASH_ENV: &str = "SEATCOUNT_CRASH_AT";

/// Aborts the process if `name` is the configured crash point.
pub fn point(name: &str) {
    if std::env::var_os(CRASH_ENV).is_some_and(|v| v == name) {
        std::process::abort();
    }
}
