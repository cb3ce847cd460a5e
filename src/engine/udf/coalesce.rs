//! `coalesce(a, b, ...)`, the first argument that is not NULL, row by row: DataFusion's
//! meaning, evaluated with Arrow's `zip` kernel.
//!
//! DataFusion rewrites `coalesce` into `CASE WHEN a IS NOT NULL THEN a ELSE ... END`, and
//! evaluates such a CASE by filtering the batch once for each branch and merging the answers.
//! The views call `coalesce` on every stored event (an identifier's stored forms, the
//! identifier source's choice), nested two and three deep, and that filtering was a tenth of a
//! month's first report (BENCHMARKS.md run W). This function keeps DataFusion's signature,
//! type coercion and nullability, and computes each step as one `zip` of what is known so far
//! with the next argument where it is still NULL, and stops once nothing is NULL.
//!
//! Where every argument is a fixed-width array (the stored hashes), one pass copies each row's
//! bytes from its first present argument: `zip` extends its output one run of rows at a time,
//! and a hash form that is NULL on most rows made those runs a row or two long, a fifth of
//! the work of computing a month's accounts (BENCHMARKS.md run AC).
//!
//! What differs: every argument is evaluated, where the CASE evaluates a later one only for
//! the rows still NULL. So an argument that fails on some row fails the query even where an
//! earlier one was present (`coalesce(x, 1 / 0)`); the views have no such argument
//! (docs/input.md "SQL functions").

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, FixedSizeBinaryArray};
use datafusion::arrow::buffer::{BooleanBuffer, NullBuffer};
use datafusion::arrow::compute::kernels::cast::cast;
use datafusion::arrow::compute::{is_not_null, kernels::zip::zip};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
};

/// The function, wrapping DataFusion's own for everything but evaluation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Coalesce {
    inner: datafusion::functions::core::coalesce::CoalesceFunc,
}

impl Coalesce {
    /// The function, ready to register in place of DataFusion's.
    pub fn new() -> Self {
        Coalesce {
            inner: datafusion::functions::core::coalesce::CoalesceFunc::new(),
        }
    }
}

impl ScalarUDFImpl for Coalesce {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        self.inner.return_type(args)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(args)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let out_type = args.return_type().clone();
        let mut values = args.args.into_iter();
        let Some(first) = values.next() else {
            return exec_err!("coalesce must have at least one argument");
        };
        let mut known = of_type(first, &out_type)?;
        let rest = values
            .map(|v| of_type(v, &out_type))
            .collect::<Result<Vec<_>>>()?;
        if let Some(merged) = first_present_fixed(&known, &rest)? {
            return Ok(ColumnarValue::Array(merged));
        }
        for next in rest {
            known = match known {
                ColumnarValue::Scalar(s) if s.is_null() => of_type(next, &out_type)?,
                ColumnarValue::Scalar(_) => return Ok(known),
                ColumnarValue::Array(a) if a.null_count() == 0 => {
                    return Ok(ColumnarValue::Array(a));
                }
                ColumnarValue::Array(a) => {
                    let present = is_not_null(&a)?;
                    let merged = match next {
                        ColumnarValue::Array(b) => zip(&present, &a, &b)?,
                        ColumnarValue::Scalar(b) => zip(&present, &a, &b.to_scalar()?)?,
                    };
                    ColumnarValue::Array(merged)
                }
            };
        }
        Ok(known)
    }
}

/// Each row's value from the first of `first` and `rest` present on it, when all of them are
/// arrays of one fixed width; `None` otherwise, for `zip` to merge. It copies the last
/// argument whole, then each earlier one over it in the runs of rows where that one is
/// present, last to first, so a form that is NULL on most rows costs only its present rows.
fn first_present_fixed(first: &ColumnarValue, rest: &[ColumnarValue]) -> Result<Option<ArrayRef>> {
    let mut arrays = Vec::with_capacity(rest.len() + 1);
    for value in std::iter::once(first).chain(rest) {
        match value {
            ColumnarValue::Array(a) if matches!(a.data_type(), DataType::FixedSizeBinary(_)) => {
                arrays.push(a.as_fixed_size_binary());
            }
            _ => return Ok(None),
        }
    }
    let (head, width) = (arrays[0], arrays[0].value_length());
    let (rows, size) = (head.len(), width as usize);
    let whole = |a: &FixedSizeBinaryArray| a.value_data().len() == rows * size;
    if rest.is_empty() || head.null_count() == 0 || !arrays.iter().all(|a| whole(a)) {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(rows * size);
    let mut present: Option<BooleanBuffer> = None;
    for (i, a) in arrays.iter().enumerate().rev() {
        let Some(nulls) = a.nulls() else {
            // Present on every row: what is after it is never taken.
            bytes.clear();
            bytes.extend_from_slice(a.value_data());
            present = None;
            continue;
        };
        if i == arrays.len() - 1 {
            bytes.extend_from_slice(a.value_data());
            present = Some(nulls.inner().clone());
            continue;
        }
        // Runs of present rows, one copy each: a form present on most rows is copied in
        // long slices, one present on few in short ones.
        let values = a.value_data();
        for (start, end) in nulls.inner().set_slices() {
            let run = start * size..end * size;
            bytes[run.clone()].copy_from_slice(&values[run]);
        }
        present = present.map(|p| &p | nulls.inner());
    }
    let nulls = present.map(NullBuffer::new);
    let merged = FixedSizeBinaryArray::try_new(width, bytes.into(), nulls)?;
    Ok(Some(Arc::new(merged)))
}

/// `value` as the function's type: coercion makes the arguments agree, so this casts only a
/// NULL literal typed before coercion.
fn of_type(value: ColumnarValue, out_type: &DataType) -> Result<ColumnarValue> {
    if value.data_type() == *out_type {
        return Ok(value);
    }
    Ok(match value {
        ColumnarValue::Array(a) => ColumnarValue::Array(cast(&a, out_type)?),
        ColumnarValue::Scalar(s) => ColumnarValue::Scalar(s.cast_to(out_type)?),
    })
}

/// DataFusion's `coalesce` is replaced by this one in every session.
pub fn coalesce() -> datafusion::logical_expr::ScalarUDF {
    datafusion::logical_expr::ScalarUDF::from(Coalesce::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, FixedSizeBinaryArray, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn sessions(batch: RecordBatch) -> Result<(SessionContext, SessionContext)> {
        let ours = SessionContext::new();
        ours.register_udf(coalesce());
        let theirs = SessionContext::new();
        for ctx in [&ours, &theirs] {
            ctx.register_batch("t", batch.clone())?;
        }
        Ok((ours, theirs))
    }

    async fn run(ctx: &SessionContext, sql: &str) -> Result<String> {
        let batches = ctx.sql(sql).await?.collect().await?;
        Ok(pretty_format_batches(&batches)?.to_string())
    }

    fn hashes(values: &[Option<u8>]) -> ArrayRef {
        let rows = values.iter().map(|v| v.map(|b| [b; 16]));
        Arc::new(FixedSizeBinaryArray::try_from_sparse_iter_with_size(rows, 16).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Whatever the NULLs, it answers what DataFusion's CASE rewriting answers, for the
        /// stored hashes, text, numbers, literals and NULL literals the views give it.
        #[test]
        fn answers_as_datafusion_does(
            rows in proptest::collection::vec(
                (proptest::option::of(0u8..4), proptest::option::of(0u8..4),
                 proptest::option::of(0u8..4)),
                0..40,
            )
        ) {
            let a: Vec<_> = rows.iter().map(|r| r.0).collect();
            let b: Vec<_> = rows.iter().map(|r| r.1).collect();
            let c: Vec<_> = rows.iter().map(|r| r.2).collect();
            let text = |v: &[Option<u8>]| -> ArrayRef {
                Arc::new(v.iter().map(|x| x.map(|x| x.to_string())).collect::<StringArray>())
            };
            let number = |v: &[Option<u8>]| -> ArrayRef {
                Arc::new(v.iter().map(|x| x.map(i64::from)).collect::<Int64Array>())
            };
            let schema = Schema::new(vec![
                Field::new("a", DataType::FixedSizeBinary(16), true),
                Field::new("b", DataType::FixedSizeBinary(16), true),
                Field::new("c", DataType::FixedSizeBinary(16), true),
                Field::new("s", DataType::Utf8, true),
                Field::new("t", DataType::Utf8, true),
                Field::new("n", DataType::Int64, true),
            ]);
            let batch = RecordBatch::try_new(
                Arc::new(schema),
                vec![hashes(&a), hashes(&b), hashes(&c), text(&a), text(&b), number(&c)],
            ).unwrap();
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let (ours, theirs) = sessions(batch).unwrap();
            for sql in [
                "SELECT coalesce(a, b, c) FROM t",
                "SELECT coalesce(a, coalesce(b, c)) FROM t",
                "SELECT coalesce(s, t, '') FROM t",
                "SELECT coalesce(NULL, s) FROM t",
                "SELECT coalesce(n, 7) FROM t",
                "SELECT coalesce(s) FROM t",
                "SELECT coalesce(NULL, NULL) FROM t",
                "SELECT coalesce(a, c) IS NULL FROM t",
            ] {
                let want = rt.block_on(run(&theirs, sql)).unwrap();
                let got = rt.block_on(run(&ours, sql)).unwrap();
                prop_assert_eq!(got, want, "{}", sql);
            }
        }
    }

    /// The one-pass merge of hash forms reads slices at their offset, as `zip` does, in runs
    /// of present rows longer than one.
    #[test]
    fn slices_of_hashes_merge_as_zip_merges_them() -> Result<()> {
        let a = hashes(&[Some(1), None, None, Some(2), Some(7), None]).slice(1, 5);
        let b = hashes(&[None, Some(3), Some(9), None, Some(4), None]).slice(1, 5);
        let c = hashes(&[Some(5), Some(6), Some(7), None, Some(8), None]).slice(1, 5);
        let args = [&a, &b, &c].map(|x| ColumnarValue::Array(x.clone()));
        let merged = first_present_fixed(&args[0], &args[1..])?.expect("all fixed-width");
        let present = is_not_null(&a)?;
        let by_zip = zip(&present, &a, &zip(&is_not_null(&b)?, &b, &c)?)?;
        assert_eq!(&merged, &by_zip);
        assert_eq!(merged.null_count(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn it_is_evaluated_as_itself_not_as_a_case() -> Result<()> {
        let (ours, _) = sessions(RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("a", DataType::FixedSizeBinary(16), true),
                Field::new("b", DataType::FixedSizeBinary(16), true),
            ])),
            vec![hashes(&[None]), hashes(&[Some(1)])],
        )?)?;
        let plan = run(&ours, "EXPLAIN SELECT coalesce(a, b) FROM t").await?;
        assert!(plan.contains("coalesce(t.a, t.b)"), "{plan}");
        assert!(!plan.contains("CASE"), "{plan}");
        Ok(())
    }
}
