//! `POST /webhooks/hubspot`: verify, parse, store durably, then answer. A rejected request
//! stores nothing; every rejection maps to its status and code in one place.

use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use tokio::sync::Semaphore;

use super::event::parse_batch;
use super::inbox::{now_ms, Inbox, Pending, Refusal};
use super::signature::{SignatureError, SignatureHeaders, Signed, Verifier};
use crate::store::{AppendOutcome, MAX_EVENT_BYTES};

/// Why a webhook request was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("{0}")]
    Malformed(String),
    #[error("request body exceeds {limit} bytes")]
    TooLarge { limit: usize },
    #[error(
        "event {index} of the batch is {bytes} bytes long; events of at most {MAX_EVENT_BYTES} \
         bytes are stored"
    )]
    EventTooLarge { index: usize, bytes: usize },
    #[error("too many requests in flight; retry later")]
    Busy,
    #[error(transparent)]
    Refused(#[from] Refusal),
}

impl Rejection {
    /// The HTTP status and error code HubSpot (and logs) see for this rejection.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Rejection::Signature(SignatureError::Missing) => {
                (StatusCode::UNAUTHORIZED, "missing_signature")
            }
            Rejection::Signature(SignatureError::Invalid(_)) => {
                (StatusCode::UNAUTHORIZED, "invalid_signature")
            }
            Rejection::Signature(SignatureError::Stale { .. }) => {
                (StatusCode::UNAUTHORIZED, "stale_timestamp")
            }
            Rejection::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed_payload"),
            Rejection::TooLarge { .. } | Rejection::EventTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
            }
            Rejection::Busy | Rejection::Refused(Refusal::Overloaded { .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, "overloaded")
            }
            Rejection::Refused(Refusal::StorageUnavailable(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable")
            }
        }
    }
}

/// The webhook endpoint's state.
pub struct Ingress {
    pub verifier: Verifier,
    /// `server.public_url` without a trailing slash: the signed URI is this + path and query.
    pub public_url: String,
    pub inbox: Inbox,
    pub in_flight: Arc<Semaphore>,
}

impl Ingress {
    pub fn new(verifier: Verifier, public_url: &str, inbox: Inbox, max_in_flight: usize) -> Self {
        Ingress {
            verifier,
            public_url: public_url.trim_end_matches('/').to_owned(),
            inbox,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
        }
    }

    /// Handles one delivery whose body was read within the size limit.
    pub async fn handle(
        &self,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> Result<AppendOutcome, Rejection> {
        let _permit = self.in_flight.try_acquire().map_err(|_| Rejection::Busy)?;
        let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let uri = format!("{}{}", self.public_url, path_and_query);
        let signed = Signed {
            method: parts.method.as_str(),
            uri: &uri,
            body: &body,
        };
        let headers = SignatureHeaders::from_map(&parts.headers);
        self.verifier.verify(&headers, &signed, now_ms())?;
        let events = pending_events(&body)?;
        if events.is_empty() {
            return Ok(AppendOutcome::default());
        }
        Ok(self.inbox.submit(body, events).await?)
    }

    pub fn note_rejected(&self) {
        self.inbox.store().inbox().note_rejected();
    }
}

/// Parses the batch and locates each event's raw text inside the body. Refuses the batch if
/// an event is larger than the store keeps (`MAX_EVENT_BYTES`: bigger rows would reach sled's
/// never-synced blob files).
fn pending_events(body: &Bytes) -> Result<Vec<Pending>, Rejection> {
    let text =
        std::str::from_utf8(body).map_err(|_| Rejection::Malformed("body is not UTF-8".into()))?;
    let batch = parse_batch(text.as_bytes()).map_err(|error| Rejection::Malformed(error.0))?;
    let base = text.as_ptr() as usize;
    batch
        .into_iter()
        .enumerate()
        .map(|(index, received)| {
            if received.raw.len() > MAX_EVENT_BYTES {
                return Err(Rejection::EventTooLarge {
                    index,
                    bytes: received.raw.len(),
                });
            }
            // `raw` borrows from `text`, so its address lies inside the body.
            let start = received.raw.as_ptr() as usize - base;
            Ok(Pending {
                event_id: received.event.event_id,
                portal_id: received.event.portal_id,
                digest: received.event.dedup_digest(),
                raw: start..start + received.raw.len(),
            })
        })
        .collect()
}
