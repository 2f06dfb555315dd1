//! What a client tells about its OAuth credentials, applied to the connection it was built
//! from: a rotated refresh token is sealed and committed before the client uses the access
//! token that came with it; a refused one turns that connection to `needs_reconnect` (a
//! metric and one log line). A connection replaced meanwhile is left alone.

use std::sync::atomic::Ordering;
use std::sync::Weak;

use super::record::{self, Sealed, Slot};
use super::{Connections, Inner};
use crate::hubspot::CredentialEvents;
use crate::secret::Secret;

/// Which connection a client was built from.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// A stored connection: its store name and id.
    Stored { name: String, id: String },
    /// The config's `refresh_token`: nothing to store it in.
    Config,
}

#[derive(Debug)]
pub(super) struct Persist {
    /// Weak: the connections own the user clients, which own this.
    inner: Weak<Inner>,
    target: Target,
}

impl Persist {
    pub fn new(connections: &Connections, target: Target) -> Persist {
        Persist {
            inner: std::sync::Arc::downgrade(&connections.inner),
            target,
        }
    }

    fn connections(&self) -> Option<Connections> {
        self.inner.upgrade().map(|inner| Connections { inner })
    }
}

impl CredentialEvents for Persist {
    fn rotated(&self, refresh_token: &Secret<String>) -> Result<(), String> {
        let Target::Stored { name, id } = &self.target else {
            tracing::warn!(
                "HubSpot rotated the refresh token of hubspot.refresh_token; it is kept in memory \
                 only: connect through the gateway to have tokens stored"
            );
            return Ok(());
        };
        let connections = self.connections().ok_or("the gateway is stopping")?;
        let inner = &connections.inner;
        let key = inner.key.as_ref().ok_or("store.secrets_key is not set")?;
        let _write = inner.write.lock();
        let current = record::load_record(&inner.store, name).map_err(|e| e.to_string())?;
        let Some(mut connection) = current.filter(|connection| connection.id == *id) else {
            // Replaced by a newer Connect: this client is on its way out.
            return Ok(());
        };
        connection.refresh_token = Sealed::new(key, refresh_token, name, id);
        let connection = Box::new(connection);
        record::save_slot(&inner.store, name, &Slot::Connected { connection })
            .map_err(|error| error.to_string())?;
        tracing::info!(connection = %name, "saved the refresh token HubSpot rotated");
        Ok(())
    }

    fn refused(&self, message: &str) {
        let Some(connections) = self.connections() else {
            return;
        };
        let inner = &connections.inner;
        inner.refusals.fetch_add(1, Ordering::Relaxed);
        let reason = format!("HubSpot refused the refresh token ({message})");
        match &self.target {
            Target::Stored { name, id } => {
                let _write = inner.write.lock();
                let current = record::load_record(&inner.store, name);
                let Ok(Some(mut connection)) = current else {
                    return;
                };
                if connection.id != *id {
                    return;
                }
                tracing::error!(
                    connection = %name,
                    portal = connection.portal_id,
                    user = connection.user_email.as_deref().unwrap_or("?"),
                    %reason,
                    "the HubSpot connection needs to be connected again"
                );
                connection.needs_reconnect = Some(reason);
                let slot = Slot::Connected {
                    connection: Box::new(connection),
                };
                if let Err(error) = record::save_slot(&inner.store, name, &slot) {
                    tracing::warn!(%error, "cannot record that the connection needs reconnecting");
                }
                if *name != inner.names.service {
                    inner
                        .users
                        .lock()
                        .retain(|_, (built_from, _)| built_from != id);
                    return;
                }
            }
            Target::Config => {
                tracing::error!(%reason, "hubspot.refresh_token needs to be connected again");
                inner.observed.write().refused = Some(reason);
            }
        }
        connections.changed();
    }
}
