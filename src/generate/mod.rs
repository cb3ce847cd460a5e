//! `seatcount generate`: synthetic raw login events with clear identifiers, for demos,
//! tests and benchmarks. Deterministic for a seed, streamed in batches (memory does not
//! grow with the portfolio), and realistic where metering is hard: internal and external
//! people across domains and a subdomain, NamedUserIdentifier present or not, case and
//! white-space variants, apps with pairwise identifiers, several providers and tenants,
//! reported user types and roles, non-production, inactive, anonymous and re-sent events.

/// Bumped whenever the same arguments start giving different events, so that cached
/// portfolios (the scale benchmark keeps its raw files between runs) are not mistaken for
/// current ones. 2: pairwise apps pass the e-mail claim. 3: a re-sent event is an exact copy.
pub const PORTFOLIO_VERSION: u32 = 3;

pub mod profile;

use std::fmt::Write;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};
use crate::ingest::columns::{Col, Kind};
pub use profile::Shape;
use profile::{App, Person, below, chance, mix};

/// Rows per batch written.
const BATCH_ROWS: usize = 65_536;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// People in the portfolio.
    pub users: u64,
    /// Apps in the portfolio.
    pub apps: u64,
    /// Months of events, starting at `start`.
    pub months: u32,
    /// The first month.
    pub start: NaiveDate,
    /// Events in all (spread evenly over the months).
    pub events: u64,
    /// The seed: equal seeds give equal files.
    pub seed: u64,
    /// How many apps people use.
    pub shape: Shape,
}

/// How the events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// Apache Parquet, zstd-compressed.
    Parquet,
    /// CSV with a header.
    Csv,
}

impl FileFormat {
    fn extension(self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
        }
    }
}

/// Where the events go: one file (format from its extension), or a directory with one file
/// per month.
pub(crate) fn plan_outputs(
    out: &Path,
    spec: &Spec,
    dir_format: FileFormat,
) -> Result<Vec<(PathBuf, FileFormat)>> {
    let single = match out.extension().and_then(|e| e.to_str()) {
        Some("parquet") => Some(FileFormat::Parquet),
        Some("csv") => Some(FileFormat::Csv),
        _ => None,
    };
    Ok(match single {
        Some(format) => vec![(out.to_path_buf(), format)],
        None => (0..spec.months)
            .map(|m| {
                let month = month_start(spec.start, m);
                (
                    out.join(format!(
                        "events-{}.{}",
                        month.format("%Y-%m"),
                        dir_format.extension()
                    )),
                    dir_format,
                )
            })
            .collect(),
    })
}

/// The input columns written (docs/input.md), in file order, and whether each may be empty.
const WRITTEN: [(Col, bool); 17] = [
    (Col::EventId, false),
    (Col::EventTime, false),
    (Col::AppId, false),
    (Col::AppName, false),
    (Col::EnvironmentId, false),
    (Col::EnvironmentName, false),
    (Col::EnvironmentType, false),
    (Col::DeploymentType, false),
    (Col::UserProvider, false),
    (Col::Tenant, false),
    (Col::UserName, true),
    (Col::NamedUserIdentifier, true),
    (Col::Email, true),
    (Col::UserType, true),
    (Col::Roles, true),
    (Col::Active, false),
    (Col::Anonymous, false),
];

/// The columns written: times and flags typed, the rest as the text an export would hold.
pub fn schema() -> SchemaRef {
    let field = |(col, nullable): &(Col, bool)| {
        let data_type = match col.kind() {
            Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Flag => DataType::Boolean,
            Kind::Text | Kind::UserType | Kind::Roles => DataType::Utf8,
        };
        Field::new(col.name(), data_type, *nullable)
    };
    Arc::new(Schema::new(WRITTEN.iter().map(field).collect::<Vec<_>>()))
}

fn month_start(start: NaiveDate, offset: u32) -> NaiveDate {
    let total = start.year() * 12 + start.month0() as i32 + offset as i32;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
        .expect("a valid month")
}

/// Column builders for one batch.
struct Batch {
    /// By [`Col::index`]; only those of [`WRITTEN`] are filled.
    text: Vec<StringBuilder>,
    time: TimestampMicrosecondBuilder,
    active: BooleanBuilder,
    anonymous: BooleanBuilder,
    rows: usize,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            text: Col::ALL
                .iter()
                .map(|c| match WRITTEN.iter().any(|(w, _)| w == c) {
                    true => StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16),
                    false => StringBuilder::new(),
                })
                .collect(),
            time: TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS).with_timezone("UTC"),
            active: BooleanBuilder::with_capacity(BATCH_ROWS),
            anonymous: BooleanBuilder::with_capacity(BATCH_ROWS),
            rows: 0,
        }
    }

    /// The builder of text column `col`.
    fn text(&mut self, col: Col) -> &mut StringBuilder {
        &mut self.text[col.index()]
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = WRITTEN
            .iter()
            .map(|(col, _)| match col {
                Col::EventTime => Arc::new(self.time.finish()) as ArrayRef,
                Col::Active => Arc::new(self.active.finish()),
                Col::Anonymous => Arc::new(self.anonymous.finish()),
                other => Arc::new(self.text[other.index()].finish()),
            })
            .collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// Draws the events of one month, in order, from counters: event `n` of month `m` depends
/// only on (seed, m, n).
struct MonthDraw<'a> {
    spec: &'a Spec,
    apps: &'a [App],
    start_micros: i64,
    seconds: u64,
    month_index: u32,
}

impl MonthDraw<'_> {
    /// A draw for event `n` of this month; `purpose` tells the draws of one event apart.
    fn draw(&self, n: u64, purpose: u64) -> u64 {
        mix(self.spec.seed
            ^ mix(
                (u64::from(self.month_index) << 40 | n).wrapping_mul(0x2545_F491_4F6C_DD1D)
                    ^ purpose,
            ))
    }

    fn event(&self, n: u64, out: &mut Batch, scratch: &mut String) {
        let spec = self.spec;
        // A re-sent event repeats an earlier one of this month exactly, id and all; that one
        // may be a re-send too, so follow the chain to the event first sent.
        let mut n = n;
        while n > 0 && chance(self.draw(n, 6), 1) {
            n = below(self.draw(n, 7), n);
        }
        let r = |purpose: u64| self.draw(n, purpose);
        // Heavy users log in more: squaring skews towards low person numbers.
        let u = (r(1) >> 11) as f64 / (1u64 << 53) as f64;
        let person = Person::new(
            spec.seed,
            ((u * u) * spec.users as f64) as u64 % spec.users.max(1),
            &spec.shape,
        );
        let app = &self.apps[person.app(spec.seed, below(r(2), person.apps), spec.apps) as usize];
        let production = !chance(r(3), 5);
        let anonymous = chance(r(4), 1);
        let active = !chance(r(5), 1);

        let mut text = |column: Col, write: &mut dyn FnMut(&mut String)| {
            scratch.clear();
            write(scratch);
            out.text(column).append_value(&*scratch);
        };
        text(Col::EventId, &mut |s| {
            let _ = write!(s, "{}-{:02}-{n}", spec.seed, self.month_index);
        });
        text(Col::EnvironmentId, &mut |s| {
            let _ = write!(s, "{}-{}", app.id, if production { "p" } else { "t" });
        });
        text(Col::Tenant, &mut |s| person.write_tenant(s));
        if anonymous {
            text(Col::UserName, &mut |s| {
                let _ = write!(s, "anonymous_{:x}", r(9) >> 40);
            });
        } else {
            let variant = below(r(10), 100);
            text(Col::UserName, &mut |s| {
                if variant == 3 || variant == 4 {
                    s.push(' ');
                }
                if app.pairwise {
                    // Pairwise apps: an opaque id per (person, app), no shared identifier.
                    let _ = write!(s, "{:016x}", mix(person.index ^ mix(app.index ^ spec.seed)));
                } else if app.email_login {
                    person.write_email(s);
                } else {
                    person.write_handle(s);
                }
                // Case and white-space variants of the same identifier.
                if variant <= 2 {
                    s.make_ascii_uppercase();
                }
            });
        }
        if !anonymous && !app.pairwise && person.named_user_identifier.is_some() {
            text(Col::NamedUserIdentifier, &mut |s| {
                person.write_named_user_identifier(s);
            });
        } else {
            out.text(Col::NamedUserIdentifier).append_null();
        }
        // Pairwise apps still pass the e-mail claim, as OpenID providers do with a per-app
        // `sub`: it is what lets `hygiene` find them.
        if !anonymous && !chance(r(11), 20) {
            scratch.clear();
            person.write_email(scratch);
            out.text(Col::Email).append_value(&*scratch);
        } else {
            out.text(Col::Email).append_null();
        }
        out.time
            .append_value(self.start_micros + (below(r(8), self.seconds) * 1_000_000) as i64);
        out.text(Col::AppId).append_value(&app.id);
        out.text(Col::AppName).append_value(&app.name);
        out.text(Col::EnvironmentName)
            .append_value(if production { "Production" } else { "Test" });
        out.text(Col::EnvironmentType)
            .append_value(if production { "production" } else { "test" });
        out.text(Col::DeploymentType)
            .append_value(app.deployment_type);
        out.text(Col::UserProvider).append_value(person.provider);
        if app.reports_user_type {
            out.text(Col::UserType).append_value(if person.external {
                "External"
            } else {
                "Internal"
            });
        } else {
            out.text(Col::UserType).append_null();
        }
        if app.has_roles {
            out.text(Col::Roles).append_value(if person.external {
                "Customer"
            } else if chance(r(12), 10) {
                "Admin;Employee"
            } else {
                "Employee"
            });
        } else {
            out.text(Col::Roles).append_null();
        }
        out.active.append_value(active);
        out.anonymous.append_value(anonymous);
        out.rows += 1;
    }
}

/// One generated file being written, in the format asked for. It knows its path, so a failed
/// write (a full disk) names the file, as the warehouse's writers do.
struct EventFile {
    path: PathBuf,
    writer: EventWriter,
}

enum EventWriter {
    Parquet(ArrowWriter<File>),
    Csv(datafusion::arrow::csv::Writer<File>),
}

impl EventFile {
    fn create(path: &Path, format: FileFormat, schema: &SchemaRef) -> Result<EventFile> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let writer = match format {
            FileFormat::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1")))
                    .build();
                EventWriter::Parquet(
                    ArrowWriter::try_new(file, schema.clone(), Some(props))
                        .map_err(|e| Error::parquet_write(path, e))?,
                )
            }
            FileFormat::Csv => EventWriter::Csv(
                datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .with_timestamp_tz_format("%Y-%m-%dT%H:%M:%SZ".to_string())
                    .build(file),
            ),
        };
        Ok(EventFile {
            path: path.to_path_buf(),
            writer,
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match &mut self.writer {
            EventWriter::Parquet(w) => w
                .write(batch)
                .map_err(|e| Error::parquet_write(&self.path, e)),
            EventWriter::Csv(w) => w
                .write(batch)
                .map_err(|e| Error::Runtime(format!("{}: {e}", self.path.display()))),
        }
    }

    fn close(self) -> Result<()> {
        match self.writer {
            EventWriter::Parquet(w) => {
                w.close().map_err(|e| Error::parquet_write(&self.path, e))?;
            }
            // Every CSV write flushes, so its errors came from `write`.
            EventWriter::Csv(w) => drop(w.into_inner()),
        }
        Ok(())
    }
}

/// Writes the portfolio of `spec` to `outputs` (from [`plan_outputs`]); `progress` hears
/// the rows written so far. Returns the rows written.
pub fn generate(
    spec: &Spec,
    outputs: &[(PathBuf, FileFormat)],
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    if spec.users == 0 || spec.apps == 0 || spec.months == 0 {
        return Err(Error::Usage(
            "--users, --apps and --months must be at least 1".into(),
        ));
    }
    let schema = schema();
    let apps: Vec<App> = (0..spec.apps).map(|i| App::new(spec.seed, i)).collect();
    let mut batch = Batch::new();
    let mut scratch = String::with_capacity(64);
    let mut written = 0u64;
    let mut sink: Option<EventFile> = None;
    let per_month = spec.events / u64::from(spec.months);
    for m in 0..spec.months {
        let (path, format) = &outputs[if outputs.len() == 1 { 0 } else { m as usize }];
        if sink.is_none() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            sink = Some(EventFile::create(path, *format, &schema)?);
        }
        let month = month_start(spec.start, m);
        let next = month_start(spec.start, m + 1);
        let draw = MonthDraw {
            spec,
            apps: &apps,
            start_micros: Utc
                .from_utc_datetime(&month.and_hms_opt(0, 0, 0).expect("midnight"))
                .timestamp_micros(),
            seconds: (next - month).num_seconds() as u64,
            month_index: m,
        };
        let count = per_month + u64::from(u64::from(m) < spec.events % u64::from(spec.months));
        for n in 0..count {
            draw.event(n, &mut batch, &mut scratch);
            if batch.rows == BATCH_ROWS {
                sink.as_mut()
                    .expect("open")
                    .write(&batch.finish(&schema)?)?;
                written += BATCH_ROWS as u64;
                progress(written);
            }
        }
        if outputs.len() > 1 || m + 1 == spec.months {
            if batch.rows > 0 {
                let rows = batch.rows as u64;
                sink.as_mut()
                    .expect("open")
                    .write(&batch.finish(&schema)?)?;
                written += rows;
                progress(written);
            }
            sink.take().expect("open").close()?;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Int64Array;

    use super::*;

    /// A full disk (Linux's `/dev/full`) names the generated file, in either format.
    #[test]
    fn a_full_disk_names_the_file() {
        let full = Path::new("/dev/full");
        assert!(full.exists(), "the tests run on Linux, which has /dev/full");
        let column = Arc::new(Int64Array::from_iter_values(0..100_000)) as ArrayRef;
        let batch = RecordBatch::try_from_iter([("n", column)]).unwrap();
        for format in [FileFormat::Parquet, FileFormat::Csv] {
            let mut file = EventFile::create(full, format, &batch.schema()).unwrap();
            let said = match file.write(&batch) {
                Err(e) => e.to_string(),
                Ok(()) => file.close().unwrap_err().to_string(),
            };
            assert!(said.starts_with("/dev/full: "), "{said}");
            assert!(
                said.ends_with("No space left on device (os error 28)"),
                "{said}"
            );
        }
    }
}
