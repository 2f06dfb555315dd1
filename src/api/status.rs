//! `GET /v1/status`: what the gateway holds and how current it is.

use http::StatusCode;
use serde_json::json;

use super::error::{json_response, ApiError, Response};
use super::{rfc3339, State};

pub fn status(state: &State) -> Result<Response, ApiError> {
    let inbox = state.store.inbox();
    let counters = inbox.counters();
    let body = json!({
        "webhooks": {
            "received": counters.received,
            "duplicates": counters.duplicates,
            "rejected": counters.rejected,
            "inbox_depth": inbox.pending(),
            "last_received_at": counters.last_received_at_ms.map(rfc3339),
        },
    });
    Ok(json_response(StatusCode::OK, &body))
}
