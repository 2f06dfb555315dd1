//! `POST /v1/journal/subscriptions` (admin): creates (or updates) the Webhooks Journal
//! subscriptions the mirror needs for the connected portal, as on connect; what
//! `hubspot-gateway journal subscribe` calls when a daemon runs.

use http::StatusCode;
use serde_json::json;

use super::blocking::Blocking;
use super::error::{json_response, ApiError, Response};
use super::router::Call;
use super::State;

/// Runs on the blocking pool (it calls HubSpot).
pub fn subscribe(
    state: &State,
    call: &Call<'_>,
    blocking: &Blocking,
) -> Result<Response, ApiError> {
    {
        let Some(journal) = state.journal.clone() else {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "journal_disabled",
                "the Webhooks Journal is off: set [hubspot.journal] enabled = true",
            ));
        };
        let Some(syncer) = call.site(state)?.syncer() else {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "not_connected",
                "no HubSpot portal is connected",
            ));
        };
        let subscribed = blocking.wait(journal.subscribe(&syncer)).map_err(|error| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "hubspot_refused",
                error.to_string(),
            )
        })?;
        let list: Vec<_> = subscribed
            .iter()
            .map(|sub| json!({"id": sub.id, "type": sub.kind, "object_type_id": sub.object_type_id, "actions": sub.actions}))
            .collect();
        Ok(json_response(
            StatusCode::OK,
            &json!({"portal_id": syncer.portal, "subscriptions": list}),
        ))
    }
}
