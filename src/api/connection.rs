//! Connections: the service connection's state, Connect (`start` and the callback page),
//! Disconnect, preferences, and users' own connections. Every decision is
//! `connection::Connections`'; this module only maps requests and answers.

use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::blocking::Blocking;
use super::error::{json_response, ApiError, Response};
use super::router::Call;
use super::{rfc3339, wire, Site, State};
use crate::connection::{
    Callback, ExportConnection, HubSpotUser, Preferences, Refusal, Status, UserStatus, Who,
};

/// The one mapping of a refusal to an HTTP status and code.
pub(super) fn status_and_code(refusal: &Refusal) -> (StatusCode, &'static str) {
    match refusal {
        Refusal::NoApp => (StatusCode::CONFLICT, "no_oauth_app"),
        Refusal::NoSecretsKey => (StatusCode::CONFLICT, "no_secrets_key"),
        Refusal::PrivateApp => (StatusCode::CONFLICT, "private_app_configured"),
        Refusal::TooManyFlows => (StatusCode::TOO_MANY_REQUESTS, "too_many_flows"),
        Refusal::MissingState | Refusal::UnknownState | Refusal::ExpiredState => {
            (StatusCode::BAD_REQUEST, "invalid_state")
        }
        Refusal::Denied(_) => (StatusCode::FORBIDDEN, "access_denied"),
        Refusal::MissingCode => (StatusCode::BAD_REQUEST, "missing_code"),
        Refusal::CodeRefused(_) => (StatusCode::BAD_REQUEST, "code_refused"),
        Refusal::MissingScopes(_) => (StatusCode::FORBIDDEN, "missing_scopes"),
        Refusal::OtherPortal { .. } => (StatusCode::CONFLICT, "other_portal"),
        Refusal::OtherUser { .. } => (StatusCode::FORBIDDEN, "other_user"),
        Refusal::NoService => (StatusCode::CONFLICT, "not_connected"),
        Refusal::Removing => (StatusCode::CONFLICT, "portal_removing"),
        Refusal::BadEmail(_) => (StatusCode::BAD_REQUEST, "bad_request"),
        Refusal::NoUserConnection(_) => (StatusCode::NOT_FOUND, "not_connected"),
        Refusal::HubSpot(_) => (StatusCode::BAD_GATEWAY, "hubspot_unavailable"),
        Refusal::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
    }
}

fn refused(refusal: Refusal) -> ApiError {
    if let Refusal::Store(error) = &refusal {
        return ApiError::storage(error);
    }
    let (status, code) = status_and_code(&refusal);
    ApiError::new(status, code, refusal.to_string())
}

fn user_json(user: &Option<HubSpotUser>) -> Value {
    match user {
        Some(user) => json!({"email": user.email, "user_id": user.user_id}),
        None => Value::Null,
    }
}

fn status_json(status: &Status) -> Value {
    let mut body = json!({
        "state": status.state.as_str(),
        "method": status.method.as_str(),
        "portal_id": status.portal_id,
        "hub_domain": status.hub_domain,
        "primary_admin": user_json(&status.primary_admin),
        "scopes": status.scopes,
        "missing_scopes": status.missing_scopes,
        "connected_at": status.connected_at_ms.map(rfc3339),
        "export_connection": status.preferences.export_connection.as_str(),
        "exports_enabled": status.preferences.exports_enabled,
    });
    if let Some(reason) = &status.reason {
        body["reason"] = json!(reason);
    }
    body
}

fn user_status_json(status: &UserStatus) -> Value {
    let mut body = json!({
        "email": status.email,
        "state": status.state.as_str(),
        "hubspot_user": user_json(&status.hubspot_user),
        "portal_id": status.portal_id,
        "scopes": status.scopes,
        "missing_scopes": status.missing_scopes,
        "connected_at": status.connected_at_ms.map(rfc3339),
    });
    if let Some(reason) = &status.reason {
        body["reason"] = json!(reason);
    }
    body
}

/// `GET /v1/connection`.
pub fn get(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let status = call.site(state)?.connections.status();
    Ok(json_response(StatusCode::OK, &status_json(&status)))
}

/// `POST /v1/connection/start`: `{"authorize_url"}`.
pub fn start(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let started_by = call.caller.unwrap_or("api");
    let url = call
        .site(state)?
        .connections
        .start(&Who::Service, started_by)
        .map_err(refused)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"authorize_url": url}),
    ))
}

/// `GET /oauth/callback`: the state is the proof; answers a page saying what happened.
pub fn callback(state: &State, call: &Call<'_>, blocking: &Blocking) -> Result<Response, ApiError> {
    let callback = Callback::from_query(call.query);
    let outcome = blocking.wait(state.sites.complete(callback));
    if let Err(refusal) = &outcome {
        tracing::warn!(reason = %refusal, "a Connect callback was refused");
    }
    Ok(super::callback_page::callback_page(&outcome))
}

/// `DELETE /v1/connection`.
pub fn disconnect(
    state: &State,
    call: &Call<'_>,
    blocking: &Blocking,
) -> Result<Response, ApiError> {
    let site = call.site(state)?;
    let status = blocking
        .wait(site.connections.disconnect())
        .map_err(refused)?;
    Ok(json_response(StatusCode::OK, &status_json(&status)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreferencesRequest {
    #[serde(default)]
    export_connection: Option<ExportConnection>,
    #[serde(default)]
    exports_enabled: Option<bool>,
}

/// `PUT /v1/connection/preferences`: the fields given change, the others stay.
pub fn put_preferences(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let request: PreferencesRequest = wire::json_body(&call.body)?;
    let site = call.site(state)?;
    change_preferences(&site, request.export_connection, request.exports_enabled)
        .map_err(refused)?;
    get(state, call)
}

/// Changes the preferences given (the API's and the console's): the others stay; waiting
/// exports look again at once.
pub fn change_preferences(
    site: &Site,
    export_connection: Option<ExportConnection>,
    exports_enabled: Option<bool>,
) -> Result<Preferences, Refusal> {
    let mut preferences = site.connections.preferences();
    if let Some(export_connection) = export_connection {
        preferences.export_connection = export_connection;
    }
    if let Some(enabled) = exports_enabled {
        preferences.exports_enabled = enabled;
    }
    let saved = site.connections.set_preferences(preferences)?;
    site.exporter.wake.notify_one();
    Ok(saved)
}

/// `POST /v1/users/{email}/connection/start`.
pub fn user_start(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let email = call.params[0];
    let who = Who::user(email).ok_or_else(|| refused(Refusal::BadEmail(email.to_owned())))?;
    let started_by = call.caller.unwrap_or("api");
    let url = call.site(state)?.connections.start(&who, started_by);
    let url = url.map_err(refused)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"authorize_url": url}),
    ))
}

/// `GET /v1/users/{email}/connection`.
pub fn user_get(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let status = call
        .site(state)?
        .connections
        .user_status(call.params[0])
        .map_err(refused)?;
    Ok(json_response(StatusCode::OK, &user_status_json(&status)))
}

/// `DELETE /v1/users/{email}/connection`.
pub fn user_disconnect(
    state: &State,
    call: &Call<'_>,
    blocking: &Blocking,
) -> Result<Response, ApiError> {
    let site = call.site(state)?;
    let status = blocking
        .wait(site.connections.disconnect_user(call.params[0]))
        .map_err(refused)?;
    Ok(json_response(StatusCode::OK, &user_status_json(&status)))
}
