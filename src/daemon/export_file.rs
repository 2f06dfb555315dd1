//! `hubspot-gateway export FILE`: the file is read once to check every record, then again
//! as a stream cut into jobs of at most `export.{type}.max_records` records (and, through a
//! daemon, bodies within `server.max_body_bytes`), run one after the other; one progress bar
//! and one summary cover them all.

use std::collections::VecDeque;
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;

use super::commands::running_daemon;
use super::export_daemon::{Daemon, Envelope};
use super::export_direct::Direct;
use super::progress::Progress;
use crate::config::Loaded;
use crate::export::file::{self, Input, Summary};
use crate::export::Settings;
use crate::object::ObjectType;

/// A job's end: its results (the contract's `Result`s), and why it failed as a whole if it did.
pub struct Finished {
    pub results: Vec<Value>,
    pub failed: Option<String>,
}

impl Finished {
    pub fn done(results: Vec<Value>) -> Finished {
        Finished {
            results,
            failed: None,
        }
    }
}

/// What a job was answered.
pub enum Sent {
    Finished(Finished),
    /// Refused as too large (the daemon's limits are not the config's): nothing was stored.
    TooLarge(String),
}

enum Target {
    Daemon(Daemon),
    Direct(Direct),
}

impl Target {
    async fn run(&self, job: &[Input], progress: &Progress) -> anyhow::Result<Sent> {
        match self {
            Target::Daemon(daemon) => daemon.run(job, progress).await,
            Target::Direct(direct) => Ok(Sent::Finished(direct.run(job, progress).await?)),
        }
    }
}

/// Exports `path` through the running daemon if one answers, else on the store; the summary
/// goes to stdout, and the result is an error when a record failed or was not sent.
pub async fn run(
    loaded: &Loaded,
    kind: ObjectType,
    user_email: &str,
    dry_run: bool,
    path: &Path,
    portal: Option<i64>,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        matches!(kind, ObjectType::Companies | ObjectType::Contacts),
        "--type must be companies or contacts"
    );
    let in_file = || path.display().to_string();
    let open = || -> anyhow::Result<file::Records<std::fs::File>> {
        let file =
            std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        file::records(file).with_context(in_file)
    };
    let envelope = Envelope::new(kind, user_email, dry_run);
    let daemon = running_daemon(loaded).await;
    let body = daemon
        .is_some()
        .then_some((loaded.config.server.max_body_bytes, envelope.empty_bytes()));
    // Every record is checked before the first job is sent.
    let total = scan(open()?, body).with_context(in_file)?;
    let (target, max_records) = match daemon {
        Some(daemon) => {
            let max_records = Settings::from_config(&loaded.config.export)
                .of(kind)
                .max_records;
            (
                Target::Daemon(Daemon::new(loaded, daemon, envelope, portal)?),
                max_records,
            )
        }
        None => {
            let direct = Direct::connect(loaded, kind, user_email, dry_run, portal).await?;
            let max_records = direct.max_records()?;
            (Target::Direct(direct), max_records)
        }
    };
    let limits = Limits {
        max_records: usize::try_from(max_records).unwrap_or(usize::MAX).max(1),
        body,
    };
    let summary = run_jobs(&target, Jobs::new(open()?, limits), total, path).await?;
    print!("{}", summary.table());
    anyhow::ensure!(
        summary.not_sent == 0,
        "{} record(s) failed, {} not sent",
        summary.failed,
        summary.not_sent
    );
    anyhow::ensure!(summary.succeeded(), "{} record(s) failed", summary.failed);
    Ok(())
}

async fn run_jobs<R: std::io::Read>(
    target: &Target,
    mut jobs: Jobs<R>,
    total: u64,
    path: &Path,
) -> anyhow::Result<Summary> {
    let progress = Progress::new(total);
    let mut summary = Summary::default();
    loop {
        let job = jobs.next().with_context(|| path.display().to_string())?;
        if job.is_empty() {
            break;
        }
        if job.len() as u64 != total {
            progress.set_job(summary.jobs + 1);
        }
        let finished = match target.run(&job, &progress).await? {
            Sent::Finished(finished) => finished,
            Sent::TooLarge(why) => {
                let first = &job[0];
                anyhow::ensure!(
                    job.len() > 1,
                    "{}: line {}: the daemon refuses a job of this record alone: {why}",
                    path.display(),
                    first.line
                );
                progress.note(&format!(
                    "the daemon refused a job of {} records ({why}): sending smaller jobs",
                    job.len()
                ));
                jobs.refused(job);
                continue;
            }
        };
        progress.print(&summary.add_job(&finished.results));
        if let Some(why) = finished.failed {
            let not_sent = total.saturating_sub(summary.records());
            summary.stop(format!("job {} failed ({why})", summary.jobs), not_sent);
            break;
        }
    }
    progress.finish();
    Ok(summary)
}

/// Reads the whole file: every record parses and, through a daemon, fits in a request body
/// on its own. Returns how many records it holds.
fn scan<R: std::io::Read>(
    records: file::Records<R>,
    body: Option<(usize, usize)>,
) -> anyhow::Result<u64> {
    let mut count = 0;
    for input in records {
        let input = input?;
        if let Some((max_body_bytes, empty_bytes)) = body {
            let bytes = empty_bytes + Envelope::record_bytes(&input);
            anyhow::ensure!(
                bytes <= max_body_bytes,
                "line {}: this record alone makes a request of {bytes} bytes, more than \
                 server.max_body_bytes ({max_body_bytes})",
                input.line
            );
        }
        count += 1;
    }
    Ok(count)
}

/// What one job may hold: records, and (through a daemon) the request body's bytes
/// `(max_body_bytes, bytes of the body without records)`.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_records: usize,
    body: Option<(usize, usize)>,
}

/// The file's records cut into jobs within the limits; a refused job's records come first.
struct Jobs<R: std::io::Read> {
    records: file::Records<R>,
    waiting: VecDeque<Input>,
    limits: Limits,
}

impl<R: std::io::Read> Jobs<R> {
    fn new(records: file::Records<R>, limits: Limits) -> Self {
        Jobs {
            records,
            waiting: VecDeque::new(),
            limits,
        }
    }

    /// The next job; empty at the end of the file.
    fn next(&mut self) -> Result<Vec<Input>, file::Error> {
        let mut job = Vec::new();
        let mut bytes = self.limits.body.map_or(0, |(_, empty)| empty);
        while job.len() < self.limits.max_records {
            let input = match self.waiting.pop_front() {
                Some(input) => input,
                None => match self.records.next() {
                    Some(input) => input?,
                    None => break,
                },
            };
            if let Some((max_body_bytes, _)) = self.limits.body {
                let comma = usize::from(!job.is_empty());
                let size = Envelope::record_bytes(&input) + comma;
                if !job.is_empty() && bytes + size > max_body_bytes {
                    self.waiting.push_front(input);
                    break;
                }
                bytes += size;
            }
            job.push(input);
        }
        Ok(job)
    }

    /// The daemon refused `job` as too large: its records go again, in jobs half its size.
    fn refused(&mut self, job: Vec<Input>) {
        self.limits.max_records = (job.len() / 2).max(1);
        for input in job.into_iter().rev() {
            self.waiting.push_front(input);
        }
    }
}

#[cfg(test)]
mod tests;
