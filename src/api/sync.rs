//! `POST /v1/sync/{type}[?full=true]`: "Run Now" — ask the sync cycle for a polling pass over
//! one type, or with `full=true` a reconciliation of every record; and
//! `GET/PUT/DELETE /v1/sync/schedule`: when full reconciliations run.

use http::StatusCode;
use serde_json::{json, Value};

use super::error::{json_response, ApiError, Response};
use super::objects::object_type;
use super::router::Call;
use super::{rfc3339, wire, State};
use crate::sync::schedule::{Change, Frequency, SaveError, Schedule};
use crate::time::now_ms;

pub fn run_now(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let kind = object_type(state, call.params[0])?;
    let full = match call
        .query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("full="))
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "full must be true or false, not {other:?}"
            )))
        }
    };
    if !call.site(state)?.request_sync(kind, full) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_connected",
            "sync is not running (disabled, or not connected to HubSpot yet)",
        ));
    }
    let body = json!({"type": kind.name(), "requested": if full { "reconcile" } else { "poll" }});
    Ok(json_response(StatusCode::ACCEPTED, &body))
}

/// `GET /v1/sync/schedule`: the named portal's.
pub fn schedule(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let portal = call.site(state)?.hub_id();
    let schedule = state
        .schedule(portal)
        .map_err(|error| ApiError::storage(&error))?;
    Ok(json_response(
        StatusCode::OK,
        &schedule_json(state, portal, &schedule),
    ))
}

/// `PUT /v1/sync/schedule`: overrides the named portal's.
pub fn put_schedule(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let portal = call.site(state)?.hub_id();
    let change: Change = wire::json_body(&call.body)?;
    let configured = state.cycle.borrow().schedule();
    match Schedule::save(&state.store, portal, &change, configured) {
        Ok(schedule) => Ok(json_response(
            StatusCode::OK,
            &schedule_json(state, portal, &schedule),
        )),
        Err(SaveError::Invalid(problems)) => {
            let problems: Vec<String> = problems
                .iter()
                .map(|problem| format!("{}: {}", problem.field, problem.message))
                .collect();
            Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_schedule",
                problems.join("; "),
            ))
        }
        Err(SaveError::Store(error)) => Err(ApiError::storage(&error)),
    }
}

/// `DELETE /v1/sync/schedule`: the named portal's follows the config again.
pub fn reset_schedule(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let portal = call.site(state)?.hub_id();
    Schedule::reset(&state.store, portal).map_err(|error| ApiError::storage(&error))?;
    schedule(state, call)
}

/// `{"frequency", "day", "interval_hours", "window_utc", "source", "next_run_at"}`; the next
/// run is computed from the oldest last reconciliation of `portal`'s mirrored types.
fn schedule_json(state: &State, portal: Option<i64>, schedule: &Schedule) -> Value {
    let (frequency, day, hours) = match schedule.frequency {
        Frequency::Interval { hours } => ("interval", None, Some(hours)),
        Frequency::Daily => ("daily", None, None),
        Frequency::Weekly(day) => ("weekly", Some(day.as_str()), None),
    };
    let last = state.last_reconcile_ms(portal);
    json!({
        "frequency": frequency,
        "day": day,
        "interval_hours": hours,
        "window_utc": schedule.window.to_string(),
        "source": schedule.source.as_str(),
        "next_run_at": rfc3339(schedule.next_run(last, now_ms())),
    })
}
