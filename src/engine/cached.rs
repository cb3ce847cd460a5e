//! A view computed at most once, on first use, and then read from memory.
//!
//! DataFusion inlines views and does not share common subplans, so a view that later views read
//! several times over is computed again for every read. Holding its rows fixes that, but
//! computing them up front costs every query that never reads the view; this table computes
//! them when a query first plans a scan of it.
//!
//! It keeps the view's logical plan, not a `DataFrame`: a `DataFrame` holds the session state,
//! whose catalog holds this table, a cycle that kept every month's rows alive until exit.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan, TableType};
use datafusion::physical_plan::{ExecutionPlan, collect_partitioned};
use datafusion::prelude::DataFrame;
use tokio::sync::OnceCell;

/// A view's query and, once a scan has needed them, its rows.
#[derive(Debug)]
pub struct CachedView {
    plan: LogicalPlan,
    schema: SchemaRef,
    rows: OnceCell<MemTable>,
}

impl CachedView {
    /// Wraps `query` (typically `ctx.table(view)`); nothing runs yet.
    pub fn new(query: DataFrame) -> Self {
        let schema = Arc::new(query.schema().as_arrow().clone());
        CachedView {
            plan: query.into_unoptimized_plan(),
            schema,
            rows: OnceCell::new(),
        }
    }

    async fn rows(&self, state: &dyn Session) -> Result<&MemTable> {
        self.rows
            .get_or_try_init(|| async {
                let plan = state.create_physical_plan(&self.plan).await?;
                let partitions = collect_partitioned(plan, state.task_ctx()).await?;
                MemTable::try_new(self.schema.clone(), partitions)
            })
            .await
    }
}

#[async_trait]
impl TableProvider for CachedView {
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
        self.rows(state)
            .await?
            .scan(state, projection, filters, limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    /// Reads a view wrapped the way `Engine::materialize` does, and hands back the engine's
    /// only handle on the wrapper.
    async fn cached_and_read(ctx: &SessionContext) -> std::sync::Weak<CachedView> {
        ctx.sql("CREATE VIEW v AS SELECT column1 AS n FROM (VALUES (1), (2), (2))")
            .await
            .unwrap();
        let view = Arc::new(CachedView::new(ctx.table("v").await.unwrap()));
        ctx.deregister_table("v").unwrap();
        ctx.register_table("v", view.clone()).unwrap();
        let batches = ctx
            .sql("SELECT sum(n) FROM v")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let sum = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>()
            .unwrap()
            .value(0);
        assert_eq!(sum, 5);
        Arc::downgrade(&view)
    }

    #[tokio::test]
    async fn the_rows_are_freed_with_the_engine() {
        // A report over every month opens an engine per month; were the cached rows to keep
        // their own session alive, every month's rows would stay until exit.
        let ctx = SessionContext::new();
        let view = cached_and_read(&ctx).await;
        assert!(view.upgrade().is_some());
        drop(ctx);
        assert!(
            view.upgrade().is_none(),
            "the cached view outlived its engine"
        );
    }
}
