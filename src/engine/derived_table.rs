//! A derived view over every month, read from the months' derived files (docs/derived.md),
//! for the sessions that see the whole warehouse: `sql` and the REPL.
//!
//! Nothing is read or derived until a query scans the table. Then each month the query can
//! need gets its derived file, written first if missing or stale, and the scan reads those
//! files as one Parquet table. A query that keeps one month (`WHERE month = '2026-01'`, or
//! `IN (...)`) derives and reads that month only, and `EXPLAIN` lists the files it reads.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::{Expr, Operator, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::scalar::ScalarValue;
use tokio::sync::Mutex;

use super::sql::{Params, View};
use super::udf::UdfSettings;
use super::{Engine, derive};
use crate::warehouse::Warehouse;
use crate::warehouse::assignments::Assignment;
use crate::warehouse::entitlements::Subscription;

/// What deriving one month takes, without an engine: the table that asks lives in an engine's
/// catalog, and holding that engine would be a cycle.
#[derive(Clone)]
pub(crate) struct Deriver {
    pub(crate) wh: Warehouse,
    pub(crate) settings: UdfSettings,
    /// The configuration's placeholders, not yet scoped to a month.
    pub(crate) params: Params,
    /// The asking engine's runtime, so derivations draw on its memory pool.
    pub(crate) runtime: Arc<RuntimeEnv>,
    /// The subscriptions and assignments, as the asking session loaded them.
    pub(crate) subscriptions: Vec<Subscription>,
    pub(crate) assignments: Vec<Assignment>,
}

impl Deriver {
    /// The derived file of `view` for `month`, written first if there is none under its key,
    /// by an engine scoped to the month, as a report would.
    async fn month(&self, view: &View, month: &str) -> crate::error::Result<PathBuf> {
        let engine = Engine::open_in(&self.wh, &self.settings, self.runtime.clone()).await?;
        engine.register_bill(&self.subscriptions, &self.assignments)?;
        let bill = derive::bill(&self.subscriptions, &self.assignments);
        let mut files = engine
            .create_views(&self.params, Some(month), &bill, Some(view.name), None)
            .await?;
        files.remove(view.name).ok_or_else(|| {
            crate::error::Error::Runtime(format!(
                "{}: cannot write the derived state of {month}",
                self.wh.root().display()
            ))
        })
    }
}

/// A derived view over every month with events, derived as queries need the months.
pub(crate) struct DerivedTable {
    view: &'static View,
    schema: SchemaRef,
    deriver: Deriver,
    /// The file of each month, by the month and its events files.
    files: Mutex<BTreeMap<(String, String), PathBuf>>,
}

impl std::fmt::Debug for DerivedTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DerivedTable")
            .field("view", &self.view.name)
            .finish()
    }
}

impl DerivedTable {
    /// The table of `view`, whose columns are `schema`.
    pub(crate) fn new(view: &'static View, schema: SchemaRef, deriver: Deriver) -> Self {
        DerivedTable {
            view,
            schema,
            deriver,
            files: Mutex::new(BTreeMap::new()),
        }
    }

    /// The files of `months`, each given with its events files as the manifest lists them.
    /// A month is derived at most once per state of its events: the view is scanned several
    /// times in one query, and a REPL session outlives commits, which change the events.
    async fn files(&self, months: &[(&String, String)]) -> Result<Vec<PathBuf>> {
        let mut files = self.files.lock().await;
        let mut out = Vec::with_capacity(months.len());
        for (month, events) in months {
            let known = (month.to_string(), events.clone());
            let path = match files.get(&known) {
                // Still there: a writer of other keys may have pruned it.
                Some(path) if path.exists() => path.clone(),
                _ => {
                    let path = self
                        .deriver
                        .month(self.view, month)
                        .await
                        .map_err(|e| DataFusionError::External(Box::new(e)))?;
                    files.insert(known, path.clone());
                    path
                }
            };
            out.push(path);
        }
        Ok(out)
    }
}

/// Fails unless every one of `files` exists. DataFusion lists a file URL that does not exist
/// as an empty directory, so a derived file deleted from outside during a query would read
/// as no rows, a bill of zeros; seatcount itself deletes none while a query runs.
pub(crate) fn all_there(files: &[PathBuf]) -> Result<()> {
    match files.iter().find(|f| !f.exists()) {
        None => Ok(()),
        Some(gone) => Err(DataFusionError::Execution(format!(
            "{}: derived state deleted while the query ran; run it again",
            gone.display()
        ))),
    }
}

/// One month's derived file as a table, checked to exist each time a query scans it
/// ([`all_there`]).
#[derive(Debug)]
pub(crate) struct DerivedFile {
    pub(crate) path: PathBuf,
    pub(crate) table: Arc<dyn TableProvider>,
}

#[async_trait]
impl TableProvider for DerivedFile {
    fn schema(&self) -> SchemaRef {
        self.table.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.table.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        all_there(std::slice::from_ref(&self.path))?;
        self.table.scan(state, projection, filters, limit).await
    }
}

/// The months `filters` keep, when one of them is `month = 'YYYY-MM'` or `month IN (...)`
/// over literals, or such conditions joined by OR (DataFusion writes a short `IN` list as
/// ORs); `None` when none says. A row passes every filter, so it is in every such filter's
/// months: the scan keeps their intersection, which is exactly what the filters that only
/// name months keep ([`names_only_months`]).
fn months_kept(filters: &[Expr]) -> Option<Vec<String>> {
    filters
        .iter()
        .filter_map(months_of)
        .reduce(|kept, months| kept.into_iter().filter(|m| months.contains(m)).collect())
}

/// Whether `filter` keeps exactly the rows of the months [`months_of`] gives, so the scan,
/// which reads only those months' files (each holds one month), applies it in full. Left
/// above the scan, `month = '...'` would tell DataFusion the month is one value, which it
/// takes for sorted input, and a grouping over sorted input never skips its partial step
/// (BENCHMARKS.md run AC: 2.7 s of CPU on `persons` at 100M events).
fn names_only_months(filter: &Expr) -> bool {
    match filter {
        Expr::BinaryExpr(b) if b.op == Operator::Or => {
            names_only_months(&b.left) && names_only_months(&b.right)
        }
        Expr::BinaryExpr(b) if b.op == Operator::And => false,
        _ => months_of(filter).is_some(),
    }
}

/// The months a row that passes `filter` can be in; `None` when it can be in any.
fn months_of(filter: &Expr) -> Option<Vec<String>> {
    let is_month = |e: &Expr| matches!(e, Expr::Column(c) if c.name == "month");
    let text = |e: &Expr| match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)), _)
        | Expr::Literal(ScalarValue::Utf8View(Some(s)), _) => Some(s.clone()),
        _ => None,
    };
    match filter {
        Expr::BinaryExpr(b) if b.op == Operator::Eq => {
            if is_month(&b.left) {
                text(&b.right).map(|m| vec![m])
            } else if is_month(&b.right) {
                text(&b.left).map(|m| vec![m])
            } else {
                None
            }
        }
        // Either side's months hold a row that passes both.
        Expr::BinaryExpr(b) if b.op == Operator::And => {
            months_of(&b.left).or_else(|| months_of(&b.right))
        }
        // A row that passes either is in one side's months: both sides must say.
        Expr::BinaryExpr(b) if b.op == Operator::Or => {
            let mut months = months_of(&b.left)?;
            months.extend(months_of(&b.right)?);
            Some(months)
        }
        Expr::InList(list) if !list.negated && is_month(&list.expr) => {
            list.list.iter().map(text).collect()
        }
        _ => None,
    }
}

#[async_trait]
impl TableProvider for DerivedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Seen by the scan, to pick the months; applied again above it unless the months'
        // files are all it keeps.
        Ok(filters
            .iter()
            .map(|f| match names_only_months(f) {
                true => TableProviderFilterPushDown::Exact,
                false => TableProviderFilterPushDown::Inexact,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // The months as they are when the query runs, under the read lock, not when the
        // session opened.
        let all = crate::warehouse::manifest::events_by_month(&self.deriver.wh)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let kept = months_kept(filters);
        let months: Vec<(&String, String)> = all
            .iter()
            .filter(|(m, _)| kept.as_ref().is_none_or(|k| k.contains(m)))
            .map(|(m, files)| (m, format!("{files:?}")))
            .collect();
        let files = self.files(&months).await?;
        all_there(&files)?;
        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => self.schema.clone(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        months_table(self.view, &files, self.schema.clone())?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// `files`, derived files of `view` (one a month), as one Parquet table of columns `schema`,
/// in the order each file declares: the one kind of table that also travels to a cluster.
pub(crate) fn months_table(
    view: &View,
    files: &[PathBuf],
    schema: SchemaRef,
) -> Result<ListingTable> {
    let urls = files
        .iter()
        .map(|f| {
            let url = super::literal_url(f).map_err(|e| DataFusionError::External(Box::new(e)))?;
            ListingTableUrl::parse(url)
        })
        .collect::<Result<Vec<_>>>()?;
    let how = view.derived.expect("a derived view");
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_file_sort_order(derive::sort_order(&how));
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    ListingTable::try_new(config)
}
