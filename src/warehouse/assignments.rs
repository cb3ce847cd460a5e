//! `assignments.csv`: which app a single-app pack serves from which day (docs/semantics.md
//! "Subscriptions"). Assignments are dated and only ever added, so moving a pack to another
//! app never rewrites the months before the move.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, Date32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::entitlements::{self, Subscription, SubscriptionType};
use super::{Warehouse, commit, lock};
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
    match std::fs::read(&path) {
        Ok(bytes) => parse(&bytes, &path, subscriptions),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Validates the CSV text of an assignments file; every problem names its line and column.
pub fn parse(bytes: &[u8], path: &Path, subscriptions: &[Subscription]) -> Result<Vec<Assignment>> {
    let file = path.display().to_string();
    let bad = |line: u64, column: &str, reason: String| Error::BadRow {
        file: file.clone(),
        location: format!("line {line}"),
        column: column.to_string(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(1, "header", e.to_string()))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect();
    if header != COLUMNS {
        return Err(Error::Runtime(format!(
            "{file}: the header must be {}",
            COLUMNS.join(",")
        )));
    }
    let mut out = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        let record = record.map_err(|e| bad(line, COLUMNS[0], e.to_string()))?;
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

/// Appends `assignment` to the file (creating it with its header), under the lock that
/// guards `entitlements.csv`, after checking it against the subscriptions.
pub fn add(wh: &Warehouse, assignment: &Assignment) -> Result<()> {
    let _lock = lock::acquire(
        &wh.state_dir().join("entitlements.lock"),
        lock::Mode::Exclusive,
        "another edit of entitlements.csv",
    )?;
    let subscriptions = entitlements::load(wh)?;
    let mut all = load(wh, &subscriptions)?;
    check(assignment, &subscriptions)
        .map_err(|(column, reason)| Error::Usage(format!("{column}: {reason}")))?;
    all.push(assignment.clone());
    let mut writer = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| Error::Runtime(format!("cannot write assignments: {e}"));
    writer.write_record(COLUMNS).map_err(io)?;
    for a in &all {
        writer
            .write_record([
                a.subscription_id.as_str(),
                a.app_id.as_str(),
                &a.assigned_from.to_string(),
            ])
            .map_err(io)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::Runtime(format!("cannot write assignments: {e}")))?;
    commit::write_atomically(&wh.assignments_path(), &bytes)
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
