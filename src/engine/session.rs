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
}

impl Session {
    /// Opens `root` with `config_file` (default: `<root>/seatcount.toml`, optional).
    pub async fn open(root: &Path, config_file: Option<&Path>) -> Result<Session> {
        let warehouse = Warehouse::open(root)?;
        let config = load_config(root, config_file)?;
        let subscriptions = entitlements::load(&warehouse)?;
        let assignments = assignments::load(&warehouse, &subscriptions)?;
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
        })
    }

    /// The same warehouse under another configuration (a what-if): its own engine and views,
    /// the same subscriptions, and this session's memory pool, so the two are bounded
    /// together.
    pub async fn with_config(&self, config: Config) -> Result<Session> {
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

/// The configuration in force: `config_file` must exist when given; the warehouse's own
/// `seatcount.toml` may be absent (every key has a default).
pub(crate) fn load_config(root: &Path, config_file: Option<&Path>) -> Result<Config> {
    load_config_with(root, config_file, &[])
}

/// [`load_config`] with a what-if's `overrides` applied on top.
pub(crate) fn load_config_with(
    root: &Path,
    config_file: Option<&Path>,
    overrides: &[Override],
) -> Result<Config> {
    match config_file {
        Some(path) => Config::load_with(path, true, overrides),
        None => Config::load_with(&crate::warehouse::config_path(root), false, overrides),
    }
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
