//! Routing: method and path to handler, body limits, and the error answer for everything else.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Limited};

use super::error::{empty_response, json_response, ApiError, Response};
use super::{objects, status, sync, webhooks, State};
use crate::config::Scope;
use crate::webhook::Rejection;

/// Answers one request. Never fails: every problem becomes an error answer.
pub async fn handle<B>(state: Arc<State>, request: http::Request<B>) -> Result<Response, Infallible>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let lookup = is_lookup(&parts.method, &segments);
    let started = tokio::time::Instant::now();
    let response = match (&parts.method, segments.as_slice()) {
        (&Method::POST, ["webhooks", "hubspot"]) => webhook(&state, parts, body).await,
        (&Method::GET, ["healthz"]) => {
            json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
        }
        (&Method::GET, ["readyz"]) => readyz(&state),
        (&Method::GET, ["metrics"]) => metrics(&state),
        (&Method::GET, ["v1", "status"]) => {
            guarded(&state, &parts, Scope::Read, || status::status(&state))
        }
        (&Method::GET, ["v1", "webhooks", "events"]) => {
            guarded(&state, &parts, Scope::Admin, || {
                webhooks::recent(&state, &parts.uri)
            })
        }
        (&Method::GET, ["v1", "webhooks", "events", event_id]) => {
            guarded(&state, &parts, Scope::Admin, || {
                webhooks::one(&state, event_id)
            })
        }
        (&Method::GET, ["v1", "objects", kind, id]) => guarded(&state, &parts, Scope::Read, || {
            objects::record(&state, kind, id)
        }),
        (&Method::GET, ["v1", "owners"]) => {
            guarded(&state, &parts, Scope::Read, || objects::owners(&state))
        }
        (&Method::GET, ["v1", "owners", id]) => {
            guarded(&state, &parts, Scope::Read, || objects::owner(&state, id))
        }
        (&Method::POST, ["v1", "sync", kind]) => guarded(&state, &parts, Scope::Admin, || {
            sync::run_now(&state, kind, parts.uri.query())
        }),
        (
            _,
            ["webhooks", "hubspot"] | ["healthz"] | ["readyz"] | ["metrics"] | ["v1", "status"],
        )
        | (_, ["v1", "webhooks", "events", ..])
        | (_, ["v1", "objects", _, _] | ["v1", "owners", ..] | ["v1", "sync", _]) => ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{} is not allowed on {path}", parts.method),
        )
        .into_response(),
        _ => ApiError::not_found(format!("no route for {} {path}", parts.method)).into_response(),
    };
    if lookup {
        state.metrics.observe_lookup(started.elapsed());
    }
    Ok(response)
}

/// The lookup endpoints, whose latency `/metrics` reports.
fn is_lookup(method: &Method, segments: &[&str]) -> bool {
    matches!(
        (method, segments),
        (&Method::GET, ["v1", "companies" | "contacts", "lookup"])
            | (&Method::POST, ["v1", "indicators"])
    )
}

/// Runs `answer` when the request's token has `scope`.
fn guarded(
    state: &State,
    parts: &http::request::Parts,
    scope: Scope,
    answer: impl FnOnce() -> Result<Response, ApiError>,
) -> Response {
    let authorized = state
        .tokens
        .read()
        .authorize(&parts.headers, scope)
        .map(|_| ());
    match authorized.and_then(|()| answer()) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn readyz(state: &State) -> Response {
    if state.is_ready() {
        json_response(StatusCode::OK, &serde_json::json!({"status": "ready"}))
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "starting up or draining",
        )
        .into_response()
    }
}

/// `GET /metrics`: Prometheus text, unauthenticated like the health endpoints.
fn metrics(state: &State) -> Response {
    let text = state.metrics.render(state);
    let mut response = http::Response::new(http_body_util::Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    response
}

async fn webhook<B>(state: &State, parts: http::request::Parts, body: B) -> Response
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = tokio::time::Instant::now();
    let outcome = match read_body(body, state.max_body_bytes).await {
        Ok(body) => state.ingress.handle(&parts, body).await,
        Err(rejection) => Err(rejection),
    };
    match outcome {
        Ok(stored) => {
            state
                .metrics
                .webhook_acknowledged(&stored, started.elapsed());
            tracing::debug!(
                stored = stored.stored,
                duplicates = stored.duplicates,
                "webhook batch acknowledged"
            );
            empty_response(StatusCode::NO_CONTENT)
        }
        Err(rejection) => {
            let (status, code) = rejection.status_and_code();
            state.metrics.webhook_rejected(code, started.elapsed());
            if status != StatusCode::SERVICE_UNAVAILABLE {
                state.ingress.note_rejected();
            }
            tracing::info!(%status, code, reason = %rejection, "webhook request rejected");
            ApiError::new(status, code, rejection.to_string()).into_response()
        }
    }
}

/// Reads a body of at most `limit` bytes.
async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, Rejection>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let too_large = || Rejection::TooLarge { limit };
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error)
            if error
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(error) => Err(Rejection::Malformed(format!(
            "could not read the body: {error}"
        ))),
    }
}
