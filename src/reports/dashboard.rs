//! The bill as one self-contained HTML page, in the spirit of a licence portal's End-Users
//! page. The numbers are the canned reports' own (history, and named-users and hygiene of
//! every month, subscriptions active today), embedded as JSON; the page's script draws the cards, the chart and the tables from them, so the
//! page needs no network and cannot disagree with `seatcount report`.

use crate::engine::session::Session;
use crate::error::{Error, Result};
use crate::reports;
use crate::reports::format::{self, OutputFormat};

const TEMPLATE: &str = include_str!("dashboard.html");
const DATA_SLOT: &str = "/*SEATCOUNT_DATA*/null";

/// The page for the warehouse of `session`: every month's cards and tables (a picker chooses
/// one, the latest first), the trend over every month, and the subscriptions active today.
pub async fn render(session: &Session) -> Result<String> {
    let months = reports::months_with_data(&session.engine).await?;
    let latest = &reports::default_month(&months);
    let history = report_json(session, "history", reports::Asked::default()).await?;
    let mut by_month = Vec::new();
    for month in &months {
        let asked = reports::Asked {
            month: Some(month),
            today: None,
        };
        let named_users = report_json(session, "named-users", asked).await?;
        let hygiene = report_json(session, "hygiene", asked).await?;
        by_month.push(format!(
            r#"{}:{{"named_users":{named_users},"hygiene":{hygiene}}}"#,
            json_string(month)
        ));
    }
    let today = chrono::Utc::now().date_naive();
    let subscriptions = report_json(
        session,
        "subscriptions",
        reports::Asked {
            month: None,
            today: Some(today),
        },
    )
    .await?;
    let data = format!(
        r#"{{"warehouse":{},"latest_month":{},"today":{},"history":{history},"by_month":{{{}}},"subscriptions":{subscriptions}}}"#,
        json_string(&session.warehouse.root().display().to_string()),
        json_string(latest),
        json_string(&today.to_string()),
        by_month.join(","),
    );
    // Inside <script>, "</" could end the element early; \u003c keeps the JSON equal.
    let data = data.replace('<', "\\u003c");
    Ok(TEMPLATE.replace(DATA_SLOT, &data))
}

async fn report_json(session: &Session, name: &str, asked: reports::Asked<'_>) -> Result<String> {
    let report = reports::find(name)?;
    let (schema, batches) = reports::run(session, report, asked).await?;
    let mut out = Vec::new();
    format::write(&mut out, &schema, &batches, OutputFormat::Json)?;
    let text = String::from_utf8(out).map_err(|e| Error::Runtime(e.to_string()))?;
    let text = text.trim();
    Ok(if text.is_empty() {
        "[]".into()
    } else {
        text.into()
    })
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_has_one_data_slot() {
        assert_eq!(TEMPLATE.matches(DATA_SLOT).count(), 1);
    }
}
