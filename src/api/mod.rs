//! The HTTP surface: webhook ingress, the query API, health. One router, one error shape.

pub mod auth;
pub mod blocking;
pub mod body;
mod callback_page;
mod connection;
pub mod error;
mod export;
mod journal;
mod lookups;
mod notifications;
mod objects;
mod openapi;
mod router;
mod status;
mod surface;
mod sync;
mod user_mappings;
mod webhooks;
mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

pub use auth::Tokens;
pub use callback_page::callback_page;
pub use connection::change_preferences;
pub use error::{ApiError, Response};
pub use router::{handle, ROUTES};
pub use status::{body as status_body, connection as connection_summary};
pub use surface::{Exposure, Surface};

use crate::connection::portal;
pub use crate::connection::Portal;
use crate::object::ObjectType;
use crate::ownership::Fallback;
use crate::store::Store;
use crate::sync::schedule::Schedule;
use crate::sync::{Cycle, Syncer, Triggers};
use crate::webhook::Ingress;

/// Everything a request may need; shared by all connections.
pub struct State {
    pub ingress: Ingress,
    pub store: Store,
    /// Replaced on reload, so read it per request.
    pub tokens: RwLock<Tokens>,
    /// Size, time and memory limits of request bodies.
    pub bodies: body::Limits,
    /// The record types the config mirrors.
    pub objects: Vec<ObjectType>,
    /// "Run Now" requests for the sync cycle.
    pub triggers: Arc<Triggers>,
    /// The sync schedule; a reload replaces it and the cycle follows at once.
    pub cycle: tokio::sync::watch::Sender<Cycle>,
    /// Prometheus metrics (`GET /metrics`); lookups report with `metrics.observe_lookup`.
    pub metrics: crate::metrics::Metrics,
    /// `[ownership] fallback_owner_id`.
    pub fallback_owner_id: Option<i64>,
    /// `[export]` config and the export worker's wake-up.
    pub exporter: Arc<crate::export::Exporter>,
    /// The connections to HubSpot (Connect, Disconnect, preferences, users' connections).
    pub connections: crate::connection::Connections,
    /// The Webhooks Journal, when `[hubspot.journal]` is on.
    pub journal: Option<Arc<crate::journal::Journal>>,
    /// Notifications to internal services and the digest, when `[notify]` configures any.
    pub notifications: Option<Arc<crate::notify::Notifications>>,
    /// On PostgreSQL: this replica's id in the lease (`GET /v1/status` shows it with whether
    /// it leads).
    pub replica: Option<String>,
    /// The portal seen last (restored from the store at start), replaced on connect.
    portal: RwLock<Option<Arc<Portal>>>,
    /// The sync of the current connection; `None` while not connected.
    syncer: RwLock<Option<Arc<Syncer>>>,
    ready: AtomicBool,
}

impl State {
    pub fn new(
        ingress: Ingress,
        store: Store,
        tokens: Tokens,
        bodies: body::Limits,
        objects: Vec<ObjectType>,
        connections: crate::connection::Connections,
    ) -> Self {
        // The portal seen last time answers queries before HubSpot is reachable again.
        let portal = portal::stored(&store).map(Arc::new);
        State {
            ingress,
            store,
            tokens: RwLock::new(tokens),
            bodies,
            objects,
            triggers: Arc::new(Triggers::default()),
            cycle: tokio::sync::watch::Sender::new(Cycle::default()),
            metrics: crate::metrics::Metrics::default(),
            fallback_owner_id: None,
            exporter: Arc::default(),
            connections,
            journal: None,
            notifications: None,
            replica: None,
            portal: RwLock::new(portal),
            syncer: RwLock::new(None),
            ready: AtomicBool::new(false),
        }
    }

    pub fn portal(&self) -> Option<Arc<Portal>> {
        self.portal.read().clone()
    }

    /// Records the connected portal (and remembers it for the next start).
    pub fn set_portal(&self, portal: Portal) -> crate::store::Result<()> {
        portal::save(&self.store, &portal)?;
        let mut current = self.portal.write();
        if let Some(known) = current
            .as_ref()
            .filter(|known| known.hub_id != portal.hub_id)
        {
            tracing::warn!(
                old = known.hub_id,
                new = portal.hub_id,
                "now connected to another portal; reset the user mappings (POST /v1/user-mappings/reset)"
            );
        }
        *current = Some(Arc::new(portal));
        Ok(())
    }

    /// On a replica that follows: takes the portal the leader connected to, as the store has
    /// it (the leader saves it on connect). Whether it changed.
    pub fn follow_portal(&self) -> bool {
        let stored = portal::stored(&self.store).map(Arc::new);
        let mut current = self.portal.write();
        if stored.is_none() || stored == *current {
            return false;
        }
        *current = stored;
        true
    }

    /// The owner records fall back to (see `ownership::Fallback`) while connected to `portal`.
    pub fn fallback(&self, portal: &Portal) -> Fallback {
        portal::fallback(self.fallback_owner_id, Some(portal))
    }

    pub fn syncer(&self) -> Option<Arc<Syncer>> {
        self.syncer.read().clone()
    }

    /// The sync of a new connection, or `None` when the connection went away.
    pub fn set_syncer(&self, syncer: Option<Arc<Syncer>>) {
        *self.syncer.write() = syncer;
    }

    /// "Run Now": asks the sync cycle for a polling pass over `kind` (`full`: a
    /// reconciliation); false when sync is not running (disabled or not connected yet).
    pub fn request_sync(&self, kind: ObjectType, full: bool) -> bool {
        if self.syncer().is_none() {
            return false;
        }
        self.triggers.request(kind, full);
        true
    }

    /// The reconciliation schedule in effect: the stored override, else the config's.
    pub fn schedule(&self) -> crate::store::Result<Schedule> {
        Schedule::current(&self.store, self.cycle.borrow().schedule())
    }

    /// The oldest last reconciliation of the mirrored types (`None` if one never ran): when
    /// the schedule's next run is counted from.
    pub fn last_reconcile_ms(&self) -> Option<i64> {
        let portal = self.portal()?;
        let mut oldest = None;
        for kind in &self.objects {
            let state = crate::sync::TypeState::load(&self.store, portal.hub_id, *kind).ok()?;
            let last = state.last_reconcile_at_ms?;
            oldest = Some(oldest.map_or(last, |o: i64| o.min(last)));
        }
        oldest
    }

    /// Ready means: store open, listeners bound, not draining (`/readyz`).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// RFC 3339 UTC text (millisecond precision) of an epoch-milliseconds time; never before 1970.
pub fn rfc3339(epoch_ms: i64) -> String {
    crate::time::iso(epoch_ms.max(0))
}
