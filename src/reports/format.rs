//! Result formats, shared by `sql`, `report`, the REPL and the dashboard so every format
//! behaves the same everywhere. Timestamps print as RFC 3339 UTC; tables align numbers right.

use std::io::Write;
use std::sync::Arc;

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::ArrowWriter;

use crate::error::{Error, Result};

/// Output formats of README commands.
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

/// Writes a result to `out` in one format as its batches arrive, so `sql` and reports print
/// (or fill their `--output` file) while the query runs and never hold a large result whole.
/// A table is the exception: it needs every row for its column widths.
pub struct Writer<W: Write + Send> {
    sink: Encoder<W>,
    schema: SchemaRef,
    /// The schema the rows are written in: `schema` with [`Encoder::textual`] columns as text.
    text_schema: SchemaRef,
    rows: usize,
}

/// How rows become bytes in each output format.
enum Encoder<W: Write + Send> {
    Table(W, Vec<RecordBatch>),
    Csv(datafusion::arrow::csv::Writer<W>),
    Json(datafusion::arrow::json::ArrayWriter<W>),
    Ndjson(datafusion::arrow::json::LineDelimitedWriter<W>),
    Parquet(ArrowWriter<W>),
}

impl<W: Write + Send> Encoder<W> {
    /// The column types this sink prints as display text: CSV has no nested values (lists and
    /// structs print as their display text), and CSV and JSON print timestamps as RFC 3339.
    fn textual(&self) -> fn(&DataType) -> bool {
        match self {
            Encoder::Csv(_) => |dt| is_time(dt) || dt.is_nested(),
            Encoder::Json(_) | Encoder::Ndjson(_) => is_time,
            Encoder::Table(..) | Encoder::Parquet(_) => |_| false,
        }
    }
}

impl<W: Write + Send> Writer<W> {
    /// Starts a result of `schema` in `format` on `out`.
    pub fn new(out: W, schema: &SchemaRef, format: OutputFormat) -> Result<Self> {
        let sink = match format {
            OutputFormat::Table => Encoder::Table(out, Vec::new()),
            OutputFormat::Csv => Encoder::Csv(
                datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(out),
            ),
            OutputFormat::Json => Encoder::Json(datafusion::arrow::json::ArrayWriter::new(out)),
            OutputFormat::Ndjson => {
                Encoder::Ndjson(datafusion::arrow::json::LineDelimitedWriter::new(out))
            }
            OutputFormat::Parquet => Encoder::Parquet(
                ArrowWriter::try_new(out, schema.clone(), None).map_err(output_error)?,
            ),
        };
        let text_schema = text_schema(schema, sink.textual());
        Ok(Writer {
            sink,
            schema: schema.clone(),
            text_schema,
            rows: 0,
        })
    }

    /// Writes one batch of the result.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows();
        let textual = self.sink.textual();
        match &mut self.sink {
            Encoder::Table(_, batches) => {
                batches.push(batch.clone());
                Ok(())
            }
            Encoder::Csv(w) => w.write(&as_text(&self.text_schema, batch, textual)?),
            Encoder::Json(w) => w.write(&as_text(&self.text_schema, batch, textual)?),
            Encoder::Ndjson(w) => w.write(&as_text(&self.text_schema, batch, textual)?),
            Encoder::Parquet(w) => return w.write(batch).map_err(output_error),
        }
        .map_err(output_error)
    }

    /// Ends the result (a CSV header, an empty JSON array or a Parquet footer even without
    /// rows) and hands back the output.
    pub fn finish(mut self) -> Result<W> {
        if self.rows == 0 && matches!(self.sink, Encoder::Csv(_)) {
            // arrow writes the header with the first batch; without rows there was none.
            let empty = RecordBatch::new_empty(self.text_schema.clone());
            if let Encoder::Csv(w) = &mut self.sink {
                w.write(&empty).map_err(output_error)?;
            }
        }
        let mut out = match self.sink {
            Encoder::Table(mut out, batches) => {
                write_table(&mut out, &self.schema, &batches)?;
                out
            }
            Encoder::Csv(w) => w.into_inner(),
            Encoder::Json(mut w) => {
                w.finish().map_err(output_error)?;
                let mut out = w.into_inner();
                if self.rows == 0 {
                    write!(out, "[]").map_err(output_error)?;
                }
                writeln!(out).map_err(output_error)?;
                out
            }
            Encoder::Ndjson(mut w) => {
                w.finish().map_err(output_error)?;
                w.into_inner()
            }
            Encoder::Parquet(w) => w.into_inner().map_err(output_error)?,
        };
        out.flush().map_err(output_error)?;
        Ok(out)
    }
}

/// Writes `batches` to `out` in `format`, for results already held whole.
pub fn write(
    out: &mut (dyn Write + Send),
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: OutputFormat,
) -> Result<()> {
    let mut writer = Writer::new(out, schema, format)?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.finish().map(drop)
}

/// The error for output that cannot be written (a full disk, a closed pipe).
pub fn output_error(e: impl std::fmt::Display) -> Error {
    Error::Runtime(format!("cannot write the output: {e}"))
}

fn is_time(dt: &DataType) -> bool {
    matches!(dt, DataType::Timestamp(..))
}

/// `schema` with the columns whose type matches `textual` as text.
fn text_schema(schema: &SchemaRef, textual: fn(&DataType) -> bool) -> SchemaRef {
    if !schema.fields().iter().any(|f| textual(f.data_type())) {
        return schema.clone();
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
    Arc::new(Schema::new(fields))
}

/// `batch` in `text_schema`: the columns whose type matches `textual` replaced by their
/// display text (timestamps as RFC 3339 UTC), for formats that cannot carry those types.
fn as_text(
    text_schema: &SchemaRef,
    batch: &RecordBatch,
    textual: fn(&DataType) -> bool,
) -> Result<RecordBatch> {
    if !batch.columns().iter().any(|c| textual(c.data_type())) {
        return Ok(batch.clone());
    }
    let options = format_options();
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
    Ok(RecordBatch::try_new(text_schema.clone(), columns)?)
}

fn is_numeric(dt: &DataType) -> bool {
    dt.is_numeric()
}

fn write_table(out: &mut impl Write, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
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
    writeln!(out, "{table}").map_err(output_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("month", DataType::Utf8, false),
            Field::new("app_id", DataType::Utf8, true),
            Field::new("consumption", DataType::Int64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["2026-10", "2026-10"])),
                Arc::new(StringArray::from(vec![None, Some("field, north")])),
                Arc::new(Int64Array::from(vec![3, 5])),
            ],
        )
        .unwrap()
    }

    fn render(format: OutputFormat) -> String {
        let b = batch();
        let mut writer = Writer::new(Vec::new(), &b.schema(), format).unwrap();
        writer.write(&b).unwrap();
        String::from_utf8(writer.finish().unwrap()).unwrap()
    }

    #[test]
    fn csv_has_a_header_quotes_commas_and_leaves_nulls_empty() {
        assert_eq!(
            render(OutputFormat::Csv),
            "month,app_id,consumption\n2026-10,,3\n2026-10,\"field, north\",5\n"
        );
    }

    #[test]
    fn ndjson_is_one_object_a_row_and_omits_nothing_it_has() {
        let text = render(OutputFormat::Ndjson);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].contains("\"app_id\":\"field, north\""), "{text}");
        assert!(lines[1].contains("\"consumption\":5"), "{text}");
    }
}
