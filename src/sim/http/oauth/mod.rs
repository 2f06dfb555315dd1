//! HubSpot's OAuth on the simulator's base URL, which stands for both
//! `https://app.hubspot.com` (the authorize pages) and `https://api.hubapi.com` (the rest).
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /oauth/authorize`, `GET /oauth/{portal_id}/authorize` | the authorize pages (see `authorize`) |
//! | `POST /oauth/authorize/{sign-in,account,consent,sign-out}` | their form posts |
//! | `POST /oauth/v1/token`, `/oauth/v3/token`, `/oauth/2026-03/token` | `grant_type` = `authorization_code`, `refresh_token` (see `token`) or `client_credentials` (an app token for the journal) |
//! | `GET /oauth/v1/access-tokens/{token}` | access-token info: the token's own account and user |
//! | `GET /oauth/v1/refresh-tokens/{token}` | refresh-token info (404 once revoked or rotated away) |
//! | `DELETE /oauth/v1/refresh-tokens/{token}` | revokes it: 204, later 404; access tokens live on |
//!
//! Token errors carry both HubSpot's legacy fields and RFC 6749's: 400
//! `{"status": "BAD_AUTH_CODE", "message", "correlationId", "error": "invalid_grant",
//! "error_description"}`. Statuses: `BAD_GRANT_TYPE` (unsupported_grant_type), `BAD_CLIENT_ID`
//! / `BAD_CLIENT_SECRET` (invalid_client), `BAD_AUTH_CODE` (unknown, used, expired or another
//! client's code), `BAD_REDIRECT_URI` (not the authorize request's), `BAD_REFRESH_TOKEN`
//! (unknown, revoked, rotated past its grace), all `invalid_grant`. While
//! `Control::set_token_endpoint_down(true)`, the token endpoint answers 503.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/authentication/manage-oauth-tokens>

mod authorize;
mod client_credentials;
mod introspect;
mod pages;
mod session;
mod token;

use serde_json::json;

use super::reply::{self, Reply};
use super::Request;
use crate::sim::control::Shared;

/// Routes `/oauth/...`; returns the stats label and the answer.
pub fn handle(shared: &Shared, request: &Request) -> (&'static str, Reply) {
    let segments = request.segments();
    match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["oauth", "v1" | "v3" | "2026-03", "token"]) => {
            ("POST /oauth/v1/token", token::handle(shared, request))
        }
        ("GET", ["oauth", "v1", "access-tokens", token]) => (
            "GET /oauth/v1/access-tokens/{token}",
            introspect::access_token(shared, token),
        ),
        ("GET", ["oauth", "v1", "refresh-tokens", token]) => (
            "GET /oauth/v1/refresh-tokens/{token}",
            introspect::refresh_token(shared, token),
        ),
        ("DELETE", ["oauth", "v1", "refresh-tokens", token]) => (
            "DELETE /oauth/v1/refresh-tokens/{token}",
            introspect::revoke(shared, token),
        ),
        ("GET", ["oauth", "authorize"]) => (
            "GET /oauth/authorize",
            authorize::open(shared, request, None),
        ),
        ("GET", ["oauth", portal_id, "authorize"]) => match portal_id.parse() {
            Ok(portal_id) => (
                "GET /oauth/{portal_id}/authorize",
                authorize::open(shared, request, Some(portal_id)),
            ),
            Err(_) => not_found(),
        },
        ("POST", ["oauth", "authorize", step]) => (
            "POST /oauth/authorize/{step}",
            authorize::post(shared, request, step),
        ),
        _ => not_found(),
    }
}

fn not_found() -> (&'static str, Reply) {
    (
        "unknown",
        reply::error(404, "NOT_FOUND", "No such OAuth endpoint"),
    )
}

/// A token-endpoint error in HubSpot's shape: legacy `status`/`message` plus RFC 6749's
/// `error`/`error_description`.
fn oauth_error(status: &str, error: &str, message: &str) -> Reply {
    reply::json(
        400,
        &json!({"status": status, "message": message, "correlationId": reply::correlation_id(),
                "error": error, "error_description": message}),
    )
}
