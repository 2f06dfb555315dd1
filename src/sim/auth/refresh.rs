//! Refresh tokens: long-lived until revoked. HubSpot answers the same refresh
//! token on every refresh; with rotation on, the simulator behaves like servers that rotate:
//! each use answers a new token and the old one keeps working only for a grace period.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/authentication/manage-oauth-tokens>

use std::collections::HashMap;

use super::{random_uuid, Grant};

/// Why a refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRefused {
    /// Never issued, revoked, or rotated away longer ago than the grace period.
    Unknown,
    /// Issued to another client id.
    OtherClient,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Active,
    /// Replaced by `successor`; still accepted (answering the successor) until `until_ms`.
    Rotated {
        successor: String,
        until_ms: i64,
    },
    Revoked,
}

struct Entry {
    client_id: String,
    grant: Grant,
    state: State,
}

pub struct RefreshTokens {
    tokens: HashMap<String, Entry>,
    /// `Some(grace)`: rotate on every use (HubSpot: `None`, the token stays the same).
    pub rotation_grace_ms: Option<u64>,
}

impl RefreshTokens {
    pub fn new(rotation_grace_ms: Option<u64>) -> RefreshTokens {
        RefreshTokens {
            tokens: HashMap::new(),
            rotation_grace_ms,
        }
    }

    /// Registers a token chosen elsewhere (the configured one).
    pub fn insert(&mut self, token: &str, client_id: &str, grant: Grant) {
        let entry = Entry {
            client_id: client_id.to_string(),
            grant,
            state: State::Active,
        };
        self.tokens.insert(token.to_string(), entry);
    }

    /// A new refresh token (`na1-` + UUID, as HubSpot's carry their hublet).
    pub fn issue(&mut self, client_id: &str, grant: Grant) -> String {
        let token = format!("na1-{}", random_uuid());
        self.insert(&token, client_id, grant);
        token
    }

    /// Uses a token: the grant to issue an access token for, and the refresh token to answer
    /// (the same one, or its successor when rotating).
    pub fn redeem(
        &mut self,
        token: &str,
        client_id: &str,
        now_ms: i64,
    ) -> Result<(Grant, String), RefreshRefused> {
        let entry = self.tokens.get(token).ok_or(RefreshRefused::Unknown)?;
        if entry.client_id != client_id {
            return Err(RefreshRefused::OtherClient);
        }
        let (grant, state) = (entry.grant.clone(), entry.state.clone());
        match state {
            State::Revoked => Err(RefreshRefused::Unknown),
            State::Rotated { until_ms, .. } if until_ms <= now_ms => Err(RefreshRefused::Unknown),
            State::Rotated { successor, .. } => Ok((grant, successor)),
            State::Active => match self.rotation_grace_ms {
                None => Ok((grant, token.to_string())),
                Some(grace_ms) => {
                    let successor = self.issue(client_id, grant.clone());
                    if let Some(entry) = self.tokens.get_mut(token) {
                        entry.state = State::Rotated {
                            successor: successor.clone(),
                            until_ms: now_ms + grace_ms as i64,
                        };
                    }
                    Ok((grant, successor))
                }
            },
        }
    }

    /// Revokes a token (access tokens issued with it keep working); false if unknown.
    pub fn revoke(&mut self, token: &str) -> bool {
        match self.tokens.get_mut(token) {
            Some(entry) if entry.state != State::Revoked => {
                entry.state = State::Revoked;
                true
            }
            _ => false,
        }
    }

    /// Every token: (token, grant, still usable at `now_ms`).
    pub fn list(&self, now_ms: i64) -> Vec<(String, Grant, bool)> {
        self.tokens
            .iter()
            .map(|(token, entry)| {
                let usable = self.info(token, now_ms).is_some();
                (token.clone(), entry.grant.clone(), usable)
            })
            .collect()
    }

    /// A token that can still be used: its grant and client id.
    pub fn info(&self, token: &str, now_ms: i64) -> Option<(&Grant, &str)> {
        let entry = self.tokens.get(token)?;
        let usable = match &entry.state {
            State::Active => true,
            State::Rotated { until_ms, .. } => *until_ms > now_ms,
            State::Revoked => false,
        };
        usable.then_some((&entry.grant, entry.client_id.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::auth::Scopes;

    fn grant() -> Grant {
        Grant {
            portal_id: 1,
            user_id: Some(2),
            scopes: Scopes::Configured,
        }
    }

    #[test]
    fn without_rotation_the_token_stays_until_revoked() {
        let mut tokens = RefreshTokens::new(None);
        let token = tokens.issue("client", grant());
        assert!(token.starts_with("na1-") && token.len() == 40);
        assert_eq!(
            tokens.redeem(&token, "client", 0),
            Ok((grant(), token.clone()))
        );
        assert_eq!(
            tokens.redeem(&token, "client", 1),
            Ok((grant(), token.clone()))
        );
        assert_eq!(
            tokens.redeem(&token, "other", 1),
            Err(RefreshRefused::OtherClient)
        );
        assert!(tokens.info(&token, 1).is_some());
        assert!(tokens.revoke(&token));
        assert!(!tokens.revoke(&token), "a revoked token is gone");
        assert_eq!(
            tokens.redeem(&token, "client", 2),
            Err(RefreshRefused::Unknown)
        );
        assert!(tokens.info(&token, 2).is_none());
        assert_eq!(
            tokens.redeem("nope", "client", 2),
            Err(RefreshRefused::Unknown)
        );
    }

    #[test]
    fn rotation_answers_a_successor_and_keeps_the_old_one_for_the_grace() {
        let mut tokens = RefreshTokens::new(Some(100));
        tokens.insert("first", "client", grant());
        let (_, second) = tokens.redeem("first", "client", 1_000).unwrap();
        assert_ne!(second, "first");
        assert_eq!(
            tokens.redeem("first", "client", 1_099),
            Ok((grant(), second.clone())),
            "a retry within the grace gets the same successor"
        );
        assert_eq!(
            tokens.redeem("first", "client", 1_100),
            Err(RefreshRefused::Unknown)
        );
        assert!(tokens.info("first", 1_100).is_none());
        let (_, third) = tokens.redeem(&second, "client", 1_100).unwrap();
        assert!(third != second && tokens.info(&third, 5_000).is_some());
    }
}
