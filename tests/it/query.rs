//! `seatcount sql`: input forms, output formats, partition pruning, exit codes (README commands).

use crate::common::{Fixture, bare, sample_files};

fn sample() -> Fixture {
    let fx = Fixture::new();
    let files = sample_files();
    fx.ingest(&[&files[0], &files[1]]);
    fx
}

const Q: &str = "SELECT app_id, count(*) AS events, max(event_time) AS last_seen FROM events \
                 WHERE month = '2026-09' GROUP BY app_id ORDER BY app_id";

#[test]
fn every_output_format() {
    let fx = sample();
    let csv = fx
        .cmd()
        .args(["sql", "--format", "csv", Q])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(csv.stdout).unwrap(),
        "app_id,events,last_seen\n\
         expense,6,2026-09-29T09:30:00Z\n\
         field,6,2026-09-30T23:30:00Z\n\
         portal,5,2026-09-22T18:25:00Z\n"
    );
    let json = fx
        .cmd()
        .args(["sql", "--format", "json", Q])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v[1]["app_id"], "field");
    assert_eq!(v[1]["events"], 6);
    let nd = fx
        .cmd()
        .args(["sql", "--format", "ndjson", Q])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(nd.stdout).unwrap().lines().count(), 3);
    let table = fx.cmd().args(["sql", Q]).output().unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("│ expense"), "{table}");
    // Numbers are right-aligned: the count sits against the column's right edge.
    assert!(table.contains("┆      6 ┆"), "{table}");
    assert!(table.contains("2026-09-30T23:30:00Z"), "{table}");

    let path = fx.dir.path().join("out.parquet");
    fx.cmd()
        .args(["sql", "--format", "parquet", "--output"])
        .arg(&path)
        .arg(Q)
        .assert()
        .success()
        .stdout("");
    let file = std::fs::File::open(&path).unwrap();
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024)
            .unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 3);
}

#[test]
fn empty_results_still_have_a_header() {
    let fx = sample();
    let out = fx
        .cmd()
        .args([
            "sql",
            "--format",
            "csv",
            "SELECT app_id FROM events WHERE false",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "app_id\n");
}

#[test]
fn queries_from_a_flag_a_file_and_stdin() {
    let fx = sample();
    let expected = "n\n30\n";
    let out = fx
        .cmd()
        .args([
            "sql",
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n FROM events",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    let file = fx.file(
        "q.sql",
        "-- a comment\nSELECT count(*) AS n\nFROM events;\n",
    );
    let out = fx
        .cmd()
        .args(["sql", "--format", "csv", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    let out = fx
        .cmd()
        .args(["sql", "--format", "csv", "-f", "-"])
        .write_stdin("SELECT count(*) AS n FROM events")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}

#[test]
fn several_statements_print_the_last() {
    let fx = sample();
    let out = fx
        .cmd()
        .args([
            "sql",
            "--format",
            "csv",
            "CREATE VIEW sept AS SELECT * FROM events WHERE month = '2026-09'; SELECT count(*) AS n FROM sept;",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n17\n");
}

/// The `latest` aggregates the accounts grouping of `query` computes, each as the fields of
/// its struct, from the logical plan `EXPLAIN` prints. An aggregate with a `FILTER` is
/// printed twice, as itself and as its name (with spaces after the commas), so each is
/// counted once.
fn latest_structs(fx: &Fixture, query: &str) -> Vec<String> {
    let plan = fx.csv(&["sql", &format!("EXPLAIN {query}")]);
    let grouping = plan
        .lines()
        .find(|l| l.contains("Aggregate: groupBy") && l.contains("latest("))
        .unwrap_or_else(|| panic!("no accounts grouping: {plan}"));
    let structs: std::collections::BTreeSet<String> = grouping
        .split("latest(named_struct(")
        .skip(1)
        .map(|s| s.split(".event_time").next().unwrap_or("").replace(' ', ""))
        .collect();
    structs.into_iter().collect()
}

#[test]
fn the_accounts_grouping_computes_one_latest_per_account_for_what_the_reports_read() {
    // sql/views/20_accounts.sql: the identity fields come from a second aggregate, which the
    // Mendix policy's views never read; the OutSystems policies read everything from it.
    let fx = sample();
    let month = "FROM accounts WHERE month = '2026-09'";
    let mendix = latest_structs(&fx, &format!("SELECT classification {month}"));
    assert_eq!(mendix.len(), 1, "{mendix:?}");
    assert!(!mendix[0].contains("name_key"), "{mendix:?}");
    // An analyst who reads both kinds of column under the Mendix policy computes both.
    let both = latest_structs(&fx, &format!("SELECT classification, name_key {month}"));
    assert_eq!(both.len(), 2, "{both:?}");
    std::fs::write(fx.wh().join("seatcount.toml"), "profile = \"outsystems\"\n").unwrap();
    for query in ["SELECT classification", "SELECT classification, name_key"] {
        let outsystems = latest_structs(&fx, &format!("{query} {month}"));
        assert_eq!(outsystems.len(), 1, "{query}: {outsystems:?}");
        assert!(outsystems[0].contains("name_key"), "{outsystems:?}");
    }
}

#[test]
fn the_accounts_are_one_grouping_of_the_candidates_under_either_counting_basis() {
    // sql/views/20_accounts.sql: under active_records the accounts take the close and the
    // counted attributes in one grouping, with no join back to the events; under logins the
    // filter folds to true and is dropped (src/engine/unfiltered.rs).
    let fx = sample();
    let query = "EXPLAIN SELECT classification, last_event FROM accounts WHERE month = '2026-09'";
    let logins = fx.csv(&["sql", query]);
    assert!(!logins.contains("Join"), "{logins}");
    let grouping = logins
        .lines()
        .find(|l| l.contains("Aggregate: groupBy"))
        .unwrap();
    assert!(
        !grouping.contains("FILTER (WHERE Boolean(true))"),
        "{grouping}"
    );
    std::fs::write(
        fx.wh().join("seatcount.toml"),
        "[counting]\nbasis = \"active_records\"\n",
    )
    .unwrap();
    let records = fx.csv(&["sql", query]);
    assert!(!records.contains("Join"), "{records}");
    let grouping = records
        .lines()
        .find(|l| l.contains("Aggregate: groupBy"))
        .unwrap();
    assert!(grouping.contains(") FILTER (WHERE "), "{grouping}");
}

#[test]
fn a_month_filter_reads_only_that_partition() {
    let fx = sample();
    let out = fx
        .cmd()
        .args([
            "sql",
            "--format",
            "csv",
            "EXPLAIN SELECT count(DISTINCT user_name_hash) FROM events WHERE month = '2026-10'",
        ])
        .output()
        .unwrap();
    let plan = String::from_utf8(out.stdout).unwrap();
    assert!(plan.contains("month=2026-10/"), "{plan}");
    assert!(
        !plan.contains("month=2026-09/"),
        "September is pruned: {plan}"
    );
}

#[test]
fn a_bad_query_is_one_line_and_exit_1() {
    let fx = sample();
    let out = fx
        .cmd()
        .args(["sql", "SELECT nope FROM events"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("seatcount: "), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let fx = sample();
    let out = fx.cmd().args(["sql"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = fx
        .cmd()
        .args(["sql", "--format", "xml", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = fx
        .cmd()
        .args(["sql", "-f", "/no/such.sql"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such.sql"));
}

#[test]
fn a_missing_warehouse_is_one_sentence_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let out = bare()
        .arg("--warehouse")
        .arg(&missing)
        .args(["sql", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("is not a seatcount warehouse"), "{stderr}");
    assert!(!missing.exists(), "a query does not create a warehouse");
    // The environment variable names the warehouse too.
    let out = bare()
        .env("SEATCOUNT_WAREHOUSE", &missing)
        .args(["sql", "SELECT 1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere"));
}

#[test]
fn output_to_a_file_leaves_stdout_empty() {
    let fx = sample();
    let path = fx.dir.path().join("out.csv");
    fx.cmd()
        .args(["sql", "--format", "csv", "-o"])
        .arg(&path)
        .arg("SELECT 1 AS one")
        .assert()
        .success()
        .stdout("");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, "one\n1\n");
}

#[test]
fn a_query_that_fails_leaves_the_output_file_as_it_was() {
    let fx = sample();
    let path = fx.dir.path().join("out.csv");
    std::fs::write(&path, "yesterday's report\n").unwrap();
    // The cast fails while rows are read, after the output was opened.
    let out = fx
        .cmd()
        .args(["sql", "--format", "csv", "-o"])
        .arg(&path)
        .arg("SELECT CAST(app_id AS INT) AS n FROM events")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cast"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "yesterday's report\n"
    );
    let left: Vec<_> = std::fs::read_dir(fx.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("out.csv"))
        .collect();
    assert_eq!(left.len(), 1, "a partial file was left behind: {left:?}");
    // A query that succeeds replaces it.
    fx.cmd()
        .args(["sql", "--format", "csv", "-o"])
        .arg(&path)
        .arg("SELECT 1 AS one")
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\n1\n");
    // A path that is not a regular file (here the test's stdout pipe) is written in place.
    fx.cmd()
        .args([
            "sql",
            "--format",
            "csv",
            "-o",
            "/dev/stdout",
            "SELECT 2 AS two",
        ])
        .assert()
        .success()
        .stdout("two\n2\n");
}

#[test]
fn every_command_that_reads_refuses_a_missing_warehouse() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let out_file = dir.path().join("x.html");
    let out_file = out_file.to_str().unwrap();
    for args in [
        vec!["sql", "SELECT 1"],
        vec!["report", "usage"],
        vec!["repl"],
        vec!["dashboard", "--output", out_file],
        vec!["subscriptions", "list"],
        vec!["quarantine", "list"],
    ] {
        let out = bare()
            .arg("--warehouse")
            .arg(&missing)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("nowhere"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert!(!missing.exists(), "no command above creates a warehouse");
}

#[test]
fn bad_flags_and_no_command_exit_2_with_a_first_line_that_says_why() {
    let fx = sample();
    for args in [
        vec!["--bogus"],
        vec!["report"],
        vec!["report", "usage", "--format", "xml"],
        vec!["report", "usage", "--month", "September"],
        vec!["ingest"],
        vec!["ingest", "x.csv", "--on-error", "ignore"],
        vec!["repl", "--max-rows", "many"],
        vec![
            "subscriptions",
            "add",
            "--type",
            "gold",
            "--quantity",
            "1",
            "--from",
            "2026-01-01",
        ],
        vec!["quarantine", "purge"],
        vec!["frobnicate"],
    ] {
        let out = fx.cmd().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or_default();
        // clap's own errors start "error:", seatcount's "seatcount:".
        assert!(
            first.starts_with("error: ") || first.starts_with("seatcount: "),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // Without a command and without a terminal there is no REPL to start.
    let out = fx.cmd().write_stdin("").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no command given"));
}

#[test]
fn reports_print_in_every_format_and_tables_align_numbers_right() {
    let fx = sample();
    let run = |format: &str| {
        let out = fx
            .cmd()
            .args(["report", "usage", "--month", "2026-09", "--format", format])
            .output()
            .unwrap();
        assert!(out.status.success(), "{format}");
        out.stdout
    };
    let csv = String::from_utf8(run("csv")).unwrap();
    let lines = csv.lines().count() - 1;
    let json: serde_json::Value = serde_json::from_slice(&run("json")).unwrap();
    assert_eq!(json.as_array().unwrap().len(), lines);
    let ndjson = String::from_utf8(run("ndjson")).unwrap();
    assert_eq!(ndjson.lines().count(), lines);
    assert!(run("parquet").starts_with(b"PAR1"));
    let table = String::from_utf8(run("table")).unwrap();
    let row = table
        .lines()
        .find(|l| l.contains("multi_app_internal"))
        .unwrap();
    // Numbers end right against their column's border, text starts at its left.
    let cells: Vec<&str> = row.trim_matches('│').split('┆').collect();
    let over_usage = cells[cells.len() - 1];
    assert!(
        over_usage.starts_with("   ") && over_usage.trim_end().len() + 1 == over_usage.len(),
        "{row}"
    );
    assert!(cells[1].starts_with(" multi_app_internal"), "{row}");
}

#[test]
fn a_report_session_holds_the_costly_views_computed_once() {
    use datafusion::logical_expr::TableType;
    use seatcount::engine::{Access, session::Session, sql::VIEWS};

    let fx = Fixture::with_key_file();
    let files = sample_files();
    fx.ingest(&[&files[0]]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let session = Session::open(&fx.wh(), None).await.unwrap();
        let kind = |engine: &seatcount::engine::Engine, view: &str| {
            let ctx = engine.context().clone();
            let view = view.to_string();
            async move { ctx.table_provider(view).await.unwrap().table_type() }
        };
        // Ad-hoc SQL sees plain views; a report's month-scoped engine, held ones. Both read
        // account_persons from derived state (docs/derived.md), a table.
        let scoped = session.scoped("2026-09").await.unwrap();
        // ... drawing on the session's memory pool, so months run at once share one bound.
        assert!(std::sync::Arc::ptr_eq(
            &session.engine.context().runtime_env().memory_pool,
            &scoped.context().runtime_env().memory_pool
        ));
        let derived: Vec<&str> = VIEWS
            .iter()
            .filter(|v| v.derived.is_some())
            .map(|v| v.name)
            .collect();
        assert_eq!(derived.len(), 5);
        for view in derived {
            // The first month derived has nothing to judge the configuration-free layer by,
            // so it does not keep one (docs/derived.md "Where the layer is kept"): the layer
            // stays a view, held in a report's engine, and nothing reads it.
            let (unscoped, month) = match view {
                "latest_stored" => (TableType::View, TableType::Temporary),
                _ => (TableType::Base, TableType::Base),
            };
            assert_eq!(kind(&session.engine, view).await, unscoped, "{view}");
            assert_eq!(kind(&scoped, view).await, month, "{view}");
        }
        let held: Vec<&str> = VIEWS
            .iter()
            .filter(|v| v.held && v.derived.is_none())
            .map(|v| v.name)
            .collect();
        assert_eq!(held, ["months"]);
        for view in held {
            assert_eq!(kind(&session.engine, view).await, TableType::View, "{view}");
            assert_eq!(kind(&scoped, view).await, TableType::Temporary, "{view}");
        }
        let (_, rows) = scoped
            .script("SELECT count(*) FROM consumption", Access::Write)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
    });
}

/// DataFusion's settings can be tuned through `DATAFUSION_*` variables without changing a
/// result; a value that does not fit is one line naming the variable, exit 2.
#[test]
fn datafusion_settings_come_from_the_environment() {
    let fx = Fixture::sample();
    let args = ["report", "history"];
    let usual = fx.csv(&args);
    let mut tuned = fx.cmd();
    tuned
        .env("DATAFUSION_EXECUTION_TARGET_PARTITIONS", "1")
        .env("DATAFUSION_EXECUTION_BATCH_SIZE", "3");
    assert_eq!(crate::common::csv(tuned, &args), usual);

    let out = fx
        .cmd()
        .env("DATAFUSION_EXECUTION_BATCH_SIZE", "many")
        .args(args)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("DATAFUSION_EXECUTION_BATCH_SIZE"), "{err}");
}

/// Queries get half of the memory the process may use unless `SEATCOUNT_MEMORY_MB` says
/// otherwise (read back through DataFusion's own setting); a value that is not a whole number
/// of MiB is one line naming the variable, exit 2, for ingest as for queries.
#[test]
fn the_memory_pool_is_half_the_machine_unless_set() {
    let fx = Fixture::sample();
    let q = "SELECT value FROM information_schema.df_settings \
             WHERE name = 'datafusion.runtime.memory_limit'";
    let limit = |mb: Option<&str>| {
        let mut cmd = fx.cmd();
        if let Some(mb) = mb {
            cmd.env("SEATCOUNT_MEMORY_MB", mb);
        }
        crate::common::csv(cmd, &["sql", q])
    };
    assert_eq!(limit(Some("1536")), "value\n1G\n");
    assert_eq!(limit(Some("700")), "value\n700M\n");
    if let Some(bytes) = memory_this_process_may_use() {
        let half_gib = bytes / 2 / (1 << 30);
        assert_eq!(limit(None), format!("value\n{half_gib}G\n"));
    }

    let raw = crate::common::sample_files();
    for args in [
        vec!["sql", "SELECT 1"],
        vec!["ingest", raw[0].to_str().unwrap()],
    ] {
        let out = fx
            .cmd()
            .env("SEATCOUNT_MEMORY_MB", "4G")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("SEATCOUNT_MEMORY_MB: '4G'"), "{err}");
    }
    // Refused before anything is written: no warehouse appears.
    let fresh = fx.dir.path().join("fresh");
    let out = bare()
        .arg("--warehouse")
        .arg(&fresh)
        .env("SEATCOUNT_MEMORY_MB", "0")
        .arg("ingest")
        .arg(&raw[0])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!fresh.exists());
}

/// MemTotal, or the control group's limit when lower, read from the kernel's files; `None`
/// where they are absent (not Linux), or when the machine is small enough for the floor.
fn memory_this_process_may_use() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let mut bytes = kib * 1024;
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ];
    for limit in cgroup
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
    {
        if let Ok(limit) = limit.trim().parse::<u64>() {
            bytes = bytes.min(limit);
        }
    }
    (bytes >= 4 << 30).then_some(bytes)
}

/// The views a report holds take at most an eighth of the memory pool; past it their rows go to
/// spill files and are read back from there, with the same report. A 32 MiB pool leaves them
/// 4 MiB, and this portfolio's 24k accounts, at four 64-digit hashes each, take more (traced
/// by hand: this run opens spill files that the same run before held views spilled did not).
///
/// Derived state is off: the views are computed, not read from their kept files.
#[test]
fn held_views_past_their_share_of_the_pool_spill_and_give_the_same_report() {
    let fx = spilling_portfolio();
    for report in ["usage", "named-users"] {
        let usual = fx.csv(&["report", report]);
        let mut small = fx.cmd();
        small
            .env("SEATCOUNT_MEMORY_MB", "32")
            .env("SEATCOUNT_DERIVED", "off");
        assert_eq!(
            crate::common::csv(small, &["report", report]),
            usual,
            "{report}"
        );
    }
    // Out of memory after spilling: a clear error, and no spill file left behind.
    let scratch = tempfile::tempdir().unwrap();
    let out = fx
        .cmd()
        .env("SEATCOUNT_MEMORY_MB", "2")
        .env("SEATCOUNT_DERIVED", "off")
        .env("TMPDIR", scratch.path())
        .args(["report", "usage"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs more memory"));
    let left = crate::common::files_under(scratch.path());
    assert!(left.is_empty(), "spill files left in TMPDIR: {left:?}");
}

/// A month's account grouping hands its groups on early when the pool is full. It grouped by
/// `scope_environment`, a literal '' under the default `dedup.scope`; DataFusion took the
/// constant column for a sort order, planned the grouping as partially sorted, and a partial
/// aggregate over input it takes for sorted cannot emit early: `usage` of a 2M-event month
/// failed with "needs more memory" below a 512 MiB pool, and ran 2.6 times slower
/// (BENCHMARKS.md run T). Which pool fails depends on how two partitions race, so this checks
/// the plan.
#[test]
fn a_months_account_grouping_is_not_planned_as_sorted() {
    let fx = sample();
    let mut cmd = fx.cmd();
    cmd.env("SEATCOUNT_DERIVED", "off");
    let plan =
        crate::common::csv(cmd, &["sql", "EXPLAIN SELECT * FROM usage"]).replace("\\n", "\n");
    let groupings: Vec<&str> = plan
        .lines()
        .filter(|l| l.contains("AggregateExec") && l.contains("scope_environment"))
        .collect();
    assert!(!groupings.is_empty(), "{plan}");
    for grouping in groupings {
        assert!(!grouping.contains("PartiallySorted"), "{grouping}");
    }
}

/// One month of 20,000 people in 8 apps: enough rows that a pool of a few dozen MiB must spill.
fn spilling_portfolio() -> Fixture {
    let fx = Fixture::new();
    let raw = fx.dir.path().join("raw.parquet");
    let generated = crate::common::generate(&[
        "--users",
        "20000",
        "--apps",
        "8",
        "--months",
        "1",
        "--events",
        "60000",
        "--out",
        raw.to_str().unwrap(),
    ]);
    assert!(generated.status.success(), "{generated:?}");
    fx.ingest(&[&raw]);
    fx
}

/// Aggregates hand out their groups as slices of one large batch, and an operator holding a
/// slice is charged for the whole batch; the engine copies such slices before a sort or a join
/// holds them (`engine::compact`). With 64-character hashes, `users` with 256-row batches ran
/// out of a 32 MiB pool without the copy and needed 64 MiB. With 16-byte hashes the slices
/// are small enough that this portfolio no longer tells the two apart, so the test checks
/// where the copy goes and that `users` is unchanged under a small pool. It runs on one
/// partition: with two, the sort of one partition can take the pool's last MiB before the
/// other reserves its merge buffer, and `users` failed about one run in ten (DataFusion's
/// external sort reserves that buffer per partition). Derived state is off, so `users` is
/// computed under the small pool rather than read from the first run's files.
#[test]
fn aggregate_output_is_charged_for_its_rows_not_the_batch_it_was_cut_from() {
    let fx = spilling_portfolio();
    let plan = fx.csv(&[
        "sql",
        "EXPLAIN SELECT app_id, count(*) FROM events GROUP BY app_id ORDER BY app_id",
    ]);
    assert!(plan.contains("CompactExec"), "{plan}");
    // A sort with a limit keeps only its best rows: nothing to copy.
    let top = fx.csv(&[
        "sql",
        "EXPLAIN SELECT app_id, count(*) FROM events GROUP BY app_id ORDER BY app_id LIMIT 3",
    ]);
    assert!(!top.contains("CompactExec"), "{top}");
    let usual = fx.csv(&["report", "users"]);
    let mut small = fx.cmd();
    small
        .env("SEATCOUNT_MEMORY_MB", "32")
        .env("SEATCOUNT_DERIVED", "off")
        .env("DATAFUSION_EXECUTION_TARGET_PARTITIONS", "1")
        .env("DATAFUSION_EXECUTION_BATCH_SIZE", "256");
    assert_eq!(crate::common::csv(small, &["report", "users"]), usual);
}

#[test]
fn sql_only_reads_and_writes_nothing() {
    // The attack: `COPY ... TO` and `CREATE EXTERNAL TABLE` ran under the readers' lock, and
    // a failed COPY truncated its target. Each is refused before it runs, exit 2, and the
    // target is untouched; a result is written with --output instead.
    let fx = sample();
    let target = fx.file("precious.csv", "keep me\n");
    let forged = fx.wh().join("events/month=2026-10/forged.parquet");
    for statement in [
        format!(
            "COPY (SELECT 1 AS x) TO '{}' STORED AS CSV",
            target.display()
        ),
        format!(
            "COPY (SELECT * FROM events) TO '{}' STORED AS PARQUET",
            forged.display()
        ),
        format!(
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{}'",
            target.display()
        ),
        "INSERT INTO events SELECT * FROM events".to_string(),
        format!("SELECT 1; COPY (SELECT 1) TO '{}'", target.display()),
    ] {
        let out = fx.cmd().args(["sql", &statement]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{statement}: {err}");
        assert!(err.contains("only reads"), "{statement}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
    assert!(!forged.exists());
    // Reading still works, SET and views held in the session's memory included.
    assert_eq!(
        fx.csv(&["sql", "SET datafusion.execution.batch_size = 1024; CREATE TABLE t AS SELECT * FROM events; SELECT count(*) AS n FROM t"]),
        "n\n30\n"
    );
}

#[test]
fn a_warehouse_the_reader_cannot_write_is_still_read() {
    // The attack: every query opened _seatcount/commit.lock for writing, so a read-only
    // mount or an auditor's copy could not be read at all. As root (CI), the copy is made
    // readable by all and the binary runs as `nobody`; as anyone else, the copy loses its
    // write bits. Either way nothing in it can be written, and the reports still run.
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let fx = Fixture::sample();
    let before = fx.csv(&["report", "usage"]);
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("audit");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(fx.wh())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    // No lock file: the reader may not create one either.
    let _ = std::fs::remove_file(copy.join("_seatcount/commit.lock"));
    let root = unsafe { libc::geteuid() } == 0;
    let mode = if root { "a+rX" } else { "a-w" };
    let chmod = std::process::Command::new("chmod")
        .args(["-R", mode])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(chmod.success());
    let bin = dir.path().join("seatcount");
    std::fs::copy(assert_cmd::cargo::cargo_bin!("seatcount"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = std::process::Command::new(&bin);
    cmd.arg("--warehouse")
        .arg(&copy)
        .args(["report", "usage", "--format", "csv"])
        .env("SEATCOUNT_HASH_KEY", crate::common::TEST_KEY)
        .env("TMPDIR", std::env::temp_dir());
    if root {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    if !root {
        let _ = std::process::Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(dir.path())
            .status();
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), before);
    assert!(!copy.join("_seatcount/commit.lock").exists());
}
