//! The query engine: one DataFusion session per command with seatcount's functions, the
//! stored `events` table and a bounded memory pool, so ingest, `sql`, reports and the REPL
//! all run queries the same way.

pub(crate) mod bucketed;
#[cfg(feature = "cluster")]
pub mod cluster;
pub(crate) mod compact;
pub(crate) mod derive;
pub(crate) mod derived_table;
pub(crate) mod held;
pub(crate) mod memory;
pub mod session;
pub mod sql;
pub mod udf;
pub(crate) mod unfiltered;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::ParamValues;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::MemoryLimit;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::{DdlStatement, Expr, LogicalPlan};
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;

use datafusion::datasource::MemTable;
use datafusion::logical_expr::TableType;
use datafusion::sql::parser::{DFParser, Statement};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::warehouse::assignments::{self, Assignment};
use crate::warehouse::entitlements::{self, Subscription};
use crate::warehouse::{Warehouse, schema};

/// A query's result as it is computed: the schema first, then the batches, so a result larger
/// than memory can be written out without being held whole.
pub struct Rows<'a> {
    /// The result's columns, known before the first row.
    pub schema: SchemaRef,
    /// The rows, in order.
    pub batches: BoxStream<'a, Result<RecordBatch>>,
}

impl<'a> Rows<'a> {
    /// A result already held whole.
    pub(crate) fn from_batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Rows {
            schema,
            batches: futures::stream::iter(batches.into_iter().map(Ok)).boxed(),
        }
    }

    /// Keeps `owner` (the engine whose views the query reads, with their memory reservation)
    /// alive until the last batch has been read.
    pub(crate) fn keeping<T: Send + 'a>(self, owner: T) -> Self {
        Rows {
            schema: self.schema,
            batches: self
                .batches
                .inspect(move |_| {
                    let _ = &owner;
                })
                .boxed(),
        }
    }

    /// A result computed as it is read.
    pub(crate) fn from_stream(stream: SendableRecordBatchStream) -> Self {
        Rows {
            schema: stream.schema(),
            batches: stream.map_err(Error::from).boxed(),
        }
    }

    /// Reads every batch.
    pub async fn collect(self) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        Ok((self.schema, self.batches.try_collect().await?))
    }
}

/// Splits `text` into statements; an empty text is a usage error.
pub fn parse(text: &str) -> Result<Vec<Statement>> {
    let statements: Vec<Statement> = DFParser::parse_sql(text)?.into_iter().collect();
    if statements.is_empty() {
        return Err(Error::Usage("the query is empty".into()));
    }
    Ok(statements)
}

/// DataFusion's own settings from `DATAFUSION_*` environment variables, named as
/// datafusion-cli names them (`datafusion.execution.batch_size` is
/// `DATAFUSION_EXECUTION_BATCH_SIZE`), over seatcount's choices: tuning needs no rebuild.
/// A value that does not fit its setting is a usage error naming the variable.
fn apply_datafusion_env(config: &mut SessionConfig) -> Result<()> {
    for entry in config.options().entries() {
        let name = entry.key.to_uppercase().replace('.', "_");
        if let Ok(value) = std::env::var(&name) {
            config.options_mut().set(&entry.key, &value).map_err(|_| {
                Error::Usage(format!(
                    "{name}: '{value}' is not a valid value for {}",
                    entry.key
                ))
            })?;
        }
    }
    Ok(())
}

/// The prefix of the derived table of each monthly report's kept result (docs/derived.md
/// "Reports").
const KEPT_REPORT: &str = "report-";

/// Whether `table` is a derived table this build reads: a derived view's, or a report's kept
/// result. What tidying keeps ([`crate::warehouse::commit::tidy_derived`]); the rest (a
/// view a later build renamed) would never be read again.
pub fn is_derived_table(table: &str) -> bool {
    table.starts_with(KEPT_REPORT)
        || sql::VIEWS
            .iter()
            .any(|v| v.derived.is_some() && v.name == table)
}

/// `path` as a `file://` URL, the form in which DataFusion takes a path literally: given as
/// a plain path, `[`, `*` and `?` in it would be read as a glob (a warehouse under
/// `paths/brack[1]` would match no file, and look empty). A directory's URL ends in `/`.
pub(crate) fn literal_url(path: &Path) -> Result<String> {
    let full = path.canonicalize().map_err(|e| Error::io(path, e))?;
    let url = if full.is_dir() {
        url::Url::from_directory_path(&full)
    } else {
        url::Url::from_file_path(&full)
    };
    url.map(String::from)
        .map_err(|()| Error::Runtime(format!("{}: not a local path", full.display())))
}

/// What a statement may do. An analyst's SQL (`sql`, the REPL) only reads: a `COPY` or an
/// `INSERT` could write into the warehouse under a reader's lock, or truncate a file, and an
/// external table reaches files outside it. Views and tables held in the session's memory
/// write nothing and stay allowed. seatcount's own SQL files may do anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Queries only; DDL and DML are refused before they run.
    ReadOnly,
    /// Anything, for the SQL files compiled into seatcount.
    Write,
}

/// Refuses a plan that writes a file or reads one outside the warehouse, anywhere in it
/// (subqueries and `EXPLAIN ANALYZE` included), before anything runs.
fn refuse_writes(plan: &LogicalPlan) -> Result<()> {
    let mut found = None;
    plan.apply_with_subqueries(|node| {
        found = match node {
            LogicalPlan::Copy(_) => Some("COPY".to_string()),
            LogicalPlan::Dml(dml) => Some(dml.op.to_string()),
            LogicalPlan::Ddl(DdlStatement::CreateExternalTable(_)) => {
                Some("CREATE EXTERNAL TABLE".to_string())
            }
            _ => None,
        };
        Ok(if found.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    match found {
        Some(what) => Err(Error::Usage(format!(
            "{what} is refused: seatcount's SQL only reads; write a result with --output FILE"
        ))),
        None => Ok(()),
    }
}

/// The stored events as they are on disk, with equal identifier forms NULL; queries read the
/// view `events` over it, ingest reads and writes this form.
pub(crate) const STORED_EVENTS: &str = "stored_events";
/// The stored conflicts, the same way; queries read the view `conflicts`.
pub(crate) const STORED_CONFLICTS: &str = "stored_conflicts";

/// A session bound to one warehouse.
pub struct Engine {
    ctx: SessionContext,
    /// What the views held by [`Engine::hold`] have taken of the pool.
    held: Arc<held::HeldMemory>,
    /// The warehouse, whose derived state a month-scoped engine reads and writes.
    wh: Warehouse,
    /// What besides its SQL a derived file's rows depend on ([`derive::Context`]).
    derive_context: derive::Context,
    /// The functions' settings, for the engines that derive months for this one.
    settings: udf::UdfSettings,
    /// For an engine scoped to a month: what its views were rendered from, the key of its
    /// reports' kept results ([`Engine::report`]).
    scoped: std::sync::OnceLock<Scoped>,
    /// Whether its plans run on a cluster (docs/cluster.md): then it writes no derived state of
    /// a view and holds no view in its memory, both being of this process.
    clustered: bool,
}

/// What a month-scoped engine's views were made of.
struct Scoped {
    month: String,
    /// Every view's text as rendered, in order.
    sql: Vec<String>,
    /// [`derive::bill`] of its subscriptions and assignments.
    bill: String,
}

impl Engine {
    /// A session over `wh` with the functions configured by `settings`, and a memory pool of
    /// its own of `pool_mb` MiB ([`memory::pool_mb`]).
    pub async fn open(wh: &Warehouse, settings: &udf::UdfSettings, pool_mb: u64) -> Result<Self> {
        let bytes = pool_mb.saturating_mul(1024 * 1024);
        // No cache of directory listings: DataFusion 55 keeps one by default and never expires
        // it, so a REPL session would go on reading a month as it was first listed, missing
        // the files a later ingest commits: a bill short by what came since.
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(usize::try_from(bytes).unwrap_or(usize::MAX), 1.0)
            .with_object_list_cache_limit(0)
            .build_arc()?;
        Self::open_in(wh, settings, runtime).await
    }

    /// The same, drawing on `runtime`'s memory pool, so engines that run at once (the months
    /// of `history`) stay within one bound together.
    pub(crate) async fn open_in(
        wh: &Warehouse,
        settings: &udf::UdfSettings,
        runtime: Arc<RuntimeEnv>,
    ) -> Result<Self> {
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("seatcount", "public");
        // DataFusion 55's new aggregate streams emit an ordered aggregate's groups one batch at
        // a time, shifting the rest each time: quadratic in the groups of one month, where every
        // grouping starts with the (constant) month. The previous streams emit in one pass
        // (BENCHMARKS.md).
        config.options_mut().execution.enable_migration_aggregate = false;
        // Every sort sets aside this much of the pool for merging its spills (10 MiB by
        // default, per partition): a small pool would be gone before any row is sorted.
        if let MemoryLimit::Finite(bytes) = runtime.memory_pool.memory_limit() {
            let execution = &mut config.options_mut().execution;
            execution.sort_spill_reservation_bytes =
                execution.sort_spill_reservation_bytes.min(bytes / 32);
        }
        apply_datafusion_env(&mut config)?;
        let derive_context = derive::Context::new(settings, &config);
        let held = held::HeldMemory::new(&runtime);
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rule(Arc::new(compact::CompactHeldInputs))
            .with_optimizer_rule(Arc::new(unfiltered::DropTrueAggregateFilters))
            .build();
        #[cfg(feature = "cluster")]
        let (state, clustered) = match cluster::current() {
            Some(cluster) => (cluster.upgrade(state)?, true),
            None => (state, false),
        };
        #[cfg(not(feature = "cluster"))]
        let clustered = false;
        let ctx = SessionContext::new_with_state(state);
        udf::register(&ctx, settings);
        let engine = Engine {
            ctx,
            held,
            wh: wh.clone(),
            derive_context,
            settings: settings.clone(),
            scoped: std::sync::OnceLock::new(),
            clustered,
        };
        engine.register_events(wh).await?;
        Ok(engine)
    }

    /// Registers the stored tables `stored_events` and `stored_conflicts`, both partitioned
    /// by month, and over them the views `events` and `conflicts` that queries read
    /// (`sql/tables/stored.sql`). A warehouse with no conflict yet has no `conflicts/` (and
    /// may be read-only): that table is then empty.
    async fn register_events(&self, wh: &Warehouse) -> Result<()> {
        let dir = wh.events_dir();
        crate::warehouse::make_dir(&dir, 0o755)?;
        let file_schema = schema::stored_schema();
        let options = || {
            ParquetReadOptions::default()
                .table_partition_cols(vec![(schema::MONTH.to_string(), DataType::Utf8)])
                .schema(&file_schema)
        };
        self.ctx
            .register_parquet(STORED_EVENTS, &literal_url(&dir)?, options())
            .await?;
        let conflicts = wh.conflicts_dir();
        if conflicts.is_dir() {
            self.ctx
                .register_parquet(STORED_CONFLICTS, &literal_url(&conflicts)?, options())
                .await?;
        } else {
            let mut fields = file_schema.fields().to_vec();
            fields.push(Arc::new(Field::new(schema::MONTH, DataType::Utf8, false)));
            let empty = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
            self.ctx.register_table(STORED_CONFLICTS, Arc::new(empty))?;
        }
        for (view, stored) in [("events", STORED_EVENTS), ("conflicts", STORED_CONFLICTS)] {
            let text = sql::Params::for_stored_view(view, stored).render(&sql::STORED_VIEW)?;
            self.script(&text, Access::Write).await?.collect().await?;
        }
        Ok(())
    }

    /// The DataFusion session, for registering extra tables.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Creates the metering views of `sql/views/` for `config` over `subscriptions` and their
    /// `assignments`, so reports and ad-hoc SQL see the same semantics.
    ///
    /// With `scope`, the views cover that month only. The views kept as derived state
    /// ([`sql::View::derived`], docs/derived.md) are read from their month's file, written
    /// first when there is none under their key; the other costly views read more than once
    /// ([`sql::View::held`]) are computed at most once, when a query first needs them, and
    /// held in memory up to a share of the pool, on disk past it ([`held::HeldView`]).
    /// Without `scope`, each derived view is a table over every month's file, derived as
    /// queries need the months ([`derived_table::DerivedTable`]).
    pub(crate) async fn install_semantics(
        &self,
        config: &Config,
        subscriptions: &[Subscription],
        assignments: &[Assignment],
        scope: Option<&str>,
    ) -> Result<()> {
        self.register_bill(subscriptions, assignments)?;
        self.check_custom_sql(config).await?;
        let params = sql::Params::from_config(config);
        let bill = derive::bill(subscriptions, assignments);
        let lazily = match scope {
            None if derive::enabled()?
                && !self.clustered
                && crate::warehouse::derived::writable(&self.wh) =>
            {
                Some(derived_table::Deriver {
                    wh: self.wh.clone(),
                    settings: self.settings.clone(),
                    params: params.clone(),
                    runtime: self.ctx.runtime_env(),
                    subscriptions: subscriptions.to_vec(),
                    assignments: assignments.to_vec(),
                })
            }
            _ => None,
        };
        self.create_views(&params, scope, &bill, None, lazily.as_ref())
            .await
            .map(|_| ())
    }

    /// Runs a report's SQL `text` on this month-scoped engine, keeping its result as derived
    /// state under `report-<name>` (docs/derived.md "Reports"): keyed like the views, by the
    /// month's files, the views' and the report's SQL, the settings and the bill, so the next
    /// run of the report about this month reads a small file. Engines without a scope, a
    /// warehouse that cannot be written, `SEATCOUNT_DERIVED=off` and a cluster just run it.
    pub(crate) async fn report(&self, name: &str, text: &str) -> Result<Rows<'static>> {
        use crate::warehouse::derived::{self, DerivedWriter};
        let Some(scoped) = self
            .scoped
            .get()
            .filter(|_| derive::enabled().unwrap_or(false) && !self.clustered)
        else {
            return self.script(text, Access::Write).await;
        };
        let table = format!("{KEPT_REPORT}{name}");
        let mut sql = scoped.sql.clone();
        sql.push(text.to_string());
        let key = derive::key(
            &self.wh,
            &table,
            &scoped.month,
            &sql,
            self.derive_context.of(true),
            Some(&scoped.bill),
        )?;
        if let Some(path) = derived::find(&self.wh, &table, &scoped.month, &key)? {
            // Read in order, file order being the report's (DataFusion's scan may split a file).
            let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            let reader =
                datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                    file,
                )?
                .build()?;
            let schema = datafusion::arrow::record_batch::RecordBatchReader::schema(&reader);
            let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
            return Ok(Rows::from_batches(schema, batches));
        }
        let (schema, batches) = self.script(text, Access::Write).await?.collect().await?;
        if let Some(mut writer) =
            DerivedWriter::create(&self.wh, &table, &scoped.month, &key, schema.clone())?
        {
            for batch in &batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
        Ok(Rows::from_batches(schema, batches))
    }

    /// Registers the tables `subscriptions` and `assignments`.
    pub(crate) fn register_bill(
        &self,
        subscriptions: &[Subscription],
        assignments: &[Assignment],
    ) -> Result<()> {
        let table = MemTable::try_new(
            entitlements::schema(),
            vec![vec![entitlements::to_batch(subscriptions)?]],
        )?;
        self.ctx.register_table("subscriptions", Arc::new(table))?;
        let table = MemTable::try_new(
            assignments::schema(),
            vec![vec![assignments::to_batch(assignments)?]],
        )?;
        self.ctx.register_table("assignments", Arc::new(table))?;
        Ok(())
    }

    /// Creates the views in order, up to and including `upto` (all when `None`), as
    /// [`Engine::install_semantics`] says; returns the derived files read, by view.
    /// `lazily` derives the views of an engine without scope; without it they stay views.
    pub(crate) async fn create_views(
        &self,
        params: &sql::Params,
        scope: Option<&str>,
        bill: &str,
        upto: Option<&str>,
        lazily: Option<&derived_table::Deriver>,
    ) -> Result<BTreeMap<&'static str, PathBuf>> {
        let params = match scope {
            Some(month) => params.clone().with_scope(month),
            None => params.clone(),
        };
        let derived = derive::enabled()?;
        // Asked for the layer itself (a session's table of it), a month keeps it.
        let layer = derived && (upto == Some(sql::LAYER) || self.keeps_layer(&params, scope)?);
        let mut rendered = Vec::new();
        let mut files = BTreeMap::new();
        for view in sql::VIEWS {
            let text = params.render_view(view, layer)?;
            // Not kept, the layer stays a view that nothing reads.
            let derived = derived && (layer || view.name != sql::LAYER);
            self.script(&text, Access::Write)
                .await?
                .collect()
                .await
                .map_err(|e| Error::Runtime(format!("sql/{}: {e}", view.file.path)))?;
            // Keys are of the text over the layer whether or not the month keeps it: the
            // rows are the same either way (docs/derived.md "Where the layer is kept"), so
            // a month that starts or stops keeping it reads the files it has.
            rendered.push(match layer {
                true => text,
                false => params.render_view(view, true)?,
            });
            match (scope, view.derived) {
                (Some(month), Some(how)) if derived => {
                    let bill = how.bill.then_some(bill);
                    match self.derived_file(view, month, &rendered, bill).await? {
                        Some(path) => {
                            self.read_derived(view, &path).await?;
                            files.insert(view.name, path);
                        }
                        None if view.held => self.hold(view.name).await?,
                        None => {}
                    }
                }
                (None, Some(_)) => match lazily {
                    Some(deriver) if derived => {
                        self.read_derived_lazily(view, deriver.clone()).await?
                    }
                    None if derived && self.clustered => {
                        self.read_every_month(view, &params, bill).await?
                    }
                    _ => {}
                },
                (Some(_), _) if view.held => self.hold(view.name).await?,
                (Some(_), _) => self.bucket(view.name).await?,
                _ => {}
            }
            if upto == Some(view.name) {
                return Ok(files);
            }
        }
        if let Some(month) = scope {
            // Every view made: what this month's kept report results are keyed by.
            let _ = self.scoped.set(Scoped {
                month: month.to_string(),
                sql: rendered,
                bill: bill.to_string(),
            });
        }
        Ok(files)
    }

    /// The derived file of `view` for `month`, just created from `sql` (every view's text so
    /// far) with `bill` when it reads the subscriptions: the one kept under its key, or one
    /// written now from the view, sorted by its key when it has one ([`sql::Derived::order`]).
    /// `None` when the warehouse cannot be written.
    async fn derived_file(
        &self,
        view: &sql::View,
        month: &str,
        sql: &[String],
        bill: Option<&str>,
    ) -> Result<Option<PathBuf>> {
        use crate::warehouse::derived::{self, DerivedWriter};
        let how = view.derived.expect("a derived view");
        let name = view.name;
        let context = self.derive_context.of(how.config);
        let key = derive::key(&self.wh, name, month, sql, context, bill)?;
        if let Some(path) = derived::find(&self.wh, name, month, &key)? {
            return Ok(Some(path));
        }
        if self.clustered {
            // Computed by the cluster as part of each query instead: writing it here would
            // bring every row of the month through this machine.
            return Ok(None);
        }
        let order: Vec<String> = how.order.iter().map(|c| format!("\"{c}\"")).collect();
        let query = match order.is_empty() {
            true => format!("SELECT * FROM {name}"),
            false => format!("SELECT * FROM {name} ORDER BY {}", order.join(", ")),
        };
        let rows = self.query(&query, &[]).await?;
        let created = DerivedWriter::create(&self.wh, name, month, &key, rows.schema.clone())?;
        let Some(mut writer) = created else {
            return Ok(None);
        };
        let mut batches = rows.batches;
        while let Some(batch) = batches.next().await {
            writer.write(&batch?)?;
        }
        writer.finish().map(Some)
    }

    /// Replaces `view` with its derived file at `path`, declaring the file's order.
    async fn read_derived(&self, view: &sql::View, path: &Path) -> Result<()> {
        let how = view.derived.expect("a derived view");
        let order = derive::sort_order(&how);
        self.ctx.deregister_table(view.name)?;
        self.ctx
            .register_parquet(
                view.name,
                &literal_url(path)?,
                ParquetReadOptions::default().file_sort_order(order),
            )
            .await?;
        if self.clustered {
            // The executors read it as a plain Parquet table, the one kind that travels; a
            // file gone when they scan it is an error there too.
            return Ok(());
        }
        // Wrapped, so a file gone when a query scans it is an error, never no rows.
        let table = self
            .ctx
            .deregister_table(view.name)?
            .expect("just registered");
        let file = derived_table::DerivedFile {
            path: path.to_path_buf(),
            table,
        };
        self.ctx.register_table(view.name, Arc::new(file))?;
        Ok(())
    }

    /// Replaces `view` over every month with a table of the months' derived files, derived by
    /// `deriver` as queries need them ([`derived_table::DerivedTable`]).
    async fn read_derived_lazily(
        &self,
        view: &'static sql::View,
        deriver: derived_table::Deriver,
    ) -> Result<()> {
        let schema = Arc::new(self.ctx.table(view.name).await?.schema().as_arrow().clone());
        let table = derived_table::DerivedTable::new(view, schema, deriver);
        self.ctx.deregister_table(view.name)?;
        self.ctx.register_table(view.name, Arc::new(table))?;
        Ok(())
    }

    /// On a cluster, replaces `view` over every month with a table of the months' derived
    /// files when every month has one under its key, so `sql` and the REPL read what the
    /// reports derived (the cluster writes none: docs/cluster.md). When a month has none, the
    /// view stays a view, computed by the cluster from the events.
    async fn read_every_month(
        &self,
        view: &'static sql::View,
        params: &sql::Params,
        bill: &str,
    ) -> Result<()> {
        let how = view.derived.expect("a derived view");
        let context = self.derive_context.of(how.config);
        let bill = how.bill.then_some(bill);
        let mut files = Vec::new();
        for month in self.months().await? {
            // The key of a month's file covers every view's text up to this one, scoped to
            // the month, as `create_views` renders them for a report.
            let scoped = params.clone().with_scope(&month);
            let mut rendered = Vec::new();
            for earlier in sql::VIEWS {
                rendered.push(scoped.render_view(earlier, true)?);
                if earlier.name == view.name {
                    break;
                }
            }
            let key = derive::key(&self.wh, view.name, &month, &rendered, context, bill)?;
            match crate::warehouse::derived::find(&self.wh, view.name, &month, &key)? {
                Some(path) => files.push(path),
                None => return Ok(()),
            }
        }
        if files.is_empty() {
            return Ok(());
        }
        let schema = Arc::new(self.ctx.table(view.name).await?.schema().as_arrow().clone());
        let table = derived_table::months_table(view, &files, schema)?;
        self.ctx.deregister_table(view.name)?;
        self.ctx.register_table(view.name, Arc::new(table))?;
        Ok(())
    }

    /// Whether the views of `month` (of every month when `None`) read the configuration-free
    /// layer, `params` being the configuration scoped to it (docs/derived.md "Where the layer
    /// is kept"): under [`derive::Layer::Auto`], when the month has its layer already, or
    /// when one pays.
    fn keeps_layer(&self, params: &sql::Params, month: Option<&str>) -> Result<bool> {
        match derive::layer()? {
            derive::Layer::On => return Ok(true),
            derive::Layer::Off => return Ok(false),
            derive::Layer::Auto => {}
        }
        if let Some(month) = month {
            let view = sql::VIEWS
                .iter()
                .find(|v| v.name == sql::LAYER)
                .expect("the layer is a view");
            let how = view.derived.expect("the layer is derived");
            // The layer is the first view, so its text is all its key covers.
            let text = params.render_view(view, true)?;
            let context = self.derive_context.of(how.config);
            let key = derive::key(&self.wh, view.name, month, &[text], context, None)?;
            // Filed is enough to choose: reading it checks its bytes, and a damaged one is
            // then written again (and said so once).
            if crate::warehouse::derived::filed_under(&self.wh, view.name, month, &key)? {
                return Ok(true);
            }
        }
        derive::layer_pays(&self.wh)
    }

    /// Replaces view `name`, once it exists and while it is still a plain view, with a
    /// [`held::HeldView`] of it, so the views created after it read its rows instead of
    /// recomputing them.
    async fn hold(&self, name: &str) -> Result<()> {
        let memory = self.held.clone();
        self.replace_view(name, |query| Arc::new(held::HeldView::new(query, memory)))
            .await
    }

    /// Replaces view `name`, when it is one of [`bucketed::BUCKETED`] and still a plain view,
    /// with a [`bucketed::BucketedView`] of it, so its grouping runs a range of groups at a
    /// time; not with `SEATCOUNT_BUCKET_ROWS=0`.
    async fn bucket(&self, name: &str) -> Result<()> {
        let Some((_, key)) = bucketed::BUCKETED.iter().find(|(view, _)| *view == name) else {
            return Ok(());
        };
        let Some(rows) = bucketed::unit_rows()? else {
            return Ok(());
        };
        self.replace_view(name, |query| {
            Arc::new(bucketed::BucketedView::new(query, key, rows))
        })
        .await
    }

    /// Replaces view `name`, while it is still a plain view, with the table `wrap` makes of
    /// its query; not on a cluster, whose executors know only the tables that travel.
    async fn replace_view(
        &self,
        name: &str,
        wrap: impl FnOnce(DataFrame) -> Arc<dyn TableProvider>,
    ) -> Result<()> {
        if self.clustered {
            return Ok(());
        }
        match self.ctx.table_provider(name).await {
            Ok(provider) if provider.table_type() == TableType::View => {}
            _ => return Ok(()),
        }
        let query = self.ctx.table(name).await?;
        self.ctx.deregister_table(name)?;
        self.ctx.register_table(name, wrap(query))?;
        Ok(())
    }

    /// The custom classification rule must plan as a boolean over the stored columns.
    async fn check_custom_sql(&self, config: &Config) -> Result<()> {
        let custom = config.classification.custom_sql.trim();
        if custom.is_empty() {
            return Ok(());
        }
        let refuse = |reason: String| crate::config::refuse_custom_sql(None, reason);
        let df = self
            .ctx
            .sql(&format!("SELECT ({custom}) AS answer FROM events"))
            .await
            .map_err(|e| refuse(Error::from(e).to_string()))?;
        match df.schema().field(0).data_type() {
            DataType::Boolean | DataType::Null => {}
            other => return Err(refuse(format!("it is of type {other}"))),
        }
        // One event's own columns decide, the same way every run: a subquery would read
        // other events (or fail later, at scale), and a volatile function such as random()
        // would give another bill each time.
        if let LogicalPlan::Projection(projection) = df.logical_plan() {
            let answer = &projection.expr[0];
            let subquery = answer.exists(|e| {
                Ok(matches!(
                    e,
                    Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_)
                ))
            })?;
            if subquery {
                return Err(refuse("it may not contain a subquery".into()));
            }
            if answer.is_volatile() {
                return Err(refuse(
                    "it may not call a volatile function such as random() or now()".into(),
                ));
            }
        }
        Ok(())
    }

    /// Runs every statement of `text` in order; the last one's rows come as they are
    /// computed (`.collect()` them to hold them whole).
    pub async fn script(&self, text: &str, access: Access) -> Result<Rows<'static>> {
        let mut statements = parse(text)?;
        let last = statements
            .pop()
            .expect("parse gives at least one statement");
        for statement in statements {
            self.statement(statement, access).await?.collect().await?;
        }
        self.statement(last, access).await
    }

    /// Plans and runs one parsed statement, for a caller (the REPL) that shows each
    /// statement's result.
    pub async fn statement(&self, statement: Statement, access: Access) -> Result<Rows<'static>> {
        let plan = self.ctx.state().statement_to_plan(statement).await?;
        if access == Access::ReadOnly {
            refuse_writes(&plan)?;
        }
        let stream = self
            .ctx
            .execute_logical_plan(plan)
            .await?
            .execute_stream()
            .await?;
        Ok(Rows::from_stream(stream))
    }

    /// Runs one query of seatcount's own with `$1, $2, …` bound to `params`; values are
    /// bound, never spliced into the text.
    pub async fn query(&self, sql: &str, params: &[ScalarValue]) -> Result<Rows<'static>> {
        let mut df = self.ctx.sql(sql).await?;
        if !params.is_empty() {
            df = df.with_param_values(ParamValues::List(
                params.iter().cloned().map(Into::into).collect(),
            ))?;
        }
        Ok(Rows::from_stream(df.execute_stream().await?))
    }

    /// Every month with events, oldest first, from the manifest (which the read lock has
    /// checked the disk against): no events file is opened.
    pub async fn months(&self) -> Result<Vec<String>> {
        crate::warehouse::manifest::event_months(&self.wh)
    }
}
