//! The reports and SQL on an Apache DataFusion Ballista cluster (docs/cluster.md): the same
//! views and SQL files, planned here, run by a scheduler and its executors over a warehouse
//! every executor reads at the same path.
//!
//! A command given `--cluster HOST:PORT` connects once ([`Cluster::connect`]) and every
//! engine it opens after that sends its plans there ([`current`]). What such an engine cannot
//! send it does not make: it holds no view in its memory, and a month's derived state that is
//! not on disk yet is computed by the cluster inside each query rather than written from here;
//! the derived files that are there, the executors read as plain Parquet, for one month or,
//! in `sql` and the REPL, for every month at once.

pub mod codec;
pub mod serve;

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use datafusion::catalog::Session;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, Result};

/// The cluster this process sends its plans to, once connected.
static CURRENT: OnceLock<Cluster> = OnceLock::new();

/// Ballista's switch between its adaptive and its static planner.
const ADAPTIVE_PLANNER: &str = "ballista.planner.adaptive.enabled";

/// How long the scheduler has to accept a connection before the command gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an answer of the readiness probe that the cluster has an executor is taken as
/// still true: a report plans many queries, and an executor lost in between is Ballista's to
/// handle (it fails the job once the executor misses its heartbeats).
const READY_FOR: Duration = Duration::from_secs(2);

/// A scheduler that answered.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// `host:port`, as given.
    address: String,
    /// When the readiness probe last said the cluster has an executor.
    ready_at: Arc<Mutex<Option<Instant>>>,
}

impl Cluster {
    /// Checks that a scheduler accepts connections at `address` (`HOST:PORT`), so a wrong
    /// address is one sentence before any work, not a gRPC error in the middle of a report.
    pub fn connect(address: &str) -> Result<Cluster> {
        let unreachable = |why: String| {
            Error::Usage(format!(
                "no Ballista scheduler answers at {address} ({why}); start one with `seatcount scheduler` (docs/cluster.md)"
            ))
        };
        let addrs: Vec<_> = address
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("{e}")))?
            .collect();
        let mut last = String::from("the name resolves to no address");
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
                Ok(_) => {
                    return Ok(Cluster {
                        address: address.to_string(),
                        ready_at: Arc::default(),
                    });
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(unreachable(last))
    }

    /// Makes this the cluster every engine of this process sends its plans to.
    pub fn use_for_this_process(self) {
        let _ = CURRENT.set(self);
    }

    /// The scheduler's URL, as Ballista's client takes it.
    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `state` planning for this cluster, sending its plans with seatcount's codecs.
    pub(crate) fn upgrade(&self, mut state: SessionState) -> Result<SessionState> {
        let config = std::mem::take(state.config_mut())
            .with_ballista_logical_extension_codec(Arc::new(codec::LogicalCodec::default()))
            .with_ballista_physical_extension_codec(Arc::new(codec::PhysicalCodec::default()));
        *state.config_mut() = config;
        let mut state = state.upgrade_for_ballista(self.url())?;
        let options = state.config_mut().options_mut();
        // Ballista 55's adaptive planner gives a UNION ALL under an ORDER BY each branch's rows
        // again once per branch before it (the hygiene report's shape); its static planner
        // runs them right.
        options.set(ADAPTIVE_PLANNER, "false")?;
        // Ballista prefers sort-merge joins (they spill); in 55 a sort-merge LEFT JOIN with a
        // condition beyond its keys labels the right side's columns non-nullable and fails on
        // the NULLs it produces (`valid_subscriptions`). Hash joins, as the embedded engine
        // plans them, run right.
        options.optimizer.prefer_hash_join = true;
        let planner = ExecutorsFirst {
            cluster: self.clone(),
            inner: state.query_planner().clone(),
        };
        Ok(SessionStateBuilder::new_from_existing(state)
            .with_query_planner(Arc::new(planner))
            .build())
    }

    /// Fails with one sentence unless the scheduler has a live executor. Ballista queues a
    /// job that arrives at a scheduler without executors until one registers, so without
    /// this a report would wait forever; the scheduler's readiness probe (`GET /readyz` on
    /// its gRPC port, answered 503 while no executor is alive) says so at once.
    async fn has_executors(&self) -> Result<()> {
        let lately = |at: &Option<Instant>| at.is_some_and(|at| at.elapsed() < READY_FOR);
        if lately(&self.ready_at.lock().expect("not poisoned")) {
            return Ok(());
        }
        let status = tokio::time::timeout(CONNECT_TIMEOUT, self.readiness())
            .await
            .map_err(|_| {
                Error::Runtime(format!(
                    "the Ballista cluster at {} did not answer within {} s",
                    self.address,
                    CONNECT_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| {
                Error::Runtime(format!(
                    "the Ballista cluster at {} stopped answering ({e})",
                    self.address
                ))
            })?;
        if status == NOT_READY {
            return Err(Error::Usage(format!(
                "the Ballista scheduler at {0} has no live executor to run the query; start one with `seatcount executor --scheduler {0}` (docs/cluster.md)",
                self.address
            )));
        }
        *self.ready_at.lock().expect("not poisoned") = Some(Instant::now());
        Ok(())
    }

    /// The HTTP status of the scheduler's readiness probe. A scheduler without the probe
    /// answers something else than 503 and is taken at its word.
    async fn readiness(&self) -> std::io::Result<u16> {
        let mut stream = tokio::net::TcpStream::connect(&self.address).await?;
        let request = format!(
            "GET /readyz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        );
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        // "HTTP/1.1 503 Service Unavailable": the status is the status line's second word.
        let status = String::from_utf8_lossy(&answer)
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        Ok(status)
    }
}

/// What the readiness probe answers while the scheduler has no live executor.
const NOT_READY: u16 = 503;

/// Ballista's query planner, after a check that the cluster has an executor to run the plan.
#[derive(Debug)]
struct ExecutorsFirst {
    cluster: Cluster,
    inner: Arc<dyn QueryPlanner + Send + Sync>,
}

#[async_trait]
impl QueryPlanner for ExecutorsFirst {
    async fn create_physical_plan(
        &self,
        plan: &LogicalPlan,
        session: &dyn Session,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        self.cluster
            .has_executors()
            .await
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        self.inner.create_physical_plan(plan, session).await
    }
}

/// What a broken connection to a cluster says, in the words of the libraries underneath.
const CONNECTION_LOST: [&str; 6] = [
    "h2 protocol error",
    "transport error",
    "error trying to connect",
    "onnection refused",
    "onnection reset",
    "roken pipe",
];

/// `error`, from a command that ran on the cluster at `address`, saying so when the cause is
/// that the cluster stopped answering (a gRPC stream cut short reads "h2 protocol error").
pub fn lost(error: Error, address: &str) -> Error {
    let text = error.to_string();
    if CONNECTION_LOST.iter().any(|words| text.contains(words)) {
        Error::Runtime(format!(
            "the Ballista cluster at {address} stopped answering before the query finished ({text})"
        ))
    } else {
        error
    }
}

/// The cluster of this process, when `--cluster` gave one.
pub fn current() -> Option<&'static Cluster> {
    CURRENT.get()
}
