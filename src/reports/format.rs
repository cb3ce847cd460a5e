//! Result formats, shared by `sql`, `report`, the REPL and the dashboard so every format behaves the same
//! everywhere. Timestamps print as RFC 3339 UTC; tables align numbers right.

use std::io::Write;
use std::sync::Arc;

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::ArrowWriter;

use crate::error::{Error, Result};

/// Output formats of SPEC §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned table for people.
    #[default]
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet (to a file or a pipe).
    Parquet,
}

const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.fZ";

fn format_options() -> FormatOptions<'static> {
    FormatOptions::default()
        .with_null("")
        .with_timestamp_tz_format(Some(TIME_FORMAT))
        .with_timestamp_format(Some(TIME_FORMAT))
}

/// Writes `batches` to `out` in `format`.
pub fn write(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: OutputFormat,
) -> Result<()> {
    match format {
        OutputFormat::Table => write_table(out, schema, batches),
        OutputFormat::Csv => {
            // CSV has no nested values: lists and structs print as their display text.
            let (schema, batches) =
                with_text_columns(schema, batches, |dt| is_time(dt) || dt.is_nested())?;
            if batches.is_empty() {
                let header: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(out, "{}", header.join(",")).map_err(stdout_error)?;
                return Ok(());
            }
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            for b in &batches {
                writer.write(b)?;
            }
            Ok(())
        }
        OutputFormat::Json => {
            let (_, batches) = with_text_columns(schema, batches, is_time)?;
            let mut writer = datafusion::arrow::json::ArrayWriter::new(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs)?;
            writer.finish()?;
            if batches.iter().all(|b| b.num_rows() == 0) {
                write!(out, "[]").map_err(stdout_error)?;
            }
            writeln!(out).map_err(stdout_error)
        }
        OutputFormat::Ndjson => {
            let (_, batches) = with_text_columns(schema, batches, is_time)?;
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs)?;
            writer.finish()?;
            Ok(())
        }
        OutputFormat::Parquet => {
            let mut buf = Vec::new();
            let mut writer = ArrowWriter::try_new(&mut buf, schema.clone(), None)?;
            for b in batches {
                writer.write(b)?;
            }
            writer.close()?;
            out.write_all(&buf).map_err(stdout_error)
        }
    }
}

fn stdout_error(e: std::io::Error) -> Error {
    Error::Runtime(format!("cannot write the output: {e}"))
}

fn is_time(dt: &DataType) -> bool {
    matches!(dt, DataType::Timestamp(..))
}

/// Replaces the columns whose type matches `textual` by their display text (timestamps as
/// RFC 3339 UTC), for formats that cannot carry those types as they are.
fn with_text_columns(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    textual: fn(&DataType) -> bool,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    if !schema.fields().iter().any(|f| textual(f.data_type())) {
        return Ok((schema.clone(), batches.to_vec()));
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if textual(f.data_type()) {
                Field::new(f.name(), DataType::Utf8, true)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let text_schema = Arc::new(Schema::new(fields));
    let options = format_options();
    let mut out = Vec::new();
    for batch in batches {
        let columns = batch
            .columns()
            .iter()
            .map(|c| {
                if !textual(c.data_type()) {
                    return Ok(c.clone());
                }
                let formatter = ArrayFormatter::try_new(c.as_ref(), &options)?;
                let values: StringArray = (0..c.len())
                    .map(|i| {
                        if c.is_null(i) {
                            None
                        } else {
                            Some(formatter.value(i).to_string())
                        }
                    })
                    .collect();
                Ok(Arc::new(values) as ArrayRef)
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(RecordBatch::try_new(text_schema.clone(), columns)?);
    }
    Ok((text_schema, out))
}

fn is_numeric(dt: &DataType) -> bool {
    dt.is_numeric()
}

fn write_table(out: &mut dyn Write, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(schema.fields().iter().map(|f| Cell::new(f.name())));
    let options = format_options();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            table.add_row(formatters.iter().map(|f| Cell::new(f.value(row))));
        }
    }
    for (i, field) in schema.fields().iter().enumerate() {
        if is_numeric(field.data_type())
            && let Some(column) = table.column_mut(i)
        {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    writeln!(out, "{table}").map_err(stdout_error)
}
