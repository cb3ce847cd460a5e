//! Evidence and month close through the binary on the shipped sample (docs/evidence.md):
//! saved runs, their comparison and verification, a tampered run, closing October, a late
//! event refused and then let in, what changed since the close, and a crash during a close.
//! The late event is [`Fixture::late_october_newcomer`]: a new internal person in `field`,
//! whose pack goes from 3 of 3 users to 4 (one over).

use std::path::PathBuf;

use crate::common::Fixture;

/// Runs `args`, returning (exit code, stdout, stderr).
fn run(fx: &Fixture, args: &[&str]) -> (i32, String, String) {
    let out = fx.cmd().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `report usage --save` for October; returns the run's id.
fn save_usage(fx: &Fixture) -> String {
    let (code, _, err) = run(fx, &["report", "usage", "--month", "2026-10", "--save"]);
    assert_eq!(code, 0, "{err}");
    err.trim()
        .strip_prefix("saved as run ")
        .unwrap_or_else(|| panic!("{err}"))
        .to_string()
}

fn run_dir(fx: &Fixture, id: &str) -> PathBuf {
    fx.wh().join("_seatcount/runs").join(id)
}

#[test]
fn a_saved_run_verifies_lists_and_shows_its_output() {
    let fx = Fixture::sample();
    let id = save_usage(&fx);
    let usage = fx.report("usage", "2026-10");
    let (code, out, _) = run(&fx, &["runs", "verify", &id]);
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        format!(
            "run {id} verified: recomputed from what it recorded, its 3 rows are the same, byte for byte"
        )
    );
    let list = fx.csv(&["runs", "list"]);
    assert!(list.contains(&format!("{id},usage,2026-10,,")), "{list}");
    let (code, out, err) = run(&fx, &["runs", "show", &id]);
    assert_eq!(code, 0);
    assert_eq!(out, usage);
    assert!(
        err.contains("usage --month 2026-10")
            && err.contains("events 2026-10: 1 file(s), 13 events"),
        "{err}"
    );
}

#[test]
fn runs_diff_around_an_ingest_names_the_changed_rows_and_verify_says_why() {
    let fx = Fixture::sample();
    let before = save_usage(&fx);
    fx.ingest(&[&fx.late_october_newcomer()]);
    let after = save_usage(&fx);
    assert_eq!(
        fx.csv(&["runs", "diff", &before, &after]),
        "change,row,column,before,after\n\
         input,events 2026-10,,\"1 file(s), 13 events\",\"2 file(s), 14 events\"\n\
         changed,\"2026-10,single_app_internal,field\",consumption,3,4\n\
         changed,\"2026-10,single_app_internal,field\",over_usage,0,1\n"
    );
    // The earlier run no longer recomputes to its output, and says what moved.
    let (code, _, err) = run(&fx, &["runs", "verify", &before]);
    assert_eq!(code, 1);
    assert!(
        err.contains("2 difference(s)")
            && err.contains("events 2026-10 was 1 file(s), 13 events and is 2 file(s), 14 events"),
        "{err}"
    );
    // Runs of two reports do not compare.
    let (_, _, err) = run(&fx, &["report", "users", "--save"]);
    let users = err
        .trim()
        .strip_prefix("saved as run ")
        .unwrap()
        .to_string();
    assert_eq!(run(&fx, &["runs", "diff", &after, &users]).0, 2);
}

#[test]
fn a_conflicting_version_is_named_as_its_own_input() {
    let fx = Fixture::sample();
    let save = |fx: &Fixture| {
        let (code, _, err) = run(fx, &["report", "hygiene", "--month", "2026-10", "--save"]);
        assert_eq!(code, 0, "{err}");
        err.trim()
            .strip_prefix("saved as run ")
            .unwrap()
            .to_string()
    };
    let before = save(&fx);
    // ev-0101 again, later and from another user: October's events stay as they were, the
    // version goes to `conflicts`.
    let conflict = fx.file(
        "conflict.csv",
        &format!(
            "{}\nev-0101,2026-10-01T09:01:00Z,expense,expense-prod,production,mallory,,,,,,\n",
            crate::common::HEADER
        ),
    );
    fx.ingest(&[&conflict]);
    let after = save(&fx);
    let diff = fx.csv(&["runs", "diff", &before, &after]);
    let rows: Vec<&str> = diff.lines().skip(1).collect();
    assert_eq!(
        rows[..2],
        [
            "input,conflicts 2026-10,,,\"1 file(s), 1 events\"",
            "changed,event_id_conflicts,affected_users,0,1",
        ],
        "{diff}"
    );
    // And the check's detail now names the app.
    assert_eq!(rows.len(), 3, "{diff}");
    assert!(
        rows[2].starts_with("changed,event_id_conflicts,detail,")
            && rows[2].ends_with("by app: expense\"")
    );
    let (code, _, err) = run(&fx, &["runs", "verify", &before]);
    assert_eq!(code, 1);
    assert!(err.contains("conflicts 2026-10 was absent"), "{err}");
}

#[test]
fn a_tampered_run_is_detected() {
    for file in ["output.csv", "run.json"] {
        let fx = Fixture::sample();
        let id = save_usage(&fx);
        let path = run_dir(&fx, &id).join(file);
        // One consumption edited: 5 Multi-App users become 4, no over-usage.
        let text = std::fs::read_to_string(&path).unwrap();
        let edited = text
            .replacen(",5,1", ",4,0", 1)
            .replacen("\"rows\": 3", "\"rows\": 2", 1);
        assert_ne!(edited, text, "{file}");
        std::fs::write(&path, edited).unwrap();
        for args in [vec!["runs", "verify", &id], vec!["runs", "show", &id]] {
            let (code, _, err) = run(&fx, &args);
            assert_eq!(code, 1, "{file}: {err}");
            assert!(
                err.contains("was changed after it was saved"),
                "{file}: {err}"
            );
        }
    }
}

#[test]
fn a_closed_month_refuses_a_late_event_until_reopened_and_shows_the_change() {
    let fx = Fixture::sample();
    let (code, out, err) = run(&fx, &["close", "2026-10"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("closed 2026-10: 6 reports saved"), "{out}");
    let stored = || fx.value("SELECT count(*) FROM events WHERE month = '2026-10'");
    assert_eq!(stored(), "13");

    let late = fx.late_october_newcomer();
    let (code, _, err) = run(&fx, &["ingest", late.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("2026-10 was closed") && err.contains("--reopen"),
        "{err}"
    );
    assert_eq!(stored(), "13");
    // September is not closed: its events still come in.
    let september = fx.file(
        "sep.csv",
        &format!(
            "{}\nsep-late,2026-09-29T09:00:00Z,field,field-prod,production,grace,,,,,,\n",
            crate::common::HEADER
        ),
    );
    fx.ingest(&[&september]);

    let (code, _, err) = run(&fx, &["ingest", "--reopen", late.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stored(), "14");
    let changes = fx.csv(&["report", "changes", "--month", "2026-10"]);
    let rows: Vec<&str> = changes.lines().collect();
    assert_eq!(rows[0], "what,at_close,now,change");
    // The inputs: only the month's events moved.
    let changed: Vec<&str> = rows
        .iter()
        .filter(|r| r.ends_with(",changed"))
        .copied()
        .collect();
    assert_eq!(
        changed,
        ["events 2026-10,\"1 file(s), 13 events\",\"2 file(s), 14 events\",changed"]
    );
    // Persons: 11 at the close, the newcomer makes 12; on field's pack, 4 users of 3.
    for row in [
        "persons,11,12,1",
        "persons added,0,1,1",
        "persons gone,0,0,0",
        "seats external,3,3,0",
        "seats single_app_internal field,3,4,1",
        "seats multi_app_internal,5,5,0",
        "over-usage single_app_internal field,0,1,1",
        "over-usage multi_app_internal,1,1,0",
    ] {
        assert!(rows.contains(&row), "{row} missing from\n{changes}");
    }
    assert_eq!(run(&fx, &["report", "changes", "--month", "2026-09"]).0, 2);
}

#[test]
fn a_crash_during_close_leaves_the_month_open_or_closed() {
    for point in ["run-written", "close-runs-saved"] {
        let fx = Fixture::sample();
        let out = fx
            .cmd()
            .args(["close", "2026-10"])
            .env("SEATCOUNT_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}");
        // Open: not closed for `changes`, and a late event comes in without --reopen.
        let (code, _, err) = run(&fx, &["report", "changes", "--month", "2026-10"]);
        assert_eq!(code, 2, "{point}: {err}");
        assert!(err.contains("is not closed"), "{point}: {err}");
        // A run cut off before its rename is no run.
        let list = fx.csv(&["runs", "list"]);
        let listed = list.lines().count() - 1;
        assert_eq!(
            listed,
            if point == "run-written" { 0 } else { 6 },
            "{point}: {list}"
        );
        // Closing again works, and then the month is closed.
        let (code, _, err) = run(&fx, &["close", "2026-10"]);
        assert_eq!(code, 0, "{point}: {err}");
        let late = fx.late_october_newcomer();
        assert_eq!(
            run(&fx, &["ingest", late.to_str().unwrap()]).0,
            2,
            "{point}"
        );
    }
}
