//! The analyst's REPL: SQL and backslash commands over one session, with completion,
//! history, a row limit and Ctrl-C that cancels the running statement instead of leaving.

pub mod complete;
pub mod meta;

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::ValueEnum;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::scalar::ScalarValue;
use futures::FutureExt;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config as EditorConfig, Editor};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::engine::session::{Session, Sources};
use crate::engine::{self, Access};
use crate::error::{Error, Result};
use crate::reports;
use crate::reports::format::{self, OutputFormat};
use crate::warehouse::commit;
use complete::{ReplHelper, Words};
use meta::Meta;

/// Rows printed per result unless `--max-rows` or `\limit` says otherwise.
pub const DEFAULT_MAX_ROWS: usize = 40;

/// Overrides where the history is kept (default: `<data dir>/seatcount/history`).
pub const HISTORY_ENV: &str = "SEATCOUNT_HISTORY";

const PROMPT: &str = "seatcount> ";

/// What the REPL remembers between lines.
struct Repl {
    session: Session,
    /// `--config`, when given: where the configuration is read again from.
    config_file: Option<PathBuf>,
    format: OutputFormat,
    timing: bool,
    month: Option<String>,
    limit: Option<usize>,
    interrupts: Signal,
}

/// Whether to keep reading.
enum Flow {
    Continue,
    Quit,
}

/// Runs the REPL on the warehouse at `root` until `\q` or Ctrl-D.
pub async fn run(root: &Path, config_file: Option<&Path>, max_rows: usize) -> Result<()> {
    let session = Session::open(root, config_file).await?;
    let words = Words::read(&session.engine).await?;
    let months = session.engine.months().await?;
    let editor_config = EditorConfig::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .max_history_size(10_000)
        .map_err(terminal_error)?
        .build();
    let mut editor: Editor<ReplHelper, FileHistory> =
        Editor::with_config(editor_config).map_err(terminal_error)?;
    editor.set_helper(Some(ReplHelper::new(words)));
    let history = history_path();
    if let Some(path) = &history {
        // A missing or unreadable history only means starting without one.
        let _ = editor.load_history(path);
    }
    let interrupts = signal(SignalKind::interrupt())
        .map_err(|e| Error::Runtime(format!("cannot watch for Ctrl-C: {e}")))?;
    eprintln!(
        "seatcount {} on {} ({}); \\? for help, \\q to quit",
        env!("CARGO_PKG_VERSION"),
        root.display(),
        match (months.first(), months.last()) {
            (Some(first), Some(last)) => format!("events {first} to {last}"),
            _ => "no events yet".to_string(),
        }
    );
    let mut repl = Repl {
        session,
        config_file: config_file.map(Path::to_path_buf),
        format: OutputFormat::Table,
        timing: false,
        month: None,
        limit: (max_rows > 0).then_some(max_rows),
        interrupts,
    };
    loop {
        match tokio::task::block_in_place(|| editor.readline(PROMPT)) {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => {
                let _ = editor.add_history_entry(line.as_str());
                match repl.line(&line).await {
                    Ok(Flow::Quit) => break,
                    Ok(Flow::Continue) => {}
                    Err(e) => eprintln!("error: {e}"),
                }
            }
            Err(ReadlineError::Interrupted) => {}
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(terminal_error(e)),
        }
    }
    commit::tidy_derived(&repl.session.warehouse, &crate::engine::is_derived_table);
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = editor.save_history(path) {
            eprintln!(
                "warning: cannot save the history to {}: {e}",
                path.display()
            );
        }
    }
    Ok(())
}

fn terminal_error(e: ReadlineError) -> Error {
    Error::Runtime(format!("the terminal failed: {e}"))
}

fn history_path() -> Option<PathBuf> {
    match std::env::var_os(HISTORY_ENV) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => dirs::data_dir().map(|d| d.join("seatcount").join("history")),
    }
}

impl Repl {
    async fn line(&mut self, line: &str) -> Result<Flow> {
        if line.trim_start().starts_with('\\') {
            let command = meta::parse(line).map_err(Error::Usage)?;
            return self.meta(command).await;
        }
        let statements = engine::parse(line)?;
        self.refresh().await?;
        for statement in statements {
            let started = Instant::now();
            let _read = commit::read_lock(&self.session.warehouse)?;
            let engine = &self.session.engine;
            if let Some((schema, batches)) = cancellable(&mut self.interrupts, async {
                engine
                    .statement(statement, Access::ReadOnly)
                    .await?
                    .collect()
                    .await
            })
            .await?
            {
                self.show(&schema, &batches, started)?;
            }
        }
        Ok(Flow::Continue)
    }

    async fn meta(&mut self, command: Meta) -> Result<Flow> {
        match command {
            Meta::Help => {
                for (usage, what) in meta::HELP {
                    println!("{usage:<20} {what}");
                }
                println!("{:<20} SQL ends with ; and may span lines", "SELECT …;");
            }
            Meta::Quit => return Ok(Flow::Quit),
            Meta::Describe(None) => {
                self.query(
                    "SELECT table_name AS name, CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END AS kind \
                     FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
                    &[],
                )
                .await?;
            }
            Meta::Describe(Some(name)) => {
                let sql = "SELECT column_name AS column, data_type AS type, is_nullable AS nullable \
                           FROM information_schema.columns \
                           WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position";
                let params = [ScalarValue::Utf8(Some(name.clone()))];
                let (schema, batches) = self
                    .session
                    .engine
                    .query(sql, &params)
                    .await?
                    .collect()
                    .await?;
                if batches.iter().all(|b| b.num_rows() == 0) {
                    return Err(Error::Usage(format!(
                        "there is no table or view named {name:?}; \\d lists them"
                    )));
                }
                self.show(&schema, &batches, Instant::now())?;
            }
            Meta::Reports => {
                print!("{}", reports::listing());
            }
            Meta::Report {
                name,
                month,
                what_if,
            } => {
                let month = month.or_else(|| self.month.clone());
                self.refresh().await?;
                let started = Instant::now();
                let _read = commit::read_lock(&self.session.warehouse)?;
                let session = &self.session;
                let report = reports::find(&name)?;
                let result = if what_if.is_empty() {
                    let asked = reports::Asked {
                        month: month.as_deref(),
                        today: None,
                    };
                    let work = reports::run(session, report, asked);
                    cancellable(&mut self.interrupts, work).await?
                } else {
                    reports::what_if::comparison(report)?;
                    let other = session.what_if(&what_if).await?;
                    let work = async {
                        reports::what_if::run(session, &other, report, month.as_deref())
                            .await?
                            .collect()
                            .await
                    };
                    cancellable(&mut self.interrupts, work).await?
                };
                if let Some((schema, batches)) = result {
                    self.show(&schema, &batches, started)?;
                }
            }
            Meta::Format(format) => {
                let name = format.to_possible_value().expect("every format has a name");
                println!("output format is {}", name.get_name());
                self.format = format;
            }
            Meta::Timing(on) => {
                println!("timing is {}", if on { "on" } else { "off" });
                self.timing = on;
            }
            Meta::Month(month) => {
                println!("reports now default to {month}");
                self.month = Some(month);
            }
            Meta::Limit(limit) => {
                match limit {
                    Some(n) => println!("results are cut at {n} rows"),
                    None => println!("results are not cut"),
                }
                self.limit = limit;
            }
        }
        Ok(Flow::Continue)
    }

    /// Opens the session again when `seatcount.toml`, `entitlements.csv` or `assignments.csv`
    /// changed since it was opened (by an editor, or `seatcount subscriptions` in another
    /// terminal): a long session must not go on billing by what the files said when it
    /// started. If the new files do not load, nothing runs: the error names them.
    async fn refresh(&mut self) -> Result<()> {
        let session = &self.session;
        let sources = Sources::read(&session.warehouse, self.config_file.as_deref())?;
        if sources != session.sources {
            // From the texts just compared, not read again: what runs is what was checked.
            self.session =
                Session::from_sources(session.warehouse.clone(), sources, &session.origins).await?;
            eprintln!("the configuration or the bill changed on disk; the session reloaded them");
        }
        Ok(())
    }

    async fn query(&mut self, sql: &str, params: &[ScalarValue]) -> Result<()> {
        let (schema, batches) = self
            .session
            .engine
            .query(sql, params)
            .await?
            .collect()
            .await?;
        self.show(&schema, &batches, Instant::now())
    }

    /// Prints a result in the chosen format, cut to the row limit with a note.
    fn show(&self, schema: &SchemaRef, batches: &[RecordBatch], started: Instant) -> Result<()> {
        let elapsed = started.elapsed();
        if schema.fields().is_empty() {
            return Ok(());
        }
        let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let shown = match self.limit {
            Some(limit) if total > limit => head(batches, limit),
            _ => batches.to_vec(),
        };
        let mut out = std::io::stdout();
        format::write(&mut out, schema, &shown, self.format)?;
        if let Some(limit) = self.limit.filter(|l| total > *l) {
            writeln!(
                out,
                "({total} rows; the first {limit} shown, \\limit changes this)"
            )
            .map_err(format::output_error)?;
        }
        if self.timing {
            writeln!(out, "Time: {:.3} ms", elapsed.as_secs_f64() * 1e3)
                .map_err(format::output_error)?;
        }
        out.flush().map_err(format::output_error)
    }
}

/// Runs `work` until it ends or Ctrl-C arrives; `None` means it was cancelled (dropping
/// the future stops DataFusion's tasks).
async fn cancellable<T>(
    interrupts: &mut Signal,
    work: impl Future<Output = Result<T>>,
) -> Result<Option<T>> {
    // A Ctrl-C pressed while nothing ran must not cancel what runs next.
    while let Some(Some(())) = interrupts.recv().now_or_never() {}
    tokio::select! {
        result = work => result.map(Some),
        _ = interrupts.recv() => {
            eprintln!("cancelled");
            Ok(None)
        }
    }
}

/// The first `limit` rows of `batches`, without copying them.
fn head(batches: &[RecordBatch], limit: usize) -> Vec<RecordBatch> {
    let mut left = limit;
    let mut out = Vec::new();
    for batch in batches {
        if left == 0 {
            break;
        }
        let take = left.min(batch.num_rows());
        out.push(batch.slice(0, take));
        left -= take;
    }
    out
}
