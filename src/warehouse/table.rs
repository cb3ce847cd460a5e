//! The small CSV tables a licence manager edits by hand or by command (`entitlements.csv`,
//! `assignments.csv`): a fixed header, every problem named by file, line and column, edits
//! made under one lock and written back whole and atomically.

use std::path::Path;

use super::{Warehouse, files, lock};
use crate::error::{Error, Result};

/// The file's bytes, or `None` when it does not exist (an empty table).
pub fn read(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// A refused value at `line` and `column` of `path`.
pub fn bad_row(path: &Path, line: u64, column: &str, reason: String) -> Error {
    Error::BadRow {
        file: path.display().to_string(),
        location: format!("line {line}"),
        column: column.to_string(),
        reason,
    }
}

/// The records of `bytes`, each with its line number, once the header (any case, trimmed)
/// is exactly `columns`. Fields are trimmed.
pub fn records(
    bytes: &[u8],
    path: &Path,
    columns: &[&str],
) -> Result<Vec<(u64, csv::StringRecord)>> {
    records_with(bytes, path, columns, &[])
}

/// [`records`] of a file whose header may also end with the `optional` columns, all of them
/// or none; a record of a file without them reads them as empty.
pub fn records_with(
    bytes: &[u8],
    path: &Path,
    columns: &[&str],
    optional: &[&str],
) -> Result<Vec<(u64, csv::StringRecord)>> {
    // Flexible: a row may leave out the optional columns' trailing empty fields (an unpriced
    // subscription in a file with prices). A row short of a required column, or with too
    // many, is refused below: a truncated row must not read as an empty valid_to.
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad_row(path, 1, "header", e.to_string()))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect();
    let full: Vec<&str> = columns.iter().chain(optional).copied().collect();
    if header != columns && header != full {
        let optional = if optional.is_empty() {
            String::new()
        } else {
            format!(", optionally followed by {}", optional.join(","))
        };
        return Err(Error::Runtime(format!(
            "{}: the header must be {}{optional}",
            path.display(),
            columns.join(",")
        )));
    }
    let width = header.len();
    reader
        .records()
        .enumerate()
        .map(|(index, record)| {
            let line = index as u64 + 2;
            let record = record.map_err(|e| bad_row(path, line, columns[0], e.to_string()))?;
            if record.len() < columns.len() {
                return Err(bad_row(
                    path,
                    line,
                    columns[record.len()],
                    format!(
                        "missing: the row has {} of the {} columns",
                        record.len(),
                        columns.len()
                    ),
                ));
            }
            if record.len() > width {
                return Err(bad_row(
                    path,
                    line,
                    header.last().map_or("header", String::as_str),
                    format!("{} fields where the header has {width}", record.len()),
                ));
            }
            Ok((line, record))
        })
        .collect()
}

/// Runs `edit` under the lock every edit of these tables takes, so two edits never lose one
/// another.
pub fn locked<T>(wh: &Warehouse, edit: impl FnOnce() -> Result<T>) -> Result<T> {
    let _lock = lock::acquire(
        &wh.state_dir().join("entitlements.lock"),
        lock::Mode::Exclusive,
        "another edit of entitlements.csv or assignments.csv",
    )?;
    edit()
}

/// Writes `rows` under `columns` to `path`, replacing it atomically.
pub fn write(
    path: &Path,
    columns: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<()> {
    let io = |e: csv::Error| Error::Runtime(format!("cannot write {}: {e}", path.display()));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(columns).map_err(io)?;
    for row in rows {
        writer.write_record(&row).map_err(io)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::Runtime(format!("cannot write {}: {e}", path.display())))?;
    files::write_atomically(path, &bytes)
}
