//! Prometheus metrics: counters and histograms the request path bumps as it goes, and values
//! read from the store, the sync layer and the HubSpot client when `/metrics` is scraped.

use std::time::Duration;

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::api::State;
use crate::store::AppendOutcome;

/// Every metric name starts with this.
pub const PREFIX: &str = "hubspot_gateway";

/// `Content-Type` of the exposition: OpenMetrics text, which Prometheus reads natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(&'static str, String)>;

/// The metrics the daemon updates as it works; one set per daemon (in [`State`]).
pub struct Metrics {
    registry: Registry,
    events_received: Counter,
    events_duplicate: Counter,
    rejected: Family<Labels, Counter>,
    ack_seconds: Histogram,
    lookup_seconds: Histogram,
    connections_refused: Counter,
    /// Webhook events per minute over the last hour: [stored, duplicates] (the console's chart).
    pub webhook_minutes: crate::per_minute::PerMinute,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        let events_received = Counter::default();
        registry.register(
            "webhook_events_received",
            "Webhook events in acknowledged batches, duplicates included",
            events_received.clone(),
        );
        let events_duplicate = Counter::default();
        registry.register(
            "webhook_events_duplicate",
            "Webhook events acknowledged and dropped as redeliveries",
            events_duplicate.clone(),
        );
        let rejected = Family::<Labels, Counter>::default();
        registry.register(
            "webhook_requests_rejected",
            "Webhook requests not acknowledged, by error code",
            rejected.clone(),
        );
        // 0.5 ms .. ~4 s: a group commit is an fdatasync.
        let ack_seconds = Histogram::new(exponential_buckets(0.000_5, 2.0, 14));
        registry.register(
            "webhook_ack_seconds",
            "Time from a webhook request's arrival to its answer",
            ack_seconds.clone(),
        );
        // 10 us .. ~0.3 s: lookups read the embedded store.
        let lookup_seconds = Histogram::new(exponential_buckets(0.000_01, 2.0, 16));
        registry.register(
            "lookup_seconds",
            "Time to answer one lookup (company, contact, indicator) request",
            lookup_seconds.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "Connections closed unanswered: their client address had max_connections_per_ip open",
            connections_refused.clone(),
        );
        Metrics {
            registry,
            events_received,
            events_duplicate,
            rejected,
            ack_seconds,
            lookup_seconds,
            connections_refused,
            webhook_minutes: Default::default(),
        }
    }
}

impl Metrics {
    /// A webhook batch was acknowledged after `elapsed`.
    pub fn webhook_acknowledged(&self, outcome: &AppendOutcome, elapsed: Duration) {
        let duplicates = u64::from(outcome.duplicates);
        self.events_received
            .inc_by(u64::from(outcome.stored) + duplicates);
        self.events_duplicate.inc_by(duplicates);
        self.ack_seconds.observe(elapsed.as_secs_f64());
        self.webhook_minutes.add(
            crate::time::now_ms(),
            [u64::from(outcome.stored), duplicates],
        );
    }

    /// A webhook request was answered with the error `code` after `elapsed`.
    pub fn webhook_rejected(&self, code: &str, elapsed: Duration) {
        self.rejected
            .get_or_create(&vec![("reason", code.to_owned())])
            .inc();
        self.ack_seconds.observe(elapsed.as_secs_f64());
    }

    /// One lookup request took `elapsed` (the lookup endpoints call this).
    pub fn observe_lookup(&self, elapsed: Duration) {
        self.lookup_seconds.observe(elapsed.as_secs_f64());
    }

    /// A connection was closed because its client address had too many open.
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// The text exposition of every metric, the scrape-time ones read from `state` now.
    pub fn render(&self, state: &State) -> String {
        let scraped = scrape(state);
        let mut text = String::new();
        // Invariant: writing to a String cannot fail.
        encode_registry(&mut text, &self.registry).expect("encode to String");
        encode_registry(&mut text, &scraped).expect("encode to String");
        encode_eof(&mut text).expect("encode to String");
        text
    }
}

/// A registry of the values read at scrape time: inbox, mirror, sync, HubSpot client and
/// connection. What is about a portal carries a `portal` label (its id; empty while the
/// connection names none), one series per portal the deployment mirrors.
fn scrape(state: &State) -> Registry {
    let mut registry = Registry::with_prefix(PREFIX);
    registry.register(
        "ready",
        "1 while the daemon is ready (store open, listeners bound, not draining)",
        ConstGauge::new(i64::from(state.is_ready())),
    );
    registry.register(
        "request_body_memory_bytes",
        "Bytes of request bodies held in memory now (at most server.max_body_memory_bytes)",
        ConstGauge::new(saturate(state.bodies.memory.held_bytes() as u64)),
    );
    registry.register(
        "inbox_depth",
        "Webhook events stored and not yet applied to the mirror",
        ConstGauge::new(saturate(state.store.inbox().pending())),
    );
    let records = Family::<Labels, Gauge>::default();
    let mut hubspot = HubSpotSeries::default();
    let mut connection = ConnectionSeries::default();
    let mut journal = crate::journal::metrics::Series::default();
    for site in state.sites.all() {
        let hub_id = site.hub_id();
        let portal = hub_id.map_or(String::new(), |id| id.to_string());
        let syncer = site.syncer();
        if let Some(hub_id) = hub_id {
            for kind in &state.objects {
                // A store read error leaves the series out rather than failing the scrape.
                if let Ok(count) = state.store.mirror().count(hub_id, *kind) {
                    records
                        .get_or_create(&labels(&portal, [("type", kind.name().to_owned())]))
                        .set(saturate(count));
                }
            }
            if let Some(reader) = &state.journal {
                let arrivals = syncer.as_deref().map(|syncer| &syncer.arrivals);
                journal.add(reader, hub_id, arrivals);
            }
        }
        if let Some(syncer) = &syncer {
            hubspot.add(&portal, syncer);
        }
        connection.add(&portal, &site.connections);
    }
    registry.register("mirror_records", "Records in the mirror, by type", records);
    hubspot.register(&mut registry);
    if let Some(reader) = &state.journal {
        journal.register(&mut registry, reader);
    }
    connection.register(&mut registry);
    if let Some(notifications) = &state.notifications {
        notification_metrics(&mut registry, notifications);
    }
    registry
}

/// `portal`'s label, then `more`.
fn labels<const N: usize>(portal: &str, more: [(&'static str, String); N]) -> Labels {
    let mut labels = vec![("portal", portal.to_owned())];
    labels.extend(more);
    labels
}

type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// Each portal's sync lag and HubSpot client: calls, retries, its rate-limit budget.
#[derive(Default)]
struct HubSpotSeries {
    lag: Family<Labels, FloatGauge>,
    requests: Family<Labels, Counter>,
    attempts: Family<Labels, Counter>,
    retries: Family<Labels, Counter>,
    rate_limited: Family<Labels, Counter>,
    token_refreshes: Family<Labels, Counter>,
    failures: Family<Labels, Counter>,
    budget: Family<Labels, FloatGauge>,
    remaining: Family<Labels, Gauge>,
    daily_remaining: Family<Labels, Gauge>,
}

impl HubSpotSeries {
    fn add(&mut self, portal: &str, syncer: &crate::sync::Syncer) {
        use std::sync::atomic::Ordering;
        let only = labels(portal, []);
        let newest_ms = syncer.counters.newest_change_ms.load(Ordering::Relaxed);
        if newest_ms > 0 {
            let lag_ms = crate::time::now_ms().saturating_sub(saturate(newest_ms));
            self.lag
                .get_or_create(&only)
                .set(lag_ms.max(0) as f64 / 1000.0);
        }
        let client = &syncer.client;
        for call in client.calls() {
            let each = labels(
                portal,
                [
                    ("endpoint", call.endpoint),
                    ("status", call.status.to_string()),
                ],
            );
            self.requests.get_or_create(&each).inc_by(call.count);
        }
        let stats = client.stats();
        for (family, value) in [
            (&self.attempts, stats.requests),
            (&self.retries, stats.retries),
            (&self.rate_limited, stats.rate_limited),
            (&self.token_refreshes, stats.token_refreshes),
            (&self.failures, stats.failures),
        ] {
            family.get_or_create(&only).inc_by(value);
        }
        let budget = client.budget();
        self.budget.get_or_create(&only).set(budget.tokens_now);
        if let Some(remaining) = budget.remaining {
            self.remaining
                .get_or_create(&only)
                .set(i64::from(remaining));
        }
        if let Some(remaining) = budget.daily_remaining {
            self.daily_remaining
                .get_or_create(&only)
                .set(i64::from(remaining));
        }
    }

    fn register(self, registry: &mut Registry) {
        registry.register(
            "sync_lag_seconds",
            "Now minus the newest HubSpot modification time applied to the mirror",
            self.lag,
        );
        registry.register(
            "hubspot_requests",
            "HubSpot API responses, by endpoint and HTTP status",
            self.requests,
        );
        for (name, help, family) in [
            (
                "hubspot_attempts",
                "HubSpot API requests sent, retries included",
                self.attempts,
            ),
            ("hubspot_retries", "HubSpot API calls retried", self.retries),
            (
                "hubspot_rate_limited",
                "HubSpot 429 answers",
                self.rate_limited,
            ),
            (
                "hubspot_token_refreshes",
                "OAuth access token refreshes",
                self.token_refreshes,
            ),
            (
                "hubspot_failures",
                "HubSpot API calls that failed after retries",
                self.failures,
            ),
        ] {
            registry.register(name, help, family);
        }
        registry.register(
            "hubspot_rate_limit_budget",
            "Requests the client may send now without waiting (its pacing bucket)",
            self.budget,
        );
        registry.register(
            "hubspot_rate_limit_remaining",
            "X-HubSpot-RateLimit-Remaining of the latest answer that carried it",
            self.remaining,
        );
        registry.register(
            "hubspot_rate_limit_daily_remaining",
            "X-HubSpot-RateLimit-Daily-Remaining of the latest answer that carried it",
            self.daily_remaining,
        );
    }
}

fn saturate(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Each portal's service connection: one series per state (1 for the current one), and the
/// refresh tokens HubSpot refused since start.
#[derive(Default)]
struct ConnectionSeries {
    states: Family<Labels, Gauge>,
    refusals: Family<Labels, Counter>,
}

impl ConnectionSeries {
    fn add(&mut self, portal: &str, connections: &crate::connection::Connections) {
        use crate::connection::State as Connection;
        let current = connections.status().state;
        for each in [
            Connection::Connected,
            Connection::NotConnected,
            Connection::NeedsReconnect,
        ] {
            self.states
                .get_or_create(&labels(portal, [("state", each.as_str().to_owned())]))
                .set(i64::from(each == current));
        }
        self.refusals
            .get_or_create(&labels(portal, []))
            .inc_by(connections.refusals());
    }

    fn register(self, registry: &mut Registry) {
        registry.register(
            "connection_state",
            "1 for the state of the gateway's HubSpot connection",
            self.states,
        );
        registry.register(
            "connection_refusals",
            "Refresh tokens HubSpot refused since start (each needs a new Connect)",
            self.refusals,
        );
    }
}

/// Per notification target: the outbox's counts and the time from queued to delivered.
fn notification_metrics(registry: &mut Registry, notifications: &crate::notify::Notifications) {
    let gauges = [
        (
            "notify_pending",
            "Notifications waiting for delivery, per target",
        ),
        (
            "notify_dead",
            "Notifications dead (failed for notify.dead_after_secs), per target",
        ),
    ];
    let counters = [
        (
            "notify_delivered",
            "Notifications delivered (answered 2xx), per target",
        ),
        (
            "notify_failed",
            "Failed delivery attempts (not 2xx, or no answer in time), per target",
        ),
        (
            "notify_dropped",
            "Notifications not queued: the target's outbox was above notify.high_water",
        ),
    ];
    // The store unreadable (PostgreSQL away): no per-target series in this scrape.
    let status = notifications.status().unwrap_or_default();
    for (name, help) in gauges {
        let family = Family::<Labels, Gauge>::default();
        for target in &status {
            let value = match name {
                "notify_pending" => target.queue.pending,
                _ => target.queue.dead,
            };
            family
                .get_or_create(&vec![("target", target.name.clone())])
                .set(saturate(value));
        }
        registry.register(name, help, family);
    }
    for (name, help) in counters {
        let family = Family::<Labels, Counter>::default();
        for target in &status {
            let value = match name {
                "notify_delivered" => target.queue.delivered,
                "notify_failed" => target.queue.failed,
                _ => target.queue.dropped,
            };
            family
                .get_or_create(&vec![("target", target.name.clone())])
                .inc_by(value);
        }
        registry.register(name, help, family);
    }
    registry.register(
        "notify_delivery_seconds",
        "Time from a notification being queued (with its mirror change) to its delivery",
        notifications.notifier.delivery_seconds.clone(),
    );
}
