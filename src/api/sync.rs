//! `POST /v1/sync/{type}`: "Run Now" — ask the sync cycle for a pass over one type.

use http::StatusCode;
use serde_json::json;

use super::error::{json_response, ApiError, Response};
use super::objects::object_type;
use super::State;

pub fn run_now(state: &State, kind: &str) -> Result<Response, ApiError> {
    let kind = object_type(state, kind)?;
    if state.syncer().is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_connected",
            "sync is not running (disabled, or not connected to HubSpot yet)",
        ));
    }
    state.triggers.request(kind);
    Ok(json_response(StatusCode::ACCEPTED, &json!({"type": kind.name(), "requested": true})))
}
