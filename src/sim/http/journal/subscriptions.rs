//! `/webhooks-journal/subscriptions/2026-03`: create-or-update, list, get, delete,
//! delete a portal's. Validation failures answer HubSpot's error body with `errors[].in`.

use serde_json::{json, Value};

use super::super::reply::{self, Reply};
use super::super::Request;
use crate::sim::control::Shared;
use crate::sim::journal::Invalid;
use crate::time;

pub enum Op {
    Upsert,
    List,
    Get(String),
    Delete(String),
    DeletePortal(String),
}

/// The call under `/webhooks-journal/subscriptions/2026-03`: its path template and operation.
pub fn identify(method: &str, rest: &[&str]) -> Option<(&'static str, Op)> {
    Some(match (method, rest) {
        ("POST", []) => ("", Op::Upsert),
        ("GET", []) => ("", Op::List),
        ("GET", [id]) => ("/{subscriptionId}", Op::Get(id.to_string())),
        ("DELETE", ["portals", portal]) => {
            ("/portals/{portalId}", Op::DeletePortal(portal.to_string()))
        }
        ("DELETE", [id]) => ("/{subscriptionId}", Op::Delete(id.to_string())),
        _ => return None,
    })
}

/// `scopes`: the caller's; creating a subscription also needs its objects' read scopes.
pub fn serve(shared: &Shared, request: &Request, op: Op, scopes: &[String]) -> Reply {
    let app_id = shared.app_id();
    let mut journal = shared.journal.lock();
    match op {
        Op::Upsert => {
            let body = match reply::body_json(&request.body) {
                Ok(body) => body,
                Err(message) => return reply::bad_request(&message),
            };
            let subscription = match journal.parse_subscription(&body, app_id) {
                Ok(subscription) => subscription,
                Err(invalid) => return validation(&invalid),
            };
            let missing: Vec<String> = subscription
                .required_scopes()
                .into_iter()
                .filter(|scope| !scopes.iter().any(|held| held == scope))
                .map(str::to_string)
                .collect();
            if !missing.is_empty() {
                return reply::missing_scopes(&missing);
            }
            let stored = journal.subscriptions.upsert(subscription, time::now_ms());
            reply::json(200, &json!(stored))
        }
        Op::List => reply::json(200, &json!({"results": journal.subscriptions.all()})),
        Op::Get(id) => match id.parse().ok().and_then(|id| journal.subscriptions.get(id)) {
            Some(subscription) => reply::json(200, &json!(subscription)),
            None => not_found(&id),
        },
        Op::Delete(id) => match id.parse() {
            Ok(number) if journal.subscriptions.delete(number) => reply::empty(204),
            _ => not_found(&id),
        },
        Op::DeletePortal(portal) => match portal.parse() {
            Ok(portal) => {
                journal.subscriptions.delete_portal(portal);
                reply::empty(204)
            }
            Err(_) => reply::bad_request(&format!("portalId {portal:?} is not an integer")),
        },
    }
}

fn not_found(id: &str) -> Reply {
    reply::error(
        404,
        "OBJECT_NOT_FOUND",
        &format!("Subscription {id} does not exist"),
    )
}

fn validation(invalid: &Invalid) -> Reply {
    let body: Value = json!({"status": "error", "message": invalid.message, "correlationId": reply::correlation_id(),
                             "category": "VALIDATION_ERROR", "errors": [{"message": invalid.message, "in": invalid.field}]});
    reply::json(400, &body)
}
