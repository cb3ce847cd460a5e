//! Which of a month's views are read from derived state, and the key that says when a kept
//! copy is still right (docs/derived.md).
//!
//! A month's `account_persons` is the costly part of every bill: it reads the month's events,
//! groups them into accounts and resolves persons. What it computes depends only on that
//! month's events files, the SQL of the views up to it as rendered for the configuration,
//! the functions' settings and the seatcount version; the subscriptions and assignments come
//! later. So the key is a hash of exactly those, and a configuration change that those views
//! never see (the waterfall, the subscriptions) keeps it.

use datafusion::prelude::SessionConfig;
use serde::Serialize;

use crate::engine::udf::UdfSettings;
use crate::error::{Error, Result};
use crate::warehouse::derived::Key;
use crate::warehouse::{Warehouse, check, manifest};

/// The environment variable that turns derived state off (`off`): every report then computes
/// from the events, as a check on the derived state or where the warehouse must not change.
pub(crate) const DERIVED_ENV: &str = "SEATCOUNT_DERIVED";

/// The view a month-scoped engine reads from derived state, once computed.
pub(crate) const DERIVED_VIEW: &str = "account_persons";

/// What the derived files of this build contain; a change to their meaning that the rendered
/// SQL does not show (a function's code) is covered by the version, this by hand.
const LAYOUT: &str = "account_persons/1";

/// Whether derived state is used: `SEATCOUNT_DERIVED` unset or `on`, and not `off`.
pub(crate) fn enabled() -> Result<bool> {
    match std::env::var(DERIVED_ENV) {
        Err(_) => Ok(true),
        Ok(v) if v == "on" => Ok(true),
        Ok(v) if v == "off" => Ok(false),
        Ok(v) => Err(Error::Usage(format!(
            "{DERIVED_ENV}: '{v}' is not on or off"
        ))),
    }
}

/// What a derived file's rows depend on besides the SQL: the settings of the functions the
/// SQL may call, and DataFusion's settings that can change what a query means: all but
/// `datafusion.execution.*`, which change how a query runs (partitions, batch sizes, memory),
/// save its time zone and how it reads Parquet.
pub(crate) fn context(settings: &UdfSettings, config: &SessionConfig) -> String {
    let mut out = format!("{:?}|{:?}", settings.case, settings.internal_domains);
    for entry in config.options().entries() {
        let key = &entry.key;
        let meaning = !key.starts_with("datafusion.execution.")
            || key == "datafusion.execution.time_zone"
            || key.starts_with("datafusion.execution.parquet.");
        if meaning {
            out.push_str(&format!("|{}={:?}", entry.key, entry.value));
        }
    }
    out
}

/// The key of `month`'s derived views: the month's events files as the manifest records them
/// (path, rows, bytes, SHA-256, which the read lock has checked the disk against), `sql` (the
/// views' text as rendered, in order), the [`context`] and the version.
pub(crate) fn key(wh: &Warehouse, month: &str, sql: &[String], context: &str) -> Result<Key> {
    #[derive(Serialize)]
    struct Entry<'a> {
        path: &'a std::path::Path,
        rows: u64,
        bytes: u64,
        sha256: &'a Option<String>,
    }
    let mut files = manifest::manifest(wh)?;
    files.retain(|f| {
        f.path.starts_with(crate::warehouse::EVENTS) && check::month_of(&f.path) == Some(month)
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let entries: Vec<Entry> = files
        .iter()
        .map(|f| Entry {
            path: &f.path,
            rows: f.rows,
            bytes: f.bytes,
            sha256: &f.sha256,
        })
        .collect();
    let events = serde_json::to_vec(&entries).expect("entries serialize");
    let sql = sql.join("\n;\n");
    Ok(Key::new([
        ("layout", LAYOUT.as_bytes()),
        ("version", env!("CARGO_PKG_VERSION").as_bytes()),
        ("stored view", super::sql::STORED_VIEW.text.as_bytes()),
        ("sql", sql.as_bytes()),
        ("context", context.as_bytes()),
        ("month", month.as_bytes()),
        ("events", &events),
    ]))
}
