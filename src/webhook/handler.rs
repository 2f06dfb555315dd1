//! `POST /webhooks/hubspot`: verify, parse, store durably, then answer. A rejected request
//! stores nothing; every rejection maps to its status and code in one place.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::event::parse_batch;
use super::inbox::{Inbox, Pending, Refusal};
use super::signature::{
    check_legacy_age, SignatureError, SignatureHeaders, Signed, Verifier, Version,
};
use crate::store::{AppendOutcome, MAX_EVENT_BYTES};
use crate::time::now_ms;

/// Why a webhook request was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("{0}")]
    Malformed(String),
    #[error("request body exceeds {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body did not arrive within {secs} s (server.body_timeout_secs)")]
    BodyTimeout { secs: u64 },
    #[error(
        "event {index} of the batch is {bytes} bytes long; events of at most {MAX_EVENT_BYTES} \
         bytes are stored"
    )]
    EventTooLarge { index: usize, bytes: usize },
    #[error("too many requests in flight; retry later")]
    Busy,
    #[error(
        "request bodies in memory are at their limit (server.max_body_memory_bytes); retry later"
    )]
    BodyMemory,
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
            Rejection::Signature(SignatureError::Stale { .. } | SignatureError::LegacyExpired) => {
                (StatusCode::UNAUTHORIZED, "stale_timestamp")
            }
            Rejection::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed_payload"),
            Rejection::TooLarge { .. } | Rejection::EventTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
            }
            Rejection::BodyTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            Rejection::Busy
            | Rejection::BodyMemory
            | Rejection::Refused(Refusal::Overloaded { .. }) => {
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
    /// Legacy requests with events older than this are refused, see [`check_legacy_age`]:
    /// the inbox's retention less [`CLOCK_SKEW_MARGIN`].
    pub legacy_window: Duration,
}

/// How far HubSpot's clock (`occurredAt`) may run ahead of ours. The dedup check knows an
/// event at least the retention after its request arrived by our clock; the legacy window is counted from
/// `occurredAt` by HubSpot's, so it is kept this much shorter.
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(600);

/// A request that passed every check its headers allow and holds an in-flight slot: only
/// such a request's body is read.
pub struct Admitted<'a> {
    _in_flight: SemaphorePermit<'a>,
}

impl Ingress {
    pub fn new(
        verifier: Verifier,
        public_url: &str,
        inbox: Inbox,
        max_in_flight: usize,
        dedup_retention: Duration,
    ) -> Self {
        Ingress {
            verifier,
            public_url: public_url.trim_end_matches('/').to_owned(),
            inbox,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            legacy_window: dedup_retention.saturating_sub(CLOCK_SKEW_MARGIN),
        }
    }

    /// Checks what the headers alone tell (a signature header is there, its version is
    /// accepted, a v3 timestamp is fresh) and takes an in-flight slot, before any of the body
    /// is read: a request without a signature costs no memory and cannot hold a slot waiting
    /// for its body.
    pub fn admit(&self, headers: &http::HeaderMap) -> Result<Admitted<'_>, Rejection> {
        let headers = SignatureHeaders::from_map(headers);
        self.verifier.check_headers(&headers, now_ms())?;
        let permit = self.in_flight.try_acquire().map_err(|_| Rejection::Busy)?;
        Ok(Admitted { _in_flight: permit })
    }

    /// Handles one admitted delivery whose body was read within the limits.
    pub async fn handle(
        &self,
        _admitted: Admitted<'_>,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> Result<AppendOutcome, Rejection> {
        let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let uri = format!("{}{}", self.public_url, path_and_query);
        let signed = Signed {
            method: parts.method.as_str(),
            uri: &uri,
            body: &body,
        };
        let headers = SignatureHeaders::from_map(&parts.headers);
        let now = now_ms();
        let version = self.verifier.verify(&headers, &signed, now)?;
        let batch = pending_events(&body)?;
        if version != Version::V3 {
            let window_ms = i64::try_from(self.legacy_window.as_millis()).unwrap_or(i64::MAX);
            check_legacy_age(batch.oldest_occurred_at_ms, window_ms, now)?;
        }
        if batch.events.is_empty() {
            return Ok(AppendOutcome::default());
        }
        Ok(self.inbox.submit(body, batch.events).await?)
    }

    pub fn note_rejected(&self) {
        self.inbox.store().inbox().note_rejected();
    }
}

/// A parsed batch: its events located in the body, and when the oldest of them occurred.
struct Batch {
    events: Vec<Pending>,
    oldest_occurred_at_ms: Option<i64>,
}

/// Parses the batch and locates each event's raw text inside the body. Refuses the batch if
/// an event is larger than the store keeps (`MAX_EVENT_BYTES`: bigger rows would reach sled's
/// never-synced blob files).
fn pending_events(body: &Bytes) -> Result<Batch, Rejection> {
    let text =
        std::str::from_utf8(body).map_err(|_| Rejection::Malformed("body is not UTF-8".into()))?;
    let batch = parse_batch(text.as_bytes()).map_err(|error| Rejection::Malformed(error.0))?;
    let oldest_occurred_at_ms = batch.iter().map(|r| r.event.occurred_at).min();
    let base = text.as_ptr() as usize;
    let events = batch
        .into_iter()
        .enumerate()
        .map(|(index, mut received)| {
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
        .collect::<Result<_, _>>()?;
    Ok(Batch {
        events,
        oldest_occurred_at_ms,
    })
}
