//! The bill as one self-contained HTML page, in the spirit of a licence portal's End-Users
//! page. The numbers are the canned reports' own (history, named-users, hygiene), embedded
//! as JSON; the page's script draws the cards, the chart and the tables from them, so the
//! page needs no network and cannot disagree with `seatcount report`.

use crate::engine::session::Session;
use crate::error::{Error, Result};
use crate::reports;
use crate::reports::format::{self, OutputFormat};

const TEMPLATE: &str = include_str!("dashboard.html");
const DATA_SLOT: &str = "/*SEATCOUNT_DATA*/null";

/// The page for the warehouse of `session`: cards for the latest month, the trend over
/// every month.
pub async fn render(session: &Session) -> Result<String> {
    let months = reports::months_with_data(&session.engine).await?;
    let latest = &reports::default_month(&months);
    let history = report_json(session, "history", latest).await?;
    let named_users = report_json(session, "named-users", latest).await?;
    let hygiene = report_json(session, "hygiene", latest).await?;
    let data = format!(
        r#"{{"warehouse":{},"latest_month":{},"history":{history},"named_users":{named_users},"hygiene":{hygiene}}}"#,
        json_string(&session.warehouse.root().display().to_string()),
        json_string(latest),
    );
    // Inside <script>, "</" could end the element early; \u003c keeps the JSON equal.
    let data = data.replace('<', "\\u003c");
    Ok(TEMPLATE.replace(DATA_SLOT, &data))
}

async fn report_json(session: &Session, name: &str, month: &str) -> Result<String> {
    let report = reports::find(name)?;
    let (schema, batches) = reports::run(
        session,
        report,
        reports::Asked {
            month: Some(month),
            today: None,
        },
    )
    .await?;
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
