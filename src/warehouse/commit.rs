//! Atomic, idempotent commits of an ingest's files.
//!
//! An ingest writes finished Parquet files into `_seatcount/staging/<ingest>/`, invisible
//! to readers. Committing writes a journal (the list of moves plus the ledger entries that
//! record which input files are now in), then renames each file into `events/`, updates
//! the ledger and deletes the journal. Every step is repeatable, so a crash at any point
//! is finished by [`recover`] on the next command: the ingest is either wholly visible or
//! not at all, and the journal is the single moment of decision.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::{merge_jsonl, read_jsonl, sync_dir, write_atomically};
use super::lock::{self, Lock, Mode};
use super::manifest::{self, StoredFile};
use super::{Warehouse, crash};
use crate::error::{Error, Result};

/// One input file that is now part of the warehouse; the ledger is what makes re-ingesting
/// the same file a no-op.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LedgerEntry {
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// The file's name (no directory), for people reading the ledger.
    pub file: String,
    /// Which ingest brought it in.
    pub ingest_id: String,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows that passed validation (before event_id de-duplication).
    pub rows_accepted: u64,
    /// Rows sent to quarantine.
    pub rows_quarantined: u64,
}

/// A rename from staging into the visible warehouse, both relative to the warehouse root.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Move {
    /// Source, under `_seatcount/staging/`.
    pub from: PathBuf,
    /// Destination, under `events/` or `quarantine/`.
    pub to: PathBuf,
}

/// Everything one commit makes visible.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    /// The ingest being committed.
    pub ingest_id: String,
    /// Files to move into place.
    pub moves: Vec<Move>,
    /// Input files to record as ingested.
    pub ledger: Vec<LedgerEntry>,
    /// The events files among the moves' destinations, for the manifest.
    #[serde(default)]
    pub stored: Vec<StoredFile>,
    /// Stored files the moves replace, deleted once the moves are in (a month rewritten
    /// because a version from this ingest outranked one of its events).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removes: Vec<PathBuf>,
}

const JOURNAL: &str = "commit.journal";
const LEDGER: &str = "ingested.jsonl";

/// Makes `journal` visible, atomically with respect to readers and crashes. A journal that
/// would change a closed month is refused first, unless `reopen` ([`super::closes`]).
pub fn commit(wh: &Warehouse, journal: &Journal, reopen: bool) -> Result<()> {
    let _exclusive = lock::acquire(&commit_lock_path(wh), Mode::Exclusive, "running queries")?;
    let changed: Vec<PathBuf> = journal
        .stored
        .iter()
        .map(|f| f.path.clone())
        .chain(journal.removes.iter().cloned())
        .collect();
    super::closes::refuse_changes(wh, &changed, reopen)?;
    let text = serde_json::to_vec(journal).expect("journal serializes");
    write_atomically(&wh.state_dir().join(JOURNAL), &text)?;
    crash::point("journal-written");
    apply(wh, journal)
}

/// Finishes a commit that a crashed ingest left half done and removes abandoned staging
/// directories. Call with the ingest lock held.
pub fn recover(wh: &Warehouse) -> Result<()> {
    let journal_path = wh.state_dir().join(JOURNAL);
    if journal_path.exists() {
        let _exclusive = lock::acquire(&commit_lock_path(wh), Mode::Exclusive, "running queries")?;
        let text = fs::read(&journal_path).map_err(|e| Error::io(&journal_path, e))?;
        match serde_json::from_slice::<Journal>(&text) {
            Ok(journal) => apply(wh, &journal)?,
            // A journal is renamed into place whole, so a damaged one was never valid:
            // the ingest never reached its commit point.
            Err(_) => fs::remove_file(&journal_path).map_err(|e| Error::io(&journal_path, e))?,
        }
    }
    let staging = wh.state_dir().join("staging");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    remove_temporaries(&wh.state_dir())
}

/// Deletes the siblings [`write_atomically`] leaves behind when it dies before its rename.
fn remove_temporaries(dir: &Path) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().contains(".tmp-") {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

/// A shared lock for the life of a query, after making sure no crashed commit is half
/// applied and the events files are the ones the commits wrote, byte for byte.
pub fn read_lock(wh: &Warehouse) -> Result<Lock> {
    let lock = listing_lock(wh)?;
    super::check::contents_intact(wh, None)?;
    Ok(lock)
}

/// [`read_lock`] checking only that the files are the ones listed, at their sizes: for
/// `verify`, which reads every file itself and reports each.
pub fn listing_lock(wh: &Warehouse) -> Result<Lock> {
    let path = commit_lock_path(wh);
    if wh.state_dir().join(JOURNAL).exists() {
        // A journal with no live ingest behind it means a crash mid-commit: finish it.
        let ingest = ingest_lock(wh)?;
        recover(wh)?;
        drop(ingest);
    }
    let lock = lock::acquire(&path, Mode::Shared, "a commit")?;
    super::check::events_intact(wh, None)?;
    Ok(lock)
}

/// The input files already in the warehouse.
pub fn ledger(wh: &Warehouse) -> Result<Vec<LedgerEntry>> {
    Ok(read_jsonl(&wh.state_dir().join(LEDGER), "ledger entry")?.unwrap_or_default())
}

fn apply(wh: &Warehouse, journal: &Journal) -> Result<()> {
    let root = wh.root();
    let mut touched_dirs = HashSet::new();
    for mv in &journal.moves {
        let (from, to) = (root.join(&mv.from), root.join(&mv.to));
        if from.exists() {
            let parent = to.parent().expect("destinations are inside the warehouse");
            let mode = if mv.to.starts_with(super::QUARANTINE) {
                0o700
            } else {
                0o755
            };
            super::make_dir(parent, mode)?;
            fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
            crash::point("file-moved");
            touched_dirs.insert(parent.to_path_buf());
        } else if !to.exists() {
            return Err(Error::Runtime(format!(
                "{}: the commit journal names a staged file that is gone; the warehouse needs a look",
                from.display()
            )));
        }
    }
    for path in &journal.removes {
        let full = root.join(path);
        match fs::remove_file(&full) {
            Ok(()) => {
                crash::point("file-removed");
                touched_dirs.insert(full.parent().expect("inside the warehouse").to_path_buf());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&full, e)),
        }
    }
    for dir in touched_dirs {
        sync_dir(&dir)?;
    }
    manifest::record(wh, &journal.stored, &journal.removes)?;
    // Their derived state is filed under keys no query will ask for again; clean it up.
    let changed = journal
        .stored
        .iter()
        .map(|f| &f.path)
        .chain(&journal.removes);
    super::derived::forget_months(wh, changed.filter_map(|p| super::schema::month_of(p)))?;
    merge_jsonl(
        &wh.state_dir().join(LEDGER),
        ledger(wh)?,
        &journal.ledger,
        |e| e.sha256.clone(),
    )?;
    crash::point("ledger-written");
    let moved: Vec<PathBuf> = journal.stored.iter().map(|f| f.path.clone()).collect();
    super::check::remember_verified(wh, &moved)?;
    let journal_path = wh.state_dir().join(JOURNAL);
    fs::remove_file(&journal_path).map_err(|e| Error::io(&journal_path, e))?;
    let staging = wh.state_dir().join("staging").join(&journal.ingest_id);
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    sync_dir(&wh.state_dir())
}

/// The lock an ingest holds from start to end: with it, no commit can start.
pub fn ingest_lock(wh: &Warehouse) -> Result<Lock> {
    lock::acquire(
        &wh.state_dir().join("ingest.lock"),
        Mode::Exclusive,
        "an ingest",
    )
}

/// Tidies the derived state ([`super::derived::tidy`]) when no query or commit is running:
/// for a command that has just finished reading. `current` names the derived tables this
/// build reads; the others go. Best effort: when the lock is held or the warehouse cannot be
/// written, or tidying fails, the files stay for next time.
pub fn tidy_derived(wh: &Warehouse, current: &dyn Fn(&str) -> bool) {
    if let Some(_exclusive) = lock::try_exclusive(&commit_lock_path(wh)) {
        let _ = super::derived::tidy(wh, current);
    }
}

/// The commit lock, held exclusively: no query reads while it is held.
pub fn write_lock(wh: &Warehouse) -> Result<Lock> {
    lock::acquire(&commit_lock_path(wh), Mode::Exclusive, "running queries")
}

fn commit_lock_path(wh: &Warehouse) -> PathBuf {
    wh.state_dir().join("commit.lock")
}

#[cfg(test)]
mod tests {
    use super::super::manifest::{manifest, write_manifest};
    use super::*;

    fn stored(path: &str, bytes: &[u8]) -> StoredFile {
        StoredFile {
            path: PathBuf::from(path),
            rows: 1,
            bytes: bytes.len() as u64,
            sha256: None,
        }
    }

    /// A commit that moves a new file in and removes the one it replaces leaves the same
    /// warehouse when its journal is applied again, as recovery after a crash does.
    #[test]
    fn replaying_a_journal_with_moves_and_removes_changes_nothing_more() {
        let (_dir, wh) = super::super::scratch();
        let root = wh.root().to_path_buf();
        let old = "events/month=2026-01/old.parquet";
        std::fs::create_dir_all(root.join("events/month=2026-01")).unwrap();
        std::fs::write(root.join(old), b"old").unwrap();
        write_manifest(&wh, &[stored(old, b"old")]).unwrap();
        let staging = wh.state_dir().join("staging/i1");
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("new.parquet"), b"newer").unwrap();
        let new = "events/month=2026-01/new.parquet";
        let journal = Journal {
            ingest_id: "i1".into(),
            moves: vec![Move {
                from: PathBuf::from("_seatcount/staging/i1/new.parquet"),
                to: PathBuf::from(new),
            }],
            ledger: vec![],
            stored: vec![stored(new, b"newer")],
            removes: vec![PathBuf::from(old)],
        };
        commit(&wh, &journal, false).unwrap();
        let after = (
            manifest(&wh).unwrap(),
            std::fs::read(root.join(new)).unwrap(),
        );
        assert_eq!(after.0, vec![stored(new, b"newer")]);
        assert!(!root.join(old).exists());
        // A crash after the renames: the journal is still there, and recovery replays it.
        write_atomically(
            &wh.state_dir().join(JOURNAL),
            &serde_json::to_vec(&journal).unwrap(),
        )
        .unwrap();
        recover(&wh).unwrap();
        assert_eq!(
            (
                manifest(&wh).unwrap(),
                std::fs::read(root.join(new)).unwrap()
            ),
            after
        );
        assert!(!wh.state_dir().join(JOURNAL).exists());
    }

    #[test]
    fn a_damaged_journal_never_reached_its_commit_and_is_dropped() {
        let (_dir, wh) = super::super::scratch();
        std::fs::write(wh.state_dir().join(JOURNAL), b"{\"ingest_id\": ").unwrap();
        recover(&wh).unwrap();
        assert!(!wh.state_dir().join(JOURNAL).exists());
        assert!(manifest(&wh).unwrap().is_empty());
    }
}
