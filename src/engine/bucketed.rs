//! A view that ends in a large grouping, computed a range of its groups at a time.
//!
//! DataFusion groups a month's accounts in one hash table: at 100M events, 7.7M counted events
//! into 5.7M accounts, a table far larger than the CPU's caches, so nearly every row's lookup
//! misses, and whose state peaks at 3.3 GB (BENCHMARKS.md run AB). When the grouping keys
//! include a column, rows of one group agree on that column, so the view is the union of the
//! view computed over the rows of each value range of the column's hash. So the grouping's
//! input is computed once, split by that hash into [`RADIX`] buckets held in memory (charged
//! to the pool), and the view is then planned and run over a few buckets at a time, about
//! [`UNIT_ROWS`] rows, whose table fits the caches. Only a view whose plan above the grouping
//! keeps or drops whole groups (projections, filters) is split; any other, and a month whose
//! input does not fit the pool, is computed whole as before, where DataFusion can spill.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::hash_utils::{QualityRandomState, create_hashes};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchemaRef};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::session_state::SessionState;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan, LogicalPlanBuilder, TableType};
use datafusion::physical_expr::LexOrdering;
use datafusion::physical_plan::spill::get_record_batch_memory_size;
use datafusion::physical_plan::stream::{RecordBatchReceiverStream, RecordBatchStreamAdapter};
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, execute_stream, execute_stream_partitioned};
use datafusion::prelude::DataFrame;
use futures::{StreamExt, TryStreamExt};
use tokio::task::JoinSet;

use crate::error::Error;

/// The views computed a range of groups at a time, each with the grouping column whose hash
/// splits them: every account of a month has one identifier key.
pub(crate) const BUCKETED: &[(&str, &str)] = &[("accounts", "identifier_key")];

/// How many buckets the input is split into as it is computed; ranges of them are then run
/// together, so this bounds how finely a month can be cut, not how finely it is.
const RADIX: usize = 256;

/// The input rows one range of buckets aims at. At 100M events, December's `usage` computed
/// from the events took 9.5–9.7 s with ranges of 128k or 256k rows, 10.8–11.1 s with 32k,
/// and 11.6–12.8 s grouping the month whole (BENCHMARKS.md run AB); a range costs a plan.
pub(crate) const UNIT_ROWS: usize = 128 * 1024;

/// The rows of a batch of the grouping's input. Each range takes its rows of every batch, so
/// with DataFusion's 8,192 a range of 64k rows out of 7.7M would read about a thousand slices
/// of 70 rows, and the grouping's cost per batch would outweigh its cost per row.
const INPUT_BATCH_ROWS: usize = 128 * 1024;

/// The environment variable that sets [`UNIT_ROWS`]; `0` computes every view whole, as a
/// check on the split and for measuring.
pub(crate) const UNIT_ROWS_ENV: &str = "SEATCOUNT_BUCKET_ROWS";

/// The rows a range aims at: [`UNIT_ROWS`], `SEATCOUNT_BUCKET_ROWS`, or `None` for none.
pub(crate) fn unit_rows() -> crate::error::Result<Option<usize>> {
    match std::env::var(UNIT_ROWS_ENV) {
        Err(_) => Ok(Some(UNIT_ROWS)),
        Ok(v) => match v.parse::<usize>() {
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(Error::Usage(format!(
                "{UNIT_ROWS_ENV}: '{v}' is not a number of rows"
            ))),
        },
    }
}

/// Bucket of a key's hash: its top bits, so buckets next to each other make a range.
fn bucket(hash: u64) -> usize {
    (hash >> (64 - RADIX.trailing_zeros())) as usize
}

/// A view computed a range of its groups at a time (see the module's documentation).
#[derive(Debug)]
pub struct BucketedView {
    plan: LogicalPlan,
    schema: SchemaRef,
    key: &'static str,
    unit_rows: usize,
    /// Ranges run by every scan so far; none when each computed the view whole.
    ranges: Arc<AtomicUsize>,
}

impl BucketedView {
    /// Wraps `query` (typically `ctx.table(view)`), split by the hash of grouping column `key`
    /// into ranges of about `unit_rows` input rows; nothing runs yet.
    pub fn new(query: DataFrame, key: &'static str, unit_rows: usize) -> Self {
        let schema = Arc::new(query.schema().as_arrow().clone());
        BucketedView {
            plan: query.into_unoptimized_plan(),
            schema,
            key,
            unit_rows,
            ranges: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// How many ranges of buckets the scans so far have run, to show that a view was split.
    #[cfg(test)]
    fn ranges_run(&self) -> usize {
        self.ranges.load(Ordering::Relaxed)
    }
}

/// The grouping the view ends in, and where its key column is in the grouping's input;
/// `None` when the plan above the grouping could combine groups, or the key is not one of
/// its plain grouping columns.
fn grouping<'a>(plan: &'a LogicalPlan, key: &str) -> Option<(&'a Aggregate, usize)> {
    match plan {
        LogicalPlan::Projection(p) => grouping(&p.input, key),
        LogicalPlan::Filter(f) => grouping(&f.input, key),
        LogicalPlan::SubqueryAlias(s) => grouping(&s.input, key),
        LogicalPlan::Aggregate(a) => {
            let column = a.group_expr.iter().find_map(|e| match e {
                Expr::Column(c) if c.name == key => Some(c),
                _ => None,
            })?;
            let index = a.input.schema().index_of_column(column).ok()?;
            // The input is re-read from a table of these names: each must be one column.
            let fields = a.input.schema().fields();
            let unique = fields
                .iter()
                .all(|f| fields.iter().filter(|g| g.name() == f.name()).count() == 1);
            unique.then_some((a, index))
        }
        _ => None,
    }
}

/// `plan` with its grouping's input replaced by `input`.
fn regrouped(plan: &LogicalPlan, input: LogicalPlan) -> Result<LogicalPlan> {
    let mut input = Some(input);
    plan.clone()
        .transform_down(|node| match node {
            LogicalPlan::Aggregate(a) => match input.take() {
                Some(input) => {
                    let a = Aggregate::try_new(Arc::new(input), a.group_expr, a.aggr_expr)?;
                    Ok(Transformed::new(
                        LogicalPlan::Aggregate(a),
                        true,
                        TreeNodeRecursion::Jump,
                    ))
                }
                None => Ok(Transformed::no(LogicalPlan::Aggregate(a))),
            },
            other => Ok(Transformed::no(other)),
        })
        .map(|t| t.data)
}

/// A scan of `partitions` (batches of the grouping's input) that gives each column back
/// under the name and qualifier the grouping reads it by.
fn rescan(schema: &DFSchemaRef, partitions: Vec<Vec<RecordBatch>>) -> Result<LogicalPlan> {
    const TABLE: &str = "bucketed_input";
    let table = MemTable::try_new(Arc::new(schema.as_arrow().clone()), partitions)?;
    let columns = schema.iter().map(|(qualifier, field)| {
        Expr::Column(Column::new(Some(TABLE), field.name()))
            .alias_qualified(qualifier.cloned(), field.name())
    });
    LogicalPlanBuilder::scan(TABLE, provider_as_source(Arc::new(table)), None)?
        .project(columns)?
        .build()
}

/// What one scan of the view runs: the optimized view, its grouping's input and key.
#[derive(Debug, Clone)]
struct Split {
    state: SessionState,
    /// The session the grouping's input runs in ([`INPUT_BATCH_ROWS`]).
    input_state: SessionState,
    view: LogicalPlan,
    input: DFSchemaRef,
    input_exec: Arc<dyn ExecutionPlan>,
    key: usize,
    schema: SchemaRef,
    unit_rows: usize,
    ranges: Arc<AtomicUsize>,
}

/// One batch of the grouping's input with its rows in bucket order, and where each bucket
/// starts (the last entry is the row count).
struct Sorted {
    batch: RecordBatch,
    starts: Vec<u32>,
}

/// Reorders `batch` by the bucket of column `key`'s hash.
fn sort_by_bucket(batch: RecordBatch, key: usize, hashes: &mut Vec<u64>) -> Result<Sorted> {
    let rows = batch.num_rows();
    hashes.clear();
    hashes.resize(rows, 0);
    create_hashes(
        [batch.column(key)],
        &QualityRandomState::with_seed(0),
        hashes,
    )?;
    let mut starts = vec![0u32; RADIX + 1];
    for &h in hashes.iter() {
        starts[bucket(h) + 1] += 1;
    }
    for b in 0..RADIX {
        starts[b + 1] += starts[b];
    }
    let mut next = starts.clone();
    let mut order = vec![0u32; rows];
    for (row, &h) in hashes.iter().enumerate() {
        let slot = &mut next[bucket(h)];
        order[*slot as usize] = row as u32;
        *slot += 1;
    }
    let batch = take_record_batch(&batch, &UInt32Array::from(order))?;
    Ok(Sorted { batch, starts })
}

/// Computes one partition of the grouping's input, sorted by bucket, within `reservation`;
/// `None` once the pool has no room for it.
async fn split_partition(
    mut stream: SendableRecordBatchStream,
    key: usize,
    reservation: Arc<MemoryReservation>,
) -> Result<Option<Vec<Sorted>>> {
    let mut sorted = Vec::new();
    let mut hashes = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        if batch.num_rows() == 0 {
            continue;
        }
        let batch = sort_by_bucket(batch, key, &mut hashes)?;
        if reservation
            .try_grow(get_record_batch_memory_size(&batch.batch))
            .is_err()
        {
            return Ok(None);
        }
        sorted.push(batch);
    }
    Ok(Some(sorted))
}

/// Ranges of buckets with about `unit_rows` input rows each, given each bucket's rows.
fn units(rows: &[usize], unit_rows: usize) -> Vec<(usize, usize)> {
    let mut units = Vec::new();
    let (mut start, mut count) = (0, 0);
    for (b, &n) in rows.iter().enumerate() {
        count += n;
        if count >= unit_rows {
            units.push((start, b + 1));
            (start, count) = (b + 1, 0);
        }
    }
    if count > 0 || units.is_empty() {
        units.push((start, rows.len()));
    }
    units
}

impl Split {
    /// The view over the input split by bucket, or whole when the input does not fit.
    async fn run(self: Arc<Self>, ctx: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let reservation =
            Arc::new(MemoryConsumer::new("bucketed view").register(ctx.memory_pool()));
        let mut tasks = JoinSet::new();
        let input = self.input_state.task_ctx();
        for stream in execute_stream_partitioned(self.input_exec.clone(), input)? {
            tasks.spawn(split_partition(stream, self.key, reservation.clone()));
        }
        let mut sorted = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let done = done.map_err(|e| DataFusionError::ExecutionJoin(Box::new(e)))?;
            match done? {
                Some(batches) => sorted.extend(batches),
                None => {
                    // No room: the other partitions stop and what was held is freed before
                    // the whole view runs, which can spill.
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    drop(sorted);
                    reservation.free();
                    let whole = self.state.create_physical_plan(&self.view).await?;
                    return Ok(self.relabelled(execute_stream(whole, ctx)?, None));
                }
            }
        }
        let mut rows = vec![0usize; RADIX];
        for s in &sorted {
            for (b, n) in rows.iter_mut().enumerate() {
                *n += (s.starts[b + 1] - s.starts[b]) as usize;
            }
        }
        let ranges = units(&rows, self.unit_rows);
        self.ranges.fetch_add(ranges.len(), Ordering::Relaxed);
        // Each range is grouped by one partition, without the hash repartitioning that
        // would copy its rows again, and as many ranges run at once as there are partitions.
        let workers = ctx
            .session_config()
            .target_partitions()
            .clamp(1, ranges.len());
        let mut state = self.state.clone();
        let config = state.config().clone().with_target_partitions(1);
        *state.config_mut() = config;
        let queue = Arc::new(Mutex::new(VecDeque::from(ranges)));
        let sorted = Arc::new(sorted);
        let mut out = RecordBatchReceiverStream::builder(self.schema.clone(), workers);
        for _ in 0..workers {
            let (split, state, queue, sorted, tx) = (
                self.clone(),
                state.clone(),
                queue.clone(),
                sorted.clone(),
                out.tx(),
            );
            out.spawn(async move {
                loop {
                    let next = queue
                        .lock()
                        .expect("no worker panics holding it")
                        .pop_front();
                    let Some((from, to)) = next else {
                        return Ok(());
                    };
                    // Each batch's rows of these buckets.
                    let slices = sorted
                        .iter()
                        .filter_map(|s| {
                            let (a, b) = (s.starts[from] as usize, s.starts[to] as usize);
                            (b > a).then(|| s.batch.slice(a, b - a))
                        })
                        .collect();
                    let plan = regrouped(&split.view, rescan(&split.input, vec![slices])?)?;
                    let exec = state.create_physical_plan(&plan).await?;
                    let mut rows = execute_stream(exec, state.task_ctx())?;
                    while let Some(batch) = rows.next().await {
                        if tx.send(batch).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            });
        }
        Ok(self.relabelled(out.build(), Some(reservation)))
    }

    /// `stream` with the view's schema (the plan may know a column has no NULLs where the
    /// view says it may), holding `reservation` until it ends.
    fn relabelled(
        &self,
        stream: SendableRecordBatchStream,
        reservation: Option<Arc<MemoryReservation>>,
    ) -> SendableRecordBatchStream {
        let schema = self.schema.clone();
        let batches = stream.map(move |batch| {
            let _held = &reservation;
            batch.and_then(|b| Ok(b.with_schema(schema.clone())?))
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), batches))
    }
}

impl PartitionStream for Split {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let split = Arc::new(self.clone());
        let rows = futures::stream::once(split.run(ctx)).try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), rows))
    }
}

#[async_trait]
impl TableProvider for BucketedView {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // The view planned for the columns read only, so the optimizer drops the aggregates
        // no reader takes, and their inputs: a month's accounts are grouped without the
        // identity fields under the Mendix policy (sql/views/20_accounts.sql).
        let (plan, schema) = match projection {
            None => (self.plan.clone(), self.schema.clone()),
            Some(columns) => (
                projected(&self.plan, columns)?,
                Arc::new(self.schema.project(columns)?),
            ),
        };
        let whole = || state.create_physical_plan(&plan);
        let Some(session) = state.as_any().downcast_ref::<SessionState>() else {
            return whole_scan(whole().await?, limit);
        };
        let view = session.optimize(&plan)?;
        let Some((aggregate, key)) = grouping(&view, self.key) else {
            return whole_scan(whole().await?, limit);
        };
        let input = aggregate.input.schema().clone();
        // Large batches, so that each range's share of a batch is not a handful of rows.
        let mut input_state = session.clone();
        let rows = input_state.config().batch_size().max(INPUT_BATCH_ROWS);
        let config = input_state.config().clone().with_batch_size(rows);
        *input_state.config_mut() = config;
        let input_exec = input_state
            .create_physical_plan(&aggregate.input.as_ref().clone())
            .await?;
        let split = Split {
            state: session.clone(),
            input_state,
            view: view.clone(),
            input,
            input_exec,
            key,
            schema,
            unit_rows: self.unit_rows,
            ranges: self.ranges.clone(),
        };
        scan_of(Arc::new(split), limit)
    }
}

/// `plan` giving only its output `columns`, in that order.
fn projected(plan: &LogicalPlan, columns: &[usize]) -> Result<LogicalPlan> {
    let schema = plan.schema();
    let exprs = columns
        .iter()
        .map(|&i| Expr::Column(Column::from(schema.qualified_field(i))));
    LogicalPlanBuilder::from(plan.clone())
        .project(exprs)?
        .build()
}

/// A scan of the rows `stream` gives, with a scan's limit.
fn scan_of(
    stream: Arc<dyn PartitionStream>,
    limit: Option<usize>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = stream.schema().clone();
    let exec = StreamingTableExec::try_new(
        schema,
        vec![stream],
        None,
        None::<LexOrdering>,
        false,
        limit,
    )?;
    Ok(Arc::new(exec))
}

/// The view computed whole, with a scan's limit.
fn whole_scan(
    plan: Arc<dyn ExecutionPlan>,
    limit: Option<usize>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = plan.schema();
    scan_of(Arc::new(WholeView { plan, schema }), limit)
}

/// A view's own plan, read as one stream.
#[derive(Debug)]
struct WholeView {
    plan: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
}

impl PartitionStream for WholeView {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        match execute_stream(self.plan.clone(), ctx) {
            Ok(stream) => stream,
            Err(e) => Box::pin(RecordBatchStreamAdapter::new(
                self.schema.clone(),
                futures::stream::once(async move { Err(e) }),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// A table of 2,000 rows over 300 keys (NULL among them) and the view `v` over it.
    async fn session(view: &str, pool: Option<usize>) -> SessionContext {
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(bytes) = pool {
            runtime = runtime.with_memory_limit(bytes, 1.0);
        }
        let config = SessionConfig::new()
            .with_target_partitions(2)
            .with_batch_size(128);
        let ctx = SessionContext::new_with_config_rt(config, runtime.build_arc().unwrap());
        ctx.sql(
            "CREATE TABLE t AS SELECT CASE WHEN n % 301 = 0 THEN NULL ELSE n % 300 END AS k, \
             n % 3 AS g, n AS v FROM generate_series(1, 2000) AS s(n)",
        )
        .await
        .unwrap();
        ctx.sql(&format!("CREATE VIEW v AS {view}")).await.unwrap();
        ctx
    }

    /// The view's rows, as sorted lines (a sort of its own would need more than the smallest
    /// pool here), computed whole and through a [`BucketedView`] of `unit_rows`;
    /// and how many ranges the latter ran.
    async fn both(view: &str, unit_rows: usize, pool: Option<usize>) -> (String, String, usize) {
        read_both("SELECT * FROM v", view, unit_rows, pool).await
    }

    /// [`both`], reading `query` over the view.
    async fn read_both(
        query: &str,
        view: &str,
        unit_rows: usize,
        pool: Option<usize>,
    ) -> (String, String, usize) {
        let read = |ctx: SessionContext| async move {
            let batches = ctx.sql(query).await.unwrap().collect().await;
            let text = pretty_format_batches(&batches.unwrap())
                .unwrap()
                .to_string();
            let mut lines: Vec<_> = text.lines().map(str::to_string).collect();
            lines.sort();
            lines.join("\n")
        };
        let whole = read(session(view, None).await).await;
        let ctx = session(view, pool).await;
        let split = Arc::new(BucketedView::new(
            ctx.table("v").await.unwrap(),
            "k",
            unit_rows,
        ));
        ctx.deregister_table("v").unwrap();
        ctx.register_table("v", split.clone()).unwrap();
        (whole, read(ctx).await, split.ranges_run())
    }

    #[tokio::test]
    async fn a_grouping_split_by_its_key_gives_the_rows_it_gives_whole() {
        let view = "SELECT k, g, sum(v) AS s FROM t WHERE v > 5 GROUP BY k, g HAVING count(*) > 1";
        let (whole, split, ranges) = both(view, 100, None).await;
        assert_eq!(split, whole);
        assert!(ranges > 5, "{ranges} ranges");
        assert!(whole.lines().count() > 250, "{whole}");
    }

    #[tokio::test]
    async fn a_scan_of_some_columns_plans_the_view_for_those() {
        // `bad` fails wherever it is computed (a division by zero), so a query that does not
        // read it succeeds only if the scan's plan leaves that aggregate out.
        let view = "SELECT k, g, sum(v) AS s, max(v) AS m, sum(v / (v - v)) AS bad \
                    FROM t GROUP BY k, g";
        for query in [
            "SELECT m, k FROM v",
            "SELECT g FROM v WHERE k > 10",
            "SELECT count(*) FROM v",
        ] {
            let (whole, split, ranges) = read_both(query, view, 100, None).await;
            assert_eq!(split, whole, "{query}");
            assert!(ranges > 5, "{query}: {ranges} ranges");
        }
        let ctx = session(view, None).await;
        let split = BucketedView::new(ctx.table("v").await.unwrap(), "k", 100);
        ctx.register_table("b", Arc::new(split)).unwrap();
        let read = ctx.sql("SELECT bad FROM b").await.unwrap().collect().await;
        assert!(read.is_err(), "{read:?}");
    }

    #[tokio::test]
    async fn a_view_that_combines_groups_or_lacks_the_key_is_computed_whole() {
        for view in [
            "SELECT k, g, s FROM (SELECT k, g, sum(v) AS s FROM t GROUP BY k, g) ORDER BY s LIMIT 10",
            "SELECT g, sum(v) AS s, count(*) AS c FROM t GROUP BY g",
        ] {
            let (whole, split, ranges) = both(view, 100, None).await;
            assert_eq!(split, whole, "{view}");
            assert_eq!(ranges, 0, "{view}");
        }
    }

    #[tokio::test]
    async fn an_input_larger_than_the_pool_is_computed_whole() {
        // Few groups, so the whole computation fits where the input does not.
        let view = "SELECT k, count(*) AS c, 0 AS z FROM (SELECT k % 4 AS k FROM t) GROUP BY k";
        let (whole, split, ranges) = both(view, 100, Some(8 * 1024)).await;
        assert_eq!(split, whole);
        assert_eq!(ranges, 0);
    }

    #[test]
    fn ranges_gather_buckets_up_to_the_rows_aimed_at() {
        assert_eq!(units(&[3, 3, 3, 3], 5), vec![(0, 2), (2, 4)]);
        assert_eq!(units(&[10, 0, 0, 1], 5), vec![(0, 1), (1, 4)]);
        assert_eq!(
            units(&[0, 0], 5),
            vec![(0, 2)],
            "one range even with no rows"
        );
        assert_eq!(units(&[1, 1, 1], 100), vec![(0, 3)]);
    }
}
