//! `classify_domain(email, username)`: the `domains` classification rule of docs/semantics.md as a
//! function, for ad-hoc checks against clear data.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::identity;

/// Answers `Internal` or `External`; NULL when no internal domain is configured, because
/// the rule then does not answer.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClassifyDomain {
    signature: Signature,
    internal_domains: Vec<String>,
}

impl ClassifyDomain {
    /// A function judging against `internal_domains` (already lowercase).
    pub fn new(internal_domains: Vec<String>) -> Self {
        ClassifyDomain {
            signature: Signature::string(2, Volatility::Immutable),
            internal_domains,
        }
    }

    /// The internal domains, which a cluster's executor must be given.
    pub fn internal_domains(&self) -> &[String] {
        &self.internal_domains
    }

    fn classify(
        &self,
        email: Option<&str>,
        username: Option<&str>,
        buf: &mut String,
    ) -> Option<&'static str> {
        if self.internal_domains.is_empty() {
            return None;
        }
        let valid = email.is_some_and(|e| identity::normalize_email(e, buf))
            || username.is_some_and(|u| identity::normalize_email(u, buf));
        if !valid {
            return Some("Internal");
        }
        let domain = identity::domain_of(buf);
        Some(if self.internal_domains.iter().any(|d| d == domain) {
            "Internal"
        } else {
            "External"
        })
    }
}

impl ScalarUDFImpl for ClassifyDomain {
    fn name(&self) -> &str {
        "classify_domain"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar_result = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let email = cast(&arrays[0], &DataType::Utf8)?;
        let username = cast(&arrays[1], &DataType::Utf8)?;
        let (email, username) = (
            email
                .as_any()
                .downcast_ref::<datafusion::arrow::array::StringArray>(),
            username
                .as_any()
                .downcast_ref::<datafusion::arrow::array::StringArray>(),
        );
        let (Some(email), Some(username)) = (email, username) else {
            return datafusion::common::exec_err!("classify_domain takes two text arguments");
        };
        let mut builder = StringBuilder::with_capacity(email.len(), email.len() * 8);
        let mut buf = String::new();
        for i in 0..email.len() {
            let e = email.is_valid(i).then(|| email.value(i));
            let u = username.is_valid(i).then(|| username.value(i));
            builder.append_option(self.classify(e, u, &mut buf));
        }
        let out: ArrayRef = Arc::new(builder.finish());
        if scalar_result {
            return Ok(ColumnarValue::Scalar(
                datafusion::common::ScalarValue::try_from_array(&out, 0)?,
            ));
        }
        Ok(ColumnarValue::Array(out))
    }
}
