//! Integration tests: every behaviour is exercised through the real `seatcount` binary on
//! real files, the way users and schedulers run it.

mod common;
mod crash;
mod damaged;
mod dashboard;
mod generate;
mod hostile;
mod ingest;
mod invariants;
mod keys;
mod privacy;
mod query;
mod repl;
mod sample;
mod semantics;
mod slt;
mod udf;
