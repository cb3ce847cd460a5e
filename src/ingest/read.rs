//! Readers for the three input formats. Each turns a file into [`RawChunk`]s: the input
//! columns it found, as read, plus where every row came from so that errors and the
//! quarantine can point back at the source. Nothing here judges values; `validate` does.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, ListBuilder, RecordBatch, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::parquet::arrow::arrow_reader::{
    ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};

use super::columns::{Col, is_own_metadata};
use crate::error::{Error, Result};
use crate::warehouse::schema;

/// Rows per chunk: large enough to amortize per-chunk planning, small enough to bound
/// memory whatever the file size.
pub const CHUNK_ROWS: usize = 128 * 1024;

/// The longest line a text input may have. A login event is a few hundred bytes; a longer
/// line means a wrong or hostile file, and reading it whole would let one line take all
/// memory.
pub const MAX_LINE_BYTES: u64 = 1 << 20;

/// The most columns a CSV header may have (docs/input.md names about twenty).
pub const MAX_COLUMNS: usize = 1024;

/// The input formats of docs/input.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated with a header row.
    Csv,
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// Chooses the format from the file name.
    pub fn from_path(path: &Path) -> Result<Format> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if name.ends_with(".csv") {
            Ok(Format::Csv)
        } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") || name.ends_with(".json") {
            Ok(Format::Ndjson)
        } else if name.ends_with(".parquet") || name.ends_with(".parq") {
            Ok(Format::Parquet)
        } else {
            Err(Error::Usage(format!(
                "{}: unknown file type; use .csv, .ndjson (.jsonl, .json) or .parquet",
                path.display()
            )))
        }
    }

    /// How a position in this format is spoken of.
    pub fn position_word(self) -> &'static str {
        match self {
            Format::Parquet => "row",
            _ => "line",
        }
    }
}

/// A problem the reader found in one row (a value it could not even read as text).
#[derive(Debug, Clone)]
pub struct RowProblem {
    /// Index of the row within its chunk.
    pub row: usize,
    /// The column involved, as named in docs/input.md (or `(record)`).
    pub column: String,
    /// Why.
    pub reason: String,
}

/// A slice of an input file in columnar form.
#[derive(Debug)]
pub struct RawChunk {
    /// One slot per [`Col`]: the values as read, or `None` when the file lacks the column.
    /// Text formats give `Utf8` everywhere and `List<Utf8>` for JSON role arrays; Parquet
    /// may also give timestamps, booleans and lists.
    pub columns: Vec<Option<ArrayRef>>,
    /// 1-based line (text) or row (Parquet) of each row.
    pub positions: Vec<u64>,
    /// Byte range of each row in the file (text formats), to copy bad rows untouched.
    pub spans: Vec<(u64, u64)>,
    /// The rows as Parquet gave them, all columns, to copy bad rows untouched.
    pub original: Option<RecordBatch>,
    /// Rows that could not be read.
    pub problems: Vec<RowProblem>,
    /// CSV header names as written, to label quarantined fields.
    pub header: Option<Arc<Vec<String>>>,
    /// How far into the file this chunk ends, in bytes (estimated for Parquet), for progress.
    pub consumed: u64,
}

impl RawChunk {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// The column's values, if the file has it.
    pub fn column(&self, col: Col) -> Option<&ArrayRef> {
        self.columns[col.index()].as_ref()
    }
}

/// Opens `path` and returns an iterator of chunks. Unknown columns are reported through
/// `warn` once per file.
pub fn open(
    path: &Path,
    format: Format,
    warn: &mut dyn FnMut(String),
) -> Result<Box<dyn Iterator<Item = Result<RawChunk>>>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let display = path.display().to_string();
    let reader: Box<dyn Iterator<Item = Result<RawChunk>>> = match format {
        Format::Csv => Box::new(CsvChunks::new(file, &display, warn)?),
        Format::Ndjson => Box::new(NdjsonChunks::new(file, &display)),
        Format::Parquet => Box::new(ParquetChunks::new(file, &display, warn)?),
    };
    Ok(reader)
}

/// Counts lines as bytes go by and fails the read once a record exceeds [`MAX_LINE_BYTES`]
/// or, in CSV, spans more than [`MAX_RECORD_LINES`] lines, so neither text reader ever
/// buffers more than that for one record. In CSV a record ends at a newline outside quotes:
/// the guard follows the quotes (a doubled `""` toggles twice), so a quoted field cannot
/// carry a record past the bound, and one stray quote is named where it opened instead of
/// swallowing the rest of the file as one record.
struct LineGuard<R> {
    inner: R,
    /// Whether `"` quotes newlines (CSV) or not (NDJSON, where strings cannot hold one).
    csv: bool,
    in_quotes: bool,
    /// 1-based number of the line being read.
    line: u64,
    /// The line the current record started on.
    record_line: u64,
    /// Bytes of the current record seen so far.
    run: u64,
}

/// The most lines one CSV record may span: a field with a few line breaks is fine, a quote
/// left open is not.
pub const MAX_RECORD_LINES: u64 = 100;

/// The guard's refusal, recognizable inside the `io::Error` the readers get back.
#[derive(Debug)]
enum LineTooLong {
    Bytes { line: u64 },
    Lines { line: u64 },
}

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineTooLong::Bytes { line } => write!(
                f,
                "the record starting on line {line} is longer than {} MiB; a login event is a few hundred bytes, so this is not an event file",
                MAX_LINE_BYTES >> 20
            ),
            LineTooLong::Lines { line } => write!(
                f,
                "the record starting on line {line} spans more than {MAX_RECORD_LINES} lines; a quote there is probably never closed"
            ),
        }
    }
}

impl std::error::Error for LineTooLong {}

impl<R> LineGuard<R> {
    fn new(inner: R, csv: bool) -> Self {
        LineGuard {
            inner,
            csv,
            in_quotes: false,
            line: 1,
            record_line: 1,
            run: 0,
        }
    }

    fn refuse(&self, kind: LineTooLong) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, kind)
    }
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let quote = if self.csv { b'"' } else { b'\n' };
        let mut start = 0u64;
        for at in memchr::memchr2_iter(b'\n', quote, &buf[..n]) {
            if buf[at] == b'"' {
                self.in_quotes = !self.in_quotes;
                continue;
            }
            self.line += 1;
            if self.in_quotes {
                if self.line - self.record_line >= MAX_RECORD_LINES {
                    return Err(self.refuse(LineTooLong::Lines {
                        line: self.record_line,
                    }));
                }
                continue;
            }
            if self.run + (at as u64 - start) > MAX_LINE_BYTES {
                return Err(self.refuse(LineTooLong::Bytes {
                    line: self.record_line,
                }));
            }
            self.record_line = self.line;
            self.run = 0;
            start = at as u64 + 1;
        }
        self.run += n as u64 - start;
        if self.run > MAX_LINE_BYTES {
            return Err(self.refuse(LineTooLong::Bytes {
                line: self.record_line,
            }));
        }
        Ok(n)
    }
}

/// The sentence for a read error: the guard's own, else the file and what the system said.
fn read_error(file: &str, e: std::io::Error) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<LineTooLong>())
    {
        Some(too_long) => Error::Runtime(format!("{file}: {too_long}")),
        None => Error::io(file, e),
    }
}

/// Maps header names to input columns, warning about unknown ones and refusing duplicates.
fn map_header<'a>(
    names: impl Iterator<Item = &'a str>,
    file: &str,
    warn: &mut dyn FnMut(String),
) -> Result<Vec<Option<Col>>> {
    let mut seen = [false; Col::ALL.len()];
    let mut mapping = Vec::new();
    for name in names {
        let col = Col::from_name(name);
        match col {
            Some(c) if seen[c.index()] => {
                return Err(Error::Runtime(format!(
                    "{file}: the header names column {} twice",
                    c.name()
                )));
            }
            Some(c) => seen[c.index()] = true,
            None if is_own_metadata(name) => {}
            None => warn(format!("{file}: ignoring unknown column {:?}", name.trim())),
        }
        mapping.push(col);
    }
    Ok(mapping)
}

/// Refuses a file that lacks a required column altogether.
pub fn check_required_columns(present: &[bool], file: &str) -> Result<()> {
    for col in [Col::EventTime, Col::AppId, Col::EnvironmentId] {
        if !present[col.index()] {
            return Err(Error::Runtime(format!(
                "{file}: missing required column {}",
                col.name()
            )));
        }
    }
    let identity = [
        Col::UserName,
        Col::NamedUserIdentifier,
        Col::UserNameHash,
        Col::NamedUserIdentifierHash,
    ];
    if !identity.iter().any(|c| present[c.index()]) {
        return Err(Error::Runtime(format!(
            "{file}: missing required column: one of user_name, named_user_identifier (or their _hash forms)"
        )));
    }
    Ok(())
}

struct CsvChunks {
    reader: csv::Reader<BufReader<LineGuard<File>>>,
    file: String,
    mapping: Vec<Option<Col>>,
    names: Arc<Vec<String>>,
    header_len: usize,
    record: csv::ByteRecord,
    done: bool,
}

impl CsvChunks {
    fn new(file: File, display: &str, warn: &mut dyn FnMut(String)) -> Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(BufReader::with_capacity(
                1 << 20,
                LineGuard::new(file, true),
            ));
        let header = reader
            .byte_headers()
            .map_err(|e| match too_long(&e) {
                Some(message) => Error::Runtime(format!("{display}: {message}")),
                None => Error::Runtime(format!(
                    "{display}: line 1: cannot read the CSV header: {e}"
                )),
            })?
            .clone();
        if header.len() > MAX_COLUMNS {
            return Err(Error::Runtime(format!(
                "{display}: line 1: the header has {} columns; seatcount reads at most {MAX_COLUMNS}, so this is not an event file",
                header.len()
            )));
        }
        let names: Vec<String> = header
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect();
        let names: Vec<String> = names
            .iter()
            .map(|n| n.trim_start_matches('\u{feff}').to_string())
            .collect();
        let mapping = map_header(names.iter().map(String::as_str), display, warn)?;
        let mut present = vec![false; Col::ALL.len()];
        mapping
            .iter()
            .flatten()
            .for_each(|c| present[c.index()] = true);
        check_required_columns(&present, display)?;
        Ok(CsvChunks {
            reader,
            file: display.to_string(),
            header_len: header.len(),
            names: Arc::new(names),
            mapping,
            record: csv::ByteRecord::new(),
            done: false,
        })
    }

    fn next_chunk(&mut self) -> Result<Option<RawChunk>> {
        let mut builders: Vec<Option<StringBuilder>> = (0..Col::ALL.len()).map(|_| None).collect();
        for col in self.mapping.iter().flatten() {
            builders[col.index()] = Some(StringBuilder::with_capacity(CHUNK_ROWS, CHUNK_ROWS * 16));
        }
        let mut positions = Vec::with_capacity(CHUNK_ROWS);
        let mut spans = Vec::with_capacity(CHUNK_ROWS);
        let mut problems = Vec::new();
        while positions.len() < CHUNK_ROWS {
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| {
                    if let Some(message) = too_long(&e) {
                        return Error::Runtime(format!("{}: {message}", self.file));
                    }
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    Error::Runtime(format!(
                        "{}: line {line}: unreadable CSV: {}",
                        self.file,
                        csv_error_kind(&e)
                    ))
                })?;
            if !more {
                self.done = true;
                break;
            }
            let pos = self
                .record
                .position()
                .expect("records read from a reader have positions");
            let row = positions.len();
            positions.push(pos.line());
            spans.push((pos.byte(), self.reader.position().byte()));
            if self.record.len() != self.header_len {
                problems.push(RowProblem {
                    row,
                    column: "(record)".into(),
                    reason: format!(
                        "has {} fields where the header has {}",
                        self.record.len(),
                        self.header_len
                    ),
                });
            }
            for (i, col) in self.mapping.iter().enumerate() {
                let Some(col) = col else { continue };
                let builder = builders[col.index()]
                    .as_mut()
                    .expect("builder per mapped column");
                match self.record.get(i).map(std::str::from_utf8) {
                    None => builder.append_null(),
                    Some(Ok("")) => builder.append_null(),
                    Some(Ok(text)) => builder.append_value(text),
                    Some(Err(_)) => {
                        builder.append_null();
                        problems.push(RowProblem {
                            row,
                            column: col.name().into(),
                            reason: "is not valid UTF-8".into(),
                        });
                    }
                }
            }
        }
        if positions.is_empty() {
            return Ok(None);
        }
        let columns = builders
            .into_iter()
            .map(|b| b.map(|mut b| Arc::new(b.finish()) as ArrayRef))
            .collect();
        Ok(Some(RawChunk {
            columns,
            positions,
            spans,
            original: None,
            problems,
            header: Some(self.names.clone()),
            consumed: self.reader.position().byte(),
        }))
    }
}

/// The line guard's refusal inside a CSV error, if that is what it is.
fn too_long(e: &csv::Error) -> Option<String> {
    match e.kind() {
        csv::ErrorKind::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<LineTooLong>())
            .map(ToString::to_string),
        _ => None,
    }
}

fn csv_error_kind(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => "malformed quoting or record".to_string(),
    }
}

impl Iterator for CsvChunks {
    type Item = Result<RawChunk>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.next_chunk().transpose()
    }
}

struct NdjsonChunks {
    reader: BufReader<LineGuard<File>>,
    file: String,
    line_no: u64,
    offset: u64,
    buf: Vec<u8>,
    done: bool,
}

impl NdjsonChunks {
    fn new(file: File, display: &str) -> Self {
        NdjsonChunks {
            reader: BufReader::with_capacity(1 << 20, LineGuard::new(file, false)),
            file: display.to_string(),
            line_no: 0,
            offset: 0,
            buf: Vec::new(),
            done: false,
        }
    }

    fn next_chunk(&mut self) -> Result<Option<RawChunk>> {
        let mut builders: Vec<StringBuilder> =
            (0..Col::ALL.len()).map(|_| StringBuilder::new()).collect();
        let mut roles = ListBuilder::new(StringBuilder::new());
        let mut present = [false; Col::ALL.len()];
        let mut positions = Vec::new();
        let mut spans = Vec::new();
        let mut problems = Vec::new();
        let mut text = String::new();
        while positions.len() < CHUNK_ROWS {
            self.buf.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| read_error(&self.file, e))?;
            if n == 0 {
                self.done = true;
                break;
            }
            self.line_no += 1;
            let start = self.offset;
            self.offset += n as u64;
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let row = positions.len();
            positions.push(self.line_no);
            spans.push((start, self.offset));
            let parsed: std::result::Result<serde_json::Map<String, serde_json::Value>, _> =
                serde_json::from_slice(&self.buf);
            let object = match parsed {
                Ok(object) => object,
                Err(e) => {
                    let reason = if e.is_data() {
                        "is not a JSON object"
                    } else {
                        "is not valid JSON"
                    };
                    problems.push(RowProblem {
                        row,
                        column: "(record)".into(),
                        reason: reason.into(),
                    });
                    serde_json::Map::new()
                }
            };
            let mut filled = [false; Col::ALL.len()];
            for (key, value) in &object {
                let Some(col) = Col::from_name(key) else {
                    continue;
                };
                if filled[col.index()] {
                    problems.push(RowProblem {
                        row,
                        column: col.name().into(),
                        reason: "appears twice".into(),
                    });
                    continue;
                }
                filled[col.index()] = true;
                present[col.index()] = true;
                if col == Col::Roles {
                    continue; // handled below, as a list
                }
                match json_scalar_text(value, &mut text) {
                    Some(true) => builders[col.index()].append_value(&text),
                    Some(false) => builders[col.index()].append_null(),
                    None => {
                        builders[col.index()].append_null();
                        problems.push(RowProblem {
                            row,
                            column: col.name().into(),
                            reason: "must be a string, number or boolean".into(),
                        });
                    }
                }
            }
            for col in Col::ALL {
                if col != Col::Roles && !filled[col.index()] {
                    builders[col.index()].append_null();
                }
            }
            let role_value = object
                .iter()
                .find(|(k, _)| Col::from_name(k) == Some(Col::Roles))
                .map(|(_, v)| v);
            append_json_roles(role_value, &mut roles, row, &mut problems);
        }
        if positions.is_empty() {
            return Ok(None);
        }
        let mut columns: Vec<Option<ArrayRef>> = builders
            .into_iter()
            .enumerate()
            .map(|(i, mut b)| present[i].then(|| Arc::new(b.finish()) as ArrayRef))
            .collect();
        if present[Col::Roles.index()] {
            columns[Col::Roles.index()] = Some(Arc::new(roles.finish()));
        }
        Ok(Some(RawChunk {
            columns,
            positions,
            spans,
            original: None,
            problems,
            header: None,
            consumed: self.offset,
        }))
    }
}

/// Text of a JSON scalar: `Some(true)` with `out` filled, `Some(false)` for null or an
/// empty string, `None` for arrays and objects.
fn json_scalar_text(value: &serde_json::Value, out: &mut String) -> Option<bool> {
    use serde_json::Value;
    out.clear();
    match value {
        Value::Null => Some(false),
        Value::String(s) => {
            out.push_str(s);
            Some(!s.is_empty())
        }
        Value::Bool(b) => {
            out.push_str(if *b { "true" } else { "false" });
            Some(true)
        }
        Value::Number(n) => {
            use std::fmt::Write;
            write!(out, "{n}").expect("writing to a String");
            Some(true)
        }
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn append_json_roles(
    value: Option<&serde_json::Value>,
    roles: &mut ListBuilder<StringBuilder>,
    row: usize,
    problems: &mut Vec<RowProblem>,
) {
    use serde_json::Value;
    match value {
        None | Some(Value::Null) => roles.append(false),
        Some(Value::String(s)) => {
            for role in split_roles(s) {
                roles.values().append_value(role);
            }
            roles.append(true);
        }
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(s) if !s.trim().is_empty() => {
                        roles.values().append_value(s.trim())
                    }
                    Value::String(_) | Value::Null => {}
                    _ => {
                        problems.push(RowProblem {
                            row,
                            column: "roles".into(),
                            reason: "must be a list of strings".into(),
                        });
                    }
                }
            }
            roles.append(true);
        }
        Some(_) => {
            roles.append(false);
            problems.push(RowProblem {
                row,
                column: "roles".into(),
                reason: "must be a list of strings or a ;-separated string".into(),
            });
        }
    }
}

/// Splits a `;`-separated role string, trimming each role and dropping empty ones.
pub fn split_roles(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').map(str::trim).filter(|r| !r.is_empty())
}

impl Iterator for NdjsonChunks {
    type Item = Result<RawChunk>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.next_chunk().transpose()
    }
}

struct ParquetChunks {
    reader: ParquetRecordBatchReader,
    file: String,
    mapping: Vec<Option<Col>>,
    rows_before: u64,
    total_rows: u64,
    file_len: u64,
}

impl ParquetChunks {
    fn new(file: File, display: &str, warn: &mut dyn FnMut(String)) -> Result<Self> {
        let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| Error::Runtime(format!("{display}: not a readable Parquet file: {e}")))?;
        let total_rows = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        let schema = builder.schema().clone();
        let mapping = map_header(
            schema.fields().iter().map(|f| f.name().as_str()),
            display,
            warn,
        )?;
        let mut present = vec![false; Col::ALL.len()];
        mapping
            .iter()
            .flatten()
            .for_each(|c| present[c.index()] = true);
        check_required_columns(&present, display)?;
        let reader = builder
            .with_batch_size(CHUNK_ROWS)
            .build()
            .map_err(|e| Error::Runtime(format!("{display}: not a readable Parquet file: {e}")))?;
        Ok(ParquetChunks {
            reader,
            file: display.to_string(),
            mapping,
            rows_before: 0,
            total_rows,
            file_len,
        })
    }

    fn convert(&mut self, batch: RecordBatch) -> Result<RawChunk> {
        let mut columns: Vec<Option<ArrayRef>> = vec![None; Col::ALL.len()];
        for (i, col) in self.mapping.iter().enumerate() {
            let Some(col) = col else { continue };
            let array = batch.column(i);
            let converted = convert_parquet_column(*col, array).ok_or_else(|| {
                Error::Runtime(format!(
                    "{}: column {} has type {} that seatcount cannot read",
                    self.file,
                    col.name(),
                    array.data_type()
                ))
            })?;
            columns[col.index()] = Some(converted);
        }
        let n = batch.num_rows() as u64;
        let positions = (self.rows_before + 1..=self.rows_before + n).collect();
        self.rows_before += n;
        Ok(RawChunk {
            columns,
            positions,
            spans: Vec::new(),
            original: Some(batch),
            problems: Vec::new(),
            header: None,
            consumed: (u128::from(self.file_len) * u128::from(self.rows_before)
                / u128::from(self.total_rows.max(1))) as u64,
        })
    }
}

/// Brings a Parquet column to the types the validator reads; `None` when impossible.
fn convert_parquet_column(col: Col, array: &ArrayRef) -> Option<ArrayRef> {
    let dt = array.data_type();
    match (col, dt) {
        (Col::EventTime, DataType::Timestamp(_, tz)) => {
            let utc = if tz.is_some() {
                cast(array, &schema::time_type()).ok()?
            } else {
                // A timestamp without a zone is UTC (docs/input.md).
                let naive = cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None)).ok()?;
                cast(&naive, &schema::time_type()).ok()?
            };
            Some(utc)
        }
        (Col::Active | Col::Anonymous, DataType::Boolean) => Some(array.clone()),
        (Col::Roles, DataType::List(_) | DataType::LargeList(_) | DataType::ListView(_)) => {
            cast(array, &schema::roles_type()).ok()
        }
        _ => cast(array, &DataType::Utf8).ok(),
    }
}

impl Iterator for ParquetChunks {
    type Item = Result<RawChunk>;
    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.reader.next()?;
        Some(
            batch
                .map_err(|e| {
                    Error::Runtime(format!(
                        "{}: row {}: unreadable Parquet data: {e}",
                        self.file,
                        self.rows_before + 1
                    ))
                })
                .and_then(|b| self.convert(b)),
        )
    }
}

/// The untouched bytes of a text row, for the quarantine.
pub fn read_span(path: &PathBuf, span: (u64, u64)) -> Result<Vec<u8>> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    file.seek(SeekFrom::Start(span.0))
        .map_err(|e| Error::io(path, e))?;
    let mut bytes = vec![0u8; (span.1 - span.0) as usize];
    file.read_exact(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;

    fn chunks(text: &str, format: Format) -> (Vec<RawChunk>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in");
        std::fs::write(&path, text).unwrap();
        let mut warnings = Vec::new();
        let read: Vec<RawChunk> = open(&path, format, &mut |w| warnings.push(w))
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        (read, warnings)
    }

    #[test]
    fn a_csv_header_matches_whatever_its_case_and_rows_know_their_first_line() {
        let text = "Event_Time, APP_ID ,environment_id,user_name,colour\n\
                    2026-01-01T00:00:00Z,a,e,\"ann\nsmith\",red\n\
                    2026-01-02T00:00:00Z,b,e,bob,blue\n";
        let (read, warnings) = chunks(text, Format::Csv);
        assert_eq!(read.len(), 1);
        let chunk = &read[0];
        assert_eq!(
            chunk.positions,
            vec![2, 4],
            "a quoted line break moves the next row"
        );
        let apps = chunk.column(Col::AppId).unwrap().as_string::<i32>();
        assert_eq!(apps.value(1), "b");
        let names = chunk.column(Col::UserName).unwrap().as_string::<i32>();
        assert_eq!(names.value(0), "ann\nsmith");
        assert!(chunk.column(Col::Email).is_none());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("colour"), "{warnings:?}");
    }

    #[test]
    fn ndjson_rows_are_numbered_by_line_and_role_arrays_are_lists() {
        let text = "{\"event_time\":\"2026-01-01T00:00:00Z\",\"app_id\":\"a\",\"environment_id\":\"e\",\"user_name\":\"ann\",\"roles\":[\"x\",\"y\"]}\n\
                    \n\
                    {\"event_time\":\"2026-01-02T00:00:00Z\",\"app_id\":\"b\",\"environment_id\":\"e\",\"user_name\":\"bob\"}\n";
        let (read, _) = chunks(text, Format::Ndjson);
        let chunk = &read[0];
        assert_eq!(
            chunk.positions,
            vec![1, 3],
            "a blank line is skipped, not renumbered"
        );
        let roles = chunk.column(Col::Roles).unwrap();
        assert!(roles.data_type().is_nested(), "{:?}", roles.data_type());
    }
}
