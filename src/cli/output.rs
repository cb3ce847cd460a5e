//! Where a command's result goes: standard output, or the `--output` file. Rows are written as
//! the query computes them; a file appears only once its result is complete, so a scheduler
//! never picks up half a report.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use futures::StreamExt;

use crate::cli::OutputArgs;
use crate::engine::Rows;
use crate::error::{Error, Result};
use crate::reports::format::{self, OutputFormat};

/// Writes `rows` where `output` says, in its format.
pub async fn emit(output: &OutputArgs, rows: Rows<'_>) -> Result<()> {
    emit_observed(output, rows, |_| Ok(())).await
}

/// [`emit`], showing each batch to `observe` before it is written (the report's gates).
pub async fn emit_observed(
    output: &OutputArgs,
    mut rows: Rows<'_>,
    mut observe: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    let destination = Destination::open(output)?;
    let mut writer = format::Writer::new(destination, &rows.schema, output.format)?;
    while let Some(batch) = rows.batches.next().await {
        let batch = batch?;
        observe(&batch)?;
        writer.write(&batch)?;
    }
    writer.finish()?.complete()
}

/// An open output. A regular file is written beside its path and renamed over it when
/// complete; dropped before that (the query failed), the partial file is removed and whatever
/// was at the path is left as it was.
enum Destination {
    Stdout(BufWriter<std::io::Stdout>),
    File {
        out: BufWriter<File>,
        partial: PathBuf,
        path: PathBuf,
    },
    /// A FIFO or device (`/dev/stdout`), which cannot be renamed over.
    Special(BufWriter<File>),
}

impl Destination {
    fn open(output: &OutputArgs) -> Result<Self> {
        let Some(path) = &output.output else {
            if output.format == OutputFormat::Parquet && std::io::stdout().is_terminal() {
                return Err(Error::Usage(
                    "Parquet output is binary: give --output FILE or pipe it".into(),
                ));
            }
            return Ok(Destination::Stdout(BufWriter::new(std::io::stdout())));
        };
        let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
        if special {
            let file = File::create(path).map_err(|e| Error::io(path, e))?;
            return Ok(Destination::Special(BufWriter::new(file)));
        }
        let partial = partial_path(path);
        let file = File::create(&partial).map_err(|e| Error::io(path, e))?;
        Ok(Destination::File {
            out: BufWriter::new(file),
            partial,
            path: path.clone(),
        })
    }

    /// Flushes the output and, for a file, puts it in place.
    fn complete(mut self) -> Result<()> {
        self.flush().map_err(format::output_error)?;
        if let Destination::File { partial, path, .. } = &self {
            std::fs::rename(partial, path).map_err(|e| Error::io(path, e))?;
        }
        Ok(())
    }
}

/// The hidden sibling a file is written to until it is complete.
fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial"))
}

impl Write for Destination {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Destination::Stdout(out) => out.write(buf),
            Destination::File { out, .. } | Destination::Special(out) => out.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Destination::Stdout(out) => out.flush(),
            Destination::File { out, .. } | Destination::Special(out) => out.flush(),
        }
    }
}

impl Drop for Destination {
    fn drop(&mut self) {
        if let Destination::File { partial, .. } = self {
            // After a rename this finds nothing; before one, it removes the partial file.
            let _ = std::fs::remove_file(partial);
        }
    }
}
