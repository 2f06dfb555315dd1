//! Access tokens: the static private-app token, OAuth tokens issued by refresh (§5), and
//! app tokens of the client-credentials grant (§9.1).

use std::collections::HashMap;

use rand::Rng;

/// Who is calling, as far as limits and headers care.
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

/// An app-level token (client-credentials grant): no portal, no user, its own scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppToken {
    pub expires_ms: i64,
    pub scopes: Vec<String>,
}

pub struct Tokens {
    private_token: String,
    issued: HashMap<String, i64>,
    apps: HashMap<String, AppToken>,
    pub scopes: Vec<String>,
}

impl Tokens {
    pub fn new(private_token: &str, scopes: Vec<String>) -> Tokens {
        Tokens {
            private_token: private_token.to_string(),
            issued: HashMap::new(),
            apps: HashMap::new(),
            scopes,
        }
    }

    pub fn check(&self, token: &str, now_ms: i64) -> Result<Caller, Denied> {
        if token == self.private_token {
            return Ok(Caller::PrivateApp);
        }
        match self.issued.get(token) {
            Some(&expires_ms) if expires_ms > now_ms => Ok(Caller::OAuth { expires_ms }),
            Some(&expires_ms) => Err(Denied::Expired {
                ago_ms: now_ms - expires_ms,
            }),
            None => Err(Denied::Unknown),
        }
    }

    /// A new OAuth access token living `ttl_secs`.
    pub fn issue(&mut self, ttl_secs: u64, now_ms: i64) -> String {
        let suffix: u64 = rand::thread_rng().gen();
        let token = format!("CJ-sim-{suffix:016x}");
        self.issued
            .insert(token.clone(), now_ms + ttl_secs as i64 * 1000);
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

    /// Expires every issued OAuth and app token (the static token never expires, as in HubSpot).
    pub fn expire_all(&mut self, now_ms: i64) {
        for expires_ms in self.issued.values_mut() {
            *expires_ms = (*expires_ms).min(now_ms);
        }
        for app in self.apps.values_mut() {
            app.expires_ms = app.expires_ms.min(now_ms);
        }
    }

    pub fn missing(&self, required: &str) -> Option<String> {
        (!self.scopes.iter().any(|scope| scope == required)).then(|| required.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_expire_after_ttl_or_on_demand() {
        let mut tokens = Tokens::new("pat", vec![]);
        assert_eq!(tokens.check("pat", 0), Ok(Caller::PrivateApp));
        assert_eq!(tokens.check("nope", 0), Err(Denied::Unknown));
        let token = tokens.issue(10, 1_000);
        assert_eq!(
            tokens.check(&token, 10_999),
            Ok(Caller::OAuth { expires_ms: 11_000 })
        );
        assert_eq!(
            tokens.check(&token, 11_000),
            Err(Denied::Expired { ago_ms: 0 })
        );
        let fresh = tokens.issue(10, 2_000);
        tokens.expire_all(3_000);
        assert_eq!(
            tokens.check(&fresh, 3_500),
            Err(Denied::Expired { ago_ms: 500 })
        );
        assert_eq!(tokens.check("pat", 3_500), Ok(Caller::PrivateApp));
    }

    #[test]
    fn app_tokens_are_a_kind_of_their_own() {
        let mut tokens = Tokens::new("pat", vec![]);
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
}
