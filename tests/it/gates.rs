//! Gates for schedulers (docs/semantics.md "Gates") on the sample, whose October usage is
//! derived in README's worked example: external 3 of 5 (60%), the field pack 3 of 3 (100%),
//! Multi-App 5 of 4 (125%, one over).

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
}
