//! Shared fixtures: a throw-away warehouse and helpers to run the binary against it.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// A documented test key (32 bytes of 0x42); tests that need a known key use it.
pub const TEST_KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

/// How many cases a fuzzing property runs: `default` in CI, `SEATCOUNT_FUZZ_CASES` for the
/// long runs the README documents.
pub fn fuzz_cases(default: u32) -> u32 {
    std::env::var("SEATCOUNT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The repository root, where `data/raw` lives.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped raw sample files.
pub fn sample_files() -> Vec<PathBuf> {
    vec![
        repo().join("data/raw/logins-2026-09.csv"),
        repo().join("data/raw/logins-2026-10.ndjson"),
    ]
}

/// A temporary directory holding a warehouse (`wh/`) and input files.
pub struct Fixture {
    pub dir: TempDir,
    key: Option<String>,
}

impl Fixture {
    /// A fixture whose commands hash under [`TEST_KEY`] from the environment.
    pub fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().expect("temp dir"),
            key: Some(TEST_KEY.into()),
        }
    }

    /// A warehouse holding `rows` (CSV lines under [`PORTFOLIO_HEAD`]), with `toml` as
    /// seatcount.toml and `subs` as the body of entitlements.csv: the small hand-derived
    /// portfolios of the report tests.
    pub fn portfolio(rows: &[&str], toml: &str, subs: &[&str]) -> Self {
        let fx = Fixture::new();
        let input = fx.file(
            "events.csv",
            &format!("{PORTFOLIO_HEAD}\n{}\n", rows.join("\n")),
        );
        fx.ingest(&[&input]);
        fx.configure(toml, subs);
        fx
    }

    /// A fixture whose warehouse creates and uses its own key file.
    pub fn with_key_file() -> Self {
        Fixture {
            dir: tempfile::tempdir().expect("temp dir"),
            key: None,
        }
    }

    /// A fixture holding the shipped sample: its raw files ingested, its configuration and
    /// subscriptions copied.
    pub fn sample() -> Self {
        let fx = Fixture::new();
        let files = sample_files();
        fx.ingest(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
        for name in ["seatcount.toml", "entitlements.csv", "assignments.csv"] {
            std::fs::copy(repo().join("data/warehouse").join(name), fx.wh().join(name))
                .expect("copy sample configuration");
        }
        fx
    }

    /// The warehouse directory.
    pub fn wh(&self) -> PathBuf {
        self.dir.path().join("wh")
    }

    /// Writes an input file next to the warehouse and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write input");
        path
    }

    /// `seatcount --warehouse <wh>` with a clean environment.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// [`Fixture::cmd`] as a plain process, for running several at once.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = bare_std();
        cmd.arg("--warehouse").arg(self.wh());
        if let Some(key) = &self.key {
            cmd.env("SEATCOUNT_HASH_KEY", key);
        }
        cmd
    }

    /// Ingests `files`, asserting success; returns stdout.
    pub fn ingest(&self, files: &[&Path]) -> String {
        let out = self.cmd().arg("ingest").args(files).output().expect("run");
        assert!(
            out.status.success(),
            "ingest failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// `seatcount ARGS --format csv` on this warehouse, asserting success; returns stdout.
    pub fn csv(&self, args: &[&str]) -> String {
        csv(self.cmd(), args)
    }

    /// Runs `sql` and returns the rows as JSON objects.
    pub fn rows(&self, sql: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
        let out = self
            .cmd()
            .args(["sql", "--format", "ndjson", sql])
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "query failed: {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect()
    }

    /// The single value of a one-row, one-column query, as text (`null` for NULL).
    pub fn value(&self, sql: &str) -> String {
        let rows = self.rows(sql);
        assert_eq!(rows.len(), 1, "{sql} returned {} rows", rows.len());
        let v = rows[0]
            .values()
            .next()
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        match v {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }
    }

    /// Writes the warehouse's `seatcount.toml` and its `entitlements.csv` of `subs`.
    pub fn configure(&self, toml: &str, subs: &[&str]) {
        std::fs::write(self.wh().join("seatcount.toml"), toml).unwrap();
        std::fs::write(self.wh().join("entitlements.csv"), entitlements(subs)).unwrap();
    }

    /// A report of one month as CSV text.
    pub fn report(&self, name: &str, month: &str) -> String {
        self.csv(&["report", name, "--month", month])
    }

    /// A late event for the sample's October: a new person's login in `field`, whose pack
    /// then has 4 users on its 3 seats (one over). Returns the file to ingest.
    pub fn late_october_newcomer(&self) -> PathBuf {
        self.file(
            "late.csv",
            &format!(
                "{HEADER}\nlate-1,2026-10-30T09:00:00Z,field,field-prod,production,newcomer,,,,,,\n"
            ),
        )
    }

    /// Every file under the warehouse, relative, sorted.
    pub fn files(&self) -> Vec<String> {
        files_under(&self.wh())
    }
}

/// Every file under `root`, relative, sorted.
pub fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

/// Runs `cmd ARGS --format csv`, asserting success; returns stdout.
pub fn csv(mut cmd: Command, args: &[&str]) -> String {
    let out = cmd
        .args(args)
        .args(["--format", "csv"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Runs `seatcount generate` with `args`.
pub fn generate(args: &[&str]) -> std::process::Output {
    bare().arg("generate").args(args).output().unwrap()
}

/// `seatcount` with no seatcount variables inherited from the caller's environment.
pub fn bare() -> Command {
    Command::from_std(bare_std())
}

pub fn bare_std() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("seatcount"));
    for var in [
        "SEATCOUNT_WAREHOUSE",
        "SEATCOUNT_HASH_KEY",
        "SEATCOUNT_MEMORY_MB",
        "SEATCOUNT_DERIVED",
        "SEATCOUNT_CRASH_AT",
    ] {
        cmd.env_remove(var);
    }
    // DataFusion's own settings (DATAFUSION_*) would tune every session the tests run.
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("DATAFUSION_") {
            cmd.env_remove(var);
        }
    }
    cmd
}

/// An `entitlements.csv` of `rows`, under the header the warehouse defines.
pub fn entitlements(rows: &[&str]) -> String {
    let header = seatcount::warehouse::entitlements::COLUMNS.join(",");
    format!("{header}\n{}\n", rows.join("\n"))
}

/// Columns of [`Fixture::portfolio`]'s rows.
pub const PORTFOLIO_HEAD: &str = "event_id,event_time,app_id,environment_id,environment_type,user_provider,tenant,user_name,named_user_identifier,email,user_type,roles,active,anonymous";

/// CSV header of the tests' hand-written events: the clear input columns of docs/input.md
/// that decide a count, in the order the tests' rows give them.
pub const HEADER: &str = "event_id,event_time,app_id,environment_id,environment_type,user_name,named_user_identifier,email,user_type,roles,active,anonymous";

/// The header names only input columns, as the generator writes them: a renamed column would
/// otherwise leave the tests' events silently without it.
#[test]
fn the_test_header_names_input_columns() {
    let written = seatcount::generate::schema();
    for name in HEADER.split(',') {
        assert!(written.field_with_name(name).is_ok(), "{name}");
    }
}
