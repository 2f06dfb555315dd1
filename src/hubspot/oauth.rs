//! The OAuth app's own calls, outside any portal's [`Client`](super::Client): the authorize
//! URL, the authorization-code grant, token info for a token no client holds yet, and
//! revocation. HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/authentication/manage-oauth-tokens>

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::auth::post_token;
use super::classify;
use super::client::endpoint;
use super::error::Error;
use super::introspect::{TokenInfo, WireTokenInfo};
use crate::secret::Secret;

/// An OAuth app (client id and secret) talking to HubSpot's OAuth endpoints.
#[derive(Clone)]
pub struct App {
    http: reqwest::Client,
    api_base: Url,
    client_id: String,
    client_secret: Secret<String>,
}

/// What the authorization-code grant answers.
#[derive(Debug)]
pub struct Grant {
    pub access_token: Secret<String>,
    pub refresh_token: Secret<String>,
    pub expires_in_secs: u64,
}

#[derive(Deserialize)]
struct WireGrant {
    access_token: String,
    refresh_token: String,
    expires_in: u64,
}

/// HubSpot's authorize page for this app: `scope` and `optional_scope` space-separated.
pub fn authorize_url(
    app_base: &str,
    client_id: &str,
    redirect_uri: &str,
    required: &[String],
    optional: &[String],
    state: &str,
) -> String {
    let mut pairs = vec![
        ("client_id", client_id.to_owned()),
        ("redirect_uri", redirect_uri.to_owned()),
        ("scope", required.join(" ")),
    ];
    if !optional.is_empty() {
        pairs.push(("optional_scope", optional.join(" ")));
    }
    pairs.push(("state", state.to_owned()));
    let query: Vec<String> = pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect();
    format!(
        "{}/oauth/authorize?{}",
        app_base.trim_end_matches('/'),
        query.join("&")
    )
}

/// Percent-encodes a query value, spaces as `%20` as HubSpot's documentation writes them.
fn encode(value: &str) -> String {
    // `byte_serialize` writes a space as `+` and a literal `+` as `%2B`.
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl App {
    pub fn new(
        api_base: Url,
        client_id: String,
        client_secret: Secret<String>,
        timeout: Duration,
    ) -> Result<App, Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("hubspot-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::from_transport)?;
        Ok(App {
            http,
            api_base,
            client_id,
            client_secret,
        })
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Exchanges the code the authorize page redirected with (once: codes are single-use, so
    /// nothing here retries). A refused code is [`Error::CodeRefused`].
    pub async fn exchange_code(&self, code: &str, redirect_uri: &str) -> Result<Grant, Error> {
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose().as_str()),
            ("redirect_uri", redirect_uri),
            ("code", code),
        ];
        let wire: WireGrant = post_token(
            &self.http,
            &self.api_base,
            &form,
            "OAuth token response",
            |_| {},
        )
        .await
        .map_err(|error| match error {
            Error::ReinstallNeeded { message } => Error::CodeRefused { message },
            other => other,
        })?;
        Ok(Grant {
            access_token: Secret::new(wire.access_token),
            refresh_token: Secret::new(wire.refresh_token),
            expires_in_secs: wire.expires_in,
        })
    }

    /// Who an access token belongs to: portal, hub domain, user, scopes.
    pub async fn token_info(&self, access_token: &Secret<String>) -> Result<TokenInfo, Error> {
        let path = format!("/oauth/v1/access-tokens/{}", access_token.expose());
        let response = self
            .http
            .get(endpoint(&self.api_base, &path))
            .send()
            .await
            .map_err(Error::from_transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(Error::from_transport)?;
        if !(200..300).contains(&status) {
            return Err(classify::error_from_response(status, &headers, &body));
        }
        let wire: WireTokenInfo =
            serde_json::from_slice(&body).map_err(|e| Error::BadResponse {
                what: "token information".into(),
                reason: e.to_string(),
            })?;
        Ok(wire.into_info(access_token.expose(), None))
    }

    /// Revokes a refresh token (access tokens already issued live until they expire). One
    /// HubSpot no longer knows counts as revoked.
    pub async fn revoke(&self, refresh_token: &Secret<String>) -> Result<(), Error> {
        let path = format!("/oauth/v1/refresh-tokens/{}", refresh_token.expose());
        let response = self
            .http
            .delete(endpoint(&self.api_base, &path))
            .send()
            .await
            .map_err(Error::from_transport)?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) || status == 404 {
            return Ok(());
        }
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(Error::from_transport)?;
        Err(classify::error_from_response(status, &headers, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorize_url_lists_scopes_space_separated_and_encodes_every_value() {
        let url = authorize_url(
            "https://app.hubspot.com/",
            "id-1",
            "https://gw.example/oauth/callback",
            &[
                "crm.objects.contacts.read".into(),
                "crm.objects.owners.read".into(),
            ],
            &["crm.objects.contacts.write".into()],
            "s+t/=",
        );
        assert_eq!(
            url,
            "https://app.hubspot.com/oauth/authorize?client_id=id-1\
             &redirect_uri=https%3A%2F%2Fgw.example%2Foauth%2Fcallback\
             &scope=crm.objects.contacts.read%20crm.objects.owners.read\
             &optional_scope=crm.objects.contacts.write&state=s%2Bt%2F%3D"
        );
        let parsed = Url::parse(&url).unwrap();
        let scope = parsed.query_pairs().find(|(k, _)| k == "scope").unwrap().1;
        assert_eq!(scope, "crm.objects.contacts.read crm.objects.owners.read");
        let without = authorize_url(
            "https://a.example",
            "i",
            "https://r",
            &["s".into()],
            &[],
            "x",
        );
        assert!(!without.contains("optional_scope"), "{without}");
    }
}
