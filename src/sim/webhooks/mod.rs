//! Outgoing webhooks: events queue in an `Outbox`; the sender batches them (≤ 100), signs each
//! attempt with v1 and v3 (fresh timestamp), POSTs, and retries like HubSpot.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/webhooks/guide>

mod events;
mod sender;

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;

pub use events::Origin;
pub(crate) use sender::spawn_sender;

use super::portal::Change;
use super::stats::Counters;

/// At most this many events wait for delivery; beyond, new events are dropped and counted.
const OUTBOX_CAPACITY: usize = 1_000_000;
/// HubSpot sends at most 100 events per request.
pub const MAX_BATCH: usize = 100;

/// Misbehaviour to inject into deliveries, for testing a receiver.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookChaos {
    /// Probability that an event is never sent.
    pub drop_rate: f64,
    /// Probability that an event is sent twice (identical, as a HubSpot redelivery).
    pub duplicate_rate: f64,
    /// Shuffle events across a batch (HubSpot guarantees no order).
    pub shuffle: bool,
}

pub struct Outbox {
    queue: Mutex<VecDeque<Value>>,
    chaos: Mutex<(WebhookChaos, StdRng)>,
    in_flight: Mutex<usize>,
    event_id: Mutex<i64>,
    pub(crate) wake: Notify,
}

impl Outbox {
    pub fn new(seed: u64) -> Outbox {
        Outbox {
            queue: Mutex::new(VecDeque::new()),
            chaos: Mutex::new((WebhookChaos::default(), StdRng::seed_from_u64(seed ^ 0x40c))),
            in_flight: Mutex::new(0),
            event_id: Mutex::new(1_000_000 + (seed % 1000) as i64 * 1000),
            wake: Notify::new(),
        }
    }

    pub fn set_chaos(&self, chaos: WebhookChaos) {
        self.chaos.lock().0 = chaos;
    }

    pub fn push(&self, changes: &[Change], portal_id: i64, app_id: i64, stats: &Counters) {
        let origin = Origin { portal_id, app_id };
        let mut next_id = || {
            let mut id = self.event_id.lock();
            *id += 1;
            *id
        };
        let built: Vec<Value> = changes
            .iter()
            .map(|change| events::event(change, origin, &mut next_id))
            .collect();
        let (mut kept, mut dropped) = (Vec::new(), 0);
        {
            let mut chaos = self.chaos.lock();
            let (settings, rng) = &mut *chaos;
            for event in built {
                if settings.drop_rate > 0.0 && rng.gen_bool(settings.drop_rate.min(1.0)) {
                    dropped += 1;
                    continue;
                }
                if settings.duplicate_rate > 0.0 && rng.gen_bool(settings.duplicate_rate.min(1.0)) {
                    kept.push(event.clone());
                }
                kept.push(event);
            }
        }
        let mut queue = self.queue.lock();
        let room = OUTBOX_CAPACITY.saturating_sub(queue.len());
        let overflow = kept.len().saturating_sub(room);
        let queued = kept.len() - overflow;
        queue.extend(kept.into_iter().take(queued));
        drop(queue);
        stats.webhooks(|webhooks| {
            webhooks.events_queued += queued as u64;
            webhooks.events_dropped += (dropped + overflow) as u64;
        });
        self.wake.notify_one();
    }

    /// Takes the next batch (≤ 100 events), shuffled if chaos says so; counts it in flight.
    pub(crate) fn take_batch(&self) -> Vec<Value> {
        let mut queue = self.queue.lock();
        let count = queue.len().min(MAX_BATCH);
        let mut batch: Vec<Value> = queue.drain(..count).collect();
        drop(queue);
        *self.in_flight.lock() += batch.len();
        let mut chaos = self.chaos.lock();
        let (settings, rng) = &mut *chaos;
        if settings.shuffle {
            use rand::seq::SliceRandom;
            batch.shuffle(rng);
        }
        batch
    }

    pub(crate) fn finish(&self, events: usize) {
        let mut in_flight = self.in_flight.lock();
        *in_flight = in_flight.saturating_sub(events);
    }

    /// Events queued or being delivered.
    pub fn pending(&self) -> usize {
        self.queue.lock().len() + *self.in_flight.lock()
    }

    pub async fn flush(&self, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.pending() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.pending()
    }
}
