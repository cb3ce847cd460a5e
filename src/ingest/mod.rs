//! `seatcount ingest` (docs/input.md): raw login events in, hashed month partitions out.
//!
//! read (CSV/NDJSON/Parquet → raw chunks) → validate (types, presence; rejects) → normalize
//! (SQL with the hashing functions, in memory) → per month, de-duplicate by event_id as rows
//! arrive and write the stored file, or stage for `dedup.sql` when the month was closed early
//! ([`months`]) → commit (journal + renames). Clear identifiers exist only in
//! memory between read and normalize, and in the quarantine when asked for.

mod by_month;
pub(crate) mod columns;
pub(crate) mod months;
pub(crate) mod quarantine;
pub(crate) mod read;
pub(crate) mod resolve;
pub(crate) mod validate;
pub(crate) mod write;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef, UInt64Type};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::engine::memory::{self, Workload};
use crate::engine::{Engine, sql, udf::UdfSettings};
use crate::error::{Error, Result};
use crate::warehouse::commit::{self, Journal, LedgerEntry, Move};
use crate::warehouse::files;
use crate::warehouse::key::HashAlgorithm;
use crate::warehouse::lock::Lock;
use crate::warehouse::manifest::StoredFile;
use crate::warehouse::{CONFLICTS, EVENTS, QUARANTINE, Warehouse, crash, make_dir, schema};
use by_month::split_months;
use months::{MonthFiles, Months};
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

/// How an ingest treats bad rows and closed months.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Fail on the first bad row, or quarantine bad rows.
    pub on_error: OnError,
    /// Let the ingest change a closed month (docs/evidence.md "Month close").
    pub reopen: bool,
}

/// Ingests `files` (a directory meaning its event files) into the warehouse at `root`,
/// creating it if needed.
pub async fn ingest(
    root: &Path,
    files: &[PathBuf],
    options: Options,
    algorithm: HashAlgorithm,
    observer: &mut dyn Observer,
) -> Result<Summary> {
    let Options { on_error, reopen } = options;
    let inputs = list_inputs(files)?;
    let mut run = Run::start(root, algorithm).await?;
    let read = run.read(&inputs, on_error, observer).await?;
    observer.finish_reading();
    crash::point("staged");
    let journal = run.resolve(read).await?;
    crash::point("resolved");
    if !journal.ledger.is_empty() {
        commit::commit(&run.wh, &journal, reopen)?;
    }
    Ok(run.summary)
}

/// The input files with their formats, checked before anything is opened for writing.
fn list_inputs(files: &[PathBuf]) -> Result<Vec<(PathBuf, Format)>> {
    expand_directories(files)?
        .into_iter()
        .map(|f| {
            if !f.is_file() {
                return Err(Error::Usage(format!("{}: no such file", f.display())));
            }
            let format = Format::from_path(&f)?;
            Ok((f, format))
        })
        .collect()
}

/// One ingest while it runs: the warehouse under its ingest lock, the engine that normalizes
/// and hashes, and the private staging directory its files are written to.
struct Run {
    wh: Warehouse,
    engine: Engine,
    id: String,
    pool_mb: u64,
    summary: Summary,
    /// Removed on drop, under the lock, unless the commit has taken its files.
    staging: Staging,
    _lock: Lock,
}

/// What reading the inputs leaves to resolve and commit.
struct Read {
    ledger: Vec<LedgerEntry>,
    months: BTreeMap<String, MonthFiles>,
    quarantine: Option<QuarantineWriter>,
}

/// Bytes and rows read so far over all files, for the observer.
#[derive(Default)]
struct Progress {
    bytes: u64,
    rows: u64,
}

impl Run {
    /// Opens (or creates) the warehouse, takes the ingest lock and finishes any commit a
    /// crash left half done.
    async fn start(root: &Path, algorithm: HashAlgorithm) -> Result<Run> {
        let pool_mb = memory::pool_mb(Workload::Ingest)?;
        let wh = Warehouse::open_or_create(root, algorithm)?;
        let lock = commit::ingest_lock(&wh)?;
        commit::recover(&wh)?;
        // Ingest does not read seatcount.toml: it stores every case form of every identifier,
        // so the configuration can change (or be broken) without touching stored data.
        let settings = UdfSettings {
            key: Some(wh.require_key()?),
            ..UdfSettings::default()
        };
        let engine = Engine::open(&wh, &settings, pool_mb).await?;
        let id = new_ingest_id();
        let staging = Staging::create(&wh, &id)?;
        Ok(Run {
            wh,
            engine,
            id,
            pool_mb,
            summary: Summary::default(),
            staging,
            _lock: lock,
        })
    }

    /// Reads every input the ledger does not hold yet: validates it, quarantines or refuses
    /// bad rows, normalizes and hashes the rest, and routes them to their months.
    async fn read(
        &mut self,
        inputs: &[(PathBuf, Format)],
        on_error: OnError,
        observer: &mut dyn Observer,
    ) -> Result<Read> {
        let mut known: HashSet<String> = commit::ledger(&self.wh)?
            .into_iter()
            .map(|e| e.sha256)
            .collect();
        // A quarter of the pool for the direct months' id sets; the rest is the engine's.
        let id_budget = usize::try_from(self.pool_mb * 1024 * 1024 / 4).unwrap_or(usize::MAX);
        let mut months = Months::new(&self.engine, &self.wh, &self.staging.dir, id_budget);
        let mut quarantine = None;
        let mut ledger = Vec::new();
        let sizes = inputs.iter().filter_map(|(f, _)| f.metadata().ok());
        observer.start(sizes.map(|m| m.len()).sum());
        let mut progress = Progress::default();
        for (file, format) in inputs {
            let sha256 = files::file_sha256(file)?;
            if known.insert(sha256.clone()) {
                let entry = LedgerEntry {
                    sha256,
                    file: file
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    ingest_id: self.id.clone(),
                    rows_read: 0,
                    rows_accepted: 0,
                    rows_quarantined: 0,
                };
                let file = Input {
                    path: file,
                    format: *format,
                    on_error,
                };
                let entry = self
                    .read_file(
                        &file,
                        entry,
                        &mut months,
                        &mut quarantine,
                        &mut progress,
                        observer,
                    )
                    .await?;
                self.summary.files_read += 1;
                self.summary.rows_read += entry.rows_read;
                self.summary.rows_quarantined += entry.rows_quarantined;
                ledger.push(entry);
            } else {
                self.summary.files_skipped.push(file.display().to_string());
            }
            progress.bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
            observer.progress(progress.bytes, progress.rows);
        }
        Ok(Read {
            ledger,
            months: months.finish()?,
            quarantine,
        })
    }

    /// Reads one input file chunk by chunk, counting into its ledger `entry`.
    async fn read_file(
        &self,
        input: &Input<'_>,
        mut entry: LedgerEntry,
        months: &mut Months<'_>,
        quarantine: &mut Option<QuarantineWriter>,
        progress: &mut Progress,
        observer: &mut dyn Observer,
    ) -> Result<LedgerEntry> {
        let display = input.path.display().to_string();
        let mut future = 0u64;
        let mut in_flight: Option<InFlight> = None;
        let read = async {
            for chunk in read::open(input.path, input.format, &mut |m| observer.warn(m))? {
                let chunk = chunk?;
                entry.rows_read += chunk.len() as u64;
                progress.rows += chunk.len() as u64;
                observer.progress(progress.bytes + chunk.consumed, progress.rows);
                let checked = validate::validate(&chunk)?;
                future += checked.future;
                if let Some(first) = checked.rejects.first() {
                    if input.on_error == OnError::Fail {
                        return Err(Error::BadRow {
                            file: display.clone(),
                            location: format!(
                                "{} {}",
                                input.format.position_word(),
                                chunk.positions[first.row]
                            ),
                            column: first.column.clone(),
                            reason: first.reason.clone(),
                        });
                    }
                    if quarantine.is_none() {
                        let path = self.staging.dir.join(QUARANTINE_FILE);
                        *quarantine = Some(QuarantineWriter::create(&path)?);
                    }
                    let header = chunk.header.as_deref().map(Vec::as_slice);
                    quarantine.as_mut().expect("just created").write(
                        input.path,
                        input.format,
                        header,
                        &chunk,
                        &checked.rejects,
                    )?;
                    entry.rows_quarantined += checked.rejects.len() as u64;
                }
                entry.rows_accepted += checked.batch.num_rows() as u64;
                if checked.batch.num_rows() > 0 {
                    // The previous chunk's rows go to their months while this one normalizes.
                    let previous = match in_flight.take() {
                        Some(previous) => Some(previous.finish().await?),
                        None => None,
                    };
                    in_flight = Some(InFlight::start(&self.engine, checked.batch));
                    if let Some(previous) = previous {
                        hand_over(months, previous).await?;
                    }
                }
            }
            if let Some(last) = in_flight.take() {
                hand_over(months, last.finish().await?).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = read {
            // Stopped before the chunk in flight was taken: it must be gone before the error
            // returns, or the runtime's shutdown cancels its query's tasks under it, and
            // DataFusion panics on a task cancelled that way (a second line after the error).
            if let Some(chunk) = in_flight.take() {
                chunk.cancel().await;
            }
            return Err(e);
        }
        if future > 0 {
            observer.warn(format!(
                "{display}: {future} events are dated after tomorrow; reports default to the latest month up to this one"
            ));
        }
        Ok(entry)
    }

    /// Decides each month's repeated event ids ([`resolve`]) and names where every file
    /// goes: the journal the commit applies.
    async fn resolve(&mut self, read: Read) -> Result<Journal> {
        let mut journal = Journal {
            ingest_id: self.id.clone(),
            moves: Vec::new(),
            ledger: read.ledger,
            stored: Vec::new(),
            removes: Vec::new(),
        };
        for (month, files) in read.months {
            let resolved =
                resolve::month(&self.engine, &self.wh, &month, &files, &self.staging.dir).await?;
            let added: u64 = resolved.added.iter().map(|(_, rows)| rows).sum();
            let conflicts = resolved.conflicts.as_ref().map_or(0, |(_, rows)| *rows);
            let s = &mut self.summary;
            s.rows_conflicting += conflicts;
            s.rows_outranked += resolved.outranked_stored;
            s.rows_duplicate += files.accepted - added - (conflicts - resolved.outranked_stored);
            if added > 0 {
                s.rows_stored += added;
                s.months.push(month.clone());
            }
            let mut outputs: Vec<(Written, &str)> = Vec::new();
            outputs.extend(resolved.added.into_iter().map(|w| (w, EVENTS)));
            outputs.extend(resolved.kept_stored.into_iter().map(|w| (w, EVENTS)));
            outputs.extend(resolved.conflicts.into_iter().map(|w| (w, CONFLICTS)));
            journal.removes.extend(resolved.replaced);
            for (n, ((path, rows), table)) in outputs.into_iter().enumerate() {
                let suffix = if n == 0 {
                    String::new()
                } else {
                    format!("-{}", n + 1)
                };
                let to = PathBuf::from(format!(
                    "{table}/{}={month}/{}{suffix}.parquet",
                    schema::MONTH,
                    self.id
                ));
                journal.stored.push(StoredFile {
                    path: to.clone(),
                    rows,
                    bytes: fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len(),
                    sha256: Some(files::file_sha256(&path)?),
                });
                journal.moves.push(Move {
                    from: self.relative(&path),
                    to,
                });
            }
        }
        if let Some(q) = read.quarantine {
            q.finish()?;
            let to = Path::new(QUARANTINE).join(format!("{}.ndjson", self.id));
            journal.moves.push(Move {
                from: self.relative(&self.staging.dir.join(QUARANTINE_FILE)),
                to: to.clone(),
            });
            self.summary.quarantine_file = Some(to);
        }
        Ok(journal)
    }

    /// `path` (under staging) relative to the warehouse root, as the journal records it.
    fn relative(&self, path: &Path) -> PathBuf {
        path.strip_prefix(self.wh.root())
            .expect("staging is under the warehouse")
            .to_path_buf()
    }
}

/// One input file and how to treat its bad rows.
struct Input<'a> {
    path: &'a Path,
    format: Format,
    on_error: OnError,
}

/// The quarantine's name in staging, before the commit moves it under `quarantine/`.
const QUARANTINE_FILE: &str = "quarantine.ndjson";

/// A chunk's rows, normalized, split by month and conformed to the stored schema, with each
/// row's fingerprint: what its months take, in the order the rows were read.
type Normalized = Vec<(String, RecordBatch, ArrayRef)>;

/// The chunk being normalized while the next one is read and validated.
///
/// Reading, validating and de-duplicating run on the thread that drives the ingest, and
/// normalizing on the runtime's workers; one chunk in flight lets the two overlap instead of
/// taking turns (BENCHMARKS.md run X). A chunk's rows still reach their months only after
/// every earlier chunk's, so the first row of an event id keeps winning, and one chunk's
/// rows at most wait in memory beside the one being normalized.
struct InFlight(tokio::task::JoinHandle<Result<Normalized>>);

impl InFlight {
    /// Starts normalizing `batch`.
    fn start(engine: &Engine, batch: RecordBatch) -> Self {
        let ctx = engine.context().clone();
        InFlight(tokio::spawn(normalize_chunk(ctx, batch)))
    }

    /// Stops normalizing and waits until the task has stopped.
    async fn cancel(mut self) {
        self.0.abort();
        // Cancelled, or finished before the abort reached it: either way, nothing runs on.
        let _ = (&mut self.0).await;
    }

    /// Waits for the chunk's rows.
    async fn finish(mut self) -> Result<Normalized> {
        (&mut self.0)
            .await
            .map_err(|e| Error::Runtime(format!("normalizing a chunk of events failed: {e}")))?
    }
}

impl Drop for InFlight {
    /// An ingest that stops on an error does not leave a chunk normalizing behind it.
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Hands a normalized chunk's rows to their months, which drop repeated event ids and queue
/// the rest for their files.
async fn hand_over(months: &mut Months<'_>, normalized: Normalized) -> Result<()> {
    for (month, rows, fingerprints) in normalized {
        months
            .write(&month, rows, fingerprints.as_primitive::<UInt64Type>())
            .await?;
    }
    Ok(())
}

/// Normalizes one validated chunk in SQL and splits its rows by month.
///
/// The chunk is cut into one slice per core and normalized as that many partitions, so
/// hashing uses every core; the partitions come back in order, so rows reach their months in
/// the order they were read. Only one chunk is normalized at a time ([`InFlight`]), so the
/// one `incoming` table of the session is this chunk's.
async fn normalize_chunk(ctx: SessionContext, batch: RecordBatch) -> Result<Normalized> {
    let parts = ctx.state().config().target_partitions().max(1);
    let step = batch.num_rows().div_ceil(parts).max(1);
    let slices = (0..batch.num_rows())
        .step_by(step)
        .map(|start| vec![batch.slice(start, step.min(batch.num_rows() - start))])
        .collect();
    let incoming = MemTable::try_new(batch.schema(), slices)?;
    ctx.deregister_table("incoming")?;
    ctx.register_table("incoming", Arc::new(incoming))?;
    let partitions = ctx
        .sql(sql::INGEST_NORMALIZE)
        .await?
        .collect_partitioned()
        .await;
    ctx.deregister_table("incoming")?;
    let mut normalized = Vec::new();
    for batch in partitions?.into_iter().flatten() {
        for (month, rows) in split_months(&batch)? {
            let fingerprints = cast(
                rows.column_by_name(validate::FINGERPRINT)
                    .expect("normalize.sql yields the fingerprint"),
                &DataType::UInt64,
            )?;
            let rows = conform(&rows, &schema::stored_schema())?;
            normalized.push((month, rows, fingerprints));
        }
    }
    Ok(normalized)
}

/// Picks `schema`'s columns from `batch` by name and casts them to its types (SQL yields
/// view and null types where the files want plain ones). A missing column is an error, never
/// a column of NULLs: the SQL files that feed stored files must yield every stored column.
pub(crate) fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
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

    /// `sql/ingest/normalize.sql` yields exactly the stored columns (and `month` and the
    /// fingerprint, which ingest routes by and drops), with the
    /// stored types up to the casts `conform` makes, so nothing reaches a file as a column of
    /// NULLs filled in for a name the SQL forgot.
    #[tokio::test]
    async fn normalize_yields_exactly_the_stored_columns() {
        let ctx = SessionContext::new();
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
            .filter(|n| n != validate::FINGERPRINT)
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
