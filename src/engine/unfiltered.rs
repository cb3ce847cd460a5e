//! Aggregates whose `FILTER` the configuration made always true, planned without it.
//!
//! The semantics SQL writes a choice the configuration makes as `CASE WHEN {{key}} = 'value'`
//! or `{{key}} = 'value' OR ...`, which the planner folds. An aggregate's `FILTER` folds to
//! `FILTER (WHERE true)` but stays, and DataFusion then evaluates it on every batch and feeds
//! every aggregate its rows one by one through the filter. `accounts` filters its aggregates to
//! the named events under `counting.basis = "active_records"` (sql/views/20_accounts.sql);
//! under `"logins"` that filter is always true, and this rule gives that grouping the plan it
//! had before the filter was written.

use datafusion::common::ScalarValue;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// The logical optimizer rule dropping `FILTER (WHERE true)` from aggregates, keeping each
/// aggregate's name so the plan above it is unchanged.
#[derive(Debug, Default)]
pub struct DropTrueAggregateFilters;

impl OptimizerRule for DropTrueAggregateFilters {
    fn name(&self) -> &str {
        "drop_true_aggregate_filters"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(aggregate) = plan else {
            return Ok(Transformed::no(plan));
        };
        if !aggregate.aggr_expr.iter().any(has_true_filter) {
            return Ok(Transformed::no(LogicalPlan::Aggregate(aggregate)));
        }
        let Aggregate {
            input,
            group_expr,
            aggr_expr,
            ..
        } = aggregate;
        let aggr_expr = aggr_expr
            .into_iter()
            .map(|expr| {
                if !has_true_filter(&expr) {
                    return expr;
                }
                let name = expr.schema_name().to_string();
                without_filter(expr.unalias()).alias(name)
            })
            .collect();
        let aggregate = Aggregate::try_new(input, group_expr, aggr_expr)?;
        Ok(Transformed::yes(LogicalPlan::Aggregate(aggregate)))
    }
}

/// Whether `expr`, an aggregate or an alias of one, is filtered by the literal `true`.
fn has_true_filter(expr: &Expr) -> bool {
    match expr {
        Expr::Alias(alias) => has_true_filter(&alias.expr),
        Expr::AggregateFunction(AggregateFunction { params, .. }) => matches!(
            params.filter.as_deref(),
            Some(Expr::Literal(ScalarValue::Boolean(Some(true)), _))
        ),
        _ => false,
    }
}

/// `expr`, an aggregate, without its filter.
fn without_filter(expr: Expr) -> Expr {
    match expr {
        Expr::AggregateFunction(mut function) => {
            function.params.filter = None;
            Expr::AggregateFunction(function)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn plan_of(sql: &str) -> (String, String) {
        let ctx = SessionContext::new();
        ctx.add_optimizer_rule(std::sync::Arc::new(DropTrueAggregateFilters));
        ctx.sql("CREATE TABLE t (g INT, x INT, b BOOLEAN) AS VALUES (1, 1, true), (1, 5, false), (2, 3, NULL)")
            .await
            .unwrap();
        let df = ctx.sql(sql).await.unwrap();
        let plan = df.clone().into_optimized_plan().unwrap();
        let batches = df.collect().await.unwrap();
        let rows = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        (plan.display_indent().to_string(), rows)
    }

    #[tokio::test]
    async fn a_filter_folded_to_true_is_dropped_and_the_column_keeps_its_name() {
        let (plan, rows) = plan_of(
            "SELECT g, max(x) FILTER (WHERE 'a' = 'a' OR b) AS m FROM t GROUP BY g ORDER BY g",
        )
        .await;
        // Computed unfiltered, under its old name, and the filter's column is not read.
        assert!(
            plan.contains("aggr=[[max(t.x) AS max(t.x) FILTER"),
            "{plan}"
        );
        assert!(plan.contains("projection=[g, x]"), "{plan}");
        assert!(rows.contains("| 1 | 5 |"), "{rows}");
        assert!(rows.contains("| 2 | 3 |"), "{rows}");
    }

    #[tokio::test]
    async fn any_other_filter_stays() {
        let (plan, rows) =
            plan_of("SELECT g, max(x) FILTER (WHERE b) AS m FROM t GROUP BY g ORDER BY g").await;
        assert!(plan.contains("FILTER (WHERE t.b)"), "{plan}");
        assert!(rows.contains("| 1 | 1 |"), "{rows}");
        assert!(rows.contains("| 2 |   |"), "{rows}");
    }
}
