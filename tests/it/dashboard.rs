//! `seatcount dashboard`: the page is written, needs no network, and — loaded from disk in
//! headless Chromium — renders the reports' own numbers in its cards, chart and tables.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::Fixture;

/// Debian's Chromium; `.ci/run` installs it when missing.
fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "the dashboard test needs Chromium at {} (apt-get install chromium, or set CHROMIUM)",
        path.display()
    );
    path
}

/// Runs headless Chromium on `page` with `extra` arguments, returning stdout.
fn headless(page: &Path, profile: &Path, extra: &[&str]) -> String {
    headless_at(page, "", profile, extra)
}

/// [`headless`] on `page` with `fragment` (`#month=...`) after its address.
fn headless_at(page: &Path, fragment: &str, profile: &Path, extra: &[&str]) -> String {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
            "--window-size=1200,1500",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}{fragment}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The value of `attr` on the element carrying `marker` (an attribute, e.g.
/// `data-testid="card-external"`), searching from `from`.
fn attr_after<'a>(dom: &'a str, marker: &str, attr: &str) -> &'a str {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} did not render"));
    let start = dom[..at].rfind('<').expect("tag start");
    let end = at + dom[at..].find('>').expect("tag end");
    let tag = &dom[start..end];
    let key = format!("{attr}=\"");
    let v = tag
        .find(&key)
        .unwrap_or_else(|| panic!("{marker} has no {attr}: {tag}"))
        + key.len();
    &tag[v..v + tag[v..].find('"').expect("closing quote")]
}

/// Each subscription type's card shows the sum of `usage`'s rows of that type.
fn cards_show(dom: &str, usage: &[Vec<String>]) {
    for kind in ["external", "single_app_internal", "multi_app_internal"] {
        let (ent, cons) = usage
            .iter()
            .filter(|r| r[1] == kind)
            .fold((0, 0), |(e, c), r| {
                (
                    e + r[3].parse::<i64>().unwrap(),
                    c + r[4].parse::<i64>().unwrap(),
                )
            });
        let card = format!("data-testid=\"card-{kind}\"");
        let shown = |attr| attr_after(dom, &card, attr).to_string();
        assert_eq!(shown("data-entitlement"), ent.to_string(), "{kind}");
        assert_eq!(shown("data-consumption"), cons.to_string(), "{kind}");
    }
}

fn report_rows(fx: &Fixture, args: &[&str]) -> Vec<Vec<String>> {
    fx.csv(args)
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn the_dashboard_renders_the_reports_numbers_in_a_browser() {
    let fx = Fixture::sample();
    let page = fx.dir.path().join("usage.html");
    let out = fx
        .cmd()
        .args(["dashboard", "--output"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "the page goes to the file, not stdout"
    );

    // Self-contained: nothing is fetched (the SVG namespace is a name, not a request).
    let html = std::fs::read_to_string(&page).unwrap();
    for needle in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(needle), "the page references {needle}");
    }

    let profile = tempfile::tempdir().unwrap();
    let dom = headless(&page, profile.path(), &["--dump-dom"]);
    assert!(
        dom.contains("data-rendered=\"true\""),
        "the script did not finish:\n{dom}"
    );

    // Cards: the latest month's usage report, summed per subscription type.
    cards_show(&dom, &report_rows(&fx, &["report", "usage"]));
    // The sample's October: 3 of 5 external shows as text in its card.
    let card = &dom[dom.find("card-external").unwrap()..];
    let card = &card[..card.find("card-single_app_internal").unwrap()];
    assert!(
        card.contains(">3</span>") && card.contains(">5</small>"),
        "{card}"
    );

    // Chart: per type, one point per month, values equal to the history report.
    let history = report_rows(&fx, &["report", "history"]);
    let months: Vec<String> = {
        let mut m: Vec<String> = history.iter().map(|r| r[0].clone()).collect();
        m.dedup();
        m
    };
    assert_eq!(months, ["2026-09", "2026-10"]);
    for kind in ["external", "single_app_internal", "multi_app_internal"] {
        let chart = &dom[dom
            .find(&format!("data-testid=\"chart-{kind}\""))
            .unwrap_or_else(|| panic!("chart-{kind} did not render"))..];
        for (series, col) in [("entitlement", 3), ("consumption", 4)] {
            let expected: Vec<String> = months
                .iter()
                .map(|m| {
                    history
                        .iter()
                        .filter(|r| &r[0] == m && r[1] == kind)
                        .map(|r| r[col].parse::<i64>().unwrap())
                        .sum::<i64>()
                        .to_string()
                })
                .collect();
            let marker = format!("data-series=\"{series}\"");
            assert_eq!(
                attr_after(chart, &marker, "data-values"),
                expected.join(","),
                "{kind} {series}"
            );
            let group = &chart[chart.find(&marker).unwrap()..];
            let group = &group[..group.find("</g>").unwrap()];
            assert_eq!(
                group.matches("<circle").count(),
                months.len(),
                "{kind} {series}"
            );
            assert!(group.contains("<polyline"), "{kind} {series}");
        }
    }

    // Tables: one row per named-users row and per hygiene check.
    let named = report_rows(&fx, &["report", "named-users"]);
    assert_eq!(dom.matches("data-testid=\"apps-row\"").count(), named.len());
    for row in &named {
        assert!(
            dom.contains(&format!(">{}</td>", row[1])),
            "app {} missing",
            row[1]
        );
    }
    let hygiene = report_rows(&fx, &["report", "hygiene"]);
    assert_eq!(hygiene.len(), 8);
    assert_eq!(dom.matches("data-testid=\"hygiene-row\"").count(), 8);

    // The "active today" cards: one per subscription the subscriptions report lists for
    // today, with its seats, days left and whether it expires within 90 days.
    let subs = report_rows(&fx, &["report", "subscriptions"]);
    assert!(!subs.is_empty());
    assert_eq!(dom.matches("data-testid=\"sub-").count(), subs.len());
    for r in &subs {
        let marker = format!("data-testid=\"sub-{}\"", r[0]);
        assert_eq!(attr_after(&dom, &marker, "data-quantity"), r[3], "{}", r[0]);
        assert_eq!(
            attr_after(&dom, &marker, "data-days-left"),
            r[6],
            "{}",
            r[0]
        );
        assert_eq!(attr_after(&dom, &marker, "data-expiring"), r[7], "{}", r[0]);
    }

    // The month picker offers every month; the page opens on the latest.
    for m in &months {
        assert!(dom.contains(&format!("<option value=\"{m}\"")), "{m}");
    }
    assert!(dom.contains("data-month=\"2026-10\""));
    // Picking September (as a link to it does) shows September's reports everywhere.
    let september = headless_at(&page, "#month=2026-09", profile.path(), &["--dump-dom"]);
    assert!(september.contains("data-month=\"2026-09\""), "{september}");
    cards_show(
        &september,
        &report_rows(&fx, &["report", "usage", "--month", "2026-09"]),
    );
    let named = report_rows(&fx, &["report", "named-users", "--month", "2026-09"]);
    assert_eq!(
        september.matches("data-testid=\"apps-row\"").count(),
        named.len()
    );
    for row in &named {
        // Each app's September named users, in its row.
        assert!(
            september.contains(&format!(">{}</td>", row[1])),
            "app {}",
            row[1]
        );
    }
    let hygiene = report_rows(&fx, &["report", "hygiene", "--month", "2026-09"]);
    assert_eq!(
        september.matches("data-testid=\"hygiene-row\"").count(),
        hygiene.len()
    );
    assert!(september.contains("Hygiene in 2026-09"));

    // And it paints: a screenshot is a real PNG of some size.
    let shot = fx.dir.path().join("dashboard.png");
    headless(
        &page,
        profile.path(),
        &[&format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}

#[test]
fn the_dashboard_of_an_empty_warehouse_is_a_clear_error() {
    let fx = Fixture::new();
    fx.cmd().arg("init").assert().success();
    let out = fx
        .cmd()
        .args(["dashboard", "--output"])
        .arg(fx.dir.path().join("x.html"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no events yet"), "{err}");
    assert!(!fx.dir.path().join("x.html").exists());
}

#[test]
fn the_dashboard_follows_the_outsystems_reading() {
    // With the waterfall off, usage has external and internal rows only: the page shows a
    // card for each, internal 8 of 10 (the sample's OutSystems worked example), and none for
    // the pack types.
    let fx = Fixture::sample();
    let config = crate::common::repo().join("data/outsystems.toml");
    let page = fx.dir.path().join("outsystems.html");
    fx.cmd()
        .arg("--config")
        .arg(&config)
        .args(["dashboard", "--output"])
        .arg(&page)
        .assert()
        .success();
    let profile = tempfile::tempdir().unwrap();
    let dom = headless(&page, profile.path(), &["--dump-dom"]);
    assert!(dom.contains("data-rendered=\"true\""), "{dom}");
    let card = "data-testid=\"card-internal\"";
    assert_eq!(attr_after(&dom, card, "data-consumption"), "8");
    assert_eq!(attr_after(&dom, card, "data-entitlement"), "10");
    assert!(!dom.contains("card-single_app_internal"), "{dom}");
    assert!(!dom.contains("card-multi_app_internal"), "{dom}");
}

#[test]
fn the_dashboard_under_its_default_bare_name_succeeds() {
    // `seatcount dashboard` writes usage.html in the working directory: a path whose parent
    // is "". It used to write the file and then exit 1 syncing the directory "".
    let fx = Fixture::sample();
    let mut cmd = fx.cmd();
    cmd.current_dir(fx.dir.path()).arg("dashboard");
    cmd.assert().success();
    assert!(fx.dir.path().join("usage.html").exists());
    let mut cmd = fx.cmd();
    cmd.current_dir(fx.dir.path()).args([
        "report",
        "usage",
        "--format",
        "csv",
        "--output",
        "usage.csv",
    ]);
    cmd.assert().success();
    assert!(
        std::fs::read_to_string(fx.dir.path().join("usage.csv"))
            .unwrap()
            .starts_with("month,")
    );
}
