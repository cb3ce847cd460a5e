//! The manifest: every stored file a commit wrote (path, rows, bytes, SHA-256), which
//! [`super::check`] compares the disk against, to catch lost, truncated, foreign or damaged
//! files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Warehouse;
use super::files::{merge_jsonl, read_jsonl, write_atomically};
use crate::error::{Error, Result};

const MANIFEST: &str = "manifest.jsonl";

/// An events file as its commit wrote it. The manifest of these is what
/// [`super::check`] compares the disk against, to catch lost, truncated or foreign files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredFile {
    /// Path relative to the warehouse root, under `events/`.
    pub path: PathBuf,
    /// Events in the file.
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// SHA-256 of its bytes, for `seatcount verify`: a same-size corruption keeps the size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Every events file commits have written. Every warehouse of this format is created with a
/// manifest, so a missing one is damage: without it nothing can tell seatcount's files from
/// foreign ones, and the check would be off.
pub fn manifest(wh: &Warehouse) -> Result<Vec<StoredFile>> {
    let path = wh.state_dir().join(MANIFEST);
    read_jsonl(&path, "manifest entry")?.ok_or_else(|| {
        Error::Runtime(format!(
            "{}: missing, so the events files cannot be checked against what seatcount wrote; `seatcount repair-manifest` lists the files it would trust, and `--yes` records them",
            path.display()
        ))
    })
}

/// Replaces the manifest with `files`: the explicit repair after it was lost.
pub fn write_manifest(wh: &Warehouse, files: &[StoredFile]) -> Result<()> {
    merge_jsonl(&wh.state_dir().join(MANIFEST), Vec::new(), files, |f| {
        f.path.clone()
    })
}

/// Starts the empty manifest of a new warehouse (in its state directory `state`).
pub fn create_manifest(state: &Path) -> Result<()> {
    write_atomically(&state.join(MANIFEST), b"")
}

/// Adds `new` to the manifest and drops `removed`, as a commit does; applying it twice adds
/// nothing twice.
pub fn record(wh: &Warehouse, new: &[StoredFile], removed: &[PathBuf]) -> Result<()> {
    let mut files = manifest(wh)?;
    files.retain(|f| !removed.contains(&f.path));
    merge_jsonl(&wh.state_dir().join(MANIFEST), files, new, |f| {
        f.path.clone()
    })
}

/// Every month with events files, oldest first, from the manifest alone: no file is opened.
pub fn event_months(wh: &Warehouse) -> Result<Vec<String>> {
    Ok(events_by_month(wh)?.into_keys().collect())
}

/// The events files of each month, as the manifest lists them.
pub fn events_by_month(wh: &Warehouse) -> Result<BTreeMap<String, Vec<StoredFile>>> {
    Ok(by_table_and_month(&manifest(wh)?)
        .into_iter()
        .filter(|((table, _), _)| table == super::EVENTS)
        .map(|((_, month), files)| (month, files))
        .collect())
}

/// `files` (a manifest, or one a saved run recorded) by their table (`events`,
/// `conflicts`) and month.
pub fn by_table_and_month(files: &[StoredFile]) -> BTreeMap<(String, String), Vec<StoredFile>> {
    let mut groups: BTreeMap<(String, String), Vec<StoredFile>> = BTreeMap::new();
    for file in files {
        let table = file
            .path
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy());
        if let (Some(table), Some(month)) = (table, super::schema::month_of(&file.path)) {
            groups
                .entry((table.into_owned(), month.to_string()))
                .or_default()
                .push(file.clone());
        }
    }
    groups
}
