//! How much memory the engine's pool may use. Reports over a large portfolio spill, and
//! spilling costs about as much as the rest of the report (BENCHMARKS.md), so queries get a
//! share of the machine by default; ingest streams and keeps a fixed bound.

use crate::error::{Error, Result};

/// Bounds the engine's memory, in MiB, for every command; past it, sorts and aggregations
/// spill to disk.
use crate::error::MEMORY_ENV;
/// The most ingest's default pool takes: ingest streams, so more would buy nothing, and its
/// peak must stay under 4 GiB whatever the input. Also the default for queries on a machine
/// whose memory cannot be read.
pub const INGEST_MAX_MB: u64 = 4096;
/// The smallest default pool, for machines (or containers) with very little memory.
const FLOOR_MB: u64 = 512;

/// What the pool is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Ingest: half of the machine, at most [`INGEST_MAX_MB`].
    Ingest,
    /// Reports, `sql`, the REPL and the dashboard: half of the machine.
    Query,
}

/// The pool's size in MiB: [`MEMORY_ENV`] when set, else the default for `workload` on this
/// machine. A value that is not a positive whole number of MiB is a usage error.
pub fn pool_mb(workload: Workload) -> Result<u64> {
    match std::env::var(MEMORY_ENV) {
        Ok(text) => parse_mb(&text),
        Err(std::env::VarError::NotPresent) => Ok(default_mb(workload, available_bytes())),
        Err(std::env::VarError::NotUnicode(_)) => Err(invalid("(not text)")),
    }
}

fn parse_mb(text: &str) -> Result<u64> {
    match text.trim().parse::<u64>() {
        Ok(mb) if mb > 0 => Ok(mb),
        _ => Err(invalid(text)),
    }
}

fn invalid(text: &str) -> Error {
    Error::Usage(format!(
        "{MEMORY_ENV}: '{text}' is not a positive whole number of MiB"
    ))
}

/// Half of `available` (what the process may use), never under `FLOOR_MB` (512 MiB); ingest's
/// default is also capped at [`INGEST_MAX_MB`]. Half leaves room for what the pool does
/// not count (held batches being written, the page cache that serves the scans). When the
/// machine's memory cannot be read, queries get ingest's default.
pub fn default_mb(workload: Workload, available: Option<u64>) -> u64 {
    let half = match available {
        Some(bytes) => (bytes / 2 / (1024 * 1024)).max(FLOOR_MB),
        None => INGEST_MAX_MB,
    };
    match workload {
        Workload::Query => half,
        Workload::Ingest => half.min(INGEST_MAX_MB),
    }
}

/// The memory this process may use: the machine's, or its control group's limit when that is
/// lower (a container).
fn available_bytes() -> Option<u64> {
    let mut system = sysinfo::System::new();
    system.refresh_memory();
    let total = Some(system.total_memory()).filter(|&b| b > 0)?;
    Some(match system.cgroup_limits() {
        Some(limits) if limits.total_memory > 0 => total.min(limits.total_memory),
        _ => total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * 1024 * 1024;

    #[test]
    fn queries_get_half_the_machine_and_ingest_at_most_4_gib() {
        assert_eq!(default_mb(Workload::Query, Some(24 * GIB)), 12 * 1024);
        assert_eq!(default_mb(Workload::Ingest, Some(24 * GIB)), 4096);
        assert_eq!(default_mb(Workload::Query, Some(4 * GIB)), 2048);
        assert_eq!(default_mb(Workload::Ingest, Some(4 * GIB)), 2048);
    }

    #[test]
    fn a_tiny_or_unknown_machine_still_gets_a_usable_pool() {
        assert_eq!(default_mb(Workload::Query, Some(GIB / 2)), FLOOR_MB);
        assert_eq!(default_mb(Workload::Ingest, Some(GIB / 2)), FLOOR_MB);
        assert_eq!(default_mb(Workload::Query, None), INGEST_MAX_MB);
    }

    #[test]
    fn the_setting_is_a_positive_whole_number() {
        assert_eq!(parse_mb(" 8192 ").unwrap(), 8192);
        for bad in ["", "0", "-1", "8G", "1.5"] {
            let message = parse_mb(bad).unwrap_err().to_string();
            assert!(message.contains(MEMORY_ENV), "{message}");
        }
    }
}
