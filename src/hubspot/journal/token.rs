//! The app's client-credentials token for the Webhooks Journal: no refresh token exists, so a
//! new token is requested before the current one expires (at half its lifetime, or five
//! minutes before the end, whichever is later), and at once when HubSpot refuses it (401).
//! One request at a time; callers waiting meanwhile take its answer.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/latest/webhooks-journal/guide>

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::super::auth::post_token;
use super::super::error::Error;
use super::JournalClient;
use crate::secret::Secret;

/// A token and when to replace it.
pub(super) struct AppToken {
    pub secret: Secret<String>,
    /// Increases with each token, so that concurrent 401s ask for one new token.
    pub generation: u64,
    renew_at: Instant,
}

#[derive(Deserialize)]
struct Granted {
    access_token: String,
    expires_in: u64,
}

/// When to ask for a new token that lives `lifetime`.
fn renew_after(lifetime: Duration) -> Duration {
    let early = lifetime.saturating_sub(Duration::from_secs(300));
    early.max(lifetime / 2)
}

impl JournalClient {
    /// The current token, asking HubSpot for one when none is fresh. `refused`: the
    /// generation HubSpot just answered 401 for.
    pub(super) async fn token(&self, refused: Option<u64>) -> Result<(Secret<String>, u64), Error> {
        let mut current = self.token.lock().await;
        if let Some(token) = current.as_ref() {
            let stale = refused == Some(token.generation) || Instant::now() >= token.renew_at;
            if !stale {
                return Ok((token.secret.clone(), token.generation));
            }
        }
        let generation = current.as_ref().map_or(1, |token| token.generation + 1);
        let granted = self.grant().await?;
        let lifetime = Duration::from_secs(granted.expires_in);
        let token = AppToken {
            secret: Secret::new(granted.access_token),
            generation,
            renew_at: Instant::now() + renew_after(lifetime),
        };
        let answer = (token.secret.clone(), generation);
        *current = Some(token);
        Ok(answer)
    }

    async fn grant(&self) -> Result<Granted, Error> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose().as_str()),
            ("scope", self.scopes.as_str()),
        ];
        post_token(&self.http, &self.base, &form, TOKEN_LABEL, |status| {
            self.calls.record(TOKEN_LABEL, status)
        })
        .await
    }
}

pub(super) const TOKEN_LABEL: &str = "journal client-credentials token";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewed_well_before_expiry() {
        assert_eq!(
            renew_after(Duration::from_secs(1800)),
            Duration::from_secs(1500)
        );
        assert_eq!(
            renew_after(Duration::from_secs(60)),
            Duration::from_secs(30)
        );
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }
}
