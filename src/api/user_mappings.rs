//! Internal users ↔ HubSpot owners (`/v1/user-mappings...`, admin) and
//! `POST /v1/ownership/resolve` (read): which owner a user's new records get.

use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{json_response, ApiError, Response};
use super::objects::portal;
use super::router::Call;
use super::{wire, State};
use crate::ownership::{MappingError, UserMap};
use crate::store::{MappingSource, UserMapping};

pub fn list(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let mappings = user_map(state, call)?.list().map_err(mapping_error)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"mappings": mappings.iter().map(mapping).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutRequest {
    owner_id: Value,
}

pub fn put(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let request: PutRequest = wire::json_body(&call.body)?;
    let owner_id = match &request.owner_id {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.as_i64(),
        _ => None,
    }
    .ok_or_else(|| ApiError::bad_request("owner_id must be an owner id"))?;
    let saved = user_map(state, call)?
        .set(call.params[0], owner_id)
        .map_err(mapping_error)?;
    Ok(json_response(StatusCode::OK, &mapping(&saved)))
}

pub fn delete(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    if user_map(state, call)?
        .remove(call.params[0])
        .map_err(mapping_error)?
    {
        Ok(super::error::empty_response(StatusCode::NO_CONTENT))
    } else {
        Err(ApiError::not_found(format!(
            "no mapping for {:?}",
            call.params[0]
        )))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoRequest {
    emails: Vec<String>,
}

pub fn auto(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let request: AutoRequest = wire::json_body(&call.body)?;
    let mapped = user_map(state, call)?
        .auto(&request.emails)
        .map_err(mapping_error)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"mappings": mapped.iter().map(mapping).collect::<Vec<_>>()}),
    ))
}

pub fn reset(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let mapped = user_map(state, call)?.reset().map_err(mapping_error)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"mappings": mapped.iter().map(mapping).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveRequest {
    user_email: String,
}

pub fn resolve(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let request: ResolveRequest = wire::json_body(&call.body)?;
    let fallback = state.fallback(&*portal(state, call)?);
    let (owner_id, reason) = user_map(state, call)?
        .resolve(&request.user_email, &fallback)
        .map_err(mapping_error)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"owner_id": owner_id.to_string(), "reason": reason.as_str()}),
    ))
}

fn user_map<'a>(state: &'a State, call: &Call<'_>) -> Result<UserMap<'a>, ApiError> {
    Ok(UserMap {
        store: &state.store,
        portal: portal(state, call)?.hub_id,
    })
}

fn mapping(mapping: &UserMapping) -> Value {
    json!({
        "email": mapping.email,
        "owner_id": mapping.owner_id.map(|id| id.to_string()),
        "status": if mapping.owner_id.is_some() { "mapped" } else { "unmapped" },
        "source": match mapping.source { MappingSource::Manual => "manual", MappingSource::Auto => "auto" },
    })
}

fn mapping_error(error: MappingError) -> ApiError {
    match error {
        MappingError::BadEmail(_) | MappingError::NoSuchOwner(_) => {
            ApiError::bad_request(error.to_string())
        }
        MappingError::NoFallback => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_owner",
            error.to_string(),
        ),
        MappingError::Store(detail) => {
            tracing::error!(error = %detail, "store error in user mappings");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                "the store is unavailable; retry later",
            )
        }
    }
}
