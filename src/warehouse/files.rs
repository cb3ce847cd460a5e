//! Durable writes and reads of seatcount's own files: whole-file replacement that survives a
//! crash or a power cut, JSON-lines tables, and the checksum of a file's bytes.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

/// SHA-256 of a file's bytes, in hex, read in 1 MiB pieces.
pub fn file_sha256(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// One JSON value per line; `None` when the file does not exist.
pub fn read_jsonl<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
) -> Result<Option<Vec<T>>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| {
                Error::Runtime(format!(
                    "{}: line {}: damaged {what}: {e}",
                    path.display(),
                    i + 1
                ))
            })
        })
        .collect::<Result<Vec<T>>>()
        .map(Some)
}

/// Replaces `path` with `existing` plus those of `new` whose key is not there yet, so
/// replaying a journal adds nothing twice.
pub fn merge_jsonl<T: Serialize + Clone, K: Eq + std::hash::Hash>(
    path: &Path,
    mut existing: Vec<T>,
    new: &[T],
    key: impl Fn(&T) -> K,
) -> Result<()> {
    let known: HashSet<K> = existing.iter().map(&key).collect();
    existing.extend(new.iter().filter(|e| !known.contains(&key(e))).cloned());
    write_jsonl(path, &existing)
}

/// Replaces `path` with `entries`, one JSON value per line, atomically.
pub fn write_jsonl<T: Serialize>(path: &Path, entries: &[T]) -> Result<()> {
    let mut text = Vec::new();
    for entry in entries {
        serde_json::to_writer(&mut text, entry).expect("entries serialize");
        text.push(b'\n');
    }
    write_atomically(path, &text)
}

/// Replaces `path` with `bytes` so that readers see the old or the new content, never a
/// mix: write a sibling, flush it to disk, rename it over.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    // A bare file name's parent is "", which is the working directory.
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}

/// Flushes a directory's entries, so a rename survives a power cut.
pub fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}
