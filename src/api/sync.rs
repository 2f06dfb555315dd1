//! `POST /v1/sync/{type}[?full=true]`: "Run Now" — ask the sync cycle for a polling pass over
//! one type, or with `full=true` a reconciliation of every record.

use http::StatusCode;
use serde_json::json;

use super::error::{json_response, ApiError, Response};
use super::objects::object_type;
use super::State;

pub fn run_now(state: &State, kind: &str, query: Option<&str>) -> Result<Response, ApiError> {
    let kind = object_type(state, kind)?;
    let full = match query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("full="))
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "full must be true or false, not {other:?}"
            )))
        }
    };
    if state.syncer().is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_connected",
            "sync is not running (disabled, or not connected to HubSpot yet)",
        ));
    }
    state.triggers.request(kind, full);
    let body = json!({"type": kind.name(), "requested": if full { "reconcile" } else { "poll" }});
    Ok(json_response(StatusCode::ACCEPTED, &body))
}
