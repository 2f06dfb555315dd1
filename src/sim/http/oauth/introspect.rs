//! Token info and revocation: each token answers its own account and user.
//! The private-app token answers the simulated portal's first owner (HubSpot's token-info
//! endpoint is for OAuth tokens; the gateway uses it to learn its portal either way).
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/authentication/manage-oauth-tokens>

use serde_json::json;

use crate::sim::accounts::hub_domain;
use crate::sim::auth::{Caller, Denied, Grant};
use crate::sim::control::Shared;
use crate::sim::http::reply::{self, Reply};
use crate::sim::WebhookTarget;
use crate::time;

/// Static tokens never expire; info reports a day so clients do not try to refresh.
const PRIVATE_APP_EXPIRES_IN_SECS: i64 = 86_400;

/// `GET /oauth/v1/access-tokens/{token}`.
pub fn access_token(shared: &Shared, token: &str) -> Reply {
    let now = time::now_ms();
    let (access, scopes) = {
        let tokens = shared.tokens.lock();
        match tokens.check(token, now) {
            Ok(access) => {
                let scopes = tokens.scopes_of(&access.grant).to_vec();
                (access, scopes)
            }
            Err(Denied::Expired { .. }) => {
                return reply::error(400, "EXPIRED_AUTHENTICATION", "The token has expired")
            }
            Err(Denied::Unknown) => {
                return reply::error(404, "OBJECT_NOT_FOUND", "Token not found")
            }
        }
    };
    let (expires_in, user_id) = match access.caller {
        Caller::OAuth { expires_ms } => ((expires_ms - now) / 1000, access.grant.user_id),
        Caller::PrivateApp => {
            let first = shared
                .portal
                .lock()
                .owners
                .first()
                .map(|owner| owner.user_id);
            (PRIVATE_APP_EXPIRES_IN_SECS, first)
        }
    };
    let email = user_id
        .and_then(|id| shared.user_by_id(id))
        .map(|user| user.email);
    let app_id = shared
        .webhook_target()
        .map_or(WebhookTarget::DEFAULT_APP_ID, |target| target.app_id);
    let hub_id = access.grant.portal_id;
    reply::json(
        200,
        &json!({
            "token": token,
            "user": email,
            "user_id": user_id,
            "hub_id": hub_id,
            "hub_domain": hub_domain(hub_id),
            "app_id": app_id,
            "scopes": scopes,
            "expires_in": expires_in,
            "token_type": "access",
            "is_private_distribution": false,
            "signed_access_token": {"hubId": hub_id, "userId": user_id, "installingUserId": user_id,
                                    "appId": app_id, "expiresAt": now + expires_in * 1000, "hublet": "na1",
                                    "scopes": scopes.join(" "), "isUserLevel": false,
                                    "isServiceAccount": false, "isPrivateDistribution": false},
        }),
    )
}

/// `GET /oauth/v1/refresh-tokens/{token}`.
pub fn refresh_token(shared: &Shared, token: &str) -> Reply {
    let known = {
        let oauth = shared.oauth.lock();
        oauth
            .refresh
            .info(token, time::now_ms())
            .map(|(grant, client_id)| (grant.clone(), client_id.to_string()))
    };
    let Some((grant, client_id)) = known else {
        return refresh_not_found();
    };
    let scopes = scopes_of(shared, &grant);
    let email = grant
        .user_id
        .and_then(|id| shared.user_by_id(id))
        .map(|user| user.email);
    reply::json(
        200,
        &json!({
            "token": token,
            "user": email,
            "user_id": grant.user_id,
            "hub_id": grant.portal_id,
            "hub_domain": hub_domain(grant.portal_id),
            "client_id": client_id,
            "scopes": scopes,
            "token_type": "refresh",
        }),
    )
}

/// `DELETE /oauth/v1/refresh-tokens/{token}`: 204; access tokens already issued live on.
pub fn revoke(shared: &Shared, token: &str) -> Reply {
    if shared.oauth.lock().refresh.revoke(token) {
        reply::empty(204)
    } else {
        refresh_not_found()
    }
}

fn scopes_of(shared: &Shared, grant: &Grant) -> Vec<String> {
    shared.tokens.lock().scopes_of(grant).to_vec()
}

fn refresh_not_found() -> Reply {
    reply::error(404, "OBJECT_NOT_FOUND", "Refresh token not found")
}
