//! What a consent may grant and where it may redirect: the app's settings (scopes, redirect
//! URLs) and the limits of an account (its subscription) or a user (their permissions: HubSpot
//! lets only Super Admins and users with Marketplace access install apps).

use std::collections::HashMap;

/// Whose limit on grantable scopes is meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeLimit {
    /// The scopes in the app's settings: a required scope outside them fails the authorize
    /// page at once (HubSpot's scope mismatch).
    App,
    /// What an account can grant (e.g. a scope its subscription lacks).
    Portal(i64),
    /// What a HubSpot user (by email) can grant.
    User(String),
}

#[derive(Debug, Default)]
pub struct Policy {
    /// `None`: the app's settings list whatever it asks for.
    app_scopes: Option<Vec<String>>,
    portal_scopes: HashMap<i64, Vec<String>>,
    /// By lowercase email.
    user_scopes: HashMap<String, Vec<String>>,
    /// The app's registered redirect URLs; empty: any https URL, or http on a loopback host.
    pub redirect_uris: Vec<String>,
}

impl Policy {
    pub fn new(redirect_uris: Vec<String>) -> Policy {
        Policy {
            redirect_uris,
            ..Policy::default()
        }
    }

    /// Sets (`Some`) or lifts (`None`) one limit.
    pub fn limit(&mut self, limit: ScopeLimit, scopes: Option<Vec<String>>) {
        match (limit, scopes) {
            (ScopeLimit::App, scopes) => self.app_scopes = scopes,
            (ScopeLimit::Portal(id), Some(scopes)) => {
                self.portal_scopes.insert(id, scopes);
            }
            (ScopeLimit::Portal(id), None) => {
                self.portal_scopes.remove(&id);
            }
            (ScopeLimit::User(email), Some(scopes)) => {
                self.user_scopes.insert(email.to_lowercase(), scopes);
            }
            (ScopeLimit::User(email), None) => {
                self.user_scopes.remove(&email.to_lowercase());
            }
        }
    }

    /// `Err` with the text of HubSpot's error page when the app may not redirect to `uri`.
    pub fn check_redirect(&self, uri: &str) -> Result<(), String> {
        let parsed = url::Url::parse(uri).map_err(|_| {
            format!("Authorization failed: the redirect URL '{uri}' is not a valid URL.")
        })?;
        if !self.redirect_uris.is_empty() && !self.redirect_uris.iter().any(|known| known == uri) {
            return Err(format!(
                "Authorization failed as the redirect URL '{uri}' doesn't match the app's registered redirect URL."
            ));
        }
        let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match parsed.scheme() {
            "https" => Ok(()),
            "http" if loopback => Ok(()),
            _ => Err(format!(
                "Authorization failed: the redirect URL '{uri}' must use https (http only for localhost)."
            )),
        }
        .and_then(|()| match parsed.fragment() {
            Some(_) => Err(format!("Authorization failed: the redirect URL '{uri}' has a fragment.")),
            None => Ok(()),
        })
    }

    /// Whether the app's settings list `scope`.
    pub fn app_has(&self, scope: &str) -> bool {
        self.app_scopes
            .as_ref()
            .is_none_or(|scopes| scopes.iter().any(|known| known == scope))
    }

    /// Whether the user `email` may grant `scope` in account `portal_id`.
    pub fn grantable(&self, portal_id: i64, email: &str, scope: &str) -> bool {
        let within = |limit: Option<&Vec<String>>| {
            limit.is_none_or(|scopes| scopes.iter().any(|known| known == scope))
        };
        self.app_has(scope)
            && within(self.portal_scopes.get(&portal_id))
            && within(self.user_scopes.get(&email.to_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_urls_follow_the_apps_settings_and_https() {
        let open = Policy::new(Vec::new());
        for ok in [
            "https://hooks.example.com/oauth/callback",
            "http://localhost:8080/cb",
            "http://127.0.0.1:9/cb?x=1",
        ] {
            assert_eq!(open.check_redirect(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/cb",
            "not a url",
            "https://a.example/cb#x",
            "ftp://a/b",
        ] {
            assert!(open.check_redirect(bad).is_err(), "{bad}");
        }
        let registered = Policy::new(vec!["https://a.example/cb".into()]);
        assert_eq!(registered.check_redirect("https://a.example/cb"), Ok(()));
        let error = registered
            .check_redirect("https://a.example/cb/")
            .unwrap_err();
        assert!(
            error.contains("doesn't match the app's registered redirect URL"),
            "{error}"
        );
    }

    #[test]
    fn scopes_are_grantable_within_every_limit() {
        let mut policy = Policy::default();
        assert!(policy.grantable(1, "a@x", "anything"));
        policy.limit(
            ScopeLimit::Portal(1),
            Some(vec!["read".into(), "write".into()]),
        );
        policy.limit(ScopeLimit::User("A@X".into()), Some(vec!["read".into()]));
        assert!(policy.grantable(1, "a@x", "read"));
        assert!(!policy.grantable(1, "a@x", "write"), "the user cannot");
        assert!(policy.grantable(1, "b@x", "write"));
        assert!(!policy.grantable(1, "b@x", "other"), "the portal cannot");
        assert!(policy.grantable(2, "b@x", "other"));
        policy.limit(ScopeLimit::App, Some(vec!["read".into()]));
        assert!(!policy.app_has("other") && !policy.grantable(2, "b@x", "other"));
        policy.limit(ScopeLimit::User("a@x".into()), None);
        policy.limit(ScopeLimit::App, None);
        assert!(policy.grantable(1, "a@x", "write"));
    }
}
