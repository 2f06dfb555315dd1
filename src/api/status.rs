//! `GET /v1/status`: what the gateway holds and how current it is.

use http::StatusCode;
use serde_json::{json, Map, Value};

use super::error::{json_response, ApiError, Response};
use super::wire::optional_time;
use super::{rfc3339, State};
use crate::sync::TypeState;

pub fn status(state: &State) -> Result<Response, ApiError> {
    let storage = |error| ApiError::storage(&error);
    let mut body = Map::new();
    if let Some(portal) = state.portal() {
        body.insert("portal_id".into(), json!(portal.hub_id));
        for kind in &state.objects {
            let count = state
                .store
                .mirror()
                .count(portal.hub_id, *kind)
                .map_err(storage)?;
            let sync = TypeState::load(&state.store, portal.hub_id, *kind).map_err(storage)?;
            let cursor = sync
                .incremental
                .as_ref()
                .map(|cursor| rfc3339(cursor.since_ms));
            let matched = state
                .store
                .ownership()
                .matched_count(portal.hub_id, *kind)
                .map_err(storage)?;
            let match_rate = if count == 0 {
                0.0
            } else {
                matched as f64 / count as f64
            };
            body.insert(
                kind.name().into(),
                json!({
                    "count": count,
                    "last_full_sync": optional_time(sync.backfill_done_at_ms),
                    "last_incremental_sync": optional_time(sync.last_incremental_at_ms),
                    "cursor": cursor,
                    "matched": matched,
                    "match_rate": match_rate,
                    "backfill_in_progress": sync.backfill_started_at_ms.is_some(),
                    "last_reconcile": optional_time(sync.last_reconcile_at_ms),
                    "last_reconcile_repaired": sync.last_reconcile_repaired,
                }),
            );
        }
        let owners = state
            .store
            .reference()
            .owners(portal.hub_id)
            .map_err(storage)?;
        body.insert("owners".into(), json!({"count": owners.len()}));
    }
    let inbox = state.store.inbox();
    let counters = inbox.counters();
    body.insert(
        "webhooks".into(),
        json!({
            "received": counters.received,
            "duplicates": counters.duplicates,
            "rejected": counters.rejected,
            "inbox_depth": inbox.pending(),
            "last_received_at": counters.last_received_at_ms.map(rfc3339),
        }),
    );
    Ok(json_response(StatusCode::OK, &Value::Object(body)))
}
