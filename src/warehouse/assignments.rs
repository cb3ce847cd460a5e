//! `assignments.csv`: which app a single-app pack serves from which day (docs/semantics.md
//! "Subscriptions"). Assignments are dated and only ever added, so moving a pack to another
//! app never rewrites the months before the move.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, Date32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::entitlements::{self, Subscription, SubscriptionType};
use super::{Warehouse, table};
use crate::error::{Error, Result};

/// The header of the file, in order.
pub const COLUMNS: [&str; 3] = ["subscription_id", "app_id", "assigned_from"];

/// One dated assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The single-app subscription.
    pub subscription_id: String,
    /// The app it serves.
    pub app_id: String,
    /// The first day it serves that app.
    pub assigned_from: NaiveDate,
}

/// Reads and validates `<warehouse>/assignments.csv` against `subscriptions`; a missing file
/// is no assignments.
pub fn load(wh: &Warehouse, subscriptions: &[Subscription]) -> Result<Vec<Assignment>> {
    let path = wh.assignments_path();
    match table::read(&path)? {
        Some(bytes) => parse(&bytes, &path, subscriptions),
        None => Ok(Vec::new()),
    }
}

/// Validates the CSV text of an assignments file; every problem names its line and column.
pub fn parse(bytes: &[u8], path: &Path, subscriptions: &[Subscription]) -> Result<Vec<Assignment>> {
    let bad = |line: u64, column: &str, reason: String| table::bad_row(path, line, column, reason);
    let mut out = Vec::new();
    for (line, record) in table::records(bytes, path, &COLUMNS)? {
        let field = |i: usize| record.get(i).unwrap_or("");
        let date = NaiveDate::parse_from_str(field(2), "%Y-%m-%d").map_err(|_| {
            bad(
                line,
                COLUMNS[2],
                format!("{:?} is not a date (YYYY-MM-DD)", field(2)),
            )
        })?;
        let assignment = Assignment {
            subscription_id: field(0).to_string(),
            app_id: field(1).to_string(),
            assigned_from: date,
        };
        check(&assignment, subscriptions).map_err(|(column, reason)| bad(line, column, reason))?;
        out.push(assignment);
    }
    Ok(out)
}

/// An assignment names a single-app subscription of `subscriptions` and an app: the
/// offending column and why.
pub fn check(
    a: &Assignment,
    subscriptions: &[Subscription],
) -> std::result::Result<(), (&'static str, String)> {
    let sub = subscriptions
        .iter()
        .find(|s| s.id == a.subscription_id)
        .ok_or_else(|| {
            (
                COLUMNS[0],
                format!(
                    "there is no subscription {:?} in entitlements.csv",
                    a.subscription_id
                ),
            )
        })?;
    if sub.kind != SubscriptionType::SingleAppInternal {
        return Err((
            COLUMNS[0],
            format!(
                "{} is a {} subscription; only single_app_internal subscriptions are assigned to an app",
                sub.id,
                sub.kind.as_str()
            ),
        ));
    }
    if a.app_id.is_empty() {
        return Err((COLUMNS[1], "an assignment needs an app_id".into()));
    }
    Ok(())
}

/// Appends `assignment` to the file (creating it with its header), under the tables' lock,
/// after checking it against the subscriptions.
pub fn add(wh: &Warehouse, assignment: &Assignment) -> Result<()> {
    table::locked(wh, || {
        let subscriptions = entitlements::load(wh)?;
        let mut all = load(wh, &subscriptions)?;
        check(assignment, &subscriptions)
            .map_err(|(column, reason)| Error::Usage(format!("{column}: {reason}")))?;
        all.push(assignment.clone());
        table::write(
            &wh.assignments_path(),
            &COLUMNS,
            all.iter().map(|a| {
                vec![
                    a.subscription_id.clone(),
                    a.app_id.clone(),
                    a.assigned_from.to_string(),
                ]
            }),
        )
    })
}

/// The `assignments` table the SQL sees.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("subscription_id", DataType::Utf8, false),
        Field::new("app_id", DataType::Utf8, false),
        Field::new("assigned_from", DataType::Date32, false),
    ]))
}

/// The assignments as one Arrow batch of [`schema`].
pub fn to_batch(assignments: &[Assignment]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            assignments.iter().map(|a| a.subscription_id.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            assignments.iter().map(|a| a.app_id.as_str()),
        )),
        Arc::new(Date32Array::from_iter_values(
            assignments
                .iter()
                .map(|a| entitlements::day_number(a.assigned_from)),
        )),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs() -> Vec<Subscription> {
        entitlements::parse(
            b"subscription_id,subscription_type,quantity,valid_from,valid_to,app_id\n\
              p,single_app_internal,3,2026-01-01,,field\n\
              x,external,5,2026-01-01,,\n",
            Path::new("entitlements.csv"),
        )
        .unwrap()
    }

    #[test]
    fn every_problem_names_line_and_column() {
        let head = "subscription_id,app_id,assigned_from\n";
        for (body, expected) in [
            ("q,crm,2026-03-01\n", "line 2, column subscription_id"),
            ("x,crm,2026-03-01\n", "column subscription_id"),
            ("p,,2026-03-01\n", "column app_id"),
            ("p,crm,March\n", "column assigned_from"),
        ] {
            let err = parse(
                format!("{head}{body}").as_bytes(),
                Path::new("assignments.csv"),
                &subs(),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains(expected), "{body}: {err}");
        }
        let ok = parse(
            b"subscription_id,app_id,assigned_from\np,crm,2026-03-16\n",
            Path::new("assignments.csv"),
            &subs(),
        )
        .unwrap();
        assert_eq!(ok[0].app_id, "crm");
    }
}
