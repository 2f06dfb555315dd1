//! The token endpoint: form-encoded `grant_type` plus its fields, one
//! function per grant type. Answers `{access_token, refresh_token, expires_in, token_type,
//! hub_id, user_id, scopes, token_use}`; errors as `super` lists them.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/authentication/manage-oauth-tokens>

use std::borrow::Cow;

use serde_json::json;

use super::oauth_error;
use crate::sim::auth::{CodeRefused, Grant, RefreshRefused};
use crate::sim::control::Shared;
use crate::sim::http::reply::{self, Reply};
use crate::sim::http::Request;
use crate::time;

/// A refused token request: HubSpot's legacy `status`, RFC 6749's `error`, the message.
pub(super) struct Refused(
    pub &'static str,
    pub &'static str,
    pub std::borrow::Cow<'static, str>,
);

const BAD_GRANT_TYPE: Refused = Refused(
    "BAD_GRANT_TYPE",
    "unsupported_grant_type",
    Cow::Borrowed("grant_type must be authorization_code, refresh_token or client_credentials"),
);
const BAD_CLIENT_ID: Refused = Refused(
    "BAD_CLIENT_ID",
    "invalid_client",
    Cow::Borrowed("missing or unknown client id"),
);
const BAD_CLIENT_SECRET: Refused = Refused(
    "BAD_CLIENT_SECRET",
    "invalid_client",
    Cow::Borrowed("missing or invalid client secret"),
);

pub fn handle(shared: &Shared, request: &Request) -> Reply {
    if shared.oauth.lock().token_endpoint_down {
        return reply::fault(503);
    }
    let grant_type = request.form("grant_type").unwrap_or_default();
    let answer = match grant_type.as_str() {
        "authorization_code" => authorization_code(shared, request),
        "refresh_token" => refresh_token(shared, request),
        "client_credentials" => super::client_credentials::grant(shared, request),
        _ => Err(BAD_GRANT_TYPE),
    };
    answer.unwrap_or_else(|Refused(status, error, message)| oauth_error(status, error, &message))
}

/// The app's client id and secret must both match; returns the client id.
pub(super) fn client(shared: &Shared, request: &Request) -> Result<String, Refused> {
    let config = &shared.config;
    let client_id = request.form("client_id").unwrap_or_default();
    if client_id != config.client_id {
        return Err(BAD_CLIENT_ID);
    }
    if request.form("client_secret").as_deref() != Some(config.client_secret.as_str()) {
        return Err(BAD_CLIENT_SECRET);
    }
    Ok(client_id)
}

/// `code` + `redirect_uri` (the authorize request's) → a new access and refresh token.
fn authorization_code(shared: &Shared, request: &Request) -> Result<Reply, Refused> {
    let client_id = client(shared, request)?;
    let code = request.form("code").unwrap_or_default();
    let redirect_uri = request.form("redirect_uri").unwrap_or_default();
    let mut oauth = shared.oauth.lock();
    let redeemed = oauth
        .codes
        .redeem(&code, &client_id, &redirect_uri, time::now_ms());
    let bad_code = |message| Refused("BAD_AUTH_CODE", "invalid_grant", Cow::Borrowed(message));
    let grant = match redeemed {
        Ok(grant) => grant,
        Err(CodeRefused::Unknown) => return Err(bad_code("missing or unknown auth code")),
        Err(CodeRefused::Expired) => return Err(bad_code("auth code expired")),
        Err(CodeRefused::OtherClient) => {
            return Err(bad_code("auth code was issued to another client"))
        }
        Err(CodeRefused::OtherRedirect) => {
            return Err(Refused(
                "BAD_REDIRECT_URI",
                "invalid_grant",
                Cow::Borrowed(
                    "redirect_uri does not match the redirect_uri the auth code was issued for",
                ),
            ))
        }
    };
    let refresh_token = oauth.refresh.issue(&client_id, grant.clone());
    drop(oauth);
    Ok(tokens(shared, &grant, &refresh_token))
}

/// `refresh_token` → a new access token (and, when rotating, a new refresh token).
fn refresh_token(shared: &Shared, request: &Request) -> Result<Reply, Refused> {
    let client_id = client(shared, request)?;
    let token = request.form("refresh_token").unwrap_or_default();
    let redeemed = shared
        .oauth
        .lock()
        .refresh
        .redeem(&token, &client_id, time::now_ms());
    let bad_token = |message| Refused("BAD_REFRESH_TOKEN", "invalid_grant", Cow::Borrowed(message));
    match redeemed {
        Ok((grant, refresh_token)) => Ok(tokens(shared, &grant, &refresh_token)),
        Err(RefreshRefused::Unknown) => Err(bad_token("missing or invalid refresh token")),
        Err(RefreshRefused::OtherClient) => {
            Err(bad_token("refresh token was issued to another client"))
        }
    }
}

/// Issues an access token for `grant` and answers it with `refresh_token`.
fn tokens(shared: &Shared, grant: &Grant, refresh_token: &str) -> Reply {
    let ttl_secs = shared.config.token_ttl_secs;
    let mut tokens = shared.tokens.lock();
    let access_token = tokens.issue_for(grant.clone(), ttl_secs, time::now_ms());
    reply::json(
        200,
        &json!({
            "token_type": "bearer",
            "refresh_token": refresh_token,
            "access_token": access_token,
            "expires_in": ttl_secs,
            "hub_id": grant.portal_id,
            "user_id": grant.user_id,
            "scopes": tokens.scopes_of(grant),
            "token_use": "access_token",
        }),
    )
}
