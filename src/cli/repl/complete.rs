//! What the REPL's Tab offers and when a statement is complete: SQL keywords, the tables,
//! views, columns and functions of the session, report names after `\r`, and backslash
//! commands. The word lists are read once when the REPL starts.

use std::collections::BTreeSet;

use datafusion::arrow::array::AsArray;
use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::meta::{FORMATS, HELP};
use crate::engine::Engine;
use crate::error::Result;
use crate::reports;

/// The names Tab can offer.
#[derive(Debug, Default)]
pub struct Words {
    /// Tables and views.
    pub tables: BTreeSet<String>,
    /// Columns of every table and view.
    pub columns: BTreeSet<String>,
    /// Scalar, aggregate and window functions, seatcount's UDFs included.
    pub functions: BTreeSet<String>,
}

impl Words {
    /// Reads the names of `engine`'s catalog.
    pub async fn read(engine: &Engine) -> Result<Words> {
        let mut words = Words::default();
        for (sql, set) in [
            (
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
                &mut words.tables,
            ),
            (
                "SELECT DISTINCT column_name FROM information_schema.columns WHERE table_schema = 'public'",
                &mut words.columns,
            ),
        ] {
            let (_, batches) = engine.query(sql, &[]).await?.collect().await?;
            for batch in &batches {
                let column = datafusion::arrow::compute::cast(
                    batch.column(0),
                    &datafusion::arrow::datatypes::DataType::Utf8,
                )?;
                set.extend(column.as_string::<i32>().iter().flatten().map(String::from));
            }
        }
        let state = engine.context().state();
        words
            .functions
            .extend(state.scalar_functions().keys().cloned());
        words
            .functions
            .extend(state.aggregate_functions().keys().cloned());
        words
            .functions
            .extend(state.window_functions().keys().cloned());
        Ok(words)
    }
}

/// rustyline's helper: completion and the end-of-statement rule.
pub struct ReplHelper {
    words: Words,
}

impl ReplHelper {
    /// A helper offering `words`.
    pub fn new(words: Words) -> ReplHelper {
        ReplHelper { words }
    }

    /// Candidates for the word ending at `pos`, and where that word starts.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let meta = before.trim_start().starts_with('\\');
        let in_word =
            |c: char| c.is_alphanumeric() || c == '_' || (meta && (c == '\\' || c == '-'));
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !in_word(*c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = &before[start..];
        let mut out: Vec<String> = if meta {
            self.meta_candidates(before, word)
        } else {
            self.sql_candidates(word)
        };
        out.sort();
        out.dedup();
        (start, out)
    }

    fn meta_candidates(&self, before: &str, word: &str) -> Vec<String> {
        let mut parts = before.split_whitespace();
        let command = parts.next().unwrap_or_default();
        let is_first = !before.trim_start().contains(char::is_whitespace);
        let pool: Vec<String> = if is_first {
            let mut names: Vec<String> = HELP
                .iter()
                .map(|(usage, _)| usage.split(' ').next().unwrap_or(usage).to_string())
                .collect();
            names.push("\\reports".into());
            names
        } else {
            match command {
                "\\r" => reports::all().map(|r| r.name.to_string()).collect(),
                "\\d" => self.words.tables.iter().cloned().collect(),
                "\\format" => FORMATS.iter().map(|f| f.to_string()).collect(),
                "\\timing" => vec!["on".into(), "off".into()],
                "\\limit" => vec!["off".into()],
                _ => Vec::new(),
            }
        };
        pool.into_iter().filter(|c| c.starts_with(word)).collect()
    }

    fn sql_candidates(&self, word: &str) -> Vec<String> {
        if word.is_empty() {
            return Vec::new();
        }
        let lower = word.to_ascii_lowercase();
        let upper = word.chars().next().is_some_and(char::is_uppercase);
        let keywords = ALL_KEYWORDS
            .iter()
            .filter(|k| k.to_ascii_lowercase().starts_with(&lower))
            .map(|k| {
                if upper {
                    k.to_string()
                } else {
                    k.to_ascii_lowercase()
                }
            });
        let names = [
            &self.words.tables,
            &self.words.columns,
            &self.words.functions,
        ]
        .into_iter()
        .flatten()
        .filter(|n| n.to_ascii_lowercase().starts_with(&lower))
        .cloned();
        names.chain(keywords).collect()
    }
}

/// Whether `input` is ready to run: a backslash command, or SQL ending in `;`.
pub fn is_complete(input: &str) -> bool {
    let text = input.trim();
    text.is_empty() || text.starts_with('\\') || text.ends_with(';')
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = self.candidates(line, pos);
        let pairs = words
            .into_iter()
            .map(|w| Pair {
                display: w.clone(),
                replacement: w,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if is_complete(ctx.input()) {
            ValidationResult::Valid(None)
        } else {
            ValidationResult::Incomplete
        })
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ReplHelper {
        let mut words = Words::default();
        words.tables.insert("usage".into());
        words.tables.insert("counted_events".into());
        words.columns.insert("user_provider".into());
        words.functions.insert("hash_identifier".into());
        ReplHelper::new(words)
    }

    #[test]
    fn completes_sql_words_in_the_case_typed() {
        let h = helper();
        let (start, c) = h.candidates("SELECT * FROM count", 19);
        assert_eq!(start, 14);
        assert!(c.contains(&"counted_events".to_string()), "{c:?}");
        assert!(c.contains(&"count".to_string()), "{c:?}");
        let (_, c) = h.candidates("SELECT * FROM COUNT", 19);
        assert!(c.contains(&"COUNT".to_string()), "{c:?}");
        let (_, c) = h.candidates("sel", 3);
        assert_eq!(c, vec!["select".to_string()]);
        let (_, c) = h.candidates("SELECT hash_", 12);
        assert_eq!(c, vec!["hash_identifier".to_string()]);
    }

    #[test]
    fn completes_backslash_commands_and_their_arguments() {
        let h = helper();
        let (start, c) = h.candidates("\\rep", 4);
        assert_eq!((start, c), (0, vec!["\\reports".to_string()]));
        let (start, c) = h.candidates("\\r named", 8);
        assert_eq!((start, c), (3, vec!["named-users".to_string()]));
        let (_, c) = h.candidates("\\d us", 5);
        assert_eq!(c, vec!["usage".to_string()]);
        let (_, c) = h.candidates("\\format n", 9);
        assert_eq!(c, vec!["ndjson".to_string()]);
    }

    #[test]
    fn words_after_wide_characters_do_not_split_a_character() {
        let h = helper();
        let line = "SELECT '—é' || us";
        let (start, c) = h.candidates(line, line.len());
        assert_eq!(&line[start..], "us");
        assert!(c.contains(&"usage".to_string()), "{c:?}");
    }

    #[test]
    fn a_statement_ends_at_a_semicolon() {
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT 1\nFROM t"));
        assert!(is_complete("SELECT 1\n;"));
        assert!(is_complete("\\d"));
        assert!(is_complete("   "));
    }
}
