//! `report --what-if` and the REPL's `\r ... KEY=VALUE` (docs/semantics.md "What-if"): the
//! report under the configuration in force and under a changed one, side by side. Each
//! portfolio below is small enough to derive both sides by hand; the hygiene check that
//! points at each what-if is checked to name it.

use crate::common::Fixture;

/// The what-if usage report's header.
const USAGE: &str = "month,subscription_type,app_id,entitlement,consumption,what_if_consumption,consumption_change,over_usage,what_if_over_usage,over_usage_change";

/// `report NAME --month 2026-09 --what-if ...` as CSV lines, header included.
fn what_if(fx: &Fixture, report: &str, keys: &[&str]) -> Vec<String> {
    let mut args = vec!["report", report, "--month", "2026-09"];
    for k in keys {
        args.extend(["--what-if", k]);
    }
    fx.csv(&args).lines().map(str::to_string).collect()
}

/// The hygiene check `check`'s row as CSV.
fn hygiene(fx: &Fixture, check: &str) -> String {
    fx.report("hygiene", "2026-09")
        .lines()
        .find(|l| l.starts_with(check))
        .unwrap_or_else(|| panic!("no {check}"))
        .to_string()
}

#[test]
fn the_current_value_of_a_key_changes_nothing() {
    let fx = Fixture::sample();
    // The sample's own settings (Mendix: exact case, mixed = single_app), said again.
    let same = ["identifiers.case=exact", "waterfall.mixed=single_app"];
    for report in ["usage", "history"] {
        let mut args = vec!["report", report];
        for k in same {
            args.extend(["--what-if", k]);
        }
        let out = fx.csv(&args);
        let rows: Vec<&str> = out.lines().skip(1).collect();
        // usage: October's three lines; history: September's and October's.
        assert!(rows.len() >= 3, "{out}");
        for row in rows {
            let f: Vec<&str> = row.split(',').collect();
            assert_eq!(f[4], f[5], "{row}");
            assert_eq!((f[6], f[9]), ("0", "0"), "{row}");
        }
    }
    let out = fx.csv(&["report", "users", "--what-if", same[0]]);
    assert!(out.lines().count() > 1, "{out}");
    for row in out.lines().skip(1) {
        assert!(row.ends_with(','), "a person changed: {row}");
    }
}

#[test]
fn lowercasing_identifiers_merges_the_case_variants_the_hygiene_check_counts() {
    let rows = [
        // ann and Ann are two persons under exact (Mendix), one under insensitive; bob is one.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,ann,,,,,,",
        "2,2026-09-02T10:00:00Z,b,b-p,,,,Ann,,,,,,",
        "3,2026-09-03T10:00:00Z,a,a-p,,,,bob,,,,,,",
    ];
    let fx = Fixture::portfolio(&rows, "", &["m,multi_app_internal,2,2026-01-01,,"]);
    // Multi-App: 3 persons against 2 seats (1 over); lowercased, 2 (none over).
    assert_eq!(
        what_if(&fx, "usage", &["identifiers.case=insensitive"]),
        [
            USAGE,
            "2026-09,external,,0,0,0,0,0,0,0",
            "2026-09,multi_app_internal,,2,3,2,-1,1,0,-1",
        ]
    );
    let check = hygiene(&fx, "case_or_space_variants");
    assert!(
        check.starts_with("case_or_space_variants,1,")
            && check.contains("--what-if identifiers.case=insensitive"),
        "{check}"
    );
}

#[test]
fn the_mixed_rule_and_the_waterfall_switch_move_the_rows_derived_by_hand() {
    let rows = [
        // ann uses a (with a pack) and b (without); bob only a; cara only b.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,ann,,,,,,",
        "2,2026-09-01T11:00:00Z,b,b-p,,,,ann,,,,,,",
        "3,2026-09-01T12:00:00Z,a,a-p,,,,bob,,,,,,",
        "4,2026-09-01T13:00:00Z,b,b-p,,,,cara,,,,,,",
    ];
    let subs = [
        "p,single_app_internal,5,2026-01-01,,a",
        "m,multi_app_internal,5,2026-01-01,,",
    ];
    let fx = Fixture::portfolio(&rows, "", &subs);
    // single_app: ann and bob on a's pack, cara Multi-App. multi_app: ann moves to Multi-App.
    assert_eq!(
        what_if(&fx, "usage", &["waterfall.mixed=multi_app"]),
        [
            USAGE,
            "2026-09,external,,0,0,0,0,0,0,0",
            "2026-09,single_app_internal,a,5,2,1,-1,0,0,0",
            "2026-09,multi_app_internal,,5,1,2,1,0,0,0",
        ]
    );
    let check = hygiene(&fx, "mixed_pack_users");
    assert!(
        check.starts_with("mixed_pack_users,1,")
            && check.contains("--what-if waterfall.mixed=multi_app"),
        "{check}"
    );
    // Waterfall off: the pack lines go, an internal line of all three comes, against no
    // internal subscription (3 over).
    assert_eq!(
        what_if(&fx, "usage", &["waterfall.enabled=false"]),
        [
            USAGE,
            "2026-09,external,,0,0,0,0,0,0,0",
            "2026-09,single_app_internal,a,5,2,,-2,0,,0",
            "2026-09,internal,,0,,3,3,,3,3",
            "2026-09,multi_app_internal,,5,1,,-1,0,,0",
        ]
    );
}

#[test]
fn the_conflict_rule_reclassifies_the_person_the_hygiene_check_names() {
    let rows = [
        // ann: External in a, Internal in b (reported by the apps); bob Internal in a.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,ann,,,External,,,",
        "2,2026-09-01T11:00:00Z,b,b-p,,,,ann,,,Internal,,,",
        "3,2026-09-01T12:00:00Z,a,a-p,,,,bob,,,Internal,,,",
    ];
    let subs = [
        "x,external,5,2026-01-01,,",
        "m,multi_app_internal,5,2026-01-01,,",
    ];
    let fx = Fixture::portfolio(&rows, "[classification]\nrules = [\"reported\"]\n", &subs);
    // internal_wins: ann Internal (2 Multi-App); external_wins: ann External.
    assert_eq!(
        what_if(&fx, "usage", &["classification.conflict=external_wins"]),
        [
            USAGE,
            "2026-09,external,,5,0,1,1,0,0,0",
            "2026-09,multi_app_internal,,5,2,1,-1,0,0,0",
        ]
    );
    let users = what_if(&fx, "users", &["classification.conflict=external_wins"]);
    assert_eq!(
        users[0],
        "person_id,classification,what_if_classification,apps,what_if_apps,app_ids,what_if_app_ids,change"
    );
    let mut people: Vec<String> = users[1..]
        .iter()
        .map(|l| l.split_once(',').unwrap().1.to_string())
        .collect();
    people.sort();
    assert_eq!(
        people,
        [
            "Internal,External,2,2,\"a,b\",\"a,b\",reclassified",
            "Internal,Internal,1,1,a,a,",
        ]
    );
    let check = hygiene(&fx, "conflicting_classification");
    assert!(
        check.starts_with("conflicting_classification,1,")
            && check.contains("--what-if classification.conflict=external_wins"),
        "{check}"
    );
}

#[test]
fn merging_by_e_mail_joins_the_persons_per_app_identifiers_split() {
    let rows = [
        // ann has a per-app identifier in a and in b (one e-mail); bob is in a.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,ann,sub-a1,ann@x.com,,,,",
        "2,2026-09-01T11:00:00Z,b,b-p,,,,ann.b,sub-b7,ann@x.com,,,,",
        "3,2026-09-01T12:00:00Z,a,a-p,,,,bob,sub-a2,bob@x.com,,,,",
    ];
    let fx = Fixture::portfolio(&rows, "", &["m,multi_app_internal,5,2026-01-01,,"]);
    // By identifier (Mendix): ann twice and bob, 3. Merged by e-mail: 2.
    assert_eq!(
        what_if(&fx, "usage", &["dedup.policy=username_or_email"]),
        [
            USAGE,
            "2026-09,external,,0,0,0,0,0,0,0",
            "2026-09,multi_app_internal,,5,3,2,-1,0,0,0",
        ]
    );
    // Each app has one e-mail whose identifier matches no other app's: 2.
    let check = hygiene(&fx, "pairwise_identifiers");
    assert!(
        check.starts_with("pairwise_identifiers,2,")
            && check.contains("--what-if dedup.policy=username_or_email"),
        "{check}"
    );
}

#[test]
fn classifying_by_domain_makes_the_outsider_external() {
    let rows = [
        // ann is at the internal domain; cara at a partner's. No rule of the default order
        // answers for either: both are unclassified and count Internal.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,ann,,ann@acme.com,,,,",
        "2,2026-09-01T11:00:00Z,a,a-p,,,,cara,,cara@partner.org,,,,",
    ];
    let subs = [
        "x,external,5,2026-01-01,,",
        "m,multi_app_internal,5,2026-01-01,,",
    ];
    let toml = "[classification]\ninternal_domains = [\"acme.com\"]\n";
    let fx = Fixture::portfolio(&rows, toml, &subs);
    // By domain alone, or with domains after the default rules: cara is External, ann stays
    // Internal. The two hygiene checks that point here name these what-ifs (CSV doubles the
    // quotes inside the detail).
    for (rules, check) in [
        (
            "classification.rules=[\"domains\"]",
            "internal_outside_domains,1,",
        ),
        (
            "classification.rules=[\"roles\",\"custom\",\"reported\",\"domains\"]",
            "unclassified,2,",
        ),
    ] {
        assert_eq!(
            what_if(&fx, "usage", &[rules]),
            [
                USAGE,
                "2026-09,external,,5,0,1,1,0,0,0",
                "2026-09,multi_app_internal,,5,2,1,-1,0,0,0",
            ],
            "{rules}"
        );
        let name = check.split(',').next().unwrap();
        let found = hygiene(&fx, name);
        assert!(
            found.starts_with(check) && found.contains(&rules.replace('"', "\"\"")),
            "{found}"
        );
    }
}

#[test]
fn counting_by_user_name_joins_the_account_without_a_named_user_identifier() {
    let rows = [
        // ann has a NamedUserIdentifier in a, none in b (so her user name identifies her
        // there): two persons under nui_then_name, one by user name.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,ann,ann-id,,,,,",
        "2,2026-09-01T11:00:00Z,b,b-p,,,,ann,,,,,,",
    ];
    let fx = Fixture::portfolio(&rows, "", &["m,multi_app_internal,5,2026-01-01,,"]);
    assert_eq!(
        what_if(&fx, "usage", &["identifiers.source=name"]),
        [
            USAGE,
            "2026-09,external,,0,0,0,0,0,0,0",
            "2026-09,multi_app_internal,,5,2,1,-1,0,0,0",
        ]
    );
    let check = hygiene(&fx, "missing_named_user_identifier");
    assert!(
        check.starts_with("missing_named_user_identifier,1,")
            && check.contains("--what-if identifiers.source=name"),
        "{check}"
    );
}

#[test]
fn a_what_if_that_cannot_run_is_a_usage_error_naming_it() {
    let fx = Fixture::sample();
    for (args, says) in [
        (
            vec!["--what-if", "identifiers.case=upper"],
            "identifiers.case=upper",
        ),
        (vec!["--what-if", "identifiers.cas=exact"], "cas"),
        (vec!["--what-if", "nokey"], "KEY=VALUE"),
        (
            vec![
                "--what-if",
                "waterfall.mixed=both",
                "--fail-on",
                "over-usage",
            ],
            "not a what-if",
        ),
    ] {
        let out = fx
            .cmd()
            .args(["report", "usage"])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let out = fx
        .cmd()
        .args(["report", "hygiene", "--what-if", "waterfall.mixed=both"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage, history and users"));
}
