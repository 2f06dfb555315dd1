//! The portals a deployment mirrors, one site each: the site's connection to HubSpot, the
//! portal it connected to, its sync and its "Run Now" requests. And the one rule, shared by
//! the API and the console, that picks the site a request is about: the portal it names
//! (`?portal=ID` or the `X-HubSpot-Portal-Id` header), else the only one.

use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::watch;

use crate::config::Export;
use crate::connection::{Callback, Connected, Connections, Portal, Refusal};
use crate::export::Exporter;
use crate::object::ObjectType;
use crate::sync::{Syncer, Triggers};

/// The header that names the portal a request is about (as `?portal=` does).
pub const PORTAL_HEADER: &str = "x-hubspot-portal-id";

/// One portal's part of the deployment.
pub struct Site {
    pub connections: Connections,
    /// The portal a Connect added the site for; `None` for the first site (whose portal is
    /// whichever its connection has).
    added_for: Option<i64>,
    /// The portal seen last (restored from the store at start), replaced on connect.
    portal: RwLock<Option<Arc<Portal>>>,
    /// The sync of the current connection; `None` while not connected.
    syncer: RwLock<Option<Arc<Syncer>>>,
    /// "Run Now" requests for the site's sync cycle.
    pub triggers: Arc<Triggers>,
    /// The site's export worker: its wake-up and what its jobs wait for.
    pub exporter: Arc<Exporter>,
}

impl Site {
    /// A site answering for the portal `connections` connected to last; `added_for`: the
    /// portal a Connect added it for (`None`: the first site).
    fn new(connections: Connections, added_for: Option<i64>, export: &Export) -> Site {
        let portal = connections.portal().map(Arc::new);
        Site {
            connections,
            added_for,
            exporter: Arc::new(Exporter::new(export.clone())),
            portal: RwLock::new(portal),
            syncer: RwLock::new(None),
            triggers: Arc::default(),
        }
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

/// Why a request names no site: the API answers 400 or 404, the console a page saying so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unselected {
    #[error("this gateway mirrors several HubSpot portals ({}): name one with ?portal=ID or the X-HubSpot-Portal-Id header", list(.0))]
    Required(Vec<i64>),
    #[error("this gateway does not mirror HubSpot portal {named} (it mirrors: {})", list(.known))]
    Unknown { named: i64, known: Vec<i64> },
    #[error("{0:?} is not a HubSpot portal id (a positive number)")]
    Malformed(String),
}

fn list(ids: &[i64]) -> String {
    if ids.is_empty() {
        return "none yet".into();
    }
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    ids.join(", ")
}

/// The portal id a request names, from its text (`?portal=` or the header); `None`: unnamed.
pub fn named(text: Option<&str>) -> Result<Option<i64>, Unselected> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(Some(id)),
        _ => Err(Unselected::Malformed(text.to_owned())),
    }
}

/// Every site of the deployment; the first is the one a single-portal gateway has.
pub struct Sites {
    sites: RwLock<Vec<Arc<Site>>>,
    /// `[export]`, for every site's export worker.
    export: Export,
    /// Held while a Connect adds a site, so that one portal gets one site.
    adding: tokio::sync::Mutex<()>,
    /// How many sites there are; the daemon starts each added site's work on a change.
    count: watch::Sender<usize>,
}

impl Sites {
    /// The first site (of `first`) and one for each portal a Connect added before.
    pub fn load(first: Connections, export: Export) -> Sites {
        let sites = Sites {
            sites: RwLock::new(vec![Arc::new(Site::new(first, None, &export))]),
            export,
            adding: tokio::sync::Mutex::new(()),
            count: watch::Sender::new(1),
        };
        sites.discover();
        sites
    }

    /// Adds the sites of portals connected since (on PostgreSQL, by another replica's
    /// Connect); whether there were any.
    pub fn discover(&self) -> bool {
        let Ok(_adding) = self.adding.try_lock() else {
            return false;
        };
        let first = self.first();
        let added = match first.connections.added_portals() {
            Ok(added) => added,
            Err(error) => {
                tracing::warn!(%error, "cannot read which portals are connected");
                return false;
            }
        };
        let mut any = false;
        for hub_id in added {
            if self.of_added(hub_id).is_none() {
                self.add(self.added(&first.connections, hub_id));
                any = true;
            }
        }
        any
    }

    /// A Connect's callback. The token is stored in the site of its portal; a service
    /// connection of a portal no site has yet gets a new site when the deployment takes
    /// several portals (`hubspot.multiple_portals`), else the first site's rule decides
    /// (another portal is refused until a Disconnect).
    pub async fn complete(&self, callback: Callback) -> Result<Connected, Refusal> {
        let first = self.first();
        let granted = first.connections.grant(callback).await?;
        // On PostgreSQL another replica may have connected portals this one has not seen yet.
        first.follow_portal();
        self.discover();
        let portal = granted.portal();
        let service = granted.is_service();
        let adds = service && first.connections.multiple_portals() && first.hub_id().is_some();
        let _adding = if adds {
            Some(self.adding.lock().await)
        } else {
            None
        };
        let (site, new) = match self
            .of(portal.hub_id)
            .or_else(|| self.of_added(portal.hub_id))
        {
            Some(site) => (site, false),
            None if adds => (
                Arc::new(self.added(&first.connections, portal.hub_id)),
                true,
            ),
            None => (first, false),
        };
        let connected = site.connections.accept(granted).await?;
        if service {
            // Queries answer for the portal at once (the sync records it again on connect).
            site.set_portal(portal)?;
        }
        if new {
            let mut sites = self.sites.write();
            sites.push(site);
            self.count.send_replace(sites.len());
        }
        Ok(connected)
    }

    /// A site for the portal `hub_id`, with connections of its own beside `first`'s.
    fn added(&self, first: &Connections, hub_id: i64) -> Site {
        Site::new(first.for_portal(hub_id), Some(hub_id), &self.export)
    }

    /// `[export]`: the configured export settings (the stored ones override them).
    pub fn export_config(&self) -> &Export {
        &self.export
    }

    /// The site a Connect added for `hub_id`, connected or not.
    fn of_added(&self, hub_id: i64) -> Option<Arc<Site>> {
        let sites = self.sites.read();
        sites
            .iter()
            .find(|site| site.added_for == Some(hub_id))
            .cloned()
    }

    /// Changes when a site is added.
    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.count.subscribe()
    }

    pub fn all(&self) -> Vec<Arc<Site>> {
        self.sites.read().clone()
    }

    /// The site a single-portal gateway has (and a multi-portal one connected first).
    pub fn first(&self) -> Arc<Site> {
        self.sites.read()[0].clone()
    }

    fn add(&self, site: Site) {
        let mut sites = self.sites.write();
        sites.push(Arc::new(site));
        self.count.send_replace(sites.len());
    }

    /// The portals the sites answer for, in the order they were added.
    pub fn portal_ids(&self) -> Vec<i64> {
        portal_ids(&self.sites.read())
    }

    /// The site of the portal `hub_id`.
    pub fn of(&self, hub_id: i64) -> Option<Arc<Site>> {
        site_of(&self.sites.read(), hub_id)
    }

    /// The site a status describes: the portal it names, else the first (a status lists
    /// every portal, so unnamed it need not refuse).
    pub fn described(&self, named: Option<i64>) -> Result<Arc<Site>, Unselected> {
        match named {
            None => Ok(self.first()),
            named => self.select(named),
        }
    }

    /// The site a request is about: the portal it names, else the only site.
    pub fn select(&self, named: Option<i64>) -> Result<Arc<Site>, Unselected> {
        let sites = self.sites.read();
        match named {
            Some(named) => site_of(&sites, named).ok_or_else(|| Unselected::Unknown {
                named,
                known: portal_ids(&sites),
            }),
            None if sites.len() == 1 => Ok(sites[0].clone()),
            None => Err(Unselected::Required(portal_ids(&sites))),
        }
    }
}

fn portal_ids(sites: &[Arc<Site>]) -> Vec<i64> {
    sites.iter().filter_map(|site| site.hub_id()).collect()
}

fn site_of(sites: &[Arc<Site>], hub_id: i64) -> Option<Arc<Site>> {
    sites
        .iter()
        .find(|site| site.hub_id() == Some(hub_id))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_portal_is_named_by_a_positive_number() {
        assert_eq!(named(None), Ok(None));
        assert_eq!(named(Some(" ")), Ok(None));
        assert_eq!(named(Some("62515001")), Ok(Some(62_515_001)));
        assert!(matches!(named(Some("0")), Err(Unselected::Malformed(_))));
        assert!(matches!(named(Some("abc")), Err(Unselected::Malformed(_))));
    }

    #[test]
    fn refusals_say_which_portals_there_are() {
        let required = Unselected::Required(vec![1, 2]).to_string();
        assert!(required.contains("(1, 2)"), "{required}");
        let unknown = Unselected::Unknown {
            named: 3,
            known: vec![],
        };
        assert!(unknown.to_string().contains("none yet"), "{unknown}");
    }
}
