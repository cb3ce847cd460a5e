//! Row-level checks of docs/input.md. Turns a [`RawChunk`] into the typed `incoming` rows the
//! normalization SQL reads, and a list of rejects that each name a row, a column and a
//! reason. Only types and presence are judged here; normalization and hashing are SQL.
//! A reason never quotes the value: in a row shifted by a stray delimiter any column can hold
//! a user name or an address, and errors reach logs (the quarantine keeps the row as it came).

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, NaiveDateTime};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, ListArray, ListBuilder, RecordBatch,
    StringArray, StringBuilder, TimestampMicrosecondArray, UInt64Array, new_null_array,
};
use datafusion::arrow::buffer::{BooleanBuffer, NullBuffer};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::hash_utils::{RandomState, create_hashes};

use super::columns::{Col, Kind};
use super::read::{RawChunk, split_roles};
use crate::error::Result;
use crate::identity::is_valid_domain;
use crate::warehouse::schema;

/// Why one row was refused.
#[derive(Debug, Clone)]
pub struct Reject {
    /// Row index within the chunk.
    pub row: usize,
    /// input column name (docs/input.md), or `(record)` for the row as a whole.
    pub column: String,
    /// A phrase that completes "column X ...": never includes an identifier's value.
    pub reason: String,
}

/// The accepted rows, typed, and the refused ones.
#[derive(Debug)]
pub struct Validated {
    /// Rows of [`incoming_schema`], accepted only.
    pub batch: RecordBatch,
    /// At most one reject per refused row, in row order.
    pub rejects: Vec<Reject>,
    /// Accepted rows dated after tomorrow (UTC): worth a warning, since a mistyped year
    /// would otherwise make its month the newest with data.
    pub future: u64,
}

/// The earliest and latest event times seatcount stores (µs since the epoch): the range of
/// a timestamp in nanoseconds, 1677-09-22 to 2262-04-11, which some of DataFusion's
/// time functions convert to. A time outside it is a row error, not a failed ingest.
const TIME_RANGE: (i64, i64) = (-9_223_286_400_000_000, 9_223_286_400_000_000);

/// A column's name in `incoming`: its input name, except the clear e-mail domain given with
/// pre-hashed input, which `normalize.sql` tells from the one it derives.
fn incoming_name(col: Col) -> &'static str {
    match col {
        Col::EmailDomain => "email_domain_given",
        other => other.name(),
    }
}

/// A validated column's type in `incoming`.
fn incoming_type(kind: Kind) -> DataType {
    match kind {
        Kind::Time => schema::time_type(),
        Kind::Text | Kind::UserType => DataType::Utf8,
        Kind::Roles => schema::roles_type(),
        Kind::Flag => DataType::Boolean,
    }
}

/// Every input column in [`Col::ALL`] order, typed, then the fingerprint.
static INCOMING: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields: Vec<Field> = Col::ALL
        .iter()
        .map(|c| {
            Field::new(
                incoming_name(*c),
                incoming_type(c.kind()),
                *c != Col::EventTime,
            )
        })
        .collect();
    fields.push(Field::new(FINGERPRINT, DataType::UInt64, false));
    Arc::new(Schema::new(fields))
});

/// A hash of a row's validated values, which decide every stored column: two rows with equal
/// fingerprints store the same event, so a repeat of one is dropped without reading back the
/// first (src/ingest/months.rs). Not stored.
pub const FINGERPRINT: &str = "fingerprint";

/// `roles` with every empty list made NULL: no roles given is as unknown as no column
/// (docs/input.md). Done here rather than in normalize.sql, where `cardinality` walked each
/// list row by row (BENCHMARKS.md run X); the offsets say it at once.
fn empty_as_unknown(roles: &ListArray) -> Result<ArrayRef> {
    let offsets = roles.value_offsets();
    let given = BooleanBuffer::collect_bool(roles.len(), |i| {
        roles.is_valid(i) && offsets[i + 1] > offsets[i]
    });
    let (field, offsets, values, _) = roles.clone().into_parts();
    let roles = ListArray::try_new(field, offsets, values, Some(NullBuffer::new(given)))?;
    Ok(Arc::new(roles))
}

/// The schema of the `incoming` table that `sql/ingest/normalize.sql` reads.
pub fn incoming_schema() -> SchemaRef {
    INCOMING.clone()
}

const ENVIRONMENT_TYPES: [&str; 5] = ["production", "acceptance", "test", "development", "other"];

/// Checks every row of `chunk`.
pub fn validate(chunk: &RawChunk) -> Result<Validated> {
    let n = chunk.len();
    let mut first: Vec<Option<Reject>> = vec![None; n];
    let refuse = |first: &mut Vec<Option<Reject>>, row: usize, col: &str, reason: String| {
        if first[row].is_none() {
            first[row] = Some(Reject {
                row,
                column: col.to_string(),
                reason,
            });
        }
    };
    for p in &chunk.problems {
        refuse(&mut first, p.row, &p.column, p.reason.clone());
    }

    let text = |col: Col| -> Result<Option<StringArray>> {
        match chunk.column(col) {
            Some(a) if a.data_type() == &DataType::Utf8 => Ok(Some(a.as_string::<i32>().clone())),
            Some(a) => Ok(Some(cast(a, &DataType::Utf8)?.as_string::<i32>().clone())),
            None => Ok(None),
        }
    };
    let blank = |a: &Option<StringArray>, i: usize| {
        a.as_ref()
            .is_none_or(|a| a.is_null(i) || a.value(i).trim().is_empty())
    };

    // event_time: required, a timestamp or one of the two text forms.
    let mut times = vec![0i64; n];
    match chunk.column(Col::EventTime) {
        Some(a) if matches!(a.data_type(), DataType::Timestamp(..)) => {
            let ts = a
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .expect("readers convert timestamps to µs UTC");
            for (i, t) in times.iter_mut().enumerate() {
                if ts.is_null(i) {
                    refuse(
                        &mut first,
                        i,
                        "event_time",
                        "is missing a required value".into(),
                    );
                } else {
                    *t = ts.value(i);
                }
            }
        }
        _ => {
            let a = text(Col::EventTime)?;
            for (i, t) in times.iter_mut().enumerate() {
                if blank(&a, i) {
                    refuse(
                        &mut first,
                        i,
                        "event_time",
                        "is missing a required value".into(),
                    );
                    continue;
                }
                let s = a.as_ref().expect("not blank").value(i);
                match parse_time(s) {
                    Some(micros) => *t = micros,
                    None => refuse(
                        &mut first,
                        i,
                        "event_time",
                        "is not an RFC 3339 timestamp or YYYY-MM-DD HH:MM:SS".into(),
                    ),
                }
            }
        }
    }

    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).timestamp_micros();
    let mut future = 0u64;
    for (i, t) in times.iter().enumerate() {
        if !(TIME_RANGE.0..=TIME_RANGE.1).contains(t) {
            refuse(
                &mut first,
                i,
                "event_time",
                "is outside 1677-09-22 to 2262-04-11, the times seatcount can store".into(),
            );
        } else if *t > tomorrow {
            future += 1;
        }
    }

    // The text columns, by [`Col::index`]; `None` for the typed ones.
    let texts: Vec<Option<StringArray>> = Col::ALL
        .iter()
        .map(|c| match c.kind() {
            Kind::Text => text(*c),
            _ => Ok(None),
        })
        .collect::<Result<_>>()?;
    let get = |col: Col| &texts[col.index()];

    for col in [Col::AppId, Col::EnvironmentId] {
        for i in 0..n {
            if blank(get(col), i) {
                refuse(
                    &mut first,
                    i,
                    col.name(),
                    "is missing a required value".into(),
                );
            }
        }
    }
    for i in 0..n {
        let identity = [
            Col::UserName,
            Col::NamedUserIdentifier,
            Col::UserNameHash,
            Col::NamedUserIdentifierHash,
        ];
        if identity.iter().all(|c| blank(get(*c), i)) {
            refuse(
                &mut first,
                i,
                "user_name",
                "is missing, and so is named_user_identifier: one of them is required".into(),
            );
        }
    }
    for col in [
        Col::UserNameHash,
        Col::NamedUserIdentifierHash,
        Col::EmailHash,
    ] {
        if let Some(a) = get(col) {
            for i in 0..n {
                if !a.is_null(i) && !is_hash(a.value(i)) {
                    refuse(
                        &mut first,
                        i,
                        col.name(),
                        "is not 64 lowercase hexadecimal digits".into(),
                    );
                }
            }
        }
    }
    // A clear domain beside pre-hashed input is stored as it is, so it must be a domain and
    // nothing more: an address or a name there would be clear text on disk. The value is not
    // echoed, for the same reason.
    if let Some(a) = get(Col::EmailDomain) {
        for i in 0..n {
            if !blank(get(Col::EmailDomain), i)
                && !is_valid_domain(&a.value(i).trim().to_lowercase())
            {
                refuse(
                    &mut first,
                    i,
                    "email_domain",
                    "is not a domain name (dot-separated labels of letters, digits and '-')".into(),
                );
            }
        }
    }
    if let Some(a) = get(Col::EnvironmentType) {
        for i in 0..n {
            if !blank(get(Col::EnvironmentType), i) {
                let v = a.value(i).trim();
                if !ENVIRONMENT_TYPES.iter().any(|t| t.eq_ignore_ascii_case(v)) {
                    refuse(
                        &mut first,
                        i,
                        "environment_type",
                        "is not one of production, acceptance, test, development, other".into(),
                    );
                }
            }
        }
    }

    let user_type = text(Col::UserType)?;
    let mut user_types = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        if blank(&user_type, i) {
            user_types.append_null();
            continue;
        }
        let v = user_type.as_ref().expect("not blank").value(i).trim();
        if v.eq_ignore_ascii_case("external") {
            user_types.append_value("External");
        } else if v.eq_ignore_ascii_case("internal") {
            user_types.append_value("Internal");
        } else {
            user_types.append_null();
            refuse(
                &mut first,
                i,
                "user_type",
                "is neither External nor Internal".into(),
            );
        }
    }

    let mut typed: Vec<(Col, ArrayRef)> = vec![
        (
            Col::EventTime,
            Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
        ),
        (Col::UserType, Arc::new(user_types.finish())),
    ];
    for col in [Col::Active, Col::Anonymous] {
        let array = match chunk.column(col) {
            Some(a) if a.data_type() == &DataType::Boolean => a.as_boolean().clone(),
            _ => {
                let a = text(col)?;
                let mut b = BooleanBuilder::with_capacity(n);
                for i in 0..n {
                    if blank(&a, i) {
                        b.append_null();
                        continue;
                    }
                    let v = a.as_ref().expect("not blank").value(i);
                    match parse_bool(v) {
                        Some(x) => b.append_value(x),
                        None => {
                            b.append_null();
                            refuse(
                                &mut first,
                                i,
                                col.name(),
                                "is not a boolean (true/false/1/0/yes/no)".into(),
                            );
                        }
                    }
                }
                b.finish()
            }
        };
        typed.push((col, Arc::new(array)));
    }

    let roles: ArrayRef = match chunk.column(Col::Roles) {
        Some(a) if matches!(a.data_type(), DataType::List(_)) => cast(a, &schema::roles_type())?,
        Some(_) => {
            let a = text(Col::Roles)?.expect("present");
            let mut b = ListBuilder::with_capacity(StringBuilder::new(), n);
            for i in 0..n {
                if a.is_null(i) {
                    b.append(false);
                } else {
                    split_roles(a.value(i)).for_each(|r| b.values().append_value(r));
                    b.append(true);
                }
            }
            Arc::new(b.finish())
        }
        None => new_null_array(&schema::roles_type(), n),
    };
    typed.push((Col::Roles, empty_as_unknown(roles.as_list::<i32>())?));

    let mut slots: Vec<Option<ArrayRef>> = texts
        .into_iter()
        .map(|a| a.map(|a| Arc::new(a) as ArrayRef))
        .collect();
    for (col, array) in typed {
        slots[col.index()] = Some(array);
    }
    let mut columns: Vec<ArrayRef> = Col::ALL
        .iter()
        .zip(slots)
        .map(|(c, a)| a.unwrap_or_else(|| new_null_array(&incoming_type(c.kind()), n)))
        .collect();
    let mut hashes = vec![0u64; n];
    create_hashes(&columns, &RandomState::default(), &mut hashes)?;
    columns.push(Arc::new(UInt64Array::from(hashes)));
    let batch = RecordBatch::try_new(incoming_schema(), columns)?;
    let keep: BooleanArray = first.iter().map(|r| Some(r.is_none())).collect();
    let batch = filter_record_batch(&batch, &keep)?;
    Ok(Validated {
        batch,
        rejects: first.into_iter().flatten().collect(),
        future,
    })
}

/// RFC 3339 (offsets allowed) or `YYYY-MM-DD HH:MM:SS[.fff]` in UTC, to µs since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_micros())
}

/// `true/false/1/0/yes/no`, any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn is_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_with_offsets_are_utc() {
        let a = parse_time("2026-03-31T23:30:00-02:00").unwrap();
        let b = parse_time("2026-04-01 01:30:00").unwrap();
        assert_eq!(a, b);
        assert!(parse_time("2026-02-30 10:00:00").is_none());
        assert!(parse_time("yesterday").is_none());
        assert_eq!(
            parse_time("2026-03-04T10:15:00Z"),
            parse_time("2026-03-04 10:15:00")
        );
    }

    #[test]
    fn booleans() {
        for (s, v) in [
            ("TRUE", true),
            ("1", true),
            ("Yes", true),
            ("false", false),
            ("0", false),
            ("no", false),
        ] {
            assert_eq!(parse_bool(s), Some(v));
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn hashes() {
        assert!(is_hash(&"a".repeat(64)));
        assert!(!is_hash(&"A".repeat(64)));
        assert!(!is_hash(&"a".repeat(63)));
    }
}
