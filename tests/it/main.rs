//! Integration tests: every behaviour is exercised through the real `seatcount` binary on
//! real files, the way users and schedulers run it. The metering rules themselves are tested in
//! `tests/slt/` (run by `slt.rs`), each case with its hand derivation.

#[cfg(feature = "cluster")]
mod cluster;
mod common;
mod compliance;
mod crash;
mod damaged;
mod dashboard;
mod derived;
mod evidence;
mod generate;
mod hostile;
mod ingest;
mod invariants;
mod keys;
mod privacy;
mod query;
mod repl;
mod reports;
mod sample;
mod slt;
mod udf;
mod what_if;
