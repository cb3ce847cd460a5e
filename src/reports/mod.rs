//! Canned reports (docs/semantics.md "Reports"): the SQL files under `sql/reports/`, run for
//! one month over the views of `sql/views/`. This module finds a report, settles its month and
//! runs it; the report's meaning lives in its SQL file.

pub(crate) mod dashboard;
pub mod evidence;
pub(crate) mod format;
pub mod gates;
pub mod what_if;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use futures::{StreamExt, TryStreamExt};

use crate::engine::session::Session;
use crate::engine::sql::{Params, REPORTS, ReportScope, SqlFile};
use crate::engine::{Access, Engine, Rows};
use crate::error::{Error, Result};

/// A canned report.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Its name on the command line.
    pub name: &'static str,
    /// Its SQL file.
    pub file: SqlFile,
    /// What it covers.
    pub scope: ReportScope,
    /// How many leading columns tell its rows apart.
    pub key: usize,
}

impl Report {
    /// One line on what the report shows.
    pub fn summary(&self) -> &'static str {
        self.file.summary()
    }

    /// Whether the report covers one month (`--month`) rather than all of them.
    pub(crate) fn is_monthly(&self) -> bool {
        self.scope == ReportScope::Month
    }
}

/// What a report may be asked about besides its configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asked<'a> {
    /// `--month`: the month of a monthly report.
    pub month: Option<&'a str>,
    /// `--today`: the day the `subscriptions` report takes as today (default: the UTC date).
    pub today: Option<chrono::NaiveDate>,
}

/// Every canned report, in the order `seatcount reports` lists them.
pub fn all() -> impl Iterator<Item = Report> {
    REPORTS.iter().map(|r| Report {
        name: r.name,
        file: r.file,
        scope: r.scope,
        key: r.key,
    })
}

/// The list `seatcount reports` and the REPL's `\reports` print: one line per report.
pub fn listing() -> String {
    all()
        .map(|r| format!("{:<13} {}\n", r.name, r.summary()))
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

/// A result already computed, as a named table of a comparison.
pub(crate) type Computed = (String, SchemaRef, Vec<RecordBatch>);

/// Runs a comparison's SQL `file` (`sql/what-if/`, `sql/evidence/`) over `tables`, results
/// already computed, in a context of their own (so the session's views are untouched) on
/// `session`'s memory pool.
pub(crate) async fn compare(
    session: &Session,
    tables: Vec<Computed>,
    file: &SqlFile,
) -> Result<Rows<'static>> {
    let context = datafusion::prelude::SessionContext::new_with_config_rt(
        datafusion::prelude::SessionConfig::new(),
        session.engine.context().runtime_env(),
    );
    for (name, schema, batches) in tables {
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
        context.register_table(name.as_str(), std::sync::Arc::new(table))?;
    }
    let frame = context.sql(file.text).await?;
    Ok(Rows::from_stream(frame.execute_stream().await?))
}

/// Checks a `--month` value.
pub(crate) fn parse_month(text: &str) -> Result<String> {
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
pub(crate) async fn months_with_data(engine: &Engine) -> Result<Vec<String>> {
    let months = engine.months().await?;
    if months.is_empty() {
        return Err(Error::Runtime(
            "the warehouse holds no events yet; ingest some with `seatcount ingest FILE`".into(),
        ));
    }
    Ok(months)
}

/// The month a report is about when none is given: the latest month with data up to the
/// current one, so one event mistyped into a future year does not move every report there;
/// the latest month when all are in the future.
pub(crate) fn default_month(months: &[String]) -> String {
    let now = chrono::Utc::now().format("%Y-%m").to_string();
    months
        .iter()
        .rev()
        .find(|m| **m <= now)
        .or(months.last())
        .expect("months_with_data is never empty")
        .clone()
}

/// What a report is about once the defaults are filled in: the same question asked again
/// later (a saved run recomputed) gets the same answer.
#[derive(Debug, Clone)]
pub struct Settled {
    /// The month of a monthly report.
    pub month: Option<String>,
    /// The day of the `subscriptions` report.
    pub today: Option<chrono::NaiveDate>,
    /// Every month with data (none for the `subscriptions` report, which reads no events).
    months: Vec<String>,
}

impl Settled {
    /// The question, as [`run`] takes it.
    pub fn asked(&self) -> Asked<'_> {
        Asked {
            month: self.month.as_deref(),
            today: self.today,
        }
    }
}

/// Checks what `report` was asked and fills in the defaults: the latest month with data, or
/// today (UTC).
pub async fn settle(session: &Session, report: Report, asked: Asked<'_>) -> Result<Settled> {
    let Asked { month, today } = asked;
    if report.scope == ReportScope::Day {
        return Ok(Settled {
            month: None,
            today: Some(today.unwrap_or_else(|| chrono::Utc::now().date_naive())),
            months: Vec::new(),
        });
    }
    if today.is_some() {
        return Err(Error::Usage(format!(
            "--today is the day the subscriptions report is about; {} is about months",
            report.name
        )));
    }
    let about_month = report.is_monthly() || report.scope == ReportScope::SinceClose;
    let months = months_with_data(&session.engine).await?;
    let month = match month {
        None => default_month(&months),
        Some(m) => {
            let m = parse_month(m)?;
            if about_month && !months.contains(&m) {
                return Err(Error::Usage(format!(
                    "there are no events in {m}; months with data: {}",
                    months.join(", ")
                )));
            }
            m
        }
    };
    Ok(Settled {
        month: about_month.then_some(month),
        today: None,
        months,
    })
}

/// Runs `report` as `asked` (default: the latest month with data, today) on `session`'s
/// warehouse and configuration, collecting its rows; see [`stream`].
pub async fn run(
    session: &Session,
    report: Report,
    asked: Asked<'_>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    stream(session, report, asked).await?.collect().await
}

/// Runs `report` as `asked` (default: the latest month with data, today) on `session`'s
/// warehouse and configuration; its rows come as they are computed.
///
/// The `subscriptions` report reads no events: it runs once, on the session's engine.
/// A monthly report runs on views scoped to its month. A report over every month (history)
/// runs once per month, each on views scoped to that month, one month after another, and its
/// rows are concatenated in month order; so its SQL must order by month first. Either way
/// memory follows the largest month, not the whole warehouse: two months at once were faster
/// on small portfolios but ran out of the pool on large ones, where one month needs most of it
/// (BENCHMARKS.md items 16 and 20).
pub async fn stream<'a>(
    session: &'a Session,
    report: Report,
    asked: Asked<'_>,
) -> Result<Rows<'a>> {
    let settled = settle(session, report, asked).await?;
    if let Some(today) = settled.today {
        let text = Params::from_config(&session.config)
            .with_today(today)
            .render(&report.file)?;
        return session.engine.script(&text, Access::ReadOnly).await;
    }
    let Settled { month, months, .. } = settled;
    if let (ReportScope::SinceClose, Some(month)) = (report.scope, &month) {
        // Boxed: it runs `usage` and `users` through this function in turn.
        return Box::pin(evidence::changes(session, report, month)).await;
    }
    let one_month = move |m: String| async move {
        let engine = session.scoped(&m).await?;
        let text = Params::from_config(&session.config)
            .with_month(&m)
            .render(&report.file)?;
        let rows = engine.report(report.name, &text).await?;
        Ok::<_, Error>(rows.keeping(engine))
    };
    if let Some(month) = month {
        return one_month(month).await;
    }
    let mut months = months.into_iter();
    let first = one_month(months.next().expect("months_with_data is never empty")).await?;
    let rest = futures::stream::iter(months)
        .then(one_month)
        .map_ok(|rows| rows.batches)
        .try_flatten();
    Ok(Rows {
        schema: first.schema,
        batches: first.batches.chain(rest).boxed(),
    })
}
