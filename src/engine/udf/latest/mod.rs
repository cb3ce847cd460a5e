//! `latest(value, event_time, event_id)`: an account's attribute as of its latest event.
//!
//! It answers exactly what
//! `first_value(value ORDER BY event_time DESC, event_id DESC NULLS LAST, value DESC)` answers
//! (NULL times and values sort first, as in DataFusion's default `nulls_max` ordering), but
//! that generic ordered aggregate compares sort keys row by row through a general comparator
//! and cost as much as the whole grouping four times over (BENCHMARKS.md). Here a group keeps
//! its best row's time and where that row is (its id and value stay in the batch they came in,
//! see [`rows`]), and most rows are settled by comparing one integer.
//!
//! The value may be a struct of text fields (`latest(struct(a, b), t, id)`), so that several
//! attributes come from one and the same event, and a group keeps one time and one id for all
//! of them: four attributes, each with its own time and id, took the accounts aggregate past
//! the memory pool (BENCHMARKS.md item 28). Ties on time and id
//! are then broken by the fields in order, each descending with NULL first, exactly as
//! `first_value(... ORDER BY event_time DESC, event_id DESC NULLS LAST, a DESC, b DESC)`
//! (a NULL struct counts as one whose fields are all NULL).

use std::cmp::Ordering;
use std::sync::Arc;

mod rows;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, StructArray, make_array,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use rows::{KeptRows, RowRef};

/// The aggregate, ready to register.
pub fn latest() -> AggregateUDF {
    AggregateUDF::from(Latest {
        signature: Signature::any(3, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Latest {
    signature: Signature,
}

impl AggregateUDFImpl for Latest {
    fn name(&self) -> &str {
        "latest"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let value_is_text = match &args[0] {
            DataType::Struct(fields) => fields.iter().all(|f| is_value(f.data_type())),
            other => is_value(other),
        };
        if !value_is_text || !is_text(&args[2]) {
            return exec_err!(
                "latest takes a text or hash value (or a struct of them), a time and a text id"
            );
        }
        if !matches!(
            args[1],
            DataType::Timestamp(..) | DataType::Int64 | DataType::Null
        ) {
            return exec_err!("latest orders by a timestamp, not {}", args[1]);
        }
        Ok(match &args[0] {
            DataType::Struct(fields) => DataType::Struct(text_fields(fields)),
            other => out_type(other),
        })
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Single(Groups::new(args.return_field.data_type()))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "value"),
                args.return_field.data_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "time"),
                DataType::Int64,
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "id"),
                DataType::Utf8,
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "seen"),
                DataType::Boolean,
                false,
            )),
        ])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Groups::new(args.return_field.data_type())))
    }
}

/// A struct value's fields as they come out, each nullable in its [`out_type`].
fn text_fields(fields: &Fields) -> Fields {
    fields
        .iter()
        .map(|f| Field::new(f.name(), out_type(f.data_type()), true))
        .collect()
}

/// The type a value (or field) comes out as: a hash keeps its fixed width, text is `Utf8`.
fn out_type(t: &DataType) -> DataType {
    match t {
        DataType::FixedSizeBinary(n) => DataType::FixedSizeBinary(*n),
        _ => DataType::Utf8,
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

/// What `latest` keeps and returns: text, or a stored hash.
fn is_value(t: &DataType) -> bool {
    is_text(t) || matches!(t, DataType::FixedSizeBinary(_))
}

/// Times as plain integers (a timestamp's unit is the same for every row of a column).
fn times(array: &ArrayRef) -> Result<Int64Array> {
    Ok(cast(array, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .clone())
}

/// `ORDER BY x DESC` with NULLs first: the order of "later" for times, ids' tie-break
/// aside, and values.
fn desc_nulls_first<T: Ord>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => b.cmp(&a),
    }
}

/// `ORDER BY id DESC NULLS LAST`.
fn desc_nulls_last(a: Option<&[u8]>, b: Option<&[u8]>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => b.cmp(a),
    }
}

/// Every group's best row so far: its time, and where the row is kept (its value's fields
/// and its id, in [`KeptRows`]).
#[derive(Debug)]
struct Groups {
    /// The struct's fields, or `None` for a plain value.
    fields: Option<Fields>,
    /// The plain value's type, when there are no fields.
    plain: DataType,
    /// The kept rows' columns: one per field of the value, then the id.
    rows: KeptRows,
    best: Vec<Option<RowRef>>,
    time: Vec<Option<i64>>,
    /// How many groups have a best row.
    live: usize,
}

impl Groups {
    /// Groups for values of type `value` (text or a hash, or a struct of them).
    fn new(value: &DataType) -> Self {
        let fields = match value {
            DataType::Struct(fields) => Some(text_fields(fields)),
            _ => None,
        };
        let plain = out_type(value);
        let mut out: Vec<DataType> = match &fields {
            Some(fields) => fields.iter().map(|f| f.data_type().clone()).collect(),
            None => vec![plain.clone()],
        };
        out.push(DataType::Utf8);
        Groups {
            fields,
            plain,
            rows: KeptRows::new(out),
            best: Vec::new(),
            time: Vec::new(),
            live: 0,
        }
    }

    fn resize(&mut self, groups: usize) {
        self.best.resize(groups, None);
        self.time.resize(groups, None);
    }

    /// The column of kept rows that holds the id (the value's columns come first).
    fn id_column(&self) -> usize {
        value_columns(self.fields.as_ref())
    }

    /// Offers rows (value, time, id), each to its group; `take(row)` says whether a row is
    /// offered at all (FILTER clauses, unseen partial states).
    fn offer(
        &mut self,
        value: &ArrayRef,
        time: &ArrayRef,
        id: &ArrayRef,
        groups: &[usize],
        take: impl Fn(usize) -> bool,
    ) -> Result<()> {
        let time = times(time)?;
        let batch = self.rows.push(&kept_columns(value, id)?)?;
        let mut used = false;
        for (row, &g) in groups.iter().enumerate() {
            if !take(row) {
                continue;
            }
            let here = (batch, row as u32);
            let t = time.is_valid(row).then(|| time.value(row));
            let better = match self.best[g] {
                None => {
                    self.live += 1;
                    true
                }
                Some(kept) => self.order(here, t, kept, self.time[g]) == Ordering::Less,
            };
            if better {
                self.best[g] = Some(here);
                self.time[g] = t;
                used = true;
            }
        }
        if used {
            self.rows.compact_unless_small(&mut self.best, self.live)
        } else {
            self.rows.pop();
            Ok(())
        }
    }

    /// How kept row `a` at time `ta` orders against row `b` at `tb`, `Less` when `a` is the
    /// later: time descending (NULL first), id descending (NULL last), then each field
    /// descending (NULL first).
    fn order(&self, a: RowRef, ta: Option<i64>, b: RowRef, tb: Option<i64>) -> Ordering {
        let id = self.id_column();
        let mut order = desc_nulls_first(ta, tb)
            .then_with(|| desc_nulls_last(self.rows.bytes_of(a, id), self.rows.bytes_of(b, id)));
        for c in 0..id {
            order = order
                .then_with(|| desc_nulls_first(self.rows.bytes_of(a, c), self.rows.bytes_of(b, c)));
        }
        order
    }

    /// The state (value, time, id, seen) of groups whose best rows are `best`.
    fn state_of(&self, best: &[Option<RowRef>], time: &[Option<i64>]) -> Result<Vec<ArrayRef>> {
        let mut columns = self.rows.gather(best)?;
        let ids = columns.pop().expect("the kept rows end with the id");
        let value = match &self.fields {
            None => columns.swap_remove(0),
            Some(fields) => Arc::new(StructArray::new(fields.clone(), columns, None)),
        };
        let seen: BooleanArray = best.iter().map(|r| Some(r.is_some())).collect();
        Ok(vec![
            value,
            Arc::new(Int64Array::from(time.to_vec())),
            ids,
            Arc::new(seen),
        ])
    }

    fn take_state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let best = emit_to.take_needed(&mut self.best);
        let time = emit_to.take_needed(&mut self.time);
        let state = self.state_of(&best, &time)?;
        self.live -= best.iter().flatten().count();
        if self.best.is_empty() {
            self.rows.clear();
        } else {
            self.rows.compact_unless_small(&mut self.best, self.live)?;
        }
        Ok(state)
    }

    fn bytes(&self) -> usize {
        self.rows.bytes()
            + self.best.capacity() * size_of::<Option<RowRef>>()
            + self.time.capacity() * size_of::<Option<i64>>()
    }
}

/// How many columns a value takes: a struct's fields, else one.
fn value_columns(fields: Option<&Fields>) -> usize {
    fields.map_or(1, |f| f.len())
}

/// The columns a batch's rows are kept as: the value's fields (a NULL struct's fields read as
/// NULL) or the value itself, then the id.
fn kept_columns(value: &ArrayRef, id: &ArrayRef) -> Result<Vec<ArrayRef>> {
    let mut columns = match value.as_struct_opt() {
        Some(value) => value
            .columns()
            .iter()
            .map(|field| nulled(field, value.nulls()))
            .collect::<Result<Vec<_>>>()?,
        None => vec![value.clone()],
    };
    columns.push(id.clone());
    Ok(columns)
}

/// `column` with NULL wherever `nulls` says its row is NULL.
fn nulled(column: &ArrayRef, nulls: Option<&NullBuffer>) -> Result<ArrayRef> {
    match nulls {
        Some(nulls) if column.data_type() != &DataType::Null => {
            let data = column.to_data();
            let nulls = NullBuffer::union(Some(nulls), data.nulls());
            Ok(make_array(data.into_builder().nulls(nulls).build()?))
        }
        _ => Ok(column.clone()),
    }
}

fn filtered(filter: Option<&BooleanArray>) -> impl Fn(usize) -> bool + '_ {
    move |row| filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}

impl GroupsAccumulator for Groups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let take = filtered(opt_filter);
        self.offer(&values[0], &values[1], &values[2], group_indices, take)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(self.take_state(emit_to)?.swap_remove(0))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        self.take_state(emit_to)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let seen = values[3].as_boolean();
        self.offer(&values[0], &values[1], &values[2], group_indices, |row| {
            seen.value(row)
        })
    }

    /// Each row as a group of its own, when DataFusion skips partial aggregation.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let take = filtered(opt_filter);
        let seen: BooleanArray = (0..values[0].len()).map(|row| Some(take(row))).collect();
        let value_type = match &self.fields {
            Some(fields) => DataType::Struct(fields.clone()),
            None => self.plain.clone(),
        };
        Ok(vec![
            cast(&values[0], &value_type)?,
            Arc::new(times(&values[1])?),
            cast(&values[2], &DataType::Utf8)?,
            Arc::new(seen),
        ])
    }

    fn size(&self) -> usize {
        self.bytes()
    }
}

/// The same, without grouping (`SELECT latest(...) FROM t`).
#[derive(Debug)]
struct Single(Groups);

impl Single {
    /// The one group's state, left in place (a window may ask again).
    fn state_scalars(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.resize(1);
        let g = &self.0;
        g.state_of(&g.best, &g.time)?
            .iter()
            .map(|column| ScalarValue::try_from_array(column, 0))
            .collect()
    }
}

impl Accumulator for Single {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.resize(1);
        let groups = vec![0; values[0].len()];
        self.0
            .offer(&values[0], &values[1], &values[2], &groups, |_| true)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.state_scalars()?.swap_remove(0))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.0.bytes()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.state_scalars()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.resize(1);
        let groups = vec![0; states[0].len()];
        let seen = states[3].as_boolean();
        self.0
            .offer(&states[0], &states[1], &states[2], &groups, |row| {
                seen.value(row)
            })
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{
        FixedSizeBinaryArray, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    };
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    /// A row: group, time, event id, value.
    type Row = (i32, Option<i64>, Option<String>, Option<String>);

    fn batch(rows: &[Row]) -> RecordBatch {
        let g = Int32Array::from_iter_values(rows.iter().map(|r| r.0));
        let t = TimestampMicrosecondArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
        let id = StringArray::from(rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>());
        let v = StringArray::from(rows.iter().map(|r| r.3.clone()).collect::<Vec<_>>());
        // The value's first two bytes as a 2-byte hash, the fixed-width kind `latest` also
        // keeps (the property test's values have exactly two).
        let h = FixedSizeBinaryArray::try_from_sparse_iter_with_size(
            rows.iter().map(|r| {
                r.3.as_ref().map(|v| {
                    let b = v.as_bytes();
                    [
                        b.first().copied().unwrap_or(0),
                        b.get(1).copied().unwrap_or(0),
                    ]
                })
            }),
            2,
        )
        .unwrap();
        // Nullable columns whatever the rows, so every partition has one schema.
        RecordBatch::try_from_iter_with_nullable([
            ("g", Arc::new(g) as ArrayRef, false),
            ("t", Arc::new(t) as ArrayRef, true),
            ("id", Arc::new(id) as ArrayRef, true),
            ("v", Arc::new(v) as ArrayRef, true),
            ("h", Arc::new(h) as ArrayRef, true),
        ])
        .unwrap()
    }

    /// Both queries over `rows` cut into partitions at `cuts`; with `skip_partial`, every
    /// partial aggregate is skipped so rows reach the final one as single-row states.
    fn both(
        rows: &[Row],
        cuts: &[usize],
        skip_partial: bool,
        queries: [String; 2],
    ) -> (Vec<String>, Vec<String>) {
        let mut config = SessionConfig::new().with_target_partitions(3);
        if skip_partial {
            let options = &mut config.options_mut().execution;
            options.skip_partial_aggregation_probe_rows_threshold = 1;
            options.skip_partial_aggregation_probe_ratio_threshold = 0.0;
        }
        let ctx = SessionContext::new_with_config(config);
        ctx.register_udaf(latest());
        let mut parts = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain([&rows.len()]) {
            let cut = cut.clamp(start, rows.len());
            parts.push(vec![batch(&rows[start..cut])]);
            start = cut;
        }
        let table = MemTable::try_new(batch(&[]).schema(), parts).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let run = |sql: &str| {
            let rt = tokio::runtime::Runtime::new().unwrap();
            let batches = rt
                .block_on(async { ctx.sql(sql).await?.collect().await })
                .unwrap();
            let mut out: Vec<String> =
                datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                    .unwrap()
                    .to_string()
                    .lines()
                    .map(str::to_string)
                    .collect();
            out.sort();
            out
        };
        (run(&queries[0]), run(&queries[1]))
    }

    /// A struct of the two characters of `v` (`-` for a NULL field) and its hash.
    const SPLIT: &str = "SELECT *, named_struct('a', nullif(substr(v, 1, 1), '-'), \
                         'b', nullif(substr(v, 2, 1), '-'), 'h', h) AS s FROM t";

    proptest::proptest! {
        /// Over text values, and over structs whose fields all come from one row, ties broken
        /// field by field.
        #[test]
        fn latest_equals_the_ordered_first_value(
            rows in proptest::collection::vec(
                (
                    0..4i32,
                    proptest::option::weighted(0.8, 0..3i64),
                    proptest::option::of("[a-c]"),
                    proptest::option::of("[xy-][pq-]"),
                ),
                0..40,
            ),
            cuts in proptest::collection::vec(0..40usize, 0..3),
            skip_partial: bool,
        ) {
            let mut cuts = cuts;
            cuts.sort();
            let (latest, first_value) = both(&rows, &cuts, skip_partial, [
                "SELECT g, latest(v, t, id) AS x FROM t GROUP BY g".into(),
                "SELECT g, first_value(v ORDER BY t DESC, id DESC NULLS LAST, v DESC) AS x \
                 FROM t GROUP BY g".into(),
            ]);
            proptest::prop_assert_eq!(latest, first_value);
            let (latest, first_value) = both(&rows, &cuts, skip_partial, [
                "SELECT g, latest(h, t, id) AS x FROM t GROUP BY g".into(),
                "SELECT g, first_value(h ORDER BY t DESC, id DESC NULLS LAST, h DESC) AS x \
                 FROM t GROUP BY g".into(),
            ]);
            proptest::prop_assert_eq!(latest, first_value);
            let (latest, first_value) = both(&rows, &cuts, skip_partial, [
                format!("SELECT g, latest(s, t, id) AS x FROM ({SPLIT}) GROUP BY g"),
                format!(
                    "SELECT g, first_value(s ORDER BY t DESC, id DESC NULLS LAST, s['a'] DESC, \
                     s['b'] DESC, s['h'] DESC) AS x FROM ({SPLIT}) GROUP BY g"
                ),
            ]);
            proptest::prop_assert_eq!(latest, first_value);
        }
    }

    /// The accumulator's inputs, in the order of latest(value, time, id).
    fn inputs(b: RecordBatch) -> Vec<ArrayRef> {
        vec![
            b.column(3).clone(),
            b.column(1).clone(),
            b.column(2).clone(),
        ]
    }

    /// The pool is told the bytes the kept rows hold, and when they are emitted, that they are
    /// gone; a batch none of whose rows is kept is not held at all.
    #[test]
    fn kept_rows_are_counted_until_emitted() {
        let rows: Vec<Row> = vec![
            (0, Some(2), Some("id-1".into()), Some("first value".into())),
            (1, Some(2), Some("id-2".into()), Some("second value".into())),
        ];
        let mut groups = Groups::new(&DataType::Utf8);
        groups
            .update_batch(&inputs(batch(&rows)), &[0, 1], None, 2)
            .unwrap();
        let held = groups.rows.bytes();
        assert!(held >= "id-1id-2first valuesecond value".len());
        // Earlier rows win nothing, so their batch is let go at once.
        let earlier: Vec<Row> = vec![(1, Some(1), None, None)];
        groups
            .update_batch(&inputs(batch(&earlier)), &[1], None, 2)
            .unwrap();
        assert_eq!(groups.rows.bytes(), held);
        groups.state(EmitTo::All).unwrap();
        assert_eq!(groups.rows.bytes(), 0);
    }

    /// Rows superseded batch after batch do not pile up: past twice the live rows (and some
    /// slack) the store keeps only the rows groups point at, and the answers stay right.
    #[test]
    fn superseded_rows_are_let_go() {
        let mut groups = Groups::new(&DataType::Utf8);
        let per_batch = 1000;
        for step in 0..200i64 {
            let rows: Vec<Row> = (0..per_batch)
                .map(|r| {
                    (
                        0,
                        Some(step),
                        Some(format!("id-{r}")),
                        Some(format!("v{step}-{r}")),
                    )
                })
                .collect();
            let group_of: Vec<usize> = (0..per_batch as usize).map(|r| r % 10).collect();
            groups
                .update_batch(&inputs(batch(&rows)), &group_of, None, 10)
                .unwrap();
            assert!(groups.rows.rows() <= 2 * 10 + (1 << 16) + per_batch as usize);
        }
        let value = groups.evaluate(EmitTo::All).unwrap();
        let value = value.as_string::<i32>();
        // Group g's latest is the last step's row with the greatest id among r ≡ g (mod 10).
        assert_eq!(value.value(0), "v199-990");
        assert_eq!(value.value(9), "v199-999");
    }

    /// A NULL struct's fields read as NULL even where its child arrays hold values, both when
    /// it is later (its fields come out NULL) and when its fields break a tie (NULL first).
    #[test]
    fn a_null_struct_reads_as_null_fields() {
        use datafusion::arrow::array::{StringArray, TimestampMicrosecondArray};
        let field = Arc::new(Field::new("a", DataType::Utf8, true));
        let fields = Fields::from(vec![field]);
        let child: ArrayRef = Arc::new(StringArray::from(vec![Some("hidden"), Some("shown")]));
        let value: ArrayRef = Arc::new(StructArray::new(
            fields.clone(),
            vec![child],
            Some(NullBuffer::from(vec![false, true])),
        ));
        // Group 0: the NULL struct is later. Group 1: a tie on time and id, broken by the field.
        let time: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![2, 1]));
        let id: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), Some("x")]));
        let mut groups = Groups::new(&DataType::Struct(fields));
        groups
            .update_batch(&[value.clone(), time, id.clone()], &[0, 0], None, 2)
            .unwrap();
        let tie: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![5, 5]));
        groups
            .update_batch(&[value, tie, id], &[1, 1], None, 2)
            .unwrap();
        let out = groups.evaluate(EmitTo::All).unwrap();
        let a = out.as_struct().column(0).as_string::<i32>().clone();
        assert!(
            a.is_null(0),
            "the later NULL struct wins, and its field is NULL"
        );
        // Read as its hidden "hidden", the NULL struct would lose the tie to "shown"; as NULL
        // it wins, since `a DESC` puts NULL first.
        assert!(a.is_null(1), "on a tie the NULL struct sorts first");
    }

    #[test]
    fn without_grouping_and_over_nothing() {
        let rows: Vec<Row> = vec![
            (0, Some(1), Some("b".into()), Some("old".into())),
            (0, Some(2), None, Some("tie-without-id".into())),
            (0, Some(2), Some("a".into()), Some("latest".into())),
        ];
        let ctx = SessionContext::new();
        ctx.register_udaf(latest());
        ctx.register_batch("t", batch(&rows)).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let value = |sql: &'static str| {
            let batches = rt
                .block_on(async { ctx.sql(sql).await?.collect().await })
                .unwrap();
            ScalarValue::try_from_array(batches[0].column(0), 0).unwrap()
        };
        assert_eq!(
            value("SELECT latest(v, t, id) FROM t"),
            ScalarValue::Utf8(Some("latest".into()))
        );
        assert_eq!(
            value("SELECT latest(v, t, id) FROM t WHERE g = 1"),
            ScalarValue::Utf8(None)
        );
        assert_eq!(
            value("SELECT latest(named_struct('v', v, 'id', id), t, id)['v'] FROM t"),
            ScalarValue::Utf8(Some("latest".into()))
        );
    }
}
