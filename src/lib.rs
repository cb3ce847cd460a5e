//! seatcount: an embedded analytics engine that meters the named end users of a low-code
//! app portfolio for licensing. Raw login events are ingested into hashed, month-partitioned
//! Parquet; DataFusion runs the SQL under `sql/` that defines who counts and how.
//!
//! Data flows ingest → warehouse → engine → reports → cli. The modules depend on each other
//! in one direction only, each on those listed before it in [`LAYERS`]: [`error`] at the
//! bottom; [`identity`], the rules that make two identifiers one; [`config`]; [`warehouse`],
//! the files on disk; [`engine`], DataFusion with seatcount's functions and SQL; [`ingest`],
//! which normalizes and hashes through the engine and writes the warehouse; [`reports`];
//! [`generate`], synthetic input; and [`cli`] on top. A test keeps it so.
//!
//! Submodules, functions and constants are `pub(crate)` unless the binary, the integration
//! tests or the benchmarks use them, so an item nothing calls is reported as dead code. Types
//! stay `pub` where a public function's signature names them.

pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod generate;
pub mod identity;
pub mod ingest;
pub mod reports;
pub mod warehouse;

/// The modules from the bottom up: each may use only those before it.
pub const LAYERS: &[&str] = &[
    "error",
    "identity",
    "config",
    "warehouse",
    "engine",
    "ingest",
    "reports",
    "generate",
    "cli",
];

#[cfg(test)]
mod layers {
    use super::LAYERS;
    use std::path::Path;

    /// Every `crate::<module>` a file of `dir` names, with the file.
    fn references(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                references(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.match_indices("crate::") {
                    let name: String = text[i + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    out.push((path.display().to_string(), name));
                }
            }
        }
    }

    /// The layer a file of `src/` belongs to.
    fn layer_of(file: &str) -> Option<usize> {
        let relative = file.split("/src/").last()?;
        let module = relative.split(['/', '.']).next()?;
        LAYERS.iter().position(|l| *l == module)
    }

    #[test]
    fn modules_use_only_the_layers_below_them() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        references(&src, &mut found);
        let mut upward = Vec::new();
        for (file, target) in &found {
            let (Some(from), Some(to)) = (layer_of(file), LAYERS.iter().position(|l| l == target))
            else {
                continue;
            };
            if to > from {
                upward.push(format!("{file} uses crate::{target}"));
            }
        }
        upward.sort();
        upward.dedup();
        assert!(
            upward.is_empty(),
            "upward dependencies:\n{}",
            upward.join("\n")
        );
        assert!(found.len() > 50, "the scan found the crate's references");
    }
}
