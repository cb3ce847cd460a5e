//! `seatcount.toml` (SPEC §6). Every key is optional and defaults to the value the spec
//! names; an unknown key or a bad value is refused with a sentence naming it, because a
//! typo in a licence rule must not silently fall back to a default.

use std::path::Path;

use serde::Deserialize;

use crate::engine::udf::CaseMode;
use crate::error::{Error, Result};

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[identifiers]`.
    pub identifiers: Identifiers,
    /// `[dedup]`.
    pub dedup: Dedup,
    /// `[classification]`.
    pub classification: Classification,
}

/// How identifiers compare.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Identifiers {
    /// `case`: insensitive (default) or sensitive.
    pub case: CaseMode,
}

/// Which accounts are one person.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Dedup {
    /// `policy`.
    pub policy: DedupPolicy,
}

/// `dedup.policy`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DedupPolicy {
    /// Mendix: NamedUserIdentifier, else user name.
    #[default]
    Identifier,
    /// OutSystems: shared user name or e-mail, transitively, within tenant `default`.
    UsernameOrEmail,
}

/// Classification rules.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Classification {
    /// Ordered rules; the first that answers wins.
    pub rules: Vec<Rule>,
    /// Roles that make an account External.
    pub external_roles: Vec<String>,
    /// E-mail domains that are Internal.
    pub internal_domains: Vec<String>,
    /// A boolean SQL expression over stored columns: true External, false Internal.
    pub custom_sql: String,
    /// How a person's differently classified accounts resolve.
    pub conflict: Conflict,
}

impl Default for Classification {
    fn default() -> Self {
        Classification {
            rules: vec![Rule::Roles, Rule::Custom, Rule::Reported],
            external_roles: Vec::new(),
            internal_domains: Vec::new(),
            custom_sql: String::new(),
            conflict: Conflict::default(),
        }
    }
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

impl DedupPolicy {
    /// The name used in the configuration and the SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            DedupPolicy::Identifier => "identifier",
            DedupPolicy::UsernameOrEmail => "username_or_email",
        }
    }
}

impl Conflict {
    /// The name used in the configuration and the SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Conflict::InternalWins => "internal_wins",
            Conflict::ExternalWins => "external_wins",
            Conflict::Latest => "latest",
        }
    }
}

impl Config {
    /// Parses TOML text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_string();
            let place = e
                .span()
                .map(|s| format!(" (line {})", text[..s.start].lines().count().max(1)))
                .unwrap_or_default();
            Error::Usage(format!("{origin}{place}: {message}"))
        })?;
        config.classification.internal_domains = config
            .classification
            .internal_domains
            .iter()
            .map(|d| d.trim().to_lowercase())
            .collect();
        let custom = config.classification.custom_sql.trim();
        if !custom.is_empty() {
            check_expression(custom).map_err(|reason| {
                Error::Usage(format!(
                    "{origin}: classification.custom_sql must be one SQL boolean expression over the stored event columns: {reason}"
                ))
            })?;
        }
        Ok(config)
    }

    /// Reads `path`; a missing file is the default configuration unless it was asked for
    /// by name (`required`).
    pub fn load(path: &Path, required: bool) -> Result<Config> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                Ok(Config::default())
            }
            Err(e) => Err(Error::io(path, e)),
        }
    }
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

    #[test]
    fn empty_file_is_the_spec_default() {
        let c = Config::parse("", "t").unwrap();
        assert_eq!(
            c.classification.rules,
            vec![Rule::Roles, Rule::Custom, Rule::Reported]
        );
        assert_eq!(c.dedup.policy, DedupPolicy::Identifier);
        assert_eq!(c.identifiers.case, CaseMode::Insensitive);
        assert_eq!(c.classification.conflict, Conflict::InternalWins);
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
