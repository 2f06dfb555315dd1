//! `/webhooks-journal/...`: a client-credentials token with the call's scope (401 before
//! 403), then a HubSpot outage, the journal's 5xx / 429 storms and its own rate limit, then
//! the journal reads (`reads.rs`) or the subscriptions (`subscriptions.rs`). File downloads
//! (`files.rs`) are outside: no token, no limit, S3's answers.

mod files;
mod reads;
mod subscriptions;

use hyper::header::{HeaderValue, RETRY_AFTER};

pub use files::{download, DOWNLOAD_LABEL};

use super::reply::{self, Reply};
use super::Request;
use crate::sim::auth::Denied;
use crate::sim::control::Shared;
use crate::sim::journal::{self, Admission};
use crate::time;

enum Call {
    Read { local: bool, read: reads::Read },
    Subscriptions(subscriptions::Op),
}

/// Serves one `/webhooks-journal/...` call; returns its stats label and the answer.
pub fn handle(shared: &Shared, request: &Request) -> (String, Reply) {
    let Some((label, scope, call)) = identify(request) else {
        let message = format!("No route for {} {}", request.method, request.path);
        return ("unknown".into(), reply::error(404, "NOT_FOUND", &message));
    };
    let scopes = match authorize(shared, request, scope) {
        Ok(scopes) => scopes,
        Err(Refused::Unauthorized { expired_ago_ms }) => {
            return (label, reply::unauthorized(expired_ago_ms))
        }
        Err(Refused::MissingScope) => return (label, reply::missing_scopes(&[scope.into()])),
    };
    let now = time::now_ms();
    if now < shared.limits.lock().outage_until_ms {
        return (label, reply::fault(503));
    }
    let admission = shared.journal.lock().faults.admit(now);
    let reply = match admission {
        Admission::Pass => match call {
            Call::Read { local, read } => reads::serve(shared, request, local, read),
            Call::Subscriptions(op) => subscriptions::serve(shared, request, op, &scopes),
        },
        Admission::Limited { retry_after_secs } => {
            let mut reply = reply::rate_limited("SECONDLY");
            reply
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
            reply
        }
        Admission::Fault(status) => reply::fault(status),
    };
    (label, reply)
}

/// Why a call's token is refused: 401 or 403.
enum Refused {
    Unauthorized { expired_ago_ms: Option<i64> },
    MissingScope,
}

/// The caller's scopes if it holds a live app token with `scope`.
fn authorize(shared: &Shared, request: &Request, scope: &str) -> Result<Vec<String>, Refused> {
    let now = time::now_ms();
    let unknown = Refused::Unauthorized {
        expired_ago_ms: None,
    };
    let Some(token) = request.bearer() else {
        return Err(unknown);
    };
    let tokens = shared.tokens.lock();
    match tokens.check_app(token, now) {
        Ok(app) if app.scopes.iter().any(|held| held == scope) => Ok(app.scopes.clone()),
        Ok(_) => Err(Refused::MissingScope),
        Err(Denied::Expired { ago_ms }) => Err(Refused::Unauthorized {
            expired_ago_ms: Some(ago_ms),
        }),
        // A private-app or user token: valid, but it cannot hold `developer.*` scopes.
        Err(Denied::Unknown) if tokens.check(token, now).is_ok() => Err(Refused::MissingScope),
        Err(Denied::Unknown) => Err(unknown),
    }
}

fn identify(request: &Request) -> Option<(String, &'static str, Call)> {
    let segments = request.segments();
    let method = request.method.as_str();
    let (label, scope, call) = match &segments[1..] {
        [which @ ("journal" | "journal-local"), "2026-03", rest @ ..] => {
            let (template, read) = reads::identify(method, rest)?;
            let label = format!("{method} /webhooks-journal/{which}/2026-03/{template}");
            let local = *which == "journal-local";
            (label, journal::READ_SCOPE, Call::Read { local, read })
        }
        ["subscriptions", "2026-03", rest @ ..] => {
            let (template, op) = subscriptions::identify(method, rest)?;
            let scope = match method {
                "GET" => journal::SUBSCRIPTIONS_READ_SCOPE,
                _ => journal::SUBSCRIPTIONS_WRITE_SCOPE,
            };
            let label = format!("{method} /webhooks-journal/subscriptions/2026-03{template}");
            (label, scope, Call::Subscriptions(op))
        }
        _ => return None,
    };
    Some((label, scope, call))
}
