//! A view computed at most once, on first use, and then read from memory.
//!
//! DataFusion inlines views and does not share common subplans, so a view that later views read
//! several times over is computed again for every read. Holding its rows fixes that, but
//! computing them up front costs every query that never reads the view; this table computes
//! them when a query first plans a scan of it.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::DataFrame;
use tokio::sync::OnceCell;

/// A view's query and, once a scan has needed them, its rows.
#[derive(Debug)]
pub struct CachedView {
    query: DataFrame,
    schema: SchemaRef,
    rows: OnceCell<MemTable>,
}

impl CachedView {
    /// Wraps `query` (typically `ctx.table(view)`); nothing runs yet.
    pub fn new(query: DataFrame) -> Self {
        let schema = Arc::new(query.schema().as_arrow().clone());
        CachedView {
            query,
            schema,
            rows: OnceCell::new(),
        }
    }

    async fn rows(&self) -> Result<&MemTable> {
        self.rows
            .get_or_try_init(|| async {
                let partitions = self.query.clone().collect_partitioned().await?;
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
        self.rows()
            .await?
            .scan(state, projection, filters, limit)
            .await
    }
}
