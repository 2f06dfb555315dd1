//! Forgetting a site's connections when its portal is removed from the deployment: the
//! refresh tokens revoked at HubSpot where it still takes them, then every record the site's
//! connections kept (service slot, users, preferences, the remembered portal) deleted.

use std::sync::atomic::Ordering;

use super::record::{self, Slot};
use super::{flow, Connections};
use crate::secret::Secret;
use crate::store;

/// Where a removal in progress is recorded, one name per portal: the deployment's, not a
/// site's, so any replica sees it and the leader finishes it after a crash.
const REMOVING_PREFIX: &str = "removing/";

impl Connections {
    /// Records, durably, that `hub_id` is being removed from the deployment.
    pub fn mark_removal(&self, hub_id: i64) -> store::Result<()> {
        let store = &self.inner.store;
        store
            .connections()
            .put(&format!("{REMOVING_PREFIX}{hub_id}"), b"")?;
        store.commit()
    }

    /// The portals being removed.
    pub fn removals(&self) -> store::Result<Vec<i64>> {
        let listed = self.inner.store.connections().list(REMOVING_PREFIX)?;
        Ok(listed
            .iter()
            .filter_map(|(name, _)| name[REMOVING_PREFIX.len()..].parse().ok())
            .collect())
    }

    /// Records that the removal of `hub_id` is finished.
    pub fn unmark_removal(&self, hub_id: i64) -> store::Result<()> {
        let store = &self.inner.store;
        store
            .connections()
            .take(&format!("{REMOVING_PREFIX}{hub_id}"))?;
        store.commit()
    }

    /// Stops using the service connection until [`Connections::forget`]: the portal is
    /// being removed.
    pub fn hold(&self) {
        self.inner.held.store(true, Ordering::Release);
        self.changed();
    }

    /// Uses the service connection again: the removal that held it finished elsewhere (on
    /// PostgreSQL, the leader forgot the connections this replica holds).
    pub fn release(&self) {
        if self.inner.held.swap(false, Ordering::AcqRel) {
            self.changed();
        }
    }

    /// Whether the portal is being removed (see [`Connections::hold`]).
    pub fn is_held(&self) -> bool {
        self.inner.held.load(Ordering::Acquire)
    }

    /// Whether the service connection is a private app's token from the config (which no
    /// removal can take away).
    pub fn is_private_app(&self) -> bool {
        self.inner.settings.access_token.is_some()
    }

    /// Revokes the service connection's and every user's refresh token, then deletes the
    /// site's records. A revocation HubSpot refuses or cannot be asked about is logged, not
    /// fatal: a customer who removes an account has often uninstalled the app already, and
    /// the data must go all the same. The first site keeps an explicit "disconnected" slot,
    /// so a `refresh_token` in the config is not taken up again; an added site keeps nothing
    /// (its service slot is what makes it a site). Safe to run again after a crash.
    pub async fn forget(&self) -> store::Result<()> {
        let inner = &self.inner;
        let store = &inner.store;
        let users = store.connections().list(&inner.names.user(""))?;
        let mut tokens: Vec<(String, Secret<String>)> = Vec::new();
        if let (Some(app), Some(key)) = (&inner.app, &inner.key) {
            let mut names = vec![inner.names.service.clone()];
            names.extend(users.iter().map(|(name, _)| name.clone()));
            for name in names {
                if let Some(connection) = record::load_record(store, &name)? {
                    if let Ok(token) = connection.refresh_token.open(key, &name, &connection.id) {
                        tokens.push((name, token));
                    }
                }
            }
            for (name, token) in &tokens {
                flow::revoke(app, token, name).await;
            }
        }
        {
            let _write = inner.write.lock();
            for (name, _) in &users {
                store.connections().take(name)?;
            }
            store.connections().take(&inner.names.preferences())?;
            if inner.names.is_first() {
                let slot = Slot::Disconnected {
                    at_ms: crate::time::now_ms(),
                    portal_id: None,
                };
                record::save_slot(store, &inner.names.service, &slot)?;
            } else {
                store.connections().take(&inner.names.service)?;
            }
            store.remove_meta(&inner.names.portal())?;
            store.commit()?;
            *inner.observed.write() = Default::default();
            inner.held.store(false, Ordering::Release);
        }
        inner.users.lock().clear();
        self.changed();
        tracing::info!(
            refresh_tokens = tokens.len(),
            "forgot the connections of a removed portal"
        );
        Ok(())
    }
}
