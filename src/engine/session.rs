//! A warehouse opened for querying: its configuration, its subscriptions and an engine with
//! the metering views installed. `sql`, `report`, the REPL, the dashboard and the SQL-level
//! tests all start from one, so they cannot disagree on what the views mean.

use std::path::Path;

use crate::config::{Config, Override};
use crate::engine::Engine;
use crate::engine::memory::{self, Workload};
use crate::engine::udf::UdfSettings;
use crate::error::Result;
use crate::warehouse::Warehouse;
use crate::warehouse::assignments::{self, Assignment};
use crate::warehouse::entitlements::{self, Subscription};
pub use crate::warehouse::sources::Sources;

/// Everything a query needs, opened once.
pub struct Session {
    /// The warehouse the events come from.
    pub warehouse: Warehouse,
    /// The configuration the views were rendered with.
    pub config: Config,
    /// The engine, with `events`, `subscriptions` and the views registered.
    pub engine: Engine,
    /// The subscriptions, as loaded and validated.
    pub subscriptions: Vec<Subscription>,
    /// The dated assignments of single-app packs, as loaded and validated.
    pub assignments: Vec<Assignment>,
    /// The texts the configuration and the bill were read from, as they were read: what a
    /// saved run records, and what it is recomputed from.
    pub sources: Sources,
    /// What the sources are called in errors.
    pub origins: Origins,
}

impl Session {
    /// Opens `root` with `config_file` (default: `<root>/seatcount.toml`, optional).
    pub async fn open(root: &Path, config_file: Option<&Path>) -> Result<Session> {
        let warehouse = Warehouse::open(root)?;
        let sources = Sources::read(&warehouse, config_file)?;
        let config_path = config_file
            .map(Path::to_path_buf)
            .unwrap_or_else(|| crate::warehouse::config_path(root));
        let origins = Origins {
            config: config_path.display().to_string(),
            entitlements: warehouse.entitlements_path(),
            assignments: warehouse.assignments_path(),
        };
        Session::from_sources(warehouse, sources, &origins).await
    }

    /// A session over `warehouse` whose configuration and bill are `sources` (a saved run's,
    /// to recompute it); `origins` name them in errors.
    pub async fn from_sources(
        warehouse: Warehouse,
        sources: Sources,
        origins: &Origins,
    ) -> Result<Session> {
        let config = Config::parse(&sources.config, &origins.config)?;
        let subscriptions = match &sources.entitlements {
            Some(text) => entitlements::parse(text.as_bytes(), &origins.entitlements)?,
            None => Vec::new(),
        };
        let assignments = match &sources.assignments {
            Some(text) => {
                assignments::parse(text.as_bytes(), &origins.assignments, &subscriptions)?
            }
            None => Vec::new(),
        };
        let engine = open_engine(&warehouse, &config).await?;
        engine
            .install_semantics(&config, &subscriptions, &assignments, None)
            .await?;
        Ok(Session {
            warehouse,
            config,
            engine,
            subscriptions,
            assignments,
            sources,
            origins: origins.clone(),
        })
    }

    /// The same warehouse under this session's configuration with `overrides` applied (a
    /// what-if): its own engine and views, the same subscriptions, and this session's memory
    /// pool, so the two are bounded together.
    pub async fn what_if(&self, overrides: &[Override]) -> Result<Session> {
        let config = Config::parse_with(&self.sources.config, &self.origins.config, overrides)?;
        let runtime = self.engine.context().runtime_env();
        let engine = Engine::open_in(
            &self.warehouse,
            &udf_settings(&self.warehouse, &config)?,
            runtime,
        )
        .await?;
        engine
            .install_semantics(&config, &self.subscriptions, &self.assignments, None)
            .await?;
        Ok(Session {
            warehouse: self.warehouse.clone(),
            config,
            engine,
            subscriptions: self.subscriptions.clone(),
            assignments: self.assignments.clone(),
            sources: self.sources.clone(),
            origins: self.origins.clone(),
        })
    }

    /// A second engine over the same warehouse whose views cover `month` only, with the
    /// costly step computed once: what reports run on.
    ///
    /// It shares this session's memory pool, so scoped engines running at once are bounded
    /// together.
    pub async fn scoped(&self, month: &str) -> Result<Engine> {
        let runtime = self.engine.context().runtime_env();
        let engine = Engine::open_in(
            &self.warehouse,
            &udf_settings(&self.warehouse, &self.config)?,
            runtime,
        )
        .await?;
        engine
            .install_semantics(
                &self.config,
                &self.subscriptions,
                &self.assignments,
                Some(month),
            )
            .await?;
        Ok(engine)
    }
}

/// What a session's sources are called in its errors.
#[derive(Debug, Clone)]
pub struct Origins {
    /// The configuration file's name.
    pub config: String,
    /// The entitlements file's path.
    pub entitlements: std::path::PathBuf,
    /// The assignments file's path.
    pub assignments: std::path::PathBuf,
}

/// An engine over `wh` whose functions follow `config` (case, internal domains, key).
pub(crate) async fn open_engine(wh: &Warehouse, config: &Config) -> Result<Engine> {
    let pool_mb = memory::pool_mb(Workload::Query)?;
    Engine::open(wh, &udf_settings(wh, config)?, pool_mb).await
}

fn udf_settings(wh: &Warehouse, config: &Config) -> Result<UdfSettings> {
    Ok(UdfSettings {
        case: config.identifiers.case,
        internal_domains: config.classification.internal_domains.clone(),
        key: wh.key()?,
    })
}
