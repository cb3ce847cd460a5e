//! Gates for schedulers (docs/semantics.md "Gates"): `--warn-at PERCENT` prints a line on
//! stderr for each row at or above that share of its entitlement, and `--fail-on over-usage`
//! turns any row over its entitlement into exit code 3 once the report is written. They read
//! the report's own columns, so they judge exactly what was printed.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema};

use crate::error::{Error, Result};

/// The columns a report needs for gates: `usage`, `history` and `cost` have them.
const COLUMNS: [&str; 6] = [
    "month",
    "subscription_type",
    "app_id",
    "entitlement",
    "consumption",
    "over_usage",
];

/// How many over-used rows the failure names before it says how many more there are.
const NAMED: usize = 5;

/// What the gates were asked to watch, and the over-used rows they saw.
#[derive(Debug, Default)]
pub struct Gates {
    fail_on_over_usage: bool,
    warn_at: Option<u32>,
    over: Vec<String>,
}

impl Gates {
    /// Gates that fail on over-usage and/or warn at `warn_at` percent.
    pub fn new(fail_on_over_usage: bool, warn_at: Option<u32>) -> Self {
        Gates {
            fail_on_over_usage,
            warn_at,
            over: Vec::new(),
        }
    }

    /// Whether any gate is set.
    pub fn any(&self) -> bool {
        self.fail_on_over_usage || self.warn_at.is_some()
    }

    /// Refuses a report without the columns gates read, before anything is written.
    pub fn check_schema(&self, schema: &Schema, report: &str) -> Result<()> {
        if !self.any() || COLUMNS.iter().all(|c| schema.field_with_name(c).is_ok()) {
            return Ok(());
        }
        Err(Error::Usage(format!(
            "--fail-on and --warn-at judge entitlement against consumption, which {report} does not report; use them with usage, history or cost"
        )))
    }

    /// Looks at one batch of the report as it is written: warns at once, remembers
    /// over-usage for [`Gates::verdict`].
    pub fn observe(&mut self, batch: &RecordBatch) -> Result<()> {
        if !self.any() {
            return Ok(());
        }
        let text = |name: &str| -> Result<_> {
            Ok(cast(
                batch.column_by_name(name).expect("checked"),
                &DataType::Utf8,
            )?)
        };
        let number = |name: &str| -> Result<_> {
            Ok(cast(
                batch.column_by_name(name).expect("checked"),
                &DataType::Int64,
            )?)
        };
        let (month, kind, app) = (text("month")?, text("subscription_type")?, text("app_id")?);
        let (month, kind, app) = (
            month.as_string::<i32>(),
            kind.as_string::<i32>(),
            app.as_string::<i32>(),
        );
        let (entitled, used, over) = (
            number("entitlement")?,
            number("consumption")?,
            number("over_usage")?,
        );
        let entitled = entitled.as_primitive::<Int64Type>();
        let used = used.as_primitive::<Int64Type>();
        let over = over.as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            let line = if app.is_null(row) || app.value(row).is_empty() {
                format!("{} {}", month.value(row), kind.value(row))
            } else {
                format!(
                    "{} {} {}",
                    month.value(row),
                    kind.value(row),
                    app.value(row)
                )
            };
            let (e, u) = (entitled.value(row), used.value(row));
            if let Some(percent) = self.warn_at {
                if e > 0 && u * 100 >= i64::from(percent) * e {
                    eprintln!(
                        "seatcount: warning: {line} is at {}% of its entitlement ({u} of {e})",
                        u * 100 / e
                    );
                } else if e == 0 && u > 0 {
                    eprintln!("seatcount: warning: {line} has {u} users and no entitlement");
                }
            }
            if over.value(row) > 0 {
                self.over.push(format!("{line}: {u} of {e}"));
            }
        }
        Ok(())
    }

    /// After the report is written: the failure `--fail-on over-usage` asks for, if any row
    /// was over its entitlement.
    pub fn verdict(self) -> Result<()> {
        if !self.fail_on_over_usage || self.over.is_empty() {
            return Ok(());
        }
        let mut named = self.over[..self.over.len().min(NAMED)].join("; ");
        if self.over.len() > NAMED {
            named.push_str(&format!("; and {} more", self.over.len() - NAMED));
        }
        Err(Error::OverUsage(format!(
            "{} row(s) over their entitlement ({named})",
            self.over.len()
        )))
    }
}
