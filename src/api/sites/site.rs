//! One portal's part of the deployment (a `Site`): its connections, the portal it answers
//! for, its sync and its running work, which stops for good when the site is retired.

use std::future::Future;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Export;
use crate::connection::{Connections, Portal};
use crate::export::Exporter;
use crate::object::ObjectType;
use crate::sync::{Syncer, Triggers};

/// One portal's part of the deployment.
pub struct Site {
    pub connections: Connections,
    /// The portal a Connect added the site for; `None` for the first site (whose portal is
    /// whichever its connection has).
    pub(super) added_for: Option<i64>,
    /// The portal seen last (restored from the store at start), replaced on connect.
    portal: RwLock<Option<Arc<Portal>>>,
    /// The sync of the current connection; `None` while not connected.
    syncer: RwLock<Option<Arc<Syncer>>>,
    /// "Run Now" requests for the site's sync cycle.
    pub triggers: Arc<Triggers>,
    /// The site's export worker: its wake-up and what its jobs wait for.
    pub exporter: Arc<Exporter>,
    /// The site's running work (its sync, its export worker); `None` once retired.
    work: Mutex<Option<TaskTracker>>,
    /// Cancelled when the site is retired: its work stops.
    retired: CancellationToken,
}

impl Site {
    /// A site answering for the portal `connections` connected to last; `added_for`: the
    /// portal a Connect added it for (`None`: the first site).
    pub(super) fn new(connections: Connections, added_for: Option<i64>, export: &Export) -> Site {
        let portal = connections.portal().map(Arc::new);
        Site {
            connections,
            added_for,
            exporter: Arc::new(Exporter::new(export.clone())),
            portal: RwLock::new(portal),
            syncer: RwLock::new(None),
            triggers: Arc::default(),
            work: Mutex::new(Some(TaskTracker::new())),
            retired: CancellationToken::new(),
        }
    }

    /// The first site with no portal: what stands in the first place once its portal is
    /// removed, until a Connect fills it.
    pub(super) fn blank(connections: Connections, export: &Export) -> Site {
        let site = Site::new(connections, None, export);
        *site.portal.write() = None;
        site
    }

    /// `work` as this site's, until `stop` or the site's retirement; `None` once the site is
    /// retired (nothing of it starts again).
    pub fn run<F>(
        &self,
        stop: &CancellationToken,
        work: impl FnOnce(CancellationToken) -> F,
    ) -> Option<impl Future<Output = ()> + Send + 'static>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let tracker = self.work.lock();
        let tracker = tracker.as_ref()?;
        let token = stop.child_token();
        let retired = self.retired.clone();
        let running = work(token.clone());
        Some(tracker.track_future(async move {
            tokio::pin!(running);
            tokio::select! {
                () = &mut running => return,
                () = retired.cancelled() => token.cancel(),
            }
            running.await;
        }))
    }

    /// Stops the site's work and returns once all of it has ended; nothing of it starts
    /// again, and its sync refuses mirror writes from now on (see `Syncer::retire`).
    pub async fn retire(&self) {
        let tracker = self.work.lock().take();
        self.retired.cancel();
        if let Some(syncer) = self.syncer() {
            syncer.retire();
        }
        if let Some(tracker) = tracker {
            tracker.close();
            tracker.wait().await;
        }
    }

    pub fn is_retired(&self) -> bool {
        self.retired.is_cancelled()
    }

    pub fn portal(&self) -> Option<Arc<Portal>> {
        self.portal.read().clone()
    }

    pub fn hub_id(&self) -> Option<i64> {
        self.portal.read().as_ref().map(|portal| portal.hub_id)
    }

    /// Records the connected portal (and remembers it for the next start).
    pub fn set_portal(&self, portal: Portal) -> crate::store::Result<()> {
        self.connections.save_portal(&portal)?;
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
        if self.connections.is_held() {
            return false;
        }
        let stored = self.connections.portal().map(Arc::new);
        let mut current = self.portal.write();
        if stored.is_none() || stored == *current {
            return false;
        }
        *current = stored;
        true
    }

    pub fn syncer(&self) -> Option<Arc<Syncer>> {
        self.syncer.read().clone()
    }

    /// The sync of a new connection, or `None` when the connection went away.
    pub fn set_syncer(&self, syncer: Option<Arc<Syncer>>) {
        *self.syncer.write() = syncer;
    }

    /// "Run Now": asks the site's sync cycle for a polling pass over `kind` (`full`: a
    /// reconciliation); false when its sync is not running (disabled or not connected yet).
    pub fn request_sync(&self, kind: ObjectType, full: bool) -> bool {
        if self.syncer().is_none() {
            return false;
        }
        self.triggers.request(kind, full);
        true
    }
}
