//! The REPL through a pseudo-terminal (rexpect): multi-line input, an error then a good
//! query, `\d`, completion, Ctrl-C cancelling a statement, history, and quitting.
//!
//! Like a person, the tests wait for each answer and the next prompt before typing on:
//! input typed ahead of the prompt may be dropped when the terminal changes mode.

use rexpect::session::{PtySession, spawn_command};

use crate::common::Fixture;

const TIMEOUT_MS: u64 = 60_000;
const PROMPT: &str = "seatcount> ";

fn start(fx: &Fixture, history: &std::path::Path, args: &[&str]) -> PtySession {
    let mut cmd = fx.std_cmd();
    cmd.args(args)
        .env("SEATCOUNT_HISTORY", history)
        .env("TERM", "xterm");
    let mut p = spawn_command(cmd, Some(TIMEOUT_MS)).expect("spawn the REPL");
    p.exp_string("\\? for help").expect("banner");
    p.exp_string(PROMPT).expect("first prompt");
    p
}

/// Types `line`, waits for each of `answers` in order, then for the next prompt.
///
/// The terminal echoes `line` and redraws it, prompt and all, as it is typed, so an answer that
/// the echo could contain would match before the statement ran, and the next line would be
/// typed while it runs. So every answer must be text only the output has: a table cell with its
/// padding, a CSV line with its line ends. (The terminal's bytes are read one per character, so
/// the table's border characters cannot be matched.)
fn say(p: &mut PtySession, line: &str, answers: &[&str]) {
    for answer in answers {
        assert!(
            !line.contains(answer) && !answer.chars().all(|c| c.is_ascii_digit()),
            "{answer:?} could match the echo of {line:?}"
        );
    }
    p.send_line(line).unwrap();
    for answer in answers {
        p.exp_string(answer)
            .unwrap_or_else(|e| panic!("{line:?}: no {answer:?}: {e}"));
    }
    p.exp_string(PROMPT).unwrap();
}

#[test]
fn an_analyst_session() {
    let fx = Fixture::sample();
    let history = fx.dir.path().join("history");
    let mut p = start(&fx, &history, &["repl"]);

    // A statement over two lines runs once it ends with `;`.
    p.send_line("SELECT 40 +").unwrap();
    say(&mut p, "2 AS answer;", &[" answer ", "     42 "]);

    // An error is one line, and the REPL goes on. The sample stores 30 events: 31 rows
    // read, one re-sent event_id dropped.
    say(&mut p, "SELEC nonsense;", &["error:"]);
    // The REPL only reads: a COPY is refused before it writes anything.
    let copy_target =
        std::env::temp_dir().join(format!("seatcount-repl-{}.csv", std::process::id()));
    say(
        &mut p,
        &format!("COPY (SELECT 1) TO '{}';", copy_target.display()),
        &["error: COPY is refused"],
    );
    assert!(!copy_target.exists());
    say(
        &mut p,
        "SELECT count(*) AS stored FROM events;",
        &["     30 "],
    );

    // \d lists tables and views.
    say(&mut p, "\\d", &["counted_events", "view"]);

    // Tab completes a view name after \d: "\d usa<Tab>" becomes "\d usage", whose
    // columns include over_usage.
    p.send("\\d usa").unwrap();
    p.send("\t").unwrap();
    say(&mut p, "", &[" over_usage "]);

    // Tab completes report names after \r, columns and functions in SQL.
    p.send("\\r hyg").unwrap();
    p.send("\t").unwrap();
    say(&mut p, " 2026-10", &["case_or_space_variants"]);
    p.send("SELECT over_us").unwrap();
    p.send("\t").unwrap();
    say(&mut p, " FROM usage LIMIT 1;", &[" over_usage "]);
    p.send("SELECT arrow_typeof(hash_identi").unwrap();
    p.send("\t").unwrap();
    say(&mut p, "('x')) AS stored;", &["FixedSizeBinary(16)"]);

    // Canned reports, the default month, formats and timing.
    say(
        &mut p,
        "\\month 2026-09",
        &["reports now default to 2026-09"],
    );
    say(&mut p, "\\format csv", &["output format is csv"]);
    say(&mut p, "\\r usage", &["2026-09,multi_app_internal"]);
    // A what-if beside the report: lowercasing merges two of the Multi-App users.
    say(
        &mut p,
        "\\r usage 2026-10 identifiers.case=insensitive",
        &[
            "what_if_consumption",
            "2026-10,multi_app_internal,,4,5,4,-1,1,0,-1",
        ],
    );
    // What changed since a close: the sample's October was never closed.
    say(
        &mut p,
        "\\r changes 2026-10",
        &["error: 2026-10 is not closed"],
    );
    say(&mut p, "\\timing on", &["timing is on"]);
    say(&mut p, "SELECT 1 AS one;", &["one\r\n1\r\n", "Time: "]);

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
    p.exp_string(PROMPT).unwrap();

    say(
        &mut p,
        "SELECT value FROM range(10) ORDER BY value;",
        &["(10 rows; the first 3 shown"],
    );
    say(&mut p, "\\limit off", &["results are not cut"]);
    say(&mut p, "\\format csv", &["output format is csv"]);
    say(
        &mut p,
        "SELECT count(*) AS n FROM range(5);",
        &["n\r\n5\r\n"],
    );
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn no_command_on_a_terminal_starts_the_repl() {
    let fx = Fixture::sample();
    let history = fx.dir.path().join("history");
    let mut p = start(&fx, &history, &[]);
    say(&mut p, "\\reports", &["named-users"]);
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn a_session_sees_an_ingest_made_while_it_is_open() {
    // The REPL keeps its session, and its derived tables remember each month's file; a
    // commit in between changes the month's events, so the next query lists the month's
    // files again and derives it again. The newcomer logs in to `field`, whose pack takes
    // them: its line goes from 3 to 4 users.
    let fx = Fixture::sample();
    let history = fx.dir.path().join("history");
    let mut p = start(&fx, &history, &["repl"]);
    say(&mut p, "\\format csv", &["output format is csv"]);
    let pack = "SELECT consumption AS seen FROM usage WHERE month = '2026-10' AND subscription_type = 'single_app_internal';";
    let stored = "SELECT count(*) AS stored FROM events WHERE month = '2026-10';";
    say(&mut p, pack, &["seen\r\n3\r\n"]);
    say(&mut p, stored, &["stored\r\n13\r\n"]);
    let late = fx.late_october_newcomer();
    fx.ingest(&[&late]);
    say(&mut p, pack, &["seen\r\n4\r\n"]);
    say(&mut p, stored, &["stored\r\n14\r\n"]);
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn a_session_follows_the_bill_edited_while_it_is_open() {
    // The field pack is bought for 3 users; someone raises it to 5 in another window. The
    // open session bills by the file as it is now, says it reloaded it, and refuses to run on
    // a file it cannot read rather than on the one it read before.
    let fx = Fixture::sample();
    let history = fx.dir.path().join("history");
    let mut p = start(&fx, &history, &["repl"]);
    say(&mut p, "\\format csv", &["output format is csv"]);
    let pack = "SELECT entitlement AS bought FROM usage WHERE month = '2026-10' AND subscription_type = 'single_app_internal';";
    say(&mut p, pack, &["bought\r\n3\r\n"]);
    let path = fx.wh().join("entitlements.csv");
    let bill = std::fs::read_to_string(&path).unwrap();
    let raised = bill.replace(
        "sub-field-pack,single_app_internal,3,",
        "sub-field-pack,single_app_internal,5,",
    );
    assert_ne!(raised, bill);
    std::fs::write(
        &path,
        bill.replace(
            "sub-field-pack,single_app_internal,3,",
            "sub-field-pack,single_app_internal,many,",
        ),
    )
    .unwrap();
    say(&mut p, pack, &["error: ", "entitlements.csv"]);
    std::fs::write(&path, &raised).unwrap();
    say(
        &mut p,
        pack,
        &["the session reloaded them", "bought\r\n5\r\n"],
    );
    say(
        &mut p,
        "\\r usage 2026-10",
        &["2026-10,single_app_internal,field,5,3,0"],
    );
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}
