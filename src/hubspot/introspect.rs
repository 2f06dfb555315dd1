//! Startup: who the token belongs to (portal, user, hublet) and whether it has the scopes we need.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::client::{Call, Client};
use super::error::{Error, MissingScope};
use super::model::ObjectType;
use crate::secret::Secret;

/// What token introspection told us about the connected portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The portal (account) id: `portalId` in webhooks.
    pub hub_id: i64,
    pub hub_domain: Option<String>,
    /// The HubSpot user who installed the app / created the token.
    pub user_email: Option<String>,
    pub user_id: Option<i64>,
    pub app_id: Option<i64>,
    pub scopes: Vec<String>,
    /// `na1`, `eu1`, ...
    pub hublet: String,
}

impl TokenInfo {
    /// The HubSpot UI host for this portal: `https://app.hubspot.com` or `https://app-eu1.hubspot.com`.
    pub fn ui_base(&self) -> String {
        match self.hublet.as_str() {
            "" | "na1" => "https://app.hubspot.com".to_owned(),
            hublet => format!("https://app-{hublet}.hubspot.com"),
        }
    }

    /// A link that opens the record in HubSpot (tasks have no record page: their index).
    pub fn record_url(&self, object: ObjectType, id: i64) -> String {
        match object {
            ObjectType::Tasks => format!("{}/tasks/{}", self.ui_base(), self.hub_id),
            _ => format!(
                "{}/contacts/{}/record/{}/{id}",
                self.ui_base(),
                self.hub_id,
                object.type_id()
            ),
        }
    }
}

/// What the gateway will do with the token, to check its scopes against.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    pub read: Vec<ObjectType>,
    pub owners: bool,
    /// Object types the export writes.
    pub write: Vec<ObjectType>,
}

impl Requirements {
    /// Each needed scope with what it is for, e.g. `crm.objects.contacts.read` → "reading contacts, tasks".
    pub fn scopes(&self) -> BTreeMap<&'static str, Vec<String>> {
        let mut needs: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
        for object in &self.read {
            needs
                .entry(object.read_scope())
                .or_default()
                .push(format!("reading {object}"));
        }
        if self.owners {
            needs
                .entry("crm.objects.owners.read")
                .or_default()
                .push("reading owners".into());
        }
        for object in &self.write {
            needs
                .entry(object.write_scope())
                .or_default()
                .push(format!("exporting {object}"));
        }
        needs
    }

    /// The needed scopes `granted` lacks, each with its purpose.
    pub fn missing(&self, granted: &[String]) -> Vec<MissingScope> {
        self.scopes()
            .into_iter()
            .filter(|(scope, _)| !granted.iter().any(|g| g == scope))
            .map(|(scope, purposes)| MissingScope {
                scope: scope.to_owned(),
                needed_for: purposes.join(", "),
            })
            .collect()
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireTokenInfo {
    #[serde(deserialize_with = "super::wire::id")]
    hub_id: i64,
    #[serde(default)]
    hub_domain: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    user_id: Option<i64>,
    #[serde(default)]
    app_id: Option<i64>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    signed_access_token: Option<WireSigned>,
}

#[derive(Debug, Deserialize)]
struct WireSigned {
    #[serde(default)]
    hublet: Option<String>,
}

impl WireTokenInfo {
    pub(crate) fn into_info(self, access_token: &str, refresh_token: Option<&str>) -> TokenInfo {
        let hublet = self
            .signed_access_token
            .and_then(|s| s.hublet)
            .filter(|h| !h.is_empty())
            .or_else(|| hublet_from_token(access_token))
            .or_else(|| refresh_token.and_then(hublet_from_token))
            .unwrap_or_else(|| "na1".to_owned());
        TokenInfo {
            hub_id: self.hub_id,
            hub_domain: self.hub_domain,
            user_email: self.user.filter(|u| !u.is_empty()),
            user_id: self.user_id,
            app_id: self.app_id,
            scopes: self.scopes,
            hublet,
        }
    }
}

/// `pat-eu1-…` (private app) or `eu1-…` (OAuth refresh token) → `eu1`.
pub(crate) fn hublet_from_token(token: &str) -> Option<String> {
    let token = token.strip_prefix("pat-").unwrap_or(token);
    let (prefix, _) = token.split_once('-')?;
    let is_hublet = prefix.len() >= 3
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && prefix.starts_with(|c: char| c.is_ascii_lowercase())
        && prefix.ends_with(|c: char| c.is_ascii_digit());
    is_hublet.then(|| prefix.to_owned())
}

impl Client {
    /// Introspects the token: portal, connecting user, scopes, hublet.
    pub async fn introspect(&self) -> Result<TokenInfo, Error> {
        let inner = &self.inner;
        let token = inner.auth.token(&inner.retry, &inner.stats).await?;
        // The label, not the path, goes into logs and errors: the path carries the token.
        let path = format!("/oauth/v1/access-tokens/{}", token.secret.expose());
        let wire: WireTokenInfo = self
            .json(&Call::get(path, "introspect the access token"))
            .await?;
        let refresh = inner.auth.refresh_token();
        Ok(wire.into_info(
            token.secret.expose(),
            refresh.as_ref().map(Secret::expose).map(String::as_str),
        ))
    }

    /// Startup check: introspects, then fails naming every scope `needs` lacks and its purpose.
    pub async fn connect(&self, needs: &Requirements) -> Result<TokenInfo, Error> {
        let info = self.introspect().await?;
        let missing = needs.missing(&info.scopes);
        if !missing.is_empty() {
            return Err(Error::MissingScopes { missing });
        }
        tracing::info!(
            hub_id = info.hub_id,
            user = info.user_email.as_deref().unwrap_or("?"),
            hublet = %info.hublet,
            "connected to HubSpot"
        );
        let _ = self.inner.token_info.set(info.clone());
        Ok(info)
    }

    /// What `connect` learned, once it has run.
    pub fn token_info(&self) -> Option<&TokenInfo> {
        self.inner.token_info.get()
    }

    /// The current refresh token, to persist when HubSpot rotated it (OAuth only).
    pub fn refresh_token(&self) -> Option<Secret<String>> {
        self.inner.auth.refresh_token()
    }
}

#[cfg(test)]
mod tests;
