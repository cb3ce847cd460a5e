//! The reports on a Ballista cluster started here: a scheduler and two executors on
//! localhost, on ports free at run time, every one stopped when its test ends, passed or
//! failed (docs/cluster.md). Each report through the cluster is compared byte for byte with
//! the same report from the embedded engine.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Fixture, TEST_KEY, bare_std, generate};

/// A scheduler and its executors, killed on drop.
struct LocalCluster {
    scheduler: String,
    processes: Vec<(String, Child)>,
    logs: PathBuf,
    _dir: tempfile::TempDir,
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl LocalCluster {
    /// A scheduler and `executors` executors of two cores each, none given the key.
    fn start(executors: usize) -> LocalCluster {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        let port = free_port();
        let scheduler = format!("127.0.0.1:{port}");
        let mut cluster = LocalCluster {
            scheduler: scheduler.clone(),
            processes: Vec::new(),
            logs,
            _dir: dir,
        };
        cluster.spawn(
            "scheduler",
            &["scheduler", "--bind", &scheduler, "--executor-timeout", "4"],
        );
        wait_for_port(port, "the scheduler");
        for n in 0..executors {
            cluster.start_executor(n);
        }
        cluster
    }

    /// Starts `executor-<n>` and waits until the scheduler has registered it. Ports are picked
    /// free but may be taken by another test before the executor binds them: an executor that
    /// exits before registering is started again on other ports.
    fn start_executor(&mut self, n: usize) {
        let name = format!("executor-{n}");
        let work = self._dir.path().join(format!("work-{n}"));
        for _attempt in 0..5 {
            let (flight, grpc) = (free_port(), free_port());
            self.processes.retain(|(p, _)| *p != name);
            self.spawn(
                &name,
                &[
                    "executor",
                    "--scheduler",
                    &self.scheduler.clone(),
                    "--port",
                    &flight.to_string(),
                    "--grpc-port",
                    &grpc.to_string(),
                    "--cores",
                    "2",
                    "--heartbeat",
                    "1",
                    "--work-dir",
                    work.to_str().unwrap(),
                ],
            );
            let start = Instant::now();
            loop {
                if self.log(&name).contains("registration succeed") {
                    return;
                }
                let (_, child) = self.processes.last_mut().unwrap();
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "{name} did not register"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!(
            "{name} exited five times before registering:\n{}",
            self.log(&name)
        );
    }

    fn spawn(&mut self, name: &str, args: &[&str]) {
        let log = std::fs::File::create(self.logs.join(format!("{name}.log"))).unwrap();
        let child = bare_std()
            .args(args)
            .env("RUST_LOG", "debug")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.processes.push((name.to_string(), child));
    }

    /// Kills the process called `name`.
    fn kill(&mut self, name: &str) {
        let (_, child) = self.processes.iter_mut().find(|(n, _)| n == name).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// What the process called `name` has logged so far.
    fn log(&self, name: &str) -> String {
        let path = self.logs.join(format!("{name}.log"));
        String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
    }

    /// How much each process has logged so far, for [`LocalCluster::since`].
    fn mark(&self) -> Vec<(String, usize)> {
        self.processes
            .iter()
            .map(|(name, _)| (name.clone(), self.log(name).len()))
            .collect()
    }

    /// What the processes logged after `mark`.
    fn since(&self, mark: &[(String, usize)]) -> String {
        mark.iter()
            .map(|(name, len)| self.log(name)[*len..].to_string())
            .collect()
    }

    /// Everything the cluster's processes logged.
    fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(&self.logs).unwrap() {
            all.push_str(&String::from_utf8_lossy(
                &std::fs::read(entry.unwrap().path()).unwrap(),
            ));
        }
        all
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.processes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `args` run on `fx` locally and through `cluster`: both outputs, asserting both succeed.
fn both(fx: &Fixture, cluster: &LocalCluster, args: &[&str]) -> (String, String) {
    let local = fx.csv(args);
    (local, on_cluster(fx, cluster, args))
}

/// `args` run on `fx` through `cluster`, asserting success.
fn on_cluster(fx: &Fixture, cluster: &LocalCluster, args: &[&str]) -> String {
    crate::common::csv(remote(fx, cluster), args)
}

/// `seatcount --cluster <scheduler>` on `fx`'s warehouse.
fn remote(fx: &Fixture, cluster: &LocalCluster) -> assert_cmd::Command {
    let mut cmd = fx.cmd();
    cmd.args(["--cluster", &cluster.scheduler]);
    cmd
}

/// Asserts that `out` is a failure with exit `code`, one line on standard error containing
/// `says`, and no rows.
fn one_sentence(out: &std::process::Output, code: i32, says: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
    assert!(out.stdout.is_empty(), "a failed command wrote rows");
}

/// A generated portfolio of three months, ingested.
fn generated(fx: &Fixture, users: &str, events: &str) {
    let raw = fx.dir.path().join("raw");
    let out = generate(&[
        "--users",
        users,
        "--apps",
        "12",
        "--months",
        "3",
        "--events",
        events,
        "--start",
        "2026-01",
        "--out",
        raw.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fx.ingest(&[raw.as_path()]);
}

/// Every canned report, asked the same way each time.
fn report_args() -> Vec<Vec<String>> {
    seatcount::reports::all()
        .map(|r| {
            let mut args = vec!["report".to_string(), r.name.to_string()];
            if r.name == "subscriptions" {
                args.extend(["--today".to_string(), "2026-10-15".to_string()]);
            }
            args
        })
        .collect()
}

/// The sample runs locally first, so the cluster reads the months' derived files; the
/// generated portfolio runs on the cluster first, where no derived state is there yet.
#[test]
fn every_report_on_two_executors_equals_the_embedded_engine() {
    let cluster = LocalCluster::start(2);
    let sample = Fixture::sample();
    let portfolio = Fixture::new();
    generated(&portfolio, "400", "9000");
    portfolio.configure(
        "[classification]\ninternal_domains = [\"example.com\"]\n",
        &[
            "x,external,100,2026-01-01,,",
            "m,multi_app_internal,50,2026-01-01,,",
        ],
    );
    for (fx, last) in [(&sample, "2026-10"), (&portfolio, "2026-03")] {
        // Closed on the cluster, so that `changes` has a close to compare with.
        remote(fx, &cluster)
            .args(["close", last])
            .assert()
            .success();
        // Each saved run recomputed on the cluster gives the bytes it saved.
        for run in fx.csv(&["runs", "list"]).lines().skip(1) {
            let id = run.split(',').next().unwrap();
            remote(fx, &cluster)
                .args(["runs", "verify", id])
                .assert()
                .success();
        }
        for args in report_args() {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (local, remote) = if std::ptr::eq(fx, &sample) {
                both(fx, &cluster, &args)
            } else {
                let remote = on_cluster(fx, &cluster, &args);
                (fx.csv(&args), remote)
            };
            assert!(local.lines().count() > 1, "{args:?} gave no rows");
            assert_eq!(local, remote, "{args:?}");
        }
        let mark = cluster.mark();
        let (local, remote) = both(
            fx,
            &cluster,
            &["sql", "SELECT * FROM usage ORDER BY 1, 2, 3, 4"],
        );
        assert_eq!(local, remote, "SELECT * FROM usage");
        if std::ptr::eq(fx, &sample) {
            // Every month derived by the local runs: ad-hoc SQL reads the months' files.
            let log = cluster.since(&mark);
            for month in ["2026-09", "2026-10"] {
                assert!(
                    log.contains(&format!("derived/usage/month={month}/")),
                    "usage of {month} was not read from its derived file"
                );
            }
            assert!(!log.contains("events/month="), "the events were read");
        }
    }
    // Plans name their files without the leading slash.
    let derived = sample
        .wh()
        .join("_seatcount/derived")
        .canonicalize()
        .unwrap();
    assert!(
        cluster
            .logs()
            .contains(derived.to_str().unwrap().trim_start_matches('/')),
        "the executors read no derived file"
    );
}

#[test]
fn the_key_never_reaches_the_cluster() {
    let cluster = LocalCluster::start(1);
    let fx = Fixture::sample();
    // A constant is hashed here, before the plan leaves.
    let query = "SELECT hash_identifier('ann@example.com') AS h FROM events LIMIT 1";
    let (local, through_the_cluster) = both(&fx, &cluster, &["sql", query]);
    assert_eq!(local, through_the_cluster);
    // A column would have to be hashed there, where the key is not.
    let out = remote(&fx, &cluster)
        .args(["sql", "SELECT hash_identifier(app_id) FROM events"])
        .output()
        .unwrap();
    one_sentence(
        &out,
        1,
        "hash_identifier cannot run on a cluster's executor",
    );
    let logs = cluster.logs();
    assert!(
        logs.contains("hash_identifier"),
        "the plans were not logged"
    );
    assert!(
        !logs.to_lowercase().contains(TEST_KEY),
        "the key was logged"
    );
}

#[test]
fn the_repl_and_the_dashboard_run_on_the_cluster() {
    let cluster = LocalCluster::start(1);
    let fx = Fixture::sample();
    let page = |clustered: bool, name: &str| {
        let path = fx.dir.path().join(name);
        let mut cmd = match clustered {
            true => remote(&fx, &cluster),
            false => fx.cmd(),
        };
        cmd.args(["dashboard", "-o", path.to_str().unwrap()])
            .assert()
            .success();
        std::fs::read(path).unwrap()
    };
    assert!(page(true, "remote.html") == page(false, "local.html"));
    let repl = remote(&fx, &cluster)
        .arg("repl")
        .write_stdin("SELECT sum(consumption) AS seats FROM usage;\n\\q\n")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&repl.stdout);
    assert!(
        repl.status.success(),
        "{}",
        String::from_utf8_lossy(&repl.stderr)
    );
    let local = fx.value("SELECT sum(consumption) AS seats FROM usage");
    assert!(stdout.contains(&format!(" {local} │")), "{stdout}");
}

/// `history` on `fx` through `cluster`, once `executor` has taken a task of it and while it
/// still runs.
fn history_under_way(fx: &Fixture, cluster: &LocalCluster, executor: &str) -> Child {
    let mut run = fx
        .std_cmd()
        .args(["--cluster", &cluster.scheduler, "report", "history"])
        .args(["--format", "csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !cluster.log(executor).contains("Execute task") {
        if run.try_wait().unwrap().is_some() {
            // The report ended before any task ran: say why, not only that no task came.
            let out = run.wait_with_output().unwrap();
            panic!(
                "history ended before {executor} took a task: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{executor} got no task"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        run.try_wait().unwrap().is_none(),
        "history ended before {executor} took a task"
    );
    run
}

/// The scheduler stopped while `history` runs: one sentence naming the cluster, no rows.
#[test]
fn a_scheduler_gone_during_a_report_is_one_sentence() {
    let mut cluster = LocalCluster::start(1);
    let fx = Fixture::new();
    generated(&fx, "3000", "150000");
    let run = history_under_way(&fx, &cluster, "executor-0");
    cluster.kill("scheduler");
    let out = run.wait_with_output().unwrap();
    let says = format!(
        "the Ballista cluster at {} stopped answering",
        cluster.scheduler
    );
    one_sentence(&out, 1, &says);
}

#[test]
fn a_scheduler_that_does_not_answer_is_one_sentence() {
    let fx = Fixture::sample();
    let address = format!("127.0.0.1:{}", free_port());
    let out = fx
        .cmd()
        .args(["--cluster", &address, "report", "usage"])
        .output()
        .unwrap();
    one_sentence(
        &out,
        2,
        &format!("no Ballista scheduler answers at {address}"),
    );
    let out = fx
        .cmd()
        .args(["--cluster", &address, "verify"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--cluster is for"), "{stderr}");
}

/// One executor killed while `history` runs: the report completes on the other with the
/// embedded engine's numbers, or fails in one sentence; never other numbers.
#[test]
fn an_executor_killed_during_a_report_never_gives_other_numbers() {
    let mut cluster = LocalCluster::start(2);
    let fx = Fixture::new();
    generated(&fx, "3000", "150000");
    // Computed from the events on both sides: derived state would leave the cluster little to do.
    let mut reference = fx.cmd();
    reference.env("SEATCOUNT_DERIVED", "off");
    let local = crate::common::csv(reference, &["report", "history"]);
    let run = history_under_way(&fx, &cluster, "executor-1");
    cluster.kill("executor-1");
    let out = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        eprintln!("history completed on the other executor");
        assert_eq!(String::from_utf8_lossy(&out.stdout), local);
    } else {
        eprintln!("history failed: {stderr}");
        one_sentence(&out, 1, "");
    }
}

/// A report asked of a scheduler with no live executor is one sentence at once, before any
/// executor has registered and after the last one died; Ballista alone would queue it forever.
#[test]
fn a_cluster_without_executors_is_one_sentence() {
    let mut cluster = LocalCluster::start(0);
    let fx = Fixture::sample();
    let no_executor = |fx: &Fixture, cluster: &LocalCluster| {
        let out = remote(fx, cluster)
            .args(["report", "usage"])
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let says = format!(
            "the Ballista scheduler at {} has no live executor",
            cluster.scheduler
        );
        one_sentence(&out, 2, &says);
    };
    no_executor(&fx, &cluster);
    cluster.start_executor(0);
    let (local, remote_rows) = both(&fx, &cluster, &["report", "usage"]);
    assert_eq!(local, remote_rows);
    cluster.kill("executor-0");
    // The scheduler takes an executor for dead once it misses heartbeats for
    // `--executor-timeout` (4 s here).
    std::thread::sleep(Duration::from_secs(6));
    no_executor(&fx, &cluster);
}
