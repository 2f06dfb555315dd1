//! OAuth's client-credentials grant (§9.1): an app-level token for the Webhooks Journal,
//! scoped as asked, with no refresh token.

use serde_json::json;

use super::oauth::oauth_error;
use super::reply::{self, Reply};
use super::Request;
use crate::sim::control::Shared;
use crate::sim::{journal, time};

pub fn grant(shared: &Shared, request: &Request) -> Reply {
    let config = &shared.config;
    if request.form("client_id").as_deref() != Some(config.client_id.as_str()) {
        return oauth_error(
            "BAD_CLIENT_ID",
            "invalid_client",
            "missing or unknown client id",
        );
    }
    if request.form("client_secret").as_deref() != Some(config.client_secret.as_str()) {
        return oauth_error(
            "BAD_CLIENT_SECRET",
            "invalid_client",
            "missing or invalid client secret",
        );
    }
    let requested = request.form("scope").unwrap_or_default();
    let scopes: Vec<String> = requested.split_whitespace().map(str::to_string).collect();
    if scopes.is_empty() {
        return oauth_error(
            "BAD_SCOPES",
            "invalid_scope",
            "scope is required (space-separated)",
        );
    }
    let mut tokens = shared.tokens.lock();
    let unknown: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|scope| {
            !journal::SCOPES.contains(scope) && !tokens.scopes.iter().any(|s| s == scope)
        })
        .collect();
    if !unknown.is_empty() {
        return oauth_error(
            "BAD_SCOPES",
            "invalid_scope",
            &format!("the app does not have the scopes {}", unknown.join(" ")),
        );
    }
    let access_token = tokens.issue_app(config.token_ttl_secs, scopes, time::now_ms());
    reply::json(
        200,
        &json!({
            "access_token": access_token,
            "expires_in": config.token_ttl_secs,
            "token_type": "bearer",
            "token_use": "client_credentials",
        }),
    )
}
