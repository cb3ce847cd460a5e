//! Integration tests: every behaviour is exercised through the real `seatcount` binary on
//! real files, the way users and schedulers run it.

mod common;
mod ingest;
mod invariants;
mod keys;
mod privacy;
mod query;
mod sample;
mod semantics;
mod udf;
