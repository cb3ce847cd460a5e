//! The query engine: one DataFusion session per command with seatcount's functions, the
//! stored `events` table and a bounded memory pool, so ingest, `sql`, reports and the REPL
//! all run queries the same way.

pub mod sql;
pub mod udf;

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ParamValues;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;

use crate::error::Result;
use crate::warehouse::{Warehouse, schema};

/// Environment variable bounding the engine's memory, in MiB; past it, sorts and
/// aggregations spill to disk.
pub const MEMORY_ENV: &str = "SEATCOUNT_MEMORY_MB";
const DEFAULT_MEMORY_MB: usize = 4096;

/// A session bound to one warehouse.
pub struct Engine {
    ctx: SessionContext,
}

impl Engine {
    /// A session over `wh` with the functions configured by `settings`.
    pub async fn open(wh: &Warehouse, settings: &udf::UdfSettings) -> Result<Self> {
        let memory_mb = std::env::var(MEMORY_ENV)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(DEFAULT_MEMORY_MB);
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(memory_mb * 1024 * 1024, 1.0)
            .build_arc()?;
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("seatcount", "public");
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        udf::register(&ctx, settings);
        let engine = Engine { ctx };
        engine.register_events(wh).await?;
        Ok(engine)
    }

    async fn register_events(&self, wh: &Warehouse) -> Result<()> {
        let dir = wh.events_dir();
        crate::warehouse::make_dir(&dir, 0o755)?;
        let file_schema = schema::stored_schema();
        let options = ParquetReadOptions::default()
            .table_partition_cols(vec![(schema::MONTH.to_string(), DataType::Utf8)])
            .schema(&file_schema);
        let url = format!(
            "{}/",
            dir.canonicalize()
                .map_err(|e| crate::error::Error::io(&dir, e))?
                .display()
        );
        self.ctx.register_parquet("events", &url, options).await?;
        Ok(())
    }

    /// The DataFusion session, for registering extra tables.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Plans `sql` with `$1, $2, …` bound to `params`.
    pub async fn dataframe(&self, sql: &str, params: &[ScalarValue]) -> Result<DataFrame> {
        let df = self.ctx.sql(sql).await?;
        if params.is_empty() {
            Ok(df)
        } else {
            Ok(df.with_param_values(ParamValues::List(
                params.iter().cloned().map(Into::into).collect(),
            ))?)
        }
    }

    /// Runs `sql` and collects every row.
    pub async fn collect(
        &self,
        sql: &str,
        params: &[ScalarValue],
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let df = self.dataframe(sql, params).await?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        Ok((schema, batches))
    }

    /// Runs `sql` as a stream of batches, for results too large to hold.
    pub async fn stream(
        &self,
        sql: &str,
        params: &[ScalarValue],
    ) -> Result<SendableRecordBatchStream> {
        Ok(self.dataframe(sql, params).await?.execute_stream().await?)
    }
}
