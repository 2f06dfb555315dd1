//! `hubspot::Error`: every way a HubSpot call can fail, who is at fault, and whether a retry helps.

use std::time::{Duration, SystemTime};

use serde::Deserialize;

/// Who has to act for the call to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HubSpot failed or answered something we cannot read.
    HubSpot,
    /// We used up a rate-limit budget.
    RateLimit,
    /// Our token, refresh token or granted scopes (an operator must act).
    Credentials,
    /// Our own configuration (an operator must fix it).
    Config,
    /// This request: bad input, missing record, duplicate (the caller must change it).
    Request,
    /// The network between us and HubSpot.
    Network,
}

/// Which HubSpot rate-limit policy a 429 named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitPolicy {
    TenSecondlyRolling,
    Secondly,
    Daily,
    Unknown,
}

impl RateLimitPolicy {
    pub(crate) fn parse(policy_name: Option<&str>, message: &str) -> Self {
        let text = policy_name.unwrap_or(message).to_ascii_lowercase();
        if text.contains("daily") {
            RateLimitPolicy::Daily
        } else if text.contains("ten_secondly") || text.contains("ten-secondly") {
            RateLimitPolicy::TenSecondlyRolling
        } else if text.contains("secondly") {
            RateLimitPolicy::Secondly
        } else {
            RateLimitPolicy::Unknown
        }
    }
}

/// What HubSpot said in an error body; every field is optional on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiDetails {
    pub status: u16,
    pub category: Option<String>,
    pub message: String,
    pub correlation_id: Option<String>,
}

impl std::fmt::Display for ApiDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(category) = &self.category {
            write!(f, " {category}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.correlation_id {
            write!(f, " (correlationId {id})")?;
        }
        Ok(())
    }
}

/// One property HubSpot rejected in a 400 `Property values were not valid`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PropertyProblem {
    /// The property name.
    pub name: String,
    /// HubSpot's code: `INVALID_OPTION`, `PROPERTY_DOESNT_EXIST`, `READ_ONLY_VALUE`, ...
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub message: String,
}

/// A scope the token lacks and what the gateway needs it for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingScope {
    pub scope: String,
    pub needed_for: String,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("HubSpot rate limit {policy:?} reached ({details})")]
    RateLimited {
        policy: RateLimitPolicy,
        retry_after: Option<Duration>,
        details: ApiDetails,
    },
    #[error("HubSpot daily API limit reached: calls to this portal stop until {resume_at:?}")]
    DailyLimit { resume_at: SystemTime },
    #[error("HubSpot is temporarily unavailable ({details})")]
    Unavailable {
        retry_after: Option<Duration>,
        details: ApiDetails,
    },
    #[error("HubSpot sent a response we cannot read ({what}): {reason}")]
    BadResponse { what: String, reason: String },
    #[error("HubSpot rejected the access token ({details})")]
    Unauthorized { details: ApiDetails },
    #[error("HubSpot rejected the refresh token: the app must be re-installed in the portal ({message})")]
    ReinstallNeeded { message: String },
    #[error("HubSpot rejected the OAuth client credentials ({message})")]
    BadClientCredentials { message: String },
    #[error("HubSpot refused the authorization code ({message})")]
    CodeRefused { message: String },
    #[error("HubSpot rotated the refresh token and it could not be saved: {0}")]
    CredentialStore(String),
    #[error("the token lacks scopes: {}", describe_scopes(missing))]
    MissingScopes { missing: Vec<MissingScope> },
    #[error("HubSpot refused access ({details})")]
    Forbidden { details: ApiDetails },
    #[error("invalid client configuration: {0}")]
    Config(String),
    #[error("not found ({details})")]
    NotFound { details: ApiDetails },
    #[error("record already exists{} ({details})", existing_id.map(|id| format!(" with id {id}")).unwrap_or_default())]
    Conflict {
        existing_id: Option<i64>,
        details: ApiDetails,
    },
    #[error("property values were not valid: {}", describe_problems(problems))]
    InvalidProperties {
        problems: Vec<PropertyProblem>,
        details: ApiDetails,
    },
    #[error("HubSpot rejected the request ({details})")]
    BadRequest { details: ApiDetails },
    #[error("invalid request: {0}")]
    InvalidInput(String),
    #[error("request to HubSpot timed out")]
    Timeout,
    #[error("network error talking to HubSpot: {0}")]
    Network(#[source] reqwest::Error),
}

impl Error {
    pub fn fault(&self) -> Fault {
        match self {
            Error::RateLimited { .. } | Error::DailyLimit { .. } => Fault::RateLimit,
            Error::Unavailable { .. } | Error::BadResponse { .. } => Fault::HubSpot,
            Error::Unauthorized { .. }
            | Error::ReinstallNeeded { .. }
            | Error::MissingScopes { .. }
            | Error::Forbidden { .. } => Fault::Credentials,
            Error::BadClientCredentials { .. } | Error::Config(_) | Error::CredentialStore(_) => {
                Fault::Config
            }
            Error::NotFound { .. }
            | Error::Conflict { .. }
            | Error::InvalidProperties { .. }
            | Error::BadRequest { .. }
            | Error::CodeRefused { .. }
            | Error::InvalidInput(_) => Fault::Request,
            Error::Timeout | Error::Network(_) => Fault::Network,
        }
    }

    /// Whether repeating the same call soon can succeed. A daily limit cannot within a retry
    /// budget: the portal is paused until [`Error::DailyLimit::resume_at`].
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { policy, .. } => *policy != RateLimitPolicy::Daily,
            Error::Unavailable { .. } | Error::Timeout | Error::Network(_) => true,
            _ => false,
        }
    }

    /// Whether HubSpot surely did not act on the request, so even a create may be sent again.
    pub fn surely_unprocessed(&self) -> bool {
        match self {
            Error::RateLimited { .. } => self.is_retryable(),
            Error::Unavailable { details, .. } => matches!(details.status, 423 | 477),
            Error::Network(error) => error.is_connect(),
            _ => false,
        }
    }

    /// The least time to wait before a retry, when HubSpot or its documented policy says so.
    pub fn min_retry_delay(&self) -> Option<Duration> {
        match self {
            Error::RateLimited {
                policy,
                retry_after,
                ..
            } => {
                let floor = match policy {
                    RateLimitPolicy::Secondly => Duration::from_secs(1),
                    _ => Duration::ZERO,
                };
                Some(retry_after.unwrap_or(floor).max(floor))
            }
            Error::Unavailable {
                retry_after,
                details,
            } => match (details.status, retry_after) {
                (_, Some(after)) => Some(*after),
                // 423 Locked: HubSpot asks for at least two seconds.
                (423, None) => Some(Duration::from_secs(2)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The HubSpot details (status, category, message, correlation id), when HubSpot answered.
    pub fn details(&self) -> Option<&ApiDetails> {
        match self {
            Error::RateLimited { details, .. }
            | Error::Unavailable { details, .. }
            | Error::Unauthorized { details }
            | Error::Forbidden { details }
            | Error::NotFound { details }
            | Error::Conflict { details, .. }
            | Error::InvalidProperties { details, .. }
            | Error::BadRequest { details } => Some(details),
            _ => None,
        }
    }

    /// Wraps a reqwest failure, dropping the URL (introspection URLs carry the token).
    pub(crate) fn from_transport(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            Error::Timeout
        } else if error.is_builder() {
            Error::Config(error.without_url().to_string())
        } else {
            Error::Network(error.without_url())
        }
    }
}

fn describe_scopes(missing: &[MissingScope]) -> String {
    let parts: Vec<String> = missing
        .iter()
        .map(|m| format!("`{}` (needed for {})", m.scope, m.needed_for))
        .collect();
    parts.join(", ")
}

fn describe_problems(problems: &[PropertyProblem]) -> String {
    let parts: Vec<String> = problems
        .iter()
        .map(|p| match &p.error {
            Some(code) => format!("{} {code}: {}", p.name, p.message),
            None => format!("{}: {}", p.name, p.message),
        })
        .collect();
    parts.join("; ")
}
