//! `normalize_identifier`, `normalize_email` and `email_domain` as SQL functions.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use super::{map_strings, scalar_str};
use crate::identity::{self, CaseMode, Scratch};

/// `normalize_identifier(s [, 'exact' | 'sensitive' | 'insensitive'])`: the session's
/// `identifiers.case` unless the second argument overrides it (ingest stores both forms so
/// the setting can change without re-ingesting).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NormalizeIdentifier {
    signature: Signature,
    case: CaseMode,
}

impl NormalizeIdentifier {
    /// A function whose default case mode is `case`.
    pub fn new(case: CaseMode) -> Self {
        let signature = Signature::one_of(
            vec![TypeSignature::String(1), TypeSignature::String(2)],
            Volatility::Immutable,
        );
        NormalizeIdentifier { signature, case }
    }

    /// The default case mode, which a cluster's executor must be given.
    pub fn case(&self) -> CaseMode {
        self.case
    }
}

impl ScalarUDFImpl for NormalizeIdentifier {
    fn name(&self) -> &str {
        "normalize_identifier"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let case = match args.args.get(1) {
            None => self.case,
            Some(ColumnarValue::Scalar(mode)) => {
                match scalar_str(mode, self.name())?.and_then(CaseMode::parse) {
                    Some(case) => case,
                    None => {
                        return exec_err!(
                            "normalize_identifier's second argument must be 'exact', 'sensitive' or 'insensitive'"
                        );
                    }
                }
            }
            Some(ColumnarValue::Array(_)) => {
                return exec_err!("normalize_identifier's second argument must be a constant");
            }
        };
        let mut scratch = Scratch::default();
        map_strings(&args.args[0], self.name(), |s, out| {
            identity::normalize_identifier(s, case, &mut scratch, out)
        })
    }
}

/// `normalize_email(s)`: trimmed, lowercased address if valid, else NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NormalizeEmail {
    signature: Signature,
}

impl NormalizeEmail {
    /// The function.
    pub fn new() -> Self {
        NormalizeEmail {
            signature: Signature::string(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for NormalizeEmail {
    fn name(&self) -> &str {
        "normalize_email"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_strings(&args.args[0], self.name(), identity::normalize_email)
    }
}

/// `email_domain(s)`: the domain of `normalize_email(s)`, else NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EmailDomain {
    signature: Signature,
}

impl EmailDomain {
    /// The function.
    pub fn new() -> Self {
        EmailDomain {
            signature: Signature::string(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for EmailDomain {
    fn name(&self) -> &str {
        "email_domain"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut email = String::new();
        map_strings(&args.args[0], self.name(), |s, out| {
            if !identity::normalize_email(s, &mut email) {
                return false;
            }
            out.clear();
            out.push_str(identity::domain_of(&email));
            true
        })
    }
}
