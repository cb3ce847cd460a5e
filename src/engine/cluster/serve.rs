//! `seatcount scheduler` and `seatcount executor`: Ballista's own scheduler and executor, run
//! in this binary so that they know seatcount's functions (docs/cluster.md "Starting one").
//!
//! An executor resolves the functions of the plans it is sent from its own registry and
//! codecs: Ballista's stock executor knows neither seatcount's functions nor every DataFusion
//! function seatcount's SQL calls (its registry lacks the nested ones, `cardinality` among
//! them). Both processes log to standard error at `RUST_LOG` (default `warn`).

use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::JobId;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::{
    RuntimeStatsReport, ShuffleWritePartition, TaskColumnStats, WindowStateReport,
};
use ballista_executor::execution_engine::{
    DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor,
};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::{SessionStateBuilder, TaskContext};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::prelude::SessionConfig;

use super::codec::{LogicalCodec, PhysicalCodec};
use crate::engine::udf;
use crate::error::{Error, Result};

/// How `seatcount scheduler` listens.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// `HOST:PORT` to listen on.
    pub bind: String,
    /// Seconds without a heartbeat after which an executor is taken for dead and its tasks
    /// are run elsewhere.
    pub executor_timeout_s: u64,
}

/// How `seatcount executor` joins its scheduler.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's `HOST:PORT`.
    pub scheduler: String,
    /// The address to listen on.
    pub bind_host: String,
    /// The host name other machines reach this executor at (default: the bind address).
    pub advertise: Option<String>,
    /// The port shuffle data is served on (Arrow Flight).
    pub port: u16,
    /// The port the scheduler hands tasks to.
    pub grpc_port: u16,
    /// Tasks run at once (default: every core).
    pub cores: Option<usize>,
    /// The executor's memory pool, shared by its tasks (default: Ballista's share of the
    /// machine's memory).
    pub memory_mb: Option<u64>,
    /// Where shuffle files are written (default: a temporary directory).
    pub work_dir: Option<PathBuf>,
    /// Seconds between heartbeats to the scheduler.
    pub heartbeat_s: u64,
}

/// Logs Ballista's messages to standard error, at `warn` unless `RUST_LOG` says otherwise.
fn init_logging() {
    let env = env_logger::Env::default().default_filter_or("warn");
    let _ = env_logger::Builder::from_env(env).try_init();
}

/// `host:port` split, or a usage error naming the flag.
fn host_port(text: &str, flag: &str) -> Result<(String, u16)> {
    let bad = || Error::Usage(format!("{flag} takes HOST:PORT, not '{text}'"));
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port = port.parse().map_err(|_| bad())?;
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// Runs a scheduler until the process is stopped.
pub async fn scheduler(options: SchedulerOptions) -> Result<()> {
    init_logging();
    let (host, port) = host_port(&options.bind, "--bind")?;
    let address = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| Error::Usage(format!("--bind {}: {e}", options.bind)))?
        .next()
        .ok_or_else(|| Error::Usage(format!("--bind {}: no such address", options.bind)))?;
    let config = SchedulerConfig {
        bind_host: host.clone(),
        bind_port: port,
        external_host: host,
        executor_timeout_seconds: options.executor_timeout_s,
        no_executors_grace_period_seconds: options.executor_timeout_s,
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(cluster_error)?;
    eprintln!("seatcount scheduler listening on {address}");
    start_server(cluster, address, Arc::new(config))
        .await
        .map_err(cluster_error)
}

/// Runs an executor until the process is stopped.
pub async fn executor(options: ExecutorOptions) -> Result<()> {
    init_logging();
    let (scheduler_host, scheduler_port) = host_port(&options.scheduler, "--scheduler")?;
    let defaults = ExecutorProcessConfig::default();
    let work_dir = match &options.work_dir {
        Some(dir) => {
            crate::warehouse::make_dir(dir, 0o700)?;
            Some(dir.display().to_string())
        }
        None => None,
    };
    let config = ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: options.advertise.clone(),
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host,
        scheduler_port,
        vcores: options.cores.unwrap_or(defaults.vcores),
        work_dir,
        executor_heartbeat_interval_seconds: options.heartbeat_s,
        memory_pool_size: options.memory_mb.map(|mb| mb * 1024 * 1024),
        override_function_registry: Some(Arc::new(registry())),
        override_execution_engine: Some(Arc::new(WithoutMetrics(DefaultExecutionEngine::new()))),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..defaults
    };
    eprintln!(
        "seatcount executor on {}:{} joining the scheduler at {}",
        options.bind_host, options.port, options.scheduler
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(cluster_error)
}

/// Every function of DataFusion's default session and seatcount's aggregates (its scalar
/// functions come with their settings, through the codec).
fn registry() -> BallistaFunctionRegistry {
    let state = SessionStateBuilder::new().with_default_features().build();
    let mut registry = BallistaFunctionRegistry::from(&state);
    for f in udf::aggregates() {
        registry
            .aggregate_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    registry
}

/// Ballista's execution engine, reporting no operator metrics with a task's result.
///
/// Ballista 55's scheduler refuses a task's status whose operators differ in number from those
/// of the stage's first task, which happens whenever the tasks of a stage split the branches of
/// a `UNION ALL` between them (`SELECT … UNION ALL SELECT … ORDER BY …`); the refused status
/// leaves the job waiting for ever. The metrics only feed Ballista's own monitoring, so none
/// are sent.
struct WithoutMetrics(DefaultExecutionEngine);

impl ExecutionEngine for WithoutMetrics {
    fn create_query_stage_exec(
        &self,
        job_id: JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> datafusion::common::Result<Arc<dyn QueryStageExecutor>> {
        let stage = self.0.create_query_stage_exec(
            job_id,
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )?;
        Ok(Arc::new(StageWithoutMetrics(stage)))
    }
}

/// A stage of [`WithoutMetrics`].
#[derive(Debug)]
struct StageWithoutMetrics(Arc<dyn QueryStageExecutor>);

impl std::fmt::Display for StageWithoutMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[async_trait::async_trait]
impl QueryStageExecutor for StageWithoutMetrics {
    async fn execute_query_stage(
        &self,
        task_id: usize,
        context: Arc<TaskContext>,
    ) -> datafusion::common::Result<Vec<ShuffleWritePartition>> {
        self.0.execute_query_stage(task_id, context).await
    }

    fn collect_plan_metrics(&self) -> Vec<MetricsSet> {
        Vec::new()
    }

    fn collect_runtime_stats_reports(&self) -> Vec<RuntimeStatsReport> {
        self.0.collect_runtime_stats_reports()
    }

    fn collect_window_state_reports(&self) -> datafusion::common::Result<Vec<WindowStateReport>> {
        self.0.collect_window_state_reports()
    }

    fn collect_column_stats(&self) -> Vec<TaskColumnStats> {
        self.0.collect_column_stats()
    }
}

fn cluster_error(e: ballista_core::error::BallistaError) -> Error {
    Error::Runtime(crate::error::remote_message(&e.to_string()))
}
