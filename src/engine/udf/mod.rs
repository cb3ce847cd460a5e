//! The SQL functions of docs/input.md "SQL functions", registered in every session (ingest,
//! `sql`, reports, REPL) through [`register`], so a query means the same wherever it runs.

mod classify;
mod components;
mod hash;
mod hash_key;
mod latest;
mod normalize;

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArrayType, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF};
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
    ctx.register_udaf(components::connected_components());
    ctx.register_udaf(latest::latest());
}

/// The functions, for registration and for the REPL's completion list.
pub fn functions(settings: &UdfSettings) -> Vec<ScalarUDF> {
    vec![
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
