//! The service connection: the client that sync (and service-account exports) use, the
//! status `GET /v1/connection` shows, Disconnect, and what the sync supervisor observed.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::events::{Persist, Target};
use super::record::{self, Record, Slot};
use super::{Connections, HubSpotUser, Method, Refusal, State, Status};
use crate::hubspot::{self, Credentials, TokenInfo};
use crate::secret::Secret;
use crate::time::now_ms;

/// The service connection's client, ready for the syncer.
pub struct ServiceClient {
    pub client: hubspot::Client,
    pub method: Method,
    /// The connection switched portals: reset the user mappings once the new portal's owners
    /// are mirrored (then [`Connections::user_mappings_reset`]).
    pub reset_user_mappings: bool,
    /// The stored connection the client was built from (`None`: the config's credentials):
    /// a refusal of a connection that a Connect has since replaced is not the new one's.
    pub connection_id: Option<String>,
}

/// Why there is no service client: the state to show and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub state: State,
    pub reason: String,
}

impl Unavailable {
    fn new(state: State, reason: impl Into<String>) -> Unavailable {
        Unavailable {
            state,
            reason: reason.into(),
        }
    }
}

const HOW_TO_CONNECT: &str = "connect with POST /v1/connection/start or `hubspot-gateway connect`";

/// Where the service connection's credentials come from.
enum Source {
    PrivateApp(Secret<String>),
    Stored(Box<Record>, Secret<String>),
    Config(Secret<String>),
}

impl Connections {
    fn source(&self) -> Result<Source, Unavailable> {
        let inner = &self.inner;
        if let Some(token) = &inner.settings.access_token {
            return Ok(Source::PrivateApp(token.clone()));
        }
        if inner.held.load(Ordering::Acquire) {
            return Err(Unavailable::new(
                State::NotConnected,
                format!("the portal is being removed from this deployment; {HOW_TO_CONNECT}"),
            ));
        }
        let slot = record::load_slot(&inner.store, &inner.names.service).map_err(|error| {
            Unavailable::new(
                State::NotConnected,
                format!("the store cannot be read: {error}"),
            )
        })?;
        match slot {
            Some(Slot::Connected { connection }) => {
                if let Some(reason) = &connection.needs_reconnect {
                    let reason = format!("{reason}; {HOW_TO_CONNECT}");
                    return Err(Unavailable::new(State::NeedsReconnect, reason));
                }
                let Some(key) = &inner.key else {
                    return Err(Unavailable::new(
                        State::NeedsReconnect,
                        format!(
                            "store.secrets_key is not set, so the stored tokens cannot be read: \
                             set it back, or {HOW_TO_CONNECT}"
                        ),
                    ));
                };
                match connection
                    .refresh_token
                    .open(key, &inner.names.service, &connection.id)
                {
                    Ok(token) => Ok(Source::Stored(connection, token)),
                    Err(why) => Err(Unavailable::new(
                        State::NeedsReconnect,
                        format!(
                            "the stored tokens cannot be read: {why}; set the previous \
                             store.secrets_key back, or {HOW_TO_CONNECT}"
                        ),
                    )),
                }
            }
            Some(Slot::Disconnected { at_ms, .. }) => Err(Unavailable::new(
                State::NotConnected,
                format!(
                    "disconnected at {}; {HOW_TO_CONNECT}",
                    crate::time::iso(at_ms)
                ),
            )),
            None => match &inner.settings.refresh_token {
                Some(token) => Ok(Source::Config(token.clone())),
                None => Err(Unavailable::new(
                    State::NotConnected,
                    format!("not connected to HubSpot yet; {HOW_TO_CONNECT}"),
                )),
            },
        }
    }

    /// The service connection's client, or why there is none.
    pub fn service_client(&self) -> Result<ServiceClient, Unavailable> {
        if let Some(reason) = self.inner.observed.read().refused.clone() {
            return Err(Unavailable::new(State::NeedsReconnect, reason));
        }
        let settings = &self.inner.settings;
        let no_app = || {
            Unavailable::new(
                State::NeedsReconnect,
                "the OAuth connection needs hubspot.client_id and hubspot.client_secret",
            )
        };
        let (credentials, target, method, reset, connection_id) = match self.source()? {
            Source::PrivateApp(access_token) => (
                Credentials::PrivateApp { access_token },
                None,
                Method::PrivateApp,
                false,
                None,
            ),
            Source::Stored(record, token) => (
                settings.oauth(token).ok_or_else(no_app)?,
                Some(Target::Stored {
                    name: self.inner.names.service.clone(),
                    id: record.id.clone(),
                }),
                Method::OAuth,
                record.reset_user_mappings,
                Some(record.id),
            ),
            Source::Config(token) => (
                settings.oauth(token).ok_or_else(no_app)?,
                Some(Target::Config),
                Method::OAuth,
                false,
                None,
            ),
        };
        let events = target.map(|target| {
            Arc::new(Persist::new(self, target)) as Arc<dyn hubspot::CredentialEvents>
        });
        let client = settings.client(credentials, events).map_err(|error| {
            Unavailable::new(
                State::NeedsReconnect,
                format!("cannot set up the client: {error}"),
            )
        })?;
        Ok(ServiceClient {
            client,
            method,
            reset_user_mappings: reset,
            connection_id,
        })
    }

    /// The supervisor connected with the service client: what introspection said.
    pub fn observe(&self, info: &TokenInfo) {
        self.inner.observed.write().info = Some(info.clone());
    }

    /// The supervisor cannot use the service connection `connection_id` (HubSpot refused the
    /// token, or it lacks scopes): it shows as `needs_reconnect` until the connection changes.
    /// A connection a Connect replaced meanwhile is left alone: the Connect revokes its token,
    /// so its refusal is expected and says nothing of the new one.
    pub fn refuse_service(&self, connection_id: Option<&str>, reason: String) {
        let inner = &self.inner;
        let _write = inner.write.lock();
        let current = record::load_record(&inner.store, &inner.names.service);
        if let (Some(id), Ok(current)) = (connection_id, current) {
            if current.is_none_or(|record| record.id != id) {
                tracing::info!(%reason, "HubSpot refused a connection that has been replaced");
                return;
            }
        }
        tracing::error!(%reason, "the HubSpot connection cannot be used; connect again");
        inner.observed.write().refused = Some(reason);
    }

    /// The user mappings were reset after a portal switch.
    pub fn user_mappings_reset(&self) -> Result<(), Refusal> {
        let _write = self.inner.write.lock();
        let store = &self.inner.store;
        if let Some(mut connection) = record::load_record(store, &self.inner.names.service)? {
            connection.reset_user_mappings = false;
            let connection = Box::new(connection);
            record::save_slot(
                store,
                &self.inner.names.service,
                &Slot::Connected { connection },
            )?;
        }
        Ok(())
    }

    /// The portal the service connection is for (users' connections must be for it too).
    pub(super) fn service_portal(&self) -> Option<i64> {
        let store = &self.inner.store;
        if let Ok(Some(connection)) = record::load_record(store, &self.inner.names.service) {
            return Some(connection.portal_id);
        }
        if matches!(self.source(), Ok(Source::PrivateApp(_) | Source::Config(_))) {
            let observed = self.inner.observed.read().info.as_ref().map(|i| i.hub_id);
            return observed.or_else(|| self.portal().map(|p| p.hub_id));
        }
        None
    }

    /// The service connection as `GET /v1/connection` shows it.
    pub fn status(&self) -> Status {
        let inner = &self.inner;
        let observed = inner.observed.read().clone();
        let source = self.source();
        let stored = record::load_record(&inner.store, &inner.names.service)
            .ok()
            .flatten();
        let method = match source {
            Ok(Source::PrivateApp(_)) => Method::PrivateApp,
            _ => Method::OAuth,
        };
        let from_record = matches!(source, Ok(Source::Stored(..)))
            || (source.is_err() && stored.is_some() && inner.settings.access_token.is_none());
        let mut status = match (from_record, &stored, &observed.info) {
            (true, Some(record), _) => described(record),
            (false, _, Some(info)) if source.is_ok() => observed_status(info),
            _ => blank(),
        };
        if status.portal_id.is_none() && source.is_ok() {
            status.portal_id = self.portal().map(|portal| portal.hub_id);
        }
        status.method = method;
        (status.state, status.reason) = match (&source, &observed.refused) {
            (Err(unavailable), _) => (unavailable.state, Some(unavailable.reason.clone())),
            (Ok(_), Some(reason)) => (State::NeedsReconnect, Some(reason.clone())),
            (Ok(_), None) => (State::Connected, None),
        };
        if !status.scopes.is_empty() {
            status.missing_scopes = inner.settings.service_scopes.missing_any(&status.scopes);
        }
        status.preferences = self.preferences();
        status
    }

    /// Disconnect: revokes the refresh token at HubSpot, then forgets it; sync and exports
    /// then wait with `not_connected`. A revocation HubSpot could not carry out changes
    /// nothing (try again); a token that cannot be read any more is forgotten unrevoked.
    pub async fn disconnect(&self) -> Result<Status, Refusal> {
        let inner = &self.inner;
        if inner.settings.access_token.is_some() {
            return Err(Refusal::PrivateApp);
        }
        let token = match self.source() {
            Ok(Source::Stored(_, token) | Source::Config(token)) => Some(token),
            _ => None,
        };
        if let (Some(app), Some(token)) = (&inner.app, &token) {
            app.revoke(token).await.map_err(Refusal::HubSpot)?;
        }
        {
            let _write = inner.write.lock();
            let previous = record::load_record(&inner.store, &inner.names.service)?;
            let portal_id = previous
                .map(|connection| connection.portal_id)
                .or_else(|| self.portal().map(|portal| portal.hub_id));
            let slot = Slot::Disconnected {
                at_ms: now_ms(),
                portal_id,
            };
            record::save_slot(&inner.store, &inner.names.service, &slot)?;
            *inner.observed.write() = Default::default();
        }
        self.changed();
        tracing::info!(
            revoked = token.is_some(),
            "disconnected from HubSpot; sync and exports wait for a new connection"
        );
        Ok(self.status())
    }
}

fn blank() -> Status {
    Status {
        state: State::NotConnected,
        method: Method::OAuth,
        portal_id: None,
        hub_domain: None,
        primary_admin: None,
        scopes: Vec::new(),
        missing_scopes: Vec::new(),
        connected_at_ms: None,
        preferences: Default::default(),
        reason: None,
    }
}

fn described(record: &Record) -> Status {
    Status {
        portal_id: Some(record.portal_id),
        hub_domain: record.hub_domain.clone(),
        primary_admin: Some(HubSpotUser {
            email: record.user_email.clone(),
            user_id: record.user_id,
        }),
        scopes: record.scopes.clone(),
        connected_at_ms: Some(record.connected_at_ms),
        ..blank()
    }
}

fn observed_status(info: &TokenInfo) -> Status {
    Status {
        portal_id: Some(info.hub_id),
        hub_domain: info.hub_domain.clone(),
        primary_admin: Some(HubSpotUser {
            email: info.user_email.clone(),
            user_id: info.user_id,
        }),
        scopes: info.scopes.clone(),
        ..blank()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Settings;
    use crate::store::Store;

    /// Stores a service connection with id `id`, as a Connect does.
    fn connect(connections: &Connections, id: &str) {
        let inner = &connections.inner;
        let name = &inner.names.service;
        let key = inner.key.as_ref().unwrap();
        let token = Secret::new(format!("refresh-{id}"));
        let record = Record {
            id: id.into(),
            portal_id: 1,
            hub_domain: None,
            hublet: "na1".into(),
            user_email: Some("admin@example.com".into()),
            user_id: Some(7),
            scopes: Vec::new(),
            connected_at_ms: now_ms(),
            started_by: "test".into(),
            needs_reconnect: None,
            reset_user_mappings: false,
            refresh_token: record::Sealed::new(key, &token, name, id),
        };
        let connection = Box::new(record);
        record::save_slot(&inner.store, name, &Slot::Connected { connection }).unwrap();
    }

    #[test]
    fn a_refusal_of_a_replaced_connection_leaves_its_successor_connected() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            client_id: Some("app".into()),
            client_secret: Some(Secret::new("secret".into())),
            secrets_key: Some(Secret::new([7; 32])),
            ..Settings::bare()
        };
        let connections = Connections::new(Store::open(dir.path()).unwrap(), settings);
        connect(&connections, "first");
        let old = connections.service_client().unwrap();
        assert_eq!(old.connection_id.as_deref(), Some("first"));

        // A Connect replaces it (and revokes its token) while the old client is connecting.
        connect(&connections, "second");
        connections.refuse_service(old.connection_id.as_deref(), "revoked".into());
        assert_eq!(connections.status().state, State::Connected);
        let new = connections.service_client().unwrap();
        assert_eq!(new.connection_id.as_deref(), Some("second"));

        connections.refuse_service(new.connection_id.as_deref(), "refused".into());
        let status = connections.status();
        assert_eq!(status.state, State::NeedsReconnect);
        assert_eq!(status.reason.as_deref(), Some("refused"));
        assert!(connections.service_client().is_err());
    }
}
