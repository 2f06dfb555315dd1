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
mod portals;
pub mod removal;
mod router;
pub mod sites;
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
pub use sites::{Site, Sites};
pub use status::{add_portals, body as status_body, connection as connection_summary};
pub use surface::{Exposure, Surface};

use crate::connection::portal;
pub use crate::connection::Portal;
use crate::export::{Exporter, Waiting};
use crate::object::ObjectType;
use crate::ownership::Fallback;
use crate::store::Store;
use crate::sync::schedule::Schedule;
use crate::sync::Cycle;
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
    /// The sync schedule; a reload replaces it and the cycle follows at once.
    pub cycle: tokio::sync::watch::Sender<Cycle>,
    /// Prometheus metrics (`GET /metrics`); lookups report with `metrics.observe_lookup`.
    pub metrics: crate::metrics::Metrics,
    /// `[ownership] fallback_owner_id`.
    pub fallback_owner_id: Option<i64>,
    /// The portals the deployment mirrors, each with its connection and sync.
    pub sites: Sites,
    /// The Webhooks Journal, when `[hubspot.journal]` is on.
    pub journal: Option<Arc<crate::journal::Journal>>,
    /// Notifications to internal services and the digest, when `[notify]` configures any.
    pub notifications: Option<Arc<crate::notify::Notifications>>,
    /// On PostgreSQL: this replica's id in the lease (`GET /v1/status` shows it with whether
    /// it leads).
    pub replica: Option<String>,
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
        export: crate::config::Export,
    ) -> Self {
        State {
            ingress,
            store,
            tokens: RwLock::new(tokens),
            bodies,
            objects,
            cycle: tokio::sync::watch::Sender::new(Cycle::default()),
            metrics: crate::metrics::Metrics::default(),
            fallback_owner_id: None,
            sites: Sites::load(connections, export),
            journal: None,
            notifications: None,
            replica: None,
            ready: AtomicBool::new(false),
        }
    }

    /// The site a request is about (see [`Sites::select`]).
    pub fn site(&self, named: Option<i64>) -> Result<Arc<Site>, sites::Unselected> {
        self.sites.select(named)
    }

    /// The owner records fall back to (see `ownership::Fallback`) while connected to `portal`.
    pub fn fallback(&self, portal: &Portal) -> Fallback {
        portal::fallback(self.fallback_owner_id, Some(portal))
    }

    /// What `site`'s unfinished export jobs wait for, if anything (see [`Waiting::holds`] for
    /// which): the worker's own word where it runs (sled; the leader), else what the leader
    /// published.
    pub fn export_waiting(&self, site: &Site) -> Option<Waiting> {
        if self.store.leads() {
            return site.exporter.waiting();
        }
        let hub_id = site.hub_id()?;
        match Exporter::published(&self.store, hub_id) {
            Ok(waiting) => waiting,
            Err(error) => {
                tracing::warn!(%error, "cannot read what export jobs wait for");
                None
            }
        }
    }

    /// The reconciliation schedule in effect for `portal` (`None`: not connected yet): its
    /// stored override, else the config's.
    pub fn schedule(&self, portal: Option<i64>) -> crate::store::Result<Schedule> {
        Schedule::current(&self.store, portal, self.cycle.borrow().schedule())
    }

    /// The oldest last reconciliation of `portal`'s mirrored types (`None` if one never ran,
    /// or not connected yet): when the schedule's next run is counted from.
    pub fn last_reconcile_ms(&self, portal: Option<i64>) -> Option<i64> {
        let hub_id = portal?;
        let mut oldest = None;
        for kind in &self.objects {
            let state = crate::sync::TypeState::load(&self.store, hub_id, *kind).ok()?;
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
