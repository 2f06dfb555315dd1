//! What the journal shows: [`Monitor`], the live state of the running consumer (last read,
//! errors, the file being retried, counters for the metrics), and [`body`], the `journal`
//! object of `GET /v1/status`, built from the store (so `hubspot-gateway status` shows it
//! without a daemon) plus the monitor when one runs.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::Mutex;
use serde_json::{json, Value};

use super::gaps::{self, WARN_AGE_MS};
use super::{record, Position};
use crate::hubspot::Error;
use crate::store::{self, AppendOutcome, Store};
use crate::sync::arrivals::Arrivals;
use crate::webhook::event::Source;

/// The running consumer's state; counters count since the daemon started.
#[derive(Default)]
pub struct Monitor {
    last_polled_at_ms: AtomicI64,
    covered_until_ms: AtomicI64,
    pub events_stored: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub gaps: AtomicU64,
    pub bad_files: AtomicU64,
    pub url_retries: AtomicU64,
    /// Reads of a file that came back damaged (retried, or finally skipped).
    pub damaged_reads: AtomicU64,
    pub rate_limited: AtomicU64,
    pub failures: AtomicU64,
    live: Mutex<Live>,
}

#[derive(Default)]
struct Live {
    error: Option<String>,
    /// The damaged file being read again: offset, reads, error.
    damaged: Option<(String, u32, String)>,
    age_warned: bool,
}

impl Monitor {
    /// The cursor as it stands; warns once when its age passes [`WARN_AGE_MS`].
    pub fn observe(&self, position: &Position, now_ms: i64) {
        let Some(covered) = position.covered_until_ms() else {
            return;
        };
        self.covered_until_ms.store(covered, Ordering::Relaxed);
        let age_ms = now_ms - covered;
        let mut live = self.live.lock();
        if age_ms > WARN_AGE_MS && !live.age_warned {
            live.age_warned = true;
            tracing::warn!(
                age_hours = age_ms / 3_600_000,
                "the Webhooks Journal's cursor is over two days old: past three days what \
                 follows it is lost (a gap, then a reconciliation)"
            );
        } else if age_ms <= WARN_AGE_MS {
            live.age_warned = false;
        }
    }

    pub fn polled(&self, at_ms: i64) {
        self.last_polled_at_ms.store(at_ms, Ordering::Relaxed);
    }

    pub fn reachable(&self) {
        if let Some(error) = self.live.lock().error.take() {
            tracing::info!(previous = %error, "the Webhooks Journal answers again");
        }
    }

    /// A read failed; logged when the error changes.
    pub fn failed(&self, error: &Error) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if let Error::RateLimited { .. } = error {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
        let text = error.to_string();
        let mut live = self.live.lock();
        if live.error.as_deref() != Some(text.as_str()) {
            if error.is_retryable() {
                tracing::warn!(error = %text, "reading the Webhooks Journal failed; retrying");
            } else {
                tracing::error!(error = %text, "HubSpot refuses the Webhooks Journal's calls; fix the app's credentials or scopes");
            }
            live.error = Some(text);
        }
    }

    pub fn stored(&self, outcome: &AppendOutcome) {
        self.events_stored
            .fetch_add(u64::from(outcome.stored), Ordering::Relaxed);
        self.events_duplicate
            .fetch_add(u64::from(outcome.duplicates), Ordering::Relaxed);
    }

    pub fn gap(&self) {
        self.gaps.fetch_add(1, Ordering::Relaxed);
    }

    pub fn bad_file(&self) {
        self.bad_files.fetch_add(1, Ordering::Relaxed);
    }

    pub fn url_retry(&self) {
        self.url_retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn damaged_file(&self, offset: &str, attempts: u32, error: &str) {
        self.damaged_reads.fetch_add(1, Ordering::Relaxed);
        self.live.lock().damaged = Some((offset.to_owned(), attempts, error.to_owned()));
    }

    pub fn clear_damaged(&self) {
        self.live.lock().damaged = None;
    }

    /// The cursor's age now, in seconds, as the running consumer last saw it.
    pub fn cursor_age_secs(&self, now_ms: i64) -> Option<f64> {
        let covered = self.covered_until_ms.load(Ordering::Relaxed);
        (covered > 0).then(|| (now_ms - covered).max(0) as f64 / 1000.0)
    }
}

/// The `journal` object of the status of `portal`'s mirror. `monitor` and `arrivals` when a
/// daemon runs the journal and sync.
pub fn body(
    enabled: bool,
    store: &Store,
    portal: Option<i64>,
    monitor: Option<&super::Monitor>,
    arrivals: Option<&Arrivals>,
) -> store::Result<Value> {
    let now = crate::time::now_ms();
    let mut body = json!({"enabled": enabled, "cursor_age_secs": null, "last_polled_at": null,
                          "events": 0, "gaps": 0, "last_gap_at": null});
    let Some(portal) = portal else {
        return Ok(body);
    };
    let cursor = store.journal().get(portal)?.unwrap_or_default();
    let position = Position::load(store, portal)?;
    let record = record::load(store, portal)?;
    let stored_age = gaps::age_ms(&position, now).map(|age| age as f64 / 1000.0);
    let age = monitor.and_then(|m| m.cursor_age_secs(now)).or(stored_age);
    let polled = monitor
        .map(|m| m.last_polled_at_ms.load(Ordering::Relaxed))
        .filter(|at| *at > 0)
        .or(position.caught_up_at_ms);
    body["cursor_age_secs"] = json!(age.map(|secs| (secs * 10.0).round() / 10.0));
    body["last_polled_at"] = json!(polled.map(crate::time::iso));
    body["events"] = json!(cursor.stored);
    body["duplicates"] = json!(cursor.duplicates);
    body["foreign_events"] = json!(position.foreign);
    body["skipped_events"] = json!(position.skipped);
    body["offset"] = json!(position.offset);
    body["gaps"] = json!(record.gaps);
    body["last_gap_at"] = json!(record.last_gap_at_ms.map(crate::time::iso));
    body["last_gap"] = json!(record.last_gap);
    body["reconcile_pending"] = match &record.reconcile {
        Some(pending) => {
            json!({"types": pending.types, "since": crate::time::iso(pending.since_ms)})
        }
        None => Value::Null,
    };
    body["bad_files"] = json!(record.bad_files);
    body["last_bad_file"] = match &record.last_bad_file {
        Some(bad) => {
            json!({"offset": bad.offset, "error": bad.error, "at": crate::time::iso(bad.at_ms)})
        }
        None => Value::Null,
    };
    body["subscriptions"] = json!(record
        .subscriptions
        .iter()
        .map(|sub| json!({"id": sub.id, "type": sub.kind, "object_type_id": sub.object_type_id, "actions": sub.actions}))
        .collect::<Vec<_>>());
    if age.is_some_and(|secs| secs * 1000.0 > WARN_AGE_MS as f64) {
        body["warning"] = json!("the cursor is over two days old: past three days what follows it is lost and reconciled");
    }
    if let Some(monitor) = monitor {
        let live = monitor.live.lock();
        body["last_error"] = json!(live.error);
        let count = |counter: &AtomicU64| json!(counter.load(Ordering::Relaxed));
        body["url_retries"] = count(&monitor.url_retries);
        body["damaged_reads"] = count(&monitor.damaged_reads);
        body["rate_limited"] = count(&monitor.rate_limited);
        body["failures"] = count(&monitor.failures);
        body["damaged_file"] = match &live.damaged {
            Some((offset, attempts, error)) => {
                json!({"offset": offset, "reads": attempts, "error": error})
            }
            None => Value::Null,
        };
    }
    if let Some(arrivals) = arrivals {
        let mut sources = serde_json::Map::new();
        for source in Source::ALL {
            sources.insert(
                source.as_str().into(),
                json!({"first": arrivals.first(source), "repeated": arrivals.repeated(source)}),
            );
        }
        body["sources"] = Value::Object(sources);
    }
    Ok(body)
}
