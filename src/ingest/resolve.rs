//! The end of a month's ingest: which version of each repeated event id counts.
//!
//! Rows whose id the month had already seen were staged ([`super::months`]). Here the SQL
//! files `sql/ingest/{contested,resolved,conflicts,outranked}.sql` rank every version of those
//! ids, stored ones included, by an order-free rule (docs/semantics.md "Counted events"), and
//! this module writes what follows: the versions that count, the ones set aside, and, when a
//! new version outranks an event already written, the file it was in without it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::datasource::MemTable;
use datafusion::prelude::ParquetReadOptions;
use datafusion::scalar::ScalarValue;
use futures::StreamExt;

use super::conform;
use super::months::MonthFiles;
use super::write::{ParquetSink, Purpose};
use crate::engine::sql::{self, Params, SqlFile};
use crate::engine::{Engine, literal_url};
use crate::error::Result;
use crate::warehouse::{EVENTS, Warehouse, manifest, schema};

/// A file this ingest wrote, and its rows.
pub type Written = (PathBuf, u64);

/// What one month of an ingest leaves to commit.
#[derive(Debug, Default)]
pub struct Resolved {
    /// This ingest's events of the month: its direct file (without any row a later version
    /// outranked) and the staged versions that count.
    pub added: Vec<Written>,
    /// The versions that do not count, for the `conflicts` table.
    pub conflicts: Option<Written>,
    /// How many of those were stored events, outranked by a version from this ingest.
    pub outranked_stored: u64,
    /// When some were: the month's stored events without them, which replace every stored
    /// file of the month (listed in `replaced`).
    pub kept_stored: Option<Written>,
    /// The stored files `kept_stored` replaces, relative to the warehouse root.
    pub replaced: Vec<PathBuf>,
}

/// Resolves `month`'s staged rows, if any, writing new files into `dir`.
pub async fn month(
    engine: &Engine,
    wh: &Warehouse,
    month: &str,
    files: &MonthFiles,
    dir: &Path,
) -> Result<Resolved> {
    let mut out = Resolved::default();
    let direct = files.direct.as_ref();
    let Some(staged) = &files.staged else {
        out.added
            .extend(direct.filter(|(_, rows)| *rows > 0).cloned());
        return Ok(out);
    };
    let ctx = engine.context();
    register_file(engine, "staged", Some(staged)).await?;
    register_file(engine, "direct", direct.map(|(path, _)| path.as_path())).await?;
    let params = Params::for_ingest();
    let month_value = [ScalarValue::Utf8(Some(month.to_string()))];
    let (schema, contested) = engine
        .query(&params.render(&sql::INGEST_CONTESTED)?, &month_value)
        .await?
        .collect()
        .await?;
    let (outranked_stored, outranked_direct) = outranked(&contested)?;
    ctx.deregister_table("contested")?;
    ctx.register_table(
        "contested",
        Arc::new(MemTable::try_new(schema, vec![contested])?),
    )?;

    if let Some((path, rows)) = direct {
        if outranked_direct == 0 {
            out.added.push((path.clone(), *rows));
        } else {
            let kept = dir.join(format!("direct-kept-{month}.parquet"));
            let rows = without_outranked(engine, &params, path, Origin::Direct, &kept).await?;
            out.added.push((kept, rows));
        }
    }
    let added = dir.join(format!("resolved-{month}.parquet"));
    let rows = write(engine, &params, &sql::INGEST_RESOLVED, &[], &added).await?;
    out.added.push((added, rows));
    out.added.retain(|(_, rows)| *rows > 0);

    let conflicts = dir.join(format!("conflicts-{month}.parquet"));
    let rows = write(engine, &params, &sql::INGEST_CONFLICTS, &[], &conflicts).await?;
    out.conflicts = (rows > 0).then_some((conflicts, rows));

    if outranked_stored > 0 {
        out.outranked_stored = outranked_stored;
        let month_dir = wh.events_dir().join(format!("{}={month}", schema::MONTH));
        let kept = dir.join(format!("stored-kept-{month}.parquet"));
        let rows = without_outranked(engine, &params, &month_dir, Origin::Stored, &kept).await?;
        out.kept_stored = (rows > 0).then_some((kept, rows));
        let prefix = Path::new(EVENTS).join(format!("{}={month}", schema::MONTH));
        out.replaced = manifest::manifest(wh)?
            .into_iter()
            .map(|f| f.path)
            .filter(|p| p.starts_with(&prefix))
            .collect();
    }
    for table in ["staged", "direct", "contested", "earlier"] {
        ctx.deregister_table(table)?;
    }
    Ok(out)
}

/// Where a version was first found, as `contested.sql` numbers it (`origin`).
#[derive(Clone, Copy)]
enum Origin {
    Stored = 0,
    Direct = 1,
}

/// Writes the rows of `earlier` (a file or directory of one row per event id, whose
/// versions were first found at `origin`) that no version from this ingest outranked.
async fn without_outranked(
    engine: &Engine,
    params: &Params,
    earlier: &Path,
    origin: Origin,
    out: &Path,
) -> Result<u64> {
    register_file(engine, "earlier", Some(earlier)).await?;
    let origin = [ScalarValue::Int64(Some(origin as i64))];
    write(engine, params, &sql::INGEST_OUTRANKED, &origin, out).await
}

/// How many ranked versions that do not count were stored, and how many were written
/// directly by this ingest: the files they are in need rewriting.
fn outranked(contested: &[RecordBatch]) -> Result<(u64, u64)> {
    let (mut stored, mut direct) = (0, 0);
    for batch in contested {
        let column = |name: &str| -> Result<_> {
            let c = batch.column_by_name(name).expect("contested.sql yields it");
            Ok(cast(c, &DataType::Int64)?)
        };
        let (place, origin) = (column("place")?, column("origin")?);
        let place = place.as_primitive::<Int64Type>();
        let origin = origin.as_primitive::<Int64Type>();
        for (place, origin) in place.values().iter().zip(origin.values()) {
            match (*place > 1, *origin) {
                (true, o) if o == Origin::Stored as i64 => stored += 1,
                (true, o) if o == Origin::Direct as i64 => direct += 1,
                _ => {}
            }
        }
    }
    Ok((stored, direct))
}

/// Registers the Parquet file or directory `path` as `name` with the stored schema, or an
/// empty table when there is none.
async fn register_file(engine: &Engine, name: &str, path: Option<&Path>) -> Result<()> {
    let ctx = engine.context();
    ctx.deregister_table(name)?;
    let stored = schema::stored_schema();
    match path {
        Some(path) => {
            let options = ParquetReadOptions::default().schema(&stored);
            ctx.register_parquet(name, &literal_url(path)?, options)
                .await?;
        }
        None => {
            ctx.register_table(name, Arc::new(MemTable::try_new(stored, vec![vec![]])?))?;
        }
    }
    Ok(())
}

/// Runs one ingest SQL file and writes its rows as a stored file at `path`.
async fn write(
    engine: &Engine,
    params: &Params,
    file: &SqlFile,
    values: &[ScalarValue],
    path: &Path,
) -> Result<u64> {
    let mut stream = engine.query(&params.render(file)?, values).await?.batches;
    let stored = schema::stored_schema();
    let mut sink = ParquetSink::create(path, stored.clone(), Purpose::Stored)?;
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = conform(&batch?, &stored)?;
        rows += batch.num_rows() as u64;
        if batch.num_rows() > 0 {
            sink.write(batch).await?;
        }
    }
    sink.finish()?;
    Ok(rows)
}
