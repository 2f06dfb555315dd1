//! Notifications as the daemon runs them: the routes attached to the store (its outbox
//! queues and the first-match notice), the targets and the mailer, and what the API reports
//! and does (`GET /v1/notifications`, redelivery, the digest sent now).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::Serialize;

use super::crash::{self, Step};
use super::delivery::Target;
use super::digest::{self, Mailer};
use super::{Notifier, DIGEST_QUEUE};
use crate::config::Loaded;
use crate::object::ObjectType;
use crate::store::{self, QueueStatus, Store};
use crate::time::now_ms;

/// Builds the routes of `loaded`'s `[notify]`, declares their queues to the store's outbox
/// (deleting, with a log line, what targets no longer configured left) and what a first
/// match notifies. `None`: nothing is configured.
pub fn attach(loaded: &Loaded, store: &Store) -> store::Result<Option<Arc<Notifier>>> {
    let notify = &loaded.config.notify;
    let notifier = Notifier::from_config(notify).map(Arc::new);
    let queues = notifier
        .as_ref()
        .map(|notifier| notifier.queues(notify.high_water))
        .unwrap_or_default();
    configure(store, &queues)?;
    let first_match = notifier.as_ref().and_then(Notifier::first_match_notice);
    store.outbox().set_first_match(first_match);
    Ok(notifier)
}

/// Declares the targets' queues to the outbox; deleting what targets no longer configured
/// left (with a log line) is the leader's, so on PostgreSQL a follower only declares.
fn configure(store: &Store, queues: &[(String, u64)]) -> store::Result<()> {
    for (target, deleted) in store.outbox().configure(queues)? {
        tracing::warn!(
            target = %target,
            deleted,
            "deleted the notifications of a target no longer configured"
        );
    }
    Ok(())
}

/// The daemon's notifications: routes, targets, the mailer.
pub struct Notifications {
    pub notifier: Arc<Notifier>,
    pub targets: Vec<Target>,
    pub mailer: Option<Arc<Mailer>>,
    store: Store,
    /// The targets' queues with their high water, as declared to the outbox.
    queues: Vec<(String, u64)>,
}

/// One target as `GET /v1/notifications` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetStatus {
    pub name: String,
    /// Scheme, host, port and path (no query: it may hold a receiver's token).
    pub url: String,
    pub events: Vec<&'static str>,
    pub types: Option<Vec<String>>,
    #[serde(flatten)]
    pub queue: QueueStatus,
    /// Since when the target has been failing (epoch ms), while it is.
    pub failing_since_ms: Option<i64>,
}

impl Notifications {
    /// Configures the outbox again as the leader, when a lease begins: on PostgreSQL the
    /// daemon attached its routes before it led, so targets no longer configured are deleted
    /// only now.
    pub fn configure_leading(&self) -> store::Result<()> {
        configure(&self.store, &self.queues)
    }

    /// Attaches the routes (see [`attach`]) and prepares targets and mailer; `None` when
    /// `[notify]` configures nothing.
    pub fn start(
        loaded: &Loaded,
        store: &Store,
        objects: Vec<ObjectType>,
    ) -> store::Result<Option<Notifications>> {
        let Some(notifier) = attach(loaded, store)? else {
            return Ok(None);
        };
        let mailer = Mailer::from_config(loaded, store.clone(), objects).map(Arc::new);
        let queues = notifier.queues(loaded.config.notify.high_water);
        Ok(Some(Notifications {
            notifier,
            targets: Target::all(loaded),
            mailer,
            store: store.clone(),
            queues,
        }))
    }

    pub fn status(&self) -> store::Result<Vec<TargetStatus>> {
        let mut status = Vec::new();
        for target in self.targets.iter() {
            let routed = self
                .notifier
                .routes
                .iter()
                .find(|route| route.name == target.name);
            let (Some(route), Some(live)) = (routed, self.notifier.live(&target.name)) else {
                continue;
            };
            let Some(queue) = self.store.outbox().status(&target.name)? else {
                continue;
            };
            let failing = live.failing_since_ms.load(Ordering::Relaxed);
            status.push(TargetStatus {
                name: target.name.to_string(),
                url: shown_url(&target.url),
                events: route.events.iter().map(|kind| kind.as_str()).collect(),
                types: route.types.clone(),
                queue,
                failing_since_ms: (failing > 0).then_some(failing),
            });
        }
        Ok(status)
    }

    /// Sends the dead notifications of target `name` again; how many. `None`: no target
    /// of that name.
    pub fn redeliver(&self, name: &str) -> store::Result<Option<u64>> {
        if name == DIGEST_QUEUE || !self.targets.iter().any(|t| &*t.name == name) {
            return Ok(None);
        }
        let moved = self.store.outbox().redeliver(name, now_ms())?;
        if moved.is_some_and(|moved| moved > 0) {
            crash::point(Step::Redelivering);
            // Durable before the caller is answered: an acknowledged redelivery survives a
            // crash (else sled's next flush, up to half a second later, would carry it).
            self.store.commit()?;
            crash::point(Step::Redelivered);
            tracing::info!(target = %name, redelivered = moved, "dead notifications sent again");
            self.notifier.rescan(name);
        }
        Ok(moved)
    }

    pub fn digest(&self) -> Option<digest::Status> {
        self.mailer.as_ref().map(|mailer| mailer.status())
    }
}

fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut url) => {
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => String::new(),
    }
}
