//! The key that says when a month's derived view is still right, and the order its rows are
//! kept in (docs/derived.md; which views are derived is the table of `sql.rs`).
//!
//! A month's `account_owners` is the costly part of every bill: it groups the month's events
//! into accounts and resolves persons. What it computes depends only on that month's events
//! files, the SQL of the views up to it as rendered for the configuration, the functions'
//! settings and the seatcount version. So its key is a hash of exactly those, and a
//! configuration change that those views never see (the waterfall) keeps it. Under it,
//! `latest_stored` reads the events but no configuration, so its key leaves that out and
//! every configuration's accounts are computed from it. The views
//! of the bill (`waterfall_persons`, `usage`) also depend on the subscriptions and assignments,
//! and their key has those too.

use datafusion::common::Column;
use datafusion::logical_expr::{Expr, SortExpr};
use datafusion::prelude::SessionConfig;
use serde::Serialize;

use super::sql::Derived;
use crate::warehouse::assignments::Assignment;
use crate::warehouse::entitlements::Subscription;

use crate::engine::udf::UdfSettings;
use crate::error::{Error, Result};
use crate::warehouse::derived::Key;
use crate::warehouse::{Warehouse, manifest};

/// The environment variable that turns derived state off (`off`): every report then computes
/// from the events, as a check on the derived state or where the warehouse must not change.
pub(crate) const DERIVED_ENV: &str = "SEATCOUNT_DERIVED";

/// What the derived files of this build contain; a change to their meaning that the rendered
/// SQL does not show (a function's code) is covered by the version, this by hand.
const LAYOUT: &str = "derived/7";

/// `derived`'s key as the engine's sort order (ascending, NULLs last, as the file was
/// written); none when it has no key.
pub(crate) fn sort_order(derived: &Derived) -> Vec<Vec<SortExpr>> {
    if derived.order.is_empty() {
        return vec![];
    }
    vec![
        derived
            .order
            .iter()
            .map(|c| Expr::Column(Column::from_name(*c)).sort(true, false))
            .collect(),
    ]
}

/// The subscriptions and assignments as loaded, as a key part of the views that read them.
pub(crate) fn bill(subscriptions: &[Subscription], assignments: &[Assignment]) -> String {
    format!("{subscriptions:?}|{assignments:?}")
}

/// Whether derived state is used: `SEATCOUNT_DERIVED` unset or `on`, and not `off`.
pub(crate) fn enabled() -> Result<bool> {
    match std::env::var(DERIVED_ENV) {
        Err(_) => Ok(true),
        Ok(v) if v == "on" => Ok(true),
        Ok(v) if v == "off" => Ok(false),
        Ok(v) => Err(Error::Usage(format!(
            "{DERIVED_ENV}: '{v}' is not on or off"
        ))),
    }
}

/// The environment variable that says whether months keep the configuration-free layer:
/// `auto` (the default), `on` or `off` (docs/derived.md "Where the layer is kept").
pub(crate) const LAYER_ENV: &str = "SEATCOUNT_LAYER";

/// The largest share of its month's events a layer may hold and still be worth writing.
/// Past it, the accounts computed from the layer cost what computing them from the events
/// does, and writing it made the first report about a month twice as slow (BENCHMARKS.md
/// run U: 77% of the events, 3.9 s against 2.0 s).
const LAYER_SHARE: f64 = 0.5;

/// The derived view of a month's accounts, one row each.
const ACCOUNTS: &str = "account_owners";

/// Where the configuration-free layer is kept ([`LAYER_ENV`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layer {
    /// In every month that has one already, and in others where it pays ([`layer_pays`]).
    Auto,
    /// In every month.
    On,
    /// In none: the accounts are computed from the events, as without derived state.
    Off,
}

/// The [`Layer`] setting: `SEATCOUNT_LAYER` unset or `auto`, `on` or `off`.
pub(crate) fn layer() -> Result<Layer> {
    match std::env::var(LAYER_ENV).as_deref() {
        Err(_) | Ok("auto") => Ok(Layer::Auto),
        Ok("on") => Ok(Layer::On),
        Ok("off") => Ok(Layer::Off),
        Ok(v) => Err(Error::Usage(format!(
            "{LAYER_ENV}: '{v}' is not auto, on or off"
        ))),
    }
}

/// Whether a month without a layer should get one under [`Layer::Auto`], judged by the
/// newest month that shows it: by its layer, when one has been written, which must hold at
/// most [`LAYER_SHARE`] of its month's events; else by its accounts, which a layer has at
/// least a row for each of, so more accounts than that share rule it out. With neither, no:
/// the month's accounts are computed from the events and become the measure. A portfolio
/// keeps its shape from month to month (people log in about as often), so one month stands
/// for the next.
pub(crate) fn layer_pays(wh: &Warehouse) -> Result<bool> {
    use crate::warehouse::derived::newest_rows;
    let measured = match newest_rows(wh, super::sql::LAYER)? {
        Some(layer) => layer,
        None => match newest_rows(wh, ACCOUNTS)? {
            Some(accounts) => accounts,
            None => return Ok(false),
        },
    };
    let (month, rows) = measured;
    let events: u64 = manifest::events_by_month(wh)?
        .get(&month)
        .map_or(0, |files| files.iter().map(|f| f.rows).sum());
    Ok(rows as f64 <= LAYER_SHARE * events as f64)
}

/// What a derived file's rows depend on besides the SQL: the settings of the functions the
/// SQL may call, and DataFusion's settings that can change what a query means: all but
/// `datafusion.execution.*`, which change how a query runs (partitions, batch sizes, memory),
/// save its time zone and how it reads Parquet.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// DataFusion's settings alone: all a view that calls no configured function reads.
    datafusion: String,
    /// The functions' settings, then DataFusion's.
    configured: String,
}

impl Context {
    pub(crate) fn new(settings: &UdfSettings, config: &SessionConfig) -> Context {
        let mut datafusion = String::new();
        for entry in config.options().entries() {
            let key = &entry.key;
            let meaning = !key.starts_with("datafusion.execution.")
                || key == "datafusion.execution.time_zone"
                || key.starts_with("datafusion.execution.parquet.");
            if meaning {
                datafusion.push_str(&format!("|{}={:?}", entry.key, entry.value));
            }
        }
        let configured = format!(
            "{:?}|{:?}{datafusion}",
            settings.case, settings.internal_domains
        );
        Context {
            datafusion,
            configured,
        }
    }

    /// The context of a view that reads the configuration ([`Derived::config`]) or not.
    pub(crate) fn of(&self, config: bool) -> &str {
        match config {
            true => &self.configured,
            false => &self.datafusion,
        }
    }
}

/// The key of `month`'s derived `view`: the month's events and conflicts files as the manifest records them
/// (path, rows, bytes, SHA-256, which the read lock has checked the disk against), `sql` (the
/// views' text as rendered, in order, up to the view), the [`Context`], the [`bill`] when the
/// view reads it, and the version.
pub(crate) fn key(
    wh: &Warehouse,
    view: &str,
    month: &str,
    sql: &[String],
    context: &str,
    bill: Option<&str>,
) -> Result<Key> {
    #[derive(Serialize)]
    struct Entry<'a> {
        path: &'a std::path::Path,
        rows: u64,
        bytes: u64,
        sha256: &'a Option<String>,
    }
    // Events and conflicts: hygiene's report reads the month's conflicts, which an ingest
    // can add without touching its events.
    let mut files: Vec<_> = manifest::manifest(wh)?
        .into_iter()
        .filter(|f| crate::warehouse::schema::month_of(&f.path) == Some(month))
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let entries: Vec<Entry> = files
        .iter()
        .map(|f| Entry {
            path: &f.path,
            rows: f.rows,
            bytes: f.bytes,
            sha256: &f.sha256,
        })
        .collect();
    let events = serde_json::to_vec(&entries).expect("entries serialize");
    let sql = sql.join("\n;\n");
    Ok(Key::new([
        ("layout", LAYOUT.as_bytes()),
        ("version", env!("CARGO_PKG_VERSION").as_bytes()),
        ("stored view", super::sql::STORED_VIEW.text.as_bytes()),
        ("sql", sql.as_bytes()),
        ("context", context.as_bytes()),
        ("view", view.as_bytes()),
        ("month", month.as_bytes()),
        ("events", &events),
        ("bill", bill.unwrap_or("").as_bytes()),
    ]))
}
