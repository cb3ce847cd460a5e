//! Advisory file locks that serialize writers and keep readers off a half-applied commit.
//!
//! Two locks: `ingest.lock` is held by an ingest from start to end, so two ingests run one
//! after the other; `commit.lock` is held exclusively only while a commit moves files into
//! place, and shared by every reader for the life of its query, so a reader sees the
//! warehouse before or after a commit, never halfway.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::error::{Error, Result};

/// A held lock; released on drop (the OS releases it too if the process dies).
#[derive(Debug)]
pub struct Lock {
    _file: File,
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
pub fn acquire(path: &Path, mode: Mode, holder: &str) -> Result<Lock> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
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
    Ok(Lock { _file: file })
}
