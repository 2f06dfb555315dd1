//! Credentials: the static private-app token and OAuth access tokens, each bound to a
//! `Grant` (one account, one HubSpot user or none, a set of scopes); and the authorization
//! server's state (`OAuth`: codes, refresh tokens, consent policy, browser sessions).
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/authentication/manage-oauth-tokens>

mod codes;
mod policy;
mod refresh;
mod sessions;

use std::collections::HashMap;

use rand::Rng;

pub use codes::{CodeRefused, Codes};
pub use policy::{Policy, ScopeLimit};
pub use refresh::{RefreshRefused, RefreshTokens};
pub use sessions::{AuthorizeRequest, Sessions};

/// How an access token was obtained, as far as limits and headers care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    PrivateApp,
    OAuth { expires_ms: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    Unknown,
    Expired { ago_ms: i64 },
}

/// Which scopes a credential carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scopes {
    /// The configured set, which `Control::set_scopes` changes at runtime: the private-app
    /// token and the configured refresh token.
    Configured,
    /// Fixed when a user consented.
    Granted(Vec<String>),
}

/// What a credential lets its bearer do: act in one account as one HubSpot user (`None`: the
/// app itself, as private apps and client-credentials tokens do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub portal_id: i64,
    pub user_id: Option<u64>,
    pub scopes: Scopes,
}

/// A valid access token: how it was obtained and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub caller: Caller,
    pub grant: Grant,
}

/// An app-level token (client-credentials grant): no portal, no user, its own scopes. It
/// opens the Webhooks Journal and nothing else, so it is a kind of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppToken {
    pub expires_ms: i64,
    pub scopes: Vec<String>,
}

struct Issued {
    grant: Grant,
    expires_ms: i64,
}

/// Access tokens (the API's hot path; the authorization server's state is in `OAuth`).
pub struct Tokens {
    private_token: String,
    /// The simulated portal: the private-app token's account.
    portal_id: i64,
    issued: HashMap<String, Issued>,
    apps: HashMap<String, AppToken>,
    /// The configured scopes (see `Scopes::Configured`).
    pub scopes: Vec<String>,
}

impl Tokens {
    pub fn new(private_token: &str, portal_id: i64, scopes: Vec<String>) -> Tokens {
        Tokens {
            private_token: private_token.to_string(),
            portal_id,
            issued: HashMap::new(),
            apps: HashMap::new(),
            scopes,
        }
    }

    pub fn check(&self, token: &str, now_ms: i64) -> Result<Access, Denied> {
        if token == self.private_token {
            return Ok(Access {
                caller: Caller::PrivateApp,
                grant: self.app_grant(),
            });
        }
        match self.issued.get(token) {
            Some(issued) if issued.expires_ms > now_ms => Ok(Access {
                caller: Caller::OAuth {
                    expires_ms: issued.expires_ms,
                },
                grant: issued.grant.clone(),
            }),
            Some(issued) => Err(Denied::Expired {
                ago_ms: now_ms - issued.expires_ms,
            }),
            None => Err(Denied::Unknown),
        }
    }

    /// The app itself in the simulated portal, with the configured scopes (app-level tokens,
    /// e.g. client credentials, are issued for this grant).
    pub fn app_grant(&self) -> Grant {
        Grant {
            portal_id: self.portal_id,
            user_id: None,
            scopes: Scopes::Configured,
        }
    }

    /// A new access token for `grant`, living `ttl_secs`.
    pub fn issue_for(&mut self, grant: Grant, ttl_secs: u64, now_ms: i64) -> String {
        let suffix: u64 = rand::thread_rng().gen();
        let token = format!("CJ-sim-{suffix:016x}");
        let expires_ms = now_ms + ttl_secs as i64 * 1000;
        self.issued
            .insert(token.clone(), Issued { grant, expires_ms });
        token
    }

    /// A new app token (client credentials) living `ttl_secs` with these scopes.
    pub fn issue_app(&mut self, ttl_secs: u64, scopes: Vec<String>, now_ms: i64) -> String {
        let suffix: u64 = rand::thread_rng().gen();
        let token = format!("CC-sim-{suffix:016x}");
        let expires_ms = now_ms + ttl_secs as i64 * 1000;
        self.apps
            .insert(token.clone(), AppToken { expires_ms, scopes });
        token
    }

    /// An app token, only: the other kinds are `Unknown` here.
    pub fn check_app(&self, token: &str, now_ms: i64) -> Result<&AppToken, Denied> {
        match self.apps.get(token) {
            Some(app) if app.expires_ms > now_ms => Ok(app),
            Some(app) => Err(Denied::Expired {
                ago_ms: now_ms - app.expires_ms,
            }),
            None => Err(Denied::Unknown),
        }
    }

    /// Expires every issued OAuth and app token (the static token never expires, as in
    /// HubSpot).
    pub fn expire_all(&mut self, now_ms: i64) {
        for issued in self.issued.values_mut() {
            issued.expires_ms = issued.expires_ms.min(now_ms);
        }
        for app in self.apps.values_mut() {
            app.expires_ms = app.expires_ms.min(now_ms);
        }
    }

    /// The scopes a grant carries now.
    pub fn scopes_of<'a>(&'a self, grant: &'a Grant) -> &'a [String] {
        match &grant.scopes {
            Scopes::Configured => &self.scopes,
            Scopes::Granted(scopes) => scopes,
        }
    }

    pub fn allows(&self, grant: &Grant, required: &str) -> bool {
        self.scopes_of(grant).iter().any(|scope| scope == required)
    }
}

/// The authorization server: what `/oauth/authorize` and `/oauth/v1/token` keep between calls.
pub struct OAuth {
    pub codes: Codes,
    pub refresh: RefreshTokens,
    pub policy: Policy,
    pub sessions: Sessions,
    /// `POST /oauth/v1/token` answers 503 while set.
    pub token_endpoint_down: bool,
}

/// 128 random bits shaped like a UUID, as HubSpot's codes and refresh tokens are.
pub fn random_uuid() -> String {
    let bits: u128 = rand::thread_rng().gen();
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_expire_after_ttl_or_on_demand() {
        let mut tokens = Tokens::new("pat", 7, vec!["a".into()]);
        let private = tokens.check("pat", 0).unwrap();
        assert_eq!(private.caller, Caller::PrivateApp);
        assert_eq!((private.grant.portal_id, private.grant.user_id), (7, None));
        assert_eq!(tokens.check("nope", 0), Err(Denied::Unknown));
        let token = tokens.issue_for(tokens.app_grant(), 10, 1_000);
        assert_eq!(
            tokens.check(&token, 10_999).unwrap().caller,
            Caller::OAuth { expires_ms: 11_000 }
        );
        assert_eq!(
            tokens.check(&token, 11_000),
            Err(Denied::Expired { ago_ms: 0 })
        );
        let fresh = tokens.issue_for(tokens.app_grant(), 10, 2_000);
        tokens.expire_all(3_000);
        assert_eq!(
            tokens.check(&fresh, 3_500),
            Err(Denied::Expired { ago_ms: 500 })
        );
        assert_eq!(
            tokens.check("pat", 3_500).unwrap().caller,
            Caller::PrivateApp
        );
    }

    #[test]
    fn app_tokens_are_a_kind_of_their_own() {
        let mut tokens = Tokens::new("pat", 7, vec![]);
        let app = tokens.issue_app(10, vec!["developer.webhooks_journal.read".into()], 0);
        assert_eq!(tokens.check_app(&app, 9_999).unwrap().scopes.len(), 1);
        assert_eq!(
            tokens.check(&app, 0),
            Err(Denied::Unknown),
            "not a CRM token"
        );
        assert_eq!(tokens.check_app("pat", 0), Err(Denied::Unknown));
        tokens.expire_all(5_000);
        assert_eq!(
            tokens.check_app(&app, 5_500),
            Err(Denied::Expired { ago_ms: 500 })
        );
    }

    #[test]
    fn a_token_carries_its_own_grant_and_scopes() {
        let mut tokens = Tokens::new("pat", 7, vec!["configured".into()]);
        let grant = Grant {
            portal_id: 8,
            user_id: Some(42),
            scopes: Scopes::Granted(vec!["granted".into()]),
        };
        let token = tokens.issue_for(grant.clone(), 10, 0);
        let access = tokens.check(&token, 1).unwrap();
        assert_eq!(access.grant, grant);
        assert!(tokens.allows(&access.grant, "granted"));
        assert!(!tokens.allows(&access.grant, "configured"));
        let app = tokens.check("pat", 1).unwrap().grant;
        assert!(tokens.allows(&app, "configured"));
        tokens.scopes = vec!["changed".into()];
        assert!(tokens.allows(&app, "changed") && !tokens.allows(&app, "configured"));
    }
}
