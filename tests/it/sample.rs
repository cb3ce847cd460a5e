//! The shipped sample (data/): the README's first command works on a fresh clone with no
//! flags, and data/warehouse is exactly what data/rebuild-sample makes of data/raw.

use crate::common::{Fixture, bare, csv, repo, sample_files};

/// The published demo key the sample is hashed under (data/rebuild-sample).
const DEMO_KEY: &str = "73656174636f756e742d64656d6f2d6b6579";

#[test]
fn the_first_readme_command_prints_the_sample_usage_report() {
    let mut readme = bare();
    readme.current_dir(repo());
    // October 2026 (the latest month), sample config: role Customer is External.
    // External: carol, dave (role Customer) = 2 of 5. The field pack (valid from 1 October):
    // grace, judy, alice = 3 of 3. Multi-app: alice, Bob (expense), heidi (portal, expense),
    // mallory (role Supplier → Internal, portal), ivan (expense) = 5 of 5.
    assert_eq!(
        csv(readme, &["report", "usage"]),
        "month,subscription_type,app_id,entitlement,consumption,over_usage\n\
         2026-10,external,,5,2,0\n\
         2026-10,single_app_internal,field,3,3,0\n\
         2026-10,multi_app_internal,,5,5,0\n"
    );
    let table = bare()
        .current_dir(repo())
        .args(["report", "usage"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains("single_app_internal"));
}

#[test]
fn the_shipped_warehouse_is_the_rebuilt_sample() {
    let fx = Fixture::new();
    let files = sample_files();
    let out = fx
        .cmd()
        .env("SEATCOUNT_HASH_KEY", DEMO_KEY)
        .arg("ingest")
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success());
    for name in ["seatcount.toml", "entitlements.csv"] {
        std::fs::copy(repo().join("data/warehouse").join(name), fx.wh().join(name)).unwrap();
    }
    let shipped = repo().join("data/warehouse");
    for args in [
        vec!["sql", "SELECT * FROM events ORDER BY event_id, event_time"],
        vec!["report", "history"],
        vec!["report", "users", "--month", "2026-09"],
        vec!["report", "hygiene", "--month", "2026-10"],
        vec!["report", "named-users", "--month", "2026-10"],
    ] {
        let mut rebuilt = fx.cmd();
        rebuilt.env("SEATCOUNT_HASH_KEY", DEMO_KEY);
        let mut shipped_cmd = bare();
        shipped_cmd.arg("--warehouse").arg(&shipped);
        assert_eq!(
            csv(rebuilt, &args),
            csv(shipped_cmd, &args),
            "{args:?}: run data/rebuild-sample"
        );
    }
}
