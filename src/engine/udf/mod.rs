//! The SQL functions of docs/input.md "SQL functions", registered in every session (ingest,
//! `sql`, reports, REPL) through [`register`], so a query means the same wherever it runs.

mod classify;
mod coalesce;
mod components;
mod hash;
mod hash_key;
mod latest;
mod normalize;

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArrayType, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{AggregateUDF, ColumnarValue, ScalarUDF};
use datafusion::prelude::SessionContext;

use crate::identity::CaseMode;
use crate::warehouse::key::HashKey;

/// What the functions need to know about the session they run in.
#[derive(Debug, Clone, Default)]
pub struct UdfSettings {
    /// `identifiers.case`: the default of `normalize_identifier`.
    pub case: CaseMode,
    /// `classification.internal_domains`, lowercased.
    pub internal_domains: Vec<String>,
    /// The warehouse's key, when one is available; `hash_identifier` fails without it.
    pub key: Option<Arc<HashKey>>,
}

/// Registers every seatcount function on `ctx`.
pub fn register(ctx: &SessionContext, settings: &UdfSettings) {
    for udf in functions(settings) {
        ctx.register_udf(udf);
    }
    for udaf in aggregates() {
        ctx.register_udaf(udaf);
    }
}

/// The aggregate functions; they need nothing from the session.
pub fn aggregates() -> Vec<AggregateUDF> {
    vec![components::connected_components(), latest::latest()]
}

/// What a scalar function needs of its session on a cluster's executor: the settings, never
/// the key (docs/cluster.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShippedSettings {
    /// `identifiers.case`, as spelled in the configuration.
    pub case: String,
    /// `classification.internal_domains`, lowercased.
    pub internal_domains: Vec<String>,
}

/// The settings `udf` was made with, when it is one of seatcount's scalar functions.
pub fn shipped_settings(udf: &ScalarUDF) -> Option<ShippedSettings> {
    let inner = udf.inner().as_ref();
    let mut settings = ShippedSettings {
        case: CaseMode::default().as_str().to_string(),
        internal_domains: Vec::new(),
    };
    if let Some(f) = inner.downcast_ref::<normalize::NormalizeIdentifier>() {
        settings.case = f.case().as_str().to_string();
    } else if let Some(f) = inner.downcast_ref::<classify::ClassifyDomain>() {
        settings.internal_domains = f.internal_domains().to_vec();
    } else if !(inner.is::<normalize::NormalizeEmail>()
        || inner.is::<normalize::EmailDomain>()
        || inner.is::<hash::HashIdentifier>()
        || inner.is::<hash_key::HashKeyFunction>()
        || inner.is::<coalesce::Coalesce>())
    {
        return None;
    }
    Some(settings)
}

/// seatcount's scalar function `name` made with `settings`, as a cluster's executor runs it:
/// `hash_identifier` comes without the key and refuses to run. `None` for another name.
pub fn remote_function(name: &str, settings: &ShippedSettings) -> Option<ScalarUDF> {
    let local = UdfSettings {
        case: CaseMode::parse(&settings.case)?,
        internal_domains: settings.internal_domains.clone(),
        key: None,
    };
    if name == "hash_identifier" {
        return Some(ScalarUDF::from(hash::HashIdentifier::remote()));
    }
    functions(&local).into_iter().find(|f| f.name() == name)
}

/// The functions, for registration and for the REPL's completion list. `coalesce` replaces
/// DataFusion's (same meaning, a tenth of a month's first report less: see its module).
pub fn functions(settings: &UdfSettings) -> Vec<ScalarUDF> {
    vec![
        coalesce::coalesce(),
        ScalarUDF::from(normalize::NormalizeIdentifier::new(settings.case)),
        ScalarUDF::from(normalize::NormalizeEmail::new()),
        ScalarUDF::from(normalize::EmailDomain::new()),
        ScalarUDF::from(hash::HashIdentifier::new(settings.key.clone())),
        ScalarUDF::from(hash_key::HashKeyFunction::new()),
        ScalarUDF::from(classify::ClassifyDomain::new(
            settings.internal_domains.clone(),
        )),
    ]
}

/// Applies `f` to every string of a string-typed argument (any of Arrow's three string
/// layouts, array or scalar). `f` writes its answer into the buffer and returns false for
/// NULL. One output buffer is reused across rows.
pub(crate) fn map_strings(
    arg: &ColumnarValue,
    name: &str,
    mut f: impl FnMut(&str, &mut String) -> bool,
) -> Result<ColumnarValue> {
    let mut buf = String::new();
    match arg {
        ColumnarValue::Scalar(scalar) => {
            let value = match scalar_str(scalar, name)? {
                Some(s) if f(s, &mut buf) => Some(buf),
                _ => None,
            };
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(value)))
        }
        ColumnarValue::Array(array) => {
            let out = match array.data_type() {
                DataType::Utf8 => map_array(array.as_string::<i32>(), &mut buf, f),
                DataType::LargeUtf8 => map_array(array.as_string::<i64>(), &mut buf, f),
                DataType::Utf8View => map_array(array.as_string_view(), &mut buf, f),
                DataType::Null => {
                    datafusion::arrow::array::new_null_array(&DataType::Utf8, array.len())
                }
                other => return exec_err!("{name} takes text, not {other}"),
            };
            Ok(ColumnarValue::Array(out))
        }
    }
}

fn map_array<'a, A: StringArrayType<'a>>(
    array: A,
    buf: &mut String,
    mut f: impl FnMut(&str, &mut String) -> bool,
) -> ArrayRef {
    let mut builder = StringBuilder::with_capacity(array.len(), array.len() * 24);
    for value in array.iter() {
        match value {
            Some(s) if f(s, buf) => builder.append_value(buf.as_str()),
            _ => builder.append_null(),
        }
    }
    Arc::new(builder.finish())
}

/// The text of a scalar string argument; NULL of any type is `None`.
pub(crate) fn scalar_str<'a>(scalar: &'a ScalarValue, name: &str) -> Result<Option<&'a str>> {
    match scalar {
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
            Ok(v.as_deref())
        }
        s if s.is_null() => Ok(None),
        other => exec_err!("{name} takes text, not {}", other.data_type()),
    }
}
