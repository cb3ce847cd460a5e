//! seatcount: an embedded analytics engine that meters the named end users of a low-code
//! app portfolio for licensing. Raw login events are ingested into hashed, month-partitioned
//! Parquet; DataFusion runs the SQL under `sql/` that defines who counts and how.
//!
//! The modules follow the data: [`ingest`] → [`warehouse`] → [`engine`] → [`reports`] →
//! [`cli`].

pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod generate;
pub mod ingest;
pub mod reports;
pub mod warehouse;
