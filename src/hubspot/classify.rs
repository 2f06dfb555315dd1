//! Turns a non-2xx HubSpot response (status, headers, body) into a typed `hubspot::Error`.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;

use super::error::{ApiDetails, Error, PropertyProblem, RateLimitPolicy};

/// HubSpot's error body; every field is optional in practice.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
    #[serde(default)]
    policy_name: Option<String>,
    #[serde(default)]
    error_type: Option<String>,
    // OAuth endpoints answer RFC 6749 style.
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// Maps a failed response to an error. `retry_after` is parsed from the header (seconds).
pub(crate) fn error_from_response(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = parsed
        .message
        .clone()
        .or_else(|| parsed.error_description.clone())
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
    let details = ApiDetails {
        status,
        category: parsed.category.clone().or(parsed.error_type.clone()),
        message: message.clone(),
        correlation_id: parsed.correlation_id.clone().or_else(|| {
            headers
                .get("x-hubspot-correlation-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        }),
    };
    let retry_after = retry_after(headers);
    match status {
        429 => Error::RateLimited {
            policy: RateLimitPolicy::parse(parsed.policy_name.as_deref(), &message),
            retry_after,
            details,
        },
        423 | 477 | 500..=599 => Error::Unavailable {
            retry_after,
            details,
        },
        401 => Error::Unauthorized { details },
        403 => Error::Forbidden { details },
        404 => Error::NotFound { details },
        409 => Error::Conflict {
            existing_id: existing_id(&message),
            details,
        },
        400 => match property_problems(&message) {
            Some(problems) => Error::InvalidProperties { problems, details },
            None => Error::BadRequest { details },
        },
        _ => Error::BadRequest { details },
    }
}

/// Maps a failed `/oauth/v1/token` refresh: a rejected refresh token means re-install.
pub(crate) fn refresh_error(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let codes = [&parsed.error, &parsed.status, &parsed.category];
    let has = |code: &str| codes.iter().any(|c| c.as_deref() == Some(code));
    let message = parsed
        .error_description
        .or(parsed.message)
        .unwrap_or_default();
    if has("invalid_grant") || has("BAD_REFRESH_TOKEN") {
        Error::ReinstallNeeded { message }
    } else if has("invalid_client") || has("BAD_CLIENT_ID") || has("BAD_CLIENT_SECRET") {
        Error::BadClientCredentials { message }
    } else {
        error_from_response(status, headers, body)
    }
}

/// `Retry-After` in seconds (HubSpot never sends the HTTP-date form for API calls).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The id in `Contact already exists. Existing ID: 51`.
pub(crate) fn existing_id(message: &str) -> Option<i64> {
    let (_, rest) = message.split_once("Existing ID:")?;
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The JSON list in `Property values were not valid: [...]`.
pub(crate) fn property_problems(message: &str) -> Option<Vec<PropertyProblem>> {
    let (_, rest) = message.split_once("Property values were not valid:")?;
    serde_json::from_str(rest.trim()).ok()
}

/// Scopes a 403 says are missing: `context.missingScopes` or `errors[].context.requiredGranularScopes`.
pub(crate) fn missing_scopes(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut collect = |context: &serde_json::Value| {
        for key in ["missingScopes", "requiredGranularScopes", "requiredScopes"] {
            if let Some(list) = context.get(key).and_then(|v| v.as_array()) {
                found.extend(list.iter().filter_map(|s| s.as_str()).map(str::to_owned));
            }
        }
    };
    if let Some(context) = value.get("context") {
        collect(context);
    }
    for error in value["errors"].as_array().into_iter().flatten() {
        if let Some(context) = error.get("context") {
            collect(context);
        }
    }
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests;
