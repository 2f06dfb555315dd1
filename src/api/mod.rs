//! The HTTP surface: webhook ingress, the query API, health. One router, one error shape.

pub mod auth;
pub mod error;
mod router;
mod status;
mod webhooks;

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;

pub use auth::Tokens;
pub use error::{ApiError, Response};
pub use router::handle;

use crate::store::Store;
use crate::webhook::Ingress;

/// Everything a request may need; shared by all connections.
pub struct State {
    pub ingress: Ingress,
    pub store: Store,
    /// Replaced on reload, so read it per request.
    pub tokens: RwLock<Tokens>,
    pub max_body_bytes: usize,
    ready: AtomicBool,
}

impl State {
    pub fn new(ingress: Ingress, store: Store, tokens: Tokens, max_body_bytes: usize) -> Self {
        State {
            ingress,
            store,
            tokens: RwLock::new(tokens),
            max_body_bytes,
            ready: AtomicBool::new(false),
        }
    }

    /// Ready means: store open, listeners bound, not draining (`/readyz`).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// RFC 3339 UTC text (millisecond precision) of an epoch-milliseconds time.
pub fn rfc3339(epoch_ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(epoch_ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}
