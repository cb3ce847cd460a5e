//! The SQL files under `sql/`, compiled into the binary so an installed seatcount needs no
//! files beside it. The files are the semantics; Rust only fills their `{{placeholders}}`
//! with SQL literals from the configuration and runs them.

use std::collections::BTreeMap;

use crate::config::{Config, Rule};
use crate::error::{Error, Result};

/// Normalization and hashing of validated input rows (`sql/ingest/normalize.sql`).
pub const INGEST_NORMALIZE: &str = include_str!("../../sql/ingest/normalize.sql");

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

/// The files that decide which version of a repeated event id counts, run in this order
/// over one month (docs/semantics.md "Counted events"): rank the versions, add what counts,
/// set aside what does not, and drop what was outranked from the earlier files.
pub const INGEST_CONTESTED: SqlFile = sql_file!("ingest/contested.sql");
/// See [`INGEST_CONTESTED`].
pub const INGEST_RESOLVED: SqlFile = sql_file!("ingest/resolved.sql");
/// See [`INGEST_CONTESTED`].
pub const INGEST_CONFLICTS: SqlFile = sql_file!("ingest/conflicts.sql");
/// See [`INGEST_CONTESTED`].
pub const INGEST_OUTRANKED: SqlFile = sql_file!("ingest/outranked.sql");

/// The views of the metering semantics, in dependency order (docs/semantics.md).
pub const VIEWS: &[SqlFile] = &[
    sql_file!("views/10_counted_events.sql"),
    sql_file!("views/20_accounts.sql"),
    sql_file!("views/30_account_persons.sql"),
    sql_file!("views/35_person_apps.sql"),
    sql_file!("views/40_persons.sql"),
    sql_file!("views/50_subscriptions.sql"),
    sql_file!("views/60_final_persons.sql"),
    sql_file!("views/65_consumption.sql"),
    sql_file!("views/70_usage.sql"),
];

/// The views a month-scoped session computes once and holds (see
/// [`super::Engine::install_semantics`]): each is read more than once by the views after it,
/// and DataFusion would otherwise compute it again for every read.
pub const MATERIALIZED_VIEWS: &[&str] =
    &["months", "account_persons", "final_persons", "person_apps"];

/// The canned reports (docs/semantics.md "Reports"), by report name.
pub const REPORTS: &[(&str, SqlFile)] = &[
    ("named-users", sql_file!("reports/named-users.sql")),
    ("usage", sql_file!("reports/usage.sql")),
    ("history", sql_file!("reports/history.sql")),
    ("environments", sql_file!("reports/environments.sql")),
    ("providers", sql_file!("reports/providers.sql")),
    ("users", sql_file!("reports/users.sql")),
    ("hygiene", sql_file!("reports/hygiene.sql")),
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
    pub fn from_config(config: &Config) -> Params {
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
    pub fn for_ingest() -> Params {
        let mut p = Params::default();
        let names: Vec<String> = crate::warehouse::schema::stored_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        p.set("stored_columns", names.join(", "));
        p
    }

    /// Sets the report month (`YYYY-MM`, already validated).
    /// Limits the views to one month's events (`{{month_scope}}`), for a report about that
    /// month: every view then reads only its partition.
    pub fn with_scope(mut self, month: &str) -> Params {
        self.set("month_scope", format!("month = {}", quote(month)));
        self
    }

    pub fn with_month(mut self, month: &str) -> Params {
        self.set("month", quote(month));
        self
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
        let params = Params::from_config(&Config::default()).with_month("2026-01");
        for file in VIEWS.iter().chain(REPORTS.iter().map(|(_, f)| f)) {
            let text = params.render(file).unwrap();
            let code: String = text
                .lines()
                .map(|l| l.split("--").next().unwrap_or(""))
                .collect();
            assert!(!code.contains("{{"), "{}", file.path);
        }
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
        for (name, file) in REPORTS {
            assert!(file.summary().len() > 10, "{name}");
        }
    }
}
