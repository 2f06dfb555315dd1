//! `Control` for HubSpot accounts, users and the OAuth server: who can sign in where, what
//! they can grant, and the authorization server's switches (see `http::oauth`).

use std::time::Duration;

use serde::Serialize;

use super::Control;
use crate::sim::accounts::{hub_domain, User};
use crate::sim::auth::ScopeLimit;
use crate::time;

/// A HubSpot account (portal) the simulator knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub portal_id: i64,
    pub hub_domain: String,
    /// Its active users.
    pub user_ids: Vec<u64>,
}

/// A refresh token the simulator issued (or was configured with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token: String,
    pub portal_id: i64,
    pub user_id: Option<u64>,
    /// Not revoked, nor rotated away past its grace.
    pub usable: bool,
}

impl Control {
    /// Every refresh token: a test revokes one as an uninstall would, or checks an app
    /// revoked its own.
    pub fn refresh_tokens(&self) -> Vec<RefreshToken> {
        let oauth = self.shared.oauth.lock();
        let mut tokens: Vec<RefreshToken> = oauth
            .refresh
            .list(time::now_ms())
            .into_iter()
            .map(|(token, grant, usable)| RefreshToken {
                token,
                portal_id: grant.portal_id,
                user_id: grant.user_id,
                usable,
            })
            .collect();
        tokens.sort_by(|a, b| a.token.cmp(&b.token));
        tokens
    }

    /// Revokes a refresh token, as HubSpot does when the app is uninstalled; false if unknown.
    pub fn revoke_refresh_token(&self, token: &str) -> bool {
        self.shared.oauth.lock().refresh.revoke(token)
    }

    /// The simulated portal first, then `config.other_accounts`.
    pub fn accounts(&self) -> Vec<Account> {
        let users = self.shared.users();
        let ids: Vec<i64> = self.shared.portals().map(|(id, _)| id).collect();
        ids.into_iter()
            .map(|portal_id| Account {
                portal_id,
                hub_domain: hub_domain(portal_id),
                user_ids: users
                    .iter()
                    .filter(|user| user.portal_ids.contains(&portal_id))
                    .map(|user| user.user_id)
                    .collect(),
            })
            .collect()
    }

    /// Every HubSpot user (the simulated portal's owners first) with their accounts.
    pub fn users(&self) -> Vec<User> {
        self.shared.users()
    }

    /// Makes `email` an active user (an owner) of account `portal_id`; an email already known
    /// keeps its user id. Returns the user id.
    pub fn add_user(&self, email: &str, portal_id: i64) -> anyhow::Result<u64> {
        self.shared.add_user(email, portal_id)
    }

    /// Limits (`Some`) or frees (`None`) what consents may grant: scopes outside the limit are
    /// left out when optional and fail the authorize page when required.
    pub fn limit_scopes(&self, limit: ScopeLimit, scopes: Option<Vec<String>>) {
        self.shared.oauth.lock().policy.limit(limit, scopes);
    }

    /// The app's registered redirect URLs (empty: any https URL or http on loopback).
    pub fn set_redirect_uris(&self, uris: Vec<String>) {
        self.shared.oauth.lock().policy.redirect_uris = uris;
    }

    /// Lifetime of codes issued from now on.
    pub fn set_code_ttl(&self, ttl: Duration) {
        self.shared.oauth.lock().codes.ttl_ms = ttl.as_millis() as u64;
    }

    /// Expires every outstanding authorization code now.
    pub fn expire_codes(&self) {
        self.shared.oauth.lock().codes.expire_all(time::now_ms());
    }

    /// `Some(grace)`: each refresh answers a new refresh token; the used one keeps working
    /// for `grace`. `None`: HubSpot's behaviour, the refresh token never changes.
    pub fn set_refresh_rotation(&self, grace: Option<Duration>) {
        self.shared.oauth.lock().refresh.rotation_grace_ms =
            grace.map(|grace| grace.as_millis() as u64);
    }

    /// While down, `POST /oauth/v1/token` (and v3) answers 503; nothing else changes.
    pub fn set_token_endpoint_down(&self, down: bool) {
        self.shared.oauth.lock().token_endpoint_down = down;
    }
}
