//! The portals a deployment mirrors, one site each: the site's connection to HubSpot, the
//! portal it connected to, its sync and its "Run Now" requests. And the one rule, shared by
//! the API and the console, that picks the site a request is about: the portal it names
//! (`?portal=ID` or the `X-HubSpot-Portal-Id` header), else the only one.

mod site;

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;

use crate::config::Export;
use crate::connection::{Callback, Connected, Connections, Refusal};

pub use site::Site;

/// The header that names the portal a request is about (as `?portal=` does).
pub const PORTAL_HEADER: &str = "x-hubspot-portal-id";

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
    /// Sites taken out of the deployment (their portal is being removed) whose work has not
    /// been stopped yet.
    retiring: Mutex<Vec<Arc<Site>>>,
    /// `[export]`, for every site's export worker.
    export: Export,
    /// Held while a Connect adds a site, so that one portal gets one site.
    adding: tokio::sync::Mutex<()>,
    /// Changes whenever a site is added or taken out; the daemon starts each new site's work.
    changes: watch::Sender<u64>,
    /// Wakes the daemon's removals (see `api::removal::settle`) when one is requested here.
    pub removal_requested: tokio::sync::Notify,
}

impl Sites {
    /// The first site (of `first`) and one for each portal a Connect added before, but none
    /// for a portal being removed.
    pub fn load(first: Connections, export: Export) -> Sites {
        let removing = first.removals().unwrap_or_default();
        let first = match first.portal() {
            Some(portal) if removing.contains(&portal.hub_id) => {
                first.hold();
                Site::blank(first, &export)
            }
            _ => Site::new(first, None, &export),
        };
        let sites = Sites {
            sites: RwLock::new(vec![Arc::new(first)]),
            retiring: Mutex::default(),
            export,
            adding: tokio::sync::Mutex::new(()),
            changes: watch::Sender::new(0),
            removal_requested: tokio::sync::Notify::new(),
        };
        sites.discover();
        sites
    }

    /// Follows what other replicas did (on PostgreSQL): adds the sites of portals connected
    /// since, takes out those of portals removed or being removed. Whether it added any.
    pub fn discover(&self) -> bool {
        let Ok(_adding) = self.adding.try_lock() else {
            return false;
        };
        let first = self.first();
        let (added, removing) = match (
            first.connections.added_portals(),
            first.connections.removals(),
        ) {
            (Ok(added), Ok(removing)) => (added, removing),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot read which portals are connected");
                return false;
            }
        };
        for site in self.all() {
            let gone = match (site.added_for, site.hub_id()) {
                (Some(id), _) => (!added.contains(&id) || removing.contains(&id)).then_some(id),
                // The first site's portal, removed at another replica.
                (None, Some(id)) => {
                    (removing.contains(&id) || site.connections.portal().is_none()).then_some(id)
                }
                (None, None) => None,
            };
            if let Some(id) = gone {
                self.take_out(id);
            }
        }
        let mut any = false;
        for hub_id in added {
            if !removing.contains(&hub_id) && self.of_added(hub_id).is_none() {
                self.add(self.added(&first.connections, hub_id));
                any = true;
            }
        }
        any
    }

    /// Takes the site of `hub_id` out of the deployment: requests naming the portal are
    /// refused from now on, and its webhook events skipped. The first site's place goes to a
    /// blank site (a Connect fills it). Its work is stopped by [`Sites::retire_taken`].
    /// Whether there was such a site.
    pub fn take_out(&self, hub_id: i64) -> bool {
        let mut sites = self.sites.write();
        let of_portal =
            |site: &Arc<Site>| site.hub_id() == Some(hub_id) || site.added_for == Some(hub_id);
        let Some(at) = sites.iter().position(of_portal) else {
            return false;
        };
        let taken = if at == 0 {
            sites[0].connections.hold();
            let blank = Site::blank(sites[0].connections.clone(), &self.export);
            std::mem::replace(&mut sites[0], Arc::new(blank))
        } else {
            sites.remove(at)
        };
        self.retiring.lock().push(taken);
        self.changes.send_modify(|generation| *generation += 1);
        true
    }

    /// Stops the work of every site taken out; returns once it has all ended.
    pub async fn retire_taken(&self) {
        let taken = std::mem::take(&mut *self.retiring.lock());
        for site in taken {
            site.retire().await;
        }
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
            self.add_site(site);
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

    /// Changes when a site is added or taken out.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub fn all(&self) -> Vec<Arc<Site>> {
        self.sites.read().clone()
    }

    /// The site a single-portal gateway has (and a multi-portal one connected first).
    pub fn first(&self) -> Arc<Site> {
        self.sites.read()[0].clone()
    }

    fn add(&self, site: Site) {
        self.add_site(Arc::new(site));
    }

    fn add_site(&self, site: Arc<Site>) {
        self.sites.write().push(site);
        self.changes.send_modify(|generation| *generation += 1);
    }

    /// The portals the sites answer for, in the order they were added.
    pub fn portal_ids(&self) -> Vec<i64> {
        portal_ids(&self.sites.read())
    }

    /// The site of the portal `hub_id`.
    pub fn of(&self, hub_id: i64) -> Option<Arc<Site>> {
        site_of(&self.sites.read(), hub_id)
    }

    /// The site a status describes: the portal it names, else the one a request naming none
    /// is about, else the first (a status lists
    /// every portal, so unnamed it need not refuse).
    pub fn described(&self, named: Option<i64>) -> Result<Arc<Site>, Unselected> {
        match named {
            None => Ok(self.select(None).unwrap_or_else(|_| self.first())),
            named => self.select(named),
        }
    }

    /// The site a request is about: the portal it names, else the only site (a blank first
    /// site aside).
    pub fn select(&self, named: Option<i64>) -> Result<Arc<Site>, Unselected> {
        let sites = self.sites.read();
        match named {
            Some(named) => site_of(&sites, named).ok_or_else(|| Unselected::Unknown {
                named,
                known: portal_ids(&sites),
            }),
            None => match sites.as_slice() {
                [only] => Ok(only.clone()),
                // A blank first site (its portal removed) beside one other: the other.
                [first, second] if first.hub_id().is_none() => Ok(second.clone()),
                _ => Err(Unselected::Required(portal_ids(&sites))),
            },
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
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::store::Store;
    use tokio_util::sync::CancellationToken;

    /// Sites of a store whose first portal is 1 and where a Connect added 2.
    fn two_portals(dir: &tempfile::TempDir) -> Sites {
        let store = Store::open(dir.path()).unwrap();
        crate::connection::portal::remember_sites(&store, 1, &[2]);
        Sites::load(
            Connections::new(store, crate::connection::Settings::bare()),
            Export::default(),
        )
    }

    #[tokio::test]
    async fn a_site_taken_out_stops_answering_and_its_work_ends_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let sites = two_portals(&dir);
        assert_eq!(sites.portal_ids(), [1, 2]);
        let second = sites.of(2).unwrap();
        let (stop, ended) = (CancellationToken::new(), Arc::new(AtomicBool::new(false)));
        let ending = ended.clone();
        let work = second.run(&stop, |stop| async move {
            stop.cancelled().await;
            ending.store(true, Ordering::SeqCst);
        });
        tokio::spawn(work.unwrap());

        assert!(sites.take_out(2));
        assert_eq!(sites.portal_ids(), [1]);
        let refused = sites.select(Some(2)).err().unwrap();
        assert!(matches!(refused, Unselected::Unknown { named: 2, .. }));
        assert!(
            !ended.load(Ordering::SeqCst),
            "stopped by retire_taken, not before"
        );
        sites.retire_taken().await;
        assert!(ended.load(Ordering::SeqCst));
        assert!(!stop.is_cancelled(), "the daemon's own stop is untouched");
        assert!(
            second.run(&stop, |_| async {}).is_none(),
            "nothing of it starts again"
        );
        assert!(!sites.take_out(2));
    }

    #[tokio::test]
    async fn the_first_portal_taken_out_leaves_a_blank_site_that_holds_its_connection() {
        let dir = tempfile::tempdir().unwrap();
        let sites = two_portals(&dir);
        assert!(sites.take_out(1));
        assert_eq!(sites.portal_ids(), [2]);
        assert_eq!(sites.all().len(), 2);
        assert_eq!(sites.first().hub_id(), None);
        // Unnamed requests and the status mean the one portal left.
        assert_eq!(sites.select(None).unwrap().hub_id(), Some(2));
        assert_eq!(sites.described(None).unwrap().hub_id(), Some(2));
        let unavailable = sites.first().connections.service_client().err().unwrap();
        assert!(
            unavailable.reason.contains("being removed"),
            "{}",
            unavailable.reason
        );
    }

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
