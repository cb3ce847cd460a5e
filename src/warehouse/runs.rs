//! Saved runs (docs/evidence.md): a report's output and everything it was computed from,
//! kept under `_seatcount/runs/<id>/` as evidence that a bill was what it was.
//!
//! A run is written whole into a hidden directory and renamed into place, so it exists
//! complete or not at all. Its id ends with the SHA-256 of its `run.json`, and `run.json`
//! holds the SHA-256 of `output.csv`, so an edit of either is found when the run is read.

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::commit::LedgerEntry;
use super::files::sync_dir;
use super::manifest::StoredFile;
use super::sources::Sources;
use super::{Warehouse, crash};
use crate::error::{Error, Result};

/// The run's metadata file, and its output.
const RUN: &str = "run.json";
const OUTPUT: &str = "output.csv";

/// How many hex digits of `run.json`'s SHA-256 end a run's id.
const ID_HASH: usize = 16;

/// What a run records besides its output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// The report's name.
    pub report: String,
    /// The month it was about, as settled (the default filled in); none for every month.
    pub month: Option<String>,
    /// The day the `subscriptions` report was about.
    pub today: Option<String>,
    /// When it was saved (RFC 3339, UTC).
    pub saved_at: String,
    /// The seatcount version that computed it.
    pub version: String,
    /// The month a `close` saved it for, if one did.
    pub close: Option<String>,
    /// The configuration, subscriptions and assignments, as read.
    pub sources: Sources,
    /// The events files it read: the manifest at the time.
    pub events: Vec<StoredFile>,
    /// The raw files ingested into the warehouse by then, with their SHA-256.
    pub inputs: Vec<LedgerEntry>,
    /// Rows of the output.
    pub rows: u64,
    /// SHA-256 of `output.csv`.
    pub output_sha256: String,
}

/// A run read back and checked: its id, metadata and output.
#[derive(Debug, Clone)]
pub struct Saved {
    /// Its id: the time it was saved and the start of its `run.json`'s SHA-256.
    pub id: String,
    /// Its metadata.
    pub run: Run,
    /// Its output, as CSV.
    pub output: Vec<u8>,
}

fn runs_dir(wh: &Warehouse) -> PathBuf {
    wh.state_dir().join("runs")
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Saves `run` with `output` (CSV) and returns its id.
pub fn save(wh: &Warehouse, run: &Run, output: &[u8]) -> Result<String> {
    let json = serde_json::to_vec_pretty(run).expect("a run serializes");
    let stamp = chrono::DateTime::parse_from_rfc3339(&run.saved_at)
        .map(|t| t.format("%Y%m%dT%H%M%S").to_string())
        .unwrap_or_default();
    let id = format!("{stamp}-{}", &sha256_hex(&json)[..ID_HASH]);
    let dir = runs_dir(wh);
    fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{id}.tmp-{}-{nanos}", std::process::id()));
    fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    for (name, bytes) in [(OUTPUT, output), (RUN, json.as_slice())] {
        let path = tmp.join(name);
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = fs::File::create(&path)?;
            f.write_all(bytes)?;
            f.sync_all()
        };
        write().map_err(|e| Error::io(&path, e))?;
    }
    sync_dir(&tmp)?;
    crash::point("run-written");
    let target = dir.join(&id);
    match fs::rename(&tmp, &target) {
        Ok(()) => sync_dir(&dir)?,
        // The same run saved again within the second (a close run twice, two schedulers):
        // its id hashes the same run.json, which holds the output's hash, so the run kept
        // under it is this one.
        Err(_) if target.is_dir() => {
            fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        Err(e) => return Err(Error::io(&target, e)),
    }
    Ok(id)
}

/// Every saved run's id, oldest first. Hidden directories (a save a crash interrupted) are
/// not runs.
pub fn ids(wh: &Warehouse) -> Result<Vec<String>> {
    let dir = runs_dir(wh);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    ids.sort();
    Ok(ids)
}

/// Reads run `id` and checks it was not changed since it was saved: `run.json` must hash to
/// the id, and `output.csv` to the hash `run.json` holds.
pub fn load(wh: &Warehouse, id: &str) -> Result<Saved> {
    let dir = runs_dir(wh).join(id);
    if id.is_empty() || id.starts_with('.') || id.contains('/') || !dir.is_dir() {
        return Err(Error::Usage(format!(
            "there is no saved run {id:?}; `seatcount runs list` lists them"
        )));
    }
    let read = |name: &str| -> Result<Vec<u8>> {
        let path = dir.join(name);
        fs::read(&path).map_err(|e| Error::io(&path, e))
    };
    let json = read(RUN)?;
    let tampered = |what: &str| {
        Error::Runtime(format!(
            "saved run {id} was changed after it was saved: {what}; it is not evidence any more"
        ))
    };
    if !id.ends_with(&sha256_hex(&json)[..ID_HASH]) {
        return Err(tampered("its run.json does not hash to its id"));
    }
    let run: Run =
        serde_json::from_slice(&json).map_err(|_| tampered("its run.json does not parse"))?;
    let output = read(OUTPUT)?;
    if sha256_hex(&output) != run.output_sha256 {
        return Err(tampered(
            "its output.csv does not hash to what run.json recorded",
        ));
    }
    Ok(Saved {
        id: id.to_string(),
        run,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saving_one_run_twice_keeps_one_and_an_edit_is_refused() {
        let (_dir, wh) = crate::warehouse::scratch();
        let output = b"a,b\n1,2\n";
        let run = Run {
            report: "usage".into(),
            month: Some("2026-10".into()),
            today: None,
            saved_at: "2026-12-01T10:00:00Z".into(),
            version: "0".into(),
            close: None,
            sources: Sources::default(),
            events: vec![],
            inputs: vec![],
            rows: 1,
            output_sha256: sha256_hex(output),
        };
        let first = save(&wh, &run, output).unwrap();
        assert_eq!(save(&wh, &run, output).unwrap(), first);
        assert_eq!(ids(&wh).unwrap(), std::slice::from_ref(&first));
        assert_eq!(load(&wh, &first).unwrap().output, output);
        fs::write(runs_dir(&wh).join(&first).join(OUTPUT), b"a,b\n1,3\n").unwrap();
        assert!(
            load(&wh, &first)
                .unwrap_err()
                .to_string()
                .contains("changed after")
        );
    }
}
