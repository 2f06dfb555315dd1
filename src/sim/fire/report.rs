//! What a load run measured: throughput, latency percentiles (from a histogram, so memory
//! stays bounded however long the run) and status counts.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
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
    latencies: Latencies,
}

impl Report {
    pub fn record(&mut self, status: u16, latency: Duration, events: usize, duplicate: bool) {
        self.requests += 1;
        self.events += events as u64;
        if duplicate {
            self.duplicate_events += events as u64;
        }
        *self.statuses.entry(status).or_default() += 1;
        self.latencies.record(latency);
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
        self.latencies.add(&other.latencies);
        self.last_error = other.last_error.or(self.last_error.take());
    }

    pub fn finish(&mut self, elapsed: Duration) {
        self.elapsed_secs = elapsed.as_secs_f64();
        let secs = self.elapsed_secs.max(1e-9);
        self.events_per_sec = self.events as f64 / secs;
        self.requests_per_sec = self.requests as f64 / secs;
        let at = |quantile| self.latencies.quantile_ms(quantile);
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

/// Latencies in microseconds, to three significant digits: exact below 2.048 ms, within
/// 1/1024 above, in a few hundred KiB whatever the number of requests.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        // Invariant: 3 significant digits are within hdrhistogram's 0..=5.
        Latencies(Histogram::new(3).expect("a valid histogram precision"))
    }
}

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        // The histogram grows as needed, up to u64::MAX: recording cannot fail.
        let _ = self.0.record(micros);
    }

    pub fn add(&mut self, other: &Latencies) {
        // Both auto-resize with the same precision: adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The latency `quantile` (0..=1) of the requests stay within, in ms (0 when none was
    /// recorded): the value of rank ceil(quantile × count), as a sorted list would give it.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.value_at_quantile(quantile) as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The old way: sort every latency and take rank ceil(q × n).
    fn sorted_quantile_ms(sorted_us: &[u64], quantile: f64) -> f64 {
        let rank = ((sorted_us.len() as f64 * quantile).ceil() as usize).clamp(1, sorted_us.len());
        sorted_us[rank - 1] as f64 / 1000.0
    }

    #[test]
    fn quantiles_match_a_sorted_list_within_the_histograms_precision() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for (count, max_us) in [(1, 5_000), (10, 1_000), (999, 2_000), (50_000, 3_000_000)] {
            let mut latencies = Latencies::default();
            let mut sorted: Vec<u64> = (0..count)
                .map(|_| {
                    // Mostly fast, a long tail: as real latencies are.
                    let micros = if rng.gen_bool(0.95) {
                        rng.gen_range(50..2_000)
                    } else {
                        rng.gen_range(0..max_us)
                    };
                    latencies.record(Duration::from_micros(micros));
                    micros
                })
                .collect();
            sorted.sort_unstable();
            assert_eq!(latencies.count(), count);
            for quantile in [0.5, 0.9, 0.99, 1.0] {
                let exact = sorted_quantile_ms(&sorted, quantile);
                let histogram = latencies.quantile_ms(quantile);
                if exact < 2.048 {
                    assert_eq!(histogram, exact, "q{quantile} of {count}");
                } else {
                    let error = (histogram - exact) / exact;
                    assert!(
                        (0.0..=1.0 / 1024.0).contains(&error),
                        "q{quantile} of {count}: {histogram} vs {exact}"
                    );
                }
            }
        }
        assert_eq!(Latencies::default().quantile_ms(0.99), 0.0);
    }

    #[test]
    fn merged_reports_add_their_latencies() {
        let mut first = Report::default();
        first.record(204, Duration::from_micros(1_000), 10, false);
        let mut second = Report::default();
        second.record(204, Duration::from_micros(1_800), 10, true);
        second.record(503, Duration::from_micros(500), 10, false);
        first.merge(second);
        first.finish(Duration::from_secs(1));
        assert_eq!(
            (first.requests, first.events, first.duplicate_events),
            (3, 30, 10)
        );
        assert_eq!((first.p50_ms, first.max_ms), (1.0, 1.8));
    }
}
