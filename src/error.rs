//! One error type for the whole tool, so every failure reaches the user as one sentence
//! with the exit code README promises (2 for usage, 3 for a failed gate, 1 for everything
//! else at run time).

use std::path::{Path, PathBuf};

/// Everything that can stop a command. Messages are complete sentences without a trailing
/// period; they never contain a clear identifier or the hash key.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line, configuration or a named input is wrong: the user must change
    /// what they asked for (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// An input file breaks the input contract of docs/input.md at a known place.
    #[error("{file}: {location}, column {column}: {reason}")]
    BadRow {
        /// Display form of the input file.
        file: String,
        /// `line N` for text formats, `row N` for Parquet.
        location: String,
        /// The input column name (docs/input.md).
        column: String,
        /// Why the value was refused; never contains the value of an identifier column.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The query engine refused or failed a query.
    #[error("{0}")]
    Query(String),
    /// Any other run-time failure, already phrased for the user.
    #[error("{0}")]
    Runtime(String),
    /// The report was written and a gate it was asked for failed (`--fail-on over-usage`,
    /// exit code 3), so a scheduler can tell a bill over its entitlement from a broken run.
    #[error("over-usage: {0}")]
    OverUsage(String),
}

/// The environment variable that sizes the engine's memory pool in MiB. Named here, at the
/// bottom of the layers, because the error that tells users to raise it is here.
pub(crate) const MEMORY_ENV: &str = "SEATCOUNT_MEMORY_MB";

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The process exit code for this error, as the README defines them.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::OverUsage(_) => 3,
            _ => 1,
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A Parquet file at `path` could not be written. The writer's own errors name no file,
    /// so a full disk read "Parquet: External: No space left on device" (BENCHMARKS.md run
    /// Y); the operating system's reason comes out as any other I/O error, with the path.
    pub fn parquet_write(
        path: impl AsRef<Path>,
        e: datafusion::parquet::errors::ParquetError,
    ) -> Self {
        use datafusion::parquet::errors::ParquetError;
        match e {
            ParquetError::External(inner) => match inner.downcast::<std::io::Error>() {
                Ok(source) => Error::io(path, *source),
                Err(other) => Error::Runtime(format!("{}: {other}", path.as_ref().display())),
            },
            other => Error::Runtime(format!("{}: {other}", path.as_ref().display())),
        }
    }
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        // One of ours, raised inside a query (a planner's check): it keeps its kind, and so
        // its exit code.
        if let datafusion::error::DataFusionError::External(inner) = e.find_root()
            && let Some(ours) = inner.downcast_ref::<Error>()
        {
            match ours {
                Error::Usage(text) => return Error::Usage(text.clone()),
                Error::Runtime(text) => return Error::Runtime(text.clone()),
                _ => {}
            }
        }
        Error::Query(clean_datafusion_message(&e))
    }
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Error::Runtime(e.to_string())
    }
}

impl From<datafusion::parquet::errors::ParquetError> for Error {
    fn from(e: datafusion::parquet::errors::ParquetError) -> Self {
        Error::Runtime(format!("Parquet: {e}"))
    }
}

/// DataFusion nests context ("Error during planning: ...", backtraces when enabled) that
/// reads like a debug dump; keep the innermost sentence, on one line.
fn clean_datafusion_message(e: &datafusion::error::DataFusionError) -> String {
    let inner = e.find_root();
    if let datafusion::error::DataFusionError::ResourcesExhausted(_) = inner {
        return format!(
            "the query needs more memory than the engine may use; raise {} (MiB) or free disk space for spilling",
            MEMORY_ENV
        );
    }
    let text = remote_message(&inner.to_string());
    let first = text.as_str();
    // DataFusion's Parquet decoder does not say which file it was reading. Every stored file
    // is checked against its checksum before a query reads it (`check::contents_intact`), so
    // this is a file recorded without one; `verify` lists them.
    // A function failing inside a scan's filter is reported as a Parquet error too.
    if first.contains("Parquet") && !first.contains("evaluating filter") {
        return format!("{first}; a stored events file is damaged: `seatcount verify` names it");
    }
    first.to_string()
}

/// A cluster's error arrives inside gRPC's dump of its status (`Status { code: …, message:
/// "…", … }`), often with the scheduler's own context around it: keep the message's first
/// line. Any other text keeps its first line.
pub(crate) fn remote_message(text: &str) -> String {
    const FIELD: &str = "message: \"";
    let inner = match text.find(FIELD) {
        Some(start) => {
            let rest = &text[start + FIELD.len()..];
            let mut end = rest.len();
            let mut escaped = false;
            for (i, c) in rest.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = i;
                        break;
                    }
                    _ => escaped = false,
                }
            }
            rest[..end].replace("\\n", "\n").replace("\\\"", "\"")
        }
        None => text.to_string(),
    };
    inner.lines().next().unwrap_or_default().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::error::DataFusionError;

    #[test]
    fn only_a_decoding_error_points_at_a_damaged_file() {
        let decode = DataFusionError::Execution("Parquet error: invalid page header".into());
        assert!(Error::from(decode).to_string().contains("seatcount verify"));
        let function = DataFusionError::Execution(
            "Parquet error: External: Compute error: Error evaluating filter predicate: bad input"
                .into(),
        );
        assert!(!Error::from(function).to_string().contains("damaged"));
    }

    #[test]
    fn a_remote_error_is_the_message_inside_the_status() {
        let text = r#"Job failed: Status { code: Internal, message: "Error in task: the \"x\" failed\nat stage 2", metadata: {} }"#;
        assert_eq!(remote_message(text), r#"Error in task: the "x" failed"#);
        assert_eq!(remote_message("plain\nsecond"), "plain");
    }
}
