//! Batches copied to their own size before an operator holds them.
//!
//! DataFusion's hash aggregate builds its groups as one large batch and hands it out in slices
//! of `batch_size` rows. Each slice keeps the whole batch's buffers alive, and the operators
//! that hold batches (a sort, a hash join's build side, a held view) charge the memory pool
//! for each slice's buffers, not for its rows, so a sort over far fewer rows than the pool holds
//! can run out of it (DataFusion issues #19679, #22526, #22757; BENCHMARKS.md items 25 and 27).
//!
//! [`CompactHeldInputs`] puts a [`CompactExec`] before those operators, and held views call
//! [`compact`] themselves. A batch whose buffers are far larger than its rows is copied; the
//! rest pass through. Once every slice has been copied, the large batch is freed whole.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::joins::{CrossJoinExec, HashJoinExec, NestedLoopJoinExec};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::spill::get_record_batch_memory_size;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

/// Below this much excess, a batch is passed through: copying it would save little.
const SLACK_BYTES: usize = 1 << 20;

/// The physical optimizer rule placing a [`CompactExec`] before every operator that holds its
/// input's batches: a sort without a limit, and the build side of a join.
///
/// Only there: a copy made for an operator that streams its input (a projection, a hash
/// repartition, a join's probe side) is work without a saving (BENCHMARKS.md item 27).
#[derive(Debug, Default)]
pub struct CompactHeldInputs;

impl PhysicalOptimizerRule for CompactHeldInputs {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let mut children: Vec<_> = node.children().into_iter().cloned().collect();
            if !holds_first_input(&node) || children[0].is::<CompactExec>() {
                return Ok(Transformed::no(node));
            }
            children[0] = Arc::new(CompactExec::new(Arc::clone(&children[0])));
            Ok(Transformed::yes(replace_children_if_necessary(
                node, children,
            )?))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "CompactHeldInputs"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether `node` keeps its first input in memory batch by batch: a sort (one with a limit
/// keeps only its best rows, in batches of its own) or a join's build side.
fn holds_first_input(node: &Arc<dyn ExecutionPlan>) -> bool {
    let full_sort = node
        .downcast_ref::<SortExec>()
        .is_some_and(|sort| sort.fetch().is_none());
    full_sort
        || node.is::<HashJoinExec>()
        || node.is::<NestedLoopJoinExec>()
        || node.is::<CrossJoinExec>()
}

/// Passes its input's batches on, copying those whose buffers are mostly rows they do not hold.
#[derive(Debug, Clone)]
pub struct CompactExec {
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl CompactExec {
    /// Wraps `input`; the output has its schema, partitioning and ordering.
    pub fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        let properties = Arc::clone(input.properties());
        CompactExec { input, properties }
    }
}

impl DisplayAs for CompactExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompactExec")
    }
}

impl ExecutionPlan for CompactExec {
    fn name(&self) -> &str {
        "CompactExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(CompactExec::new(children.swap_remove(0))))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = input.schema();
        let batches = input.map(|batch| batch.and_then(compact));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }
}

/// `batch`, copied when the buffers it keeps alive exceed twice what its rows take.
pub fn compact(batch: RecordBatch) -> Result<RecordBatch> {
    let held = get_record_batch_memory_size(&batch);
    let needed: usize = batch
        .columns()
        .iter()
        .map(|column| column.to_data().get_slice_memory_size().unwrap_or(held))
        .sum();
    if held <= needed.saturating_mul(2).saturating_add(SLACK_BYTES) {
        return Ok(batch);
    }
    let rows = UInt32Array::from_iter_values(0..batch.num_rows() as u32);
    Ok(take_record_batch(&batch, &rows)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, StringArray};

    fn strings(rows: usize) -> RecordBatch {
        let values: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..rows).map(|i| format!("person-{i:012}")),
        ));
        RecordBatch::try_from_iter([("person_id", values)]).unwrap()
    }

    #[test]
    fn a_slice_of_a_large_batch_is_copied_to_its_own_size() {
        let large = strings(1_000_000);
        let slice = large.slice(10, 8192);
        let before = get_record_batch_memory_size(&slice);
        let compacted = compact(slice.clone()).unwrap();
        assert_eq!(compacted, slice);
        let after = get_record_batch_memory_size(&compacted);
        assert!(after * 50 < before, "{after} bytes of {before}");
    }

    #[test]
    fn a_batch_that_owns_its_buffers_passes_through_uncopied() {
        let batch = strings(100_000);
        let column = batch.column(0).to_data();
        let passed = compact(batch).unwrap();
        assert!(passed.column(0).to_data().ptr_eq(&column));
    }
}
