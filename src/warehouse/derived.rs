//! Derived state on disk (docs/derived.md): what the semantics computed for one month, kept
//! under `_seatcount/derived/<table>/month=YYYY-MM/` so the next report reads it instead of
//! recomputing it from the month's events.
//!
//! A file is named `<key>.<sha256>.parquet`. The key is a SHA-256 of everything its rows
//! depend on, which the caller gives (the month's events files, the SQL as rendered for the
//! configuration, the seatcount version): a file whose inputs have changed is never found,
//! because it is filed under another key. The second hash is of the file's own bytes, so a
//! damaged file is recognised, deleted and computed again rather than trusted. A file is
//! written under a hidden temporary name and renamed into place whole: a crash leaves the
//! state as it was, never a partial file under a real name.
//!
//! Writers hold the shared commit lock like every reader, so no commit runs meanwhile; two
//! readers deriving the same month write equal rows under the same key, and both files stay.
//! Nothing is deleted under the shared lock: a file deleted after a query chose it reads as
//! no rows, not as an error. A commit deletes the derived state of every month it changes
//! ([`forget_months`]), and [`tidy`] the rest, both under the exclusive lock.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use sha2::{Digest, Sha256};

use super::files::sync_dir;
use super::{Warehouse, check, crash, schema};
use crate::error::{Error, Result};

/// The directory of derived state inside the warehouse's own state directory.
const DERIVED: &str = "derived";

/// Files kept per table and month: the configuration in force and the one before, so
/// trying a change and going back (a what-if) does not recompute, while the disk holds at most
/// twice the derived state (at 10M events it is about twice the events, BENCHMARKS.md run N).
const KEEP: usize = 2;

/// A SHA-256 over the named inputs of a derived file, in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key(String);

impl Key {
    /// The key of `parts`, each a name and its bytes; lengths are hashed too, so no two
    /// different lists of parts share a key.
    pub(crate) fn new<'a>(parts: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Key {
        let mut hasher = Sha256::new();
        for (name, bytes) in parts {
            for piece in [name.as_bytes(), bytes] {
                hasher.update((piece.len() as u64).to_le_bytes());
                hasher.update(piece);
            }
        }
        Key(hex::encode(hasher.finalize()))
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn month_dir(wh: &Warehouse, table: &str, month: &str) -> PathBuf {
    wh.state_dir()
        .join(DERIVED)
        .join(table)
        .join(format!("month={month}"))
}

/// The file of `table` for `month` under `key`, when one exists and its bytes are those it
/// was written with. A damaged one is deleted, with a line on stderr, and `None` returned.
pub(crate) fn find(wh: &Warehouse, table: &str, month: &str, key: &Key) -> Result<Option<PathBuf>> {
    for (path, sha) in filed(wh, table, month, key)? {
        let relative = path.strip_prefix(wh.root()).expect("inside the warehouse");
        if check::matches_checksum(wh, relative, &sha)? {
            return Ok(Some(path));
        }
        // Not deleted here: another reader may have chosen it before it was damaged, and a
        // file gone from under a query reads as no rows. [`tidy`] removes it.
        eprintln!(
            "{}: damaged derived state; computing it again",
            path.display()
        );
    }
    Ok(None)
}

/// Whether a file of `table` for `month` is filed under `key`, its bytes unchecked: a cheap
/// question for a choice that [`find`] settles when the file is read.
pub(crate) fn filed_under(wh: &Warehouse, table: &str, month: &str, key: &Key) -> Result<bool> {
    Ok(!filed(wh, table, month, key)?.is_empty())
}

/// The files of `table` for `month` under `key`, each with the checksum its name gives.
fn filed(wh: &Warehouse, table: &str, month: &str, key: &Key) -> Result<Vec<(PathBuf, String)>> {
    let dir = month_dir(wh, table, month);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let prefix = format!("{key}.");
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&dir, e))?;
        let name = entry.file_name();
        if let Some(sha) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".parquet"))
        {
            files.push((entry.path(), sha.to_string()));
        }
    }
    Ok(files)
}

/// The rows of the newest file of `table` in the latest month that has one, and that month;
/// `None` when no month has a readable one. How the engine judges what the
/// configuration-free layer holds against the events (docs/derived.md "Where the layer is
/// kept").
pub(crate) fn newest_rows(wh: &Warehouse, table: &str) -> Result<Option<(String, u64)>> {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let root = wh.state_dir().join(DERIVED).join(table);
    let visible = |dir: &std::path::Path| -> Result<Vec<fs::DirEntry>> {
        match fs::read_dir(dir) {
            Ok(entries) => entries
                .filter(|e| {
                    e.as_ref()
                        .map_or(true, |e| !e.file_name().to_string_lossy().starts_with('.'))
                })
                .collect::<std::io::Result<_>>()
                .map_err(|e| Error::io(dir, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(Error::io(dir, e)),
        }
    };
    let mut months: Vec<String> = visible(&root)?
        .iter()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("month=").map(str::to_string)
        })
        .collect();
    months.sort();
    for month in months.iter().rev() {
        let newest = visible(&month_dir(wh, table, month))?
            .into_iter()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .max();
        let rows = newest.and_then(|(_, path)| {
            let reader = SerializedFileReader::new(fs::File::open(path).ok()?).ok()?;
            u64::try_from(reader.metadata().file_metadata().num_rows()).ok()
        });
        if let Some(rows) = rows {
            return Ok(Some((month.clone(), rows)));
        }
    }
    Ok(None)
}

/// Whether derived state can be written here: a read-only copy of a warehouse is read
/// without it.
pub(crate) fn writable(wh: &Warehouse) -> bool {
    let root = wh.state_dir().join(DERIVED);
    let probe = root.join(format!(".probe-{}", std::process::id()));
    let made = fs::create_dir_all(&root).and_then(|()| fs::File::create(&probe));
    let _ = fs::remove_file(&probe);
    made.is_ok()
}

/// A derived file being written, hashed as it goes. Batches are encoded on a thread of the
/// writer's own, so the query that produces them keeps its cores meanwhile: encoding,
/// compressing and hashing the files took a quarter of the CPU of a month's first report
/// (BENCHMARKS.md run U).
pub(crate) struct DerivedWriter {
    wh: Warehouse,
    dir: PathBuf,
    key: Key,
    tmp: PathBuf,
    /// Batches on their way to the encoder; a few at most, so memory stays bounded.
    batches: Option<std::sync::mpsc::SyncSender<RecordBatch>>,
    /// The encoder, which gives back the finished file or what went wrong.
    encoder: Option<std::thread::JoinHandle<Result<Hashing>>>,
}

/// Batches waiting for the encoder: enough to ride out one slow batch, few enough to hold.
const IN_FLIGHT: usize = 4;

/// A file that hashes what is written to it.
struct Hashing {
    file: fs::File,
    hasher: Sha256,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// How a derived file is encoded. It is read whole, a month at a time, so it needs no
/// statistics to prune by; its hashes are nearly all distinct, so a dictionary of them only
/// costs the encoder its lookups before it gives up. LZ4 takes the repeats of the few text
/// columns at a fraction of zstd's time; no codec shrinks the hashes. So no derived table
/// keeps text with a value per person: DataFusion reads dictionary-encoded text as views into
/// the dictionary's buffer, each batch counts that whole buffer as its own, and a sort of
/// such batches ran out of any pool (BENCHMARKS.md run W, `users` at 100M).
fn properties(schema: &SchemaRef) -> WriterProperties {
    schema::hash_columns(schema)
        .fold(WriterProperties::builder(), |builder, column| {
            builder.set_column_dictionary_enabled(column, false)
        })
        .set_compression(Compression::LZ4_RAW)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_max_row_group_row_count(Some(1 << 20))
        .build()
}

impl DerivedWriter {
    /// Starts the file of `table` for `month` under `key`; `None` when the warehouse cannot
    /// be written (a read-only copy), where the caller computes without keeping the result.
    pub(crate) fn create(
        wh: &Warehouse,
        table: &str,
        month: &str,
        key: &Key,
        schema: SchemaRef,
    ) -> Result<Option<Self>> {
        let dir = month_dir(wh, table, month);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let tmp = dir.join(format!(".{key}.tmp-{}-{nanos}", std::process::id()));
        let file = match fs::create_dir_all(&dir).and_then(|()| fs::File::create(&tmp)) {
            Ok(file) => file,
            Err(e) if super::lock::cannot_write(&e) => return Ok(None),
            Err(e) => return Err(Error::io(&tmp, e)),
        };
        let properties = properties(&schema);
        let hashing = Hashing {
            file,
            hasher: Sha256::new(),
        };
        let mut writer = ArrowWriter::try_new(hashing, schema, Some(properties))
            .map_err(|e| Error::parquet_write(&tmp, e))?;
        let (batches, received) = std::sync::mpsc::sync_channel::<RecordBatch>(IN_FLIGHT);
        let encoded = tmp.clone();
        let encoder = std::thread::Builder::new()
            .name("derived-writer".into())
            .spawn(move || {
                let failed = |e| Error::parquet_write(&encoded, e);
                for batch in received {
                    writer.write(&batch).map_err(failed)?;
                }
                writer.into_inner().map_err(failed)
            })
            .map_err(|e| Error::io(&tmp, e))?;
        Ok(Some(DerivedWriter {
            wh: wh.clone(),
            dir,
            key: key.clone(),
            tmp,
            batches: Some(batches),
            encoder: Some(encoder),
        }))
    }

    /// Appends `batch`; waits while the encoder is [`IN_FLIGHT`] batches behind.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let batches = self.batches.as_ref().expect("only finish takes the sender");
        match batches.send(batch.clone()) {
            Ok(()) => Ok(()),
            // The encoder stops early only on an error, the one to report.
            Err(_) => match self.encoded() {
                Err(e) => Err(e),
                Ok(_) => Err(Error::Runtime(format!(
                    "{}: the derived file's writer stopped early",
                    self.tmp.display()
                ))),
            },
        }
    }

    /// Waits for the encoder to write every batch sent and close the file.
    fn encoded(&mut self) -> Result<Hashing> {
        drop(self.batches.take());
        let encoder = self.encoder.take().expect("the encoder is joined once");
        match encoder.join() {
            Ok(done) => done,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Finishes the file, puts it in place under its key and its checksum, and drops the
    /// month's oldest files past [`KEEP`]. Returns where it is.
    pub(crate) fn finish(mut self) -> Result<PathBuf> {
        let hashing = self.encoded()?;
        let tmp = &self.tmp;
        hashing.file.sync_all().map_err(|e| Error::io(tmp, e))?;
        let sha = hex::encode(hashing.hasher.finalize());
        crash::point("derived-written");
        let path = self.dir.join(format!("{}.{sha}.parquet", self.key));
        fs::rename(tmp, &path).map_err(|e| Error::io(&path, e))?;
        sync_dir(&self.dir)?;
        let relative = path
            .strip_prefix(self.wh.root())
            .expect("inside the warehouse");
        check::remember_verified(&self.wh, &[relative.to_path_buf()])?;
        Ok(path)
    }
}

impl Drop for DerivedWriter {
    /// A file abandoned by an error is removed (nobody else knows its hidden name); one
    /// abandoned by a crash stays until [`tidy`] or the month's next commit.
    fn drop(&mut self) {
        drop(self.batches.take());
        if let Some(encoder) = self.encoder.take() {
            let _ = encoder.join();
        }
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Removes what derived state no query needs: the tables `current` does not name (a view a
/// later build renamed or no longer keeps), and in each table's month, files past the
/// [`KEEP`] most recently written, damaged files, and the hidden files of crashed writers.
///
/// Only under the exclusive commit lock, which the caller holds: a file deleted while a
/// query has chosen it would read as no rows, and every query and every writer of derived
/// state holds the shared lock.
pub(crate) fn tidy(wh: &Warehouse, current: &dyn Fn(&str) -> bool) -> Result<()> {
    let root = wh.state_dir().join(DERIVED);
    let Ok(views) = fs::read_dir(&root) else {
        return Ok(());
    };
    let relative =
        |path: &std::path::Path| path.strip_prefix(wh.root()).expect("inside").to_path_buf();
    let mut gone = Vec::new();
    for view in views.flatten() {
        // Tables only: a reader's `.probe-<pid>` file may be here ([`writable`]).
        if !view.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if !current(&view.file_name().to_string_lossy()) {
            let files: Vec<PathBuf> = fs::read_dir(view.path())
                .into_iter()
                .flatten()
                .flatten()
                .flat_map(|month| fs::read_dir(month.path()).into_iter().flatten().flatten())
                .map(|file| relative(&file.path()))
                .collect();
            if fs::remove_dir_all(view.path()).is_ok() {
                gone.extend(files);
            }
            continue;
        }
        for dir in fs::read_dir(view.path()).into_iter().flatten().flatten() {
            let mut kept = Vec::new();
            for entry in fs::read_dir(dir.path()).into_iter().flatten().flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let relative = relative(&path);
                let intact = name
                    .strip_suffix(".parquet")
                    .and_then(|n| n.split_once('.'))
                    .filter(|_| !name.starts_with('.'))
                    .map(|(_, sha)| check::matches_checksum(wh, &relative, sha))
                    .transpose()?;
                match (intact, entry.metadata().and_then(|m| m.modified())) {
                    (Some(true), Ok(modified)) => kept.push((modified, path)),
                    _ => {
                        if fs::remove_file(&path).is_ok() {
                            gone.push(relative);
                        }
                    }
                }
            }
            kept.sort();
            let excess = kept.len().saturating_sub(KEEP);
            for (_, path) in kept.into_iter().take(excess) {
                if fs::remove_file(&path).is_ok() {
                    gone.push(relative(&path));
                }
            }
        }
    }
    check::forget_verified(wh, &gone)
}

/// Deletes the derived state of `months`, every table: a commit calls this under the
/// exclusive commit lock once it has changed their events, so no reader or deriver is
/// running, and files left by a crashed deriver go too.
pub(crate) fn forget_months<'a>(
    wh: &Warehouse,
    months: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    let root = wh.state_dir().join(DERIVED);
    let Ok(tables) = fs::read_dir(&root) else {
        return Ok(());
    };
    // Tables only: a reader opening at this moment may have its `.probe-<pid>` file here
    // ([`writable`]), which takes no lock.
    let tables: Vec<PathBuf> = tables
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    for month in months {
        for table in &tables {
            let dir = table.join(format!("month={month}"));
            match fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&dir, e)),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader's writability probe, made without a lock, may sit beside the tables while a
    /// commit forgets its months: it is not a table (CI saw a racing ingest fail on it).
    #[test]
    fn forgetting_months_passes_over_a_readers_probe() {
        let (_dir, wh) = crate::warehouse::scratch();
        let root = wh.state_dir().join(DERIVED);
        let month = root.join("usage/month=2026-01");
        fs::create_dir_all(&month).unwrap();
        fs::write(month.join("k.s.parquet"), b"x").unwrap();
        fs::write(root.join(".probe-1"), b"").unwrap();
        forget_months(&wh, ["2026-01"]).unwrap();
        assert!(!month.exists());
        assert!(root.join(".probe-1").exists());
    }
}
