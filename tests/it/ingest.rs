//! `seatcount ingest`: formats, UTC months, idempotence, event_id de-duplication, bad input,
//! quarantine and concurrency (docs/input.md, README commands).

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, ListBuilder, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondArray,
};

use crate::common::{Fixture, HEADER, sample_files};

#[test]
fn sample_lands_in_utc_month_partitions() {
    let fx = Fixture::new();
    let files = sample_files();
    let out = fx.ingest(&[&files[0], &files[1]]);
    // 17 CSV rows + 14 NDJSON lines, one of which repeats ev-0101.
    assert!(out.contains("31 rows read, 30 stored"), "{out}");
    assert!(out.contains("1 duplicate events dropped"), "{out}");
    let rows = fx.rows("SELECT month, count(*) AS n FROM events GROUP BY month ORDER BY month");
    // ev-0017 is 2026-10-01T01:30+02:00 = 2026-09-30T23:30Z, so September has all 17.
    assert_eq!(rows[0]["month"], "2026-09");
    assert_eq!(rows[0]["n"], 17);
    assert_eq!(rows[1]["month"], "2026-10");
    assert_eq!(rows[1]["n"], 13);
    assert_eq!(
        fx.value("SELECT event_time FROM events WHERE event_id = 'ev-0017'"),
        "2026-09-30T23:30:00Z"
    );
    let files = fx.files();
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("events/month=2026-09/") && f.ends_with(".parquet"))
    );
    assert!(
        files
            .iter()
            .any(|f| f.starts_with("events/month=2026-10/") && f.ends_with(".parquet"))
    );
}

/// An event is stored in the partition of its UTC calendar month, whatever offset it was
/// given in, to the last microsecond of the month.
#[test]
fn an_event_goes_to_the_partition_of_its_utc_month() {
    let fx = Fixture::new();
    let input = fx.file(
        "edges.csv",
        "event_time,app_id,environment_id,user_name\n\
         2026-01-31T23:59:59.999999Z,a,e,last-of-january\n\
         2026-02-01T00:00:00Z,a,e,first-of-february\n\
         2026-01-31T23:30:00-01:00,a,e,february-in-utc\n\
         2026-03-01T00:30:00+01:00,a,e,february-again\n\
         2024-02-29T12:00:00Z,a,e,leap-day\n",
    );
    fx.ingest(&[&input]);
    assert_eq!(
        fx.csv(&[
            "sql",
            "SELECT month, count(*) AS n FROM events GROUP BY month ORDER BY month"
        ]),
        "month,n\n2024-02,1\n2026-01,1\n2026-02,3\n"
    );
    let files = fx.files();
    for month in ["2024-02", "2026-01", "2026-02"] {
        assert!(
            files
                .iter()
                .any(|f| f.starts_with(&format!("events/month={month}/"))),
            "{month}: {files:?}"
        );
    }
}

#[test]
fn columns_default_and_parse_as_documented() {
    let fx = Fixture::new();
    let input = fx.file(
        "mixed.csv",
        "EVENT_TIME,App_Id,environment_id,user_name,roles,active,anonymous,user_type,Favourite_Colour\n\
         2026-03-04 10:15:00,a1,e1,u1,Admin; User ,,, external ,blue\n\
         2026-03-04T10:15:00-05:00,a1,e1,u2,,no,YES,,red\n",
    );
    let out = fx.cmd().arg("ingest").arg(&input).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Favourite_Colour"),
        "unknown column warned about: {stderr}"
    );
    let rows = fx.rows(
        "SELECT event_time, environment_type, user_provider, tenant, roles, active, anonymous, user_type \
         FROM events ORDER BY event_time",
    );
    assert_eq!(rows[0]["event_time"], "2026-03-04T10:15:00Z");
    assert_eq!(rows[0]["environment_type"], "production");
    assert_eq!(rows[0]["user_provider"], "");
    assert_eq!(rows[0]["tenant"], "default");
    assert_eq!(rows[0]["roles"], serde_json::json!(["Admin", "User"]));
    assert_eq!(rows[0]["active"], true);
    assert_eq!(rows[0]["anonymous"], false);
    assert_eq!(rows[0]["user_type"], "External");
    assert_eq!(rows[1]["event_time"], "2026-03-04T15:15:00Z");
    // Missing roles are unknown, stored NULL (so the roles rule does not answer).
    assert!(
        rows[1].get("roles").is_none_or(|r| r.is_null()),
        "{:?}",
        rows[1]
    );
    assert_eq!(rows[1]["active"], false);
    assert_eq!(rows[1]["anonymous"], true);
}

#[test]
fn parquet_input_with_native_types() {
    let fx = Fixture::new();
    let path = fx.dir.path().join("events.parquet");
    let time = TimestampMicrosecondArray::from(vec![1_772_409_600_000_000, 1_772_496_000_000_000])
        .with_timezone("+01:00");
    let mut roles = ListBuilder::new(StringBuilder::new());
    roles.values().append_value("Customer");
    roles.append(true);
    roles.append(true);
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("event_time", Arc::new(time)),
        ("app_id", Arc::new(StringArray::from(vec!["p", "p"]))),
        (
            "environment_id",
            Arc::new(StringArray::from(vec!["p-prod", "p-prod"])),
        ),
        (
            "named_user_identifier",
            Arc::new(StringArray::from(vec![Some("X@Y.org"), None])),
        ),
        (
            "user_name",
            Arc::new(StringArray::from(vec![Some("x"), Some("z")])),
        ),
        ("roles", Arc::new(roles.finish())),
        ("active", Arc::new(BooleanArray::from(vec![true, false]))),
    ];
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let file = std::fs::File::create(&path).unwrap();
    let mut writer =
        datafusion::parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    fx.ingest(&[&path]);
    let rows = fx.rows(
        "SELECT month, roles, active, named_user_identifier_hash IS NULL AS no_nui, \
         named_user_identifier_hash = hash_identifier('x@y.org') AS nui_hashed \
         FROM events ORDER BY event_time",
    );
    // 2026-03-02T00:00Z and 2026-03-03T00:00Z: the stored instant, whatever the input zone.
    assert_eq!(rows[0]["month"], "2026-03");
    assert_eq!(rows[0]["roles"], serde_json::json!(["Customer"]));
    assert_eq!(rows[0]["nui_hashed"], true);
    assert_eq!(rows[1]["active"], false);
    assert_eq!(rows[1]["no_nui"], true);
    // An empty list of roles is as unknown as none: stored NULL.
    assert!(
        rows[1].get("roles").is_none_or(|r| r.is_null()),
        "{:?}",
        rows[1]
    );
}

#[test]
fn reingesting_a_file_is_a_no_op() {
    let fx = Fixture::new();
    let files = sample_files();
    fx.ingest(&[&files[0]]);
    let before = fx.files();
    let out = fx.ingest(&[&files[0]]);
    assert!(out.contains("already ingested"), "{out}");
    assert_eq!(fx.files(), before, "a second ingest wrote nothing");
    assert_eq!(fx.value("SELECT count(*) FROM events"), "17");
}

#[test]
fn an_event_id_is_stored_once_across_files_and_ingests() {
    let fx = Fixture::new();
    let row = "ev-1,2026-05-01T10:00:00Z,a,e,production,ann,,,,,,";
    let first = fx.file("first.csv", &format!("{HEADER}\n{row}\n{row}\n"));
    // A different file (so not skipped whole) that re-sends ev-1 and adds ev-2.
    let second = fx.file(
        "second.csv",
        &format!("{HEADER}\n{row}\nev-2,2026-05-01T11:00:00Z,a,e,production,ann,,,,,,\n"),
    );
    // The copy has the first row's fingerprint: it is dropped as it arrives, and nothing is
    // staged for the end (stopped there, the ingest shows its staging directory).
    let stopped = fx
        .cmd()
        .env("SEATCOUNT_CRASH_AT", "staged")
        .arg("ingest")
        .arg(&first)
        .output()
        .unwrap();
    assert_eq!(stopped.status.code(), None);
    let staging = fx.files();
    assert!(
        staging
            .iter()
            .any(|f| f.contains("/direct-2026-05.parquet"))
            && !staging.iter().any(|f| f.contains("/staged-")),
        "{staging:?}"
    );
    let out = fx.ingest(&[&first]);
    assert!(
        out.contains("1 stored") && out.contains("1 duplicate"),
        "{out}"
    );
    let out = fx.ingest(&[&second]);
    assert!(out.contains("1 stored"), "{out}");
    assert_eq!(
        fx.value("SELECT string_agg(event_id, ',' ORDER BY event_id) FROM events"),
        "ev-1,ev-2"
    );
}

/// A bad row past the first chunk of a file (128k rows) fails the ingest while the chunk
/// before it is still being normalized: the same one sentence, and nothing written.
#[test]
fn a_bad_row_while_a_chunk_is_in_flight_still_writes_nothing() {
    let fx = Fixture::new();
    let rows = 140_000;
    let mut text = String::with_capacity(rows * 48);
    text.push_str(HEADER);
    text.push('\n');
    for i in 0..rows {
        text.push_str(&format!("ev-{i},2026-05-01T10:00:00Z,a,e,,user{i},,,,,,\n"));
    }
    text.push_str("ev-bad,2026-05-01T10:00:00Z,a,e,,secret.person,,,,,maybe,\n");
    let big = fx.file("big.csv", &text);
    let out = fx.cmd().arg("ingest").arg(&big).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
    assert!(
        stderr.contains(&format!("line {}", rows + 2)) && stderr.contains("column active"),
        "{stderr}"
    );
    assert!(
        !fx.files()
            .iter()
            .any(|f| f.starts_with("events/") || f.contains("staging")),
        "nothing written: {:?}",
        fx.files()
    );
}

#[test]
fn a_bad_row_fails_the_whole_ingest_and_writes_nothing() {
    let fx = Fixture::new();
    let good = fx.file(
        "good.csv",
        &format!("{HEADER}\nev-1,2026-05-01T10:00:00Z,a,e,,ann,,,,,,\n"),
    );
    let bad = fx.file(
        "bad.csv",
        &format!(
            "{HEADER}\nev-2,2026-05-01T10:00:00Z,a,e,,bob,,,,,,\nev-3,2026-05-01T10:00:00Z,a,e,,secret.person,,,,,maybe,\n"
        ),
    );
    let out = fx
        .cmd()
        .arg("ingest")
        .arg(&good)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one sentence: {stderr}");
    assert!(stderr.contains("bad.csv"), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("column active"), "{stderr}");
    assert!(
        !stderr.contains("secret.person"),
        "no clear identifier in errors: {stderr}"
    );
    assert!(out.stdout.is_empty());
    assert!(
        !fx.files()
            .iter()
            .any(|f| f.starts_with("events/") || f.contains("staging")),
        "nothing written: {:?}",
        fx.files()
    );
}

#[test]
fn every_rule_of_the_input_table_is_checked() {
    let cases = [
        ("ev,not-a-time,a,e,,u,,,,,,", "event_time"),
        ("ev,2026-05-01T10:00:00Z,,e,,u,,,,,,", "app_id"),
        ("ev,2026-05-01T10:00:00Z,a,,,u,,,,,,", "environment_id"),
        ("ev,2026-05-01T10:00:00Z,a,e,,,,,,,,", "user_name"),
        (
            "ev,2026-05-01T10:00:00Z,a,e,staging,u,,,,,,",
            "environment_type",
        ),
        ("ev,2026-05-01T10:00:00Z,a,e,,u,,,robot,,,", "user_type"),
        ("ev,2026-05-01T10:00:00Z,a,e,,u,,,,,,2", "anonymous"),
        ("ev,2026-05-01T10:00:00Z,a,e,,u,,,,,", "line 2"),
    ];
    for (row, expected) in cases {
        let fx = Fixture::new();
        let file = fx.file("in.csv", &format!("{HEADER}\n{row}\n"));
        let out = fx.cmd().arg("ingest").arg(&file).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{row}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{row}: expected {expected} in {stderr}"
        );
        assert!(stderr.contains("in.csv: line 2"), "{stderr}");
    }
    let fx = Fixture::new();
    let file = fx.file(
        "hashes.csv",
        "event_time,app_id,environment_id,user_name_hash\n2026-05-01T10:00:00Z,a,e,ABC\n",
    );
    let out = fx.cmd().arg("ingest").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("column user_name_hash"), "{stderr}");
    let missing = fx.file("nocol.csv", "app_id,environment_id,user_name\na,e,u\n");
    let out = fx.cmd().arg("ingest").arg(&missing).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("event_time"), "{stderr}");
}

#[test]
fn ndjson_errors_name_the_line() {
    let fx = Fixture::new();
    let file = fx.file(
        "in.ndjson",
        "{\"event_time\":\"2026-05-01T10:00:00Z\",\"app_id\":\"a\",\"environment_id\":\"e\",\"user_name\":\"u\"}\n\
         {\"event_time\":\"2026-05-01T10:00:00Z\",\"app_id\":\"a\",\"environment_id\":\"e\",\"user_name\":\"u\",\"active\":\"perhaps\"}\n",
    );
    let out = fx.cmd().arg("ingest").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("in.ndjson: line 2, column active"),
        "{stderr}"
    );
}

#[test]
fn quarantine_keeps_good_rows_and_every_bad_row_untouched() {
    let fx = Fixture::new();
    let file = fx.file(
        "mixed.csv",
        &format!(
            "{HEADER}\nev-1,2026-05-01T10:00:00Z,a,e,,ann,,,,,,\nev-2,yesterday,a,e,,bob,,,,,,\nev-3,2026-05-02T10:00:00Z,a,e,,cy,,,,,,\nev-4,2026-05-03T10:00:00Z,a,e,,,,,,,,\n"
        ),
    );
    let out = fx
        .cmd()
        .args(["ingest", "--on-error", "quarantine"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4 rows read, 2 stored"), "{stdout}");
    assert!(stdout.contains("2 quarantined"), "{stdout}");
    assert_eq!(fx.value("SELECT count(*) FROM events"), "2");

    let qdir = fx.wh().join("quarantine");
    let entries: Vec<_> = std::fs::read_dir(&qdir).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1);
    let path = entries[0].path();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "quarantine files are private");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["event_time"], "yesterday");
    assert_eq!(lines[0]["user_name"], "bob");
    assert_eq!(lines[0]["_seatcount_line"], 3);
    assert_eq!(lines[0]["_seatcount_column"], "event_time");
    assert!(lines[0]["_seatcount_reason"].as_str().unwrap().len() > 5);
    assert_eq!(lines[1]["_seatcount_line"], 5);

    let list = fx.cmd().args(["quarantine", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("2 rows"));
    fx.cmd()
        .args(["quarantine", "purge", "--all"])
        .assert()
        .success();
    assert_eq!(std::fs::read_dir(&qdir).unwrap().count(), 0);
}

#[test]
fn concurrent_ingests_serialize_and_lose_nothing() {
    // No key in the environment: the four first ingests race to create the warehouse and its
    // key file, and exactly one may.
    let fx = Fixture::with_key_file();
    let mut children = Vec::new();
    for i in 0..4 {
        let mut text = String::from(HEADER);
        for j in 0..500 {
            text.push_str(&format!(
                "\nev-{i}-{j},2026-0{}-01T10:00:00Z,a{i},e,,user{j},,,,,,",
                1 + j % 3
            ));
        }
        let file = fx.file(&format!("part{i}.csv"), &text);
        let mut cmd = fx.std_cmd();
        cmd.arg("ingest").arg(file);
        cmd.stdout(std::process::Stdio::piped());
        cmd.stderr(std::process::Stdio::piped());
        children.push(cmd.spawn().unwrap());
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(fx.value("SELECT count(*) FROM events"), "2000");
    assert_eq!(
        fx.value("SELECT count(DISTINCT event_id) FROM events"),
        "2000"
    );
}

#[test]
fn a_file_that_cannot_be_read_is_a_clear_error() {
    let fx = Fixture::new();
    let out = fx
        .cmd()
        .args(["ingest", "/no/such/file.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/no/such/file.csv"), "{stderr}");
    let odd = fx.file("events.xlsx", "x");
    let out = fx.cmd().arg("ingest").arg(odd).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let broken = fx.file("broken.parquet", "PAR1 not really");
    let out = fx.cmd().arg("ingest").arg(broken).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.parquet"));
}

#[test]
fn pre_hashed_input_stands_in_for_clear_identifiers() {
    let fx = Fixture::new();
    // A source that hashed under the same key sends the whole HMAC-SHA256 in hex; the
    // warehouse stores its first 16 bytes, which is what hash_identifier gives.
    fx.cmd().arg("init").assert().success();
    let ann = fx.value("SELECT hash_identifier(normalize_identifier('ann'))");
    let mail = fx.value("SELECT hash_identifier(normalize_email('ann@corp.com'))");
    let hmac = |value: &str| {
        use hmac::{Hmac, Mac};
        let key = hex::decode(crate::common::TEST_KEY).unwrap();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    let (ann_given, mail_given) = (hmac("ann"), hmac("ann@corp.com"));
    assert_eq!(ann_given.len(), 64);
    assert_eq!(
        ann_given[..32],
        ann,
        "the stored form is the digest's first 16 bytes"
    );
    let hashed = fx.file(
        "hashed.csv",
        &format!(
            "event_time,app_id,environment_id,user_name_hash,email_hash,email_domain\n\
             2026-09-01T10:00:00Z,a,a-p,{ann_given},{mail_given},Corp.com\n"
        ),
    );
    let clear = fx.file(
        "clear.csv",
        "event_time,app_id,environment_id,user_name,email\n2026-09-02T10:00:00Z,b,b-p,ann,ann@corp.com\n",
    );
    fx.ingest(&[&hashed, &clear]);
    let rows = fx.rows(
        "SELECT app_id, user_name_hash, user_name_cs_hash, email_hash, email_domain FROM events ORDER BY app_id",
    );
    assert_eq!(rows[0]["user_name_hash"], ann.as_str());
    assert_eq!(
        rows[0]["user_name_cs_hash"],
        ann.as_str(),
        "pre-hashed fills both forms"
    );
    assert_eq!(rows[0]["email_hash"], mail.as_str());
    assert_eq!(rows[0]["email_domain"], "corp.com");
    assert_eq!(rows[1]["user_name_hash"], ann.as_str());
    // The hashed source and the clear source are one person.
    assert_eq!(
        fx.report("usage", "2026-09"),
        "month,subscription_type,app_id,entitlement,consumption,over_usage\n\
         2026-09,external,,0,0,0\n2026-09,multi_app_internal,,0,1,1\n"
    );
}

/// Months are written as their rows arrive while few are open (src/ingest/months.rs); a month
/// closed early (a third month opened) stages its later rows, and rows that repeat an id are
/// staged too. Either way the earliest version of each event id counts, the other versions
/// are set aside in `conflicts`, and every row without an id is kept.
#[test]
fn a_month_closed_early_still_keeps_the_earliest_version_of_each_event_id() {
    let fx = Fixture::new();
    // The marker (which version won) is the user name; every row comes from one app. Each
    // "later" version is later in time than the "first" one of its id.
    let row = |id: &str, day: &str, marker: &str| {
        format!("{id},2026-{day}T10:00:00Z,a,e,production,{marker},,,,,,")
    };
    let pre = fx.file(
        "pre.csv",
        &format!("{HEADER}\n{}\n", row("j0", "01-02", "first")),
    );
    fx.ingest(&[&pre]);
    let a = [
        row("j1", "01-04", "later"),
        row("j1", "01-03", "first"),
        row("j0", "01-05", "later"),
        row("", "01-06", "first"),
        row("f1", "02-03", "first"),
        row("m1", "03-03", "first"),
    ];
    // January was closed when March opened: its rows here are staged.
    let b = [
        row("j1", "01-07", "later"),
        row("j2", "01-09", "later"),
        row("j2", "01-08", "first"),
        row("j0", "01-10", "later"),
        row("", "01-11", "first"),
        row("f1", "02-04", "later"),
        row("f1", "02-03", "first"),
    ];
    let a = fx.file("a.csv", &format!("{HEADER}\n{}\n", a.join("\n")));
    let b = fx.file("b.csv", &format!("{HEADER}\n{}\n", b.join("\n")));
    let out = fx.ingest(&[&a, &b]);
    assert!(out.contains("6 stored"), "{out}");
    assert!(out.contains("1 duplicate"), "{out}");
    assert!(out.contains("6 conflicting versions"), "{out}");
    assert_eq!(
        fx.value("SELECT string_agg(coalesce(event_id, '-'), ',' ORDER BY event_time) FROM events"),
        "j0,j1,-,j2,-,f1,m1"
    );
    assert_eq!(
        fx.value("SELECT count(*) FROM events WHERE user_name_hash = hash_identifier('later')"),
        "0"
    );
    assert_eq!(
        fx.value("SELECT count(*) FROM conflicts WHERE user_name_hash = hash_identifier('later')"),
        "6"
    );
    let january = fx
        .files()
        .into_iter()
        .filter(|f| f.contains("events/month=2026-01/"))
        .count();
    assert_eq!(
        january, 3,
        "the first ingest's file, the direct one and the staged one"
    );
}

/// The id sets of open months take at most a quarter of ingest's pool; past it, months close
/// and stage their later rows. An 8 MiB pool and the default one store the same events.
/// (At 4 MiB, the staged months' ranking query, an aggregate over 600-byte ids, sometimes
/// could not reserve the memory to sort its spill: DataFusion's limit, not ingest's.)
#[test]
fn a_small_pool_stages_more_and_stores_the_same_events() {
    let usual = Fixture::new();
    // Six files (a chunk each) of three months in turn, every id sent twice, the second time
    // 2,000 rows later; long ids, so that the open months' sets outgrow a quarter of 8 MiB.
    let mut files = Vec::new();
    for part in 0..6u32 {
        let mut text = String::from(HEADER);
        for i in part * 1000..(part + 1) * 1000 {
            let n = if i < 3000 { i } else { i - 2000 };
            let month = 1 + n % 3;
            let app = if i < 3000 || n >= 1000 {
                "first"
            } else {
                "later"
            };
            text.push_str(&format!(
                "\nevent-{n:0600},2026-0{month}-02T10:{:02}:00Z,{app},e,production,user{},,,,,,",
                i % 60,
                n % 97
            ));
        }
        files.push(usual.file(&format!("part-{part}.csv"), &text));
    }
    let files: Vec<&std::path::Path> = files.iter().map(|f| f.as_path()).collect();
    usual.ingest(&files);
    let small = Fixture::new();
    let out = small
        .cmd()
        .env("SEATCOUNT_MEMORY_MB", "8")
        .arg("ingest")
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let export =
        |fx: &Fixture| fx.csv(&["sql", "SELECT * FROM events ORDER BY event_id, event_time"]);
    assert_eq!(export(&small), export(&usual));
    assert_eq!(usual.value("SELECT count(*) FROM events"), "4000");
    assert_eq!(
        usual.value("SELECT count(*) FROM events WHERE app_id = 'later'"),
        "0"
    );
    assert_eq!(
        small.csv(&[
            "sql",
            "SELECT * FROM conflicts ORDER BY event_id, event_time"
        ]),
        usual.csv(&[
            "sql",
            "SELECT * FROM conflicts ORDER BY event_id, event_time"
        ])
    );
    // Staged rows end in each month's second file (the direct file is the first).
    let staged = |fx: &Fixture| -> u64 {
        let manifest = std::fs::read_to_string(fx.wh().join("_seatcount/manifest.jsonl")).unwrap();
        manifest
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|f| f["path"].as_str().unwrap().ends_with("-2.parquet"))
            .map(|f| f["rows"].as_u64().unwrap())
            .sum()
    };
    assert!(
        staged(&small) > staged(&usual),
        "the small pool staged more rows: {} against {}",
        staged(&small),
        staged(&usual)
    );
}

/// A chunk is normalized as one partition per core and comes back in slices of 8,192 rows.
/// Here every odd slice holds other versions of the ids of the even one before
/// it, some earlier and some later: the earliest version of each id counts whichever slice
/// comes back first, and the file read backwards stores the same events.
#[test]
fn the_earliest_version_of_an_id_wins_within_one_large_chunk() {
    let slice = 8192u32;
    let mut rows = Vec::new();
    for i in 0..16 * slice {
        let (block, offset) = (i / slice, i % slice);
        let n = (block / 2) * slice + offset;
        // The marker (which version won) is the user type; every row comes from one app.
        let marker = if block % 2 == 0 {
            "Internal"
        } else {
            "External"
        };
        rows.push(format!(
            "ev-{n},2026-05-02T10:{:02}:00Z,a,e,production,u{},,,{marker},,,",
            i % 60,
            n % 97
        ));
    }
    let forwards = Fixture::new();
    let input = forwards.file("large.csv", &format!("{HEADER}\n{}", rows.join("\n")));
    let out = forwards.ingest(&[&input]);
    assert!(out.contains(&format!("{} stored", 8 * slice)), "{out}");
    assert!(out.contains(&format!("{} conflicting", 8 * slice)), "{out}");
    assert_eq!(
        forwards.value(
            "SELECT count(*) FROM conflicts c JOIN events e \
             ON e.event_id = c.event_id AND e.app_id = c.app_id AND e.environment_id = c.environment_id \
             WHERE c.event_time <= e.event_time"
        ),
        "0",
        "no version set aside is as early as the one that counts"
    );
    rows.reverse();
    let backwards = Fixture::new();
    let input = backwards.file("large.csv", &format!("{HEADER}\n{}", rows.join("\n")));
    backwards.ingest(&[&input]);
    let export = |fx: &Fixture, table: &str| {
        fx.csv(&["sql", &format!("SELECT * FROM {table} ORDER BY event_id")])
    };
    assert_eq!(export(&backwards, "events"), export(&forwards, "events"));
    assert_eq!(
        export(&backwards, "conflicts"),
        export(&forwards, "conflicts")
    );
}

#[test]
fn a_warehouse_path_with_glob_characters_is_read_literally() {
    // The attack: a warehouse under `brack[1]` was read as a glob, so `sql` counted 0 events
    // with exit 0, reports called the warehouse empty, and a re-ingest stored duplicates.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("brack[1]*?");
    std::fs::create_dir_all(&root).unwrap();
    let cmd = || {
        let mut cmd = crate::common::bare();
        cmd.arg("--warehouse")
            .arg(root.join("wh"))
            .env("SEATCOUNT_HASH_KEY", crate::common::TEST_KEY);
        cmd
    };
    let files = sample_files();
    cmd().arg("ingest").args(&files).assert().success();
    let count = |cmd: assert_cmd::Command| {
        crate::common::csv(cmd, &["sql", "SELECT count(*) AS n FROM events"])
    };
    assert_eq!(count(cmd()), "n\n30\n");
    // The September file again under new bytes: every event_id is found stored, none added.
    let again = root.join("again.csv");
    let mut text = std::fs::read_to_string(&files[0]).unwrap();
    text.push('\n');
    std::fs::write(&again, text).unwrap();
    cmd().arg("ingest").arg(&again).assert().success();
    assert_eq!(count(cmd()), "n\n30\n");
    let usage = crate::common::csv(cmd(), &["report", "usage", "--month", "2026-09"]);
    assert!(usage.contains("2026-09,external,"), "{usage}");
}

#[test]
fn times_outside_the_storable_range_are_row_errors_and_the_future_does_not_move_reports() {
    // The attack: 1600 and 2300 passed validation and then aborted the ingest with a raw cast
    // error naming nothing, so quarantine could not save the good rows; and one event dated
    // 2206 became the default month of every report.
    let fx = Fixture::new();
    let bad = fx.file(
        "bad.csv",
        "event_time,app_id,environment_id,user_name\n\
         2026-09-01T10:00:00Z,a,a-p,ann\n\
         1600-01-01T00:00:00Z,a,a-p,bob\n",
    );
    let out = fx.cmd().arg("ingest").arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("line 3") && err.contains("event_time"),
        "{err}"
    );
    let far = fx.file(
        "far.csv",
        "event_time,app_id,environment_id,user_name\n\
         2026-09-01T10:00:00Z,a,a-p,ann\n\
         2300-01-01T00:00:00Z,a,a-p,bob\n\
         2206-05-01T00:00:00Z,a,a-p,cy\n",
    );
    let out = fx
        .cmd()
        .args(["ingest", "--on-error", "quarantine"])
        .arg(&far)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("2 stored") && summary.contains("1 quarantined"),
        "{summary}"
    );
    assert!(err.contains("1 events are dated after tomorrow"), "{err}");
    // Reports default to the latest month up to today, not 2206-05.
    let usage = fx.csv(&["report", "usage"]);
    assert!(usage.contains("\n2026-09,"), "{usage}");
    assert!(
        fx.csv(&["report", "usage", "--month", "2206-05"])
            .contains("2206-05,")
    );
}

#[test]
fn a_clear_email_domain_beside_hashes_must_be_a_domain() {
    // The attack: `alice.smith@acme-corp.com` or `Bob Jones` as the clear email_domain of a
    // pre-hashed row was stored as given. It is refused, naming the row and column but not
    // the value.
    let fx = Fixture::new();
    let hash = "a".repeat(64);
    for given in ["alice.smith@acme-corp.com", "Bob Jones"] {
        let file = fx.file(
            "hashed.csv",
            &format!("event_time,app_id,environment_id,user_name_hash,email_domain\n2026-09-01T10:00:00Z,a,a-p,{hash},{given}\n"),
        );
        let out = fx.cmd().arg("ingest").arg(&file).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("line 2") && err.contains("email_domain"),
            "{err}"
        );
        assert!(!err.contains(given) && !err.contains("alice"), "{err}");
    }
    let ok = fx.file(
        "ok.csv",
        &format!("event_time,app_id,environment_id,user_name_hash,email_domain\n2026-09-01T10:00:00Z,a,a-p,{hash}, Acme-Corp.com \n"),
    );
    fx.ingest(&[&ok]);
    assert_eq!(fx.value("SELECT email_domain FROM events"), "acme-corp.com");
}

#[test]
fn two_apps_that_number_their_events_alike_keep_each_others_events() {
    // The attack: apps a and b both number their events 1, 2, 3, and b's were dropped as
    // "duplicates" of a's. An id belongs to its app and environment. The rows cycle through
    // three months, so some of each month arrive after it was closed and go through the
    // staged de-duplication as well as the direct one.
    let fx = Fixture::new();
    let mut rows = Vec::new();
    for id in 1..=3 {
        for (app, env) in [("a", "a-p"), ("b", "b-p"), ("b", "b-test")] {
            for month in ["09", "10", "11"] {
                rows.push(format!(
                    "{id},2026-{month}-0{id}T10:00:00Z,{app},{env},u{id}"
                ));
            }
        }
    }
    let body = rows.join("\n");
    let file = fx.file(
        "events.csv",
        &format!("event_id,event_time,app_id,environment_id,user_name\n{body}\n"),
    );
    let out = fx.ingest(&[&file]);
    assert!(
        out.contains("27 stored") && out.contains("0 duplicate"),
        "{out}"
    );
    // The same rows again, reversed, under new bytes: every one is found stored.
    rows.reverse();
    let again = fx.file(
        "again.csv",
        &format!(
            "event_id,event_time,app_id,environment_id,user_name\n{}\n",
            rows.join("\n")
        ),
    );
    let out = fx.ingest(&[&again]);
    assert!(
        out.contains("0 stored") && out.contains("27 duplicate"),
        "{out}"
    );
    assert_eq!(fx.value("SELECT count(*) FROM events"), "27");
}

#[test]
fn two_versions_of_one_event_id_count_the_same_in_any_order() {
    // The attack: a source sent event 7 twice, once for ann and once for bob. The first row
    // read was kept, so the bill depended on which file (or which line) came first. Now the
    // earliest version counts, in one ingest or over several, and the other is set aside and
    // counted in the ingest summary and the hygiene report.
    let header = "event_id,event_time,app_id,environment_id,user_name";
    let ann = "7,2026-10-05T09:00:00Z,crm,crm-p,ann";
    let bob = "7,2026-10-05T10:00:00Z,crm,crm-p,bob";
    let other = "8,2026-10-05T11:00:00Z,crm,crm-p,cat";
    let orders: [&[&str]; 4] = [&["a", "b"], &["b", "a"], &["ab"], &["ba"]];
    let mut results = Vec::new();
    for order in orders {
        let fx = Fixture::new();
        let file = |name: &str| {
            let rows: Vec<&str> = name
                .chars()
                .map(|c| if c == 'a' { ann } else { bob })
                .collect();
            fx.file(
                &format!("{name}.csv"),
                &format!("{header}\n{}\n{other}\n", rows.join("\n")),
            )
        };
        let mut summaries = String::new();
        for name in order {
            summaries.push_str(&fx.ingest(&[&file(name)]));
        }
        assert!(
            summaries.contains("1 conflicting version"),
            "{order:?}: {summaries}"
        );
        let hygiene = fx.csv(&["report", "hygiene", "--month", "2026-10"]);
        assert!(
            hygiene.contains("\nevent_id_conflicts,1,"),
            "{order:?}: {hygiene}"
        );
        assert_eq!(
            fx.value("SELECT count(*) FROM events WHERE user_name_hash = hash_identifier('ann')"),
            "1",
            "{order:?}: the earliest version counts"
        );
        fx.cmd().arg("verify").assert().success();
        results.push((
            fx.csv(&["sql", "SELECT * FROM events ORDER BY event_id"]),
            fx.csv(&["sql", "SELECT * FROM conflicts ORDER BY event_id"]),
            fx.csv(&["report", "users", "--month", "2026-10"]),
        ));
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:#?}");
}

#[test]
fn a_shifted_row_is_named_without_echoing_what_moved_into_the_column() {
    // The attack: a stray comma in a name shifted the row, and the error quoted the clear
    // name from the column it landed in. The error names file, line and column only.
    let fx = Fixture::new();
    let file = fx.file(
        "shifted.csv",
        "event_time,app_id,environment_id,user_name,user_type,active\n\
         2026-09-01T10:00:00Z,a,a-p,Smith, Johnathan,External\n",
    );
    let out = fx.cmd().arg("ingest").arg(&file).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("line 2") && err.contains("user_type"), "{err}");
    assert!(
        !err.contains("Johnathan") && !err.contains("Smith"),
        "{err}"
    );
}

#[test]
fn the_quarantine_keeps_the_bytes_json_text_cannot() {
    // The attack: two unknown columns of one name lost one value in the quarantine, and
    // bytes that are not UTF-8 were rewritten, so the kept row was not the row that came.
    let fx = Fixture::new();
    let bad_row: &[u8] = b"yesterday,a,a-p,b\xffob,first,second";
    let mut bytes = b"event_time,app_id,environment_id,user_name,note,note\n".to_vec();
    bytes.extend_from_slice(b"2026-09-01T10:00:00Z,a,a-p,ann,x,y\n");
    bytes.extend_from_slice(bad_row);
    bytes.push(b'\n');
    let path = fx.dir.path().join("odd.csv");
    std::fs::write(&path, &bytes).unwrap();
    let out = fx
        .cmd()
        .args(["ingest", "--on-error", "quarantine"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let qdir = fx.wh().join("quarantine");
    let file = std::fs::read_dir(&qdir)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let kept: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(file).unwrap().trim()).unwrap();
    let raw = hex::decode(kept["_seatcount_raw_hex"].as_str().expect("raw bytes kept")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&raw).trim_end(),
        String::from_utf8_lossy(bad_row)
    );
    assert_eq!(raw.strip_suffix(b"\n").unwrap_or(&raw), bad_row);
}

#[test]
fn the_stored_domain_and_exact_forms_follow_the_identifier_rules() {
    // `email_domain` is the domain of the normalized address (trimmed, lowercased), NULL for
    // an address that is not one; the exact form is the value as given, so only a name that
    // differs from its trimmed form has an exact hash of its own, and an empty name has no hash.
    let fx = Fixture::new();
    let file = fx.file(
        "mail.csv",
        &format!(
            "{HEADER}\n\
             e1,2026-09-01T10:00:00Z,a,a-p,production,ann,,  Ann@Corp.COM ,,,,\n\
             e2,2026-09-01T11:00:00Z,a,a-p,production, bob,,not-an-address,,,,\n\
             e3,2026-09-01T12:00:00Z,a,a-p,production,,n-3,carl@x,,,,\n"
        ),
    );
    fx.ingest(&[&file]);
    let rows = fx.rows(
        "SELECT event_id, email_domain, email_hash IS NULL AS no_mail, \
         user_name_hash IS NULL AS no_name, user_name_exact_hash = user_name_cs_hash AS same \
         FROM events ORDER BY event_id",
    );
    let got: Vec<String> = rows.iter().map(|r| format!("{r:?}")).collect();
    // NDJSON leaves a NULL out of its row.
    let domain = |i: usize| {
        rows[i]
            .get("email_domain")
            .filter(|v| !v.is_null())
            .cloned()
    };
    assert_eq!(domain(0), Some("corp.com".into()), "{got:?}");
    assert_eq!(rows[0]["same"], true, "'ann' is its own exact form");
    assert_eq!(domain(1), None, "{got:?}");
    assert_eq!(rows[1]["no_mail"], true, "{got:?}");
    assert_eq!(rows[1]["same"], false, "' bob' differs from 'bob'");
    assert_eq!(domain(2), None, "a one-label domain is not an address");
    assert_eq!(rows[2]["no_name"], true, "{got:?}");
}
