//! What licence managers do with a bill, through the binary on the shipped sample: gates for
//! schedulers, the cost of each usage line, and the subscriptions active on a day
//! (docs/semantics.md "Gates", "Cost", "Expiry"). The sample's October usage is derived in
//! README's worked example: external 3 of 5 (60%), the field pack 3 of 3 (100%), Multi-App 5
//! of 4 (125%, one over). Its entitlements.csv prices external seats at 4.00 EUR, the field
//! pack at 6.00, Multi-App at 12.00 until 15 October and 11.50 after; internal is unpriced.

use crate::common::Fixture;

#[test]
fn fail_on_over_usage_writes_the_report_then_exits_3_naming_the_rows() {
    let fx = Fixture::sample();
    let file = fx.dir.path().join("usage.csv");
    let out = fx
        .cmd()
        .args(["report", "usage", "--month", "2026-10", "--format", "csv"])
        .args(["--fail-on", "over-usage", "--output"])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(
        err.trim(),
        "seatcount: over-usage: 1 row(s) over their entitlement (2026-10 multi_app_internal: 5 of 4)"
    );
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written.lines().count(), 4, "{written}");
    // history covers both months: still exit 3.
    let out = fx
        .cmd()
        .args(["report", "history", "--fail-on", "over-usage"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn warn_at_prints_a_line_per_row_at_or_above_the_share() {
    let fx = Fixture::sample();
    let out = fx
        .cmd()
        .args(["report", "usage", "--month", "2026-10", "--warn-at", "100"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        [
            "seatcount: warning: 2026-10 single_app_internal field is at 100% of its entitlement (3 of 3)",
            "seatcount: warning: 2026-10 multi_app_internal is at 125% of its entitlement (5 of 4)",
        ]
    );
    // Below every share: silent.
    let out = fx
        .cmd()
        .args(["report", "usage", "--month", "2026-10", "--warn-at", "130"])
        .output()
        .unwrap();
    assert!(out.status.success() && out.stderr.is_empty());
}

#[test]
fn gates_on_a_report_without_entitlements_are_refused_before_writing() {
    let fx = Fixture::sample();
    let file = fx.dir.path().join("users.csv");
    let out = fx
        .cmd()
        .args(["report", "users", "--warn-at", "90", "--output"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage, history or cost"));
    assert!(!file.exists());
    // Nor is a refused run kept as evidence.
    let out = fx
        .cmd()
        .args(["report", "users", "--save", "--fail-on", "over-usage"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!fx.wh().join("_seatcount/runs").exists());
}

#[test]
fn cost_prices_every_line_of_every_month() {
    let fx = Fixture::sample();
    // September: 2 of 5 external (3 unused, 12.00); the pack is not assigned yet, nobody on
    // its 3 seats (18.00 unused); 5 of 5 Multi-App at 12.00 (the renewal starts in October).
    // October: 3 of 5 external (8.00 unused); 3 of 3 on field; 5 of the renewal's 4 at 11.50,
    // one over: 11.50.
    assert_eq!(
        fx.csv(&["report", "cost"]),
        "month,subscription_type,app_id,entitlement,consumption,unused,over_usage,currency,unit_price,entitlement_cost,unused_cost,over_usage_cost\n\
         2026-09,external,,5,2,3,0,EUR,4.0000,20.00,12.00,0.00\n\
         2026-09,single_app_internal,,3,0,3,0,EUR,6.0000,18.00,18.00,0.00\n\
         2026-09,multi_app_internal,,5,5,0,0,EUR,12.0000,60.00,0.00,0.00\n\
         2026-10,external,,5,3,2,0,EUR,4.0000,20.00,8.00,0.00\n\
         2026-10,single_app_internal,field,3,3,0,0,EUR,6.0000,18.00,0.00,0.00\n\
         2026-10,multi_app_internal,,4,5,0,1,EUR,11.5000,46.00,0.00,11.50\n"
    );
    // The gates read cost's columns too.
    let out = fx
        .cmd()
        .args(["report", "cost", "--fail-on", "over-usage"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn subscriptions_lists_what_is_active_on_a_day_with_the_days_left() {
    let fx = Fixture::sample();
    // 15 November 2026: the first Multi-App subscription ended on 15 October. External ends on
    // 31 December: 15 + 31 = 46 days, within 90. The pack serves field (assigned 1 October).
    assert_eq!(
        fx.csv(&["report", "subscriptions", "--today", "2026-11-15"]),
        "subscription_id,subscription_type,app_id,quantity,valid_from,valid_to,days_left,expiring\n\
         sub-ext-2026,external,,5,2026-01-01,2026-12-31,46,true\n\
         sub-field-pack,single_app_internal,field,3,2026-09-01,,,false\n\
         sub-internal,internal,,10,2026-01-01,,,false\n\
         sub-multi-renewal,multi_app_internal,,4,2026-10-16,,,false\n"
    );
    // A monthly report has no day.
    let out = fx
        .cmd()
        .args(["report", "usage", "--today", "2026-11-15"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_subscription_added_with_a_price_is_costed_and_one_currency_is_kept() {
    let fx = Fixture::sample();
    let add = |extra: &[&str]| {
        fx.cmd()
            .args([
                "subscriptions",
                "add",
                "--type",
                "external",
                "--quantity",
                "2",
            ])
            .args(["--from", "2026-10-01", "--to", "2026-10-31"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = add(&["--unit-price", "3", "--currency", "USD"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("one currency"));
    // 5 at 4.00 and 2 at 3.00 from October: 26.00 for 7 seats, 3.7143 a seat; 4 unused.
    assert!(
        add(&["--unit-price", "3", "--currency", "EUR"])
            .status
            .success()
    );
    let cost = fx.csv(&["report", "cost"]);
    let october = cost
        .lines()
        .find(|l| l.starts_with("2026-10,external"))
        .unwrap();
    assert_eq!(
        october,
        "2026-10,external,,7,3,4,0,EUR,3.7143,26.00,14.86,0.00"
    );
}
