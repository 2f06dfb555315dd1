//! The export CLI's progress bar: one for every job of a file, on stderr when it is a
//! terminal (nothing otherwise), with log lines and the failed records printed above it.

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
    /// Records of the jobs already finished.
    finished: AtomicU64,
}

impl Progress {
    pub fn new(total: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        // Invariant: the template is valid.
        let style = ProgressStyle::with_template(
            "[{bar:30}] {pos}/{len} records{msg} ({elapsed}, about {eta} left)",
        )
        .expect("a valid progress template")
        .progress_chars("##-");
        bar.set_style(style);
        super::logging::above(Some(bar.clone()));
        Progress {
            bar,
            finished: AtomicU64::new(0),
        }
    }

    /// `done` records of the current job have a result.
    pub fn show(&self, done: u64) {
        self.bar
            .set_position(self.finished.load(Ordering::Relaxed) + done);
    }

    /// The current job is over; it held `records` records.
    pub fn advance(&self, records: u64) {
        let finished = self.finished.fetch_add(records, Ordering::Relaxed) + records;
        self.bar.set_position(finished);
    }

    pub fn set_job(&self, number: u64) {
        self.bar.set_message(format!(" in job {number}"));
    }

    /// Prints `text` on stdout above the bar.
    pub fn print(&self, text: &str) {
        if !text.is_empty() {
            self.bar.suspend(|| print!("{text}"));
        }
    }

    /// Prints a line on stderr above the bar.
    pub fn note(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    pub fn finish(&self) {
        // Invariant: the template is valid.
        let style = ProgressStyle::with_template("[{bar:30}] {pos}/{len} records in {elapsed}")
            .expect("a valid progress template")
            .progress_chars("##-");
        self.bar.set_style(style);
        self.bar.finish();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        super::logging::above(None);
    }
}
