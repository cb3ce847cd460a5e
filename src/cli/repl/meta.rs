//! Backslash commands, parsed apart from running them so the grammar is testable alone.

use clap::ValueEnum;

use crate::config::Override;

use crate::reports;
use crate::reports::format::OutputFormat;

/// One backslash command.
#[derive(Debug, Clone, PartialEq)]
pub enum Meta {
    /// `\?`: the list below.
    Help,
    /// `\q`: leave.
    Quit,
    /// `\d [NAME]`: tables and views, or one's columns.
    Describe(Option<String>),
    /// `\reports`: the canned reports.
    Reports,
    /// `\r NAME [YYYY-MM] [KEY=VALUE ...]`: run a canned report, or compare it with a what-if.
    Report {
        /// The report's name.
        name: String,
        /// Its month; default: `\month`, else the latest with data.
        month: Option<String>,
        /// The what-if's changed keys; none for the plain report.
        what_if: Vec<Override>,
    },
    /// `\format FORMAT`.
    Format(OutputFormat),
    /// `\timing on|off`.
    Timing(bool),
    /// `\month YYYY-MM`: the default month of `\r`.
    Month(String),
    /// `\limit N|off`: how many rows to print.
    Limit(Option<usize>),
}

/// Every command with its one-line help, in `\?` order; completion uses the names too.
pub const HELP: &[(&str, &str)] = &[
    ("\\?", "this help"),
    ("\\q", "quit (or Ctrl-D)"),
    ("\\d", "list tables and views"),
    ("\\d NAME", "columns and types of a table or view"),
    ("\\reports", "list the canned reports"),
    ("\\r NAME [YYYY-MM]", "run a canned report"),
    (
        "\\r NAME [YYYY-MM] KEY=VALUE ...",
        "the report beside a what-if (usage, history, users)",
    ),
    ("\\format FORMAT", "table, csv, json or ndjson"),
    ("\\timing on|off", "print how long each statement took"),
    ("\\month YYYY-MM", "default month for \\r"),
    ("\\limit N|off", "print at most N rows of a result"),
];

/// Formats a terminal can show (Parquet is binary).
pub const FORMATS: &[&str] = &["table", "csv", "json", "ndjson"];

/// Parses a line starting with `\`; the error is one sentence for the analyst.
pub fn parse(line: &str) -> Result<Meta, String> {
    let line = line.trim().trim_end_matches(';').trim_end();
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or_default();
    let args: Vec<&str> = words.collect();
    let arity = |max: usize| {
        if args.len() > max {
            Err(format!(
                "{command} takes at most {max} argument(s); see \\?"
            ))
        } else {
            Ok(())
        }
    };
    let one = |what: &str| match args.as_slice() {
        [a] => Ok(a.to_string()),
        _ => Err(format!("{command} needs {what}; see \\?")),
    };
    match command {
        "\\?" | "\\h" | "\\help" => arity(0).map(|_| Meta::Help),
        "\\q" | "\\quit" => arity(0).map(|_| Meta::Quit),
        "\\d" => arity(1).map(|_| Meta::Describe(args.first().map(|s| s.to_string()))),
        "\\reports" => arity(0).map(|_| Meta::Reports),
        "\\r" => {
            let (what_if, plain): (Vec<&str>, Vec<&str>) =
                args.iter().partition(|a| a.contains('='));
            if plain.len() > 2 {
                return Err(format!(
                    "{command} takes a report, a month and KEY=VALUE what-ifs; see \\?"
                ));
            }
            let name = plain
                .first()
                .ok_or_else(|| "\\r needs a report name; \\reports lists them".to_string())?;
            let month = plain
                .get(1)
                .map(|m| reports::parse_month(m).map_err(|e| e.to_string()))
                .transpose()?;
            let what_if = what_if
                .iter()
                .map(|o| o.parse::<Override>())
                .collect::<Result<_, _>>()?;
            Ok(Meta::Report {
                name: name.to_string(),
                month,
                what_if,
            })
        }
        "\\format" => {
            let name = one("a format (table, csv, json or ndjson)")?;
            match OutputFormat::from_str(&name, true) {
                Ok(f) if FORMATS.contains(&name.to_ascii_lowercase().as_str()) => {
                    Ok(Meta::Format(f))
                }
                _ => Err(format!(
                    "{name:?} is not a format here; use table, csv, json or ndjson"
                )),
            }
        }
        "\\timing" => match one("on or off")?.as_str() {
            "on" => Ok(Meta::Timing(true)),
            "off" => Ok(Meta::Timing(false)),
            other => Err(format!("\\timing takes on or off, not {other:?}")),
        },
        "\\month" => {
            let m = one("a month (YYYY-MM)")?;
            reports::parse_month(&m)
                .map(Meta::Month)
                .map_err(|e| e.to_string())
        }
        "\\limit" => match one("a row count or off")?.as_str() {
            "off" => Ok(Meta::Limit(None)),
            n => n
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .map(|n| Meta::Limit(Some(n)))
                .ok_or_else(|| format!("\\limit takes a positive row count or off, not {n:?}")),
        },
        other => Err(format!("unknown command {other}; \\? lists the commands")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        assert_eq!(parse("\\q"), Ok(Meta::Quit));
        assert_eq!(parse("\\d"), Ok(Meta::Describe(None)));
        assert_eq!(
            parse("\\d usage;"),
            Ok(Meta::Describe(Some("usage".into())))
        );
        assert_eq!(
            parse("\\r usage 2026-09"),
            Ok(Meta::Report {
                name: "usage".into(),
                month: Some("2026-09".into()),
                what_if: vec![]
            })
        );
        assert_eq!(
            parse("\\r usage waterfall.mixed=both 2026-09"),
            Ok(Meta::Report {
                name: "usage".into(),
                month: Some("2026-09".into()),
                what_if: vec!["waterfall.mixed=both".parse().unwrap()]
            })
        );
        assert_eq!(parse("\\format CSV"), Ok(Meta::Format(OutputFormat::Csv)));
        assert_eq!(parse("\\timing on"), Ok(Meta::Timing(true)));
        assert_eq!(parse("\\month 2026-10"), Ok(Meta::Month("2026-10".into())));
        assert_eq!(parse("\\limit 5"), Ok(Meta::Limit(Some(5))));
        assert_eq!(parse("\\limit off"), Ok(Meta::Limit(None)));
    }

    #[test]
    fn refuses_with_a_sentence() {
        for bad in [
            "\\format parquet",
            "\\timing maybe",
            "\\month 2026-13",
            "\\limit 0",
            "\\r",
            "\\r usage 2026-09 extra",
            "\\q now",
            "\\x",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.is_empty() && !e.contains('\n'), "{bad}: {e}");
        }
    }
}
