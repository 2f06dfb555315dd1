//! Delivers outbox batches to the configured target, signing every attempt afresh.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::sim::control::Shared;
use crate::sim::{time, WebhookTarget};
use crate::webhook::signature::{decode_v3_uri, sign_v1, sign_v3};

/// HubSpot gives up after 10 attempts.
/// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/webhooks/guide>
pub const MAX_ATTEMPTS: u32 = 10;

/// Delivery slots when no target is configured at start (HubSpot's default).
const DEFAULT_IN_FLIGHT: usize = 10;

/// Runs until shutdown; the target is read per batch, so `Control` can change it at runtime.
pub(crate) fn spawn_sender(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let in_flight = shared
        .config
        .webhook
        .as_ref()
        .map_or(DEFAULT_IN_FLIGHT, |target| target.max_in_flight);
    tokio::spawn(async move {
        // A pooled connection is dropped after 15 s idle, before a receiver's idle timeout
        // (commonly 30 s or more) closes it: reusing one the server is closing at that moment
        // fails the request (an HTTP/1.1 race no client can avoid otherwise).
        let client = match reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(15))
            .build()
        {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "cannot build the webhook client; webhooks disabled");
                return;
            }
        };
        let permits = Arc::new(Semaphore::new(in_flight.max(1)));
        loop {
            // Wait for a delivery slot first so batches fill up while all slots are busy.
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => match permit { Ok(permit) => permit, Err(_) => return },
                _ = shutdown.changed() => return,
            };
            let batch = shared.outbox.take_batch();
            if batch.is_empty() {
                drop(permit);
                tokio::select! {
                    _ = shared.outbox.wake.notified() => continue,
                    _ = shutdown.changed() => return,
                }
            }
            // Events queue only while a target is set; one removed meanwhile drops them.
            let Some(target) = shared.webhook_target() else {
                shared.outbox.finish(batch.len());
                continue;
            };
            let job = Delivery {
                shared: shared.clone(),
                client: client.clone(),
                target: target.clone(),
                shutdown: shutdown.clone(),
            };
            tokio::spawn(job.run(batch, permit));
        }
    });
}

struct Delivery {
    shared: Arc<Shared>,
    client: reqwest::Client,
    target: WebhookTarget,
    shutdown: watch::Receiver<bool>,
}

impl Delivery {
    async fn run(mut self, mut batch: Vec<Value>, _permit: OwnedSemaphorePermit) {
        let events = batch.len();
        let stats = &self.shared.stats;
        for attempt in 0..MAX_ATTEMPTS {
            for event in &mut batch {
                event["attemptNumber"] = json!(attempt);
            }
            let delivered = self.attempt(&batch).await;
            stats.webhooks(|webhooks| {
                webhooks.requests += 1;
                if delivered {
                    webhooks.events_delivered += events as u64;
                } else {
                    webhooks.failed_attempts += 1;
                }
            });
            if delivered {
                self.shared.outbox.finish(events);
                return;
            }
            if attempt + 1 == MAX_ATTEMPTS {
                break;
            }
            // Growing, randomised delays: base × 2^attempt × [0.5, 1.5).
            let jitter = rand::thread_rng().gen_range(0.5..1.5);
            let delay_ms =
                (self.target.retry_base_ms as f64 * 2f64.powi(attempt as i32) * jitter) as u64;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(delay_ms)) => {}
                _ = self.shutdown.changed() => break,
            }
        }
        stats.webhooks(|webhooks| webhooks.batches_given_up += 1);
        self.shared.outbox.finish(events);
    }

    async fn attempt(&self, batch: &[Value]) -> bool {
        // Invariant: a Vec of serde_json Values always serialises.
        let body = serde_json::to_vec(batch).expect("JSON values serialise");
        let secret = self.target.client_secret.as_bytes();
        let timestamp = time::now_ms().to_string();
        let v3 = sign_v3(
            secret,
            "POST",
            &decode_v3_uri(&self.target.url),
            &body,
            &timestamp,
        );
        let request = self
            .client
            .post(&self.target.url)
            .timeout(Duration::from_millis(self.target.timeout_ms))
            .header("content-type", "application/json")
            .header("x-hubspot-signature", sign_v1(secret, &body))
            .header("x-hubspot-signature-version", "v1")
            .header("x-hubspot-signature-v3", v3)
            .header("x-hubspot-request-timestamp", timestamp)
            .body(body);
        match request.send().await {
            Ok(response) => response.status().is_success(),
            Err(error) => {
                tracing::debug!(%error, "webhook delivery failed");
                false
            }
        }
    }
}
