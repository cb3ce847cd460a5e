//! Rejected rows, kept as they came (docs/input.md). Each line of a quarantine file is the bad
//! row's original fields as a JSON object plus `_seatcount_*` fields saying where it came from
//! and why it was refused. A row whose fields JSON text cannot hold exactly (bytes that are not
//! UTF-8, two columns of one name) also keeps its bytes as `_seatcount_raw_hex`. Fix the values
//! and the file can be ingested as it is: ingest ignores `_seatcount_*` columns. Files are mode
//! 0600 because they hold clear identifiers.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use datafusion::arrow::json::LineDelimitedWriter;
use serde_json::{Map, Value};

use super::read::{Format, RawChunk, read_span};
use super::validate::Reject;
use crate::error::{Error, Result};

/// An open quarantine file in staging.
pub struct QuarantineWriter {
    path: PathBuf,
    out: BufWriter<File>,
    rows: u64,
}

impl QuarantineWriter {
    /// Creates the file, owner-readable only.
    pub fn create(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(QuarantineWriter {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            rows: 0,
        })
    }

    /// Appends the rejected rows of `chunk`.
    pub fn write(
        &mut self,
        source: &Path,
        format: Format,
        header: Option<&[String]>,
        chunk: &RawChunk,
        rejects: &[Reject],
    ) -> Result<()> {
        for reject in rejects {
            let mut object = original_fields(source, format, header, chunk, reject.row)?;
            object.insert(
                "_seatcount_source".into(),
                Value::String(source.display().to_string()),
            );
            object.insert(
                format!("_seatcount_{}", format.position_word()),
                Value::from(chunk.positions[reject.row]),
            );
            object.insert(
                "_seatcount_column".into(),
                Value::String(reject.column.clone()),
            );
            object.insert(
                "_seatcount_reason".into(),
                Value::String(reject.reason.clone()),
            );
            serde_json::to_writer(&mut self.out, &object)
                .map_err(|e| Error::Runtime(e.to_string()))?;
            self.out
                .write_all(b"\n")
                .map_err(|e| Error::io(&self.path, e))?;
            self.rows += 1;
        }
        Ok(())
    }

    /// Flushes to disk and returns how many rows were written.
    pub fn finish(self) -> Result<u64> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        Ok(self.rows)
    }
}

/// The row's bytes exactly, as hex, when its fields as JSON text would lose some: bytes that
/// are not UTF-8, or two columns of one name.
fn keep_raw(object: &mut Map<String, Value>, bytes: &[u8]) {
    object.insert(
        "_seatcount_raw_hex".into(),
        Value::String(hex::encode(bytes)),
    );
}

fn original_fields(
    source: &Path,
    format: Format,
    header: Option<&[String]>,
    chunk: &RawChunk,
    row: usize,
) -> Result<Map<String, Value>> {
    match format {
        Format::Parquet => {
            let batch = chunk
                .original
                .as_ref()
                .expect("Parquet chunks keep their rows")
                .slice(row, 1);
            let mut buf = Vec::new();
            let mut writer = LineDelimitedWriter::new(&mut buf);
            writer.write(&batch)?;
            writer.finish()?;
            Ok(serde_json::from_slice(&buf).unwrap_or_default())
        }
        Format::Ndjson => {
            let bytes = read_span(&source.to_path_buf(), chunk.spans[row])?;
            match serde_json::from_slice::<Map<String, Value>>(&bytes) {
                Ok(object) => Ok(object),
                Err(_) => {
                    let mut object = Map::new();
                    match std::str::from_utf8(&bytes) {
                        Ok(text) => {
                            object.insert(
                                "_seatcount_raw".into(),
                                Value::String(text.trim_end().to_string()),
                            );
                        }
                        Err(_) => keep_raw(&mut object, &bytes),
                    }
                    Ok(object)
                }
            }
        }
        Format::Csv => {
            let bytes = read_span(&source.to_path_buf(), chunk.spans[row])?;
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes.as_slice());
            let mut record = csv::ByteRecord::new();
            let mut object = Map::new();
            if reader.read_byte_record(&mut record).unwrap_or(false) {
                let names = header.unwrap_or_default();
                let mut lossy = std::str::from_utf8(&bytes).is_err();
                for (i, field) in record.iter().enumerate() {
                    let name = names
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| format!("_seatcount_extra_{}", i + 1));
                    let value = Value::String(String::from_utf8_lossy(field).into_owned());
                    lossy |= object.insert(name, value).is_some();
                }
                if lossy {
                    keep_raw(&mut object, &bytes);
                }
            } else {
                object.insert(
                    "_seatcount_raw".into(),
                    Value::String(String::from_utf8_lossy(&bytes).trim_end().to_string()),
                );
            }
            Ok(object)
        }
    }
}
