//! `seatcount.toml` (docs/configuration.md). Every key is
//! optional and defaults to its profile's value; an unknown key or a bad value is refused
//! with a sentence naming it, because a typo in a licence rule must not silently fall back
//! to a default.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::identity::CaseMode;

/// The resolved configuration: every key has its value, from the file or from the profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `profile`: whose bill the defaults reproduce.
    pub profile: Profile,
    /// `[identifiers]`.
    pub identifiers: Identifiers,
    /// `[dedup]`.
    pub dedup: Dedup,
    /// `[counting]`.
    pub counting: Counting,
    /// `[classification]`.
    pub classification: Classification,
    /// `[waterfall]`.
    pub waterfall: Waterfall,
}

/// `profile`: a set of defaults, one per vendor (docs/semantics.md "Profiles").
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// Mendix's user metering.
    #[default]
    Mendix,
    /// OutSystems' registered active users per environment.
    Outsystems,
}

/// How identifiers are chosen and compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Identifiers {
    /// `case`: exact, sensitive or insensitive.
    pub case: CaseMode,
    /// `source`: which input column identifies an account.
    pub source: IdentifierSource,
}

/// `identifiers.source`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierSource {
    /// The NamedUserIdentifier when present, else the user name (Mendix).
    NuiThenName,
    /// The user name only.
    Name,
}

/// Which accounts are one person, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Dedup {
    /// `policy`.
    pub policy: DedupPolicy,
    /// `scope`.
    pub scope: DedupScope,
    /// `default_tenants`: a user provider's default tenant, when not empty or `default`.
    pub default_tenants: BTreeMap<String, String>,
}

/// `dedup.policy`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DedupPolicy {
    /// Mendix: equal identifiers are one person.
    Identifier,
    /// OutSystems 11.11.3 and later: shared user name or e-mail, transitively, within a
    /// provider's default tenant.
    UsernameOrEmail,
    /// OutSystems before 11.11.3: every (provider, tenant, user name) is its own person.
    Account,
}

/// `dedup.scope`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DedupScope {
    /// Persons are formed across every environment (Mendix).
    Portfolio,
    /// Persons are formed inside each environment; totals are sums (OutSystems).
    Environment,
}

/// What makes an event count.
#[derive(Debug, Clone, PartialEq)]
pub struct Counting {
    /// `basis`.
    pub basis: CountingBasis,
}

/// `counting.basis`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CountingBasis {
    /// A person counts in a month with at least one active login (Mendix).
    Logins,
    /// An account counts when its latest production record of the month is active
    /// (OutSystems' registered active users).
    ActiveRecords,
}

/// Classification rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// Ordered rules; the first that answers wins.
    pub rules: Vec<Rule>,
    /// Roles that make an account External, unless its app has its own list.
    pub external_roles: Vec<String>,
    /// E-mail domains that are Internal, unless the environment has its own list.
    pub internal_domains: Vec<String>,
    /// A boolean SQL expression over stored columns: true External, false Internal.
    pub custom_sql: String,
    /// How a person's differently classified accounts resolve.
    pub conflict: Conflict,
    /// `[classification.apps.<app_id>]`: per-app external roles.
    pub apps: BTreeMap<String, Vec<String>>,
    /// `[classification.environments.<environment_id>]`: per-environment internal domains.
    pub environments: BTreeMap<String, Vec<String>>,
}

/// The waterfall External → Single-App → Multi-App.
#[derive(Debug, Clone, PartialEq)]
pub struct Waterfall {
    /// `enabled`: false counts `internal` and `external` only, with no fall-through.
    pub enabled: bool,
    /// `mixed`: where a person who used apps with and without a pack counts.
    pub mixed: Mixed,
}

/// `waterfall.mixed`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mixed {
    /// Single-App users only: the vendor's documented sequence.
    #[default]
    SingleApp,
    /// Multi-App only: one Multi-App seat covers every app.
    MultiApp,
    /// Against each pack and once as Multi-App.
    Both,
}

/// One classification rule.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// `external_roles`.
    Roles,
    /// `custom_sql`.
    Custom,
    /// `internal_domains`.
    Domains,
    /// The app's own user_type.
    Reported,
}

/// `classification.conflict`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Conflict {
    /// Internal unless External everywhere.
    #[default]
    InternalWins,
    /// External if External anywhere.
    ExternalWins,
    /// The account with the latest counted event.
    Latest,
}

/// The file as written: `None` is a key left to the profile.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct File {
    profile: Profile,
    identifiers: FileIdentifiers,
    dedup: FileDedup,
    counting: FileCounting,
    classification: FileClassification,
    waterfall: FileWaterfall,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileIdentifiers {
    case: Option<CaseMode>,
    source: Option<IdentifierSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileDedup {
    policy: Option<DedupPolicy>,
    scope: Option<DedupScope>,
    default_tenants: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileCounting {
    basis: Option<CountingBasis>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileClassification {
    rules: Option<Vec<Rule>>,
    external_roles: Vec<String>,
    internal_domains: Vec<String>,
    custom_sql: String,
    conflict: Conflict,
    apps: BTreeMap<String, FileApp>,
    environments: BTreeMap<String, FileEnvironment>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileApp {
    external_roles: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileEnvironment {
    internal_domains: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileWaterfall {
    enabled: Option<bool>,
    mixed: Option<Mixed>,
}

impl Default for Config {
    /// The Mendix profile with nothing configured.
    fn default() -> Self {
        Config::resolve(File::default()).expect("the empty file resolves")
    }
}

macro_rules! names {
    ($($ty:ident { $($variant:ident => $name:literal),+ $(,)? })+) => {$(
        impl $ty {
            /// The name used in the configuration and the SQL.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }
    )+};
}

names! {
    Profile { Mendix => "mendix", Outsystems => "outsystems" }
    IdentifierSource { NuiThenName => "nui_then_name", Name => "name" }
    DedupPolicy { Identifier => "identifier", UsernameOrEmail => "username_or_email", Account => "account" }
    DedupScope { Portfolio => "portfolio", Environment => "environment" }
    CountingBasis { Logins => "logins", ActiveRecords => "active_records" }
    Mixed { SingleApp => "single_app", MultiApp => "multi_app", Both => "both" }
    Conflict { InternalWins => "internal_wins", ExternalWins => "external_wins", Latest => "latest" }
    Rule { Roles => "roles", Custom => "custom", Domains => "domains", Reported => "reported" }
}

impl Profile {
    /// The profile's rule order.
    fn rules(self) -> Vec<Rule> {
        match self {
            Profile::Mendix => vec![Rule::Roles, Rule::Custom, Rule::Reported],
            Profile::Outsystems => vec![Rule::Domains],
        }
    }
}

/// The Mendix profile's value, or OutSystems'.
fn pick<T>(mendix: bool, mendix_value: T, outsystems_value: T) -> T {
    if mendix {
        mendix_value
    } else {
        outsystems_value
    }
}

fn domains(list: Vec<String>) -> Vec<String> {
    list.iter().map(|d| d.trim().to_lowercase()).collect()
}

impl Config {
    /// Fills every key the file left out from its profile, and refuses a key the rest of
    /// the configuration makes meaningless, since it would silently change nothing.
    fn resolve(file: File) -> std::result::Result<Config, String> {
        let p = file.profile;
        let mendix = p == Profile::Mendix;
        let waterfall_enabled = file.waterfall.enabled.unwrap_or(mendix);
        if !waterfall_enabled && file.waterfall.mixed.is_some() {
            return Err(
                "waterfall.mixed has no effect with waterfall.enabled = false; remove one of them"
                    .into(),
            );
        }
        let policy = file.dedup.policy.unwrap_or(pick(
            mendix,
            DedupPolicy::Identifier,
            DedupPolicy::UsernameOrEmail,
        ));
        if policy != DedupPolicy::UsernameOrEmail && file.dedup.default_tenants.is_some() {
            return Err(format!(
                "dedup.default_tenants has no effect with dedup.policy = \"{}\"; it applies to \"username_or_email\" only",
                policy.as_str()
            ));
        }
        let c = file.classification;
        Ok(Config {
            profile: p,
            identifiers: Identifiers {
                case: file.identifiers.case.unwrap_or(pick(
                    mendix,
                    CaseMode::Exact,
                    CaseMode::Insensitive,
                )),
                source: file.identifiers.source.unwrap_or(pick(
                    mendix,
                    IdentifierSource::NuiThenName,
                    IdentifierSource::Name,
                )),
            },
            dedup: Dedup {
                policy,
                scope: file.dedup.scope.unwrap_or(pick(
                    mendix,
                    DedupScope::Portfolio,
                    DedupScope::Environment,
                )),
                default_tenants: file.dedup.default_tenants.unwrap_or_default(),
            },
            counting: Counting {
                basis: file.counting.basis.unwrap_or(pick(
                    mendix,
                    CountingBasis::Logins,
                    CountingBasis::ActiveRecords,
                )),
            },
            classification: Classification {
                rules: c.rules.unwrap_or_else(|| p.rules()),
                external_roles: c.external_roles,
                internal_domains: domains(c.internal_domains),
                custom_sql: c.custom_sql,
                conflict: c.conflict,
                apps: c
                    .apps
                    .into_iter()
                    .map(|(app, rules)| (app, rules.external_roles))
                    .collect(),
                environments: c
                    .environments
                    .into_iter()
                    .map(|(env, rules)| (env, domains(rules.internal_domains)))
                    .collect(),
            },
            waterfall: Waterfall {
                enabled: waterfall_enabled,
                mixed: file.waterfall.mixed.unwrap_or_default(),
            },
        })
    }

    /// Parses TOML text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        Config::parse_with(text, origin, &[])
    }

    /// Parses TOML text with `overrides` applied on top of it, as a what-if
    /// (docs/configuration.md "What-if"); errors then name the overrides too.
    pub fn parse_with(text: &str, origin: &str, overrides: &[Override]) -> Result<Config> {
        let syntax = |e: toml::de::Error| {
            let message = e.message().trim().to_string();
            let place = e
                .span()
                .map(|s| format!(" (line {})", text[..s.start].lines().count().max(1)))
                .unwrap_or_default();
            Error::Usage(format!("{origin}{place}: {message}"))
        };
        let (file, origin): (File, String) = if overrides.is_empty() {
            (toml::from_str(text).map_err(syntax)?, origin.to_string())
        } else {
            let mut table: toml::Table = toml::from_str(text).map_err(syntax)?;
            for o in overrides {
                o.apply(&mut table)?;
            }
            let listed: Vec<String> = overrides
                .iter()
                .map(|o| format!("--what-if {}", o.text))
                .collect();
            let origin = format!("{origin} with {}", listed.join(" "));
            let file = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    Error::Usage(format!("{origin}: {}", e.message().trim()))
                })?;
            (file, origin)
        };
        let origin = origin.as_str();
        let config =
            Config::resolve(file).map_err(|reason| Error::Usage(format!("{origin}: {reason}")))?;
        let custom = config.classification.custom_sql.trim();
        if !custom.is_empty() {
            check_expression(custom).map_err(|reason| refuse_custom_sql(Some(origin), reason))?;
        }
        Ok(config)
    }

    /// Reads `path`; a missing file is the default configuration unless it was asked for
    /// by name (`required`).
    pub fn load(path: &Path, required: bool) -> Result<Config> {
        Config::load_with(path, required, &[])
    }

    /// [`Config::load`] with `overrides` applied on top of the file (a what-if).
    pub fn load_with(path: &Path, required: bool, overrides: &[Override]) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => String::new(),
            Err(e) => return Err(Error::io(path, e)),
        };
        Config::parse_with(&text, &path.display().to_string(), overrides)
    }
}

/// One `--what-if KEY=VALUE`: a dotted key of `seatcount.toml` and the value it takes in the
/// what-if. The value is TOML (`false`, `["reported", "domains"]`); a bare word is a string, so
/// `identifiers.case=insensitive` needs no quotes. An empty value removes the key, so it takes
/// its profile's default again.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// As given, for messages and the report's header.
    pub text: String,
    path: Vec<String>,
    value: Option<toml::Value>,
}

impl std::str::FromStr for Override {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let (key, value) = text.split_once('=').ok_or_else(|| {
            format!("{text:?} is not KEY=VALUE (e.g. identifiers.case=insensitive)")
        })?;
        let path: Vec<String> = key
            .trim()
            .split('.')
            .map(|p| p.trim().to_string())
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(format!("{text:?} does not name a key of seatcount.toml"));
        }
        let value = value.trim();
        let value = (!value.is_empty()).then(|| {
            format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.to_string()))
        });
        Ok(Override {
            text: text.to_string(),
            path,
            value,
        })
    }
}

impl Override {
    /// Sets (or removes) the key in the file's table, making the tables on its way.
    fn apply(&self, table: &mut toml::Table) -> Result<()> {
        let (last, parents) = self.path.split_last().expect("a key is never empty");
        let mut at = table;
        for part in parents {
            let next = at
                .entry(part.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            at = next.as_table_mut().ok_or_else(|| {
                Error::Usage(format!(
                    "--what-if {}: {part} is a value in seatcount.toml, not a table",
                    self.text
                ))
            })?;
        }
        match &self.value {
            Some(v) => {
                at.insert(last.clone(), v.clone());
            }
            None => {
                at.remove(last);
            }
        }
        Ok(())
    }
}

/// The one refusal of a `classification.custom_sql`, whether it fails to parse here or to
/// plan in the engine (`origin` is the file, when known).
pub(crate) fn refuse_custom_sql(origin: Option<&str>, reason: impl std::fmt::Display) -> Error {
    let origin = origin.map(|o| format!("{o}: ")).unwrap_or_default();
    Error::Usage(format!(
        "{origin}classification.custom_sql must be one SQL boolean expression over the stored event columns: {reason}"
    ))
}

/// Refuses anything but exactly one expression: no statements, no trailing text.
fn check_expression(text: &str) -> std::result::Result<(), String> {
    use datafusion::sql::sqlparser::{dialect::GenericDialect, parser::Parser, tokenizer::Token};
    let mut parser = Parser::new(&GenericDialect {})
        .try_with_sql(text)
        .map_err(|e| e.to_string())?;
    parser.parse_expr().map_err(|e| e.to_string())?;
    match parser.peek_token().token {
        Token::EOF => Ok(()),
        other => Err(format!("unexpected {other} after the expression")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn what_if(text: &str, overrides: &[&str]) -> Result<Config> {
        let overrides: Vec<Override> = overrides.iter().map(|o| o.parse().unwrap()).collect();
        Config::parse_with(text, "t", &overrides)
    }

    #[test]
    fn a_what_if_sets_removes_and_checks_keys() {
        let base = "[waterfall]\nmixed = \"both\"\n";
        let c = what_if(
            base,
            &["identifiers.case=insensitive", "waterfall.mixed=multi_app"],
        )
        .unwrap();
        assert_eq!(c.identifiers.case, CaseMode::Insensitive);
        assert_eq!(c.waterfall.mixed, Mixed::MultiApp);
        // An empty value gives the key back to its profile.
        assert_eq!(
            what_if(base, &["waterfall.mixed="])
                .unwrap()
                .waterfall
                .mixed,
            Mixed::SingleApp
        );
        let c = what_if(
            "",
            &[
                "classification.rules=[\"reported\", \"domains\"]",
                "waterfall.enabled=false",
            ],
        )
        .unwrap();
        assert_eq!(c.classification.rules, vec![Rule::Reported, Rule::Domains]);
        assert!(!c.waterfall.enabled);
        // The profile's defaults follow a what-if of the profile; the file's keys still win.
        let c = what_if("[identifiers]\ncase = \"exact\"\n", &["profile=outsystems"]).unwrap();
        assert_eq!(c.dedup.policy, DedupPolicy::UsernameOrEmail);
        assert_eq!(c.identifiers.case, CaseMode::Exact);
        for (bad, says) in [
            ("identifiers.case=upper", "upper"),
            ("identifiers.cas=exact", "cas"),
            ("profile.case=exact", "profile"),
        ] {
            let e = what_if("", &[bad]).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("--what-if"), "{bad}: {e}");
        }
        assert!("nokey".parse::<Override>().is_err());
        assert!(".x=1".parse::<Override>().is_err());
    }

    #[test]
    fn empty_file_is_the_mendix_profile() {
        let c = Config::parse("", "t").unwrap();
        assert_eq!(c.profile, Profile::Mendix);
        assert_eq!(
            c.classification.rules,
            vec![Rule::Roles, Rule::Custom, Rule::Reported]
        );
        assert_eq!(c.dedup.policy, DedupPolicy::Identifier);
        assert_eq!(c.dedup.scope, DedupScope::Portfolio);
        assert_eq!(c.identifiers.case, CaseMode::Exact);
        assert_eq!(c.identifiers.source, IdentifierSource::NuiThenName);
        assert_eq!(c.counting.basis, CountingBasis::Logins);
        assert_eq!(c.classification.conflict, Conflict::InternalWins);
        assert!(c.waterfall.enabled);
        assert_eq!(c.waterfall.mixed, Mixed::SingleApp);
    }

    #[test]
    fn outsystems_profile_sets_its_defaults_and_keys_override_them() {
        let c = Config::parse("profile = \"outsystems\"\n", "t").unwrap();
        assert_eq!(c.identifiers.case, CaseMode::Insensitive);
        assert_eq!(c.identifiers.source, IdentifierSource::Name);
        assert_eq!(c.dedup.policy, DedupPolicy::UsernameOrEmail);
        assert_eq!(c.dedup.scope, DedupScope::Environment);
        assert_eq!(c.counting.basis, CountingBasis::ActiveRecords);
        assert_eq!(c.classification.rules, vec![Rule::Domains]);
        assert!(!c.waterfall.enabled);
        let c = Config::parse(
            "profile = \"outsystems\"\n[identifiers]\ncase = \"exact\"\n[dedup]\npolicy = \"account\"\n[waterfall]\nenabled = true\nmixed = \"both\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.identifiers.case, CaseMode::Exact);
        assert_eq!(c.dedup.policy, DedupPolicy::Account);
        assert_eq!(c.dedup.scope, DedupScope::Environment);
        assert!(c.waterfall.enabled);
        assert_eq!(c.waterfall.mixed, Mixed::Both);
    }

    #[test]
    fn a_key_the_configuration_makes_meaningless_is_refused() {
        let e = Config::parse(
            "profile = \"outsystems\"\n[waterfall]\nmixed = \"both\"\n",
            "seatcount.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("waterfall.mixed"), "{e}");
        let e = Config::parse(
            "[dedup]\ndefault_tenants = { P = \"Users\" }\n",
            "seatcount.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("dedup.default_tenants"), "{e}");
    }

    #[test]
    fn per_app_and_per_environment_lists_parse() {
        let c = Config::parse(
            "[classification.apps.crm]\nexternal_roles = [\"Customer\"]\n[classification.environments.env-7]\ninternal_domains = [\" X.com \"]\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.classification.apps["crm"], vec!["Customer"]);
        assert_eq!(c.classification.environments["env-7"], vec!["x.com"]);
    }

    #[test]
    fn full_file_parses() {
        let c = Config::parse(
            r#"
[identifiers]
case = "sensitive"
[dedup]
policy = "username_or_email"
[classification]
rules = ["domains", "reported"]
external_roles = ["Customer"]
internal_domains = [" MyCompany.com "]
custom_sql = "email_domain = 'partner.org'"
conflict = "latest"
"#,
            "t",
        )
        .unwrap();
        assert_eq!(c.identifiers.case, CaseMode::Sensitive);
        assert_eq!(c.dedup.policy, DedupPolicy::UsernameOrEmail);
        assert_eq!(c.classification.internal_domains, vec!["mycompany.com"]);
        assert_eq!(c.classification.conflict, Conflict::Latest);
    }

    /// docs/configuration.md shows the whole file with the Mendix profile's values: it must
    /// parse, mean exactly the default, and list every key the profiles set in its table.
    #[test]
    fn the_documented_file_is_the_mendix_default() {
        let doc = include_str!("../docs/configuration.md");
        let block = doc
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("docs/configuration.md shows the file");
        let documented = Config::parse(block, "docs/configuration.md").unwrap();
        let mut default = Config::parse("", "t").unwrap();
        default.classification.apps = documented.classification.apps.clone();
        default.classification.environments = documented.classification.environments.clone();
        assert_eq!(documented, default);
        assert!(documented.classification.apps.contains_key("crm"));
        for key in [
            "identifiers.case",
            "identifiers.source",
            "dedup.policy",
            "dedup.scope",
            "counting.basis",
            "classification.rules",
            "waterfall.enabled",
        ] {
            assert!(doc.contains(&format!("| `{key}` |")), "{key}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let e = Config::parse("[dedup]\npolicyy = \"identifier\"\n", "seatcount.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("policyy"), "{e}");
        let e = Config::parse(
            "[classification]\nconflict = \"newest\"\n",
            "seatcount.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("newest") && e.contains("line 2"), "{e}");
        let e = Config::parse("[colour]\n", "seatcount.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn custom_sql_must_be_one_expression() {
        let ok = "[classification]\ncustom_sql = \"email_domain = 'partner.org'\"\n";
        assert!(Config::parse(ok, "t").is_ok());
        for bad in [
            "email_domain = 'a'; DROP TABLE events",
            "COPY events TO '/tmp/x'",
            "CREATE TABLE x AS SELECT 1",
            "email_domain =",
        ] {
            let text = format!("[classification]\ncustom_sql = \"{bad}\"\n");
            let e = Config::parse(&text, "t").unwrap_err().to_string();
            assert!(e.contains("classification.custom_sql"), "{bad}: {e}");
        }
    }
}
