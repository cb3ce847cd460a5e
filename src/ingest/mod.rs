//! `seatcount ingest` (docs/input.md): raw login events in, hashed month partitions out.
//!
//! read (CSV/NDJSON/Parquet → raw chunks) → validate (types, presence; rejects) → normalize
//! (SQL with the hashing functions, in memory) → per month, de-duplicate by event_id as rows
//! arrive and write the stored file, or stage for `dedup.sql` when the month was closed early
//! ([`months`]) → commit (journal + renames). Clear identifiers exist only in
//! memory between read and normalize, and in the quarantine when asked for.

pub mod columns;
pub mod months;
pub mod quarantine;
pub mod read;
pub mod resolve;
pub mod validate;
pub mod write;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::StringArray;
use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};

use crate::engine::memory::{self, Workload};
use crate::engine::{Engine, sql, udf::UdfSettings};
use crate::error::{Error, Result};
use crate::warehouse::commit::{self, Journal, LedgerEntry, Move, StoredFile};
use crate::warehouse::key::HashAlgorithm;
use crate::warehouse::{Warehouse, crash, make_dir, schema};
use months::Months;
use quarantine::QuarantineWriter;
use read::Format;
use resolve::Written;

/// What to do with rows that break the input table of docs/input.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OnError {
    /// Fail the whole ingest and write nothing (the default).
    #[default]
    Fail,
    /// Keep the good rows; write the bad ones, untouched, to the quarantine.
    Quarantine,
}

/// What an ingest did, for the summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Files read.
    pub files_read: usize,
    /// Files skipped because the warehouse already holds them.
    pub files_skipped: Vec<String>,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows stored.
    pub rows_stored: u64,
    /// Rows dropped because they repeat an event already stored or read (same source, id
    /// and content).
    pub rows_duplicate: u64,
    /// Versions of an event id that do not count (docs/semantics.md "Counted events"), set
    /// aside in the `conflicts` table; includes `rows_outranked`.
    pub rows_conflicting: u64,
    /// Stored events that a version from this ingest outranked, moved to `conflicts`.
    pub rows_outranked: u64,
    /// Rows written to the quarantine.
    pub rows_quarantined: u64,
    /// The quarantine file, relative to the warehouse, if one was written.
    pub quarantine_file: Option<PathBuf>,
    /// Months that received rows.
    pub months: Vec<String>,
}

/// What an ingest tells its caller while it runs: warnings, and how far it has got, so the
/// command line can draw a progress bar without ingest knowing about terminals.
pub trait Observer {
    /// A problem that does not stop the ingest (an unknown column, say).
    fn warn(&mut self, message: String);
    /// The ingest starts reading `total_bytes` of input.
    fn start(&mut self, _total_bytes: u64) {}
    /// `bytes` of input and `rows` rows have been read so far, over all files.
    fn progress(&mut self, _bytes: u64, _rows: u64) {}
    /// Reading is over; what remains is de-duplication and the commit.
    fn finish_reading(&mut self) {}
}

/// Ingests `files` (a directory meaning its event files) into the warehouse at `root`,
/// creating it if needed.
pub async fn ingest(
    root: &Path,
    files: &[PathBuf],
    on_error: OnError,
    algorithm: HashAlgorithm,
    observer: &mut dyn Observer,
) -> Result<Summary> {
    let files = expand_directories(files)?;
    let formats = files.iter().map(|f| {
        if !f.is_file() {
            return Err(Error::Usage(format!("{}: no such file", f.display())));
        }
        Format::from_path(f)
    });
    let formats: Vec<Format> = formats.collect::<Result<_>>()?;
    let pool_mb = memory::pool_mb(Workload::Ingest)?;
    let wh = Warehouse::open_or_create(root, algorithm)?;
    let _ingest_lock = commit::ingest_lock(&wh)?;
    commit::recover(&wh)?;
    let key = wh.require_key()?;
    // Ingest does not read seatcount.toml: it stores both case forms of every identifier,
    // so the configuration can change (or be broken) without touching stored data.
    let settings = UdfSettings {
        key: Some(key),
        ..UdfSettings::default()
    };
    let engine = Engine::open(&wh, &settings, pool_mb).await?;
    let ingest_id = new_ingest_id();
    let staging = Staging::create(&wh, &ingest_id)?;
    let mut known: HashSet<String> = commit::ledger(&wh)?.into_iter().map(|e| e.sha256).collect();

    let mut summary = Summary::default();
    let mut ledger = Vec::new();
    // A quarter of the pool for the direct months' id sets; the rest is the engine's.
    let id_budget = usize::try_from(pool_mb * 1024 * 1024 / 4).unwrap_or(usize::MAX);
    let mut months = Months::new(&engine, &wh, &staging.dir, id_budget);
    let mut quarantine: Option<QuarantineWriter> = None;
    observer.start(
        files
            .iter()
            .filter_map(|f| f.metadata().ok())
            .map(|m| m.len())
            .sum(),
    );
    let (mut bytes_before, mut rows_so_far) = (0u64, 0u64);
    for (file, format) in files.iter().zip(formats) {
        let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let sha256 = commit::file_sha256(file)?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !known.insert(sha256.clone()) {
            summary.files_skipped.push(file.display().to_string());
            bytes_before += file_len;
            observer.progress(bytes_before, rows_so_far);
            continue;
        }
        summary.files_read += 1;
        let mut entry = LedgerEntry {
            sha256,
            file: name,
            ingest_id: ingest_id.clone(),
            rows_read: 0,
            rows_accepted: 0,
            rows_quarantined: 0,
        };
        let display = file.display().to_string();
        let mut future = 0u64;
        for chunk in read::open(file, format, &mut |m| observer.warn(m))? {
            let chunk = chunk?;
            entry.rows_read += chunk.len() as u64;
            rows_so_far += chunk.len() as u64;
            observer.progress(bytes_before + chunk.consumed, rows_so_far);
            let checked = validate::validate(&chunk)?;
            future += checked.future;
            if let Some(first) = checked.rejects.first() {
                match on_error {
                    OnError::Fail => {
                        return Err(Error::BadRow {
                            file: display,
                            location: format!(
                                "{} {}",
                                format.position_word(),
                                chunk.positions[first.row]
                            ),
                            column: first.column.clone(),
                            reason: first.reason.clone(),
                        });
                    }
                    OnError::Quarantine => {
                        if quarantine.is_none() {
                            quarantine = Some(QuarantineWriter::create(
                                &staging.dir.join("quarantine.ndjson"),
                            )?);
                        }
                        let header = chunk.header.as_deref().map(Vec::as_slice);
                        quarantine.as_mut().expect("just created").write(
                            file,
                            format,
                            header,
                            &chunk,
                            &checked.rejects,
                        )?;
                        entry.rows_quarantined += checked.rejects.len() as u64;
                    }
                }
            }
            entry.rows_accepted += checked.batch.num_rows() as u64;
            if checked.batch.num_rows() > 0 {
                stage_chunk(&engine, &mut months, checked.batch).await?;
            }
        }
        if future > 0 {
            observer.warn(format!(
                "{display}: {future} events are dated after tomorrow; reports default to the latest month up to this one"
            ));
        }
        summary.rows_read += entry.rows_read;
        summary.rows_quarantined += entry.rows_quarantined;
        ledger.push(entry);
        bytes_before += file_len;
    }
    let months = months.finish()?;
    observer.finish_reading();
    crash::point("staged");

    let mut moves = Vec::new();
    let mut stored_files = Vec::new();
    let mut removes = Vec::new();
    for (month, files) in months {
        let resolved = resolve::month(&engine, &wh, &month, &files, &staging.dir).await?;
        let added: u64 = resolved.added.iter().map(|(_, rows)| rows).sum();
        let conflicts = resolved.conflicts.as_ref().map_or(0, |(_, rows)| *rows);
        summary.rows_conflicting += conflicts;
        summary.rows_outranked += resolved.outranked_stored;
        summary.rows_duplicate += files.accepted - added - (conflicts - resolved.outranked_stored);
        if added > 0 {
            summary.rows_stored += added;
            summary.months.push(month.clone());
        }
        let mut outputs: Vec<(Written, &str)> = Vec::new();
        outputs.extend(resolved.added.into_iter().map(|w| (w, "events")));
        outputs.extend(resolved.kept_stored.into_iter().map(|w| (w, "events")));
        outputs.extend(resolved.conflicts.into_iter().map(|w| (w, "conflicts")));
        removes.extend(resolved.replaced);
        for (n, ((path, rows), table)) in outputs.into_iter().enumerate() {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!("-{}", n + 1)
            };
            let to = PathBuf::from(format!(
                "{table}/{}={month}/{ingest_id}{suffix}.parquet",
                schema::MONTH
            ));
            stored_files.push(StoredFile {
                path: to.clone(),
                rows,
                bytes: fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len(),
                sha256: Some(commit::file_sha256(&path)?),
            });
            let from = path
                .strip_prefix(wh.root())
                .expect("staging is under the warehouse")
                .to_path_buf();
            moves.push(Move { from, to });
        }
    }
    if let Some(q) = quarantine {
        q.finish()?;
        let to = PathBuf::from(format!("quarantine/{ingest_id}.ndjson"));
        moves.push(Move {
            from: PathBuf::from("_seatcount/staging")
                .join(&ingest_id)
                .join("quarantine.ndjson"),
            to: to.clone(),
        });
        summary.quarantine_file = Some(to);
    }
    crash::point("resolved");
    if !ledger.is_empty() {
        commit::commit(
            &wh,
            &Journal {
                ingest_id,
                moves,
                ledger,
                stored: stored_files,
                removes,
            },
        )?;
    }
    drop(staging);
    Ok(summary)
}

/// Normalizes one validated chunk in SQL and hands its rows to their months.
async fn stage_chunk(engine: &Engine, months: &mut Months<'_>, batch: RecordBatch) -> Result<()> {
    let ctx = engine.context();
    ctx.deregister_table("incoming")?;
    ctx.register_batch("incoming", batch)?;
    let (_, batches) = engine.collect(sql::INGEST_NORMALIZE, &[]).await?;
    ctx.deregister_table("incoming")?;
    for batch in batches {
        let month_col = cast(
            batch
                .column_by_name(schema::MONTH)
                .expect("normalize.sql yields month"),
            &DataType::Utf8,
        )?;
        let month_col = month_col.as_string::<i32>();
        let distinct: std::collections::BTreeSet<&str> = month_col.iter().flatten().collect();
        for month in distinct {
            let mask = eq(month_col, &StringArray::new_scalar(month))?;
            let rows = filter_record_batch(&batch, &mask)?;
            let rows = conform(&rows, &schema::stored_schema())?;
            months.write(month, rows).await?;
        }
    }
    Ok(())
}

/// Picks `schema`'s columns from `batch` by name and casts them to its types (SQL yields
/// view and null types where the files want plain ones). A missing column is an error, never
/// a column of NULLs: the SQL files that feed stored files must yield every stored column.
pub fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => Ok(c.clone()),
            Some(c) => Ok(cast(c, f.data_type())?),
            None => Err(Error::Runtime(format!(
                "internal: a query meant for stored files yields no column {}",
                f.name()
            ))),
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// This ingest's private directory under `_seatcount/staging/`; removed on drop unless the
/// commit has taken its files.
struct Staging {
    dir: PathBuf,
}

impl Staging {
    fn create(wh: &Warehouse, ingest_id: &str) -> Result<Self> {
        let dir = wh.state_dir().join("staging").join(ingest_id);
        make_dir(&dir, 0o700)?;
        Ok(Staging { dir })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A directory stands for the event files directly in it (by extension, hidden files
/// skipped), in name order, so `seatcount generate --out DIR` output ingests as `DIR`.
fn expand_directories(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::with_capacity(inputs.len());
    for input in inputs {
        if !input.is_dir() {
            files.push(input.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = fs::read_dir(input)
            .map_err(|e| Error::io(input, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    && Format::from_path(p).is_ok()
            })
            .collect();
        if found.is_empty() {
            return Err(Error::Usage(format!(
                "{}: the directory holds no .csv, .ndjson or .parquet files",
                input.display()
            )));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

fn new_ingest_id() -> String {
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%S");
    let mut random = [0u8; 4];
    let _ = getrandom::fill(&mut random);
    format!("{now}-{}", hex::encode(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sql/ingest/normalize.sql` yields exactly the stored columns (and `month`), with the
    /// stored types up to the casts `conform` makes, so nothing reaches a file as a column of
    /// NULLs filled in for a name the SQL forgot.
    #[tokio::test]
    async fn normalize_yields_exactly_the_stored_columns() {
        let ctx = datafusion::prelude::SessionContext::new();
        crate::engine::udf::register(
            &ctx,
            &UdfSettings {
                key: Some(std::sync::Arc::new(
                    crate::warehouse::key::HashKey::plain_sha256(),
                )),
                ..UdfSettings::default()
            },
        );
        let empty =
            datafusion::datasource::MemTable::try_new(validate::incoming_schema(), vec![vec![]])
                .unwrap();
        ctx.register_table("incoming", std::sync::Arc::new(empty))
            .unwrap();
        let df = ctx.sql(sql::INGEST_NORMALIZE).await.unwrap();
        let yielded: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| n != schema::MONTH)
            .collect();
        let stored: Vec<String> = schema::stored_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(yielded, stored);
        let batch = RecordBatch::new_empty(std::sync::Arc::new(df.schema().as_arrow().clone()));
        conform(&batch, &schema::stored_schema()).unwrap();
    }

    #[test]
    fn a_missing_column_is_an_error_not_nulls() {
        let batch = RecordBatch::new_empty(schema::stored_schema());
        let narrower = batch.project(&[0, 1]).unwrap();
        let err = conform(&narrower, &schema::stored_schema()).unwrap_err();
        assert!(err.to_string().contains("no column app_id"), "{err}");
    }
}
