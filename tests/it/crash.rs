//! Faults during ingest: a process killed at any moment, at each step of its commit, and
//! ingests racing each other and readers. The warehouse must always show a whole state
//! (before or after an ingest, never a mix), and re-running gives one clean ingest's result.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Fixture, HEADER};

/// What a reader sees, in one query (so one snapshot): the usage of every month and the
/// stored events and distinct event ids per month.
fn state(fx: &Fixture) -> String {
    fx.csv(&[
        "sql",
        "SELECT u.month, u.subscription_type, u.app_id, u.consumption, e.events, e.ids \
         FROM usage u JOIN (SELECT month, count(*) AS events, count(DISTINCT event_id) AS ids \
                            FROM events GROUP BY month) e ON e.month = u.month \
         ORDER BY u.month, u.step, u.app_id",
    ])
}

/// Generated raw events, one Parquet file per month, in `fx`'s directory.
fn generate(fx: &Fixture, name: &str, seed: u64, events: u64) -> PathBuf {
    let out = fx.dir.path().join(name);
    fx.cmd()
        .args([
            "generate", "--users", "2000", "--apps", "20", "--months", "3",
        ])
        .args(["--start", "2026-01", "--seed", &seed.to_string()])
        .args(["--events", &events.to_string(), "--out"])
        .arg(&out)
        .assert()
        .success();
    out
}

/// A fresh fixture whose warehouse is a copy of `wh`.
fn copy_of(wh: &Path) -> Fixture {
    let fx = Fixture::new();
    let status = Command::new("cp")
        .arg("-a")
        .arg(wh)
        .arg(fx.wh())
        .status()
        .unwrap();
    assert!(status.success());
    fx
}

/// No staging directory or temporary file is left in the warehouse's own state.
fn assert_tidy(fx: &Fixture) {
    let state_dir = fx.wh().join("_seatcount");
    let staging = state_dir.join("staging");
    let leftovers = std::fs::read_dir(&staging).map_or(0, |d| d.count());
    assert_eq!(leftovers, 0, "staging not cleaned");
    for entry in std::fs::read_dir(&state_dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            !name.contains(".tmp-") && name != "commit.journal",
            "{name} left"
        );
    }
}

#[test]
fn a_killed_ingest_leaves_the_old_state_or_the_new_never_a_mix() {
    // Baseline: January ingested. The ingest under test brings February and March (January
    // is skipped as already ingested).
    let base = Fixture::new();
    let raw = generate(&base, "raw", 11, 24_000);
    base.ingest(&[&raw.join("events-2026-01.parquet")]);
    let before = state(&base);
    // Then April opens a third month, which closes February, so February's late rows are
    // staged: February commits two files, and a crash can fall between their moves.
    let april = base.file(
        "april.csv",
        &format!("{HEADER}\nlate-apr,2026-04-02T10:00:00Z,a,e,production,ann,,,,,,\n"),
    );
    let late = "late-feb,2026-02-10T10:00:00Z,a,e,production,ann,,,,,,";
    let february = base.file("february.csv", &format!("{HEADER}\n{late}\n{late}\n"));
    // And an earlier version of a stored January event, which outranks it: January's stored
    // file is replaced in the same commit (docs/semantics.md "Counted events").
    let stored = base.rows(
        "SELECT event_id, app_id, environment_id FROM events \
         WHERE month = '2026-01' AND event_id IS NOT NULL AND event_time > '2026-01-01T00:00:01Z' \
         ORDER BY event_id LIMIT 1",
    );
    let field = |name: &str| stored[0][name].as_str().unwrap().to_string();
    let earlier = format!(
        "{},2026-01-01T00:00:00Z,{},{},production,zed,,,,,,",
        field("event_id"),
        field("app_id"),
        field("environment_id")
    );
    let january = base.file("january.csv", &format!("{HEADER}\n{earlier}\n"));
    let inputs = [
        raw.as_path(),
        april.as_path(),
        february.as_path(),
        january.as_path(),
    ];

    let clean = copy_of(&base.wh());
    let started = Instant::now();
    clean.ingest(&inputs);
    let clean_secs = started.elapsed();
    let after = state(&clean);
    assert_ne!(before, after);
    let february_files = clean
        .files()
        .iter()
        .filter(|f| f.contains("events/month=2026-02/"))
        .count();
    assert_eq!(
        february_files, 2,
        "the direct file and the staged rows' file"
    );
    assert_eq!(
        clean.value("SELECT count(*) FROM conflicts WHERE month = '2026-01'"),
        "1",
        "the outranked January event is set aside"
    );

    // Every step of the ingest and its commit. Before the journal is written the ingest never
    // happened; once it is, the next command finishes it.
    for (point, expected) in [
        ("staged", &before),
        ("resolved", &before),
        ("journal-written", &after),
        ("file-moved", &after),
        ("file-removed", &after),
        ("ledger-written", &after),
    ] {
        let fx = copy_of(&base.wh());
        let out = fx
            .cmd()
            .env("SEATCOUNT_CRASH_AT", point)
            .arg("ingest")
            .args(inputs)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            None,
            "{point}: the ingest was not stopped"
        );
        assert_eq!(&state(&fx), expected, "after a crash at {point}");
        fx.ingest(&inputs);
        assert_eq!(state(&fx), after, "re-ingest after a crash at {point}");
        assert_tidy(&fx);
    }

    // SIGKILL at moments spread over a whole ingest.
    for k in 1..=5u32 {
        let fx = copy_of(&base.wh());
        let mut child = fx
            .std_cmd()
            .arg("ingest")
            .args(inputs)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(clean_secs * k / 6);
        let _ = child.kill();
        child.wait().unwrap();
        let seen = state(&fx);
        assert!(
            seen == before || seen == after,
            "killed at {k}/6 of an ingest: a state that is neither before nor after:\n{seen}"
        );
        fx.ingest(&inputs);
        assert_eq!(state(&fx), after, "re-ingest after a kill at {k}/6");
        assert_tidy(&fx);
    }
}

#[test]
fn ingests_racing_each_other_and_readers_lose_and_double_nothing() {
    // Three inputs with disjoint event ids: a baseline C, then A and B at the same time.
    let fx = Fixture::new();
    let c = generate(&fx, "c", 3, 3_000);
    let a = generate(&fx, "a", 1, 6_000);
    let b = generate(&fx, "b", 2, 6_000);
    fx.ingest(&[&c]);

    // Every state a reader may legitimately see, from clean ingests.
    let mut states = vec![state(&fx)];
    for inputs in [vec![&a], vec![&b], vec![&a, &b]] {
        let reference = copy_of(&fx.wh());
        for input in inputs {
            reference.ingest(&[input]);
        }
        states.push(state(&reference));
    }

    let ingests: Vec<_> = [&a, &b]
        .iter()
        .map(|input| {
            fx.std_cmd()
                .arg("ingest")
                .arg(input)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let done = std::sync::atomic::AtomicBool::new(false);
    let seen: Vec<String> = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let mut seen = Vec::new();
                    let deadline = Instant::now() + Duration::from_secs(120);
                    while !done.load(std::sync::atomic::Ordering::SeqCst)
                        && Instant::now() < deadline
                    {
                        seen.push(state(&fx));
                    }
                    seen
                })
            })
            .collect();
        for child in ingests {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        readers
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .collect()
    });
    assert!(!seen.is_empty());
    for s in &seen {
        assert!(
            states.contains(s),
            "a reader saw a state no clean ingest gives:\n{s}"
        );
    }
    assert_eq!(
        state(&fx),
        states[3],
        "the final state is both ingests, once each"
    );
}
