//! One target's deliverer: reads its queue from the outbox in order, sends each notification
//! signed (Standard Webhooks), at least once, in order per subject (a record, or an owner)
//! and concurrently across subjects, at most `max_in_flight` at a time.
//!
//! A bounded window of the oldest waiting notifications is kept in memory (a subject's
//! oldest one is its head; only heads are sent). A notification is sent only after the store
//! made it durable, so one that a crash takes back was never sent. 2xx delivers it (removed
//! from the outbox); anything else, or no answer within the timeout, is a failure: it is tried
//! again after a growing pause, and once it has failed for `dead_after` since it was queued it
//! is dead (kept for `POST /v1/notifications/{name}/redeliver`). A target that fails gets one
//! probe at a time, spaced by the same growing pauses, until one succeeds; meanwhile waiting
//! notifications older than `dead_after` die without an attempt.
//!
//! Erasing a portal deletes its notifications from the outbox, the window's copies aside: a
//! deliverer that sees an erase ([`Outbox::erasures`](crate::store::Outbox::erasures)) reads
//! its window again from the store, and one whose notification was erased while it was being
//! sent forgets it when the store says it is gone.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::crash::{self, Step};
use super::retry::Retry;
use super::{signature, Live};
use crate::config::Loaded;
use crate::secret::Secret;
use crate::store::{Notification, Settled, Store};
use crate::time::now_ms;

/// A configured target, ready to send to.
#[derive(Clone)]
pub struct Target {
    pub name: Arc<str>,
    pub url: String,
    pub key: Arc<Secret<Vec<u8>>>,
    pub max_in_flight: usize,
    pub timeout: Duration,
    pub retry: Retry,
}

impl Target {
    /// The `[[notify.targets]]` of a loaded config, with their signing keys.
    pub fn all(loaded: &Loaded) -> Vec<Target> {
        let notify = &loaded.config.notify;
        notify
            .targets
            .iter()
            .zip(&loaded.secrets.notify_keys)
            .map(|(target, key)| Target {
                name: Arc::from(target.name.as_str()),
                url: target.url.clone(),
                key: Arc::new(key.clone()),
                max_in_flight: notify.max_in_flight,
                timeout: Duration::from_secs(notify.timeout_secs),
                retry: Retry::from_config(notify),
            })
            .collect()
    }
}

/// Delivers `target`'s notifications until `shutdown`; the in-flight ones get a few seconds
/// to finish, the rest are sent again after the restart.
pub async fn run(target: Target, store: Store, live: Arc<Live>, shutdown: CancellationToken) {
    let client = match client(&target) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(target = %target.name, %error, "cannot build the HTTP client; nothing is delivered");
            return;
        }
    };
    let capacity = (target.max_in_flight * 64).clamp(256, 65_536);
    let erasures_seen = store.outbox().erasures();
    let mut deliverer = Deliverer {
        target,
        store,
        live,
        client,
        capacity,
        window: BTreeMap::new(),
        loaded_through: 0,
        erasures_seen,
        health: Health::default(),
        sending: JoinSet::new(),
    };
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let next_ms = match deliverer.step().await {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(target = %deliverer.target.name, %error, "reading the outbox failed; trying again");
                Some(now_ms() + 1_000)
            }
        };
        let pause = next_ms.map_or(Duration::from_secs(1), |at| {
            Duration::from_millis((at - now_ms()).clamp(0, 1_000) as u64)
        });
        let sending = !deliverer.sending.is_empty();
        tokio::select! {
            Some(first) = deliverer.sending.join_next(), if sending => {
                let mut done: Vec<Sent> = first.into_iter().collect();
                while let Some(more) = deliverer.sending.try_join_next() {
                    done.extend(more);
                }
                deliverer.settle(done).await;
            }
            () = deliverer.live.wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => break,
        }
    }
    deliverer.drain().await;
}

fn client(target: &Target) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(target.timeout)
        .pool_max_idle_per_host(target.max_in_flight)
        .user_agent(concat!("hubspot-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
}

struct Slot {
    row: Notification,
    sending: bool,
}

/// How the target has been answering.
#[derive(Debug, Default)]
struct Health {
    /// Failures in a row (a burst of concurrent ones counts once).
    failures: u32,
    /// Bumped by each counted failure: an answer to a send from before does not count again.
    generation: u64,
    paused_until_ms: i64,
    last_error: String,
}

/// One send's answer.
struct Sent {
    seq: u64,
    generation: u64,
    outcome: Result<(), String>,
}

struct Deliverer {
    target: Target,
    store: Store,
    live: Arc<Live>,
    client: reqwest::Client,
    capacity: usize,
    /// The oldest waiting notifications, by sequence number.
    window: BTreeMap<u64, Slot>,
    loaded_through: u64,
    /// The store's count of erases when the window was last read whole.
    erasures_seen: u64,
    health: Health,
    sending: JoinSet<Sent>,
}

impl Deliverer {
    /// Loads, expires and sends what is due; returns when something next falls due.
    async fn step(&mut self) -> crate::store::Result<Option<i64>> {
        if self.live.rescan.swap(false, Ordering::AcqRel) {
            self.loaded_through = 0;
        }
        let erasures = self.store.outbox().erasures();
        if erasures != self.erasures_seen {
            // What the window holds may have been erased with its portal: only the store
            // knows what still waits. The sends under way settle as the store finds them.
            self.erasures_seen = erasures;
            self.window.retain(|_, slot| slot.sending);
            self.loaded_through = 0;
        }
        self.load().await?;
        let now = now_ms();
        if self.health.failures > 0 {
            self.expire(now).await;
        }
        Ok(self.dispatch(now))
    }

    /// Reads waiting notifications after the last one read into the free part of the window,
    /// and makes them durable before any is sent.
    async fn load(&mut self) -> crate::store::Result<()> {
        let room = self.capacity.saturating_sub(self.window.len());
        if room == 0 {
            return Ok(());
        }
        let rows = self
            .store
            .outbox()
            .waiting(&self.target.name, self.loaded_through, room)?;
        let mut added = 0;
        for (seq, row) in rows {
            self.loaded_through = self.loaded_through.max(seq);
            if let std::collections::btree_map::Entry::Vacant(slot) = self.window.entry(seq) {
                slot.insert(Slot {
                    row,
                    sending: false,
                });
                added += 1;
            }
        }
        if added > 0 {
            // Queued by a committed transaction, but perhaps not flushed yet: a crash could
            // take it back after it was sent, and the change would notify again under
            // another id.
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || store.commit())
                .await
                .map_err(|error| crate::store::Error::Unavailable(error.to_string()))??;
            crash::point(Step::Loaded);
        }
        Ok(())
    }

    /// Sends the heads that are due, within the limit; returns when the next one falls due.
    fn dispatch(&mut self, now: i64) -> Option<i64> {
        let failing = self.health.failures > 0;
        if failing && now < self.health.paused_until_ms {
            return Some(self.health.paused_until_ms);
        }
        let limit = if failing {
            1
        } else {
            self.target.max_in_flight
        };
        let mut heads = HashSet::new();
        let mut next: Option<i64> = None;
        for (seq, slot) in self.window.iter_mut() {
            if self.sending.len() >= limit {
                break;
            }
            if !heads.insert(slot.row.subject) || slot.sending {
                continue;
            }
            if slot.row.next_attempt_at_ms > now {
                next = Some(next.map_or(slot.row.next_attempt_at_ms, |at| {
                    at.min(slot.row.next_attempt_at_ms)
                }));
                continue;
            }
            slot.sending = true;
            let send = send(
                self.client.clone(),
                self.target.clone(),
                self.store.outbox().message_id(*seq),
                slot.row.body.clone(),
            );
            let (seq, generation) = (*seq, self.health.generation);
            self.sending.spawn(async move {
                Sent {
                    seq,
                    generation,
                    outcome: send.await,
                }
            });
        }
        next
    }

    /// Records the answers: delivered ones leave the outbox, failed ones wait or die.
    async fn settle(&mut self, done: Vec<Sent>) {
        let now = now_ms();
        let retry = self.target.retry;
        let mut settled = Vec::with_capacity(done.len());
        for sent in done {
            let Some(mut slot) = self.window.remove(&sent.seq) else {
                continue;
            };
            match sent.outcome {
                Ok(()) => {
                    self.health = Health {
                        generation: self.health.generation + 1,
                        ..Health::default()
                    };
                    self.live.failing_since_ms.store(0, Ordering::Relaxed);
                    let waited = (now - slot.row.queued_at_ms).max(0) as f64 / 1000.0;
                    self.live.delivery_seconds.observe(waited);
                    settled.push(Settled::Delivered {
                        seq: sent.seq,
                        at_ms: now,
                    });
                }
                Err(error) => {
                    if sent.generation == self.health.generation {
                        self.note_failure(now, &error);
                    }
                    slot.sending = false;
                    slot.row.attempts += 1;
                    slot.row.next_attempt_at_ms = now + retry.pause_ms(slot.row.attempts);
                    slot.row.last_error = Some(error);
                    let row = slot.row.clone();
                    if retry.is_dead(row.queued_at_ms, now) {
                        tracing::warn!(target = %self.target.name, seq = sent.seq, event = %row.event, error = ?row.last_error, "notification dead after failing since it was queued");
                        settled.push(Settled::Dead { seq: sent.seq, row });
                    } else {
                        settled.push(Settled::Retry { seq: sent.seq, row });
                        self.window.insert(sent.seq, slot);
                    }
                }
            }
        }
        self.write(settled).await;
    }

    fn note_failure(&mut self, now: i64, error: &str) {
        let health = &mut self.health;
        if health.failures == 0 {
            self.live.failing_since_ms.store(now, Ordering::Relaxed);
            tracing::warn!(target = %self.target.name, error, "notification target failing; probing it with growing pauses");
        }
        health.failures += 1;
        health.generation += 1;
        health.paused_until_ms = now + self.target.retry.pause_ms(health.failures);
        health.last_error = error.to_owned();
    }

    /// While the target fails: waiting notifications queued longer than `dead_after` ago die
    /// without another attempt.
    async fn expire(&mut self, now: i64) {
        let retry = self.target.retry;
        let expired: Vec<u64> = self
            .window
            .iter()
            .filter(|(_, slot)| !slot.sending && retry.is_dead(slot.row.queued_at_ms, now))
            .map(|(seq, _)| *seq)
            .collect();
        if expired.is_empty() {
            return;
        }
        let mut settled = Vec::with_capacity(expired.len());
        for seq in expired {
            if let Some(mut slot) = self.window.remove(&seq) {
                slot.row.last_error = Some(format!(
                    "the target failed throughout: {}",
                    self.health.last_error
                ));
                settled.push(Settled::Dead { seq, row: slot.row });
            }
        }
        tracing::warn!(target = %self.target.name, dead = settled.len(), "notifications dead: the target failed since they were queued");
        self.write(settled).await;
    }

    /// Records `settled`; a notification the store no longer has (erased with its portal)
    /// leaves the window too, never to be sent again.
    async fn write(&mut self, settled: Vec<Settled>) {
        if settled.is_empty() {
            return;
        }
        let (store, name) = (self.store.clone(), self.target.name.clone());
        let written = tokio::task::spawn_blocking(move || {
            let gone = store.outbox().settle(&name, &settled)?;
            for step in [Step::Delivered, Step::RetryScheduled, Step::Dead] {
                if settled.iter().any(|each| settled_at(each) == step) {
                    crash::point(step);
                }
            }
            Ok::<_, crate::store::Error>(gone)
        })
        .await;
        match written {
            Ok(Ok(gone)) => {
                for seq in gone {
                    self.window.remove(&seq);
                }
            }
            // Still waiting in the store: sent again after a restart (same webhook-id).
            Ok(Err(error)) => {
                tracing::warn!(target = %self.target.name, %error, "recording deliveries failed")
            }
            Err(error) => {
                tracing::warn!(target = %self.target.name, %error, "recording deliveries failed")
            }
        }
    }

    /// At shutdown: waits a little for the sends in flight and records their answers.
    async fn drain(mut self) {
        let mut done = Vec::new();
        let waited = tokio::time::timeout(Duration::from_secs(3), async {
            while let Some(sent) = self.sending.join_next().await {
                done.extend(sent);
            }
        })
        .await;
        if waited.is_err() {
            tracing::info!(target = %self.target.name, "notifications still in flight at shutdown are sent again after the restart");
        }
        self.settle(done).await;
    }
}

/// One attempt: POST the body signed now; `Err` says why it failed (never a secret, nor the
/// URL, whose query may hold a token of the receiver's).
async fn send(
    client: reqwest::Client,
    target: Target,
    id: String,
    body: Vec<u8>,
) -> Result<(), String> {
    let timestamp = now_ms() / 1000;
    let signature = signature::sign(target.key.expose(), &id, timestamp, &body);
    let request = client
        .post(&target.url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body);
    crash::point(Step::Sending);
    match request.send().await {
        Ok(mut response) => {
            let status = response.status();
            // Read a little of the answer, so the connection can carry the next request.
            let mut read = 0;
            while let Ok(Some(chunk)) = response.chunk().await {
                read += chunk.len();
                if read > 16 * 1024 {
                    break;
                }
            }
            crash::point(Step::Answered);
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("answered HTTP {}", status.as_u16()))
            }
        }
        Err(error) if error.is_timeout() => Err(format!(
            "no answer within {} s",
            target.timeout.as_secs_f64()
        )),
        Err(error) => Err(describe(&error.without_url())),
    }
}

/// The crash point after recording `settled`.
fn settled_at(settled: &Settled) -> Step {
    match settled {
        Settled::Delivered { .. } => Step::Delivered,
        Settled::Retry { .. } => Step::RetryScheduled,
        Settled::Dead { .. } => Step::Dead,
    }
}

/// A transport error and its causes, on one line.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
