//! Bearer-token authentication with `read` < `export` < `admin` scopes.

use http::StatusCode;

use super::error::ApiError;
use crate::config::Scope;
use crate::secret::Secret;

/// The configured API tokens.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    tokens: Vec<(String, Secret<String>, Scope)>,
}

impl Tokens {
    pub fn new(tokens: Vec<(String, Secret<String>, Scope)>) -> Self {
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
        // Compare with every token, without stopping early, so timing reveals nothing.
        let mut found = None;
        for (name, secret, scope) in &self.tokens {
            if secret.matches(presented.as_bytes()) {
                found = Some((name.as_str(), *scope));
            }
        }
        let (name, scope) = found.ok_or_else(|| unauthorized("the bearer token is not valid"))?;
        if scope < needed {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this needs a token with scope {}", needed.as_str()),
            ));
        }
        Ok(name)
    }
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
