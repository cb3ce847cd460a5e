//! The columns of the stored `events` table: what analysts write SQL against and what every
//! Parquet file under `events/` holds. `month` is not in the files; it is the hive partition
//! column taken from the directory name.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::parquet::schema::types::ColumnPath;

use super::key::STORED_HASH_BYTES;

/// Stored columns in file order: (name, type, nullable).
const COLUMNS: &[(&str, Kind, bool)] = &[
    ("event_id", Kind::Text, true),
    ("event_time", Kind::Time, false),
    ("app_id", Kind::Text, false),
    ("app_name", Kind::Text, true),
    ("environment_id", Kind::Text, false),
    ("environment_name", Kind::Text, true),
    ("environment_type", Kind::Text, false),
    ("deployment_type", Kind::Text, true),
    ("user_provider", Kind::Text, false),
    ("tenant", Kind::Text, false),
    ("user_name_hash", Kind::Hash, true),
    ("user_name_cs_hash", Kind::Hash, true),
    ("user_name_exact_hash", Kind::Hash, true),
    ("named_user_identifier_hash", Kind::Hash, true),
    ("named_user_identifier_cs_hash", Kind::Hash, true),
    ("named_user_identifier_exact_hash", Kind::Hash, true),
    ("email_hash", Kind::Hash, true),
    ("email_domain", Kind::Text, true),
    ("user_name_domain", Kind::Text, true),
    ("user_type", Kind::Text, true),
    ("roles", Kind::TextList, true),
    ("active", Kind::Bool, false),
    ("anonymous", Kind::Bool, false),
];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Hash,
    Time,
    TextList,
    Bool,
}

/// Event times are stored in microseconds, UTC.
pub fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// A hashed identifier as stored: the HMAC's first bytes ([`STORED_HASH_BYTES`]), fixed
/// width, so that grouping and joining people compares 16 bytes, not 64 hex characters.
pub fn hash_type() -> DataType {
    DataType::FixedSizeBinary(STORED_HASH_BYTES as i32)
}

/// A list of role names.
pub fn roles_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

static STORED: LazyLock<SchemaRef> = LazyLock::new(|| {
    let fields = COLUMNS.iter().map(|&(name, kind, nullable)| {
        let data_type = match kind {
            Kind::Text => DataType::Utf8,
            Kind::Hash => hash_type(),
            Kind::Time => time_type(),
            Kind::TextList => roles_type(),
            Kind::Bool => DataType::Boolean,
        };
        Field::new(name, data_type, nullable)
    });
    Arc::new(Schema::new(fields.collect::<Vec<_>>()))
});

/// The schema of every stored Parquet file.
pub fn stored_schema() -> SchemaRef {
    STORED.clone()
}

/// The partition column.
pub const MONTH: &str = "month";

/// `YYYY-MM` of a stored file's path, `events/month=YYYY-MM/...`.
pub(crate) fn month_of(path: &Path) -> Option<&str> {
    path.components()
        .nth(1)?
        .as_os_str()
        .to_str()?
        .strip_prefix("month=")
}

/// The columns of `schema` that hold hashes, as a Parquet writer names them: nearly all
/// distinct within a file of derived state, where a dictionary of them only costs the encoder
/// its lookups before it gives up.
pub fn hash_columns(schema: &Schema) -> impl Iterator<Item = ColumnPath> + '_ {
    schema
        .fields()
        .iter()
        .filter(|f| {
            matches!(
                f.data_type(),
                DataType::FixedSizeBinary(_)
                    | DataType::Binary
                    | DataType::LargeBinary
                    | DataType::BinaryView
            )
        })
        .map(|f| ColumnPath::from(f.name().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table of stored columns (what analysts write SQL against) lists exactly
    /// the stored columns, in file order, then the partition column.
    #[test]
    fn the_readme_documents_exactly_the_stored_columns() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("## Stored events")
            .nth(1)
            .expect("the README has a stored events section");
        let documented: Vec<&str> = section
            .lines()
            .skip_while(|l| !l.starts_with("| column |"))
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .flat_map(|l| l.split('|').nth(1).unwrap_or("").split(','))
            .map(str::trim)
            .collect();
        let mut stored: Vec<&str> = COLUMNS.iter().map(|(name, _, _)| *name).collect();
        stored.push(MONTH);
        assert_eq!(documented, stored);
    }

    /// Every stored hash column, and nothing else, is a hash column to a writer, whether it
    /// comes back fixed-width or as the binary view Parquet reads it as.
    #[test]
    fn the_hash_columns_are_the_stored_hashes() {
        let hashes: Vec<String> = COLUMNS
            .iter()
            .filter(|(_, kind, _)| *kind == Kind::Hash)
            .map(|(name, _, _)| (*name).to_string())
            .collect();
        let named =
            |schema: &Schema| -> Vec<String> { hash_columns(schema).map(|c| c.string()).collect() };
        assert_eq!(named(&stored_schema()), hashes);
        let read_back = Schema::new(vec![
            Field::new("person_hash", DataType::BinaryView, true),
            Field::new("app_id", DataType::Utf8View, false),
        ]);
        assert_eq!(named(&read_back), ["person_hash"]);
    }
}
