//! Users' own connections (the "user account" export preference): their status, Disconnect,
//! and the client an export for a user is written with, kept in a small pool so each user's
//! tokens are refreshed once for all their jobs.

use std::sync::Arc;

use super::events::{Persist, Target};
use super::record::{self, Record};
use super::{Connections, HubSpotUser, Refusal, State, Who};
use crate::hubspot;

/// A user's connection as `GET /v1/users/{email}/connection` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserStatus {
    pub email: String,
    pub state: State,
    pub hubspot_user: Option<HubSpotUser>,
    pub portal_id: Option<i64>,
    pub scopes: Vec<String>,
    pub missing_scopes: Vec<String>,
    pub connected_at_ms: Option<i64>,
    pub reason: Option<String>,
}

/// Why an export cannot be written with a user's connection: a record's error code
/// (`user_not_connected`, `needs_reconnect`) and a message saying how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProblem {
    pub code: &'static str,
    pub message: String,
}

impl Connections {
    fn user_name(&self, email: &str) -> Result<(String, String), Refusal> {
        match Who::user(email) {
            Some(Who::User(email)) => {
                let name = self.inner.names.user(&email);
                Ok((email, name))
            }
            _ => Err(Refusal::BadEmail(email.to_owned())),
        }
    }

    /// `email`'s connection: usable, or why not.
    fn user_record(&self, email: &str, name: &str) -> Result<Record, UserProblem> {
        let store = &self.inner.store;
        let record = record::load_record(store, name).map_err(|error| UserProblem {
            code: "storage_unavailable",
            message: error.to_string(),
        })?;
        let start = self.user_start_url(email);
        let Some(record) = record else {
            return Err(UserProblem {
                code: "user_not_connected",
                message: format!(
                    "{email} has not connected their HubSpot account: start at POST {start} \
                     and open the authorize_url it answers"
                ),
            });
        };
        let reconnect = |why: &str| UserProblem {
            code: "needs_reconnect",
            message: format!(
                "{email} must connect their HubSpot account again ({why}): POST {start}"
            ),
        };
        if let Some(reason) = &record.needs_reconnect {
            return Err(reconnect(reason));
        }
        if self.service_portal() != Some(record.portal_id) {
            return Err(reconnect(
                "it is for another HubSpot account than the gateway's",
            ));
        }
        Ok(record)
    }

    pub fn user_status(&self, email: &str) -> Result<UserStatus, Refusal> {
        let (email, name) = self.user_name(email)?;
        let stored = record::load_record(&self.inner.store, &name)?;
        let usable = self.user_record(&email, &name);
        let scopes = stored
            .as_ref()
            .map(|r| r.scopes.clone())
            .unwrap_or_default();
        Ok(UserStatus {
            state: match &usable {
                Ok(_) => State::Connected,
                Err(problem) if problem.code == "needs_reconnect" => State::NeedsReconnect,
                Err(_) => State::NotConnected,
            },
            reason: usable.err().map(|problem| problem.message),
            hubspot_user: stored.as_ref().map(|record| HubSpotUser {
                email: record.user_email.clone(),
                user_id: record.user_id,
            }),
            portal_id: stored.as_ref().map(|record| record.portal_id),
            missing_scopes: if scopes.is_empty() {
                Vec::new()
            } else {
                self.inner.settings.user_scopes.missing_any(&scopes)
            },
            scopes,
            connected_at_ms: stored.as_ref().map(|record| record.connected_at_ms),
            email,
        })
    }

    /// Revokes the user's refresh token at HubSpot and forgets the connection.
    pub async fn disconnect_user(&self, email: &str) -> Result<UserStatus, Refusal> {
        let (email, name) = self.user_name(email)?;
        let inner = &self.inner;
        let stored = record::load_record(&inner.store, &name)?;
        let record = stored.ok_or_else(|| Refusal::NoUserConnection(email.clone()))?;
        let token = inner
            .key
            .as_ref()
            .and_then(|key| record.refresh_token.open(key, &name, &record.id).ok());
        if let (Some(app), Some(token), None) = (&inner.app, &token, &record.needs_reconnect) {
            app.revoke(token).await.map_err(Refusal::HubSpot)?;
        }
        {
            let _write = inner.write.lock();
            let current = record::load_record(&inner.store, &name)?;
            // A Connect that finished meanwhile stays.
            if current.is_some_and(|current| current.id == record.id) {
                record::remove(&inner.store, &name)?;
            }
        }
        inner.users.lock().remove(&email);
        tracing::info!(user = %email, "a user's HubSpot connection was disconnected");
        self.user_status(&email)
    }

    /// The client exports for `email` are written with, or why there is none.
    pub fn user_client(&self, email: &str) -> Result<hubspot::Client, UserProblem> {
        let (email, name) = self.user_name(email).map_err(|refusal| UserProblem {
            code: "user_not_connected",
            message: refusal.to_string(),
        })?;
        let record = self.user_record(&email, &name)?;
        if let Some((id, client)) = self.inner.users.lock().get(&email) {
            if *id == record.id {
                return Ok(client.clone());
            }
        }
        let unreadable = |why: String| {
            UserProblem {
            code: "needs_reconnect",
            message: format!(
                "{email}'s stored HubSpot connection cannot be used ({why}): connect again at POST {}",
                self.user_start_url(&email)
            ),
        }
        };
        let key = self
            .inner
            .key
            .as_ref()
            .ok_or_else(|| unreadable("store.secrets_key is not set".into()))?;
        let token = record
            .refresh_token
            .open(key, &name, &record.id)
            .map_err(|why| unreadable(why.to_string()))?;
        let settings = &self.inner.settings;
        let credentials = settings
            .oauth(token)
            .ok_or_else(|| unreadable("hubspot.client_id is not set".into()))?;
        let target = Target::Stored {
            name,
            id: record.id.clone(),
        };
        let events = Arc::new(Persist::new(self, target)) as Arc<dyn hubspot::CredentialEvents>;
        let client = settings
            .client(credentials, Some(events))
            .map_err(|error| unreadable(error.to_string()))?;
        self.inner
            .users
            .lock()
            .insert(email, (record.id, client.clone()));
        Ok(client)
    }
}
