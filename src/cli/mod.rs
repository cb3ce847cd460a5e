//! The command line (SPEC §7): flags, dispatch, and where output goes. Commands are thin:
//! each opens what it needs and hands the work to ingest, engine or print.

pub mod print;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::engine::{Engine, udf::UdfSettings};
use crate::error::{Error, Result};
use crate::ingest::{self, OnError};
use crate::reports;
use crate::warehouse::entitlements::{self, SubscriptionType};
use crate::warehouse::key::HashAlgorithm;
use crate::warehouse::{DEFAULT_WAREHOUSE, WAREHOUSE_ENV, Warehouse, commit};
use print::OutputFormat;

/// Meters the named end users of a low-code app portfolio from login events.
#[derive(Debug, Parser)]
#[command(name = "seatcount", version, about, max_term_width = 100)]
pub struct Cli {
    /// The warehouse directory [env: SEATCOUNT_WAREHOUSE; default: data/warehouse]
    #[arg(long, global = true, value_name = "DIR")]
    pub warehouse: Option<PathBuf>,
    /// Configuration file [default: <warehouse>/seatcount.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an empty warehouse (ingest creates one too).
    Init {
        /// How identifiers are hashed; sha256 (unkeyed) only for sources that already hash that way.
        #[arg(long, value_enum, default_value = "hmac-sha256")]
        hash: HashArg,
    },
    /// Ingest raw login events (CSV, NDJSON, Parquet) into the warehouse.
    Ingest {
        /// Input files; the format follows the extension.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Fail on the first bad row (default) or quarantine bad rows and keep the good ones.
        #[arg(long, value_enum, default_value = "fail")]
        on_error: OnError,
    },
    /// Run SQL against the warehouse.
    Sql {
        /// The query (or use -c / -f).
        #[arg(value_name = "QUERY", conflicts_with_all = ["command", "file"])]
        query: Option<String>,
        /// The query.
        #[arg(
            short = 'c',
            long = "command",
            value_name = "QUERY",
            conflicts_with = "file"
        )]
        command: Option<String>,
        /// Read the query from FILE (`-` for standard input).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Run a canned report (see `seatcount reports`).
    Report {
        /// The report's name.
        #[arg(value_name = "NAME")]
        name: String,
        /// The month (YYYY-MM); default: the latest month with data.
        #[arg(long, value_name = "YYYY-MM")]
        month: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List the canned reports.
    Reports,
    /// List, add or assign subscriptions (entitlements.csv).
    Subscriptions {
        #[command(subcommand)]
        action: SubscriptionAction,
    },
    /// Inspect or purge quarantined rows (they hold clear identifiers).
    Quarantine {
        #[command(subcommand)]
        action: QuarantineAction,
    },
}

/// `seatcount subscriptions` actions.
#[derive(Debug, Subcommand)]
pub enum SubscriptionAction {
    /// Print the subscriptions.
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Add a subscription.
    Add {
        /// What it entitles.
        #[arg(long = "type", value_enum)]
        kind: SubscriptionType,
        /// How many users.
        #[arg(long)]
        quantity: u32,
        /// First valid day (YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        from: chrono::NaiveDate,
        /// Last valid day (YYYY-MM-DD); default: open-ended.
        #[arg(long, value_name = "DATE")]
        to: Option<chrono::NaiveDate>,
        /// The app a single_app_internal pack is assigned to.
        #[arg(long, value_name = "APP_ID")]
        app: Option<String>,
        /// Its id; default: the next free `sub-N`.
        #[arg(long)]
        id: Option<String>,
    },
    /// Assign a single_app_internal subscription to an app.
    Assign {
        /// The subscription's id.
        id: String,
        /// The app's app_id.
        app: String,
    },
}

/// `seatcount quarantine` actions.
#[derive(Debug, Subcommand)]
pub enum QuarantineAction {
    /// List quarantine files with their row counts.
    List,
    /// Delete quarantine files: the named ones, or all with --all.
    Purge {
        /// File names as listed.
        #[arg(value_name = "NAME", required_unless_present = "all")]
        names: Vec<String>,
        /// Delete every quarantine file.
        #[arg(long)]
        all: bool,
    },
}

/// `--hash` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum HashArg {
    /// Keyed HMAC-SHA256 (default).
    HmacSha256,
    /// Plain SHA-256, reversible by dictionary for e-mail addresses.
    Sha256,
}

/// Where and how results are written.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// Write to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

impl Cli {
    /// The warehouse directory after flags, environment and default.
    pub fn warehouse_dir(&self) -> PathBuf {
        self.warehouse
            .clone()
            .or_else(|| {
                std::env::var_os(WAREHOUSE_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(DEFAULT_WAREHOUSE))
    }

    fn load_config(&self, root: &Path) -> Result<Config> {
        match &self.config {
            Some(path) => Config::load(path, true),
            None => Config::load(&root.join("seatcount.toml"), false),
        }
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    let root = cli.warehouse_dir();
    match &cli.command {
        Command::Init { hash } => {
            let algorithm = match hash {
                HashArg::HmacSha256 => HashAlgorithm::HmacSha256,
                HashArg::Sha256 => HashAlgorithm::Sha256,
            };
            let wh = Warehouse::open_or_create(&root, algorithm)?;
            if wh.metadata().hash != algorithm {
                return Err(Error::Usage(format!(
                    "{} already exists with a different hash algorithm",
                    root.display()
                )));
            }
            println!("warehouse ready at {}", root.display());
            Ok(())
        }
        Command::Ingest { files, on_error } => {
            let config = cli.load_config(&root)?;
            let mut warn = |m: String| eprintln!("warning: {m}");
            let summary = ingest::ingest(
                &root,
                files,
                *on_error,
                HashAlgorithm::HmacSha256,
                &config,
                &mut warn,
            )
            .await?;
            print_summary(&summary);
            Ok(())
        }
        Command::Sql {
            query,
            command,
            file,
            output,
        } => {
            let text = match (query, command, file) {
                (Some(q), _, _) | (_, Some(q), _) => q.clone(),
                (_, _, Some(f)) => read_query_file(f)?,
                _ => {
                    return Err(Error::Usage(
                        "sql needs a query: seatcount sql 'SELECT …', -c QUERY or -f FILE".into(),
                    ));
                }
            };
            let (wh, _config, engine) = open_with_semantics(&cli, &root).await?;
            let _read = commit::read_lock(&wh)?;
            let (schema, batches) = engine.run_script(&text).await?;
            emit(output, &schema, &batches)
        }
        Command::Report {
            name,
            month,
            output,
        } => {
            let report = reports::find(name)?;
            let (wh, config, engine) = open_with_semantics(&cli, &root).await?;
            let _read = commit::read_lock(&wh)?;
            let (schema, batches) =
                reports::run(&engine, &config, report, month.as_deref()).await?;
            emit(output, &schema, &batches)
        }
        Command::Reports => {
            for report in reports::all() {
                println!("{:<12} {}", report.name, report.summary());
            }
            Ok(())
        }
        Command::Subscriptions { action } => subscriptions(&root, action),
        Command::Quarantine { action } => quarantine(&root, action),
    }
}

/// A session over `wh` configured by `config`.
pub async fn open_engine(wh: &Warehouse, config: &Config) -> Result<Engine> {
    let settings = UdfSettings {
        case: config.identifiers.case,
        internal_domains: config.classification.internal_domains.clone(),
        key: wh.key()?,
    };
    Engine::open(wh, &settings).await
}

/// Opens the warehouse, its configuration and a session with the metering views installed.
async fn open_with_semantics(cli: &Cli, root: &Path) -> Result<(Warehouse, Config, Engine)> {
    let wh = Warehouse::open(root)?;
    let config = cli.load_config(root)?;
    let subscriptions = entitlements::load(&wh)?;
    let engine = open_engine(&wh, &config).await?;
    engine.install_semantics(&config, &subscriptions).await?;
    Ok((wh, config, engine))
}

fn subscriptions(root: &Path, action: &SubscriptionAction) -> Result<()> {
    let wh = Warehouse::open(root)?;
    match action {
        SubscriptionAction::List { output } => {
            let subs = entitlements::load(&wh)?;
            let batch = entitlements::to_batch(&subs)?;
            emit(output, &batch.schema(), &[batch])
        }
        SubscriptionAction::Add {
            kind,
            quantity,
            from,
            to,
            app,
            id,
        } => {
            let mut added = String::new();
            entitlements::update(&wh, |subs| {
                let id = match id {
                    Some(id) => id.clone(),
                    None => (1..)
                        .map(|n| format!("sub-{n}"))
                        .find(|c| !subs.iter().any(|s| &s.id == c))
                        .expect("a free id"),
                };
                let sub = entitlements::Subscription {
                    id: id.clone(),
                    kind: *kind,
                    quantity: i64::from(*quantity),
                    valid_from: *from,
                    valid_to: *to,
                    app_id: app.clone(),
                };
                entitlements::check(&sub, subs)
                    .map_err(|(column, reason)| Error::Usage(format!("{column}: {reason}")))?;
                subs.push(sub);
                added = id;
                Ok(())
            })?;
            println!("added subscription {added}");
            Ok(())
        }
        SubscriptionAction::Assign { id, app } => {
            entitlements::update(&wh, |subs| {
                let sub = subs
                    .iter_mut()
                    .find(|s| &s.id == id)
                    .ok_or_else(|| Error::Usage(format!("there is no subscription {id}")))?;
                if sub.kind != SubscriptionType::SingleAppInternal {
                    return Err(Error::Usage(format!(
                        "{id} is a {} subscription; only single_app_internal subscriptions are assigned to an app",
                        sub.kind.as_str()
                    )));
                }
                sub.app_id = Some(app.clone());
                Ok(())
            })?;
            println!("assigned {id} to {app}");
            Ok(())
        }
    }
}

fn read_query_file(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::io("standard input", e))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Usage(format!("{}: no such file", path.display())),
        _ => Error::io(path, e),
    })
}

/// Prints a result where `output` says.
pub fn emit(
    output: &OutputArgs,
    schema: &datafusion::arrow::datatypes::SchemaRef,
    batches: &[datafusion::arrow::array::RecordBatch],
) -> Result<()> {
    match &output.output {
        Some(path) => {
            let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
            print::write(&mut file, schema, batches, output.format)?;
            file.flush().map_err(|e| Error::io(path, e))
        }
        None => {
            if output.format == OutputFormat::Parquet && std::io::stdout().is_terminal() {
                return Err(Error::Usage(
                    "Parquet output is binary: give --output FILE or pipe it".into(),
                ));
            }
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            print::write(&mut lock, schema, batches, output.format)?;
            lock.flush()
                .map_err(|e| Error::Runtime(format!("cannot write the output: {e}")))
        }
    }
}

fn print_summary(s: &ingest::Summary) {
    let mut line = format!(
        "ingested {} file{}: {} rows read, {} stored",
        s.files_read,
        if s.files_read == 1 { "" } else { "s" },
        s.rows_read,
        s.rows_stored
    );
    if !s.months.is_empty() {
        line.push_str(&format!(" in {}", s.months.join(", ")));
    }
    line.push_str(&format!(
        ", {} duplicate events dropped, {} quarantined",
        s.rows_duplicate, s.rows_quarantined
    ));
    if let Some(q) = &s.quarantine_file {
        line.push_str(&format!(" to {}", q.display()));
    }
    println!("{line}");
    for f in &s.files_skipped {
        println!("skipped {f}: already ingested");
    }
}

fn quarantine(root: &Path, action: &QuarantineAction) -> Result<()> {
    let wh = Warehouse::open(root)?;
    let dir = wh.quarantine_dir();
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".ndjson"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    names.sort();
    match action {
        QuarantineAction::List => {
            for name in &names {
                let path = dir.join(name);
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                println!("{name}\t{} rows", text.lines().count());
            }
            Ok(())
        }
        QuarantineAction::Purge { names: wanted, all } => {
            let targets: Vec<String> = if *all { names } else { wanted.clone() };
            for name in &targets {
                if name.contains('/') || !names_contains(&dir, name) {
                    return Err(Error::Usage(format!("{name}: no such quarantine file")));
                }
            }
            for name in &targets {
                let path = dir.join(name);
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                println!("purged {name}");
            }
            Ok(())
        }
    }
}

fn names_contains(dir: &Path, name: &str) -> bool {
    dir.join(name).is_file()
}
