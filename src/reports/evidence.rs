//! Evidence of runs (docs/evidence.md): a report saved with what it was computed from, two
//! saved runs compared, a saved run recomputed from what it recorded, and months closed with
//! what changed since. The runs themselves
//! are kept by [`crate::warehouse::runs`].

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::format::{self, OutputFormat};
use super::{Asked, Report};
use crate::engine::Rows;
use crate::engine::session::{Origins, Session};
use crate::error::{Error, Result};
use crate::warehouse::closes::{self, Close};
use crate::warehouse::manifest::{self, StoredFile};
use crate::warehouse::runs::{self, Run, Saved};
use crate::warehouse::{Warehouse, commit, crash};

/// A report as it was run and saved.
pub struct SavedReport {
    /// The run's id.
    pub id: String,
    /// The report's columns.
    pub schema: SchemaRef,
    /// Its rows.
    pub batches: Vec<RecordBatch>,
}

/// Runs `report` as `asked` on `session` and saves it with what it was computed from;
/// `close` names the month a `close` saves it for. The month and day are settled first, so
/// recomputing the run later asks the same question. `accept` sees the result's columns
/// first: a refusal (gates on a report without entitlements) saves nothing.
pub async fn save(
    session: &Session,
    report: Report,
    asked: Asked<'_>,
    close: Option<&str>,
    accept: impl FnOnce(&SchemaRef) -> Result<()>,
) -> Result<SavedReport> {
    let settled = super::settle(session, report, asked).await?;
    let (schema, batches) = super::run(session, report, settled.asked()).await?;
    accept(&schema)?;
    let output = csv(&schema, &batches)?;
    let wh = &session.warehouse;
    let run = Run {
        report: report.name.to_string(),
        month: settled.month.clone(),
        today: settled.today.map(|d| d.to_string()),
        saved_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        version: env!("CARGO_PKG_VERSION").to_string(),
        close: close.map(str::to_string),
        sources: session.sources.clone(),
        events: manifest::manifest(wh)?,
        inputs: commit::ledger(wh)?,
        rows: batches.iter().map(|b| b.num_rows() as u64).sum(),
        output_sha256: runs::sha256_hex(&output),
    };
    let id = runs::save(wh, &run, &output)?;
    Ok(SavedReport {
        id,
        schema,
        batches,
    })
}

/// The report's rows as the CSV a run keeps.
fn csv(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    format::write(&mut out, schema, batches, OutputFormat::Csv)?;
    Ok(out)
}

/// Every saved run, oldest first: `runs list`.
pub fn list(wh: &Warehouse) -> Result<Rows<'static>> {
    let saved: Vec<Saved> = runs::ids(wh)?
        .iter()
        .map(|id| runs::load(wh, id))
        .collect::<Result<_>>()?;
    let text = |f: &dyn Fn(&Saved) -> Option<String>| -> Arc<StringArray> {
        Arc::new(StringArray::from_iter(saved.iter().map(f)))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("report", DataType::Utf8, false),
        Field::new("month", DataType::Utf8, true),
        Field::new("today", DataType::Utf8, true),
        Field::new("saved_at", DataType::Utf8, false),
        Field::new("rows", DataType::UInt64, false),
        Field::new("close", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            text(&|s| Some(s.id.clone())),
            text(&|s| Some(s.run.report.clone())),
            text(&|s| s.run.month.clone()),
            text(&|s| s.run.today.clone()),
            text(&|s| Some(s.run.saved_at.clone())),
            Arc::new(UInt64Array::from_iter_values(
                saved.iter().map(|s| s.run.rows),
            )),
            text(&|s| s.run.close.clone()),
        ],
    )?;
    Ok(Rows::from_batches(schema, vec![batch]))
}

/// What a run recorded, one line each, for `runs show` (stderr) and the docs.
pub fn describe(saved: &Saved) -> Vec<String> {
    let r = &saved.run;
    let mut lines = vec![
        format!("run {}: {}", saved.id, asked_text(r)),
        format!("saved {} by seatcount {}", r.saved_at, r.version),
        format!("{} rows, output.csv sha256 {}", r.rows, r.output_sha256),
    ];
    for (name, digest) in source_digests(r) {
        lines.push(format!("{name}: {digest}"));
    }
    for ((table, month), files) in manifest::by_table_and_month(&r.events) {
        lines.push(format!("{table} {month}: {}", summary(&files)));
    }
    for input in &r.inputs {
        lines.push(format!("ingested {} sha256 {}", input.file, input.sha256));
    }
    lines
}

fn asked_text(r: &Run) -> String {
    let mut text = r.report.clone();
    if let Some(m) = &r.month {
        text.push_str(&format!(" --month {m}"));
    }
    if let Some(d) = &r.today {
        text.push_str(&format!(" --today {d}"));
    }
    if let Some(c) = &r.close {
        text.push_str(&format!(" (close of {c})"));
    }
    text
}

/// Each recorded source with the start of its SHA-256 (or "none").
fn source_digests(r: &Run) -> Vec<(&'static str, String)> {
    let digest = |t: Option<&String>| {
        t.map(|t| runs::sha256_hex(t.as_bytes())[..16].to_string())
            .unwrap_or_else(|| "none".into())
    };
    vec![
        ("seatcount.toml", digest(Some(&r.sources.config))),
        ("entitlements.csv", digest(r.sources.entitlements.as_ref())),
        ("assignments.csv", digest(r.sources.assignments.as_ref())),
    ]
}

/// Files and rows of one table's month (conflicts' rows are event versions too).
fn summary(files: &[StoredFile]) -> String {
    let rows: u64 = files.iter().map(|f| f.rows).sum();
    format!("{} file(s), {rows} events", files.len())
}

/// One difference between two runs: an input or a row.
struct Change {
    change: &'static str,
    row: String,
    column: String,
    before: Option<String>,
    after: Option<String>,
}

/// What differs between the inputs of `a` and `b`: sources, version, events per month.
fn input_changes(a: &Run, b: &Run) -> Vec<Change> {
    let mut out = Vec::new();
    let mut input = |row: String, before: Option<String>, after: Option<String>| {
        if before != after {
            out.push(Change {
                change: "input",
                row,
                column: String::new(),
                before,
                after,
            });
        }
    };
    for ((name, before), (_, after)) in source_digests(a).into_iter().zip(source_digests(b)) {
        input(name.to_string(), Some(before), Some(after));
    }
    input(
        "seatcount version".into(),
        Some(a.version.clone()),
        Some(b.version.clone()),
    );
    // Events and conflicts, each month apart: a conflicting version changes hygiene alone.
    let before = manifest::by_table_and_month(&a.events);
    let after = manifest::by_table_and_month(&b.events);
    let groups: std::collections::BTreeSet<_> = before.keys().chain(after.keys()).collect();
    for group @ (table, month) in groups {
        let (x, y) = (before.get(group), after.get(group));
        if x != y {
            input(
                format!("{table} {month}"),
                x.map(|f| summary(f)),
                y.map(|f| summary(f)),
            );
        }
    }
    out
}

/// A saved output's header, and its rows by their key.
type Keyed = (Vec<String>, BTreeMap<Vec<String>, Vec<String>>);

/// The rows of a run's CSV by their key (the report's first `key` columns), with the header.
fn keyed(output: &[u8], key: usize) -> Result<Keyed> {
    let mut reader = csv::Reader::from_reader(output);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::Runtime(format!("a saved output does not read as CSV: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = BTreeMap::new();
    for record in reader.records() {
        let record = record
            .map_err(|e| Error::Runtime(format!("a saved output does not read as CSV: {e}")))?;
        let fields: Vec<String> = record.iter().map(str::to_string).collect();
        rows.insert(fields[..key.min(fields.len())].to_vec(), fields);
    }
    Ok((header, rows))
}

/// The rows that differ between two outputs of one report, by key.
fn row_changes(a: &[u8], b: &[u8], key: usize) -> Result<Vec<Change>> {
    let ((header, before), (_, after)) = (keyed(a, key)?, keyed(b, key)?);
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<&Vec<String>> =
        before.keys().chain(after.keys()).collect();
    for k in keys {
        let row = k.join(",");
        match (before.get(k), after.get(k)) {
            (Some(x), Some(y)) => {
                for (i, name) in header.iter().enumerate().skip(key) {
                    if x.get(i) != y.get(i) {
                        out.push(Change {
                            change: "changed",
                            row: row.clone(),
                            column: name.clone(),
                            before: x.get(i).cloned(),
                            after: y.get(i).cloned(),
                        });
                    }
                }
            }
            (x, y) => out.push(Change {
                change: if x.is_some() { "removed" } else { "added" },
                row,
                column: String::new(),
                before: x.map(|f| f[key.min(f.len())..].join(",")),
                after: y.map(|f| f[key.min(f.len())..].join(",")),
            }),
        }
    }
    Ok(out)
}

/// `runs diff A B`: what differs between two saved runs of one report, inputs first, then
/// the rows, by the report's key.
pub fn diff(wh: &Warehouse, a: &str, b: &str) -> Result<Rows<'static>> {
    let (a, b) = (runs::load(wh, a)?, runs::load(wh, b)?);
    if a.run.report != b.run.report {
        return Err(Error::Usage(format!(
            "runs {} and {} are of different reports ({} and {}); only runs of one report compare",
            a.id, b.id, a.run.report, b.run.report
        )));
    }
    let report = super::find(&a.run.report)?;
    let mut changes = input_changes(&a.run, &b.run);
    changes.extend(row_changes(&a.output, &b.output, report.key)?);
    Ok(changes_rows(changes))
}

fn changes_rows(changes: Vec<Change>) -> Rows<'static> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("change", DataType::Utf8, false),
        Field::new("row", DataType::Utf8, false),
        Field::new("column", DataType::Utf8, false),
        Field::new("before", DataType::Utf8, true),
        Field::new("after", DataType::Utf8, true),
    ]));
    let column = |f: &dyn Fn(&Change) -> Option<String>| -> Arc<StringArray> {
        Arc::new(StringArray::from_iter(changes.iter().map(f)))
    };
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            column(&|c| Some(c.change.to_string())),
            column(&|c| Some(c.row.clone())),
            column(&|c| Some(c.column.clone())),
            column(&|c| c.before.clone()),
            column(&|c| c.after.clone()),
        ],
    )
    .expect("the columns match the schema");
    Rows::from_batches(schema, vec![batch])
}

/// `runs verify ID`: recomputes the run from the configuration, subscriptions and
/// assignments it recorded, over the warehouse's events, and compares the bytes. A run whose
/// files were edited is refused by [`runs::load`]; one that recomputes differently says which
/// inputs changed and how many rows differ.
pub async fn verify(wh: &Warehouse, id: &str) -> Result<String> {
    let saved = runs::load(wh, id)?;
    let origins = Origins {
        config: format!("run {id}'s seatcount.toml"),
        entitlements: format!("run {id}'s entitlements.csv").into(),
        assignments: format!("run {id}'s assignments.csv").into(),
    };
    let session = Session::from_sources(wh.clone(), saved.run.sources.clone(), &origins).await?;
    let report = super::find(&saved.run.report)?;
    let today = saved
        .run
        .today
        .as_deref()
        .map(|d| d.parse::<chrono::NaiveDate>())
        .transpose()
        .map_err(|_| Error::Runtime(format!("run {id} records a day that is not a date")))?;
    let asked = Asked {
        month: saved.run.month.as_deref(),
        today,
    };
    let (schema, batches) = super::run(&session, report, asked).await?;
    let output = csv(&schema, &batches)?;
    if output == saved.output {
        return Ok(format!(
            "run {id} verified: recomputed from what it recorded, its {} rows are the same, byte for byte",
            saved.run.rows
        ));
    }
    let mut now = saved.run.clone();
    now.events = manifest::manifest(wh)?;
    now.version = env!("CARGO_PKG_VERSION").to_string();
    let inputs: Vec<String> = input_changes(&saved.run, &now)
        .into_iter()
        .map(|c| {
            format!(
                "{} was {} and is {}",
                c.row,
                c.before.unwrap_or_else(|| "absent".into()),
                c.after.unwrap_or_else(|| "absent".into())
            )
        })
        .collect();
    let rows = row_changes(&saved.output, &output, report.key)?.len();
    let why = if inputs.is_empty() {
        "no recorded input changed, so the semantics did".to_string()
    } else {
        inputs.join("; ")
    };
    Err(Error::Runtime(format!(
        "run {id} does not recompute to its output: {rows} difference(s) in its rows; {why}"
    )))
}

/// `seatcount close MONTH`: saves every monthly report of `month` as a run, then records the
/// close in one atomic write ([`closes::record`]). A crash before that write leaves the month
/// open (the runs it saved stay, as plain runs); after it, closed.
pub async fn close(session: &Session, month: &str) -> Result<Close> {
    let month = super::parse_month(month)?;
    let mut saved = Vec::new();
    for report in super::all().filter(|r| r.is_monthly()) {
        let asked = Asked {
            month: Some(&month),
            today: None,
        };
        let run = save(session, report, asked, Some(&month), |_| Ok(())).await?;
        saved.push((report.name.to_string(), run.id));
    }
    crash::point("close-runs-saved");
    let wh = &session.warehouse;
    let close = Close {
        events: month_files(wh, &month)?,
        month,
        closed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        runs: saved,
    };
    closes::record(wh, &close)?;
    Ok(close)
}

/// The month's events files as the manifest lists them now.
fn month_files(wh: &Warehouse, month: &str) -> Result<Vec<StoredFile>> {
    Ok(manifest::events_by_month(wh)?
        .remove(month)
        .unwrap_or_default())
}

/// The `changes` report (`report`) of `month`: what changed since the month's close, in
/// inputs, persons and seats (`sql/evidence/changes.sql`).
pub(crate) async fn changes(
    session: &Session,
    report: Report,
    month: &str,
) -> Result<Rows<'static>> {
    let month = month.to_string();
    let wh = &session.warehouse;
    let close = closes::find(wh, &month)?.ok_or_else(|| {
        Error::Usage(format!(
            "{month} is not closed; `seatcount close {month}` closes it"
        ))
    })?;
    let mut tables = Vec::new();
    let mut closed_sources = None;
    for name in ["usage", "users"] {
        let id = close
            .runs
            .iter()
            .find(|(report, _)| report == name)
            .map(|(_, id)| id.as_str())
            .ok_or_else(|| Error::Runtime(format!("the close of {month} saved no {name} run")))?;
        let saved = runs::load(wh, id)?;
        let asked = Asked {
            month: Some(&month),
            today: None,
        };
        let (schema, now) = super::run(session, super::find(name)?, asked).await?;
        let then = datafusion::arrow::csv::ReaderBuilder::new(schema.clone())
            .with_header(true)
            .build(std::io::Cursor::new(saved.output.clone()))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        tables.push((format!("closed_{name}"), schema.clone(), then));
        tables.push((format!("now_{name}"), schema, now));
        closed_sources.get_or_insert(saved.run);
    }
    let closed = closed_sources.expect("two runs were read");
    let mut inputs: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    let now_digests = source_digests(&Run {
        sources: session.sources.clone(),
        ..closed.clone()
    });
    for ((name, before), (_, after)) in source_digests(&closed).into_iter().zip(now_digests) {
        inputs.push((name.to_string(), Some(before), Some(after)));
    }
    inputs.push((
        "seatcount version".into(),
        Some(closed.version.clone()),
        Some(env!("CARGO_PKG_VERSION").to_string()),
    ));
    inputs.push((
        format!("events {month}"),
        Some(summary(&close.events)),
        Some(summary(&month_files(wh, &month)?)),
    ));
    let schema = Arc::new(Schema::new(vec![
        Field::new("what", DataType::Utf8, false),
        Field::new("at_close", DataType::Utf8, true),
        Field::new("now", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(
                inputs.iter().map(|i| i.0.as_str()),
            )),
            Arc::new(StringArray::from_iter(
                inputs.iter().map(|i| i.1.as_deref()),
            )),
            Arc::new(StringArray::from_iter(
                inputs.iter().map(|i| i.2.as_deref()),
            )),
        ],
    )?;
    tables.push(("inputs".to_string(), schema, vec![batch]));
    super::compare(session, tables, &report.file).await
}
