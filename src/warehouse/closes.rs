//! Closed months (docs/evidence.md "Month close"): `seatcount close` saves a month's reports
//! as runs, then records the close here in one atomic write, so a crash leaves the month
//! closed or open, never half. A commit that would change a closed month's events is refused
//! unless the ingest was told to reopen it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Warehouse;
use super::files::{read_jsonl, write_jsonl};
use super::manifest::StoredFile;
use crate::error::{Error, Result};

const CLOSES: &str = "closes.jsonl";

/// One month's close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Close {
    /// The month (`YYYY-MM`).
    pub month: String,
    /// When (RFC 3339, UTC).
    pub closed_at: String,
    /// The runs saved for it, by report name and id.
    pub runs: Vec<(String, String)>,
    /// The month's events files at the close.
    pub events: Vec<StoredFile>,
}

fn path(wh: &Warehouse) -> PathBuf {
    wh.state_dir().join(CLOSES)
}

/// Every month's latest close.
pub fn all(wh: &Warehouse) -> Result<Vec<Close>> {
    Ok(read_jsonl(&path(wh), "close")?.unwrap_or_default())
}

/// `month`'s close, if it was closed.
pub fn find(wh: &Warehouse, month: &str) -> Result<Option<Close>> {
    Ok(all(wh)?.into_iter().find(|c| c.month == month))
}

/// Records `close`, replacing an earlier close of its month (closing again moves the
/// baseline), in one atomic write.
pub fn record(wh: &Warehouse, close: &Close) -> Result<()> {
    let mut closes = all(wh)?;
    closes.retain(|c| c.month != close.month);
    closes.push(close.clone());
    closes.sort_by(|a, b| a.month.cmp(&b.month));
    write_jsonl(&path(wh), &closes)
}

/// Refuses a commit that adds or replaces files of a closed month, unless `reopen`; called
/// under the exclusive commit lock, so no close can slip in between.
pub fn refuse_changes(wh: &Warehouse, changed: &[PathBuf], reopen: bool) -> Result<()> {
    if reopen {
        return Ok(());
    }
    let closes = all(wh)?;
    let hit = changed
        .iter()
        .filter_map(|p| super::schema::month_of(p))
        .find_map(|m| closes.iter().find(|c| c.month == m));
    match hit {
        None => Ok(()),
        Some(close) => Err(Error::Usage(format!(
            "{} was closed on {} and this ingest would change it; nothing was stored: ingest again with --reopen to let it in, then `seatcount report changes --month {}` shows what changed since the close",
            close.month,
            &close.closed_at[..close.closed_at.len().min(10)],
            close.month
        ))),
    }
}
