//! OAuth: refresh-token grant (§5.1 step 3) and access-token introspection (§5.1 step 4).

use serde_json::json;

use super::reply::{self, Reply};
use super::Request;
use crate::sim::auth::{Caller, Denied};
use crate::sim::control::Shared;
use crate::sim::{time, WebhookTarget};

/// Routes `/oauth/...`; returns the stats label and the answer.
pub fn handle(shared: &Shared, request: &Request) -> (&'static str, Reply) {
    let segments = request.segments();
    match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["oauth", "v1" | "v3" | "2026-03", "token"]) => {
            ("POST /oauth/v1/token", token(shared, request))
        }
        ("GET", ["oauth", "v1", "access-tokens", token]) => (
            "GET /oauth/v1/access-tokens/{token}",
            introspect(shared, token),
        ),
        _ => (
            "unknown",
            reply::error(404, "NOT_FOUND", "No such OAuth endpoint"),
        ),
    }
}

pub(super) fn oauth_error(status: &str, error: &str, message: &str) -> Reply {
    reply::json(
        400,
        &json!({"status": status, "message": message, "correlationId": reply::correlation_id(),
                             "error": error, "error_description": message}),
    )
}

fn token(shared: &Shared, request: &Request) -> Reply {
    let config = &shared.config;
    if request.form("grant_type").as_deref() == Some("client_credentials") {
        return super::client_credentials::grant(shared, request);
    }
    if request.form("grant_type").as_deref() != Some("refresh_token") {
        return oauth_error(
            "BAD_GRANT_TYPE",
            "unsupported_grant_type",
            "grant_type must be refresh_token (the simulator issues no authorization codes)",
        );
    }
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
    if request.form("refresh_token").as_deref() != Some(config.refresh_token.as_str()) {
        return oauth_error(
            "BAD_REFRESH_TOKEN",
            "invalid_grant",
            "missing or unknown refresh token",
        );
    }
    let mut tokens = shared.tokens.lock();
    let access_token = tokens.issue(config.token_ttl_secs, time::now_ms());
    let user_id = shared
        .portal
        .lock()
        .owners
        .first()
        .map(|owner| owner.user_id);
    reply::json(
        200,
        &json!({
            "token_type": "bearer",
            "refresh_token": config.refresh_token,
            "access_token": access_token,
            "expires_in": config.token_ttl_secs,
            "hub_id": config.portal_id,
            "user_id": user_id,
            "scopes": tokens.scopes,
            "token_use": "access_token",
        }),
    )
}

fn introspect(shared: &Shared, token: &str) -> Reply {
    let now = time::now_ms();
    let tokens = shared.tokens.lock();
    let expires_in = match tokens.check(token, now) {
        Ok(Caller::OAuth { expires_ms }) => (expires_ms - now) / 1000,
        // Static tokens never expire; report a day so clients do not try to refresh.
        Ok(Caller::PrivateApp) => 86_400,
        Err(Denied::Expired { .. }) => {
            return reply::error(400, "EXPIRED_AUTHENTICATION", "The token has expired")
        }
        Err(Denied::Unknown) => return reply::error(404, "OBJECT_NOT_FOUND", "Token not found"),
    };
    let config = &shared.config;
    let portal = shared.portal.lock();
    let user = portal.owners.first();
    let app_id = shared
        .webhook_target()
        .map_or(WebhookTarget::DEFAULT_APP_ID, |target| target.app_id);
    reply::json(
        200,
        &json!({
            "token": token,
            "user": user.map(|owner| owner.email.clone()),
            "user_id": user.map(|owner| owner.user_id),
            "hub_id": config.portal_id,
            "hub_domain": format!("sim-{}.hubspot.example", config.portal_id),
            "app_id": app_id,
            "scopes": tokens.scopes,
            "expires_in": expires_in,
            "token_type": "access",
            "signed_access_token": {"hubId": config.portal_id, "userId": user.map(|owner| owner.user_id), "appId": app_id,
                                    "expiresAt": now + expires_in * 1000, "hublet": "na1", "scopes": tokens.scopes.join(" ")},
        }),
    )
}
