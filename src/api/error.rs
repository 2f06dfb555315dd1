//! The one error shape every HTTP answer uses: `{"error": {"code", "message"}}`.

use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use serde_json::json;

pub type Response = http::Response<Full<Bytes>>;

/// An error answer: status, snake_case code, human message. Internals never go in `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A store failure: logged with its detail, answered without it.
    pub fn storage(error: &crate::store::Error) -> Self {
        tracing::error!(%error, "store error while answering a request");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "the store is unavailable; retry later",
        )
    }

    /// The answer to a HubSpot call that failed: a request HubSpot refused (its validation
    /// message is the caller's to read) is 422 `hubspot_rejected`; anything else (network,
    /// rate limits, credentials, HubSpot itself) is logged and answered 503.
    pub fn hubspot(error: crate::hubspot::Error) -> Self {
        if error.fault() == crate::hubspot::Fault::Request {
            return Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "hubspot_rejected",
                error.to_string(),
            );
        }
        tracing::warn!(%error, "a request could not be answered: HubSpot failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "hubspot_unavailable",
            "HubSpot could not be reached; retry later",
        )
    }

    /// A request that names no portal the gateway mirrors (see `api::sites`).
    pub fn unselected(unselected: super::sites::Unselected) -> Self {
        use super::sites::Unselected;
        let (status, code) = match &unselected {
            Unselected::Required(_) => (StatusCode::BAD_REQUEST, "portal_required"),
            Unselected::Unknown { .. } => (StatusCode::NOT_FOUND, "unknown_portal"),
            Unselected::Malformed(_) => (StatusCode::BAD_REQUEST, "bad_portal"),
        };
        Self::new(status, code, unselected.to_string())
    }

    /// A request body that could not be read (`api::body`).
    pub fn body(error: &super::body::Error) -> Self {
        use super::body::Error;
        let (status, code) = match error {
            Error::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            Error::Timeout { .. } => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            Error::Memory => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Error::Unreadable(_) => (StatusCode::BAD_REQUEST, "malformed_payload"),
        };
        Self::new(status, code, error.to_string())
    }

    pub fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        json_response(self.status, &body)
    }
}

impl From<crate::hubspot::Error> for ApiError {
    fn from(error: crate::hubspot::Error) -> Self {
        ApiError::hubspot(error)
    }
}

impl From<crate::store::Error> for ApiError {
    fn from(error: crate::store::Error) -> Self {
        ApiError::storage(&error)
    }
}

/// A JSON answer with the given status.
pub fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    // Invariant: answer types are plain structs and JSON values with string keys.
    let bytes = serde_json::to_vec(body).expect("answer serialises");
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .expect("static response parts are valid")
}

/// Marks an answer as the connection's last: sent when the rest of the request's body will
/// not be read (hyper closes such a connection anyway; this tells the client).
pub fn close_connection(response: &mut Response) {
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
}

/// An answer without a body.
pub fn empty_response(status: StatusCode) -> Response {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
