//! The SQL files under `sql/`, compiled into the binary so an installed seatcount needs no
//! files beside it. The files are the semantics; Rust only loads and runs them.

/// Normalization and hashing of validated input rows (`sql/ingest/normalize.sql`).
pub const INGEST_NORMALIZE: &str = include_str!("../../sql/ingest/normalize.sql");
/// event_id de-duplication of one month of staged rows (`sql/ingest/dedup.sql`).
pub const INGEST_DEDUP: &str = include_str!("../../sql/ingest/dedup.sql");
