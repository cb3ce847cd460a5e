//! Where each month's hashed rows go while the input is read.
//!
//! A month is first written **directly**: a row whose event id is new goes straight to the
//! month's stored file, checked against a set of the ids seen so far (loaded first with the
//! ids the warehouse already holds for the month). An id belongs to its source, the app and
//! environment that sent it ([`source_keys`]): two apps may number their events alike. Most
//! rows are new, so most of the input is never written twice.
//!
//! A row whose id was seen is dropped when its fingerprint (a hash of its validated values,
//! [`super::validate::FINGERPRINT`]) equals that of the first row with the id: it stores the
//! same event, a re-send. Any other is **staged**: it may contradict the row it shares its id
//! with (or repeat a stored event, whose fingerprint is not kept), and which version counts
//! must not depend on which came first (docs/semantics.md "Counted events").
//! `sql/ingest/contested.sql` decides at the end, over every version of the staged ids:
//! stored, direct and staged. Two different rows with equal 64-bit fingerprints would be
//! taken for one (odds of about 2^-64 a pair).
//!
//! The sets grow with the distinct ids of every month the input touches, so they are bounded:
//! at most [`OPEN_MONTHS`] months are direct at once, and their sets together stay within a
//! budget. Past either, the month used longest ago is closed: its stored file is finished, and
//! all later rows of that month are staged. Input sorted by time, as exports are, closes each
//! month once it is over and stages only its repeated ids.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringBuilder, UInt64Array,
};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::DataType;
use datafusion::physical_expr_common::binary_map::{ArrowBytesMap, OutputType};
use datafusion::scalar::ScalarValue;
use futures::StreamExt;

use crate::engine::{Engine, STORED_EVENTS};
use crate::error::Result;
use crate::warehouse::{Warehouse, check, schema};

use super::write::{ParquetSink, Purpose};

/// Months written directly at once. Each holds a stored file's row group in memory (about
/// 200 MB at a million rows), so a few at most; two cover input sorted by time, where a
/// month's last events and the next month's first ones are read together.
pub const OPEN_MONTHS: usize = 2;

/// The event ids one direct month has seen, each once, with the fingerprint of the first row
/// that had it, or [`STORED`].
type IdSet = ArrowBytesMap<i32, u64>;

/// The payload of an id the warehouse already held: its row's fingerprint is not known, so a
/// row repeating it is always staged.
const STORED: u64 = u64::MAX;

/// What one month received, once the input is read.
pub struct MonthFiles {
    /// Rows routed to the month, duplicates included.
    pub accepted: u64,
    /// The directly written stored file and its rows, if the month was ever direct.
    pub direct: Option<(PathBuf, u64)>,
    /// The staged rows still to resolve, if the month received any repeated id or any row
    /// after closing.
    pub staged: Option<PathBuf>,
}

struct Direct {
    ids: IdSet,
    sink: ParquetSink,
    path: PathBuf,
    rows: u64,
    last_used: u64,
}

#[derive(Default)]
struct Month {
    accepted: u64,
    direct: Option<Direct>,
    closed: Option<(PathBuf, u64)>,
    staged: Option<(ParquetSink, PathBuf)>,
}

/// Every month this ingest has touched, and where its rows go next.
pub struct Months<'a> {
    engine: &'a Engine,
    wh: &'a Warehouse,
    dir: PathBuf,
    budget: usize,
    clock: u64,
    months: BTreeMap<String, Month>,
}

impl<'a> Months<'a> {
    /// Months whose files go under `dir`, with `budget` bytes for the direct months' id sets.
    pub fn new(engine: &'a Engine, wh: &'a Warehouse, dir: &Path, budget: usize) -> Self {
        Months {
            engine,
            wh,
            dir: dir.to_path_buf(),
            budget,
            clock: 0,
            months: BTreeMap::new(),
        }
    }

    /// Routes `rows` (the stored columns) of `month`, whose rows have `fingerprints`.
    pub async fn write(
        &mut self,
        month: &str,
        rows: RecordBatch,
        fingerprints: &UInt64Array,
    ) -> Result<()> {
        self.clock += 1;
        if !self.months.contains_key(month) {
            let opened = self.open(month).await?;
            self.months.insert(
                month.to_string(),
                Month {
                    direct: opened,
                    ..Month::default()
                },
            );
        }
        let clock = self.clock;
        let entry = self.months.get_mut(month).expect("just inserted");
        entry.accepted += rows.num_rows() as u64;
        let repeated = match entry.direct.as_mut() {
            Some(direct) => {
                direct.last_used = clock;
                let (fresh, repeated) = split_fresh(&mut direct.ids, &rows, fingerprints)?;
                direct.rows += fresh.num_rows() as u64;
                if fresh.num_rows() > 0 {
                    direct.sink.write(fresh).await?;
                }
                repeated
            }
            None => rows,
        };
        if repeated.num_rows() > 0 {
            if entry.staged.is_none() {
                let path = self.dir.join(format!("staged-{month}.parquet"));
                let sink = ParquetSink::create(&path, schema::stored_schema(), Purpose::Staging)?;
                entry.staged = Some((sink, path));
            }
            let (sink, _) = entry.staged.as_mut().expect("just created");
            sink.write(repeated).await?;
        }
        self.keep_within_bounds()
    }

    /// The month's id set with the warehouse's ids for it, or `None` when those alone exceed
    /// the budget (the month is then staged throughout).
    async fn open(&mut self, month: &str) -> Result<Option<Direct>> {
        // The stored events of the month are read: they must be whole.
        check::contents_intact(self.wh, Some(&[month.to_string()].into_iter().collect()))?;
        let mut ids = IdSet::new(OutputType::Utf8);
        let mut stored = self
            .engine
            .query(
                &format!(
                    "SELECT concat(octet_length(app_id), ':', app_id, octet_length(environment_id), ':', environment_id, event_id) \
                     FROM {STORED_EVENTS} WHERE month = $1 AND event_id IS NOT NULL"
                ),
                &[ScalarValue::Utf8(Some(month.to_string()))],
            )
            .await?
            .batches;
        while let Some(batch) = stored.next().await {
            let column = utf8(batch?.column(0))?;
            ids.insert_if_new(&column, |_| STORED, |_| {});
            if ids.size() > self.budget {
                return Ok(None);
            }
        }
        let path = self.dir.join(format!("direct-{month}.parquet"));
        let sink = ParquetSink::create(&path, schema::stored_schema(), Purpose::Stored)?;
        Ok(Some(Direct {
            ids,
            sink,
            path,
            rows: 0,
            last_used: self.clock,
        }))
    }

    /// Closes the direct month used longest ago while there are too many, or their sets
    /// outgrow the budget.
    fn keep_within_bounds(&mut self) -> Result<()> {
        loop {
            let open = self.months.values().filter_map(|m| m.direct.as_ref());
            let (count, bytes) = open.fold((0, 0), |(n, b), d| (n + 1, b + d.ids.size()));
            if count <= OPEN_MONTHS && bytes <= self.budget {
                return Ok(());
            }
            let oldest = self
                .months
                .values_mut()
                .filter(|m| m.direct.is_some())
                .min_by_key(|m| m.direct.as_ref().map(|d| d.last_used))
                .expect("at least one month is open");
            close(oldest)?;
        }
    }

    /// Finishes every file and says, per month, what is left to do.
    pub fn finish(self) -> Result<BTreeMap<String, MonthFiles>> {
        let mut out = BTreeMap::new();
        for (month, mut m) in self.months {
            close(&mut m)?;
            let staged = match m.staged {
                Some((sink, path)) => {
                    sink.finish()?;
                    Some(path)
                }
                None => None,
            };
            out.insert(
                month,
                MonthFiles {
                    accepted: m.accepted,
                    direct: m.closed,
                    staged,
                },
            );
        }
        Ok(out)
    }
}

/// Ends a month's direct writing: its stored file is complete, its id set freed.
fn close(month: &mut Month) -> Result<()> {
    if let Some(direct) = month.direct.take() {
        direct.sink.finish()?;
        month.closed = Some((direct.path, direct.rows));
    }
    Ok(())
}

/// Splits `batch` into the rows whose event id `ids` has not seen from the same source
/// (adding those ids) or that have no id, and the rows that repeat a seen id with another
/// fingerprint. Rows that repeat a seen id with the same fingerprint are in neither: they are
/// the same event again.
fn split_fresh(
    ids: &mut IdSet,
    batch: &RecordBatch,
    fingerprints: &UInt64Array,
) -> Result<(RecordBatch, RecordBatch)> {
    let column = source_keys(batch)?;
    let row = Cell::new(0usize);
    let fresh = Cell::new(false);
    let mut keep = Vec::with_capacity(column.len());
    let mut stage = Vec::with_capacity(column.len());
    ids.insert_if_new(
        &column,
        |_| {
            fresh.set(true);
            fingerprints.value(row.get())
        },
        |first| {
            let i = row.replace(row.get() + 1);
            let is_fresh = fresh.replace(false) || column.is_null(i);
            keep.push(is_fresh);
            stage.push(!is_fresh && first != fingerprints.value(i));
        },
    );
    Ok((
        filter_record_batch(batch, &BooleanArray::from(keep))?,
        filter_record_batch(batch, &BooleanArray::from(stage))?,
    ))
}

/// Each row's event id qualified by its source: `<bytes of app_id>:<app_id><bytes of
/// environment_id>:<environment_id><event_id>`, NULL without an id. The lengths make the key
/// unambiguous whatever the ids contain; the query in `open` builds the same key from the
/// stored events.
fn source_keys(batch: &RecordBatch) -> Result<ArrayRef> {
    let column = |name: &str| -> Result<ArrayRef> {
        utf8(
            batch
                .column_by_name(name)
                .expect("the staged schema has the source columns"),
        )
    };
    let (apps, environments, ids) = (
        column("app_id")?,
        column("environment_id")?,
        column("event_id")?,
    );
    let (apps, environments, ids) = (
        apps.as_string::<i32>(),
        environments.as_string::<i32>(),
        ids.as_string::<i32>(),
    );
    let mut keys = StringBuilder::with_capacity(ids.len(), ids.len() * 48);
    let mut key = String::new();
    let mut length = itoa::Buffer::new();
    for i in 0..ids.len() {
        if ids.is_null(i) {
            keys.append_null();
            continue;
        }
        key.clear();
        for part in [apps.value(i), environments.value(i)] {
            // Into the reused buffer: no allocation or formatting machinery per row.
            key.push_str(length.format(part.len()));
            key.push(':');
            key.push_str(part);
        }
        key.push_str(ids.value(i));
        keys.append_value(&key);
    }
    Ok(Arc::new(keys.finish()))
}

fn utf8(column: &ArrayRef) -> Result<ArrayRef> {
    Ok(match column.data_type() {
        DataType::Utf8 => column.clone(),
        _ => cast(column, &DataType::Utf8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::{Field, Schema};

    fn batch(ids: &[Option<&str>]) -> RecordBatch {
        from_source("a", ids)
    }

    fn from_source(app: &str, ids: &[Option<&str>]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("event_id", DataType::Utf8, true),
            Field::new("app_id", DataType::Utf8, false),
            Field::new("environment_id", DataType::Utf8, false),
        ]));
        let n = ids.len();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(ids.to_vec())),
                Arc::new(StringArray::from(vec![app; n])),
                Arc::new(StringArray::from(vec!["p"; n])),
            ],
        )
        .unwrap()
    }

    fn ids(batch: &RecordBatch) -> Vec<Option<String>> {
        let c = batch.column(0).as_string::<i32>();
        c.iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn two_sources_may_use_the_same_ids() {
        let mut set = IdSet::new(OutputType::Utf8);
        let a = from_source("a", &[Some("1"), Some("2")]);
        let b = from_source("b", &[Some("1"), Some("2")]);
        let prints = UInt64Array::from(vec![1, 2]);
        assert_eq!(split_fresh(&mut set, &a, &prints).unwrap().0.num_rows(), 2);
        assert_eq!(split_fresh(&mut set, &b, &prints).unwrap().0.num_rows(), 2);
        let (fresh, repeated) = split_fresh(&mut set, &b, &prints).unwrap();
        assert_eq!(
            (fresh.num_rows(), repeated.num_rows()),
            (0, 0),
            "the same rows again"
        );
        let other = UInt64Array::from(vec![1, 3]);
        let (fresh, repeated) = split_fresh(&mut set, &b, &other).unwrap();
        assert_eq!(
            (fresh.num_rows(), ids(&repeated)),
            (0, vec![Some("2".into())]),
            "another version of 2"
        );
    }

    #[test]
    fn a_seen_id_is_set_aside_across_batches_and_rows_without_one_always_pass() {
        let mut set = IdSet::new(OutputType::Utf8);
        // Every row a version of its own.
        let first = batch(&[Some("a"), None, Some("b"), Some("a"), None]);
        let prints = UInt64Array::from(vec![1, 2, 3, 4, 5]);
        let (fresh, repeated) = split_fresh(&mut set, &first, &prints).unwrap();
        assert_eq!(
            ids(&fresh),
            vec![Some("a".into()), None, Some("b".into()), None]
        );
        assert_eq!(ids(&repeated), vec![Some("a".into())]);
        let second = batch(&[Some("b"), Some("c"), None, Some("c")]);
        let prints = UInt64Array::from(vec![6, 7, 8, 9]);
        let (fresh, repeated) = split_fresh(&mut set, &second, &prints).unwrap();
        assert_eq!(ids(&fresh), vec![Some("c".into()), None]);
        assert_eq!(ids(&repeated), vec![Some("b".into()), Some("c".into())]);
    }
}
