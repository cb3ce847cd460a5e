//! Derived state (docs/derived.md): a month's `account_persons` kept under
//! `_seatcount/derived/`. Whatever happened to the warehouse, its configuration or the kept
//! files, every report read from derived state equals the same report computed from the
//! events with it turned off (`SEATCOUNT_DERIVED=off`).

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use crate::common::{Fixture, HEADER, entitlements, fuzz_cases};

const MONTHS: [&str; 3] = ["2026-01", "2026-02", "2026-03"];

/// `seatcount ARGS --format csv`, with derived state on or off; the exit status and both
/// streams, so a failure compares too.
fn run(fx: &Fixture, derived: bool, args: &[&str]) -> (bool, String, String) {
    run_with(fx, derived, "auto", args)
}

/// [`run`] with the configuration-free layer kept as `layer` says (`SEATCOUNT_LAYER`).
///
/// The run from derived state also groups each month's accounts a few dozen input rows at a
/// time (`SEATCOUNT_BUCKET_ROWS`, src/engine/bucketed.rs), so a small portfolio is split into
/// many ranges; the run from scratch groups them whole, the plain reading of the SQL.
fn run_with(fx: &Fixture, derived: bool, layer: &str, args: &[&str]) -> (bool, String, String) {
    let out = fx
        .cmd()
        .env("SEATCOUNT_DERIVED", if derived { "on" } else { "off" })
        .env("SEATCOUNT_LAYER", layer)
        .env("SEATCOUNT_BUCKET_ROWS", if derived { "40" } else { "0" })
        .args(args)
        .args(["--format", "csv"])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Runs `args` from derived state and from scratch, asserts they agree, returns the output.
fn same_both_ways(fx: &Fixture, args: &[&str]) -> String {
    same_both_ways_with(fx, "auto", args)
}

/// [`same_both_ways`], the derived run keeping the layer as `layer` says.
fn same_both_ways_with(fx: &Fixture, layer: &str, args: &[&str]) -> String {
    let derived = run_with(fx, true, layer, args);
    let scratch = run(fx, false, args);
    assert_eq!(derived.0, scratch.0, "{args:?}: {derived:?} / {scratch:?}");
    assert_eq!(derived.1, scratch.1, "{args:?}");
    derived.1
}

/// The derived `account_owners` files of `month` (its accounts), by name.
fn derived_files(fx: &Fixture, month: &str) -> Vec<PathBuf> {
    view_files(fx, "account_owners", month)
}

/// The derived files of `view` for `month`, by name.
fn view_files(fx: &Fixture, view: &str, month: &str) -> Vec<PathBuf> {
    let dir = fx
        .wh()
        .join("_seatcount/derived")
        .join(view)
        .join(format!("month={month}"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "parquet"));
    files.sort();
    files
}

/// The columns of `view` as `sql` reads it in October (from its derived file, for a derived
/// view).
fn columns_of(fx: &Fixture, view: &str) -> Vec<String> {
    let query = format!("SELECT * FROM {view} WHERE month = '2026-10' LIMIT 1");
    let (ok, out, err) = run(fx, true, &["sql", &query]);
    assert!(ok, "{err}");
    out.lines()
        .next()
        .unwrap()
        .split(',')
        .map(String::from)
        .collect()
}

/// A generated three-month portfolio, one raw file per month.
fn portfolio(fx: &Fixture, seed: u64) -> Vec<PathBuf> {
    let out = fx.dir.path().join(format!("raw-{seed}"));
    fx.cmd()
        .args(["generate", "--users", "300", "--apps", "4", "--months", "3"])
        .args(["--start", "2026-01", "--seed", &seed.to_string(), "--out"])
        .arg(&out)
        .assert()
        .success();
    MONTHS
        .iter()
        .map(|m| out.join(format!("events-{m}.parquet")))
        .collect()
}

/// The configurations the steps switch between: one per key the derived views read, every
/// `dedup.policy` (each a branch of `sql/views/30_account_owners.sql`) and the environment
/// scope among them.
const CONFIGS: [&str; 9] = [
    "",
    "[identifiers]\ncase = \"insensitive\"\n",
    "[dedup]\npolicy = \"username_or_email\"\n",
    "[dedup]\npolicy = \"account\"\n",
    "[dedup]\nscope = \"environment\"\n",
    "[counting]\nbasis = \"active_records\"\n",
    "[waterfall]\nmixed = \"both\"\n",
    "[classification]\nrules = [\"domains\"]\ninternal_domains = [\"example.com\"]\n",
    "profile = \"outsystems\"\n",
];

const SUBSCRIPTIONS: [&[&str]; 2] = [
    &[
        "ext,external,50,2026-01-01,,",
        "multi,multi_app_internal,100,2026-01-01,,",
        "pack,single_app_internal,20,2026-01-01,,app-0001",
    ],
    &[
        "ext,external,10,2026-02-01,,",
        "pack,single_app_internal,40,2026-01-01,2026-02-28,app-0002",
        "pack2,single_app_internal,5,2026-01-01,,app-0000",
    ],
];

/// One change to the warehouse or what it is read with.
#[derive(Debug, Clone)]
enum Step {
    /// Ingests the portfolio's month `0..3` (again: a no-op).
    Ingest(usize),
    /// Ingests one late event into a month, by a user who may already be there.
    Late { month: usize, user: u8, app: u8 },
    /// Replaces `seatcount.toml` with [`CONFIGS`]`[i]`.
    Config(usize),
    /// Replaces `entitlements.csv` with [`SUBSCRIPTIONS`]`[i]`.
    Entitlements(usize),
    /// Moves pack `pack` to app `app` from the first of a month.
    Assign { month: usize, app: u8 },
    /// Keeps the configuration-free layer as [`LAYERS`]`[i]` says from now on.
    Layer(usize),
}

/// The settings of `SEATCOUNT_LAYER`: months that do and do not keep the layer are compared
/// alike, whichever way the generated portfolio's shape decides under `auto`.
const LAYERS: [&str; 3] = ["auto", "on", "off"];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize).prop_map(Step::Ingest),
        (0..3usize, 0..5u8, 0..4u8).prop_map(|(month, user, app)| Step::Late { month, user, app }),
        (0..CONFIGS.len()).prop_map(Step::Config),
        (0..SUBSCRIPTIONS.len()).prop_map(Step::Entitlements),
        (0..3usize, 0..4u8).prop_map(|(month, app)| Step::Assign { month, app }),
        (0..LAYERS.len()).prop_map(Step::Layer),
    ]
}

fn apply(fx: &Fixture, raw: &[PathBuf], n: usize, step: &Step) {
    let wh = fx.wh();
    match step {
        Step::Ingest(month) => {
            fx.ingest(&[&raw[*month]]);
        }
        Step::Late { month, user, app } => {
            let row = format!(
                "late-{n},{}-20T12:00:00Z,app-000{app},prod-{app},production,user{user}@example.com,,,,,,",
                MONTHS[*month]
            );
            let file = fx.file(&format!("late-{n}.csv"), &format!("{HEADER}\n{row}\n"));
            fx.ingest(&[&file]);
        }
        Step::Config(i) => std::fs::write(wh.join("seatcount.toml"), CONFIGS[*i]).unwrap(),
        Step::Entitlements(i) => {
            std::fs::write(wh.join("entitlements.csv"), entitlements(SUBSCRIPTIONS[*i])).unwrap();
            let _ = std::fs::remove_file(wh.join("assignments.csv"));
        }
        Step::Assign { month, app } => {
            let text = format!(
                "subscription_id,app_id,assigned_from\npack,app-000{app},{}-01\n",
                MONTHS[*month]
            );
            std::fs::write(wh.join("assignments.csv"), text).unwrap();
        }
        // The runs' environment, which `compare` is given.
        Step::Layer(_) => {}
    }
}

/// The reports compared after every step: every month's usage, and one month's people and
/// hygiene findings, which read the derived persons and the events side by side.
fn compare(fx: &Fixture, layer: &str) {
    let same_both_ways = |fx: &Fixture, args: &[&str]| same_both_ways_with(fx, layer, args);
    same_both_ways(fx, &["report", "history"]);
    let events = fx.wh().join("events");
    if let Some(month) = MONTHS
        .iter()
        .rev()
        .find(|m| events.join(format!("month={m}")).exists())
    {
        for report in [
            "users",
            "hygiene",
            "named-users",
            "environments",
            "providers",
        ] {
            same_both_ways(fx, &["report", report, "--month", month]);
        }
    }
    same_both_ways(fx, &["report", "cost"]);
}

/// A report's result is kept per month (docs/derived.md "Reports"): the second run reads it,
/// and a conflicting version sent later (which changes only the month's `conflicts`, not its
/// events) is never answered from the kept result of before.
#[test]
fn a_kept_report_is_read_again_and_never_outlives_a_conflict() {
    let fx = Fixture::sample();
    let hygiene = same_both_ways(&fx, &["report", "hygiene", "--month", "2026-10"]);
    let kept = view_files(&fx, "report-hygiene", "2026-10");
    assert_eq!(kept.len(), 1, "{kept:?}");
    let stamp = std::fs::metadata(&kept[0]).unwrap().modified().unwrap();
    assert_eq!(
        same_both_ways(&fx, &["report", "hygiene", "--month", "2026-10"]),
        hygiene
    );
    assert_eq!(
        std::fs::metadata(&kept[0]).unwrap().modified().unwrap(),
        stamp
    );
    assert!(hygiene.contains("event_id_conflicts,0,"), "{hygiene}");
    // ev-0101 again, an hour later and from another user: the first version still counts,
    // this one goes to `conflicts`.
    let late = fx.file(
        "conflict.csv",
        &format!(
            "{}\nev-0101,2026-10-01T09:01:00Z,expense,expense-prod,production,mallory,,,,,,\n",
            crate::common::HEADER
        ),
    );
    fx.ingest(&[&late]);
    let after = same_both_ways(&fx, &["report", "hygiene", "--month", "2026-10"]);
    assert!(after.contains("event_id_conflicts,1,"), "{after}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(3), ..ProptestConfig::default() })]

    /// Random sequences of ingests, late events, configuration and entitlement edits and pack
    /// moves: after each, every report read from derived state is the report computed from
    /// the events.
    #[test]
    fn derived_reports_equal_reports_from_the_events(
        seed in 1..1000u64,
        steps in prop::collection::vec(step(), 2..6),
    ) {
        let fx = Fixture::new();
        let raw = portfolio(&fx, seed);
        fx.ingest(&[&raw[0]]);
        std::fs::write(fx.wh().join("entitlements.csv"), entitlements(SUBSCRIPTIONS[0])).unwrap();
        let mut layer = LAYERS[0];
        compare(&fx, layer);
        for (n, s) in steps.iter().enumerate() {
            apply(&fx, &raw, n, s);
            if let Step::Layer(i) = s {
                layer = LAYERS[*i];
            }
            compare(&fx, layer);
        }
    }
}

/// The sample month with one derived file written, and its output; the layer kept.
fn derived_sample() -> (Fixture, String, PathBuf) {
    let fx = Fixture::sample();
    let usage = same_both_ways_with(&fx, "on", &["report", "usage"]);
    let files = derived_files(&fx, "2026-10");
    assert_eq!(files.len(), 1, "{files:?}");
    (fx, usage, files[0].clone())
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_file_is_reused_until_what_it_was_computed_from_changes() {
    let (fx, usage, first) = derived_sample();
    let written = modified(&first);
    // Read again: the same file, not rewritten.
    assert_eq!(same_both_ways_with(&fx, "on", &["report", "usage"]), usage);
    assert_eq!(derived_files(&fx, "2026-10"), std::slice::from_ref(&first));
    assert_eq!(modified(&first), written);
    // A change the derived views never see (the waterfall) keeps the file.
    let toml = std::fs::read_to_string(fx.wh().join("seatcount.toml")).unwrap();
    std::fs::write(
        fx.wh().join("seatcount.toml"),
        format!("{toml}\n[waterfall]\nmixed = \"multi_app\"\n"),
    )
    .unwrap();
    same_both_ways_with(&fx, "on", &["report", "usage"]);
    assert_eq!(derived_files(&fx, "2026-10"), std::slice::from_ref(&first));
    // The subscriptions are read after account_persons: an edit keeps its file, and files the
    // bill's views under new keys.
    assert_eq!(view_files(&fx, "usage", "2026-10").len(), 2);
    let first_usage = view_files(&fx, "usage", "2026-10")
        .into_iter()
        .min_by_key(|p| modified(p))
        .unwrap();
    let subscriptions = std::fs::read_to_string(fx.wh().join("entitlements.csv")).unwrap();
    std::fs::write(
        fx.wh().join("entitlements.csv"),
        subscriptions.replace(",5,", ",6,"),
    )
    .unwrap();
    assert_ne!(same_both_ways_with(&fx, "on", &["report", "usage"]), usage);
    assert_eq!(derived_files(&fx, "2026-10"), std::slice::from_ref(&first));
    assert_eq!(view_files(&fx, "person_apps", "2026-10").len(), 1);
    // (`waterfall.mixed` is read by consumption, after waterfall_persons.)
    assert_eq!(view_files(&fx, "waterfall_persons", "2026-10").len(), 2);
    // A third usage file: two are kept, the latest ones, so the first went.
    let usage_files = view_files(&fx, "usage", "2026-10");
    assert_eq!(usage_files.len(), 2);
    assert!(!usage_files.contains(&first_usage), "{usage_files:?}");
    std::fs::write(fx.wh().join("entitlements.csv"), &subscriptions).unwrap();
    // One they do see (the identifier case) is filed under another key; going back reads the
    // first file again without rewriting it.
    std::fs::write(
        fx.wh().join("seatcount.toml"),
        format!("{toml}\n[identifiers]\ncase = \"insensitive\"\n"),
    )
    .unwrap();
    same_both_ways_with(&fx, "on", &["report", "usage"]);
    assert_eq!(derived_files(&fx, "2026-10").len(), 2);
    // ...computed from the configuration-free layer, which no configuration changes.
    let layer = view_files(&fx, "latest_stored", "2026-10");
    assert_eq!(layer.len(), 1, "{layer:?}");
    assert!(
        modified(&layer[0]) <= written,
        "rewritten after the first report"
    );
    std::fs::write(fx.wh().join("seatcount.toml"), &toml).unwrap();
    assert_eq!(same_both_ways_with(&fx, "on", &["report", "usage"]), usage);
    assert_eq!(derived_files(&fx, "2026-10").len(), 2);
    assert_eq!(modified(&first), written);
}

#[test]
fn a_stale_file_is_never_read() {
    let (fx, usage, first) = derived_sample();
    let kept = fx.dir.path().join("kept.parquet");
    std::fs::copy(&first, &kept).unwrap();
    // A late event for the month: the commit deletes the month's derived state...
    let late = fx.late_october_newcomer();
    fx.ingest(&[&late]);
    assert!(derived_files(&fx, "2026-10").is_empty());
    // ...and had it survived (a crash between the commit and the clean-up), its key no longer
    // matches the month's events, so it is not read: the report counts the newcomer.
    std::fs::create_dir_all(first.parent().unwrap()).unwrap();
    std::fs::copy(&kept, &first).unwrap();
    let after = same_both_ways(&fx, &["report", "usage"]);
    assert_ne!(after, usage);
    let files = derived_files(&fx, "2026-10");
    assert_eq!(files.len(), 2);
    assert!(files.contains(&first));
}

#[test]
fn a_damaged_file_is_detected_and_computed_again() {
    let (fx, usage, first) = derived_sample();
    // Same size, same name, other bytes: a flipped bit in the middle of the file.
    let mut bytes = std::fs::read(&first).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&first, &bytes).unwrap();
    let (ok, out, err) = run(&fx, true, &["report", "usage"]);
    assert!(ok, "{err}");
    assert_eq!(out, usage);
    assert!(err.contains("damaged derived state"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Written again, and read without complaint.
    assert_eq!(derived_files(&fx, "2026-10").len(), 1);
    let (ok, out, err) = run(&fx, true, &["report", "usage"]);
    assert!(ok && err.is_empty(), "{err}");
    assert_eq!(out, usage);
}

#[test]
fn a_crash_while_writing_leaves_no_derived_file_and_the_next_report_is_right() {
    let fx = Fixture::sample();
    let usage = run(&fx, false, &["report", "usage"]).1;
    let out = fx
        .cmd()
        .env("SEATCOUNT_CRASH_AT", "derived-written")
        .env("SEATCOUNT_LAYER", "on")
        .args(["report", "usage"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // The whole file was written, but under its hidden temporary name, which nothing reads.
    // (The first derived file a report writes is the configuration-free layer's.)
    assert!(view_files(&fx, "latest_stored", "2026-10").is_empty());
    assert!(derived_files(&fx, "2026-10").is_empty());
    let dir = fx
        .wh()
        .join("_seatcount/derived/latest_stored/month=2026-10");
    let hidden = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(hidden, 1);
    assert_eq!(same_both_ways_with(&fx, "on", &["report", "usage"]), usage);
    assert_eq!(view_files(&fx, "latest_stored", "2026-10").len(), 1);
    assert_eq!(derived_files(&fx, "2026-10").len(), 1);
    // The month's next commit clears what the crash left.
    let late = fx.late_october_newcomer();
    fx.ingest(&[&late]);
    assert!(!dir.exists());
}

/// `report usage` with `var` set to `value`: refused as a usage error (exit 2); its message.
fn refusal(fx: &Fixture, var: &str, value: &str) -> String {
    let out = fx
        .cmd()
        .env(var, value)
        .args(["report", "usage"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{var}={value}: {out:?}");
    assert!(out.stdout.is_empty(), "{var}={value}: {out:?}");
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

#[test]
fn a_bad_switch_value_is_a_usage_error() {
    let fx = Fixture::sample();
    let err = refusal(&fx, "SEATCOUNT_DERIVED", "maybe");
    assert!(err.contains("SEATCOUNT_DERIVED"), "{err}");
    assert_eq!(
        refusal(&fx, "SEATCOUNT_LAYER", "sometimes"),
        "seatcount: SEATCOUNT_LAYER: 'sometimes' is not auto, on or off"
    );
    assert_eq!(
        refusal(&fx, "SEATCOUNT_BUCKET_ROWS", "many"),
        "seatcount: SEATCOUNT_BUCKET_ROWS: 'many' is not a number of rows"
    );
}

/// A month's accounts grouped a range of identifier hashes at a time (src/engine/bucketed.rs)
/// are the accounts grouped whole, however finely the month is cut: one range, a few, and
/// all 256 buckets apart, for every report that reads the accounts.
#[test]
fn accounts_grouped_by_range_are_the_accounts_grouped_whole() {
    let fx = Fixture::new();
    let raw = portfolio(&fx, 7);
    fx.ingest(&raw.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    let reports: &[&[&str]] = &[
        &["report", "users", "--month", "2026-02"],
        &["report", "hygiene", "--month", "2026-02"],
        &["report", "named-users", "--month", "2026-02"],
        &["report", "history"],
    ];
    for args in reports {
        let outputs: Vec<_> = ["0", "1", "25", "100000"]
            .iter()
            .map(|rows| {
                let out = fx
                    .cmd()
                    .env("SEATCOUNT_DERIVED", "off")
                    .env("SEATCOUNT_BUCKET_ROWS", rows)
                    .args(*args)
                    .args(["--format", "csv"])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{args:?} {rows}: {out:?}");
                String::from_utf8(out.stdout).unwrap()
            })
            .collect();
        assert!(outputs[0].lines().count() > 2, "{args:?}: {}", outputs[0]);
        for (i, other) in outputs.iter().enumerate().skip(1) {
            assert_eq!(other, &outputs[0], "{args:?}, setting {i}");
        }
    }
}

/// A three-month portfolio of 300 people in four apps, of the shape `shape` (arguments of
/// `generate`) gives, ingested.
fn shaped(fx: &Fixture, shape: &[&str]) {
    let out = fx.dir.path().join("shaped");
    fx.cmd()
        .args(["generate", "--users", "300", "--apps", "4", "--months", "3"])
        .args(shape)
        .args(["--start", "2026-01", "--seed", "7", "--out"])
        .arg(&out)
        .assert()
        .success();
    let raw: Vec<PathBuf> = MONTHS
        .iter()
        .map(|m| out.join(format!("events-{m}.parquet")))
        .collect();
    fx.ingest(&raw.iter().map(PathBuf::as_path).collect::<Vec<_>>());
}

/// Where people log in about once a month the layer would hold nearly every event: a month's
/// accounts outnumber half its events, so no month writes one and the accounts are computed
/// from the events (docs/derived.md "Where the layer is kept"). Every report stays what it is
/// from scratch, and the files are shared by every setting.
#[test]
fn a_layer_about_as_large_as_its_events_is_never_written() {
    let fx = Fixture::new();
    // About one event a person a month: 0.6 accounts an event.
    shaped(&fx, &["--events", "900"]);
    same_both_ways(&fx, &["report", "history"]);
    for month in MONTHS {
        assert!(
            view_files(&fx, "latest_stored", month).is_empty(),
            "{month}"
        );
        assert_eq!(derived_files(&fx, month).len(), 1, "{month}");
    }
    // Ad-hoc SQL over every month reads the events where no layer is, and writes none.
    for query in [
        "SELECT month, count(*) AS n, count(DISTINCT person_key) AS p FROM person_environments GROUP BY month ORDER BY month",
        "SELECT month, count(*) AS n FROM latest_stored GROUP BY month ORDER BY month",
        "SELECT * FROM usage ORDER BY month, step, subscription_type, app_id",
    ] {
        same_both_ways(&fx, &["sql", query]);
    }
    assert!(view_files(&fx, "latest_stored", "2026-03").is_empty());
    // A configuration change computes the accounts again, from the events.
    std::fs::write(
        fx.wh().join("seatcount.toml"),
        "[identifiers]\ncase = \"insensitive\"\n",
    )
    .unwrap();
    same_both_ways(&fx, &["report", "history"]);
    assert!(view_files(&fx, "latest_stored", "2026-02").is_empty());
    assert_eq!(derived_files(&fx, "2026-02").len(), 2);
    // `on` writes the layer, from ad-hoc SQL too (every month's, which the session's
    // `account_events` reads), and reads the accounts already kept: the rows are the same.
    same_both_ways_with(
        &fx,
        "on",
        &[
            "sql",
            "SELECT month, count(*) AS n FROM person_environments GROUP BY month ORDER BY month",
        ],
    );
    for month in MONTHS {
        assert_eq!(view_files(&fx, "latest_stored", month).len(), 1, "{month}");
    }
    same_both_ways_with(&fx, "on", &["report", "history"]);
    for month in MONTHS {
        assert_eq!(view_files(&fx, "latest_stored", month).len(), 1, "{month}");
        assert_eq!(derived_files(&fx, month).len(), 2, "{month}");
    }
}

/// Where accounts log in twenty times a month, as real login logs do, the layer holds a
/// small part of the events. The first month derived has nothing to judge by and computes
/// from the events; its accounts show the layer pays, so the others keep one, and so does the
/// first once a configuration change needs its accounts again.
#[test]
fn a_layer_much_smaller_than_its_events_is_kept() {
    let fx = Fixture::new();
    shaped(&fx, &["--events-per-account", "20"]);
    same_both_ways(&fx, &["report", "usage", "--month", "2026-01"]);
    assert!(view_files(&fx, "latest_stored", "2026-01").is_empty());
    same_both_ways(&fx, &["report", "history"]);
    for month in ["2026-02", "2026-03"] {
        assert_eq!(view_files(&fx, "latest_stored", month).len(), 1, "{month}");
    }
    // A damaged layer is said once, written again, and the report is right.
    let layer = view_files(&fx, "latest_stored", "2026-02").remove(0);
    let mut bytes = std::fs::read(&layer).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&layer, &bytes).unwrap();
    let args = ["report", "usage", "--month", "2026-02"];
    let (ok, out, err) = run(&fx, true, &args);
    assert!(ok, "{err}");
    assert_eq!(out, run(&fx, false, &args).1);
    assert_eq!(err.matches("damaged derived state").count(), 1, "{err}");
    let (ok, _, err) = run(&fx, true, &args);
    assert!(ok && err.is_empty(), "{err}");
    std::fs::write(
        fx.wh().join("seatcount.toml"),
        "[identifiers]\ncase = \"insensitive\"\n",
    )
    .unwrap();
    same_both_ways(&fx, &["report", "history"]);
    assert_eq!(view_files(&fx, "latest_stored", "2026-01").len(), 1);
    // `off` reads the events, and the accounts already kept.
    same_both_ways_with(&fx, "off", &["report", "history"]);
    for month in MONTHS {
        assert_eq!(derived_files(&fx, month).len(), 2, "{month}");
    }
}

/// A derived table this build no longer reads (here, the accounts as layout 6 kept them, under
/// `account_persons`) is removed by the next command's tidy, so an upgrade does not leave a
/// warehouse's old derived state on disk for ever; the current tables stay.
#[test]
fn a_derived_table_this_build_does_not_read_is_tidied_away() {
    let fx = Fixture::sample();
    same_both_ways(&fx, &["report", "usage"]);
    let old = fx
        .wh()
        .join("_seatcount/derived/account_persons/month=2026-10");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("0.1.parquet"), "from an older build").unwrap();
    same_both_ways(&fx, &["report", "usage"]);
    assert!(!old.parent().unwrap().exists());
    assert_eq!(derived_files(&fx, "2026-10").len(), 1);
    assert_eq!(view_files(&fx, "report-usage", "2026-10").len(), 1);
}

/// Under `dedup.policy = identifier` a person is the account's identifier key, so the kept
/// accounts leave the person's hash empty rather than store the key twice; every reader
/// still gets the person from the key. Other policies keep the hash they computed. Under
/// either, the kept accounts leave out what only the merging of accounts into persons reads
/// (the user name, e-mail hash and e-mail domain), which `accounts` still gives.
#[test]
fn the_kept_accounts_hold_no_person_hash_that_repeats_the_identifier() {
    let fx = Fixture::sample();
    let kept = "SELECT count(*) AS accounts, count(person_hash) AS hashes FROM account_owners";
    let merged_only = ["name_key", "email_hash", "email_domain"];
    let persons = "SELECT count(*) AS accounts, count(person_id) AS persons, \
                   count(*) FILTER (WHERE person_id = left(encode(identifier_key, 'hex'), 32)) \
                   AS identifiers FROM account_persons";
    let users = same_both_ways(&fx, &["report", "users", "--month", "2026-10"]);
    assert!(users.lines().count() > 2, "{users}");
    let (ok, out, err) = run(&fx, true, &["sql", kept]);
    assert!(ok, "{err}");
    let accounts: u64 = out
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(accounts > 0, "{out}");
    assert_eq!(out.lines().nth(1), Some(format!("{accounts},0").as_str()));
    let (ok, out, err) = run(&fx, true, &["sql", persons]);
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().nth(1),
        Some(format!("{accounts},{accounts},{accounts}").as_str())
    );
    let toml = std::fs::read_to_string(fx.wh().join("seatcount.toml")).unwrap();
    std::fs::write(
        fx.wh().join("seatcount.toml"),
        format!("{toml}\n[dedup]\npolicy = \"username_or_email\"\n"),
    )
    .unwrap();
    same_both_ways(&fx, &["report", "users", "--month", "2026-10"]);
    let (ok, out, err) = run(&fx, true, &["sql", kept]);
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().nth(1),
        Some(format!("{accounts},{accounts}").as_str())
    );
    let (kept, all) = (
        columns_of(&fx, "account_owners"),
        columns_of(&fx, "accounts"),
    );
    for column in merged_only {
        assert!(
            !kept.contains(&column.to_string()),
            "{column} kept: {kept:?}"
        );
        assert!(
            all.contains(&column.to_string()),
            "{column} not in accounts: {all:?}"
        );
    }
}

/// A month keeps the waterfall's persons with their hash, not its hex (a third of the file);
/// `final_persons` gives every reader the `person_id` of the person's accounts, under the
/// identifier key (16 bytes) and under a policy's SHA-256 (32). The person's key is kept only
/// where the hash alone does not give it, under `dedup.scope = "environment"`.
#[test]
fn the_kept_waterfall_holds_the_persons_hash_and_final_persons_gives_its_id() {
    let fx = Fixture::sample();
    let ids = "SELECT count(*) AS persons, \
               count(*) FILTER (WHERE f.person_id = a.person_id) AS same_id, \
               min(arrow_typeof(w.person_hash)) AS kept_as \
               FROM final_persons f \
               JOIN (SELECT month, person_key, max(person_id) AS person_id FROM account_persons \
                     GROUP BY month, person_key) a \
                 ON a.month = f.month AND a.person_key = f.person_key \
               JOIN waterfall_persons w \
                 ON w.month = f.month AND left(encode(w.person_hash, 'hex'), 32) = f.person_id";
    let kept_keys =
        "SELECT count(person_key), count(*) FROM waterfall_persons WHERE month = '2026-10'";
    let toml = std::fs::read_to_string(fx.wh().join("seatcount.toml")).unwrap();
    for policy in [
        "policy = \"identifier\"",
        "policy = \"username_or_email\"",
        "scope = \"environment\"",
    ] {
        std::fs::write(
            fx.wh().join("seatcount.toml"),
            format!("{toml}\n[dedup]\n{policy}\n"),
        )
        .unwrap();
        let users = same_both_ways(&fx, &["report", "users", "--month", "2026-10"]);
        assert!(users.lines().count() > 2, "{users}");
        let header = columns_of(&fx, "waterfall_persons");
        assert!(
            header.contains(&"person_hash".into()),
            "{policy}: {header:?}"
        );
        assert!(
            !header.contains(&"person_id".into()),
            "{policy}: {header:?}"
        );
        let (ok, out, err) = run(&fx, true, &["sql", ids]);
        assert!(ok, "{err}");
        let row: Vec<&str> = out.lines().nth(1).unwrap().split(',').collect();
        let persons: u64 = row[0].parse().unwrap();
        assert!(persons > 0, "{policy}: {out}");
        assert_eq!(row[1], row[0], "{policy}: {out}");
        assert!(row[2].contains("Binary"), "{policy}: {out}");
        let (ok, out, err) = run(&fx, true, &["sql", kept_keys]);
        assert!(ok, "{err}");
        let row: Vec<u64> = out
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(row[1] > 0, "{policy}: {out}");
        match policy.starts_with("scope") {
            true => assert_eq!(row[0], row[1], "{policy}: every person's key is kept"),
            false => assert_eq!(row[0], 0, "{policy}: the key is the hash's, not kept"),
        }
    }
}

#[test]
fn ad_hoc_sql_reads_the_derived_files_of_the_months_it_needs() {
    let fx = Fixture::sample();
    // A month filter derives and reads that month only, and EXPLAIN names its file: usage
    // itself is derived, from the month's derived account_persons.
    let (ok, plan, err) = run(
        &fx,
        true,
        &["sql", "EXPLAIN SELECT * FROM usage WHERE month = '2026-09'"],
    );
    assert!(ok, "{err}");
    assert!(plan.contains("derived/usage/month=2026-09/"), "{plan}");
    assert!(!plan.contains("month=2026-10/"), "{plan}");
    assert_eq!(derived_files(&fx, "2026-09").len(), 1);
    assert!(derived_files(&fx, "2026-10").is_empty());
    // So does a list of months, which DataFusion rewrites into ORs, and ORs of conditions
    // that each name a month.
    for filter in [
        "month IN ('2026-09', '2026-08')",
        "(month = '2026-09' AND app_id <> '') OR month = '2026-07'",
    ] {
        let query = format!("EXPLAIN SELECT * FROM usage WHERE {filter}");
        let (ok, plan, err) = run(&fx, true, &["sql", &query]);
        assert!(ok, "{err}");
        assert!(plan.contains("derived/usage/month=2026-09/"), "{plan}");
        assert!(!plan.contains("month=2026-10/"), "{filter}: {plan}");
        assert!(derived_files(&fx, "2026-10").is_empty(), "{filter}");
    }
    // A filter that only names months is the scan's to apply: no filter is left above it
    // (one there would make the month a constant, and the grouping would never skip its
    // partial step). Where several name months, the rows are in all of them.
    let persons = "SELECT count(*) FROM persons WHERE month = '2026-09'";
    let (ok, plan, err) = run(&fx, true, &["sql", &format!("EXPLAIN {persons}")]);
    assert!(ok, "{err}");
    assert!(!plan.contains("FilterExec"), "{plan}");
    assert!(plan.contains("account_owners/month=2026-09/"), "{plan}");
    let both = "SELECT month, count(*) AS persons FROM persons \
                WHERE month IN ('2026-09', '2026-10') AND month = '2026-09' GROUP BY month";
    assert_eq!(
        same_both_ways(&fx, &["sql", both]).matches("2026-").count(),
        1
    );
    let kept = "SELECT month, count(*) AS persons FROM persons \
                WHERE month = '2026-09' OR (month = '2026-10' AND person_key < 0) \
                GROUP BY month ORDER BY month";
    assert!(same_both_ways(&fx, &["sql", kept]).contains("2026-09"));
    // Every month: equal to the views computed from the events, in one plan.
    let every = "SELECT * FROM usage ORDER BY month, step, app_id";
    let usage = same_both_ways(&fx, &["sql", every]);
    assert!(
        usage.contains("2026-09") && usage.contains("2026-10"),
        "{usage}"
    );
    assert_eq!(derived_files(&fx, "2026-10").len(), 1);
    // The reports read the same files: nothing new is written.
    same_both_ways(&fx, &["report", "history"]);
    assert_eq!(derived_files(&fx, "2026-09").len(), 1);
    assert_eq!(derived_files(&fx, "2026-10").len(), 1);
    same_both_ways(
        &fx,
        &[
            "sql",
            "SELECT month, count(DISTINCT person_key) AS persons FROM account_persons GROUP BY month ORDER BY month",
        ],
    );
}

#[test]
fn each_sorted_derived_view_is_sorted_by_a_key_of_its_rows() {
    // The order must be a key, or two runs could write equal rows in another order. Checked
    // on a generated portfolio under both profiles, for the views written sorted.
    assert!(
        seatcount::engine::sql::VIEWS
            .iter()
            .any(|v| v.derived.is_some_and(|d| !d.order.is_empty()))
    );
    let fx = Fixture::new();
    let raw = portfolio(&fx, 5);
    fx.ingest(&[&raw[0], &raw[1]]);
    for config in ["", "profile = \"outsystems\"\n"] {
        std::fs::write(fx.wh().join("seatcount.toml"), config).unwrap();
        for view in seatcount::engine::sql::VIEWS {
            let Some(derived) = view.derived.filter(|d| !d.order.is_empty()) else {
                continue;
            };
            let key = derived.order.join(", ");
            let name = view.name;
            let rows = fx.value(&format!("SELECT count(*) FROM {name}"));
            let keys = fx.value(&format!(
                "SELECT count(*) FROM (SELECT DISTINCT {key} FROM {name})"
            ));
            assert_eq!(rows, keys, "{name}: {key} is not a key ({config})");
            assert_ne!(rows, "0", "{name}");
        }
    }
}

#[test]
fn reports_deriving_the_same_months_at_once_agree() {
    // Three reports start on a warehouse with no derived state: each derives every month, and
    // they rename their files into place beside or over one another (equal rows, perhaps in
    // another order). All give the report computed from the events, and each month is left
    // with one or two files per view (two are kept).
    let fx = Fixture::new();
    let raw = portfolio(&fx, 9);
    fx.ingest(&[&raw[0], &raw[1], &raw[2]]);
    let expected = run(&fx, false, &["report", "history"]).1;
    let children: Vec<_> = (0..3)
        .map(|_| {
            fx.std_cmd()
                .args(["report", "history", "--format", "csv"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    }
    for month in MONTHS {
        for view in [
            "account_owners",
            "person_apps",
            "waterfall_persons",
            "usage",
        ] {
            let files = view_files(&fx, view, month).len();
            assert!((1..=2).contains(&files), "{view} {month}: {files}");
        }
    }
}

#[test]
fn a_derived_file_deleted_during_a_query_is_an_error_not_zeros() {
    // DataFusion reads a missing file URL as an empty directory. seatcount deletes nothing
    // derived while a query runs, but a file deleted from outside must still never read as
    // a bill of zeros.
    use seatcount::engine::{Access, session::Session};
    let fx = Fixture::with_key_file();
    let files = crate::common::sample_files();
    fx.ingest(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let session = Session::open(&fx.wh(), None).await.unwrap();
        let scoped = session.scoped("2026-10").await.unwrap();
        for file in view_files(&fx, "usage", "2026-10") {
            std::fs::remove_file(file).unwrap();
        }
        let err = match scoped.script("SELECT * FROM usage", Access::Write).await {
            Ok(rows) => rows.collect().await.err(),
            Err(e) => Some(e),
        };
        let err = err.expect("a deleted derived file is an error").to_string();
        assert!(err.contains("deleted while the query ran"), "{err}");
    });
}

/// The configuration-free layer keeps every row an account can take something from
/// (docs/derived.md "The configuration-free layer"): ties on time without an event id, case
/// variants that one configuration merges and another does not, an account deactivated
/// after its last login, anonymous events, one account in two environments, e-mails that
/// change. Under every configuration, each report from the layer equals the report from every
/// event (derived state off).
#[test]
fn the_configuration_free_layer_loses_nothing_any_configuration_reads() {
    let fx = Fixture::new();
    let rows = [
        // Two events at one time, no id: which one an account takes depends on the rules.
        ",2026-03-05T10:00:00Z,a,a-prod,production,Tie,,tie@partner.com,External,Guest,true,false",
        ",2026-03-05T10:00:00Z,a,a-prod,production,Tie,,tie@example.com,Internal,Employee,true,false",
        // A case variant, later, in another environment of the same app.
        ",2026-03-06T10:00:00Z,a,a-acc,production,tie ,,tie@example.com,External,,true,false",
        // A login, then deactivated; an anonymous event after it.
        "e1,2026-03-02T09:00:00Z,b,b-prod,production,carol,C-1,carol@example.com,Internal,,true,false",
        "e2,2026-03-20T09:00:00Z,b,b-prod,production,carol,C-1,carol@example.com,Internal,,false,false",
        "e3,2026-03-21T09:00:00Z,b,b-prod,production,carol,C-1,,,,true,true",
        // One identifier, its e-mail changing, in two apps; the same e-mail under another name.
        "e4,2026-03-03T09:00:00Z,a,a-prod,production,dave,D-1,dave@partner.com,,,true,false",
        "e5,2026-03-09T09:00:00Z,a,a-prod,production,dave,D-1,dave@example.com,,,true,false",
        "e6,2026-03-04T09:00:00Z,b,b-prod,production,dave,D-1,dave@example.com,External,,true,false",
        "e7,2026-03-04T09:00:00Z,b,b-prod,production,d.smith,,dave@example.com,External,,true,false",
        // An older event than the tie, and an inactive one at the tie's time.
        ",2026-03-01T10:00:00Z,a,a-prod,production,Tie,,tie@partner.com,External,Guest,true,false",
        ",2026-03-05T10:00:00Z,a,a-prod,production,Tie,,tie@partner.com,External,Guest,false,false",
    ];
    let file = fx.file("ties.csv", &format!("{HEADER}\n{}\n", rows.join("\n")));
    fx.ingest(&[&file]);
    std::fs::write(
        fx.wh().join("entitlements.csv"),
        entitlements(SUBSCRIPTIONS[0]),
    )
    .unwrap();
    let configs = CONFIGS.iter().copied().chain([
        "[classification]\nrules = [\"reported\", \"domains\"]\ninternal_domains = [\"example.com\"]\n",
        "[identifiers]\nsource = \"name\"\ncase = \"sensitive\"\n[counting]\nbasis = \"active_records\"\n",
        "[dedup]\nscope = \"environment\"\n[classification]\nconflict = \"latest\"\nrules = [\"reported\"]\n",
        "[classification]\nrules = [\"custom\"]\ncustom_sql = \"email_hash IS NOT NULL AND user_type = 'External'\"\n",
    ]);
    let mut seen = std::collections::BTreeSet::new();
    for config in configs {
        std::fs::write(fx.wh().join("seatcount.toml"), config).unwrap();
        let mut out = String::new();
        for report in ["users", "usage", "hygiene", "named-users", "environments"] {
            out += &same_both_ways_with(&fx, "on", &["report", report, "--month", "2026-03"]);
        }
        seen.insert(out);
    }
    // The configurations read the events differently, so the test sees what each takes.
    assert!(seen.len() >= 5, "{}", seen.len());
    // One layer file served them all.
    assert_eq!(view_files(&fx, "latest_stored", "2026-03").len(), 1);
}
