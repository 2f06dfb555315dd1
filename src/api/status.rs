//! `GET /v1/status`: what the gateway holds and how current it is. The body is built from the
//! store alone, so `hubspot-gateway status` shows the same figures when no daemon runs.

use http::StatusCode;
use serde_json::{json, Map, Value};

use super::error::{json_response, ApiError, Response};
use super::wire::optional_time;
use super::{rfc3339, Portal, State};
use crate::object::ObjectType;
use crate::store::{self, Store};
use crate::sync::TypeState;

pub fn status(state: &State) -> Result<Response, ApiError> {
    let portal = state.portal();
    let mut body = body(&state.store, portal.as_deref(), &state.objects)
        .map_err(|error| ApiError::storage(&error))?;
    body["connection"] = connection(&state.connections.status());
    Ok(json_response(StatusCode::OK, &body))
}

/// The connection's state in the status (the whole of it is `GET /v1/connection`, admin).
pub fn connection(status: &crate::connection::Status) -> Value {
    let mut summary = json!({"state": status.state.as_str(), "method": status.method.as_str()});
    if let Some(reason) = &status.reason {
        summary["reason"] = json!(reason);
    }
    summary
}

/// The status of the mirror of `portal` (when known) for `objects`, and of the inbox.
pub fn body(
    store: &Store,
    portal: Option<&Portal>,
    objects: &[ObjectType],
) -> store::Result<Value> {
    let mut body = Map::new();
    if let Some(portal) = portal {
        body.insert("portal_id".into(), json!(portal.hub_id));
        for kind in objects {
            body.insert(
                kind.name().into(),
                type_status(store, portal.hub_id, *kind)?,
            );
        }
        let owners = store.reference().owners(portal.hub_id)?;
        body.insert("owners".into(), json!({"count": owners.len()}));
    }
    let inbox = store.inbox();
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
    Ok(Value::Object(body))
}

fn type_status(store: &Store, portal: i64, kind: ObjectType) -> store::Result<Value> {
    let count = store.mirror().count(portal, kind)?;
    let sync = TypeState::load(store, portal, kind)?;
    let matched = store.ownership().matched_count(portal, kind)?;
    let match_rate = if count == 0 {
        0.0
    } else {
        matched as f64 / count as f64
    };
    Ok(json!({
        "count": count,
        "last_full_sync": optional_time(sync.backfill_done_at_ms),
        "last_incremental_sync": optional_time(sync.last_incremental_at_ms),
        "cursor": sync.incremental.as_ref().map(|cursor| rfc3339(cursor.since_ms)),
        "matched": matched,
        "match_rate": match_rate,
        "backfill_in_progress": sync.backfill_started_at_ms.is_some(),
        "last_reconcile": optional_time(sync.last_reconcile_at_ms),
        "last_reconcile_repaired": sync.last_reconcile_repaired,
    }))
}
