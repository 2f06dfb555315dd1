//! Bearer-token authentication with `read` < `export` < `admin` scopes.

use http::StatusCode;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config::Scope;
use crate::secret::Secret;

/// The configured API tokens, kept as SHA-256 digests: a presented token is hashed and
/// compared with each digest in constant time. Both sides of every comparison are 32 bytes,
/// so neither a token's length nor the position of the first wrong byte shows in the timing.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    tokens: Vec<Token>,
}

#[derive(Clone)]
struct Token {
    name: String,
    digest: [u8; 32],
    scope: Scope,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.scope.as_str())
    }
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl Tokens {
    pub fn new(tokens: Vec<(String, Secret<String>, Scope)>) -> Self {
        let tokens = tokens
            .into_iter()
            .map(|(name, secret, scope)| Token {
                name,
                digest: digest(secret.expose().as_bytes()),
                scope,
            })
            .collect();
        Tokens { tokens }
    }

    /// The name of the token presented in `headers` if its scope reaches `needed`.
    /// 401 without a valid token, 403 when its scope is too low.
    pub fn authorize(&self, headers: &http::HeaderMap, needed: Scope) -> Result<&str, ApiError> {
        let presented = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthorized("send Authorization: Bearer <token>"))?;
        let grant = self
            .identify(presented)
            .ok_or_else(|| unauthorized("the bearer token is not valid"))?;
        if grant.scope < needed {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this needs a token with scope {}", needed.as_str()),
            ));
        }
        Ok(grant.name)
    }

    /// The configured token `presented` is, if any: its name, scope and digest.
    pub fn identify(&self, presented: &str) -> Option<Grant<'_>> {
        // Compare with every token, without stopping early, so timing reveals nothing.
        let presented = digest(presented.as_bytes());
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.digest.ct_eq(&presented)) {
                found = Some(Grant {
                    name: &token.name,
                    scope: token.scope,
                    digest: token.digest,
                });
            }
        }
        found
    }

    /// Whether a token with this digest is still configured with a scope reaching `needed`
    /// (a browser session signed in with a token ends when a reload removes the token).
    pub fn still_grants(&self, token_digest: &[u8; 32], needed: Scope) -> bool {
        let mut granted = false;
        for token in &self.tokens {
            if bool::from(token.digest.ct_eq(token_digest)) && token.scope >= needed {
                granted = true;
            }
        }
        granted
    }
}

/// A configured token recognised: the digest identifies it without keeping the token.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    pub name: &'a str,
    pub scope: Scope,
    pub digest: [u8; 32],
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: Option<&str>) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        if let Some(value) = value {
            headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn scopes_and_failures() {
        let tokens = Tokens::new(vec![
            ("reader".into(), Secret::from("r-token"), Scope::Read),
            ("exporter".into(), Secret::from("e-token"), Scope::Export),
            ("operator".into(), Secret::from("a-token"), Scope::Admin),
        ]);
        let check = |value: Option<&str>, needed| {
            tokens
                .authorize(&headers(value), needed)
                .map(str::to_owned)
                .map_err(|error| error.status.as_u16())
        };
        assert_eq!(
            check(Some("Bearer r-token"), Scope::Read),
            Ok("reader".into())
        );
        assert_eq!(check(Some("Bearer r-token"), Scope::Export), Err(403));
        assert_eq!(
            check(Some("Bearer e-token"), Scope::Export),
            Ok("exporter".into())
        );
        assert_eq!(check(Some("Bearer e-token"), Scope::Admin), Err(403));
        assert_eq!(
            check(Some("Bearer a-token"), Scope::Read),
            Ok("operator".into())
        );
        assert_eq!(
            check(Some("Bearer a-token"), Scope::Admin),
            Ok("operator".into())
        );
        for bad in [
            None,
            Some("r-token"),
            Some("Bearer "),
            Some("Bearer r-toke"),
            Some("Basic r-token"),
        ] {
            assert_eq!(check(bad, Scope::Read), Err(401), "{bad:?}");
        }
    }
}
