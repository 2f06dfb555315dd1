//! A job failing with transient errors: paused with a growing delay, and failed with
//! `retries_exhausted` once it has made no progress for `GIVE_UP_AFTER` (counted across
//! restarts through the job's header).

use std::time::Duration;

use super::{Error, Writer};
use crate::export::job::{self, Problem};
use crate::export::Waiting;
use crate::time::now_ms;

/// The pause after a job's first transient failure; it doubles up to `MAX_PAUSE`.
const FIRST_PAUSE: Duration = Duration::from_secs(5);
const MAX_PAUSE: Duration = Duration::from_secs(300);

/// A job failing with transient errors: since when (wall clock, as kept in its header), how
/// many of its records had a result then, and the pause before its next attempt.
pub(super) struct Stall {
    job: u64,
    since_ms: i64,
    done: usize,
    pause: Duration,
}

impl Writer {
    /// After a transient failure: the pause before the next attempt, or, when the job has
    /// made no progress for `give_up_after`, fails it (`retries_exhausted`) and goes on.
    pub(super) fn after_failure(&self, stall: &mut Option<Stall>, error: &Error) -> Duration {
        let (store, portal) = (self.store(), self.portal());
        let Ok(Some(id)) = job::next_unfinished(store, portal) else {
            tracing::warn!(%error, "export paused; it resumes shortly");
            return FIRST_PAUSE;
        };
        let done = job::rows(store, portal, id).map_or(0, |rows| {
            rows.iter().filter(|row| row.outcome.is_some()).count()
        });
        let now = now_ms();
        let current = match stall.take() {
            Some(stall) if stall.job == id && stall.done == done => stall,
            _ => Stall {
                job: id,
                since_ms: self.stalled_since(id, done, now),
                done,
                pause: FIRST_PAUSE / 2,
            },
        };
        let stalled = Duration::from_millis(now.saturating_sub(current.since_ms).max(0) as u64);
        if stalled >= self.give_up_after {
            let problem = Problem {
                code: "retries_exhausted".into(),
                message: format!(
                    "no record was written for {} s; last error: {error}",
                    stalled.as_secs()
                ),
                property: None,
            };
            tracing::error!(export = id, %error, "export failed: HubSpot kept failing");
            match job::fail(store, portal, id, problem) {
                Ok(()) => {
                    self.exporter.set_waiting(None);
                    return Duration::ZERO;
                }
                Err(error) => tracing::warn!(%error, "cannot record the failed export"),
            }
        }
        let pause = (current.pause * 2).min(MAX_PAUSE);
        tracing::warn!(export = id, %error, retry_in_secs = pause.as_secs(), "export paused; it resumes shortly");
        self.exporter.set_waiting(Some(Waiting {
            code: "retrying".into(),
            message: format!("{error}; next attempt in {} s", pause.as_secs()),
            job: Some(id),
        }));
        *stall = Some(Stall { pause, ..current });
        pause
    }

    /// Since when job `id` has been stalled at `done` results: what its header says when it
    /// says so for the same `done` (the stall began before a restart), else `now`, which
    /// is then written there. A store error only costs the clock its memory.
    fn stalled_since(&self, id: u64, done: usize, now: i64) -> i64 {
        let (store, portal) = (self.store(), self.portal());
        let Ok(Some(mut header)) = job::header(store, portal, id) else {
            return now;
        };
        if let Some(stalled) = header.stalled.filter(|stalled| stalled.done == done) {
            return stalled.since_ms;
        }
        header.stalled = Some(job::Stalled {
            since_ms: now,
            done,
        });
        if let Err(error) = job::save_header(store, portal, id, &header) {
            tracing::warn!(export = id, %error, "cannot record since when the export stalls");
        }
        now
    }
}
