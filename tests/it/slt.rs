//! SQL-level tests: each `tests/slt/*.slt` file runs with sqllogictest against a fresh
//! warehouse, through the same session (`Session::open`) as `sql` and `report`.
//!
//! Besides SQL, a record's text may start with one of these verbs on its own line:
//! - `INGEST`, then CSV lines with a header: runs `seatcount ingest` on them (the binary,
//!   so bad rows give its error and `statement error` can match it);
//! - `CONFIG`, then TOML: replaces `seatcount.toml`;
//! - `ENTITLEMENTS`, then CSV lines without header: replaces `entitlements.csv`;
//! - `ASSIGNMENTS`, then CSV lines without header: replaces `assignments.csv`;
//! - `REPORT name YYYY-MM`: runs a canned report.
//!
//! The warehouse makes its own random key, so files compare hashes, never print them.

use std::path::PathBuf;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use seatcount::engine::Access;
use seatcount::engine::session::Session;
use seatcount::reports;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};

use crate::common::{Fixture, repo};

/// A failed record, as one line of text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SltError(String);

impl From<seatcount::error::Error> for SltError {
    fn from(e: seatcount::error::Error) -> Self {
        SltError(e.to_string())
    }
}

/// One `.slt` file's warehouse and, once opened, its session.
struct SeatcountDb {
    fx: Fixture,
    session: Option<Session>,
    inputs: usize,
}

impl SeatcountDb {
    fn new() -> Self {
        SeatcountDb {
            fx: Fixture::with_key_file(),
            session: None,
            inputs: 0,
        }
    }

    async fn session(&mut self) -> Result<&Session, SltError> {
        if self.session.is_none() {
            self.session = Some(Session::open(&self.fx.wh(), None).await?);
        }
        Ok(self.session.as_ref().expect("just opened"))
    }

    fn ingest(&mut self, csv: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        self.inputs += 1;
        let file = self
            .fx
            .file(&format!("input-{}.csv", self.inputs), &format!("{csv}\n"));
        let out = self
            .fx
            .cmd()
            .arg("ingest")
            .arg(&file)
            .output()
            .expect("run");
        self.session = None;
        if !out.status.success() {
            return Err(SltError(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        Ok(DBOutput::StatementComplete(0))
    }

    fn replace(&mut self, name: &str, text: String) -> DBOutput<DefaultColumnType> {
        std::fs::create_dir_all(self.fx.wh()).expect("warehouse dir");
        std::fs::write(self.fx.wh().join(name), text).expect("write");
        self.session = None;
        DBOutput::StatementComplete(0)
    }
}

#[async_trait]
impl AsyncDB for SeatcountDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let (first, body) = sql.split_once('\n').unwrap_or((sql, ""));
        let words: Vec<&str> = first.split_whitespace().collect();
        match words.as_slice() {
            ["INGEST"] => self.ingest(body),
            ["CONFIG"] => Ok(self.replace("seatcount.toml", body.to_string())),
            ["ENTITLEMENTS"] => {
                Ok(self.replace("entitlements.csv", crate::common::entitlements(&[body])))
            }
            ["ASSIGNMENTS"] => Ok(self.replace(
                "assignments.csv",
                format!("subscription_id,app_id,assigned_from\n{body}\n"),
            )),
            ["ENTITLEMENTS", "PRICED"] => {
                let header = seatcount::warehouse::entitlements::COLUMNS
                    .iter()
                    .chain(&seatcount::warehouse::entitlements::PRICE_COLUMNS)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(",");
                Ok(self.replace("entitlements.csv", format!("{header}\n{body}\n")))
            }
            ["REPORT", name, when] => {
                let report = reports::find(name)?;
                let session = self.session().await?;
                // A month (YYYY-MM), or the day a day's report takes as today (YYYY-MM-DD).
                let asked = match chrono::NaiveDate::parse_from_str(when, "%Y-%m-%d") {
                    Ok(day) => reports::Asked {
                        month: None,
                        today: Some(day),
                    },
                    Err(_) => reports::Asked {
                        month: Some(when),
                        today: None,
                    },
                };
                let (_, batches) = reports::run(session, report, asked).await?;
                Ok(rows(&batches))
            }
            _ => {
                let session = self.session().await?;
                let (_, batches) = session
                    .engine
                    .script(sql, Access::Write)
                    .await?
                    .collect()
                    .await?;
                Ok(rows(&batches))
            }
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "seatcount"
    }
}

/// Batches as sqllogictest rows: NULL as `NULL`, the empty string as `(empty)`.
fn rows(batches: &[RecordBatch]) -> DBOutput<DefaultColumnType> {
    let Some(schema) = batches.first().map(|b| b.schema()) else {
        return DBOutput::StatementComplete(0);
    };
    if schema.fields().is_empty() {
        return DBOutput::StatementComplete(0);
    }
    let types = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            t if t.is_integer() => DefaultColumnType::Integer,
            t if t.is_floating() || matches!(t, DataType::Decimal128(..)) => {
                DefaultColumnType::FloatingPoint
            }
            _ => DefaultColumnType::Text,
        })
        .collect();
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("displayable"))
            .collect();
        for row in 0..batch.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| match f.value(row).to_string() {
                        s if s.is_empty() => "(empty)".to_string(),
                        s => s,
                    })
                    .collect(),
            );
        }
    }
    DBOutput::Rows { types, rows: out }
}

fn slt_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/slt"))
        .expect("tests/slt")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

#[test]
fn sql_logic_tests() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let files = slt_files();
    assert!(files.len() >= 4, "expected the .slt files, found {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let mut runner = Runner::new(|| async { Ok(SeatcountDb::new()) });
        runner.with_column_validator(sqllogictest::strict_column_validator);
        if let Err(e) = runtime.block_on(runner.run_file_async(file)) {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
