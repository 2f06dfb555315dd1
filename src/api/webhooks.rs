//! `GET /v1/webhooks/events[/{event_id}]`: stored webhook events, as received (admin).

use http::StatusCode;
use serde::Serialize;
use serde_json::value::RawValue;

use super::error::{json_response, ApiError, Response};
use super::{rfc3339, State};
use crate::store::StoredEvent;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

/// The most recent stored events, newest first.
pub fn recent(state: &State, query: Option<&str>) -> Result<Response, ApiError> {
    let limit = limit_param(query)?;
    let events = state
        .store
        .inbox()
        .recent(limit)
        .map_err(|error| ApiError::storage(&error))?;
    let events: Vec<Entry> = events.iter().map(entry).collect();
    Ok(json_response(
        StatusCode::OK,
        &Listing {
            event_id: None,
            events,
        },
    ))
}

/// Every stored event with this `eventId` (HubSpot's ids are not unique), oldest first.
pub fn one(state: &State, event_id: &str) -> Result<Response, ApiError> {
    let id: i64 = event_id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{event_id:?} is not an event id")))?;
    let events = state
        .store
        .inbox()
        .by_event_id(id)
        .map_err(|error| ApiError::storage(&error))?;
    if events.is_empty() {
        return Err(ApiError::not_found(format!(
            "no stored event has eventId {id}"
        )));
    }
    let events: Vec<Entry> = events.iter().map(entry).collect();
    let listing = Listing {
        event_id: Some(id),
        events,
    };
    Ok(json_response(StatusCode::OK, &listing))
}

fn limit_param(query: Option<&str>) -> Result<usize, ApiError> {
    let value = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("limit="));
    match value {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
            _ => Err(ApiError::bad_request(format!(
                "limit must be a number from 1 to {MAX_LIMIT}"
            ))),
        },
    }
}

#[derive(Serialize)]
struct Listing {
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<i64>,
    events: Vec<Entry>,
}

#[derive(Serialize)]
struct Entry {
    received_at: String,
    /// The event's JSON exactly as HubSpot sent it (field order and unknown fields kept).
    event: Box<RawValue>,
}

fn entry(event: &StoredEvent) -> Entry {
    // Stored text was valid JSON when it arrived; if it no longer is, show it as a string.
    let raw = RawValue::from_string(event.raw.clone()).unwrap_or_else(|_| {
        let quoted = serde_json::to_string(&event.raw).unwrap_or_default();
        RawValue::from_string(quoted).expect("a JSON string is valid JSON")
    });
    Entry {
        received_at: rfc3339(event.received_at_ms),
        event: raw,
    }
}
