//! What-if (docs/semantics.md "What-if"): a report under the configuration in force and under
//! the same configuration with some keys changed, side by side with the difference per row.
//! Both run through the same views; the comparison is a SQL file of its own
//! (`sql/what-if/`) over the two results.

use super::{Asked, Report};
use crate::engine::Rows;
use crate::engine::session::Session;
use crate::engine::sql::{SqlFile, WHAT_IF_USAGE, WHAT_IF_USERS};
use crate::error::{Error, Result};

/// The comparison of `report`'s two results; only the bill's reports have one.
pub(crate) fn comparison(report: Report) -> Result<SqlFile> {
    match report.name {
        "usage" | "history" => Ok(WHAT_IF_USAGE),
        "users" => Ok(WHAT_IF_USERS),
        other => Err(Error::Usage(format!(
            "--what-if compares usage, history and users, not {other}"
        ))),
    }
}

/// Runs `report` for `month` on `current` and on `what_if` (the same warehouse under the
/// what-if's configuration, [`Session::what_if`]) and compares the two.
pub async fn run(
    current: &Session,
    what_if: &Session,
    report: Report,
    month: Option<&str>,
) -> Result<Rows<'static>> {
    let file = comparison(report)?;
    let asked = Asked { month, today: None };
    let (now_schema, now) = super::run(current, report, asked).await?;
    let (then_schema, then) = super::run(what_if, report, asked).await?;
    let tables = vec![
        ("current".to_string(), now_schema, now),
        ("what_if".to_string(), then_schema, then),
    ];
    super::compare(current, tables, &file).await
}
