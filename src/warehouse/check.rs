//! Is the events table what the commits wrote? Every commit records its events files in the
//! manifest (path, rows, bytes). Before a query, the files on disk are compared with it, so a
//! lost, truncated or foreign file stops the report with a sentence naming the file, instead
//! of a bill that silently counts too few or too many people. A stat per file; nothing is read.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::Warehouse;
use super::files;
use super::manifest::{self, StoredFile};
use super::schema::month_of;
use crate::error::{Error, Result};

/// Checks the events files of `months` (all months when `None`) against the manifest.
pub fn events_intact(wh: &Warehouse, months: Option<&BTreeSet<String>>) -> Result<()> {
    listed_files_intact(wh, months).map(|_| ())
}

/// [`events_intact`], returning the manifest's entries in scope, each found at its size.
fn listed_files_intact(
    wh: &Warehouse,
    months: Option<&BTreeSet<String>>,
) -> Result<BTreeMap<PathBuf, StoredFile>> {
    let manifest = manifest::manifest(wh)?;
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
                    "{}: seatcount did not write this file, so its events would be counted unchecked; move it out of {}/ (ingest its source instead)",
                    shown.display(),
                    path.components().next().map_or(String::new(), |c| c
                        .as_os_str()
                        .to_string_lossy()
                        .into_owned())
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
    Ok(expected)
}

/// [`events_intact`], and each file's bytes are those its commit wrote, so a same-size
/// corruption (flipped bits, a file rewritten in place) cannot change a bill unseen. A file
/// is read in full once: after it matches, its stat signature is remembered in
/// `_seatcount/verified.json`, and it is read again only when that changes. Any write to a
/// file changes its ctime, which no user can set back, so the check costs a stat per file
/// after the first.
pub fn contents_intact(wh: &Warehouse, months: Option<&BTreeSet<String>>) -> Result<()> {
    let listed = listed_files_intact(wh, months)?;
    let mut verified = load_verified(wh);
    let mut learned = false;
    for file in listed.into_values() {
        let Some(expected) = file.sha256.as_ref() else {
            continue;
        };
        match check_against(wh, &mut verified, &file.path, expected)? {
            Checked::Known => {}
            Checked::Learned => learned = true,
            Checked::Differs => {
                return Err(Error::Runtime(format!(
                    "{}: damaged: its bytes differ from those seatcount wrote, though its size is the same; restore it from a backup",
                    wh.root().join(&file.path).display()
                )));
            }
        }
    }
    if learned {
        // A reader that cannot write (a read-only copy) reads the files again next time.
        let _ = save_verified(wh, &verified);
    }
    Ok(())
}

/// What comparing one file with its checksum found.
enum Checked {
    /// Its stat is the one it had when it last matched: not read.
    Known,
    /// Read, and it matches; `verified` now remembers its stat.
    Learned,
    /// Read, and it does not match.
    Differs,
}

/// Compares the file at `relative` with SHA-256 `expected`, reading it only when its stat
/// differs from the one `verified` remembers; the one rule for events and derived files.
fn check_against(
    wh: &Warehouse,
    verified: &mut Verified,
    relative: &Path,
    expected: &str,
) -> Result<Checked> {
    let full = wh.root().join(relative);
    let seen = signature(&full)?;
    if verified.get(relative) == Some(&seen) {
        return Ok(Checked::Known);
    }
    if files::file_sha256(&full)? != expected {
        return Ok(Checked::Differs);
    }
    verified.insert(relative.to_path_buf(), seen);
    Ok(Checked::Learned)
}

/// Remembers `paths` as verified: a commit has just hashed them, in staging, and moved them.
pub fn remember_verified(wh: &Warehouse, paths: &[PathBuf]) -> Result<()> {
    let mut verified = load_verified(wh);
    for path in paths {
        verified.insert(path.clone(), signature(&wh.root().join(path))?);
    }
    save_verified(wh, &verified)
}

/// Whether the file at `relative` (to the root) has SHA-256 `expected`, reading it only
/// when its stat has changed since it last matched, as [`contents_intact`] does for events.
pub fn matches_checksum(wh: &Warehouse, relative: &Path, expected: &str) -> Result<bool> {
    let mut verified = load_verified(wh);
    Ok(
        match check_against(wh, &mut verified, relative, expected)? {
            Checked::Known => true,
            Checked::Learned => {
                // A reader that cannot write reads the file again next time.
                let _ = save_verified(wh, &verified);
                true
            }
            Checked::Differs => false,
        },
    )
}

/// Drops `paths`, deleted files, from the record of verified files.
pub fn forget_verified(wh: &Warehouse, paths: &[PathBuf]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let mut verified = load_verified(wh);
    for path in paths {
        verified.remove(path);
    }
    save_verified(wh, &verified)
}

type Verified = BTreeMap<PathBuf, String>;

const VERIFIED: &str = "verified.json";

/// What was verified, or nothing when the record is missing or unreadable (the files are
/// then read again, which is only slower).
fn load_verified(wh: &Warehouse) -> Verified {
    fs::read(wh.state_dir().join(VERIFIED))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn save_verified(wh: &Warehouse, verified: &Verified) -> Result<()> {
    let text = serde_json::to_vec(verified).expect("paths and strings serialize");
    files::write_atomically(&wh.state_dir().join(VERIFIED), &text)
}

/// Inode, size, and modification and change times to the nanosecond.
fn signature(path: &Path) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    Ok(format!(
        "{}:{}:{}.{}:{}.{}",
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec()
    ))
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
            let sha256 = Some(files::file_sha256(&full)?);
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
    manifest::manifest(wh)?
        .into_iter()
        .map(|file| {
            let ok = match &file.sha256 {
                Some(expected) => files::file_sha256(&wh.root().join(&file.path))? == *expected,
                None => true,
            };
            Ok((file, ok))
        })
        .collect()
}

/// Every file under `events/` and `conflicts/`, at any depth, whose name ends in `.parquet`, relative to the
/// root, with sizes. This is at least every file the engine's listing reads (it takes any
/// name ending in `.parquet`, `.parquet` itself included, and, with a setting, files in
/// subdirectories), so no file can be counted without being checked first.
fn event_files(wh: &Warehouse) -> Result<Vec<(PathBuf, u64)>> {
    let mut files = Vec::new();
    let mut dirs = vec![wh.events_dir(), wh.conflicts_dir()];
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A file is read against its checksum once; after that only its stat is compared, and
    /// rewriting it in place (same size) changes the stat, so it is read again and refused.
    #[test]
    fn a_verified_file_is_read_again_only_when_its_stat_changes() {
        let (_dir, wh) = crate::warehouse::scratch();
        let path = PathBuf::from("events/month=2026-01/a.parquet");
        let full = wh.root().join(&path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(&full, b"seatcount").unwrap();
        let file = StoredFile {
            path: path.clone(),
            rows: 1,
            bytes: 9,
            sha256: Some(files::file_sha256(&full).unwrap()),
        };
        manifest::write_manifest(&wh, &[file]).unwrap();
        contents_intact(&wh, None).unwrap();
        assert!(load_verified(&wh).contains_key(&path));
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(&full, b"seatcounT").unwrap();
        let err = contents_intact(&wh, None).unwrap_err().to_string();
        assert!(err.contains("a.parquet: damaged"), "{err}");
    }
}
