//! A view computed at most once, on first use, and then read from memory, or from disk past
//! its share of the memory pool.
//!
//! DataFusion inlines views and does not share common subplans, so a view that later views read
//! several times over is computed again for every read. Holding its rows fixes that, but
//! computing them up front costs every query that never reads the view; this table computes
//! them when a query first plans a scan of it.
//!
//! Held rows are memory the pool must know about, or a report's peak is the pool plus whatever
//! the views hold (BENCHMARKS.md item 21). So every held batch
//! is reserved from the pool; the views of one engine may hold at most [`HELD_SHARE`] of it, so
//! the joins and aggregations over them keep the rest. A batch past that share goes to a spill
//! file in DataFusion's temporary directory (its Arrow IPC spill format, hashes only) and is read
//! back from there by every scan. A view held wholly in memory is scanned as a memory table,
//! the same as with no share.
//!
//! It keeps the view's logical plan, not a `DataFrame`: a `DataFrame` holds the session state,
//! whose catalog holds this table, a cycle that kept every month's rows alive until exit.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit, MemoryReservation};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{SendableRecordBatchStream, SpillFile, TaskContext};
use datafusion::logical_expr::{Expr, LogicalPlan, TableType};
use datafusion::physical_expr::LexOrdering;
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, SpillMetrics};
use datafusion::physical_plan::spill::SpillManager;
use datafusion::physical_plan::spill::get_record_batch_memory_size;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, execute_stream_partitioned};
use datafusion::prelude::DataFrame;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;
use tokio::task::JoinSet;

/// The share of the memory pool the held views of one engine may take together.
///
/// A minority, because the joins and aggregations that read the views cannot all spill: with a
/// half share a large month's usage report ran out of a 4 GiB pool (BENCHMARKS.md item 21). A
/// quarter holds a large month's views whole in the default pool, where an eighth spilled them
/// every month (item 36).
pub const HELD_SHARE: f64 = 0.25;

/// What the held views of one engine have reserved, and how far they may go.
#[derive(Debug)]
pub struct HeldMemory {
    reservation: MemoryReservation,
    cap: usize,
}

impl HeldMemory {
    /// A budget of [`HELD_SHARE`] of `runtime`'s pool (unbounded when the pool is).
    pub fn new(runtime: &RuntimeEnv) -> Arc<Self> {
        let pool = &runtime.memory_pool;
        let cap = match pool.memory_limit() {
            MemoryLimit::Finite(bytes) => (bytes as f64 * HELD_SHARE) as usize,
            MemoryLimit::Infinite | MemoryLimit::Unknown => usize::MAX,
        };
        Arc::new(HeldMemory {
            reservation: MemoryConsumer::new("held views").register(pool),
            cap,
        })
    }

    /// Reserves `bytes` when they fit both the share and the pool.
    fn try_hold(&self, bytes: usize) -> bool {
        self.reservation.size().saturating_add(bytes) <= self.cap
            && self.reservation.try_grow(bytes).is_ok()
    }
}

/// A view's query and, once a scan has needed them, its rows.
#[derive(Debug)]
pub struct HeldView {
    plan: LogicalPlan,
    schema: SchemaRef,
    memory: Arc<HeldMemory>,
    rows: OnceCell<Vec<Arc<HeldPartition>>>,
}

impl HeldView {
    /// Wraps `query` (typically `ctx.table(view)`), to hold its rows within `memory`; nothing
    /// runs yet.
    pub fn new(query: DataFrame, memory: Arc<HeldMemory>) -> Self {
        let schema = Arc::new(query.schema().as_arrow().clone());
        HeldView {
            plan: query.into_unoptimized_plan(),
            schema,
            memory,
            rows: OnceCell::new(),
        }
    }

    async fn rows(&self, state: &dyn Session) -> Result<&Vec<Arc<HeldPartition>>> {
        self.rows
            .get_or_try_init(|| async {
                let plan = state.create_physical_plan(&self.plan).await?;
                let spills = SpillManager::new(
                    state.runtime_env().clone(),
                    SpillMetrics::new(&ExecutionPlanMetricsSet::new(), 0),
                    self.schema.clone(),
                )
                .with_compression_type(state.config_options().execution.spill_compression);
                let mut tasks = JoinSet::new();
                for stream in execute_stream_partitioned(plan, state.task_ctx())? {
                    tasks.spawn(hold(
                        stream,
                        self.schema.clone(),
                        self.memory.clone(),
                        spills.clone(),
                    ));
                }
                tasks
                    .join_all()
                    .await
                    .into_iter()
                    .map(|done| done.map(Arc::new))
                    .collect()
            })
            .await
    }
}

/// One partition's rows: those that fitted in memory, then those that did not.
struct HeldPartition {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    spilled: Option<(Arc<dyn SpillFile>, SpillManager)>,
}

/// Drains `stream`, holding batches while `memory` allows and spilling the rest, in order.
///
/// Batches are re-labelled with the view's logical `schema`: the physical plan may know a
/// column cannot be NULL where the view's schema says it may be, and a scan of the spilled
/// rows must declare exactly the view's schema.
async fn hold(
    mut stream: SendableRecordBatchStream,
    schema: SchemaRef,
    memory: Arc<HeldMemory>,
    spills: SpillManager,
) -> Result<HeldPartition> {
    let mut batches = Vec::new();
    let mut file = None;
    while let Some(batch) = stream.next().await {
        // Held whole, so charged for its rows only (see `compact`).
        let batch = super::compact::compact(batch?)?.with_schema(schema.clone())?;
        if file.is_none() && memory.try_hold(get_record_batch_memory_size(&batch)) {
            batches.push(batch);
            continue;
        }
        let file = match &mut file {
            Some(file) => file,
            None => file.insert(spills.create_in_progress_file("held view")?),
        };
        file.append_batch(&batch)?;
    }
    let spilled = match file {
        Some(mut file) => file.finish()?.map(|done| (done, spills)),
        None => None,
    };
    Ok(HeldPartition {
        schema,
        batches,
        spilled,
    })
}

impl std::fmt::Debug for HeldPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldPartition")
            .field("batches", &self.batches.len())
            .field("spilled", &self.spilled.is_some())
            .finish()
    }
}

impl PartitionStream for HeldPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let held = futures::stream::iter(self.batches.clone().into_iter().map(Ok));
        let spilled = self.spilled.clone();
        let rest = futures::stream::once(async move {
            match spilled {
                Some((file, spills)) => spills.read_spill_as_stream(file, None).map(|s| s.boxed()),
                None => Ok(futures::stream::empty().boxed()),
            }
        })
        .try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            held.chain(rest),
        ))
    }
}

#[async_trait]
impl TableProvider for HeldView {
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
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let held = self.rows(state).await?;
        if held.iter().all(|p| p.spilled.is_none()) {
            // All in memory: a memory table, whose exact row counts let the planner pick the
            // smaller side of a join to build.
            let batches = held.iter().map(|p| p.batches.clone()).collect();
            let table = MemTable::try_new(self.schema.clone(), batches)?;
            return table.scan(state, projection, filters, limit).await;
        }
        let partitions = held
            .iter()
            .map(|p| p.clone() as Arc<dyn PartitionStream>)
            .collect();
        let exec = StreamingTableExec::try_new(
            self.schema.clone(),
            partitions,
            projection,
            None::<LexOrdering>,
            false,
            limit,
        )?;
        Ok(Arc::new(exec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// Wraps view `v` the way `Engine::hold` does, and hands back the engine's only
    /// handle on the wrapper.
    async fn held(ctx: &SessionContext) -> std::sync::Weak<HeldView> {
        ctx.sql("CREATE VIEW v AS SELECT column1 AS n FROM (VALUES (1), (2), (2))")
            .await
            .unwrap();
        let memory = HeldMemory::new(&ctx.runtime_env());
        let view = Arc::new(HeldView::new(ctx.table("v").await.unwrap(), memory));
        ctx.deregister_table("v").unwrap();
        ctx.register_table("v", view.clone()).unwrap();
        Arc::downgrade(&view)
    }

    async fn sum(ctx: &SessionContext) -> i64 {
        let batches = ctx
            .sql("SELECT sum(n) FROM v")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let sums = batches[0].column(0).as_any().downcast_ref::<Int64Array>();
        sums.unwrap().value(0)
    }

    #[tokio::test]
    async fn the_rows_are_freed_with_the_engine() {
        // A report over every month opens an engine per month; were the held rows to keep
        // their own session alive, every month's rows would stay until exit.
        let ctx = SessionContext::new();
        let view = held(&ctx).await;
        assert_eq!(sum(&ctx).await, 5);
        assert!(view.upgrade().is_some());
        drop(ctx);
        assert!(
            view.upgrade().is_none(),
            "the held view outlived its engine"
        );
    }

    #[tokio::test]
    async fn rows_past_the_pool_share_are_read_back_from_disk() {
        // A pool too small for even one batch: every row goes to the spill file, and every
        // scan, not only the first, reads all of them back.
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(16, 1.0)
            .build_arc()
            .unwrap();
        let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime.clone());
        let _view = held(&ctx).await;
        assert_eq!(sum(&ctx).await, 5);
        assert_eq!(sum(&ctx).await, 5);
        assert!(
            runtime.disk_manager.used_disk_space() > 0,
            "nothing spilled"
        );
    }
}
