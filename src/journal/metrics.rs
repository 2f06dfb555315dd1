//! The Webhooks Journal's series on `/metrics`: events stored, gaps, damaged files, retries,
//! the cursor's age, journal calls and file downloads, and which source delivered each change
//! first (webhooks or the journal).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Journal;
use crate::sync::arrivals::Arrivals;
use crate::webhook::event::Source;

type Labels = Vec<(&'static str, String)>;

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// The journal's series of every portal, labelled by it (`Series::add` each, then
/// `register`); the journal's requests are the deployment's (one app-level client).
#[derive(Default)]
pub struct Series {
    /// The monitors' counters by name, with their help.
    counters: BTreeMap<&'static str, (&'static str, Family<Labels, Counter>)>,
    cursor_age: Family<Labels, FloatGauge>,
    first: Family<Labels, Counter>,
    repeated: Family<Labels, Counter>,
}

impl Series {
    /// `portal`'s reader (counters count since the daemon started) and, with its sync
    /// running, which source delivered its changes first.
    pub fn add(&mut self, journal: &Journal, portal: i64, arrivals: Option<&Arrivals>) {
        let monitor = journal.monitor(portal);
        let label = vec![("portal", portal.to_string())];
        for (name, help, value) in [
            (
                "journal_events_stored",
                "Events the Webhooks Journal added to the inbox",
                &monitor.events_stored,
            ),
            (
                "journal_events_duplicate",
                "Journal events the inbox already held when they arrived (a file read again)",
                &monitor.events_duplicate,
            ),
            (
                "journal_gaps",
                "Gaps in the Webhooks Journal (expired or too old cursor, damaged file), each reconciled",
                &monitor.gaps,
            ),
            (
                "journal_bad_files",
                "Journal files skipped after staying damaged (their changes reconciled)",
                &monitor.bad_files,
            ),
            (
                "journal_url_retries",
                "Journal files not downloaded (URL expired, download failed) and read again",
                &monitor.url_retries,
            ),
            (
                "journal_damaged_reads",
                "Journal files that came back damaged (truncated, not JSON) and were read again",
                &monitor.damaged_reads,
            ),
            (
                "journal_rate_limited",
                "Journal calls answered 429",
                &monitor.rate_limited,
            ),
            (
                "journal_failures",
                "Journal reads that failed",
                &monitor.failures,
            ),
        ] {
            let (_, family) = self.counters.entry(name).or_insert((help, Family::default()));
            family
                .get_or_create(&label)
                .inc_by(value.load(Ordering::Relaxed));
        }
        if let Some(age) = monitor.cursor_age_secs(crate::time::now_ms()) {
            self.cursor_age.get_or_create(&label).set(age);
        }
        if let Some(arrivals) = arrivals {
            for source in Source::ALL {
                let labels = vec![
                    ("portal", portal.to_string()),
                    ("source", source.as_str().to_owned()),
                ];
                self.first
                    .get_or_create(&labels)
                    .inc_by(arrivals.first(source));
                self.repeated
                    .get_or_create(&labels)
                    .inc_by(arrivals.repeated(source));
            }
        }
    }

    pub fn register(self, registry: &mut Registry, journal: &Journal) {
        for (name, (help, family)) in self.counters {
            registry.register(name, help, family);
        }
        registry.register(
            "journal_cursor_age_seconds",
            "Now minus the time until which the inbox holds every journal event",
            self.cursor_age,
        );
        registry.register(
            "journal_requests",
            "Webhooks Journal answers (API calls and file downloads), by endpoint and status",
            requests(journal),
        );
        registry.register(
            "changes_first_delivered",
            "Changes applied, by the source that delivered them first",
            self.first,
        );
        registry.register(
            "changes_delivered_again",
            "Changes dropped as already delivered by a source, by that later source",
            self.repeated,
        );
    }
}

/// The journal client's answers, API calls and downloads.
fn requests(journal: &Journal) -> Family<Labels, Counter> {
    let calls = Family::<Labels, Counter>::default();
    for (kind, counts) in [
        ("api", journal.client.calls()),
        ("download", journal.client.downloads()),
    ] {
        for call in counts {
            calls
                .get_or_create(&vec![
                    ("kind", kind.to_owned()),
                    ("endpoint", call.endpoint),
                    ("status", call.status.to_string()),
                ])
                .inc_by(call.count);
        }
    }
    calls
}
