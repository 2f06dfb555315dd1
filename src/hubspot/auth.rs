//! Access tokens: a static private-app token, or OAuth with proactive, single-flight refresh.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

use super::classify;
use super::client::endpoint;
use super::error::Error;
use super::retry::{ClientStats, RetryPolicy};
use crate::secret::Secret;

/// Where a client reports what happens to its OAuth credentials. The `connection` module
/// implements it to persist a rotated refresh token and to mark a refused one (this module
/// knows nothing of the store).
pub trait CredentialEvents: Send + Sync + std::fmt::Debug {
    /// HubSpot answered a new refresh token. Called before the answer's access token is
    /// used; an error fails that refresh (the new refresh token is kept in memory).
    fn rotated(&self, refresh_token: &Secret<String>) -> Result<(), String>;
    /// HubSpot refused the refresh token (`invalid_grant`): the app must be connected again.
    /// Called once per client; later calls fail at once without asking HubSpot.
    fn refused(&self, message: &str);
}

#[derive(Debug, Clone)]
pub enum Credentials {
    /// A private-app (static) access token: no refresh exists.
    PrivateApp { access_token: Secret<String> },
    /// An OAuth app install: access tokens (30 min) are minted from the refresh token.
    OAuth {
        client_id: String,
        client_secret: Secret<String>,
        refresh_token: Secret<String>,
    },
}

/// The token a request carries, and which refresh produced it.
#[derive(Debug)]
pub(crate) struct AccessToken {
    pub secret: Secret<String>,
    /// Increases with every refresh, so concurrent 401s trigger one refresh, not many.
    pub generation: u64,
    /// `None` for a private-app token.
    refresh_at: Option<Instant>,
    expires_at: Option<Instant>,
}

pub(crate) struct Auth {
    credentials: Credentials,
    http: reqwest::Client,
    base: Url,
    current: RwLock<Option<Arc<AccessToken>>>,
    /// Held while refreshing: the single flight every other caller waits on.
    refreshing: tokio::sync::Mutex<()>,
    /// HubSpot may hand out a new refresh token with each refresh.
    refresh_token: RwLock<Option<Secret<String>>>,
    events: Option<Arc<dyn CredentialEvents>>,
    /// Set once HubSpot refused the refresh token: no further refresh is attempted.
    refused: RwLock<Option<String>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    expires_in: u64,
}

impl Auth {
    pub(crate) fn new(
        credentials: Credentials,
        http: reqwest::Client,
        base: Url,
        events: Option<Arc<dyn CredentialEvents>>,
    ) -> Self {
        let (current, refresh_token) = match &credentials {
            Credentials::PrivateApp { access_token } => {
                let token = AccessToken {
                    secret: access_token.clone(),
                    generation: 0,
                    refresh_at: None,
                    expires_at: None,
                };
                (Some(Arc::new(token)), None)
            }
            Credentials::OAuth { refresh_token, .. } => (None, Some(refresh_token.clone())),
        };
        Auth {
            credentials,
            http,
            base,
            current: RwLock::new(current),
            refreshing: tokio::sync::Mutex::new(()),
            refresh_token: RwLock::new(refresh_token),
            events,
            refused: RwLock::new(None),
        }
    }

    pub(crate) fn is_oauth(&self) -> bool {
        matches!(self.credentials, Credentials::OAuth { .. })
    }

    /// A token to send now; refreshes first when it is due.
    pub(crate) async fn token(
        &self,
        retry: &RetryPolicy,
        stats: &ClientStats,
    ) -> Result<Arc<AccessToken>, Error> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let _flight = self.refreshing.lock().await;
        // Whoever held the lock before us may have refreshed already.
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        self.refresh(retry, stats, false).await
    }

    /// HubSpot refused `generation` with a 401: refresh once, unless someone already did.
    pub(crate) async fn force_refresh(
        &self,
        generation: u64,
        retry: &RetryPolicy,
        stats: &ClientStats,
    ) -> Result<Arc<AccessToken>, Error> {
        let _flight = self.refreshing.lock().await;
        if let Some(current) = self.current.read().clone() {
            if current.generation != generation {
                return Ok(current);
            }
        }
        self.refresh(retry, stats, true).await
    }

    fn fresh(&self) -> Option<Arc<AccessToken>> {
        let current = self.current.read().clone()?;
        match current.refresh_at {
            Some(at) if Instant::now() >= at => None,
            _ => Some(current),
        }
    }

    /// Mints a new access token. `rejected`: HubSpot refused the current one (401).
    async fn refresh(
        &self,
        retry: &RetryPolicy,
        stats: &ClientStats,
        rejected: bool,
    ) -> Result<Arc<AccessToken>, Error> {
        let Credentials::OAuth {
            client_id,
            client_secret,
            ..
        } = &self.credentials
        else {
            // A private-app token cannot be refreshed; a 401 for it is final.
            return self
                .current
                .read()
                .clone()
                .ok_or_else(|| Error::Config("no access token".into()));
        };
        if let Some(message) = self.refused.read().clone() {
            return Err(Error::ReinstallNeeded { message });
        }
        // While the current token still works, one attempt is enough: callers keep using it
        // and the refresh is tried again a little later, instead of everyone waiting on retries.
        let usable = self
            .current
            .read()
            .clone()
            .filter(|t| !rejected && t.expires_at.is_some_and(|at| Instant::now() < at));
        let attempt = || self.request_token(client_id, client_secret);
        let response = match &usable {
            Some(_) => attempt().await,
            None => retry.run(stats, "refresh OAuth token", true, attempt).await,
        };
        let response = match (response, usable) {
            (Ok(response), _) => response,
            (Err(error), Some(token)) if error.is_retryable() => {
                tracing::warn!(%error, "OAuth refresh failed; the current token is still valid");
                return Ok(self.postpone(token));
            }
            (Err(error), _) => {
                if let Error::ReinstallNeeded { message } = &error {
                    self.refuse(message);
                } else {
                    tracing::error!(%error, "OAuth refresh failed");
                }
                return Err(error);
            }
        };
        if let Some(rotated) = response.refresh_token.as_ref().filter(|t| !t.is_empty()) {
            self.keep_rotated(Secret::new(rotated.clone()))?;
        }
        ClientStats::bump(&stats.token_refreshes);
        let now = Instant::now();
        let lifetime = Duration::from_secs(response.expires_in);
        let generation = self.current.read().as_ref().map_or(1, |t| t.generation + 1);
        let token = Arc::new(AccessToken {
            secret: Secret::new(response.access_token),
            generation,
            refresh_at: Some(now + refresh_after(lifetime)),
            expires_at: Some(now + lifetime),
        });
        *self.current.write() = Some(token.clone());
        tracing::info!(
            expires_in_secs = response.expires_in,
            generation,
            "OAuth access token refreshed"
        );
        Ok(token)
    }

    async fn request_token(
        &self,
        client_id: &str,
        client_secret: &Secret<String>,
    ) -> Result<TokenResponse, Error> {
        let refresh_token = self
            .refresh_token
            .read()
            .clone()
            .ok_or_else(|| Error::Config("no refresh token".into()))?;
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("client_secret", client_secret.expose().as_str()),
            ("refresh_token", refresh_token.expose().as_str()),
        ];
        post_token(
            &self.http,
            &self.base,
            &form,
            "OAuth token response",
            |_| {},
        )
        .await
    }

    /// A refresh token HubSpot rotated: kept in memory at once (the old one may be dead
    /// already), and saved through the events before the refresh's access token is used.
    fn keep_rotated(&self, rotated: Secret<String>) -> Result<(), Error> {
        let unchanged = self
            .refresh_token
            .read()
            .as_ref()
            .is_some_and(|old| old.expose() == rotated.expose());
        if unchanged {
            return Ok(());
        }
        *self.refresh_token.write() = Some(rotated.clone());
        let Some(events) = &self.events else {
            tracing::warn!(
                "HubSpot rotated the refresh token; it is kept in memory only (connect through \
                 the gateway to have it stored)"
            );
            return Ok(());
        };
        events.rotated(&rotated).map_err(|reason| {
            tracing::error!(%reason, "HubSpot rotated the refresh token and it could not be saved");
            Error::CredentialStore(reason)
        })
    }

    /// HubSpot refused the refresh token: remembered, reported once.
    fn refuse(&self, message: &str) {
        let mut refused = self.refused.write();
        if refused.is_some() {
            return;
        }
        *refused = Some(message.to_owned());
        drop(refused);
        match &self.events {
            Some(events) => events.refused(message),
            None => tracing::error!(
                message,
                "HubSpot refused the refresh token: the app must be connected again"
            ),
        }
    }

    /// Keeps `token` but retries the refresh in 30 s, or halfway to its expiry if sooner.
    fn postpone(&self, token: Arc<AccessToken>) -> Arc<AccessToken> {
        let now = Instant::now();
        let left = token.expires_at.map_or(Duration::ZERO, |at| at - now);
        let kept = Arc::new(AccessToken {
            secret: token.secret.clone(),
            generation: token.generation,
            refresh_at: Some(now + (left / 2).min(Duration::from_secs(30))),
            expires_at: token.expires_at,
        });
        *self.current.write() = Some(kept.clone());
        kept
    }

    /// The refresh token to persist (HubSpot may rotate it); `None` for private-app tokens.
    pub(crate) fn refresh_token(&self) -> Option<Secret<String>> {
        self.refresh_token.read().clone()
    }
}

/// When to refresh a token that lives `lifetime`: at 80 %, or 5 minutes before expiry if that is
/// earlier, but never before half of its life.
pub(crate) fn refresh_after(lifetime: Duration) -> Duration {
    let at_80 = lifetime.mul_f64(0.8);
    let five_before = lifetime
        .saturating_sub(Duration::from_secs(300))
        .max(lifetime / 2);
    at_80.min(five_before)
}

/// Posts `form` to HubSpot's token endpoint (every grant: refresh token, authorization code,
/// client credentials) and reads its JSON answer as `T`; a refusal is classified by
/// [`classify::refresh_error`]. `answered` hears the status of every answer first.
pub(super) async fn post_token<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    base: &Url,
    form: &[(&str, &str)],
    what: &str,
    answered: impl FnOnce(u16),
) -> Result<T, Error> {
    let response = http
        .post(endpoint(base, "/oauth/v1/token"))
        .form(form)
        .send()
        .await
        .map_err(Error::from_transport)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(Error::from_transport)?;
    answered(status);
    if !(200..300).contains(&status) {
        return Err(classify::refresh_error(status, &headers, &body));
    }
    serde_json::from_slice(&body).map_err(|error| Error::BadResponse {
        what: what.into(),
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests;
