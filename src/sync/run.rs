//! The long-running sync loops (the daemon spawns them): applying webhooks as they arrive,
//! and the backfill → polling → reference refresh → reconciliation cycle.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use super::schedule::Schedule;
use super::state::TypeState;
use super::syncer::Syncer;
use super::webhooks::{consume, Consumed, Route};
use crate::object::ObjectType;
use crate::store::Store;
use crate::time::now_ms;
use crate::time::Window;

/// How often the polling cycle runs and when reference data and reconciliation are due.
#[derive(Debug, Clone)]
pub struct Cycle {
    /// Search for modified records each pass; off while the Webhooks Journal delivers every
    /// change in order (it replaces polling; gaps in it are reconciled).
    pub incremental: bool,
    pub poll_interval: Duration,
    pub reference_interval: Duration,
    pub reconcile_interval: Duration,
    pub reconcile_window: Window,
}

impl Default for Cycle {
    /// The config's defaults.
    fn default() -> Self {
        Cycle {
            incremental: true,
            poll_interval: Duration::from_secs(300),
            reference_interval: Duration::from_secs(600),
            reconcile_interval: Duration::from_secs(24 * 3600),
            reconcile_window: Window::parse("02:00-05:00").expect("a valid window"),
        }
    }
}

impl Cycle {
    /// The reconciliation schedule the config describes (an override may replace it).
    pub fn schedule(&self) -> Schedule {
        Schedule::configured(
            self.reconcile_interval.as_secs() / 3600,
            self.reconcile_window,
        )
    }
}

/// "Run Now" requests from the API or CLI, and a way to wake the cycle for them.
#[derive(Debug, Default)]
pub struct Triggers {
    /// Per type: `true` asks for a full reconciliation, `false` for a polling pass.
    requested: Mutex<BTreeMap<ObjectType, bool>>,
    wake: Notify,
}

impl Triggers {
    pub fn request(&self, kind: ObjectType, full: bool) {
        *self.requested.lock().entry(kind).or_default() |= full;
        self.wake.notify_one();
    }

    fn take(&self) -> BTreeMap<ObjectType, bool> {
        std::mem::take(&mut *self.requested.lock())
    }
}

/// Applies stored webhook events, each portal's with the sync `route` names, until shutdown;
/// backs off while HubSpot fails.
pub async fn run_consumer(
    store: Store,
    route: Arc<dyn Fn(i64) -> Route + Send + Sync>,
    shutdown: CancellationToken,
) {
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        let pause = tokio::select! {
            outcome = consume(&store, &*route) => match outcome {
                Ok(Consumed::Events(0)) => Duration::from_millis(25),
                Ok(Consumed::Events(_)) => { failures = 0; Duration::ZERO }
                Ok(Consumed::Waiting) => Duration::from_millis(250),
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, failures, "applying webhook events failed; they stay in the inbox");
                    backoff(failures)
                }
            },
            () = shutdown.cancelled() => return,
        };
        sleep_unless_cancelled(pause, &shutdown).await;
    }
}

/// Backfills every type (resuming), then polls, refreshes reference data and reconciles on
/// schedule until shutdown. `cycles` carries the schedule; a reload may replace it.
pub async fn run_cycle(
    syncer: Arc<Syncer>,
    mut cycles: watch::Receiver<Cycle>,
    triggers: Arc<Triggers>,
    shutdown: CancellationToken,
) {
    let mut last_reference = None;
    let mut failures = 0u32;
    // The first pause is the portal's own share of an interval, so that the portals of a
    // deployment, connected or started together, do not all poll HubSpot at one moment.
    let mut phase = Some(crate::time::phase(syncer.portal));
    while !shutdown.is_cancelled() {
        let cycle = cycles.borrow_and_update().clone();
        let pass = async {
            if last_reference
                .is_none_or(|at: tokio::time::Instant| at.elapsed() >= cycle.reference_interval)
            {
                syncer.refresh_reference().await?;
                last_reference = Some(tokio::time::Instant::now());
            }
            for kind in syncer.objects.clone() {
                syncer.backfill(kind, false).await?;
                if cycle.incremental {
                    syncer.poll(kind).await?;
                }
                reconcile_if_due(&syncer, kind, &cycle).await?;
            }
            Ok::<(), super::Error>(())
        };
        let wait = tokio::select! {
            outcome = pass => match outcome {
                Ok(()) => {
                    failures = 0;
                    cycle.poll_interval.mul_f64(phase.take().unwrap_or(1.0))
                }
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, failures, "sync pass failed; retrying");
                    backoff(failures)
                }
            },
            () = shutdown.cancelled() => return,
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            // A reloaded schedule takes effect at once.
            Ok(()) = cycles.changed() => {}
            () = triggers.wake.notified() => {
                for (kind, full) in triggers.take() {
                    let outcome = if full { syncer.reconcile(kind).await } else { syncer.poll(kind).await };
                    if let Err(error) = outcome {
                        tracing::warn!(%error, %kind, full, "requested sync pass failed");
                    }
                }
            }
            () = shutdown.cancelled() => return,
        }
    }
}

async fn reconcile_if_due(
    syncer: &Syncer,
    kind: ObjectType,
    cycle: &Cycle,
) -> Result<(), super::Error> {
    let state = TypeState::load(&syncer.store, syncer.portal, kind)?;
    let schedule = Schedule::current(&syncer.store, Some(syncer.portal), cycle.schedule())?;
    if schedule.due(state.last_reconcile_at_ms, now_ms()) {
        syncer.reconcile(kind).await?;
    }
    Ok(())
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << failures.min(6)).min(30_000))
}

async fn sleep_unless_cancelled(pause: Duration, shutdown: &CancellationToken) {
    if pause.is_zero() {
        return;
    }
    tokio::select! {
        () = tokio::time::sleep(pause) => {}
        () = shutdown.cancelled() => {}
    }
}
