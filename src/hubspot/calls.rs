//! Per-endpoint, per-status counts of HubSpot API answers, for the daemon's metrics. The
//! endpoint is the call's label ("list contacts"), which never carries ids or tokens.

use std::collections::BTreeMap;

use parking_lot::Mutex;

use super::client::Client;

/// How many answers one endpoint got with one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallCount {
    pub endpoint: String,
    pub status: u16,
    pub count: u64,
}

/// The client's answer counts; bounded by labels × statuses seen.
#[derive(Debug, Default)]
pub(crate) struct CallCounts {
    counts: Mutex<BTreeMap<(String, u16), u64>>,
}

impl CallCounts {
    pub(crate) fn record(&self, endpoint: &str, status: u16) {
        let mut counts = self.counts.lock();
        match counts.get_mut(&(endpoint.to_owned(), status)) {
            Some(count) => *count += 1,
            None => {
                counts.insert((endpoint.to_owned(), status), 1);
            }
        }
    }
}

impl CallCounts {
    /// Every (endpoint, status) answered so far, in order.
    pub(crate) fn snapshot(&self) -> Vec<CallCount> {
        self.counts
            .lock()
            .iter()
            .map(|((endpoint, status), count)| CallCount {
                endpoint: endpoint.clone(),
                status: *status,
                count: *count,
            })
            .collect()
    }
}

impl Client {
    /// Every (endpoint, status) answered so far, in order.
    pub fn calls(&self) -> Vec<CallCount> {
        self.inner.calls.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_endpoint_and_status() {
        let counts = CallCounts::default();
        counts.record("list contacts", 200);
        counts.record("list contacts", 200);
        counts.record("list contacts", 429);
        counts.record("list owners", 200);
        let seen: Vec<_> = counts
            .counts
            .lock()
            .iter()
            .map(|((endpoint, status), count)| (endpoint.clone(), *status, *count))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("list contacts".into(), 200, 2),
                ("list contacts".into(), 429, 1),
                ("list owners".into(), 200, 1),
            ]
        );
    }
}
