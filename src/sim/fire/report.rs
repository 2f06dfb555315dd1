//! What a load run measured: throughput, latency percentiles and status counts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub events: u64,
    pub duplicate_events: u64,
    pub requests: u64,
    pub transport_errors: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub elapsed_secs: f64,
    pub events_per_sec: f64,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub last_error: Option<String>,
    #[serde(skip)]
    latencies_us: Vec<u32>,
}

impl Report {
    pub fn record(&mut self, status: u16, latency: Duration, events: usize, duplicate: bool) {
        self.requests += 1;
        self.events += events as u64;
        if duplicate {
            self.duplicate_events += events as u64;
        }
        *self.statuses.entry(status).or_default() += 1;
        self.latencies_us
            .push(latency.as_micros().min(u32::MAX as u128) as u32);
    }

    pub fn transport_error(&mut self, error: &anyhow::Error) {
        self.transport_errors += 1;
        self.last_error = Some(format!("{error:#}"));
    }

    pub fn merge(&mut self, other: Report) {
        self.events += other.events;
        self.duplicate_events += other.duplicate_events;
        self.requests += other.requests;
        self.transport_errors += other.transport_errors;
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.latencies_us.extend(other.latencies_us);
        self.last_error = other.last_error.or(self.last_error.take());
    }

    pub fn finish(&mut self, elapsed: Duration) {
        self.elapsed_secs = elapsed.as_secs_f64();
        let secs = self.elapsed_secs.max(1e-9);
        self.events_per_sec = self.events as f64 / secs;
        self.requests_per_sec = self.requests as f64 / secs;
        self.latencies_us.sort_unstable();
        let at = |quantile: f64| -> f64 {
            if self.latencies_us.is_empty() {
                return 0.0;
            }
            let index = ((self.latencies_us.len() as f64 * quantile).ceil() as usize)
                .clamp(1, self.latencies_us.len())
                - 1;
            self.latencies_us[index] as f64 / 1000.0
        };
        (self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms) =
            (at(0.50), at(0.90), at(0.99), at(1.0));
    }

    /// Succeeded at all: some request answered 2xx and no connection failed.
    pub fn ok(&self) -> bool {
        self.transport_errors == 0
            && self
                .statuses
                .iter()
                .any(|(status, _)| (200..300).contains(status))
    }

    pub fn human(&self) -> String {
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, count)| format!("{status}: {count}"))
            .collect();
        let mut text = format!(
            "events: {} ({} redelivered) in {} requests, {:.2} s\nthroughput: {:.0} events/s, {:.0} requests/s\nlatency ms: p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2}\nstatuses: {}\ntransport errors: {}",
            self.events, self.duplicate_events, self.requests, self.elapsed_secs, self.events_per_sec, self.requests_per_sec,
            self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms, statuses.join(", "), self.transport_errors
        );
        if let Some(error) = &self.last_error {
            text.push_str(&format!(" (last: {error})"));
        }
        text
    }
}
