//! A damaged warehouse: each kind of damage stops the commands that need the damaged file
//! with one sentence naming it, and leaves the commands that do not need it working.

use std::path::PathBuf;

use crate::common::Fixture;

/// Runs `args`, expecting failure with exit code 1 and one line mentioning every `needle`.
fn fails(fx: &Fixture, args: &[&str], needles: &[&str]) {
    let out = fx.cmd().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{args:?}: {err} lacks {needle}");
    }
}

/// Runs `args`, expecting success.
fn works(fx: &Fixture, args: &[&str]) -> String {
    let out = fx.cmd().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The one events file of `month` in the sample.
fn events_file(fx: &Fixture, month: &str) -> PathBuf {
    let dir = fx.wh().join(format!("events/month={month}"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    files.pop().unwrap()
}

/// A November event, to show that ingest into an undamaged month still works.
fn november(fx: &Fixture) -> PathBuf {
    fx.file(
        "nov.csv",
        "event_id,event_time,app_id,environment_id,user_name\n\
         n1,2026-11-02T10:00:00Z,crm,crm-prod,someone@example.com\n",
    )
}

/// What still works whatever is wrong with the events: the subscriptions, the report list,
/// and an ingest into another month.
fn unaffected_commands_work(fx: &Fixture) {
    assert!(works(fx, &["subscriptions", "list"]).contains("sub-field-pack"));
    assert!(works(fx, &["reports"]).contains("usage"));
    assert!(works(fx, &["ingest", november(fx).to_str().unwrap()]).contains("1 stored"));
}

#[test]
fn a_truncated_events_file_is_named_and_nothing_else_breaks() {
    let fx = Fixture::sample();
    let file = events_file(&fx, "2026-10");
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let name = file.file_name().unwrap().to_str().unwrap();
    fails(&fx, &["report", "usage"], &[name, "damaged", "restore it"]);
    fails(
        &fx,
        &["sql", "SELECT count(*) FROM events"],
        &[name, "damaged"],
    );
    unaffected_commands_work(&fx);
}

#[test]
fn a_foreign_parquet_file_in_events_is_refused() {
    let fx = Fixture::sample();
    // A real Parquet file with events in it, dropped in by hand.
    let raw = fx.dir.path().join("raw.parquet");
    fx.cmd()
        .args(["generate", "--users", "5", "--apps", "2", "--months", "1"])
        .args(["--start", "2026-10", "--out"])
        .arg(&raw)
        .assert()
        .success();
    std::fs::copy(&raw, fx.wh().join("events/month=2026-10/extra.parquet")).unwrap();
    fails(
        &fx,
        &["report", "usage"],
        &["extra.parquet", "did not write"],
    );
    unaffected_commands_work(&fx);
}

#[test]
fn a_missing_partition_is_named_with_what_it_held() {
    let fx = Fixture::sample();
    let before = fx.value("SELECT count(*) FROM events WHERE month = '2026-09'");
    let file = events_file(&fx, "2026-09");
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
    let name = file.file_name().unwrap().to_str().unwrap();
    fails(
        &fx,
        &["report", "history"],
        &[name, "missing", &format!("it held {before} events")],
    );
    unaffected_commands_work(&fx);
}

#[test]
fn malformed_entitlements_or_configuration_stop_only_what_needs_them() {
    let fx = Fixture::sample();
    let entitlements = fx.wh().join("entitlements.csv");
    let good = std::fs::read_to_string(&entitlements).unwrap();
    std::fs::write(
        &entitlements,
        format!("{good}broken,external,many,2026-01-01,,\n"),
    )
    .unwrap();
    fails(&fx, &["report", "usage"], &["entitlements.csv", "quantity"]);
    fails(&fx, &["subscriptions", "list"], &["entitlements.csv"]);
    assert!(works(&fx, &["reports"]).contains("usage"));
    assert!(works(&fx, &["ingest", november(&fx).to_str().unwrap()]).contains("1 stored"));
    std::fs::write(&entitlements, good).unwrap();

    let config = fx.wh().join("seatcount.toml");
    std::fs::write(&config, "[classification]\nrules = [\"roles\"\n").unwrap();
    let out = fx.cmd().args(["report", "usage"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("seatcount.toml") && err.contains("line"),
        "{err}"
    );
    assert!(works(&fx, &["subscriptions", "list"]).contains("sub-field-pack"));
    let december = fx.file(
        "dec.csv",
        "event_id,event_time,app_id,environment_id,user_name\n\
         d1,2026-12-02T10:00:00Z,crm,crm-prod,someone@example.com\n",
    );
    assert!(works(&fx, &["ingest", december.to_str().unwrap()]).contains("1 stored"));
}

#[test]
fn custom_sql_that_writes_is_refused_when_the_configuration_loads() {
    let fx = Fixture::sample();
    for statement in [
        "COPY events TO '/tmp/stolen.csv'",
        "CREATE TABLE x AS SELECT 1",
        "INSERT INTO events VALUES (1)",
        "email_domain = 'x'; DROP TABLE events",
    ] {
        std::fs::write(
            fx.wh().join("seatcount.toml"),
            format!("[classification]\nrules = [\"custom\"]\ncustom_sql = \"{statement}\"\n"),
        )
        .unwrap();
        let out = fx.cmd().args(["report", "usage"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{statement}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("classification.custom_sql must be one SQL boolean expression"),
            "{statement}: {err}"
        );
    }
    assert!(!std::path::Path::new("/tmp/stolen.csv").exists());
}

#[test]
fn an_older_format_is_refused_with_how_to_rebuild_it() {
    // Format 1 stored no exact forms of the identifiers, format 2 stored hashes as 64 hex
    // characters: read as format 3, the first counts every identifier as missing and the
    // second matches no hash. Every command that opens one says so, exit 2.
    for format in [1, 2] {
        let fx = Fixture::sample();
        let meta = fx.wh().join("_seatcount/warehouse.json");
        let text = std::fs::read_to_string(&meta).unwrap();
        assert!(text.contains("\"format\": 3"), "{text}");
        let older = text.replace("\"format\": 3", &format!("\"format\": {format}"));
        std::fs::write(&meta, older).unwrap();
        for args in [vec!["report", "usage"], vec!["sql", "SELECT 1"]] {
            let out = fx.cmd().args(&args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "{err}");
            assert!(
                err.contains(&format!("format {format}"))
                    && err.contains("ingest its raw files into a new warehouse"),
                "{err}"
            );
        }
    }
}

#[test]
fn a_forged_file_named_dot_parquet_is_refused_not_counted() {
    // The attack: `sql "COPY (...) TO '<wh>/events/month=2026-10/.parquet'"` wrote a file the
    // reader counted (every name ending in .parquet) while the check skipped it (no file
    // extension). Copies of a stored file under such names, and in a subdirectory, must each
    // stop the report with a sentence naming the file.
    for forged in [
        "events/month=2026-10/.parquet",
        "events/month=2026-10/sub/x.parquet",
    ] {
        let fx = Fixture::sample();
        let stored = events_file(&fx, "2026-10");
        let target = fx.wh().join(forged);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(stored, &target).unwrap();
        fails(
            &fx,
            &["report", "usage"],
            &["seatcount did not write this file", forged],
        );
    }
}

#[test]
fn a_deleted_manifest_stops_queries_and_ingests_until_an_explicit_repair() {
    // The attack: deleting _seatcount/manifest.jsonl turned the integrity check off, and the
    // next ingest recorded whatever was on disk, foreign files included.
    let fx = Fixture::sample();
    let before = works(&fx, &["report", "usage", "--format", "csv"]);
    std::fs::remove_file(fx.wh().join("_seatcount/manifest.jsonl")).unwrap();
    fails(
        &fx,
        &["report", "usage"],
        &["manifest.jsonl: missing", "seatcount repair-manifest"],
    );
    let late = fx.file(
        "late.csv",
        "event_id,event_time,app_id,environment_id,user_name\nz1,2026-10-30T10:00:00Z,a,a-p,zed\n",
    );
    let out = fx.cmd().arg("ingest").arg(&late).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("manifest.jsonl: missing"));
    // The repair lists what it would trust and writes nothing without --yes.
    let listed = works(&fx, &["repair-manifest", "--format", "csv"]);
    assert!(listed.starts_with("path,rows,bytes\n"), "{listed}");
    assert!(
        listed.contains("events/month=2026-09/") && listed.contains(",17,"),
        "{listed}"
    );
    assert!(!fx.wh().join("_seatcount/manifest.jsonl").exists());
    works(&fx, &["repair-manifest", "--yes", "--format", "csv"]);
    assert_eq!(works(&fx, &["report", "usage", "--format", "csv"]), before);
}

#[test]
fn custom_sql_with_a_subquery_or_a_volatile_function_is_refused_before_any_report() {
    // The attack: a subquery passed the load check and then failed at scale, and random()
    // gave a different bill on every run. Both are refused before anything is counted.
    let fx = Fixture::sample();
    for (expression, reason) in [
        ("(SELECT count(*) FROM events) > 0", "subquery"),
        (
            "email_domain IN (SELECT email_domain FROM events)",
            "subquery",
        ),
        ("random() < 0.5", "volatile"),
    ] {
        std::fs::write(
            fx.wh().join("seatcount.toml"),
            format!("[classification]\nrules = [\"custom\"]\ncustom_sql = \"{expression}\"\n"),
        )
        .unwrap();
        let out = fx.cmd().args(["report", "usage"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{expression}: {err}");
        assert!(
            err.contains("classification.custom_sql") && err.contains(reason),
            "{expression}: {err}"
        );
    }
}

#[test]
fn an_absurd_quantity_is_refused_rather_than_summed_into_a_negative_entitlement() {
    // The attack: two quantities near i64::MAX summed to a negative entitlement.
    let fx = Fixture::sample();
    std::fs::write(
        fx.wh().join("entitlements.csv"),
        crate::common::entitlements(&[
            "a,external,9223372036854775807,2026-01-01,,",
            "b,external,9223372036854775807,2026-01-01,,",
        ]),
    )
    .unwrap();
    fails(
        &fx,
        &["report", "usage"],
        &["entitlements.csv: line 2, column quantity"],
    );
}

#[test]
fn a_same_size_corruption_is_found_by_verify() {
    // The attack: flipping bytes inside a stored file keeps its size, so the stat per file
    // before each query cannot see it. `verify` reads every file against the SHA-256 its
    // commit recorded, lists them, and fails naming the damaged one.
    let fx = Fixture::sample();
    let listed = works(&fx, &["verify", "--format", "csv"]);
    assert!(listed.starts_with("path,rows,bytes,state\n"), "{listed}");
    assert_eq!(listed.matches(",ok\n").count(), 2, "{listed}");
    let file = events_file(&fx, "2026-10");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let out = fx
        .cmd()
        .args(["verify", "--format", "csv"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(",damaged\n"),
        "{out:?}"
    );
    assert!(
        err.contains("month=2026-10") && err.contains("damaged"),
        "{err}"
    );
    // A report checks the bytes of the files it reads before it reads them, and names it too.
    let out = fx
        .cmd()
        .args(["report", "usage", "--month", "2026-10"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("month=2026-10") && err.contains("damaged: its bytes differ"),
        "{err}"
    );
}
