//! Per-row cost of every seatcount SQL function, called through SQL the way ingest and the
//! reports call them. `cargo bench --bench udf`; criterion prints time per batch and rows/s.
//!
//! The input mimics ingest: identifiers with case and white-space variants, a quarter of them
//! repeating, in 8192-row batches.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use seatcount::engine::udf::{self, UdfSettings};
use seatcount::warehouse::key::HashKey;
use tokio::runtime::Runtime;

const ROWS: usize = 200_000;
const BATCH: usize = 8192;

/// A session with the functions registered over table `t(s, u, g, h, t)`: `s` an e-mail-like
/// identifier, `u` a plain user name, `g` a small group number, `h` a stored-style 64-hex
/// hash and `t` an event time.
fn session(rt: &Runtime) -> SessionContext {
    let emails: Vec<String> = (0..ROWS)
        .map(|i| match i % 3 {
            0 => format!("  User.{:06}@Example{}.com ", i % 50_000, i % 7),
            1 => format!("user.{:06}@sales.example{}.com", i % 50_000, i % 7),
            _ => format!("USER.{:06}@Partner.org", i % 50_000),
        })
        .collect();
    let names: Vec<String> = (0..ROWS).map(|i| format!("u{:07}", i % 70_000)).collect();
    let groups: Vec<String> = (0..ROWS).map(|i| format!("g{}", i % 16)).collect();
    let hashes: Vec<String> = (0..ROWS)
        .map(|i| {
            format!(
                "{:064x}",
                (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
            )
        })
        .collect();
    let times = Int64Array::from_iter_values((0..ROWS as i64).map(|i| i % 1000));
    let batch = RecordBatch::try_from_iter([
        ("s", Arc::new(StringArray::from(emails)) as ArrayRef),
        ("u", Arc::new(StringArray::from(names)) as ArrayRef),
        ("g", Arc::new(StringArray::from(groups)) as ArrayRef),
        ("h", Arc::new(StringArray::from(hashes)) as ArrayRef),
        ("t", Arc::new(times) as ArrayRef),
    ])
    .expect("batch");
    let chunks: Vec<RecordBatch> = (0..ROWS.div_ceil(BATCH))
        .map(|i| batch.slice(i * BATCH, BATCH.min(ROWS - i * BATCH)))
        .collect();
    let ctx = SessionContext::new();
    let settings = UdfSettings {
        internal_domains: vec!["example0.com".into(), "example1.com".into()],
        key: Some(Arc::new(
            HashKey::from_hex(&"42".repeat(32), "bench").expect("key"),
        )),
        ..UdfSettings::default()
    };
    udf::register(&ctx, &settings);
    let table = MemTable::try_new(batch.schema(), vec![chunks]).expect("table");
    ctx.register_table("t", Arc::new(table)).expect("register");
    // Plan once so the first sample does not pay for catalog set-up.
    rt.block_on(async { ctx.sql("SELECT 1").await.expect("sql").collect().await })
        .expect("warm-up");
    ctx
}

fn functions(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let ctx = session(&rt);
    let mut group = c.benchmark_group("udf");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    for (name, sql) in [
        (
            "normalize_identifier",
            "SELECT count(normalize_identifier(s)) FROM t",
        ),
        ("normalize_email", "SELECT count(normalize_email(s)) FROM t"),
        ("email_domain", "SELECT count(email_domain(s)) FROM t"),
        ("hash_identifier", "SELECT count(hash_identifier(s)) FROM t"),
        (
            "classify_domain",
            "SELECT count(classify_domain(s, u)) FROM t",
        ),
        (
            "connected_components",
            "SELECT g, cardinality(connected_components(s, u, normalize_email(s))) FROM t GROUP BY g",
        ),
        ("hash_key", "SELECT count(hash_key(h)) FROM t"),
        (
            "latest (70k groups)",
            "SELECT count(x) FROM (SELECT latest(named_struct('s', s, 'h', h), t, s) AS x FROM t GROUP BY u)",
        ),
        (
            "ingest_identifier_chain",
            "SELECT count(hash_identifier(normalize_identifier(s, 'insensitive'))) FROM t",
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let batches = ctx.sql(sql).await?.collect().await?;
                    Ok::<_, datafusion::error::DataFusionError>(black_box(batches))
                })
                .expect(name)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, functions);
criterion_main!(benches);
