//! The REPL through a pseudo-terminal (rexpect): multi-line input, an error then a good
//! query, `\d`, completion, Ctrl-C cancelling a statement, history, and quitting.

use rexpect::session::{PtySession, spawn_command};

use crate::common::Fixture;

const TIMEOUT_MS: u64 = 60_000;

fn start(fx: &Fixture, history: &std::path::Path, args: &[&str]) -> PtySession {
    let mut cmd = fx.std_cmd();
    cmd.args(args)
        .env("SEATCOUNT_HISTORY", history)
        .env("TERM", "xterm");
    let mut p = spawn_command(cmd, Some(TIMEOUT_MS)).expect("spawn the REPL");
    p.exp_string("\\? for help").expect("banner");
    p
}

#[test]
fn an_analyst_session() {
    let fx = Fixture::sample();
    let history = fx.dir.path().join("history");
    let mut p = start(&fx, &history, &["repl"]);

    // A statement over two lines runs once it ends with `;`.
    p.send_line("SELECT 40 +").unwrap();
    p.send_line("2 AS answer;").unwrap();
    p.exp_string("answer").unwrap();
    p.exp_string("42").unwrap();

    // An error is one line, and the REPL goes on.
    p.send_line("SELEC nonsense;").unwrap();
    p.exp_string("error:").unwrap();
    p.send_line("SELECT count(*) AS stored FROM events;")
        .unwrap();
    p.exp_string("29").unwrap();

    // \d lists tables and views; \d NAME describes one.
    p.send_line("\\d").unwrap();
    p.exp_string("counted_events").unwrap();
    p.exp_string("view").unwrap();

    // Tab completes a view name after \d: "\d usa<Tab>" becomes "\d usage".
    p.send("\\d usa").unwrap();
    p.send("\t").unwrap();
    p.send_line("").unwrap();
    p.exp_string("over_usage").unwrap();

    // Canned reports, the default month, formats and timing.
    p.send_line("\\month 2026-09").unwrap();
    p.exp_string("reports now default to 2026-09").unwrap();
    p.send_line("\\format csv").unwrap();
    p.send_line("\\r usage").unwrap();
    p.exp_string("2026-09,multi_app_internal").unwrap();
    p.send_line("\\timing on").unwrap();
    p.send_line("SELECT 1 AS one;").unwrap();
    p.exp_string("Time: ").unwrap();

    // Ctrl-D leaves.
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();

    let saved = std::fs::read_to_string(&history).expect("history file written");
    assert!(
        saved.contains("SELECT count(*) AS stored FROM events;"),
        "{saved}"
    );
}

#[test]
fn ctrl_c_cancels_the_running_statement_and_the_row_limit_cuts_results() {
    let fx = Fixture::sample();
    let history = fx.dir.path().join("history");
    let mut p = start(&fx, &history, &["repl", "--max-rows", "3"]);

    // Ten billion rows: this runs for minutes unless cancelled.
    p.send_line("SELECT sum(a.value * b.value) FROM range(100000) a, range(100000) b;")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    p.send_control('c').unwrap();
    p.exp_string("cancelled").unwrap();

    p.send_line("SELECT value FROM range(10) ORDER BY value;")
        .unwrap();
    p.exp_string("(10 rows; the first 3 shown").unwrap();
    p.send_line("\\limit off").unwrap();
    p.send_line("SELECT count(*) AS n FROM range(5);").unwrap();
    p.exp_string("5").unwrap();

    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn no_command_on_a_terminal_starts_the_repl() {
    let fx = Fixture::sample();
    let history = fx.dir.path().join("history");
    let mut p = start(&fx, &history, &[]);
    p.send_line("\\reports").unwrap();
    p.exp_string("named-users").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}
