//! `seatcount generate`: deterministic, one file or one per month, and what it writes
//! ingests cleanly and has the features metering must handle.

use crate::common::{Fixture, generate};

#[test]
fn equal_seeds_give_equal_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    for (name, seed) in [("a.csv", "7"), ("b.csv", "7"), ("c.csv", "8")] {
        let out = generate(&[
            "--users",
            "200",
            "--apps",
            "5",
            "--months",
            "2",
            "--seed",
            seed,
            "--out",
            &path(name),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "no progress bar off a terminal");
    }
    let read = |n: &str| std::fs::read(path(n)).unwrap();
    assert_eq!(read("a.csv"), read("b.csv"));
    assert_ne!(read("a.csv"), read("c.csv"));
    // 200 users × 2 months × 4 events by default, plus the header.
    assert_eq!(
        String::from_utf8(read("a.csv")).unwrap().lines().count(),
        1 + 1600
    );
}

#[test]
fn a_directory_gets_one_parquet_file_per_month_that_ingests() {
    let fx = Fixture::new();
    let out_dir = fx.dir.path().join("raw");
    let out = generate(&[
        "--users",
        "500",
        "--apps",
        "12",
        "--months",
        "3",
        "--events",
        "6000",
        "--start",
        "2025-12",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "events-2025-12.parquet",
            "events-2026-01.parquet",
            "events-2026-02.parquet"
        ]
    );
    // The directory itself ingests: its event files, in name order (a stray file is skipped).
    std::fs::write(out_dir.join("README.txt"), "not events").unwrap();
    let summary = fx.ingest(&[out_dir.as_path()]);
    assert!(
        summary.contains("ingested 3 files") && summary.contains("6000 rows read"),
        "{summary}"
    );
    let empty = fx.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = fx.cmd().arg("ingest").arg(&empty).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("holds no .csv, .ndjson or .parquet files"),
        "{err}"
    );

    // The portfolio has what metering must cope with.
    let n = |sql: &str| fx.value(sql).parse::<i64>().unwrap();
    assert_eq!(n("SELECT count(DISTINCT month) FROM events"), 3);
    assert!(n("SELECT count(*) FROM events WHERE environment_type <> 'production'") > 0);
    assert!(n("SELECT count(*) FROM events WHERE anonymous") > 0);
    assert!(n("SELECT count(*) FROM events WHERE NOT active") > 0);
    assert!(n("SELECT count(*) FROM events WHERE named_user_identifier_hash IS NULL") > 0);
    assert!(n("SELECT count(*) FROM events WHERE named_user_identifier_hash IS NOT NULL") > 0);
    assert!(n("SELECT count(DISTINCT tenant) FROM events") > 1);
    assert!(n("SELECT count(DISTINCT user_provider) FROM events") > 1);
    assert!(n("SELECT count(DISTINCT email_domain) FROM events") >= 5);
    // Case and white-space variants: one normalized name, several exact spellings.
    assert!(
        n(
            "SELECT count(*) FROM (SELECT user_name_hash FROM events GROUP BY user_name_hash \
               HAVING count(DISTINCT user_name_exact_hash) > 1)"
        ) > 0
    );
    // Apps with per-app identifiers: the same e-mail, never the same identifier elsewhere.
    let hygiene = fx.csv(&["report", "hygiene", "--month", "2026-02"]);
    let pairwise = hygiene
        .lines()
        .find(|l| l.starts_with("pairwise_identifiers,"))
        .expect("a pairwise row");
    assert!(
        !pairwise.starts_with("pairwise_identifiers,0,"),
        "{hygiene}"
    );
    // Re-sent events were dropped at ingest.
    assert!(
        summary.contains("duplicate events dropped") && !summary.contains(" 0 duplicate"),
        "{summary}"
    );
    // Every report runs on it.
    for report in [
        "named-users",
        "usage",
        "history",
        "providers",
        "users",
        "hygiene",
    ] {
        fx.csv(&["report", report]);
    }
}

#[test]
fn bad_generate_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("x.csv");
    for args in [
        vec!["--users", "0", "--out", out_path.to_str().unwrap()],
        vec!["--start", "2026-13", "--out", out_path.to_str().unwrap()],
        vec!["--users", "10"],
    ] {
        let out = generate(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn a_terminal_gets_progress_for_generate_and_ingest() {
    let fx = Fixture::new();
    let file = fx.dir.path().join("p.csv");
    let mut cmd = fx.std_cmd();
    cmd.args(["generate", "--users", "5000", "--months", "2", "--out"])
        .arg(&file);
    let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).unwrap();
    // The bar is cleared at the end and leaves one line of what was done.
    p.exp_string("generating 40,000 rows in").unwrap();
    p.exp_string("generated 40000 events").unwrap();
    p.exp_eof().unwrap();

    let mut cmd = fx.std_cmd();
    cmd.arg("ingest").arg(&file);
    let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).unwrap();
    p.exp_string("reading 40,000 rows in").unwrap();
    p.exp_string("40000 rows read").unwrap();
    p.exp_eof().unwrap();

    // Off a terminal the same ingest prints its summary only.
    let again = fx.file(
        "q.csv",
        &std::fs::read_to_string(&file)
            .unwrap()
            .replace("1-0", "9-0"),
    );
    let out = fx.cmd().arg("ingest").arg(&again).output().unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The shape parameters: how many apps a person uses, how many of them use several, and how
/// many events an account has a month. Apps per person are counted by e-mail, the one
/// identifier the generator gives a person in every app.
#[test]
fn the_shape_parameters_set_apps_per_person_and_events_per_account() {
    let apps_per_person = |extra: &[&str]| -> (u64, u64, u64) {
        let fx = Fixture::new();
        let raw = fx.dir.path().join("raw.parquet");
        let mut args = vec!["--users", "300", "--apps", "10", "--months", "2"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", raw.to_str().unwrap()]);
        let out = generate(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fx.ingest(&[&raw]);
        let row = fx.rows(
            "SELECT count(*) AS people, max(apps) AS most, count(*) FILTER (WHERE apps > 1) AS multi, \
             (SELECT count(*) FROM events) AS events \
             FROM (SELECT email_hash, count(DISTINCT app_id) AS apps FROM events \
                   WHERE email_hash IS NOT NULL GROUP BY email_hash)",
        );
        let get = |k: &str| row[0][k].as_u64().unwrap();
        assert!(get("people") > 250, "most people log in: {row:?}");
        (
            get("most"),
            get("multi") * 100 / get("people"),
            get("events"),
        )
    };
    // One app each.
    let (most, multi, _) =
        apps_per_person(&["--apps-per-person", "1", "--events-per-account", "20"]);
    assert_eq!((most, multi), (1, 0));
    // Everyone in two or three apps. Popular apps are drawn more often, so two of a person's
    // draws can land on one app, and a person who logs in rarely may not be seen in every app
    // they use: most, not all, are seen in several.
    let (most, multi, events) = apps_per_person(&[
        "--apps-per-person",
        "3",
        "--multi-app-percent",
        "100",
        "--events-per-account",
        "20",
    ]);
    assert_eq!(most, 3);
    assert!(multi >= 75, "{multi}% in several apps");
    // 300 people × 2 months × 2.5 apps on average × 20 events, less exact re-sends.
    assert!((29_000..=30_000).contains(&events), "{events}");
    // --events and --events-per-account are two ways to say one thing.
    let out = generate(&[
        "--events",
        "10",
        "--events-per-account",
        "2",
        "--out",
        "x.csv",
    ]);
    assert_eq!(out.status.code(), Some(2));
    // A negative number of events is a usage error that names the flag.
    let out = generate(&["--events-per-account=-1", "--out", "x.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--events-per-account"));
}
