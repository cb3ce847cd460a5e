//! Which month partition each normalized row goes to: the UTC calendar month of its
//! `event_time` (docs/input.md "What lands on disk").
//!
//! This is Rust rather than `date_trunc('month', event_time)` in normalize.sql because
//! DataFusion truncates each timestamp through its time zone, one calendar computation a row:
//! about a twentieth of ingest's CPU (BENCHMARKS.md run X). A chunk's events fall in one or two
//! months, so here a row costs two comparisons against the month last seen.

use chrono::{DateTime, Datelike, Months as CalendarMonths, NaiveDate};
use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};

use crate::error::{Error, Result};

/// The column a row's month is taken from.
const EVENT_TIME: &str = "event_time";

/// One UTC calendar month as a half-open range of microseconds, with its partition name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Month {
    start: i64,
    end: i64,
    name: String,
}

impl Month {
    /// The month `micros` falls in.
    fn of(micros: i64) -> Result<Self> {
        let out_of_range =
            || Error::Runtime(format!("an event time ({micros} µs) is out of range"));
        let day = DateTime::from_timestamp_micros(micros)
            .ok_or_else(out_of_range)?
            .date_naive();
        let first = NaiveDate::from_ymd_opt(day.year(), day.month(), 1).ok_or_else(out_of_range)?;
        let next = first
            .checked_add_months(CalendarMonths::new(1))
            .ok_or_else(out_of_range)?;
        let micros_of = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp_micros())
        };
        Ok(Month {
            start: micros_of(first).ok_or_else(out_of_range)?,
            end: micros_of(next).ok_or_else(out_of_range)?,
            name: first.format("%Y-%m").to_string(),
        })
    }

    fn holds(&self, micros: i64) -> bool {
        self.start <= micros && micros < self.end
    }
}

/// `batch`'s rows by month (`YYYY-MM`), in the order the months first appear. Every validated
/// row has an `event_time`, so a row without one is refused rather than left out of every
/// month.
pub fn split_months(batch: &RecordBatch) -> Result<Vec<(String, RecordBatch)>> {
    let column = batch
        .column_by_name(EVENT_TIME)
        .expect("normalize.sql yields event_time");
    if column.null_count() > 0 {
        return Err(Error::Runtime(
            "normalize.sql gave a row no event time; nothing was written".into(),
        ));
    }
    let times = cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let times = times.as_primitive::<TimestampMicrosecondType>().values();
    let Some(&first) = times.first() else {
        return Ok(Vec::new());
    };
    let mut months = vec![Month::of(first)?];
    // Each row's index in `months`, filled only once a second month appears.
    let mut which: Vec<u32> = Vec::new();
    let mut current = 0usize;
    for (row, &t) in times.iter().enumerate() {
        if months[current].holds(t) {
            if !which.is_empty() {
                which.push(current as u32);
            }
            continue;
        }
        current = match months.iter().position(|m| m.holds(t)) {
            Some(i) => i,
            None => {
                months.push(Month::of(t)?);
                months.len() - 1
            }
        };
        if which.is_empty() {
            which = vec![0; row];
        }
        which.push(current as u32);
    }
    if months.len() == 1 {
        let month = months.pop().expect("one month");
        return Ok(vec![(month.name, batch.clone())]);
    }
    months
        .into_iter()
        .enumerate()
        .map(|(i, month)| {
            let mask = BooleanBuffer::collect_bool(which.len(), |row| which[row] == i as u32);
            Ok((
                month.name,
                filter_record_batch(batch, &BooleanArray::new(mask, None))?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, TimestampMicrosecondArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn micros(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_micros()
    }

    fn batch(times: &[&str]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new(
                EVENT_TIME,
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("row", DataType::Int32, false),
        ]);
        let times: Vec<i64> = times.iter().map(|t| micros(t)).collect();
        let rows: Vec<i32> = (0..times.len() as i32).collect();
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
                Arc::new(Int32Array::from(rows)),
            ],
        )
        .unwrap()
    }

    fn rows_of(split: &[(String, RecordBatch)]) -> Vec<(String, Vec<i32>)> {
        split
            .iter()
            .map(|(name, b)| {
                let rows = b
                    .column(1)
                    .as_primitive::<datafusion::arrow::datatypes::Int32Type>();
                (name.clone(), rows.values().to_vec())
            })
            .collect()
    }

    #[test]
    fn a_month_runs_from_its_first_instant_to_the_next_months_in_utc() {
        let split = split_months(&batch(&[
            "2026-02-01T00:00:00Z",
            "2026-01-31T23:59:59.999999Z",
            "2026-02-28T23:59:59Z",
            "2026-03-01T00:00:00+01:00",
            "2024-02-29T12:00:00Z",
            "2026-02-15T00:00:00Z",
        ]))
        .unwrap();
        assert_eq!(
            rows_of(&split),
            vec![
                ("2026-02".to_string(), vec![0, 2, 3, 5]),
                ("2026-01".to_string(), vec![1]),
                ("2024-02".to_string(), vec![4]),
            ]
        );
    }

    #[test]
    fn a_batch_of_one_month_is_passed_whole() {
        let split =
            split_months(&batch(&["2026-12-31T23:59:59Z", "2026-12-01T00:00:00Z"])).unwrap();
        assert_eq!(rows_of(&split), vec![("2026-12".to_string(), vec![0, 1])]);
    }

    #[test]
    fn a_time_before_1970_has_its_month_too() {
        let split =
            split_months(&batch(&["1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z"])).unwrap();
        assert_eq!(
            rows_of(&split),
            vec![
                ("1969-12".to_string(), vec![0]),
                ("1970-01".to_string(), vec![1]),
            ]
        );
    }
}
