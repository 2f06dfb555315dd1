//! `GET /v1/status`: what the gateway holds and how current it is. The body is built from the
//! store alone, so `hubspot-gateway status` shows the same figures when no daemon runs.

use http::StatusCode;
use serde_json::{json, Map, Value};

use super::error::{json_response, ApiError, Response};
use super::router::Call;
use super::wire::optional_time;
use super::{rfc3339, Portal, Site, State};
use crate::object::ObjectType;
use crate::store::{self, Store};
use crate::sync::TypeStatus;

/// The status of the portal the request names; unnamed, of the first portal (`portals` lists
/// every portal the gateway mirrors, so an operator sees them all).
pub fn status(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let named = call.portal.clone().map_err(ApiError::unselected)?;
    let site = state.sites.described(named).map_err(ApiError::unselected)?;
    let portal = site.portal();
    let mut body = body(&state.store, portal.as_deref(), &state.objects)
        .map_err(|error| ApiError::storage(&error))?;
    add_portals(&mut body, &state.sites).map_err(|error| ApiError::storage(&error))?;
    body["connection"] = connection(&site.connections.status());
    body["journal"] =
        journal(state, &site, portal.as_deref()).map_err(|error| ApiError::storage(&error))?;
    if let Some(id) = &state.replica {
        body["replica"] = json!({"id": id, "leader": state.store.leads()});
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// The deployment's part of a status: every portal it mirrors (`portals`) and those being
/// removed (`removing`).
pub fn add_portals(body: &mut Value, sites: &super::Sites) -> store::Result<()> {
    body["portals"] = json!(sites.portal_ids());
    body["removing"] = json!(super::removal::pending(sites)?);
    Ok(())
}

/// The Webhooks Journal's part of the status, with the running consumer's live state.
fn journal(state: &State, site: &Site, portal: Option<&Portal>) -> store::Result<Value> {
    let syncer = site.syncer();
    let monitor = state
        .journal
        .as_ref()
        .zip(portal)
        .map(|(journal, portal)| journal.monitor(portal.hub_id));
    crate::journal::status::body(
        state.journal.is_some(),
        &state.store,
        portal.map(|portal| portal.hub_id),
        monitor.as_deref(),
        syncer.as_deref().map(|syncer| &syncer.arrivals),
    )
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
    let counters = inbox.counters()?;
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
    let status = TypeStatus::load(store, portal, kind)?;
    Ok(json!({
        "count": status.count,
        "last_full_sync": optional_time(status.last_full_sync_ms),
        "last_incremental_sync": optional_time(status.last_incremental_sync_ms),
        "cursor": optional_time(status.cursor_ms),
        "matched": status.matched,
        "match_rate": status.match_rate,
        "backfill_in_progress": status.backfill.is_some(),
        "backfill_progress": status.backfill.map(|backfill| json!({
            "stored": backfill.stored,
            "expected": backfill.expected,
        })),
        "last_reconcile": optional_time(status.last_reconcile_ms),
        "last_reconcile_repaired": status.last_reconcile_repaired,
    }))
}
