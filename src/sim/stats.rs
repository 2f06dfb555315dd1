//! Counters of what the simulator served and delivered, for tests and the demo.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use serde::Serialize;

use super::JournalStats;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WebhookStats {
    /// Events accepted into the outbox (after drop/duplicate chaos).
    pub events_queued: u64,
    /// Events delivered with a 2xx.
    pub events_delivered: u64,
    pub requests: u64,
    pub failed_attempts: u64,
    /// Batches abandoned after the last attempt.
    pub batches_given_up: u64,
    pub events_dropped: u64,
    pub pending: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Calls per endpoint, e.g. `"POST /crm/v3/objects/{type}/search"`.
    pub calls: BTreeMap<String, u64>,
    /// Responses per status code.
    pub statuses: BTreeMap<u16, u64>,
    /// 429 answers (all policies).
    pub rate_limited: u64,
    pub webhooks: WebhookStats,
    /// Filled in by `Control::stats`; journal calls are in `calls` like any other.
    pub journal: JournalStats,
}

#[derive(Default)]
pub struct Counters {
    inner: Mutex<Stats>,
}

impl Counters {
    pub fn record(&self, endpoint: &str, status: u16) {
        let mut stats = self.inner.lock();
        *stats.calls.entry(endpoint.to_string()).or_default() += 1;
        *stats.statuses.entry(status).or_default() += 1;
        if status == 429 {
            stats.rate_limited += 1;
        }
    }

    pub fn webhooks(&self, update: impl FnOnce(&mut WebhookStats)) {
        update(&mut self.inner.lock().webhooks);
    }

    pub fn snapshot(&self) -> Stats {
        self.inner.lock().clone()
    }
}
