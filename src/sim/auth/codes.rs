//! Authorization codes: single use, short-lived, bound to the client, the
//! redirect URI, the consenting user and the account they chose.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/authentication/manage-oauth-tokens>

use std::collections::HashMap;

use super::{random_uuid, Grant};

/// Why a code was refused at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefused {
    /// Never issued, or already used.
    Unknown,
    Expired,
    /// Issued to another client id.
    OtherClient,
    /// The token request's `redirect_uri` differs from the authorize request's.
    OtherRedirect,
}

struct Code {
    client_id: String,
    redirect_uri: String,
    grant: Grant,
    expires_ms: i64,
}

pub struct Codes {
    codes: HashMap<String, Code>,
    pub ttl_ms: u64,
}

impl Codes {
    pub fn new(ttl_ms: u64) -> Codes {
        Codes {
            codes: HashMap::new(),
            ttl_ms,
        }
    }

    /// A new code for `grant`, valid for `ttl_ms` from `now_ms`.
    pub fn issue(
        &mut self,
        client_id: &str,
        redirect_uri: &str,
        grant: Grant,
        now_ms: i64,
    ) -> String {
        // Expired codes can never be redeemed: drop them so the map stays small.
        self.codes.retain(|_, code| code.expires_ms > now_ms);
        let code = random_uuid();
        let expires_ms = now_ms + self.ttl_ms as i64;
        self.codes.insert(
            code.clone(),
            Code {
                client_id: client_id.to_string(),
                redirect_uri: redirect_uri.to_string(),
                grant,
                expires_ms,
            },
        );
        code
    }

    /// Redeems a code. Any attempt uses it up, failed ones included: a code that leaked with
    /// a wrong redirect URI must not be retried with the right one.
    pub fn redeem(
        &mut self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        now_ms: i64,
    ) -> Result<Grant, CodeRefused> {
        let code = self.codes.remove(code).ok_or(CodeRefused::Unknown)?;
        if code.expires_ms <= now_ms {
            Err(CodeRefused::Expired)
        } else if code.client_id != client_id {
            Err(CodeRefused::OtherClient)
        } else if code.redirect_uri != redirect_uri {
            Err(CodeRefused::OtherRedirect)
        } else {
            Ok(code.grant)
        }
    }

    /// Expires every outstanding code now (tests of the expired-code path need no waiting).
    pub fn expire_all(&mut self, now_ms: i64) {
        for code in self.codes.values_mut() {
            code.expires_ms = code.expires_ms.min(now_ms);
        }
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
            scopes: Scopes::Granted(vec!["oauth".into()]),
        }
    }

    #[test]
    fn a_code_works_once_within_its_ttl_for_its_client_and_redirect() {
        let mut codes = Codes::new(1_000);
        let code = codes.issue("client", "https://a/cb", grant(), 0);
        assert_eq!(
            codes.redeem(&code, "client", "https://a/cb", 999),
            Ok(grant())
        );
        assert_eq!(
            codes.redeem(&code, "client", "https://a/cb", 999),
            Err(CodeRefused::Unknown)
        );
        let cases = [
            ("client", "https://a/cb", 1_000, CodeRefused::Expired),
            ("other", "https://a/cb", 10, CodeRefused::OtherClient),
            ("client", "https://a/other", 10, CodeRefused::OtherRedirect),
        ];
        for (client, redirect, at, refused) in cases {
            let code = codes.issue("client", "https://a/cb", grant(), 0);
            assert_eq!(codes.redeem(&code, client, redirect, at), Err(refused));
            assert_eq!(
                codes.redeem(&code, "client", "https://a/cb", 10),
                Err(CodeRefused::Unknown),
                "a failed attempt uses the code up"
            );
        }
    }

    #[test]
    fn expire_all_and_pruning() {
        let mut codes = Codes::new(60_000);
        let code = codes.issue("client", "https://a/cb", grant(), 0);
        codes.expire_all(5);
        assert_eq!(
            codes.redeem(&code, "client", "https://a/cb", 6),
            Err(CodeRefused::Expired)
        );
        codes.issue("client", "https://a/cb", grant(), 0);
        codes.expire_all(5);
        codes.issue("client", "https://a/cb", grant(), 10);
        assert_eq!(codes.codes.len(), 1, "expired codes are pruned on issue");
    }
}
