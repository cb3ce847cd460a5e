//! The shipped sample (data/): the README's first command works on a fresh clone with no
//! flags, and data/warehouse is exactly what data/rebuild-sample makes of data/raw.

use crate::common::{Fixture, bare, csv, repo, sample_files};

/// The published demo key the sample is hashed under (data/rebuild-sample).
const DEMO_KEY: &str = "73656174636f756e742d64656d6f2d6b6579";

#[test]
fn the_first_readme_command_prints_the_sample_usage_report() {
    let mut readme = bare();
    readme.current_dir(repo());
    // October 2026 (the latest month), the Mendix profile with the sample's rules (roles,
    // custom, reported; role Customer is External):
    // - External: carol, dave (role Customer), oscar (no roles, so the roles rule does not
    //   answer; the app reported External) = 3 of 5.
    // - The field pack (assigned to field from 1 October in assignments.csv): grace, judy
    //   and alice = 3 of 3. alice also used expense, an app without a pack; under
    //   waterfall.mixed = single_app she is a Single-App user only.
    // - Multi-App: bob@acme-corp.com (expense), Bob@acme-corp.com (portal: identifiers.case
    //   = exact keeps the two spellings apart), heidi (portal, expense), mallory (role
    //   Supplier is known and not Customer → Internal), ivan (expense) = 5. The entitlement
    //   is the renewal's 4 alone: sub-multi-2026 ends on 15 October, so only
    //   sub-multi-renewal is valid on the 31st. Over by 1.
    assert_eq!(
        csv(readme, &["report", "usage"]),
        "month,subscription_type,app_id,entitlement,consumption,over_usage\n\
         2026-10,external,,5,3,0\n\
         2026-10,single_app_internal,field,3,3,0\n\
         2026-10,multi_app_internal,,4,5,1\n"
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
    for name in ["seatcount.toml", "entitlements.csv", "assignments.csv"] {
        std::fs::copy(repo().join("data/warehouse").join(name), fx.wh().join(name)).unwrap();
    }
    let shipped = repo().join("data/warehouse");
    for args in [
        vec!["sql", "SELECT * FROM events ORDER BY event_id, event_time"],
        vec!["report", "history"],
        vec!["report", "users", "--month", "2026-09"],
        vec!["report", "hygiene", "--month", "2026-10"],
        vec!["report", "named-users", "--month", "2026-10"],
        vec!["report", "environments", "--month", "2026-10"],
        vec!["report", "providers", "--month", "2026-10"],
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

#[test]
fn september_shows_the_idle_pack_and_the_contractor() {
    // September: the field pack is valid on the 30th but assigned to field only from 1
    // October, so it counts for no app: a single_app_internal row with an empty app_id, 3
    // seats, nobody on it. The internal persons alice, bob, grace, heidi and ivan (ivan's
    // role Employee answers Internal before his reported External) are all Multi-App: 5 of
    // sub-multi-2026's 5. External: carol, dave = 2 of 5.
    let mut shipped = bare();
    shipped.current_dir(repo());
    assert_eq!(
        csv(shipped, &["report", "usage", "--month", "2026-09"]),
        "month,subscription_type,app_id,entitlement,consumption,over_usage\n\
         2026-09,external,,5,2,0\n\
         2026-09,single_app_internal,,3,0,0\n\
         2026-09,multi_app_internal,,5,5,0\n"
    );
}

#[test]
fn the_sample_hygiene_report_counts_each_finding() {
    // October: bob's two spellings of one identifier (1 seat); no app uses per-app
    // identifiers; ivan has no NamedUserIdentifier; no person's accounts disagree; every
    // counted person was classified by some rule; ivan (contractor.net) and mallory
    // (supplier.io) are Internal outside acme-corp.com; alice used field (pack) and expense.
    let mut shipped = bare();
    shipped.current_dir(repo());
    let out = csv(shipped, &["report", "hygiene"]);
    let counts: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.splitn(3, ',');
            let check = f.next().unwrap();
            let n = f.next().unwrap();
            &l[..check.len() + 1 + n.len()]
        })
        .collect();
    assert_eq!(
        counts,
        [
            "case_or_space_variants,1",
            "pairwise_identifiers,0",
            "missing_named_user_identifier,1",
            "conflicting_classification,0",
            "unclassified,0",
            "internal_outside_domains,2",
            "mixed_pack_users,1",
            "event_id_conflicts,0",
        ]
    );
}

#[test]
fn the_outsystems_worked_example() {
    // data/outsystems.toml: profile outsystems with internal_domains = acme-corp.com. Each
    // environment counts its own registered active users by lowercased user name or e-mail;
    // classification by domain only; no waterfall.
    // October: expense-prod alice, bob, heidi (acme-corp.com, Internal), ivan.petrov
    // (contractor.net, External); field-prod grace, judy, alice (Internal); portal-prod
    // heidi, bob (Internal), carol, dave, oscar (partner.org), mallory (supplier.io)
    // (External). Internal 3 + 3 + 2 = 8 of sub-internal's 10; External 1 + 4 = 5 of 5.
    let config = repo().join("data/outsystems.toml");
    let mut shipped = bare();
    shipped.current_dir(repo()).arg("--config").arg(&config);
    assert_eq!(
        csv(shipped, &["report", "usage"]),
        "month,subscription_type,app_id,entitlement,consumption,over_usage\n\
         2026-10,external,,5,5,0\n\
         2026-10,internal,,10,8,0\n"
    );
    let mut shipped = bare();
    shipped.current_dir(repo()).arg("--config").arg(&config);
    assert_eq!(
        csv(shipped, &["report", "environments"]),
        "environment_id,environment_name,internal_users,external_users\n\
         expense-prod,Expense Claims Production,3,1\n\
         field-prod,Field Service Production,3,0\n\
         portal-prod,Partner Portal Production,2,4\n"
    );
}
