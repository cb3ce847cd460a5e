//! The report commands through the binary: their CSV output, the `users` report's listing,
//! `history`, `subscriptions` and their errors, on small portfolios whose every expected number
//! is derived by hand in the comments. The rules behind the numbers are tested in `tests/slt/`.

use crate::common::Fixture;

/// The usage report as `type:app=consumption/entitlement` items, for compact assertions.
fn usage(fx: &Fixture, month: &str) -> Vec<String> {
    fx.report("usage", month)
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let app = if f[2].is_empty() {
                String::new()
            } else {
                format!(":{}", f[2])
            };
            format!("{}{app}={}/{}", f[1], f[4], f[3])
        })
        .collect()
}

const EXTERNAL_2026: &str = "x,external,10,2026-01-01,2026-12-31,";

#[test]
fn users_lists_each_app_of_a_person_once_in_order() {
    let rows = [
        // One person (e-mail a@x.com under username_or_email): two accounts in app b, and apps
        // c and a, ingested out of order.
        "1,2026-09-01T10:00:00Z,c,c-p,,,,ann,,a@x.com,,,,",
        "2,2026-09-01T11:00:00Z,b,b-p,,,,ann,,a@x.com,,,,",
        "3,2026-09-01T12:00:00Z,b,b-p,,,,ann2,,a@x.com,,,,",
        "4,2026-09-01T13:00:00Z,a,a-p,,,,ann,,a@x.com,,,,",
        // Another person in app b only.
        "5,2026-09-01T10:00:00Z,b,b-p,,,,bob,,b@x.com,,,,",
    ];
    let fx = Fixture::portfolio(&rows, "[dedup]\npolicy = \"username_or_email\"\n", &[]);
    let users = fx.report("users", "2026-09");
    let mut apps: Vec<String> = users
        .lines()
        .skip(1)
        .map(|l| l.splitn(3, ',').nth(2).unwrap().to_string())
        .collect();
    apps.sort();
    // ann: a, b (two accounts, one app) and c = 3 apps; bob: b = 1.
    assert_eq!(apps, ["1,b", "3,\"a,b,c\""], "{users}");
}

/// Under `dedup.scope = environment` one identifier in two environments is two persons with
/// one person_id (docs/views.md "Names"): `users` lists each, even when both are classified
/// alike (grouped by the id alone, they were one row of three apps).
#[test]
fn users_lists_a_person_per_environment_under_environment_scope() {
    let rows = [
        "1,2026-09-01T10:00:00Z,a,env1,,,,ann,,,,,,",
        "2,2026-09-01T11:00:00Z,b,env1,,,,ann,,,,,,",
        "3,2026-09-01T12:00:00Z,c,env2,,,,ann,,,,,,",
    ];
    let fx = Fixture::portfolio(&rows, "[dedup]\nscope = \"environment\"\n", &[]);
    let users = fx.report("users", "2026-09");
    let listed: Vec<(&str, &str)> = users
        .lines()
        .skip(1)
        .map(|l| l.split_once(',').unwrap())
        .collect();
    assert_eq!(listed.len(), 2, "{users}");
    assert_eq!(listed[0].0, listed[1].0, "{users}");
    assert_eq!(listed[0].1, "Internal,2,\"a,b\"", "{users}");
    assert_eq!(listed[1].1, "Internal,1,c", "{users}");
}

/// docs/semantics.md "Reports": `users` names each person by their hash. People are grouped by
/// a number made from the hash (`person_key`), so this pins that the name printed is still the
/// person's own full hash, the one `hash_identifier` gives for their normalized identifier.
#[test]
fn users_names_each_person_by_their_hash() {
    let rows = [
        // ann in two apps (a case variant in the second), bob in one.
        "1,2026-09-01T10:00:00Z,a,a-p,,,,ann,,,,,,",
        "2,2026-09-01T11:00:00Z,b,b-p,,,,ANN,,,,,,",
        "3,2026-09-01T12:00:00Z,b,b-p,,,,bob,,,,,,",
    ];
    // Lowercased, so that ann's two spellings are one person whose hash is ann's.
    let fx = Fixture::portfolio(&rows, "[identifiers]\ncase = \"insensitive\"\n", &[]);
    let hash = |name: &str| {
        let csv = fx.csv(&["sql", &format!("SELECT hash_identifier('{name}') AS h")]);
        csv.lines().nth(1).unwrap().to_string()
    };
    let mut expected = vec![
        format!("{},Internal,2,\"a,b\"", hash("ann")),
        format!("{},Internal,1,b", hash("bob")),
    ];
    expected.sort();
    let users = fx.report("users", "2026-09");
    let listed: Vec<&str> = users.lines().skip(1).collect();
    assert_eq!(listed, expected, "{users}");
}

#[test]
fn report_commands_and_errors() {
    let fx = Fixture::portfolio(&["1,2026-09-01T10:00:00Z,a,a-p,,,,u,,,,,,"], "", &[]);
    let list = fx.cmd().arg("reports").output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    for name in [
        "named-users",
        "usage",
        "history",
        "providers",
        "users",
        "hygiene",
        "cost",
        "subscriptions",
        "changes",
    ] {
        assert!(list.contains(name), "{list}");
    }
    // The month defaults to the latest with data.
    let out = fx
        .cmd()
        .args(["report", "usage", "--format", "csv"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("2026-09,multi_app_internal,,0,1,1"));
    for (args, code, text) in [
        (vec!["report", "nope"], 2, "no report named"),
        (
            vec!["report", "usage", "--month", "2026-13"],
            2,
            "not a month",
        ),
        (
            vec!["report", "usage", "--month", "2026-08"],
            2,
            "months with data: 2026-09",
        ),
    ] {
        let out = fx.cmd().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(text),
            "{args:?}"
        );
    }
    let subs = crate::common::entitlements(&["s,external,many,2026-01-01,,"]);
    std::fs::write(fx.wh().join("entitlements.csv"), subs).unwrap();
    let out = fx.cmd().args(["report", "usage"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("entitlements.csv: line 2, column quantity"),
        "{err}"
    );
}

#[test]
fn subscriptions_are_added_assigned_and_listed_by_command() {
    let fx = Fixture::portfolio(&["1,2026-09-01T10:00:00Z,a,a-p,,,,u,,,,,,"], "", &[]);
    std::fs::remove_file(fx.wh().join("entitlements.csv")).unwrap();
    fx.cmd()
        .args([
            "subscriptions",
            "add",
            "--type",
            "single_app_internal",
            "--quantity",
            "3",
            "--from",
            "2026-09-01",
        ])
        .assert()
        .success()
        .stdout("added subscription sub-1\n");
    fx.cmd()
        .args([
            "subscriptions",
            "add",
            "--type",
            "external",
            "--quantity",
            "2",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
        ])
        .assert()
        .success();
    // Before assignment the pack counts for no app: its own row with an empty app_id.
    assert_eq!(
        usage(&fx, "2026-09"),
        [
            "external=0/2",
            "single_app_internal=0/3",
            "multi_app_internal=1/0"
        ]
    );
    fx.cmd()
        .args([
            "subscriptions",
            "assign",
            "sub-1",
            "a",
            "--from",
            "2026-09-01",
        ])
        .assert()
        .success()
        .stdout("assigned sub-1 to a from 2026-09-01\n");
    assert_eq!(
        usage(&fx, "2026-09"),
        [
            "external=0/2",
            "single_app_internal:a=1/3",
            "multi_app_internal=0/0"
        ]
    );
    // Moving the pack from October never rewrites September.
    fx.cmd()
        .args([
            "subscriptions",
            "assign",
            "sub-1",
            "b",
            "--from",
            "2026-10-01",
        ])
        .assert()
        .success();
    assert_eq!(
        usage(&fx, "2026-09"),
        [
            "external=0/2",
            "single_app_internal:a=1/3",
            "multi_app_internal=0/0"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(fx.wh().join("assignments.csv")).unwrap(),
        "subscription_id,app_id,assigned_from\nsub-1,a,2026-09-01\nsub-1,b,2026-10-01\n"
    );
    // Without --from the assignment starts today.
    fx.cmd()
        .args(["subscriptions", "assign", "sub-1", "c"])
        .assert()
        .success()
        .stdout(format!(
            "assigned sub-1 to c from {}\n",
            chrono::Utc::now().date_naive()
        ));
    let out = fx
        .cmd()
        .args(["subscriptions", "assign", "sub-2", "a"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = fx
        .cmd()
        .args([
            "subscriptions",
            "add",
            "--type",
            "external",
            "--quantity",
            "1",
            "--from",
            "2026-02-01",
            "--to",
            "2026-01-01",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let list = fx
        .cmd()
        .args(["subscriptions", "list", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(list.stdout).unwrap(),
        "subscription_id,subscription_type,quantity,valid_from,valid_to,app_id,unit_price,currency\n\
         sub-1,single_app_internal,3,2026-09-01,,,,\n\
         sub-2,external,2,2026-01-01,2026-12-31,,,\n"
    );
}

#[test]
fn history_is_each_months_usage_oldest_first() {
    // Five months, computed two at a time: the rows must still come in month order, each
    // month's equal to its own usage report. Month m has m+1 internal people in app a (a pack
    // of 2) and m external ones, so every month's numbers differ.
    let mut rows = Vec::new();
    for m in 1..=5 {
        for p in 0..=m {
            rows.push(format!(
                "{m}-{p},2026-0{m}-10T10:00:00Z,a,a-p,,,,emp{p},,emp{p}@mycompany.com,Internal,,,"
            ));
        }
        for p in 0..m {
            rows.push(format!(
                "{m}-x{p},2026-0{m}-11T10:00:00Z,b,b-p,,,,ext{p},,ext{p}@partner.org,External,,,"
            ));
        }
    }
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let fx = Fixture::portfolio(
        &rows,
        "",
        &[EXTERNAL_2026, "p,single_app_internal,2,2026-01-01,,a"],
    );
    let history = fx.csv(&["report", "history"]);
    let mut expected = String::new();
    for m in 1..=5 {
        let usage = fx.report("usage", &format!("2026-0{m}"));
        let mut lines = usage.lines();
        let header = lines.next().unwrap();
        if expected.is_empty() {
            expected = format!("{header}\n");
        }
        for line in lines {
            expected.push_str(line);
            expected.push('\n');
        }
    }
    assert_eq!(history, expected);
    assert!(history.contains("2026-05,external,,10,5,0"), "{history}");
    assert!(
        history.contains("2026-03,single_app_internal,a,2,4,2"),
        "{history}"
    );
}

/// docs/semantics.md "Counted events", through the binary: under `counting.basis =
/// "active_records"` an account counts when its latest record of the month, anonymous ones
/// included, is active, and only its named records count. ann was deactivated on the 20th;
/// reg is a user-table record with no login; dan's latest record is anonymous and active; gus
/// has only an anonymous record; hal's latest record, anonymous, is in another environment,
/// a-q, where nobody is counted.
#[test]
fn named_users_under_active_records_follow_each_account_to_the_close() {
    let rows = [
        "1,2026-09-01T10:00:00Z,a,a-p,,,,ann,,,,,true,false",
        "2,2026-09-20T10:00:00Z,a,a-p,,,,ann,,,,,false,false",
        "3,2026-09-30T00:00:00Z,a,a-p,,,,reg,,,,,true,false",
        "4,2026-09-10T10:00:00Z,a,a-p,,,,dan,,,,,true,false",
        "5,2026-09-28T10:00:00Z,a,a-p,,,,dan,,,,,true,true",
        "6,2026-09-12T10:00:00Z,a,a-p,,,,gus,,,,,true,true",
        "7,2026-09-08T10:00:00Z,a,a-p,,,,hal,,,,,true,false",
        "8,2026-09-26T10:00:00Z,a,a-q,,,,hal,,,,,true,true",
    ];
    let fx = Fixture::portfolio(&rows, "", &[]);
    let counted = |report: &str| -> Vec<String> {
        report
            .lines()
            .skip(1)
            .map(|l| {
                let cols: Vec<&str> = l.split(',').collect();
                format!("{} {}", cols[3], cols[6])
            })
            .collect()
    };
    // logins: every active named record counts: ann, reg, dan and hal in a-p.
    let logins = fx.report("named-users", "2026-09");
    assert_eq!(counted(&logins), ["a-p 4", "a-q 0"], "{logins}");
    fx.configure("[counting]\nbasis = \"active_records\"\n", &[]);
    let records = fx.report("named-users", "2026-09");
    assert_eq!(counted(&records), ["a-p 3", "a-q 0"], "{records}");
    // dan's last counted record is his named one of the 10th; hal counts in a-p only.
    let last = fx.value(
        "SELECT max(last_event) FROM accounts WHERE month = '2026-09' AND last_event < TIMESTAMP '2026-09-29T00:00:00Z'",
    );
    assert!(last.starts_with("2026-09-10"), "{last}");
}
