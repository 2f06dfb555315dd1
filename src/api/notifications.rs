//! `GET /v1/notifications` (per target: pending, delivered, failed, dead, dropped, last
//! error; and the digest), `POST /v1/notifications/{name}/redeliver` (the dead ones again)
//! and `POST /v1/notifications/digest` (the e-mail digest, now).

use std::sync::Arc;

use http::StatusCode;
use serde_json::{json, Value};

use super::blocking::Blocking;
use super::error::{json_response, ApiError, Response};
use super::router::Call;
use super::{rfc3339, State};
use crate::notify::Notifications;

fn configured(state: &State) -> Result<&Arc<Notifications>, ApiError> {
    state.notifications.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_configured",
            "no notifications are configured ([[notify.targets]], [notify.email])",
        )
    })
}

fn time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(rfc3339(ms)))
}

/// `GET /v1/notifications`: every target and the digest (an empty list and `null` when none
/// is configured).
pub fn list(state: &State, _: &Call<'_>) -> Result<Response, ApiError> {
    let Some(notifications) = &state.notifications else {
        return Ok(json_response(
            StatusCode::OK,
            &json!({"targets": [], "email": null}),
        ));
    };
    let targets: Vec<Value> = notifications
        .status()?
        .into_iter()
        .map(|target| {
            let queue = &target.queue;
            json!({
                "name": target.name,
                "url": target.url,
                "events": target.events,
                "types": target.types,
                "state": if target.failing_since_ms.is_some() { "failing" } else { "ok" },
                "failing_since": time(target.failing_since_ms),
                "pending": queue.pending,
                "delivered": queue.delivered,
                "failed": queue.failed,
                "dead": queue.dead,
                "dropped": queue.dropped,
                "last_error": queue.last_error,
                "last_error_at": time(queue.last_error_at_ms),
                "last_delivered_at": time(queue.last_delivered_at_ms),
            })
        })
        .collect();
    let email = notifications.digest().map(|digest| {
        json!({
            "schedule": digest.schedule,
            "to": digest.to,
            "last_sent_at": time(digest.last_sent_at_ms),
            "next_at": time(Some(digest.next_at_ms)),
            "last_error": digest.last_error,
        })
    });
    Ok(json_response(
        StatusCode::OK,
        &json!({"targets": targets, "email": email}),
    ))
}

/// `POST /v1/notifications/{name}/redeliver`: the target's dead notifications wait again,
/// each for a full retry period.
pub fn redeliver(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let name = call.params[0];
    let moved = configured(state)?
        .redeliver(name)
        .map_err(|error| ApiError::storage(&error))?
        .ok_or_else(|| ApiError::not_found(format!("no notification target named {name:?}")))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"target": name, "redelivered": moved}),
    ))
}

/// `POST /v1/notifications/digest`: composes and e-mails the digest of the period since the
/// last one, now (the schedule then counts from now). Runs on the blocking pool (it talks to the SMTP server).
pub fn digest(state: &State, _: &Call<'_>, blocking: &Blocking) -> Result<Response, ApiError> {
    {
        let mailer = configured(state)?.mailer.clone().ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_configured",
                "no e-mail digest is configured ([notify.email])",
            )
        })?;
        let sent = blocking
            .wait(mailer.send_now())
            .map_err(|message| ApiError::new(StatusCode::BAD_GATEWAY, "digest_failed", message))?;
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "from": rfc3339(sent.from_ms),
                "to": rfc3339(sent.to_ms),
                "newly_matched": sent.newly_matched,
                "changed_hands": sent.changed_hands,
            }),
        ))
    }
}
