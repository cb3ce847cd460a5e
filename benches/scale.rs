//! The scale benchmark: a synthetic portfolio through the real binary, end to end, with
//! DuckDB as the peer. See BENCHMARKS.md for figures and how to reproduce them.
//!
//! ```text
//! cargo bench --bench scale                         # 10M events, 1M people
//! SCALE_EVENTS=100000000 cargo bench --bench scale  # 100M events, 10M people
//! ```
//!
//! Steps, each a child process timed from outside with its peak RSS from `wait4`:
//! generate the raw Parquet (kept between runs under `SCALE_DIR`), ingest it into a fresh
//! warehouse, run `usage` and `history` cold (deriving the months' state), close the latest
//! month and run every canned report warm, `history` after a configuration change and `SELECT * FROM usage`, then run `benches/peer/duckdb_usage.py` (the usage
//! semantics in DuckDB SQL) for every month and for the latest one, over the same raw files and
//! over a DuckDB database file loaded once from them (its load time printed beside ingest's),
//! check its numbers equal seatcount's, and print the ratios.
//!
//! Settings (environment): `SCALE_EVENTS` (10,000,000), `SCALE_USERS` (events / 10),
//! `SCALE_APPS` (200), `SCALE_MONTHS` (12), `SCALE_DIR` (`<target dir>/scale`),
//! `SCALE_PEER` (1; 0 skips DuckDB), and the portfolio's shape, passed to `generate`:
//! `SCALE_APPS_PER_PERSON` and `SCALE_MULTI_APP_PERCENT` (the generator's own spread when
//! unset). Events per account a month follow from the rest: about
//! events / (people × months × mean apps a person).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one child process cost.
struct Run {
    wall: Duration,
    peak_rss_kib: i64,
    stdout: String,
}

/// Runs `cmd` to the end, timing it and reading its peak resident set from `wait4`.
#[allow(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which std's Child does not offer"
)]
fn measure(cmd: &mut Command) -> Run {
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut stdout_pipe = child.stdout.expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout_pipe, &mut s).expect("read stdout");
        s
    });
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct that wait4 fills in; `pid` is our own child, which
    // nothing else waits for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let wall = start.elapsed();
    let stdout = reader.join().expect("reader");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed ({status})"
    );
    Run {
        wall,
        peak_rss_kib: usage.ru_maxrss,
        stdout,
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| v.replace('_', "").parse().expect("a number"))
        .unwrap_or(default)
}

fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

/// The usage rows of a CSV report, without its header.
fn usage_rows(csv: &str) -> Vec<&str> {
    csv.lines()
        .skip(1)
        .filter(|l| !l.starts_with("seconds="))
        .collect()
}

fn peer_seconds(stdout: &str) -> f64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("seconds="))
        .and_then(|s| s.parse().ok())
        .expect("the peer prints seconds=")
}

fn main() {
    let events = env_u64("SCALE_EVENTS", 10_000_000);
    let users = env_u64("SCALE_USERS", events / 10);
    let apps = env_u64("SCALE_APPS", 200);
    let months = env_u64("SCALE_MONTHS", 12);
    let peer = env_u64("SCALE_PEER", 1) == 1;
    let shape: Vec<(&str, u64)> = [
        ("--apps-per-person", "SCALE_APPS_PER_PERSON"),
        ("--multi-app-percent", "SCALE_MULTI_APP_PERCENT"),
    ]
    .into_iter()
    .filter_map(|(flag, var)| Some((flag, std::env::var(var).ok()?.parse().ok()?)))
    .collect();
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir =
        PathBuf::from(std::env::var("SCALE_DIR").unwrap_or_else(|_| format!("{target}/scale")));
    let bin = env!("CARGO_BIN_EXE_seatcount");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::create_dir_all(&dir).expect("scale dir");

    println!(
        "seatcount scale benchmark: {events} events, {users} people, {apps} apps, {months} months, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // 1. The raw portfolio, generated once per size and kept.
    // Named by flag and value (`-apps-per-person4`), so two shapes never share a directory.
    let shape_name: String = shape
        .iter()
        .map(|(flag, v)| format!("{}{v}", flag.trim_start_matches('-')))
        .collect::<Vec<_>>()
        .join("-");
    let raw = dir.join(format!(
        "raw-v{}-{events}-{users}-{apps}-{months}{}",
        seatcount::generate::PORTFOLIO_VERSION,
        if shape.is_empty() {
            String::new()
        } else {
            format!("-{shape_name}")
        }
    ));
    if !raw.join(".complete").exists() {
        let _ = fs::remove_dir_all(&raw);
        let shape_args = shape
            .iter()
            .flat_map(|(f, v)| [f.to_string(), v.to_string()]);
        let run = measure(Command::new(bin).arg("generate").args(shape_args).args([
            "--users",
            &users.to_string(),
            "--apps",
            &apps.to_string(),
            "--months",
            &months.to_string(),
            "--events",
            &events.to_string(),
            "--start",
            "2026-01",
            "--seed",
            "2026",
            "--out",
            raw.to_str().expect("utf-8 path"),
        ]));
        fs::write(raw.join(".complete"), "").expect("marker");
        println!(
            "generate   {:>8.1} s  {:>10.0} events/s  peak RSS {:>7.0} MiB",
            run.wall.as_secs_f64(),
            events as f64 / run.wall.as_secs_f64(),
            mib(run.peak_rss_kib)
        );
    }
    let raw_bytes: u64 = fs::read_dir(&raw)
        .expect("raw dir")
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();

    // 2. A fresh warehouse under the benchmark's licence rules.
    let wh = dir.join(format!("warehouse-{events}"));
    let _ = fs::remove_dir_all(&wh);
    let seatcount = |args: &[&str]| {
        let mut cmd = Command::new(bin);
        cmd.arg("--warehouse").arg(&wh).args(args);
        cmd
    };
    measure(&mut seatcount(&["init"]));
    fs::write(
        wh.join("seatcount.toml"),
        "[classification]\nrules = [\"reported\", \"domains\"]\n\
         internal_domains = [\"acme.com\", \"acme-corp.com\"]\n",
    )
    .expect("config");
    let entitlements = wh.join("entitlements.csv");
    fs::write(
        &entitlements,
        format!(
            "subscription_id,subscription_type,quantity,valid_from,valid_to,app_id\n\
             ext,external,{ext},2026-01-01,,\n\
             multi,multi_app_internal,{multi},2026-01-01,,\n\
             pack-0,single_app_internal,{pack},2026-01-01,,app-0000\n\
             pack-1,single_app_internal,{pack},2026-01-01,,app-0001\n\
             pack-7,single_app_internal,{pack},2026-04-01,2026-09-30,app-0007\n",
            ext = users / 10,
            multi = users / 3,
            pack = users / 20,
        ),
    )
    .expect("entitlements");

    // 3. Ingest.
    let run = measure(seatcount(&["ingest"]).arg(&raw));
    println!(
        "ingest     {:>8.1} s  {:>10.0} events/s  peak RSS {:>7.0} MiB  ({:.0} MiB raw Parquet in)",
        run.wall.as_secs_f64(),
        events as f64 / run.wall.as_secs_f64(),
        mib(run.peak_rss_kib),
        raw_bytes as f64 / (1 << 20) as f64
    );
    print!("           {}", run.stdout);
    let stored: u64 = walk_size(&wh.join("events"));
    println!(
        "           warehouse events: {:.0} MiB",
        stored as f64 / (1 << 20) as f64
    );

    // 4. Cold: the first reports after the ingest, which derive the months' state
    // (docs/derived.md): `usage` derives the latest month, `history` (with the derived state
    // deleted first) every month. Then warm: every canned report over derived state; `history`
    // right after a configuration change the derived views see; ad-hoc SQL over every month.
    let report = |name: &str| {
        let mut cmd = seatcount(&["report", name, "--format", "csv"]);
        measure(&mut cmd)
    };
    let show = |label: &str, run: &Run| {
        println!(
            "{label:<28} {:>7.2} s  peak RSS {:>7.0} MiB  ({} rows)",
            run.wall.as_secs_f64(),
            mib(run.peak_rss_kib),
            run.stdout.lines().count().saturating_sub(1)
        );
    };
    let derived = wh.join("_seatcount/derived");
    let cold_usage = report("usage");
    show("report usage, cold", &cold_usage);
    let _ = fs::remove_dir_all(&derived);
    let cold_history = report("history");
    show("report history, cold", &cold_history);
    println!(
        "           derived state: {:.1} MiB",
        walk_size(&derived) as f64 / (1 << 20) as f64
    );
    // `changes` compares a closed month with its close: close the latest one first (its six
    // monthly reports are saved as runs, from derived state).
    let latest = format!("2026-{months:02}");
    show(
        "close (latest month)",
        &measure(&mut seatcount(&["close", &latest])),
    );
    let mut outputs = std::collections::HashMap::new();
    for r in seatcount::reports::all() {
        let run = report(r.name);
        show(&format!("report {}, warm", r.name), &run);
        outputs.insert(r.name, run);
    }
    for (name, cold) in [("usage", &cold_usage), ("history", &cold_history)] {
        assert_eq!(
            cold.stdout, outputs[name].stdout,
            "{name}: cold and warm differ"
        );
    }
    let config = wh.join("seatcount.toml");
    let toml = fs::read_to_string(&config).expect("config");
    fs::write(
        &config,
        format!("{toml}[identifiers]\ncase = \"insensitive\"\n"),
    )
    .expect("config");
    show("report history, new config", &report("history"));
    fs::write(&config, &toml).expect("config");
    let adhoc = measure(&mut seatcount(&[
        "sql",
        "--format",
        "csv",
        "SELECT * FROM usage",
    ]));
    show("sql SELECT * FROM usage", &adhoc);

    // 5. The peer: DuckDB over the raw files, every month and the latest month.
    if !peer {
        return;
    }
    let script = manifest.join("benches/peer/duckdb_usage.py");
    let glob = format!("{}/*.parquet", raw.display());
    // The second peer: DuckDB over its own database file, loaded once from the raw files, the
    // way seatcount ingests them once.
    let db = dir.join(format!("duckdb-{events}.duckdb"));
    let _ = fs::remove_file(&db);
    let loaded = measure(
        Command::new("python3")
            .arg(&script)
            .arg("--load")
            .arg(&glob)
            .arg(&db),
    );
    println!(
        "DuckDB load {:>7.1} s  ({:.1} s loading)  peak RSS {:>7.0} MiB  {:.0} MiB on disk",
        loaded.wall.as_secs_f64(),
        peer_seconds(&loaded.stdout),
        mib(loaded.peak_rss_kib),
        fs::metadata(&db).map_or(0, |m| m.len()) as f64 / (1024.0 * 1024.0)
    );
    for (label, ours, month, source) in [
        ("history, raw files", "history", None, "raw"),
        ("usage, raw files", "usage", Some(latest.as_str()), "raw"),
        ("history, DuckDB table", "history", None, "db"),
        ("usage, DuckDB table", "usage", Some(latest.as_str()), "db"),
    ] {
        let mut cmd = Command::new("python3");
        cmd.arg(&script);
        match source {
            "raw" => cmd.arg(&glob),
            _ => cmd.arg("--db").arg(&db),
        };
        cmd.arg(&entitlements);
        if let Some(m) = month {
            cmd.arg(m);
        }
        let theirs = measure(&mut cmd);
        let cold = if ours == "usage" {
            &cold_usage
        } else {
            &cold_history
        };
        let ours = &outputs[ours];
        let equal = usage_rows(&theirs.stdout) == usage_rows(&ours.stdout);
        let duck_query = peer_seconds(&theirs.stdout);
        let theirs_s = theirs.wall.as_secs_f64();
        println!(
            "peer {label:<22} seatcount warm {:>6.2} s, cold {:>6.2} s  DuckDB {:>6.2} s (query {:>6.2} s, peak RSS {:>6.0} MiB)  ratio warm {:>5.2}x, cold {:>5.2}x  numbers {}",
            ours.wall.as_secs_f64(),
            cold.wall.as_secs_f64(),
            theirs_s,
            duck_query,
            mib(theirs.peak_rss_kib),
            theirs_s / ours.wall.as_secs_f64(),
            theirs_s / cold.wall.as_secs_f64(),
            if equal { "equal" } else { "DIFFER" }
        );
        if !equal {
            eprintln!("seatcount:\n{}\nDuckDB:\n{}", ours.stdout, theirs.stdout);
            std::process::exit(1);
        }
    }
}

/// Bytes under `dir`, recursively.
fn walk_size(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        walk_size(&path)
                    } else {
                        e.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
