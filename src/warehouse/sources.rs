//! The texts a session's configuration and bill come from, read once (docs/evidence.md): what
//! a report computed with is exactly what a saved run records.

use std::path::Path;

use super::{Warehouse, table};
use crate::error::{Error, Result};

/// The texts a session's configuration, subscriptions and assignments come from. Read once,
/// so what a session computed with and what it records are the same bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sources {
    /// `seatcount.toml` (or `--config`); empty when the warehouse has none.
    pub config: String,
    /// `entitlements.csv`, when there is one.
    pub entitlements: Option<String>,
    /// `assignments.csv`, when there is one.
    pub assignments: Option<String>,
}

impl Sources {
    /// Reads the warehouse's files (and `config_file` when given, which must exist).
    pub fn read(wh: &Warehouse, config_file: Option<&Path>) -> Result<Sources> {
        let text = |path: &Path| -> Result<Option<String>> {
            table::read(path)?
                .map(|bytes| {
                    String::from_utf8(bytes)
                        .map_err(|_| Error::Runtime(format!("{}: not UTF-8 text", path.display())))
                })
                .transpose()
        };
        let config = match config_file {
            Some(path) => std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?,
            None => text(&super::config_path(wh.root()))?.unwrap_or_default(),
        };
        Ok(Sources {
            config,
            entitlements: text(&wh.entitlements_path())?,
            assignments: text(&wh.assignments_path())?,
        })
    }
}
