//! Parquet files written on a thread of their own, so that compressing one batch overlaps
//! reading and hashing the next: ingest is otherwise serial and would use one core
//! (BENCHMARKS.md).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// What a file is for, which decides how hard it is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Read once by de-duplication, then deleted: uncompressed (LZ4 saved a quarter of the
    /// bytes of hex hashes but cost a tenth of ingest's time, BENCHMARKS.md item 31) and small
    /// row groups, because one is buffered per month until it is full.
    Staging,
    /// Kept in the warehouse: zstd level 1 (the level BENCHMARKS.md measured as cheapest for
    /// what it saves) and large row groups.
    Stored,
}

impl Purpose {
    fn properties(self) -> Result<WriterProperties> {
        let builder = WriterProperties::builder();
        let builder = match self {
            Purpose::Staging => builder
                .set_compression(Compression::UNCOMPRESSED)
                .set_dictionary_enabled(false)
                .set_max_row_group_row_count(Some(1 << 17)),
            Purpose::Stored => builder
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
                .set_max_row_group_row_count(Some(1 << 20)),
        };
        Ok(builder.build())
    }

    /// Batches that may wait for the writer thread. A stored file takes a whole chunk's
    /// normalized slices (a chunk comes back from the query as slices of 8,192 rows), so
    /// reading and normalizing the next chunk overlaps compressing this one; with two, the
    /// reader waited for the writer at every chunk (BENCHMARKS.md item 33). A staged file
    /// keeps two: one month among many may be staging, and each holds its own queue.
    fn queue(self) -> usize {
        match self {
            Purpose::Staging => 2,
            Purpose::Stored => 2 * super::read::CHUNK_ROWS.div_ceil(8192),
        }
    }
}

/// A Parquet file being written by a background thread. Batches are handed over through a
/// bounded queue, so a slow disk slows the producer instead of filling memory.
pub struct ParquetSink {
    path: PathBuf,
    queue: Option<mpsc::Sender<RecordBatch>>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl ParquetSink {
    /// Creates `path` and starts its writer.
    pub fn create(path: &Path, schema: SchemaRef, purpose: Purpose) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut writer = ArrowWriter::try_new(file, schema, Some(purpose.properties()?))
            .map_err(|e| Error::parquet_write(path, e))?;
        let (queue, mut batches) = mpsc::channel::<RecordBatch>(purpose.queue());
        let thread_path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("parquet-writer".into())
            .spawn(move || {
                let failed = |e| Error::parquet_write(&thread_path, e);
                while let Some(batch) = batches.blocking_recv() {
                    writer.write(&batch).map_err(failed)?;
                }
                let file = writer.into_inner().map_err(failed)?;
                file.sync_all().map_err(|e| Error::io(&thread_path, e))
            })
            .map_err(|e| Error::io(path, e))?;
        Ok(ParquetSink {
            path: path.to_path_buf(),
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Queues `batch`, waiting while the writer is behind.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let queue = self.queue.as_ref().expect("only finish takes the queue");
        if queue.send(batch).await.is_err() {
            // The writer stopped on an error; finishing reports it.
            return self.join().and(Err(Error::Runtime(format!(
                "{}: the writer stopped",
                self.path.display()
            ))));
        }
        Ok(())
    }

    /// Writes what is queued, the footer, and syncs the file to disk.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.join()?;
        Ok(std::mem::take(&mut self.path))
    }

    fn join(&mut self) -> Result<()> {
        self.queue = None;
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(Error::Runtime(format!(
                "{}: the writer thread failed",
                self.path.display()
            ))),
        }
    }
}

impl Drop for ParquetSink {
    /// An abandoned file (an ingest that failed) is still closed before its staging
    /// directory is removed, so no thread writes into a deleted directory.
    fn drop(&mut self) {
        let _ = self.join();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int64Array};

    use super::*;

    /// A full disk (Linux's `/dev/full` refuses every write) is one sentence naming the file,
    /// in the operating system's words, not the Parquet writer's, which names none.
    #[tokio::test]
    async fn a_full_disk_names_the_file() {
        let full = Path::new("/dev/full");
        assert!(full.exists(), "the tests run on Linux, which has /dev/full");
        let column = Arc::new(Int64Array::from_iter_values(0..100_000)) as ArrayRef;
        let batch = RecordBatch::try_from_iter([("n", column)]).unwrap();
        let mut sink = ParquetSink::create(full, batch.schema(), Purpose::Stored).unwrap();
        let said = match sink.write(batch).await {
            Err(e) => e.to_string(),
            Ok(()) => sink.finish().unwrap_err().to_string(),
        };
        assert_eq!(said, "/dev/full: No space left on device (os error 28)");
    }
}
