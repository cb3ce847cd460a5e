//! Is the events table what the commits wrote? Every commit records its events files in the
//! manifest (path, rows, bytes). Before a query, the files on disk are compared with it, so a
//! lost, truncated or foreign file stops the report with a sentence naming the file, instead
//! of a bill that silently counts too few or too many people. A stat per file; nothing is read.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::Warehouse;
use super::commit::{self, StoredFile};
use crate::error::{Error, Result};

/// Checks the events files of `months` (all months when `None`) against the manifest.
pub fn events_intact(wh: &Warehouse, months: Option<&BTreeSet<String>>) -> Result<()> {
    let manifest = commit::manifest(wh)?;
    let in_scope =
        |path: &Path| months.is_none_or(|m| month_of(path).is_some_and(|month| m.contains(month)));
    let expected: BTreeMap<PathBuf, StoredFile> = manifest
        .into_iter()
        .filter(|f| in_scope(&f.path))
        .map(|f| (f.path.clone(), f))
        .collect();
    let on_disk: BTreeMap<PathBuf, u64> = event_files(wh)?
        .into_iter()
        .filter(|(path, _)| in_scope(path))
        .collect();
    for (path, bytes) in &on_disk {
        let shown = wh.root().join(path);
        match expected.get(path) {
            None => {
                return Err(Error::Runtime(format!(
                    "{}: seatcount did not write this file, so its events would be counted unchecked; move it out of events/ (ingest its source instead)",
                    shown.display()
                )));
            }
            Some(file) if file.bytes != *bytes => {
                return Err(Error::Runtime(format!(
                    "{}: damaged: {bytes} bytes where seatcount wrote {}; restore it from a backup",
                    shown.display(),
                    file.bytes
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(file) = expected.values().find(|f| !on_disk.contains_key(&f.path)) {
        return Err(Error::Runtime(format!(
            "{}: missing; it held {} events, and reports without it would count too few people; restore it from a backup",
            wh.root().join(&file.path).display(),
            file.rows
        )));
    }
    Ok(())
}

/// The events files as they are now, with their row counts from the Parquet footers: what
/// `repair-manifest` offers to trust when the manifest is gone.
pub fn scan_events(wh: &Warehouse) -> Result<Vec<StoredFile>> {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    event_files(wh)?
        .into_iter()
        .map(|(path, bytes)| {
            let full = wh.root().join(&path);
            let file = fs::File::open(&full).map_err(|e| Error::io(&full, e))?;
            let reader = SerializedFileReader::new(file).map_err(|e| {
                Error::Runtime(format!("{}: not a Parquet file: {e}", full.display()))
            })?;
            let rows = reader.metadata().file_metadata().num_rows() as u64;
            let sha256 = Some(commit::file_sha256(&full)?);
            Ok(StoredFile {
                path,
                rows,
                bytes,
                sha256,
            })
        })
        .collect()
}

/// Reads every events file the manifest records and compares its SHA-256 with the one its
/// commit wrote: what a stat cannot see (a same-size corruption). Returns each file with
/// whether it matches; a file recorded without a checksum counts as matching.
pub fn verify(wh: &Warehouse) -> Result<Vec<(StoredFile, bool)>> {
    events_intact(wh, None)?;
    commit::manifest(wh)?
        .into_iter()
        .map(|file| {
            let ok = match &file.sha256 {
                Some(expected) => commit::file_sha256(&wh.root().join(&file.path))? == *expected,
                None => true,
            };
            Ok((file, ok))
        })
        .collect()
}

/// Every file under `events/`, at any depth, whose name ends in `.parquet`, relative to the
/// root, with sizes. This is at least every file the engine's listing reads (it takes any
/// name ending in `.parquet`, `.parquet` itself included, and, with a setting, files in
/// subdirectories), so no file can be counted without being checked first.
fn event_files(wh: &Warehouse) -> Result<Vec<(PathBuf, u64)>> {
    let mut files = Vec::new();
    let mut dirs = vec![wh.events_dir()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            let meta = fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
            if meta.is_dir() {
                dirs.push(path);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| n.ends_with(".parquet"))
            {
                let relative = path.strip_prefix(wh.root()).expect("under the root");
                files.push((relative.to_path_buf(), meta.len()));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `YYYY-MM` of `events/month=YYYY-MM/...`.
fn month_of(path: &Path) -> Option<&str> {
    path.components()
        .nth(1)?
        .as_os_str()
        .to_str()?
        .strip_prefix("month=")
}
