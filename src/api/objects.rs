//! `GET /v1/objects/{type}/{id}` and `GET /v1/owners[/{id}]`: the mirror, read-only.

use std::sync::Arc;

use http::StatusCode;
use serde_json::{json, Map, Value};

use super::error::{json_response, ApiError, Response};
use super::router::Call;
use super::{wire, Portal, Site, State};
use crate::object::ObjectType;

pub fn record(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let kind = object_type(state, call.params[0])?;
    let id = parse_id(call.params[1])?;
    let portal = portal(state, call)?;
    let mirror = state.store.mirror();
    let storage = |error| ApiError::storage(&error);
    let record = mirror
        .find(portal.hub_id, kind, id)
        .map_err(storage)?
        .ok_or_else(|| ApiError::not_found(format!("no {kind} with id {id} in the mirror")))?;
    let mut associations = Map::new();
    for other in ObjectType::ALL.into_iter().filter(|other| *other != kind) {
        let ids = mirror
            .associated(portal.hub_id, kind, record.id, other)
            .map_err(storage)?;
        if !ids.is_empty() {
            let ids: Vec<Value> = ids.iter().map(|id| Value::String(id.to_string())).collect();
            associations.insert(other.name().to_owned(), Value::Array(ids));
        }
    }
    let owner = wire::record_owner(&state.store, portal.hub_id, &record).map_err(storage)?;
    let body = wire::record(kind, &record, owner.as_ref(), associations, &portal);
    Ok(json_response(StatusCode::OK, &body))
}

pub fn owners(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let portal = portal(state, call)?;
    let owners = state
        .store
        .reference()
        .owners(portal.hub_id)
        .map_err(|error| ApiError::storage(&error))?;
    let list: Vec<Value> = owners.iter().map(wire::owner).collect();
    Ok(json_response(StatusCode::OK, &json!({ "owners": list })))
}

pub fn owner(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let id = parse_id(call.params[0])?;
    let portal = portal(state, call)?;
    let owner = state
        .store
        .reference()
        .owner(portal.hub_id, id)
        .map_err(|error| ApiError::storage(&error))?
        .ok_or_else(|| ApiError::not_found(format!("no owner with id {id}")))?;
    Ok(json_response(StatusCode::OK, &wire::owner(&owner)))
}

/// A mirrored record type named in a path.
pub fn object_type(state: &State, name: &str) -> Result<ObjectType, ApiError> {
    let kind: ObjectType = name.parse().map_err(ApiError::bad_request)?;
    if !state.objects.contains(&kind) {
        return Err(ApiError::bad_request(format!(
            "{kind} are not mirrored (sync.objects)"
        )));
    }
    Ok(kind)
}

pub fn parse_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .ok()
        .filter(|id: &i64| *id > 0)
        .ok_or_else(|| ApiError::bad_request(format!("{text:?} is not a HubSpot id")))
}

/// The portal the request is about, once connected; before the first connection nothing can
/// be answered.
pub fn portal(state: &State, call: &Call<'_>) -> Result<Arc<Portal>, ApiError> {
    connected(&*call.site(state)?)
}

/// The portal `site` connected to; before the first connection nothing can be answered.
pub fn connected(site: &Site) -> Result<Arc<Portal>, ApiError> {
    site.portal().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_connected",
            "the gateway has not connected to HubSpot yet",
        )
    })
}
