//! `hash_identifier(s)`: lowercase hex HMAC-SHA256 under the session's key.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::map_strings;
use crate::warehouse::key::{HashKey, KEY_ENV};

/// Holds the key; the key never appears in SQL text, plans or output.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HashIdentifier {
    signature: Signature,
    key: Option<Arc<HashKey>>,
}

impl HashIdentifier {
    /// A function hashing under `key`; without one every call fails with an explanation.
    pub fn new(key: Option<Arc<HashKey>>) -> Self {
        HashIdentifier {
            signature: Signature::string(1, Volatility::Immutable),
            key,
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
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(key) = &self.key else {
            return exec_err!(
                "hash_identifier needs the warehouse's key: set {KEY_ENV} or restore the warehouse's key file"
            );
        };
        let hasher = key.hasher();
        let mut digest = [0u8; 64];
        map_strings(&args.args[0], self.name(), |s, out| {
            hasher.hash_hex(s, &mut digest);
            out.clear();
            // Hex digits are ASCII, so every byte is a char.
            out.extend(digest.iter().map(|&b| b as char));
            true
        })
    }
}
