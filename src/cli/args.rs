//! The command line's shape: every command, flag and default, as clap sees them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::repl::DEFAULT_MAX_ROWS;
use crate::config::Override;
use crate::generate::FileFormat;
use crate::ingest::OnError;
use crate::reports::format::OutputFormat;
use crate::warehouse::entitlements::SubscriptionType;
use crate::warehouse::{DEFAULT_WAREHOUSE, WAREHOUSE_ENV};

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
    /// Run the queries on a Ballista cluster, given its scheduler (docs/cluster.md); for sql,
    /// report, repl, dashboard, close and runs.
    #[cfg(feature = "cluster")]
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub cluster: Option<String>,
    /// What to do; with none, the REPL starts when standard input is a terminal.
    #[command(subcommand)]
    pub command: Option<Command>,
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
        /// Input files, the format following the extension; a directory means the event
        /// files in it, in name order.
        #[arg(required = true, value_name = "FILE|DIR")]
        files: Vec<PathBuf>,
        /// Fail on the first bad row (default) or quarantine bad rows and keep the good ones.
        #[arg(long, value_enum, default_value = "fail")]
        on_error: OnError,
        /// Let this ingest change months that `seatcount close` closed.
        #[arg(long)]
        reopen: bool,
    },
    /// Close a month: save its reports and what made them, and refuse later ingests that
    /// would change it (unless `ingest --reopen`).
    Close {
        /// The month (YYYY-MM).
        #[arg(value_name = "YYYY-MM")]
        month: String,
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
        /// The day the subscriptions report takes as today (YYYY-MM-DD); default: today (UTC).
        #[arg(long, value_name = "DATE")]
        today: Option<chrono::NaiveDate>,
        /// Also run the report with this seatcount.toml key changed, and print the two side
        /// by side (usage, history, users); repeatable. An empty VALUE gives the key its
        /// profile's default.
        #[arg(long = "what-if", value_name = "KEY=VALUE")]
        what_if: Vec<Override>,
        /// Keep the run as evidence: its output and everything it was computed from
        /// (`seatcount runs`).
        #[arg(long)]
        save: bool,
        #[command(flatten)]
        gates: GateArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List, show, compare and verify saved runs (`report --save`, `close`).
    Runs {
        #[command(subcommand)]
        action: RunsAction,
    },
    /// List the canned reports.
    Reports,
    /// Change the warehouse's hash key: refused, with the reason and what to do instead.
    RotateKey,
    /// Read every events file and compare it with the checksum its commit recorded.
    Verify {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// List the events files a lost manifest would be rebuilt from; `--yes` records them.
    RepairManifest {
        /// Trust the listed files: write them as the manifest.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Write a synthetic portfolio of raw login events (clear identifiers) for ingest.
    Generate {
        /// People in the portfolio.
        #[arg(long, default_value_t = 1_000)]
        users: u64,
        /// Apps in the portfolio.
        #[arg(long, default_value_t = 20)]
        apps: u64,
        /// Months of events.
        #[arg(long, default_value_t = 3)]
        months: u32,
        /// Events in all [default: 4 per user per month].
        #[arg(long, conflicts_with = "events_per_account")]
        events: Option<u64>,
        /// Events per account (person and app) per month, on average, instead of --events;
        /// real login logs have about 20.
        #[arg(long, value_name = "N")]
        events_per_account: Option<f64>,
        /// The most apps one person uses [default: 1 to 3, one person in twenty up to 14].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        apps_per_person: Option<u64>,
        /// Percent of people in more than one app [default: with --apps-per-person, 67].
        #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u64).range(0..=100))]
        multi_app_percent: Option<u64>,
        /// The first month (YYYY-MM).
        #[arg(long, default_value = "2026-01", value_name = "YYYY-MM")]
        start: String,
        /// Equal seeds give equal files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A .parquet or .csv file, or a directory for one file per month.
        #[arg(long, value_name = "FILE|DIR")]
        out: PathBuf,
        /// The format of per-month files when --out is a directory.
        #[arg(long, value_enum, default_value = "parquet")]
        format: FileFormat,
    },
    /// Interactive SQL with completion, history and meta-commands (`\?` for help).
    Repl {
        /// Print at most this many rows of a result (`\limit` changes it).
        #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_ROWS)]
        max_rows: usize,
    },
    /// Write a self-contained HTML page of the bill: cards, trend chart, apps, hygiene.
    Dashboard {
        /// Where to write the page.
        #[arg(long, short = 'o', value_name = "FILE", default_value = "usage.html")]
        output: PathBuf,
    },
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
    /// Run a Ballista scheduler that knows seatcount's functions (docs/cluster.md).
    #[cfg(feature = "cluster")]
    Scheduler {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        bind: String,
        /// Seconds without a heartbeat before an executor is taken for dead and its tasks
        /// run elsewhere.
        #[arg(long, default_value_t = 60, value_name = "SECONDS")]
        executor_timeout: u64,
    },
    /// Run a Ballista executor with seatcount's functions; it reads the warehouse at the path
    /// the client gives, so every executor must see it there (docs/cluster.md).
    #[cfg(feature = "cluster")]
    Executor {
        /// The scheduler to join.
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
        scheduler: String,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
        bind: String,
        /// The host name the other machines reach this one at [default: --bind].
        #[arg(long, value_name = "HOST")]
        advertise: Option<String>,
        /// The port results are fetched from (Arrow Flight).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// The port the scheduler sends tasks to.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks run at once [default: every core].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        cores: Option<u64>,
        /// The memory pool its tasks share, in MiB [default: Ballista's share of the machine].
        #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u64).range(1..))]
        memory: Option<u64>,
        /// Where intermediate results are written [default: a temporary directory].
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Seconds between heartbeats to the scheduler.
        #[arg(long, default_value_t = 10, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        heartbeat: u64,
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
        /// What one user costs for one month (the cost report), such as 12.50.
        #[arg(long, value_name = "PRICE", requires = "currency")]
        unit_price: Option<String>,
        /// The price's currency (three capitals, such as EUR).
        #[arg(long, value_name = "CODE", requires = "unit_price")]
        currency: Option<String>,
    },
    /// Assign a single_app_internal subscription to an app from a date (assignments.csv).
    Assign {
        /// The subscription's id.
        id: String,
        /// The app's app_id.
        app: String,
        /// The first day the pack serves the app (YYYY-MM-DD); default: today (UTC).
        #[arg(long, value_name = "DATE")]
        from: Option<chrono::NaiveDate>,
    },
}

/// `seatcount runs` actions.
#[derive(Debug, Subcommand)]
pub enum RunsAction {
    /// Every saved run, oldest first.
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// A run's output as it was saved (stdout), and what it was computed from (stderr).
    Show {
        /// The run's id, as listed.
        id: String,
    },
    /// What differs between two runs of one report: inputs, then rows.
    Diff {
        /// The earlier run.
        before: String,
        /// The later run.
        after: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Recompute a run from what it recorded and compare the bytes.
    Verify {
        /// The run's id, as listed.
        id: String,
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

/// Gates for schedulers (usage, history, cost).
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// Exit with code 3, after writing the report, when a row is over its entitlement.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub fail_on: Option<FailOn>,
    /// Print a line on stderr for each row at or above PERCENT of its entitlement.
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(1..))]
    pub warn_at: Option<u32>,
}

/// `--fail-on` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Any row whose consumption exceeds its entitlement.
    OverUsage,
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
}
