//! `hash_identifier(s)`: HMAC-SHA256 under the session's key, in the stored form (the digest's
//! first 16 bytes, docs/input.md "What lands on disk"), so it compares equal to stored hashes.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, FixedSizeBinaryBuilder, StringArrayType};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::scalar_str;
use crate::warehouse::key::{HashKey, IdentifierHasher, KEY_ENV, STORED_HASH_BYTES};
use crate::warehouse::schema::hash_type;

/// Holds the key; the key never appears in SQL text, plans or output.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HashIdentifier {
    signature: Signature,
    key: Option<Arc<HashKey>>,
    /// On a cluster's executor, where the key never goes (docs/cluster.md).
    remote: bool,
}

impl HashIdentifier {
    /// A function hashing under `key`; without one every call fails with an explanation.
    pub fn new(key: Option<Arc<HashKey>>) -> Self {
        HashIdentifier {
            signature: Signature::string(1, Volatility::Immutable),
            key,
            remote: false,
        }
    }

    /// The function as a cluster's executor knows it: without the key, refusing to run.
    pub fn remote() -> Self {
        HashIdentifier {
            remote: true,
            ..HashIdentifier::new(None)
        }
    }
}

impl ScalarUDFImpl for HashIdentifier {
    fn name(&self) -> &str {
        "hash_identifier"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(hash_type())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if self.remote {
            return exec_err!(
                "hash_identifier cannot run on a cluster's executor, where the key never goes: hash the values with seatcount sql without --cluster"
            );
        }
        let Some(key) = &self.key else {
            return exec_err!(
                "hash_identifier needs the warehouse's key: set {KEY_ENV} or restore the warehouse's key file"
            );
        };
        let hasher = key.hasher();
        match &args.args[0] {
            ColumnarValue::Scalar(scalar) => {
                let hash = scalar_str(scalar, self.name())?.map(|v| hasher.hash_stored(v).to_vec());
                Ok(ColumnarValue::Scalar(ScalarValue::FixedSizeBinary(
                    STORED_HASH_BYTES as i32,
                    hash,
                )))
            }
            ColumnarValue::Array(array) => {
                let hashes: ArrayRef = match array.data_type() {
                    DataType::Utf8 => hash_all(&hasher, array.as_string::<i32>()),
                    DataType::LargeUtf8 => hash_all(&hasher, array.as_string::<i64>()),
                    DataType::Utf8View => hash_all(&hasher, array.as_string_view()),
                    DataType::Null => {
                        datafusion::arrow::array::new_null_array(&hash_type(), array.len())
                    }
                    other => return exec_err!("hash_identifier takes text, not {other}"),
                };
                Ok(ColumnarValue::Array(hashes))
            }
        }
    }
}

/// Every value's stored hash, written straight into one fixed-width buffer.
fn hash_all<'a, A: StringArrayType<'a>>(hasher: &IdentifierHasher, values: A) -> ArrayRef {
    let mut out = FixedSizeBinaryBuilder::with_capacity(values.len(), STORED_HASH_BYTES as i32);
    for value in values.iter() {
        match value {
            Some(v) => out
                .append_value(hasher.hash_stored(v))
                .expect("a stored hash has the builder's width"),
            None => out.append_null(),
        }
    }
    std::sync::Arc::new(out.finish())
}
