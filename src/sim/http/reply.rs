//! Response builders and HubSpot's error bodies. HubSpot:
//! <https://developers.hubspot.com/docs/api-reference/error-handling>,
//! <https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines>,
//! <https://developers.hubspot.com/docs/api-reference/legacy/authentication/manage-oauth-tokens>.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use rand::Rng;
use serde_json::{json, Value};

pub type Reply = Response<Full<Bytes>>;

pub fn json(status: u16, body: &Value) -> Reply {
    // Invariant: serde_json::Value always serialises.
    let bytes = serde_json::to_vec(body).expect("JSON values serialise");
    // Invariant: a valid status code and static header values make a valid response.
    Response::builder()
        .status(status)
        .header("content-type", "application/json;charset=utf-8")
        .header("x-hubspot-correlation-id", correlation_id())
        .body(Full::new(Bytes::from(bytes)))
        .expect("static response parts are valid")
}

pub fn empty(status: u16) -> Reply {
    // Invariant: as above.
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::new()))
        .expect("static response parts are valid")
}

pub fn correlation_id() -> String {
    let mut rng = rand::thread_rng();
    let (a, b, c): (u32, u16, u64) = (rng.gen(), rng.gen(), rng.gen());
    format!(
        "{a:08x}-{b:04x}-4{:03x}-a{:03x}-{:012x}",
        c >> 52,
        (c >> 40) & 0xfff,
        c & 0xffff_ffff_ffff
    )
}

/// HubSpot's generic error body.
pub fn error(status: u16, category: &str, message: &str) -> Reply {
    json(
        status,
        &json!({"status": "error", "message": message, "correlationId": correlation_id(), "category": category}),
    )
}

pub fn bad_request(message: &str) -> Reply {
    error(400, "VALIDATION_ERROR", message)
}

pub fn not_found(ids: &[String]) -> Reply {
    let body = json!({"status": "error", "message": "Object not found.  objectId are usually numeric.",
                      "correlationId": correlation_id(), "context": {"id": ids}, "category": "OBJECT_NOT_FOUND"});
    json(404, &body)
}

pub fn unauthorized(expired_ago_ms: Option<i64>) -> Reply {
    match expired_ago_ms {
        Some(ago) => error(
            401,
            "EXPIRED_AUTHENTICATION",
            &format!("The OAuth token used to make this call expired {} minute(s) ago.", ago / 60_000),
        ),
        None => error(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        ),
    }
}

pub fn missing_scopes(missing: &[String]) -> Reply {
    let body = json!({
        "status": "error",
        "message": "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
        "correlationId": correlation_id(),
        "errors": [{"message": "One or more of the following scopes are required.", "context": {"requiredGranularScopes": missing}}],
        "context": {"missingScopes": missing},
        "links": {"scopes": "https://developers.hubspot.com/scopes"},
        "category": "MISSING_SCOPES",
    });
    json(403, &body)
}

/// 429 with HubSpot's rate-limit body.
/// HubSpot: <https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines>
pub fn rate_limited(policy: &str) -> Reply {
    let message = match policy {
        "DAILY" => "You have reached your daily limit.",
        "SECONDLY" => "You have reached your secondly limit.",
        _ => "You have reached your ten_secondly_rolling limit.",
    };
    let id = correlation_id();
    json(
        429,
        &json!({"status": "error", "message": message, "errorType": "RATE_LIMIT", "correlationId": id,
                      "policyName": policy, "requestId": correlation_id()}),
    )
}

pub fn fault(status: u16) -> Reply {
    let (category, message) = match status {
        502 => ("BAD_GATEWAY", "The server encountered a temporary error while processing the request. Please try again."),
        504 => ("GATEWAY_TIMEOUT", "The request timed out while processing. Please try again."),
        _ => ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable. Please try again later."),
    };
    error(status, category, message)
}

/// A request body as JSON; the error is the 400 message.
pub fn body_json(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|error| format!("Invalid input JSON on line 1: {error}"))
}

/// An object id in a request body: HubSpot's clients send strings, some send numbers.
pub fn id_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => String::new(),
    }
}
