//! Canned reports (SPEC §8): the SQL files under `sql/reports/`, run for one month over the
//! views of `sql/views/`. This module finds a report, settles its month and runs it; the
//! report's meaning lives in its SQL file.

pub mod dashboard;
pub mod format;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use futures::{StreamExt, TryStreamExt};

use crate::engine::Engine;
use crate::engine::session::Session;
use crate::engine::sql::{Params, REPORTS, SqlFile};
use crate::error::{Error, Result};

/// A canned report.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Its name on the command line.
    pub name: &'static str,
    /// Its SQL file.
    pub file: SqlFile,
}

impl Report {
    /// One line on what the report shows.
    pub fn summary(&self) -> &'static str {
        self.file.summary()
    }

    /// Whether the report covers one month (`--month`) rather than all of them.
    pub fn is_monthly(&self) -> bool {
        self.file.text.contains("{{month}}")
    }
}

/// Every canned report, in the order `seatcount reports` lists them.
pub fn all() -> impl Iterator<Item = Report> {
    REPORTS
        .iter()
        .map(|(name, file)| Report { name, file: *file })
}

/// The list `seatcount reports` and the REPL's `\reports` print: one line per report.
pub fn listing() -> String {
    all()
        .map(|r| format!("{:<12} {}\n", r.name, r.summary()))
        .collect()
}

/// The report called `name`, or a usage error listing the names.
pub fn find(name: &str) -> Result<Report> {
    all().find(|r| r.name == name).ok_or_else(|| {
        let names: Vec<&str> = all().map(|r| r.name).collect();
        Error::Usage(format!(
            "there is no report named {name:?}; the reports are {}",
            names.join(", ")
        ))
    })
}

/// Checks a `--month` value.
pub fn parse_month(text: &str) -> Result<String> {
    let ok = text.len() == 7
        && text.as_bytes()[4] == b'-'
        && chrono::NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").is_ok();
    if ok {
        Ok(text.to_string())
    } else {
        Err(Error::Usage(format!(
            "--month {text:?} is not a month (YYYY-MM)"
        )))
    }
}

/// Every month with events, oldest first; an empty warehouse is an error, because no
/// report or page can say anything about it.
pub async fn months_with_data(engine: &Engine) -> Result<Vec<String>> {
    let months = engine.months().await?;
    if months.is_empty() {
        return Err(Error::Runtime(
            "the warehouse holds no events yet; ingest some with `seatcount ingest FILE`".into(),
        ));
    }
    Ok(months)
}

/// How many months a report over every month computes at once. Two at once were 1.3x faster
/// at 10M events but ran out of the 4 GiB pool at 100M, where one month needs most of it
/// (BENCHMARKS.md items 16 and 20): the memory bound comes first. Months at once share one
/// memory pool.
const MONTHS_AT_ONCE: usize = 1;

/// Runs `report` for `month` (default: the latest month with data) on `session`'s
/// warehouse and configuration.
///
/// A monthly report runs on views scoped to its month. A report over every month (history)
/// runs once per month, [`MONTHS_AT_ONCE`] months at a time, each on views scoped to that
/// month, and its rows are concatenated in month order; so its SQL must order by month first.
/// Either way memory follows the largest months, not the whole warehouse.
pub async fn run(
    session: &Session,
    report: Report,
    month: Option<&str>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let months = months_with_data(&session.engine).await?;
    let latest = months.last().expect("months_with_data is never empty");
    let month = match month {
        None => latest.clone(),
        Some(m) => {
            let m = parse_month(m)?;
            if report.is_monthly() && !months.contains(&m) {
                return Err(Error::Usage(format!(
                    "there are no events in {m}; months with data: {}",
                    months.join(", ")
                )));
            }
            m
        }
    };
    let render = |m: &str| {
        Params::from_config(&session.config)
            .with_month(m)
            .render(&report.file)
    };
    if report.is_monthly() {
        let engine = session.scoped(&month).await?;
        return engine.run_script(&render(&month)?).await;
    }
    let per_month = futures::stream::iter(months.iter().cloned())
        .map(|m: String| async move {
            let engine = session.scoped(&m).await?;
            engine.run_script(&render(&m)?).await
        })
        .buffered(MONTHS_AT_ONCE)
        .try_collect::<Vec<_>>()
        .await?;
    let mut schema = None;
    let mut rows = Vec::new();
    for (s, batches) in per_month {
        schema.get_or_insert(s);
        rows.extend(batches);
    }
    Ok((schema.expect("at least one month"), rows))
}
