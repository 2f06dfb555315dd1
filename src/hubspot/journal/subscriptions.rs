//! The app's journal subscriptions (`/webhooks-journal/subscriptions/2026-03`): create or
//! update one, list them, drop every subscription of a portal. The bodies are the caller's
//! (`journal::subscriptions` decides what the mirror needs).

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::super::error::Error;
use super::{parse, JournalClient};

pub const SUBSCRIPTIONS_PATH: &str = "/webhooks-journal/subscriptions/2026-03";

#[derive(Deserialize)]
struct Listed {
    #[serde(default)]
    results: Vec<Value>,
}

impl JournalClient {
    /// Creates the subscription `body` describes, or updates the one of the same type, portal
    /// and object type; HubSpot's answer (with its `id`).
    pub async fn upsert_subscription(&self, body: &Value) -> Result<Value, Error> {
        let label = "journal subscription upsert";
        let answer = self
            .call(Method::POST, SUBSCRIPTIONS_PATH, 0, Some(body), label)
            .await?;
        parse(&answer, label)
    }

    /// Every subscription of the app.
    pub async fn subscriptions(&self) -> Result<Vec<Value>, Error> {
        let label = "journal subscriptions list";
        let answer = self
            .call(Method::GET, SUBSCRIPTIONS_PATH, 0, None, label)
            .await?;
        Ok(parse::<Listed>(&answer, label)?.results)
    }

    /// Drops every subscription of `portal`.
    pub async fn delete_portal_subscriptions(&self, portal: i64) -> Result<(), Error> {
        let label = "journal subscriptions delete portal";
        let path = format!("{SUBSCRIPTIONS_PATH}/portals/{portal}");
        self.call(Method::DELETE, &path, portal, None, label)
            .await
            .map(drop)
    }
}
