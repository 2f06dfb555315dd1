//! `DELETE /v1/portals/{id}`: removing a portal from the deployment. The rule is
//! `api::removal`'s; this maps the request and the answer.

use http::StatusCode;
use serde_json::json;

use super::blocking::Blocking;
use super::error::{json_response, ApiError, Response};
use super::removal::{self, Refused};
use super::router::Call;
use super::{sites, State};

/// Answers 202 once the removal is recorded and the portal taken out: requests naming it are
/// refused from then on; its data is gone when `GET /v1/status` no longer lists it in
/// `removing` (within seconds; a large mirror takes longer).
pub fn remove(state: &State, call: &Call<'_>, _: &Blocking) -> Result<Response, ApiError> {
    let named = sites::named(Some(call.params[0])).map_err(ApiError::unselected)?;
    let Some(hub_id) = named else {
        return Err(ApiError::unselected(sites::Unselected::Malformed(
            call.params[0].to_owned(),
        )));
    };
    match removal::request(state, hub_id) {
        Ok(()) => Ok(json_response(
            StatusCode::ACCEPTED,
            &json!({"portal_id": hub_id, "state": "removing"}),
        )),
        Err(Refused::Unselected(unselected)) => Err(ApiError::unselected(unselected)),
        Err(Refused::PrivateApp(refusal)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "private_app_configured",
            format!("{refusal}; remove hubspot.access_token from the config instead"),
        )),
        Err(Refused::Store(error)) => Err(ApiError::storage(&error)),
    }
}
