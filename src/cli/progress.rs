//! Progress bars on standard error, drawn only when it is a terminal: a scheduler's log
//! gets the summary line and warnings, nothing else.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ingest::Observer;

/// A bar over input bytes that also shows rows, rows per second and the time left.
pub struct RowProgress {
    bar: Option<ProgressBar>,
    started: Instant,
    verb: &'static str,
}

impl RowProgress {
    /// A bar for work described by `verb` ("reading", "generating"); hidden unless standard
    /// error is a terminal.
    pub fn new(verb: &'static str) -> RowProgress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {percent:>3}% {msg} ETA {eta}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(verb);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        RowProgress {
            bar,
            started: Instant::now(),
            verb,
        }
    }

    /// Sets the amount of work, in the same unit as [`RowProgress::update`]'s `done`.
    pub fn set_total(&mut self, total: u64) {
        self.started = Instant::now();
        if let Some(bar) = &self.bar {
            bar.set_length(total.max(1));
        }
    }

    /// `done` units of work and `rows` rows so far.
    pub fn update(&mut self, done: u64, rows: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{} rows, {} rows/s",
                thousands(rows),
                thousands((rows as f64 / secs) as u64)
            ));
        }
    }

    /// Clears the bar and leaves one line saying what was done.
    pub fn finish(&mut self, what: &str) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            eprintln!(
                "{} {what} in {:.1} s",
                self.verb,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

impl Observer for RowProgress {
    fn warn(&mut self, message: String) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("warning: {message}")),
            None => eprintln!("warning: {message}"),
        }
    }

    fn start(&mut self, total_bytes: u64) {
        self.set_total(total_bytes);
    }

    fn progress(&mut self, bytes: u64, rows: u64) {
        self.update(bytes, rows);
    }

    fn finish_reading(&mut self) {
        if let Some(bar) = &self.bar {
            bar.set_prefix("committing");
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    HumanCount(n).to_string()
}
