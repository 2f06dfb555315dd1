//! `Control`'s runtime switches: faults, latency, rate limits, scopes, tokens, webhook chaos.

use std::time::Duration;

use super::Control;
use crate::sim::limits::Window;
use crate::sim::webhooks::WebhookChaos;
use crate::sim::{RateLimit, WebhookTarget};
use crate::time;

impl Control {
    pub fn set_fault_rate(&self, fault_rate: f64) {
        self.shared.limits.lock().fault_rate = fault_rate;
    }

    pub fn set_latency_ms(&self, latency_ms: u64) {
        self.shared.limits.lock().latency_ms = latency_ms;
    }

    /// The next `count` API calls answer 429 (a "429 storm").
    pub fn force_429s(&self, count: u32) {
        self.shared.limits.lock().forced_429 = count;
    }

    /// The next `count` writes (create, update, upsert; single or batch) are applied, then
    /// answered only after `stall`: a client timing out sooner cannot know they happened.
    pub fn stall_writes(&self, count: u32, stall: Duration) {
        let mut limits = self.shared.limits.lock();
        limits.stalled_writes = count;
        limits.stall_ms = stall.as_millis() as u64;
    }

    /// Every API call answers 503 for `duration`.
    pub fn outage(&self, duration: Duration) {
        self.shared.limits.lock().outage_until_ms = time::now_ms() + duration.as_millis() as i64;
    }

    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.shared.limits.lock().general = limit.map(Window::new);
    }

    pub fn set_search_rate_limit(&self, limit: Option<RateLimit>) {
        self.shared.limits.lock().search = limit.map(Window::new);
    }

    pub fn set_daily_limit(&self, limit: Option<u64>) {
        self.shared.limits.lock().daily_limit = limit;
    }

    pub fn set_scopes(&self, scopes: Vec<String>) {
        self.shared.tokens.lock().scopes = scopes;
    }

    /// Expires every OAuth access token issued so far (the private-app token never expires).
    pub fn expire_tokens(&self) {
        self.shared.tokens.lock().expire_all(time::now_ms());
    }

    /// Sends future webhooks to `target` (`None` stops them): lets a test or the demo start
    /// the simulator before the receiver whose URL it needs.
    pub fn set_webhook_target(&self, target: Option<WebhookTarget>) {
        self.shared.set_webhook_target(target);
    }

    pub fn webhook_target(&self) -> Option<WebhookTarget> {
        self.shared.webhook_target()
    }

    /// Makes mutations invisible to search for this long from now on.
    pub fn set_search_lag_ms(&self, lag_ms: u64) {
        self.shared.portal.lock().search_lag_ms = lag_ms;
    }

    pub fn set_webhook_chaos(&self, chaos: WebhookChaos) {
        self.shared.outbox.set_chaos(chaos);
    }

    /// Waits until every queued webhook was delivered or given up, at most `timeout`;
    /// returns how many events are still pending.
    pub async fn flush_webhooks(&self, timeout: Duration) -> usize {
        self.shared.outbox.flush(timeout).await
    }
}
