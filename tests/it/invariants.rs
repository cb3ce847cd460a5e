//! Property: the reports depend on the events, not on how they arrived. Shuffling the input
//! rows, splitting them into several files and ingests, or re-ingesting, changes no report;
//! and no line of the bill counts more people than were counted.

use proptest::prelude::*;

use crate::common::{Fixture, HEADER};

/// One random event line under [`HEADER`].
fn event() -> impl Strategy<Value = String> {
    (
        0..6u8,   // user
        0..3u8,   // app
        0..60u32, // day offset from 2026-09-01, spanning two months
        0..4u8,   // user_type / environment / flags mix
        any::<bool>(),
    )
        .prop_map(|(user, app, day, mix, nui)| {
            let day = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).unwrap()
                + chrono::Duration::days(i64::from(day));
            let env = if mix == 3 { "test" } else { "production" };
            let kind = ["External", "Internal", "", ""][mix as usize];
            let name = if user % 2 == 0 { format!("User{user}") } else { format!("user{user} ") };
            let nui = if nui { format!("u{user}@corp.com") } else { String::new() };
            format!(
                ",{day}T{:02}:00:00Z,app{app},app{app}-{env},{env},{name},{nui},u{user}@corp.com,{kind},Role{mix},,",
                8 + user
            )
        })
}

fn reports(fx: &Fixture) -> String {
    let mut all = String::new();
    for args in [
        vec!["report", "history"],
        vec!["report", "users", "--month", "2026-09"],
        vec!["report", "providers", "--month", "2026-09"],
        vec!["report", "named-users", "--month", "2026-09"],
        vec!["report", "hygiene", "--month", "2026-09"],
    ] {
        all.push_str(&fx.csv(&args));
    }
    all
}

fn setup(fx: &Fixture) {
    fx.cmd().arg("init").assert().success();
    std::fs::write(
        fx.wh().join("entitlements.csv"),
        crate::common::entitlements(&[
            "x,external,3,2026-01-01,,",
            "p,single_app_internal,2,2026-09-01,,app1",
            // A second pack on the same app: a person counts once against the two.
            "q,single_app_internal,1,2026-09-01,,app1",
        ]),
    )
    .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    fn order_and_splitting_do_not_change_reports(
        events in proptest::collection::vec(event(), 5..40),
        seed in any::<u64>(),
        parts in 2..4usize,
    ) {
        // September must have data for the monthly reports.
        // Every row gets an event_id, so no two split files are byte-identical (an identical
        // file is the same file, and is skipped by design).
        let mut events: Vec<String> = events.iter().enumerate().map(|(i, e)| format!("ev{i}{e}")).collect();
        events.push("anchor,2026-09-02T09:00:00Z,app0,app0-p,production,anchor,,,,,,".to_string());
        let whole = Fixture::new();
        setup(&whole);
        let file = whole.file("all.csv", &format!("{HEADER}\n{}\n", events.join("\n")));
        whole.ingest(&[&file]);
        let expected = reports(&whole);

        // The same rows shuffled and split over several ingests, one file ingested twice.
        let mut shuffled = events.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let split = Fixture::new();
        setup(&split);
        let size = shuffled.len().div_ceil(parts);
        for (i, chunk) in shuffled.chunks(size).enumerate() {
            let file = split.file(&format!("part{i}.csv"), &format!("{HEADER}\n{}\n", chunk.join("\n")));
            split.ingest(&[&file]);
            split.ingest(&[&file]);
        }
        // Every event once more, in a file with new bytes: event_id de-duplication drops all.
        let again = split.file("again.csv", &format!("{HEADER}\n{}\n\n", shuffled.join("\n")));
        split.ingest(&[&again]);
        prop_assert_eq!(reports(&split), expected);

        // No line of the bill counts more people than were counted, and a person holds at
        // most one of an External seat and a Multi-App seat.
        let over = whole.value(
            "SELECT count(*) FROM usage u \
             JOIN (SELECT month, count(*) AS persons FROM persons GROUP BY month) p ON p.month = u.month \
             WHERE u.consumption > p.persons",
        );
        prop_assert_eq!(over, "0");
        let over = whole.value(
            "SELECT count(*) FROM (SELECT month, sum(consumption) AS seats FROM usage \
               WHERE subscription_type IN ('external', 'multi_app_internal') GROUP BY month) u \
             JOIN (SELECT month, count(*) AS persons FROM persons GROUP BY month) p ON p.month = u.month \
             WHERE u.seats > p.persons",
        );
        prop_assert_eq!(over, "0");
    }
}

/// `sql QUERY` under the configuration `toml` (written beside the warehouse): one value.
fn value_under(fx: &Fixture, name: &str, toml: &str, sql: &str) -> i64 {
    let config = fx.file(name, toml);
    let out = fx
        .cmd()
        .arg("--config")
        .arg(&config)
        .args(["sql", "--format", "csv", sql])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    text.lines().nth(1).unwrap_or("0").parse().unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    /// Readings that count more never count less: `waterfall.mixed = both` holds at least the
    /// seats of `single_app` and of `multi_app` (docs/semantics.md "Waterfall"), and `exact`
    /// identifiers make at least as many persons as `insensitive` ones.
    #[test]
    fn the_wider_readings_count_at_least_as_much(
        events in proptest::collection::vec(event(), 5..40),
    ) {
        let mut events: Vec<String> = events.iter().enumerate().map(|(i, e)| format!("ev{i}{e}")).collect();
        events.push("anchor,2026-09-02T09:00:00Z,app0,app0-p,production,anchor,,,,,,".to_string());
        let fx = Fixture::new();
        setup(&fx);
        // app1's pack, so that people who used app1 and another app are mixed pack users.
        let file = fx.file("all.csv", &format!("{HEADER}\n{}\n", events.join("\n")));
        fx.ingest(&[&file]);
        let seats = "SELECT coalesce(sum(consumption), 0) FROM usage \
                     WHERE subscription_type IN ('single_app_internal', 'multi_app_internal')";
        let mixed = |reading: &str| {
            value_under(&fx, &format!("{reading}.toml"), &format!("[waterfall]\nmixed = \"{reading}\"\n"), seats)
        };
        // `usage` counts rows of `consumption` (sql/views/70_usage.sql): each person at most
        // once per line, under every reading, and under the environment scope, where a user of
        // two apps (each in its own environment here) is two persons whose keys the kept
        // waterfall holds (60_waterfall_persons.sql).
        for (name, toml) in [
            ("both", "[waterfall]\nmixed = \"both\"\n"),
            ("single_app", "[waterfall]\nmixed = \"single_app\"\n"),
            ("multi_app", "[waterfall]\nmixed = \"multi_app\"\n"),
            ("environment", "[dedup]\nscope = \"environment\"\n"),
        ] {
            let repeated = value_under(
                &fx,
                &format!("{name}.toml"),
                toml,
                "SELECT count(*) FROM (SELECT month, subscription_type, app_id, person_key \
                 FROM consumption GROUP BY month, subscription_type, app_id, person_key HAVING count(*) > 1)",
            );
            prop_assert_eq!(repeated, 0, "a person twice on one line under {}", name);
        }
        let both = mixed("both");
        prop_assert!(both >= mixed("single_app"));
        prop_assert!(both >= mixed("multi_app"));
        let persons = "SELECT count(*) FROM persons";
        let exact = value_under(&fx, "exact.toml", "[identifiers]\ncase = \"exact\"\n", persons);
        let insensitive = value_under(&fx, "insensitive.toml", "[identifiers]\ncase = \"insensitive\"\n", persons);
        prop_assert!(exact >= insensitive);
    }
}
