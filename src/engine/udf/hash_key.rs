//! `hash_key(hash)`: a hash as a number, for grouping and joining people. It takes a stored
//! hash (16 bytes) or a hash in hex (at least 32 digits), and gives both forms of one hash the
//! same number.
//!
//! Reports group and join people millions of times a month. A person is named by text (32 hex
//! digits, `person_id`); as a number, DataFusion groups and joins them in its tables for
//! primitive values, which hold less and compare one integer (BENCHMARKS.md item 35). The number is the hash's first 126 bits, as a `DECIMAL(38, 0)`
//! (every 126-bit number fits 38 digits, so no decimal check can fail on one). Two different
//! hashes give the same number with probability 2⁻¹²⁶ per pair; among ten million people in a
//! month, about 10⁻²⁴. The hashes themselves stay what is stored and shown.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Decimal128Builder, StringArrayType, new_null_array,
};
use datafusion::arrow::datatypes::{DECIMAL128_MAX_PRECISION, DataType};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::scalar_str;

/// The type of a key.
const KEY_TYPE: DataType = DataType::Decimal128(DECIMAL128_MAX_PRECISION, 0);

/// The function; it needs nothing from the session.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HashKeyFunction {
    signature: Signature,
}

impl HashKeyFunction {
    /// The function, ready to register.
    pub fn new() -> Self {
        HashKeyFunction {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for HashKeyFunction {
    fn name(&self) -> &str {
        "hash_key"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(KEY_TYPE)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match &args.args[0] {
            ColumnarValue::Scalar(
                ScalarValue::FixedSizeBinary(_, bytes)
                | ScalarValue::Binary(bytes)
                | ScalarValue::BinaryView(bytes)
                | ScalarValue::LargeBinary(bytes),
            ) => {
                let key = bytes.as_deref().map(key_of_bytes).transpose()?;
                Ok(ColumnarValue::Scalar(ScalarValue::Decimal128(
                    key,
                    DECIMAL128_MAX_PRECISION,
                    0,
                )))
            }
            ColumnarValue::Scalar(scalar) => {
                let key = scalar_str(scalar, self.name())?.map(key_of).transpose()?;
                Ok(ColumnarValue::Scalar(ScalarValue::Decimal128(
                    key,
                    DECIMAL128_MAX_PRECISION,
                    0,
                )))
            }
            ColumnarValue::Array(array) => {
                let keys: ArrayRef = match array.data_type() {
                    DataType::Utf8 => Arc::new(keys(array.as_string::<i32>())?),
                    DataType::LargeUtf8 => Arc::new(keys(array.as_string::<i64>())?),
                    DataType::Utf8View => Arc::new(keys(array.as_string_view())?),
                    DataType::FixedSizeBinary(_) => {
                        Arc::new(binary_keys(array.as_fixed_size_binary().iter())?)
                    }
                    DataType::Binary => Arc::new(binary_keys(array.as_binary::<i32>().iter())?),
                    // A binary hash read back from a derived file (`account_owners`).
                    DataType::BinaryView => Arc::new(binary_keys(array.as_binary_view().iter())?),
                    DataType::LargeBinary => {
                        Arc::new(binary_keys(array.as_binary::<i64>().iter())?)
                    }
                    DataType::Null => new_null_array(&KEY_TYPE, array.len()),
                    other => return exec_err!("hash_key takes a hash, not {other}"),
                };
                Ok(ColumnarValue::Array(keys))
            }
        }
    }
}

fn keys<'a, A: StringArrayType<'a>>(hashes: A) -> Result<Decimal128Array> {
    let mut out = Decimal128Builder::with_capacity(hashes.len());
    for hash in hashes.iter() {
        out.append_option(hash.map(key_of).transpose()?);
    }
    Ok(out.finish().with_data_type(KEY_TYPE))
}

fn binary_keys<'a>(
    hashes: impl ExactSizeIterator<Item = Option<&'a [u8]>>,
) -> Result<Decimal128Array> {
    let mut out = Decimal128Builder::with_capacity(hashes.len());
    for hash in hashes {
        out.append_option(hash.map(key_of_bytes).transpose()?);
    }
    Ok(out.finish().with_data_type(KEY_TYPE))
}

/// The first 126 bits of a binary hash.
fn key_of_bytes(hash: &[u8]) -> Result<i128> {
    let Some(first) = hash.first_chunk::<16>() else {
        return exec_err!("hash_key takes a hash of at least 16 bytes");
    };
    Ok((u128::from_be_bytes(*first) >> 2) as i128)
}

/// The first 126 bits of a hex hash.
fn key_of(hash: &str) -> Result<i128> {
    let digits = hash.as_bytes();
    if digits.len() < 32 {
        return exec_err!("hash_key takes a hex hash of at least 32 digits");
    }
    let mut key: u128 = 0;
    for &d in &digits[..32] {
        let nibble = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return exec_err!("hash_key takes a hex hash, and this one is not hex"),
        };
        key = key << 4 | u128::from(nibble);
    }
    Ok((key >> 2) as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_the_first_126_bits() {
        let ones = "f".repeat(64);
        assert_eq!(key_of(&ones).unwrap(), (u128::MAX >> 2) as i128);
        assert!(key_of(&ones).unwrap() < 10i128.pow(38));
        let one_at_bit_2 = format!("{}4{}", "0".repeat(31), "0".repeat(32));
        assert_eq!(key_of(&one_at_bit_2).unwrap(), 1);
        assert_eq!(key_of(&"0".repeat(64)).unwrap(), 0);
        assert!(key_of("abc").is_err());
        assert!(key_of(&"g".repeat(64)).is_err());
    }
}
