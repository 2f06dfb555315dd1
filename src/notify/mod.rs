//! Notifications to internal services and the e-mail digest for people.
//!
//! Events are derived purely from what the mirror held and the writes decided (`event`),
//! routed to the targets that subscribe to them (`Routes`), and queued in the store's outbox
//! in the transaction of the change itself (`store::Mirror::write_notifying`): no change is
//! ever committed without its notifications. A deliverer per target (`delivery`) sends them,
//! signed per Standard Webhooks (`signature`), at least once, in order per record, with
//! growing pauses (`retry`) for 24 hours, then keeps them dead for redelivery. The digest
//! (`digest`) mails people a summary on a schedule.

pub mod crash;
pub mod delivery;
pub mod digest;
pub mod event;
pub mod retry;
pub mod service;
pub mod signature;
pub mod wire;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use tokio::sync::Notify;

pub use event::{derive, owners_left, Event, EventKind};
pub use service::{attach, Notifications};

use crate::config;
use crate::store::Notice;

/// The outbox queue the digest reads its owner changes from (not a valid target name).
pub const DIGEST_QUEUE: &str = "@digest";

/// Who wants which events: one route per target (and one for the digest).
#[derive(Debug, Clone)]
pub struct Route {
    pub name: Arc<str>,
    pub events: Vec<EventKind>,
    /// Object type names (`owners` for `owner.archived`); `None`: all.
    pub types: Option<Vec<String>>,
}

impl Route {
    fn wants(&self, event: &Event) -> bool {
        let object_type = event.object_type().map_or("owners", |kind| kind.name());
        self.events.contains(&event.kind())
            && self
                .types
                .as_ref()
                .is_none_or(|types| types.iter().any(|t| t == object_type))
    }
}

/// A histogram per target, created on first use.
pub type PerTarget = Family<Vec<(&'static str, String)>, Histogram, fn() -> Histogram>;

/// The routes of a config, with a wake-up per route for its deliverer.
pub struct Notifier {
    pub routes: Vec<Route>,
    live: Vec<Arc<Live>>,
    /// Time from queued to delivered, per target (`/metrics`).
    pub delivery_seconds: PerTarget,
}

/// What a route's deliverer shares with the rest of the daemon.
pub struct Live {
    /// Notified after notifications for this route were queued.
    pub wake: Notify,
    /// Set when dead notifications were moved back: the deliverer reads from the start again.
    pub rescan: AtomicBool,
    /// Since when the target fails (epoch ms; 0: it does not).
    pub failing_since_ms: AtomicI64,
    /// From queued to delivered (`/metrics`).
    pub delivery_seconds: Histogram,
}

impl Live {
    fn new(delivery_seconds: Histogram) -> Live {
        Live {
            wake: Notify::new(),
            rescan: AtomicBool::new(false),
            failing_since_ms: AtomicI64::new(0),
            delivery_seconds,
        }
    }
}

fn delivery_histogram() -> Histogram {
    // 1 ms .. ~9 min; a day of retries lands in +Inf.
    Histogram::new(exponential_buckets(0.001, 2.0, 20))
}

impl Notifier {
    /// The routes `[notify]` configures; `None` when it configures none.
    pub fn from_config(notify: &config::Notify) -> Option<Notifier> {
        let mut routes: Vec<Route> = notify
            .targets
            .iter()
            .map(|target| Route {
                name: Arc::from(target.name.as_str()),
                events: target
                    .events
                    .iter()
                    .filter_map(|name| EventKind::parse(name))
                    .collect(),
                types: target.types.clone(),
            })
            .collect();
        if notify.email.is_some() {
            routes.push(Route {
                name: Arc::from(DIGEST_QUEUE),
                events: vec![EventKind::OwnerChanged],
                types: None,
            });
        }
        if routes.is_empty() {
            return None;
        }
        let delivery_seconds: PerTarget = Family::new_with_constructor(delivery_histogram);
        let live = routes
            .iter()
            .map(|route| {
                let labels = vec![("target", route.name.to_string())];
                Arc::new(Live::new(delivery_seconds.get_or_create(&labels).clone()))
            })
            .collect();
        Some(Notifier {
            routes,
            live,
            delivery_seconds,
        })
    }

    /// The notices of `events` (in portal `portal`, observed at `at_ms`) for the routes that
    /// want them; events nobody wants give none.
    pub fn notices(&self, portal: i64, at_ms: i64, events: &[Event]) -> Vec<Notice> {
        events
            .iter()
            .filter_map(|event| {
                let targets: Vec<Arc<str>> = self
                    .routes
                    .iter()
                    .filter(|route| route.wants(event))
                    .map(|route| route.name.clone())
                    .collect();
                let at_ms = match event {
                    Event::MatchFirst { matched_at_ms, .. } => *matched_at_ms,
                    _ => at_ms,
                };
                (!targets.is_empty()).then(|| Notice {
                    targets,
                    event: event.kind().as_str(),
                    subject: event.subject(),
                    body: wire::body(event, portal, at_ms),
                })
            })
            .collect()
    }

    /// Whether any route wants events of `kind` (else they need not be derived).
    pub fn wants(&self, kind: EventKind) -> bool {
        self.routes.iter().any(|route| route.events.contains(&kind))
    }

    /// Wakes the deliverers of the routes `notices` go to.
    pub fn wake(&self, notices: &[Notice]) {
        for (route, live) in self.routes.iter().zip(&self.live) {
            if notices
                .iter()
                .any(|notice| notice.targets.contains(&route.name))
            {
                live.wake.notify_one();
            }
        }
    }

    /// Wakes every deliverer (first matches were written behind the lookups).
    pub fn wake_all(&self) {
        for live in &self.live {
            live.wake.notify_one();
        }
    }

    /// The shared state of the route named `name`.
    pub fn live(&self, name: &str) -> Option<Arc<Live>> {
        self.routes
            .iter()
            .position(|route| &*route.name == name)
            .map(|at| self.live[at].clone())
    }

    /// Makes the deliverer of `name` read its queue from the start (after a redelivery).
    pub fn rescan(&self, name: &str) {
        if let Some(live) = self.live(name) {
            live.rescan.store(true, Ordering::Release);
            live.wake.notify_one();
        }
    }

    /// The `(name, high water)` of every route, for `store::Outbox::configure`.
    pub fn queues(&self, high_water: u64) -> Vec<(String, u64)> {
        self.routes
            .iter()
            .map(|route| (route.name.to_string(), high_water))
            .collect()
    }

    /// What builds the notice of a first match, for `store::Outbox::set_first_match`
    /// (`None` when nobody wants `match.first`).
    pub fn first_match_notice(self: &Arc<Self>) -> Option<crate::store::FirstMatchNotice> {
        if !self.wants(EventKind::MatchFirst) {
            return None;
        }
        let routes = Arc::downgrade(self);
        Some(Arc::new(move |portal, kind, id, matched_at_ms| {
            let notifier = routes.upgrade()?;
            let event = Event::MatchFirst {
                kind,
                id,
                matched_at_ms,
            };
            notifier
                .notices(portal, matched_at_ms, &[event])
                .into_iter()
                .next()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::ObjectType;

    fn notifier(text: &str) -> Notifier {
        let notify: config::Notify = toml::from_str(text).unwrap();
        Notifier::from_config(&notify).unwrap()
    }

    #[test]
    fn routes_filter_by_event_and_type() {
        let notifier = notifier(
            r#"
[[targets]]
name = "all"
url = "https://a.example/"
secret = "env:X"
[[targets]]
name = "owners-of-companies"
url = "https://b.example/"
secret = "env:X"
events = ["owner.changed", "owner.archived"]
types = ["companies", "owners"]
"#,
        );
        let targets = |event: Event| -> Vec<String> {
            let notices = notifier.notices(1, 0, &[event]);
            notices
                .first()
                .map(|notice| notice.targets.iter().map(|t| t.to_string()).collect())
                .unwrap_or_default()
        };
        let changed = |kind| Event::OwnerChanged {
            kind,
            id: 1,
            before: None,
            after: None,
        };
        assert_eq!(
            targets(changed(ObjectType::Companies)),
            ["all", "owners-of-companies"]
        );
        assert_eq!(targets(changed(ObjectType::Contacts)), ["all"]);
        let left = Event::OwnerArchived {
            id: 1,
            records: Default::default(),
        };
        assert_eq!(targets(left), ["all", "owners-of-companies"]);
        let merged = Event::RecordMerged {
            kind: ObjectType::Companies,
            id: 1,
            into: 2,
        };
        assert_eq!(targets(merged), ["all"]);
        assert!(notifier.wants(EventKind::MatchFirst));
    }

    #[test]
    fn no_targets_and_no_email_is_no_notifier() {
        assert!(Notifier::from_config(&config::Notify::default()).is_none());
    }
}
