//! How seatcount's functions and in-memory tables cross the wire to a cluster
//! (docs/cluster.md "What travels"): Ballista's own codecs, with three additions.
//!
//! - A scalar function travels as its name and the settings it was made with (case mode,
//!   internal domains), never the key: [`ShippedSettings`] has no field for one.
//! - An aggregate function needs no settings and travels by name, marked as seatcount's so the
//!   executor never takes a built-in of the same name.
//! - A table held in memory (`subscriptions`, `assignments`) travels as Arrow IPC.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference, exec_err};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use crate::engine::udf::{self, ShippedSettings};

/// What marks a function as seatcount's, and the version of its encoding.
const MARK: &[u8] = b"seatcount/1:";
/// What marks an in-memory table.
const TABLE_MARK: &[u8] = b"seatcount-table/1:";

/// One of seatcount's scalar functions as it travels.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ShippedFunction {
    name: String,
    settings: ShippedSettings,
}

fn encode_udf(node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
    let Some(settings) = udf::shipped_settings(node) else {
        return Ok(());
    };
    let shipped = ShippedFunction {
        name: node.name().to_string(),
        settings,
    };
    buf.extend_from_slice(MARK);
    serde_json::to_writer(buf, &shipped).map_err(|e| DataFusionError::External(Box::new(e)))
}

fn decode_udf(name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
    let Some(json) = buf.strip_prefix(MARK) else {
        return exec_err!("the function {name} is unknown to this seatcount executor");
    };
    let shipped: ShippedFunction =
        serde_json::from_slice(json).map_err(|e| DataFusionError::External(Box::new(e)))?;
    match udf::remote_function(&shipped.name, &shipped.settings) {
        Some(f) => Ok(Arc::new(f)),
        None => exec_err!(
            "the function {name} is unknown to this seatcount executor: is it another version?"
        ),
    }
}

fn encode_udaf(node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
    if udf::aggregates().iter().any(|f| f.name() == node.name()) {
        buf.extend_from_slice(MARK);
    }
    Ok(())
}

fn decode_udaf(name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
    match udf::aggregates().into_iter().find(|f| f.name() == name) {
        Some(f) if buf == MARK || buf.is_empty() => Ok(Arc::new(f)),
        _ => exec_err!("the aggregate function {name} is unknown to this seatcount executor"),
    }
}

/// The udf and udaf methods, the same in both codecs.
macro_rules! function_methods {
    () => {
        fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
            encode_udf(node, buf)
        }
        fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
            decode_udf(name, buf)
        }
        fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
            encode_udaf(node, buf)
        }
        fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
            decode_udaf(name, buf)
        }
    };
}

/// The logical codec: what the client sends the scheduler.
#[derive(Debug, Default)]
pub struct LogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match buf.strip_prefix(TABLE_MARK) {
            Some(ipc) => decode_table(ipc, schema),
            None => self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        match node.downcast_ref::<MemTable>() {
            Some(table) => encode_table(table, buf),
            None => exec_err!(
                "the table {table_ref} cannot be read on a cluster: only the stored tables and those held in memory can"
            ),
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }

    function_methods!();
}

/// The physical codec: what the scheduler sends the executors.
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.ballista.try_decode(buf, inputs, ctx, converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.ballista.try_encode(node, buf, converter)
    }

    function_methods!();
}

/// A table held in memory, every partition's batches in one IPC stream (one partition when
/// read back: the tables are small).
fn encode_table(table: &MemTable, buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(TABLE_MARK);
    let schema = table.schema();
    let mut writer = StreamWriter::try_new(&mut *buf, &schema)?;
    for partition in &table.batches {
        let Ok(batches) = partition.try_read() else {
            return exec_err!("an in-memory table is being written as it is sent");
        };
        for batch in batches.iter() {
            writer.write(batch)?;
        }
    }
    writer.finish()?;
    Ok(())
}

fn decode_table(ipc: &[u8], schema: SchemaRef) -> Result<Arc<dyn TableProvider>> {
    let reader = StreamReader::try_new(ipc, None)?;
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::udf::UdfSettings;
    use crate::identity::CaseMode;

    /// Every scalar function comes back as the same function with the same settings, and the
    /// encoding has no place for the key.
    #[test]
    fn functions_travel_with_their_settings_and_without_the_key() {
        let hex = "5a".repeat(32);
        let key = crate::warehouse::key::HashKey::from_hex(&hex, "test").unwrap();
        let settings = UdfSettings {
            case: CaseMode::Insensitive,
            internal_domains: vec!["example.com".into()],
            key: Some(Arc::new(key)),
        };
        let codec = PhysicalCodec::default();
        for f in udf::functions(&settings) {
            let mut buf = Vec::new();
            codec.try_encode_udf(&f, &mut buf).unwrap();
            assert!(buf.starts_with(MARK), "{}", f.name());
            let back = codec.try_decode_udf(f.name(), &buf).unwrap();
            assert_eq!(back.name(), f.name());
            assert_eq!(udf::shipped_settings(&back), udf::shipped_settings(&f));
            let text = String::from_utf8(buf).unwrap();
            assert!(
                !text.contains(&hex) && !text.contains(&"Z".repeat(16)),
                "{text}"
            );
        }
        for f in udf::aggregates() {
            let mut buf = Vec::new();
            codec.try_encode_udaf(&f, &mut buf).unwrap();
            assert_eq!(
                codec.try_decode_udaf(f.name(), &buf).unwrap().name(),
                f.name()
            );
        }
        assert!(codec.try_decode_udf("normalize_identifier", b"").is_err());
    }
}
