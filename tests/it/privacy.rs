//! docs/input.md "What lands on disk": no clear identifier lands in the warehouse. Every stored
//! value is read back and compared with every clear identifier of the input.

use datafusion::arrow::array::Array;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader;

use crate::common::{Fixture, sample_files};

/// Every user name, NamedUserIdentifier and e-mail of the shipped sample, in the forms that
/// could leak: as given, trimmed and lowercased.
fn clear_identifiers() -> Vec<String> {
    let files = sample_files();
    let mut ids = Vec::new();
    let mut csv = csv::Reader::from_path(&files[0]).unwrap();
    let headers = csv.headers().unwrap().clone();
    for record in csv.records() {
        let record = record.unwrap();
        for (name, value) in headers.iter().zip(record.iter()) {
            if ["user_name", "named_user_identifier", "email"].contains(&name) {
                ids.push(value.to_string());
            }
        }
    }
    for line in std::fs::read_to_string(&files[1]).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for name in ["user_name", "named_user_identifier", "email"] {
            if let Some(s) = v[name].as_str() {
                ids.push(s.to_string());
            }
        }
    }
    let mut all: Vec<String> = ids
        .iter()
        .flat_map(|s| [s.clone(), s.trim().to_string(), s.trim().to_lowercase()])
        .filter(|s| !s.is_empty())
        .collect();
    all.sort();
    all.dedup();
    all
}

/// Every value of every column of every stored Parquet file, read directly (not through the
/// `events` table, which would hide a column it does not declare), as text.
fn stored_values(fx: &Fixture) -> Vec<(String, String)> {
    let options = FormatOptions::default();
    let mut values = Vec::new();
    for file in fx.files().iter().filter(|f| f.ends_with(".parquet")) {
        let reader = ParquetRecordBatchReader::try_new(
            std::fs::File::open(fx.wh().join(file)).unwrap(),
            1024,
        )
        .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                let format = ArrayFormatter::try_new(column.as_ref(), &options).unwrap();
                for row in 0..column.len() {
                    if column.is_valid(row) {
                        values.push((field.name().clone(), format.value(row).to_string()));
                    }
                }
            }
        }
    }
    values
}

#[test]
fn no_stored_value_is_a_clear_identifier() {
    let fx = Fixture::new();
    let files = sample_files();
    fx.ingest(&[&files[0], &files[1]]);
    // An earlier version of ev-0001 naming other sample people: it replaces the stored event
    // (a rewritten events file) and puts alice's version in `conflicts`, which must be as
    // clear-free as `events`.
    let header = std::fs::read_to_string(&files[0]).unwrap();
    let header = header.lines().next().unwrap();
    let earlier = fx.file(
        "earlier.csv",
        &format!(
            "{header}\nev-0001,2026-09-01T08:00:00Z,expense,Expense Claims,expense-prod,Expense Claims Production,production,mendix_cloud,,,BOB ,bob@acme-corp.com,bob@acme-corp.com,Internal,Employee,true,false\n"
        ),
    );
    let out = fx.ingest(&[&earlier]);
    assert!(out.contains("1 conflicting version"), "{out}");
    assert!(
        fx.files().iter().any(|f| f.starts_with("conflicts/")),
        "{:?}",
        fx.files()
    );
    // Reports keep each month's derived state (docs/derived.md): it is scanned too.
    fx.csv(&["report", "history"]);
    fx.csv(&["report", "users", "--month", "2026-09"]);
    // Saved runs and a close keep reports' outputs and inputs (docs/evidence.md): scanned as
    // the rest of the warehouse below.
    fx.csv(&["report", "users", "--month", "2026-09", "--save"]);
    fx.cmd().args(["close", "2026-10"]).assert().success();
    assert!(fx.files().iter().any(|f| f.starts_with("_seatcount/runs/")));
    assert!(
        fx.files()
            .iter()
            .any(|f| f.starts_with("_seatcount/derived/account_owners/")),
        "{:?}",
        fx.files()
    );
    let ids = clear_identifiers();
    assert!(ids.len() > 15, "the sample has identifiers to check");
    let values = stored_values(&fx);
    // 28 events, 20+ non-null columns each.
    assert!(values.len() > 28 * 20, "{} values", values.len());
    for (column, value) in &values {
        for id in &ids {
            // The e-mail domain is stored on purpose; an identifier is never a stored value
            // nor part of one (hashes are hex, so only identifiers with a non-hex character
            // are checked for containment).
            assert_ne!(value, id, "{column} stores a clear identifier");
            if id.chars().any(|c| !c.is_ascii_hexdigit()) && id.len() > 3 {
                assert!(!value.contains(id.as_str()), "{column} contains {id:?}");
            }
        }
    }
    // A control: the same scan does see stored clear text that is not personal.
    assert!(values.iter().any(|(_, v)| v == "Expense Claims Production"));
    // The rest of the warehouse (metadata, ledger) holds none of them either.
    for file in fx.files().iter().filter(|f| !f.ends_with(".parquet")) {
        let text = std::fs::read_to_string(fx.wh().join(file)).unwrap();
        for id in ids.iter().filter(|id| id.len() > 3) {
            assert!(!text.contains(id.as_str()), "{file} holds {id:?}");
        }
    }
}
