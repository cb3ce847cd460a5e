//! Hostile input: arbitrary bytes through the readers, arbitrary Unicode through every SQL
//! function, and files built to exhaust memory. Each must end in an answer or one clean
//! error, never a panic, a hang or unbounded memory.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::prelude::SessionContext;
use proptest::prelude::*;
use seatcount::engine::udf::{self, UdfSettings};
use seatcount::ingest::{self, Observer, OnError};
use seatcount::warehouse::key::{HashAlgorithm, HashKey};

use crate::common::{Fixture, TEST_KEY, fuzz_cases};

struct Quiet;
impl Observer for Quiet {
    fn warn(&mut self, _message: String) {}
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Ingests `bytes` as a file named `name` in-process; the result, whichever it is, must be
/// an answer, and an error must be one line naming the file.
fn ingest_bytes(rt: &tokio::runtime::Runtime, name: &str, bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, bytes).unwrap();
    let result = rt.block_on(ingest::ingest(
        &dir.path().join("wh"),
        &[file],
        ingest::Options {
            on_error: OnError::Quarantine,
            reopen: false,
        },
        HashAlgorithm::HmacSha256,
        &mut Quiet,
    ));
    if let Err(e) = result {
        let message = e.to_string();
        assert!(!message.contains('\n'), "a multi-line error: {message}");
        assert!(
            message.contains(name),
            "the error does not name the file: {message}"
        );
    }
}

/// Text that looks enough like event files to get past the header now and then.
fn csvish() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        Just(b"event_time,app_id,environment_id,user_name\n".to_vec()),
        Just(
            b"event_id,event_time,app_id,environment_id,named_user_identifier,email,roles\n"
                .to_vec()
        ),
        proptest::collection::vec(any::<u8>(), 0..40),
    ];
    let body = proptest::collection::vec(
        prop_oneof![
            Just(b",".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"2026-09-01T10:00:00Z".to_vec()),
            Just("Ａｌｉｃｅ@ｅｘａｍｐｌｅ.com".as_bytes().to_vec()),
            Just(b"\xff\xfe".to_vec()),
            Just(b"{\"event_time\":1,\"app_id\":[],\"user_name\":{}}".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..12),
        ],
        0..60,
    );
    (header, body).prop_map(|(h, b)| [h, b.concat()].concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(48), ..ProptestConfig::default() })]

    #[test]
    fn readers_answer_every_byte_string(bytes in csvish()) {
        // Each ingest makes a fresh warehouse with its own key file.
        let rt = runtime();
        ingest_bytes(&rt, "fuzz.csv", &bytes);
        ingest_bytes(&rt, "fuzz.ndjson", &bytes);
        ingest_bytes(&rt, "fuzz.parquet", &bytes);
    }

    #[test]
    fn every_function_answers_every_string(
        values in proptest::collection::vec(any::<Option<String>>(), 1..40)
    ) {
        let rt = runtime();
        let ctx = SessionContext::new();
        let settings = UdfSettings {
            internal_domains: vec!["example.com".into()],
            key: Some(Arc::new(HashKey::from_hex(TEST_KEY, "test").unwrap())),
            ..UdfSettings::default()
        };
        udf::register(&ctx, &settings);
        let column = Arc::new(StringArray::from(values.clone())) as ArrayRef;
        let batch = RecordBatch::try_from_iter([("s", column)]).unwrap();
        ctx.register_batch("t", batch).unwrap();
        let sql = "SELECT s, normalize_identifier(s) AS n, normalize_identifier(s, 'sensitive') AS ns, \
                   normalize_identifier(normalize_identifier(s)) AS nn, normalize_email(s) AS e, \
                   email_domain(s) AS d, hash_identifier(s) AS h, classify_domain(s, s) AS c FROM t";
        let batches = rt.block_on(async { ctx.sql(sql).await?.collect().await }).unwrap();
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        prop_assert_eq!(rows, values.len());
        let components = "SELECT cardinality(connected_components(s, s, normalize_email(s))) FROM t";
        rt.block_on(async { ctx.sql(components).await?.collect().await }).unwrap();
        for batch in &batches {
            let col = |name: &str| batch.column_by_name(name).unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
            let (n, nn, e, d) = (col("n"), col("nn"), col("e"), col("d"));
            let h = batch.column_by_name("h").unwrap().as_fixed_size_binary().clone();
            for i in 0..batch.num_rows() {
                // Normalizing twice changes nothing; a domain belongs to its address.
                prop_assert_eq!(n.is_null(i), nn.is_null(i));
                if !n.is_null(i) {
                    prop_assert_eq!(n.value(i), nn.value(i));
                }
                if !d.is_null(i) {
                    let suffix = format!("@{}", d.value(i));
                    prop_assert!(e.value(i).ends_with(&suffix));
                }
                // Every string hashes, to 16 bytes; NULL stays NULL.
                prop_assert_eq!(h.is_null(i), batch.column(0).is_null(i));
                prop_assert!(h.is_null(i) || h.value(i).len() == 16);
            }
        }
    }
}

/// A file whose second line is 1 GiB of NUL bytes (sparse on disk, so cheap to make).
fn giant_line(fx: &Fixture, name: &str, first: &[u8]) -> std::path::PathBuf {
    let path = fx.dir.path().join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(first).unwrap();
    file.set_len(first.len() as u64 + (1 << 30)).unwrap();
    path
}

#[test]
fn a_gigabyte_line_is_refused_without_reading_it_whole() {
    let fx = Fixture::new();
    for (name, first, line) in [
        (
            "giant.csv",
            &b"event_time,app_id,environment_id,user_name\n"[..],
            2,
        ),
        ("giant.ndjson", &b""[..], 1),
    ] {
        let path = giant_line(&fx, name, first);
        let started = std::time::Instant::now();
        let out = fx.cmd().arg("ingest").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(name)
                && err.contains(&format!(
                    "record starting on line {line} is longer than 1 MiB"
                )),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        // Refused after the first MiB, not after reading the whole gigabyte.
        assert!(started.elapsed().as_secs() < 20, "{name} took too long");
    }
    assert!(
        !fx.wh()
            .join("events")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some())
    );
}

#[test]
fn a_million_columns_or_too_many_are_refused() {
    let fx = Fixture::new();
    let million: String = (0..1_000_000).map(|i| format!("c{i},")).collect();
    let path = fx.file("wide.csv", &format!("{million}\n"));
    let out = fx.cmd().arg("ingest").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("wide.csv: the record starting on line 1 is longer than 1 MiB"),
        "{err}"
    );

    let many: String = (0..2000).map(|i| format!("c{i},")).collect();
    let path = fx.file(
        "many.csv",
        &format!("event_time,app_id,environment_id,user_name,{many}x\n"),
    );
    let out = fx.cmd().arg("ingest").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("many.csv: line 1: the header has 2005 columns; seatcount reads at most 1024"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_quoted_field_cannot_carry_a_record_past_the_bounds() {
    // The attacks: a 200 MB user name in one quoted field of short lines was stored; and in
    // quarantine mode one stray quote made a large file one quarantined "row", exit 0.
    let fx = Fixture::new();
    let head = "event_time,app_id,environment_id,user_name\n";
    // 2 MiB of 80-byte lines inside quotes: longer than a record may be.
    let long_name: String = (0..26_000)
        .map(|_| format!("{}\n", "x".repeat(79)))
        .collect();
    let giant = fx.file(
        "quoted.csv",
        &format!(
            "{head}2026-09-01T10:00:00Z,a,a-p,ann\n2026-09-01T10:00:00Z,a,a-p,\"{long_name}\"\n"
        ),
    );
    let out = fx.cmd().arg("ingest").arg(&giant).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("quoted.csv: the record starting on line 3 spans more than 100 lines"),
        "{err}"
    );
    // 1.5 MiB in 50 lines of 30 KiB: few lines, each short, but too long a record.
    let wide_name: String = (0..50)
        .map(|_| format!("{}\n", "y".repeat(30 * 1024)))
        .collect();
    let wide = fx.file(
        "wide-field.csv",
        &format!("{head}2026-09-01T10:00:00Z,a,a-p,\"{wide_name}\"\n"),
    );
    let out = fx.cmd().arg("ingest").arg(&wide).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("wide-field.csv: the record starting on line 2 is longer than 1 MiB"),
        "{err}"
    );
    // One stray quote in a 5,000-row file, in quarantine mode: refused, naming its line,
    // rather than one quarantined row and exit 0.
    let mut rows: Vec<String> = (0..5000)
        .map(|i| format!("2026-09-01T10:00:00Z,a,a-p,u{i}"))
        .collect();
    rows[10] = "2026-09-01T10:00:00Z,a,a-p,\"u10".to_string();
    let stray = fx.file("stray.csv", &format!("{head}{}\n", rows.join("\n")));
    let out = fx
        .cmd()
        .args(["ingest", "--on-error", "quarantine"])
        .arg(&stray)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the record starting on line 12 spans more than 100 lines"),
        "{err}"
    );
    // A field with a few line breaks is still a field.
    let ok = fx.file(
        "ok.csv",
        &format!("{head}2026-09-01T10:00:00Z,a,a-p,\"two\nlines\"\n"),
    );
    fx.ingest(&[&ok]);
}
