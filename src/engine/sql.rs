//! The SQL files under `sql/`, compiled into the binary so an installed seatcount needs no
//! files beside it. The files are the semantics; Rust only fills their `{{placeholders}}`
//! with SQL literals from the configuration and runs them.

use std::collections::BTreeMap;

use crate::config::{Config, Rule};
use crate::error::{Error, Result};

/// Normalization and hashing of validated input rows (`sql/ingest/normalize.sql`).
pub(crate) const INGEST_NORMALIZE: &str = include_str!("../../sql/ingest/normalize.sql");

/// One SQL file.
#[derive(Debug, Clone, Copy)]
pub struct SqlFile {
    /// Its path under `sql/`.
    pub path: &'static str,
    /// Its text.
    pub text: &'static str,
}

macro_rules! sql_file {
    ($path:literal) => {
        SqlFile {
            path: $path,
            text: include_str!(concat!("../../sql/", $path)),
        }
    };
}

/// A stored table as queries read it, every identifier form whole: view `{{view}}` over
/// the stored `{{stored}}` (docs/input.md "What lands on disk").
pub(crate) const STORED_VIEW: SqlFile = sql_file!("tables/stored.sql");

/// The files that decide which version of a repeated event id counts, run in this order
/// over one month (docs/semantics.md "Counted events"): rank the versions, add what counts,
/// set aside what does not, and drop what was outranked from the earlier files. They read
/// the stored tables as they are on disk (`stored_events`), and write rows in that form.
pub(crate) const INGEST_CONTESTED: SqlFile = sql_file!("ingest/contested.sql");
/// See [`INGEST_CONTESTED`].
pub(crate) const INGEST_RESOLVED: SqlFile = sql_file!("ingest/resolved.sql");
/// See [`INGEST_CONTESTED`].
pub(crate) const INGEST_CONFLICTS: SqlFile = sql_file!("ingest/conflicts.sql");
/// See [`INGEST_CONTESTED`].
pub(crate) const INGEST_OUTRANKED: SqlFile = sql_file!("ingest/outranked.sql");

/// The what-if comparison of `usage` and `history` over the two results `current` and
/// `what_if` (docs/semantics.md "What-if").
pub(crate) const WHAT_IF_USAGE: SqlFile = sql_file!("what-if/usage.sql");
/// The what-if comparison of `users`; see [`WHAT_IF_USAGE`].
pub(crate) const WHAT_IF_USERS: SqlFile = sql_file!("what-if/users.sql");

/// A file of `sql/views/`: it creates one view, named after it.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// The view it creates.
    pub name: &'static str,
    /// The file.
    pub file: SqlFile,
    /// Whether a month-scoped session computes it once and holds it (see
    /// [`super::Engine::install_semantics`]): the views after it read it more than once, and
    /// DataFusion would otherwise compute it again for every read.
    pub held: bool,
    /// Whether a month's rows are kept as derived state, and what they depend on
    /// (docs/derived.md).
    pub derived: Option<Derived>,
    /// Placeholders of this view alone, for a file that makes more than one view (the
    /// counted events over every event and over the configuration-free layer).
    pub with: &'static [(&'static str, &'static str)],
}

/// How a view's rows are kept as derived state.
#[derive(Debug, Clone, Copy)]
pub struct Derived {
    /// Whether they depend on the subscriptions and assignments, besides the events, the SQL
    /// and the configuration.
    pub bill: bool,
    /// Whether they depend on the configuration at all; the configuration-free layer
    /// (`latest_stored`) does not, so its key leaves out the functions' settings and a
    /// configuration change keeps it.
    pub config: bool,
    /// A key of the rows (no two rows agree on all of it) that they are written sorted by, so
    /// equal rows make an equal file; empty for the large views, which are written in the
    /// order computed: sorting them cost a second a month at 10M events, more than the
    /// derivation saved (BENCHMARKS.md run N).
    pub order: &'static [&'static str],
}

macro_rules! view {
    ($name:literal, $path:literal, $held:literal) => {
        View {
            name: $name,
            file: sql_file!($path),
            held: $held,
            derived: None,
            with: &[],
        }
    };
    ($name:literal, $path:literal, with: $with:expr) => {
        View {
            name: $name,
            file: sql_file!($path),
            held: false,
            derived: None,
            with: $with,
        }
    };
    ($name:literal, $path:literal, $held:literal, bill: $bill:literal, config: $config:literal, order: $order:expr) => {
        View {
            name: $name,
            file: sql_file!($path),
            held: $held,
            derived: Some(Derived {
                bill: $bill,
                config: $config,
                order: $order,
            }),
            with: &[],
        }
    };
}

/// The configuration-free layer (docs/derived.md "The configuration-free layer"), the first
/// of the [`VIEWS`].
pub(crate) const LAYER: &str = "latest_stored";

/// The configuration-free layer's events, with every identifier form whole
/// (docs/derived.md "The configuration-free layer").
pub(crate) const LATEST_EVENTS: &str = "latest_events";

/// The views of the metering semantics, in dependency order (docs/semantics.md).
pub const VIEWS: &[View] = &[
    view!(
        "latest_stored",
        "views/05_latest_stored.sql",
        true,
        bill: false,
        config: false,
        order: &[]
    ),
    view!(
        "latest_events",
        "tables/stored.sql",
        with: &[("view", LATEST_EVENTS), ("stored", "latest_stored")]
    ),
    view!(
        "candidate_events",
        "views/10_candidate_events.sql",
        with: &[("view", "candidate_events"), ("events", "events")]
    ),
    view!(
        "account_candidates",
        "views/10_candidate_events.sql",
        with: &[("view", "account_candidates"), ("events", LATEST_EVENTS)]
    ),
    view!(
        "counted_events",
        "views/15_counted_events.sql",
        with: &[("view", "counted_events"), ("candidates", "candidate_events")]
    ),
    view!(
        "account_events",
        "views/15_counted_events.sql",
        with: &[("view", "account_events"), ("candidates", "account_candidates")]
    ),
    view!("accounts", "views/20_accounts.sql", false),
    view!(
        "account_owners",
        "views/30_account_owners.sql",
        true,
        bill: false,
        config: true,
        order: &[]
    ),
    view!("account_persons", "views/31_account_persons.sql", false),
    view!(
        "person_apps",
        "views/35_person_apps.sql",
        true,
        bill: false,
        config: true,
        order: &[]
    ),
    view!(
        "person_environments",
        "views/36_person_environments.sql",
        false
    ),
    view!("months", "views/45_months.sql", true),
    view!("pack_assignments", "views/48_pack_assignments.sql", false),
    view!(
        "valid_subscriptions",
        "views/50_valid_subscriptions.sql",
        false
    ),
    view!("single_app_packs", "views/55_single_app_packs.sql", false),
    view!("persons", "views/56_persons.sql", false),
    view!(
        "waterfall_persons",
        "views/60_waterfall_persons.sql",
        true,
        bill: true,
        config: true,
        order: &[]
    ),
    view!("final_persons", "views/61_final_persons.sql", false),
    view!("consumption", "views/65_consumption.sql", false),
    view!(
        "usage",
        "views/70_usage.sql",
        false,
        bill: true,
        config: true,
        order: &["month", "step", "subscription_type", "app_id"]
    ),
];

/// A canned report (docs/semantics.md "Reports").
#[derive(Debug, Clone, Copy)]
pub struct ReportFile {
    /// Its name on the command line.
    pub name: &'static str,
    /// Its file under `sql/reports/`.
    pub file: SqlFile,
    /// What it covers.
    pub scope: ReportScope,
    /// How many of its leading columns tell its rows apart, by which two runs of it are
    /// compared (`runs diff`).
    pub key: usize,
}

/// What a canned report covers, which decides how it is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportScope {
    /// One month (`--month`, `{{month}}` in the file), on views scoped to it.
    Month,
    /// Every month with data, one month after another, oldest first.
    EveryMonth,
    /// The subscriptions as of one day (`--today`, `{{today}}` in the file); no events.
    Day,
    /// A closed month against its close (`--month`): the file compares the close's saved
    /// reports with the same reports now (docs/evidence.md "Month close").
    SinceClose,
}

macro_rules! report {
    ($name:literal, $path:literal, $scope:ident, key: $key:literal) => {
        ReportFile {
            name: $name,
            file: sql_file!($path),
            scope: ReportScope::$scope,
            key: $key,
        }
    };
}

/// The canned reports, in the order `seatcount reports` lists them.
pub(crate) const REPORTS: &[ReportFile] = &[
    report!("named-users", "reports/named-users.sql", Month, key: 4),
    report!("usage", "reports/usage.sql", Month, key: 3),
    report!("history", "reports/history.sql", EveryMonth, key: 3),
    report!("cost", "reports/cost.sql", EveryMonth, key: 3),
    report!("environments", "reports/environments.sql", Month, key: 1),
    report!("providers", "reports/providers.sql", Month, key: 3),
    report!("users", "reports/users.sql", Month, key: 1),
    report!("hygiene", "reports/hygiene.sql", Month, key: 1),
    report!("subscriptions", "reports/subscriptions.sql", Day, key: 1),
    report!("changes", "evidence/changes.sql", SinceClose, key: 1),
];

impl SqlFile {
    /// The first line of the file's leading comment: what it is for.
    pub fn summary(&self) -> &'static str {
        self.text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("--"))
            .map(str::trim)
            .unwrap_or("")
    }
}

/// Values for `{{placeholders}}`, already written as SQL literals.
#[derive(Debug, Clone, Default)]
pub struct Params(BTreeMap<&'static str, String>);

impl Params {
    /// The placeholders every semantic file may use, from the configuration. Per-app and
    /// per-environment lists become a `CASE` over the event's `app_id` or `environment_id`;
    /// a list that is present but empty means the rule does not answer there.
    pub(crate) fn from_config(config: &Config) -> Params {
        let c = &config.classification;
        let mut p = Params::default();
        p.set("case", quote(config.identifiers.case.as_str()));
        p.set("source", quote(config.identifiers.source.as_str()));
        p.set("dedup_policy", quote(config.dedup.policy.as_str()));
        p.set("dedup_scope", quote(config.dedup.scope.as_str()));
        p.set("counting_basis", quote(config.counting.basis.as_str()));
        p.set("waterfall_enabled", bool_literal(config.waterfall.enabled));
        p.set("mixed", quote(config.waterfall.mixed.as_str()));
        p.set("month_scope", "TRUE".to_string());
        p.set("stored_columns", stored_columns());
        p.set("conflict", quote(c.conflict.as_str()));
        p.set(
            "has_external_roles",
            by_key("app_id", &c.apps, &c.external_roles, |l| {
                bool_literal(!l.is_empty())
            }),
        );
        p.set(
            "external_roles",
            by_key("app_id", &c.apps, &c.external_roles, text_array),
        );
        p.set(
            "has_internal_domains",
            by_key(
                "environment_id",
                &c.environments,
                &c.internal_domains,
                |l| bool_literal(!l.is_empty()),
            ),
        );
        p.set(
            "internal_domains",
            by_key(
                "environment_id",
                &c.environments,
                &c.internal_domains,
                text_array,
            ),
        );
        let mut tenant = String::from("(CASE user_provider");
        for (provider, default) in &config.dedup.default_tenants {
            tenant.push_str(&format!(
                " WHEN {} THEN {}",
                quote(provider),
                quote(default)
            ));
        }
        tenant.push_str(" ELSE 'default' END) = tenant");
        if config.dedup.default_tenants.is_empty() {
            tenant = "tenant = 'default'".to_string();
        }
        p.set("is_default_tenant", tenant);
        p.set(
            "custom_sql",
            if c.custom_sql.trim().is_empty() {
                "CAST(NULL AS BOOLEAN)".to_string()
            } else {
                format!("({})", c.custom_sql)
            },
        );
        let order: Vec<&str> = c
            .rules
            .iter()
            .map(|r| match r {
                Rule::Roles => "by_roles",
                Rule::Custom => "by_custom",
                Rule::Domains => "by_domains",
                Rule::Reported => "by_reported",
            })
            .collect();
        // The rules with `domains` appended, as a what-if value (the hygiene report's
        // `unclassified` link); empty when domains is already one of them.
        p.set(
            "rules_then_domains",
            quote(&if c.rules.contains(&Rule::Domains) {
                String::new()
            } else {
                let names: Vec<String> = c
                    .rules
                    .iter()
                    .chain([&Rule::Domains])
                    .map(|r| format!("\"{}\"", r.as_str()))
                    .collect();
                format!("[{}]", names.join(","))
            }),
        );
        p.set(
            "rule_order",
            match order.len() {
                0 => "CAST(NULL AS VARCHAR)".to_string(),
                1 => order[0].to_string(),
                _ => format!("coalesce({})", order.join(", ")),
            },
        );
        p
    }

    /// The placeholders of the ingest files: `{{stored_columns}}`, every stored column in
    /// table order.
    pub(crate) fn for_ingest() -> Params {
        let mut p = Params::default();
        p.set("stored_columns", stored_columns());
        p
    }

    /// The placeholders of [`STORED_VIEW`]: the view's name and the stored table's.
    pub(crate) fn for_stored_view(view: &str, stored: &str) -> Params {
        let mut p = Params::default();
        p.set("view", view.to_string());
        p.set("stored", stored.to_string());
        p
    }

    /// Limits the views to one month's events (`{{month_scope}}`), for a report about that
    /// month: every view then reads only its partition.
    pub(crate) fn with_scope(mut self, month: &str) -> Params {
        self.set("month_scope", format!("month = {}", quote(month)));
        self
    }

    /// Sets the day a report takes as today.
    pub(crate) fn with_today(mut self, day: chrono::NaiveDate) -> Params {
        self.set("today", format!("DATE '{day}'"));
        self
    }

    /// Sets the report month (`YYYY-MM`, already validated).
    pub(crate) fn with_month(mut self, month: &str) -> Params {
        self.set("month", quote(month));
        self
    }

    /// `view`'s text, its own placeholders ([`View::with`]) filled besides these. Without
    /// the `layer` (no derived state, or a month that does not keep it), a view over the
    /// configuration-free layer ([`LATEST_EVENTS`]) reads every event instead: the layer
    /// exists to be kept, and a report computed from scratch is then the reference the
    /// derived one is tested against (docs/derived.md).
    pub fn render_view(&self, view: &View, layer: bool) -> Result<String> {
        let mut params = self.clone();
        for &(name, value) in view.with {
            let value = match (name, value) {
                ("events", LATEST_EVENTS) if !layer => "events",
                _ => value,
            };
            params.set(name, value.to_string());
        }
        params.render(&view.file)
    }

    fn set(&mut self, name: &'static str, literal: String) {
        self.0.insert(name, literal);
    }

    /// `text` with every `{{name}}` replaced; an unknown name is an error naming the file.
    pub fn render(&self, file: &SqlFile) -> Result<String> {
        let mut out = String::with_capacity(file.text.len() + 256);
        let mut rest = file.text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(Error::Runtime(format!(
                    "sql/{}: unclosed {{{{ placeholder",
                    file.path
                )));
            };
            let name = after[..end].trim();
            match self.0.get(name) {
                Some(value) => out.push_str(value),
                // Placeholders in comments are documentation, not parameters.
                None if line_is_comment(&out) => {
                    out.push_str("{{");
                    out.push_str(name);
                    out.push_str("}}");
                }
                None => {
                    return Err(Error::Runtime(format!(
                        "sql/{}: unknown placeholder {{{{{name}}}}}",
                        file.path
                    )));
                }
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Every stored column, in file order, for a query that keeps the stored form.
fn stored_columns() -> String {
    let names: Vec<String> = crate::warehouse::schema::stored_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    names.join(", ")
}

/// `literal(global)`, or a `CASE` over `column` when some keys have lists of their own.
fn by_key(
    column: &str,
    lists: &BTreeMap<String, Vec<String>>,
    global: &[String],
    literal: impl Fn(&[String]) -> String,
) -> String {
    if lists.is_empty() {
        return literal(global);
    }
    let mut out = format!("CASE {column}");
    for (key, list) in lists {
        out.push_str(&format!(" WHEN {} THEN {}", quote(key), literal(list)));
    }
    out.push_str(&format!(" ELSE {} END", literal(global)));
    out
}

fn line_is_comment(rendered: &str) -> bool {
    let line = rendered.rsplit('\n').next().unwrap_or("");
    line.contains("--")
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn bool_literal(b: bool) -> String {
    if b { "true" } else { "false" }.to_string()
}

/// A typed text array literal; empty lists still plan as text arrays.
fn text_array(items: &[String]) -> String {
    if items.is_empty() {
        return "make_array(CAST(NULL AS VARCHAR))".to_string();
    }
    let items: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("make_array({})", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_in_every_file_is_known() {
        let params = Params::from_config(&Config::default())
            .with_month("2026-01")
            .with_today(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        for view in VIEWS {
            let text = params.render_view(view, true).unwrap();
            assert!(!code_of(&text).contains("{{"), "{}", view.name);
        }
        let what_if = [&WHAT_IF_USAGE, &WHAT_IF_USERS];
        for file in REPORTS.iter().map(|r| &r.file).chain(what_if) {
            let text = params.render(file).unwrap();
            assert!(!code_of(&text).contains("{{"), "{}", file.path);
        }
    }

    /// `text` without its comments.
    fn code_of(text: &str) -> String {
        let code: Vec<&str> = text
            .lines()
            .map(|l| l.split("--").next().unwrap_or(""))
            .collect();
        code.join("\n")
    }

    #[test]
    fn the_layer_is_the_first_view_and_derived_without_configuration() {
        // A month's layer key covers its text alone (Engine::keeps_layer).
        assert_eq!(VIEWS[0].name, LAYER);
        assert!(!VIEWS[0].derived.expect("derived").config);
    }

    #[test]
    fn literals_are_quoted() {
        let mut config = Config::default();
        config.classification.external_roles = vec!["O'Brien".into()];
        let params = Params::from_config(&config);
        let file = SqlFile {
            path: "t.sql",
            text: "SELECT {{external_roles}} -- {{not_a_parameter}}\n",
        };
        assert_eq!(
            params.render(&file).unwrap(),
            "SELECT make_array('O''Brien') -- {{not_a_parameter}}\n"
        );
        let bad = SqlFile {
            path: "t.sql",
            text: "SELECT {{nope}}",
        };
        assert!(
            params
                .render(&bad)
                .unwrap_err()
                .to_string()
                .contains("nope")
        );
    }

    #[test]
    fn every_report_says_what_it_is() {
        for report in REPORTS {
            assert!(report.file.summary().len() > 10, "{}", report.name);
        }
    }

    /// docs/views.md lists every view, in the order they are created.
    #[test]
    fn docs_list_every_view_in_order() {
        let doc = include_str!("../../docs/views.md");
        let listed: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
            .filter(|name| VIEWS.iter().any(|v| v.name == *name))
            .collect();
        let views: Vec<&str> = VIEWS.iter().map(|v| v.name).collect();
        assert_eq!(listed, views);
    }

    /// The table above is what the code reads; the files must agree with it: each view
    /// file creates one view, named after it, or the view its own placeholders name.
    #[test]
    fn each_view_file_creates_the_one_view_it_is_named_for() {
        let params = Params::from_config(&Config::default());
        for view in VIEWS {
            let text = code_of(&params.render_view(view, true).unwrap());
            let created: Vec<&str> = text
                .match_indices("CREATE VIEW ")
                .map(|(i, m)| text[i + m.len()..].split_whitespace().next().unwrap())
                .collect();
            assert_eq!(created, [view.name], "{}", view.file.path);
            let named = view.file.path.ends_with(&format!("_{}.sql", view.name));
            assert!(named || !view.with.is_empty(), "{}", view.file.path);
        }
    }

    #[test]
    fn a_report_reads_the_month_or_the_day_its_scope_gives() {
        for report in REPORTS {
            assert_eq!(
                report.scope == ReportScope::Month,
                report.file.text.contains("{{month}}"),
                "{}",
                report.name
            );
            assert_eq!(
                report.scope == ReportScope::Day,
                report.file.text.contains("{{today}}"),
                "{}",
                report.name
            );
        }
    }
}
