//! Throughput of the identifier functions over one million rows, through SQL as reports and
//! ingest call them. Run with `cargo bench --bench udf`; prints rows per second per function.
//! (The criterion micro-benchmarks and the scale benchmark of issue #5 build on this.)

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use seatcount::engine::udf::{self, UdfSettings};
use seatcount::warehouse::key::HashKey;

const ROWS: usize = 1_000_000;

#[tokio::main]
async fn main() -> datafusion::error::Result<()> {
    let values: Vec<String> = (0..ROWS)
        .map(|i| format!("  User.{:06}@Example{}.com ", i % 250_000, i % 7))
        .collect();
    let batch = RecordBatch::try_from_iter([(
        "s",
        Arc::new(StringArray::from(values)) as datafusion::arrow::array::ArrayRef,
    )])?;
    let ctx = SessionContext::new();
    let settings = UdfSettings {
        key: Some(Arc::new(
            HashKey::from_hex(&"42".repeat(32), "bench").expect("key"),
        )),
        ..UdfSettings::default()
    };
    udf::register(&ctx, &settings);
    let chunks: Vec<RecordBatch> = (0..ROWS / 8192 + 1)
        .map(|i| batch.slice(i * 8192, 8192.min(ROWS - (i * 8192).min(ROWS))))
        .collect();
    ctx.register_table(
        "t",
        Arc::new(MemTable::try_new(batch.schema(), vec![chunks])?),
    )?;
    for expr in [
        "normalize_identifier(s)",
        "normalize_email(s)",
        "email_domain(s)",
        "hash_identifier(s)",
        "hash_identifier(normalize_identifier(s))",
    ] {
        let sql = format!("SELECT count({expr}) FROM t");
        ctx.sql(&sql).await?.collect().await?; // warm-up
        let start = Instant::now();
        ctx.sql(&sql).await?.collect().await?;
        let secs = start.elapsed().as_secs_f64();
        println!("{expr:<45} {:>12.0} rows/s", ROWS as f64 / secs);
    }
    Ok(())
}
