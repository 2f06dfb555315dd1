//! OAuth's client-credentials grant: an app-level token for the Webhooks Journal, scoped as
//! asked, with no refresh token.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/latest/webhooks-journal/guide>

use std::borrow::Cow;

use serde_json::json;

use super::token::{client, Refused};
use crate::sim::control::Shared;
use crate::sim::http::reply::{self, Reply};
use crate::sim::http::Request;
use crate::sim::journal;
use crate::time;

pub(super) fn grant(shared: &Shared, request: &Request) -> Result<Reply, Refused> {
    let config = &shared.config;
    client(shared, request)?;
    let requested = request.form("scope").unwrap_or_default();
    let scopes: Vec<String> = requested.split_whitespace().map(str::to_string).collect();
    if scopes.is_empty() {
        return Err(Refused(
            "BAD_SCOPES",
            "invalid_scope",
            Cow::Borrowed("scope is required (space-separated)"),
        ));
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
        return Err(Refused(
            "BAD_SCOPES",
            "invalid_scope",
            Cow::Owned(format!(
                "the app does not have the scopes {}",
                unknown.join(" ")
            )),
        ));
    }
    let access_token = tokens.issue_app(config.token_ttl_secs, scopes, time::now_ms());
    Ok(reply::json(
        200,
        &json!({
            "access_token": access_token,
            "expires_in": config.token_ttl_secs,
            "token_type": "bearer",
            "token_use": "client_credentials",
        }),
    ))
}
