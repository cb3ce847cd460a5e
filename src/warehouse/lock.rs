//! Advisory file locks that serialize writers and keep readers off a half-applied commit.
//!
//! Two locks: `ingest.lock` is held by an ingest from start to end, so two ingests run one
//! after the other; `commit.lock` is held exclusively only while a commit moves files into
//! place, and shared by every reader for the life of its query, so a reader sees the
//! warehouse before or after a commit, never halfway.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::error::{Error, Result};

/// A held lock; released on drop (the OS releases it too if the process dies). A reader of
/// a warehouse it cannot write holds none: where no lock file can be created, no writer can
/// commit either.
#[derive(Debug)]
pub struct Lock {
    _file: Option<File>,
}

/// Exclusive or shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One holder.
    Exclusive,
    /// Many readers.
    Shared,
}

/// Takes the lock at `path`, telling the user on stderr when it has to wait for `holder`.
///
/// A shared lock works on a warehouse the process cannot write (a read-only mount, an
/// auditor's copy): the lock file is opened for reading, which is enough to lock it, and
/// where it does not exist and cannot be made, nobody can be writing there.
pub fn acquire(path: &Path, mode: Mode, holder: &str) -> Result<Lock> {
    let opened = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if mode == Mode::Shared && cannot_write(&e) => match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lock { _file: None }),
            Err(e) => return Err(Error::io(path, e)),
        },
        Err(e) => return Err(Error::io(path, e)),
    };
    let attempt = match mode {
        Mode::Exclusive => file.try_lock(),
        Mode::Shared => file.try_lock_shared(),
    };
    match attempt {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            eprintln!("waiting for {holder} to finish…");
            let waited = match mode {
                Mode::Exclusive => file.lock(),
                Mode::Shared => file.lock_shared(),
            };
            waited.map_err(|e| Error::io(path, e))?;
        }
        Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
    }
    Ok(Lock { _file: Some(file) })
}

/// Takes the lock at `path` exclusively when no one holds it, without waiting; `None` when
/// someone does, or when the lock file cannot be opened for writing (nothing can be tidied
/// in a warehouse this process cannot write).
pub fn try_exclusive(path: &Path) -> Option<Lock> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .ok()?;
    file.try_lock().ok()?;
    Some(Lock { _file: Some(file) })
}

/// Permission denied, or a read-only file system.
pub(crate) fn cannot_write(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::PermissionDenied
        || e.kind() == std::io::ErrorKind::ReadOnlyFilesystem
}
