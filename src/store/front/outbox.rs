//! The outbox of notifications to internal services: queued in the transactions of the
//! changes that cause them, read and settled by the deliverers (the leader's, on
//! PostgreSQL).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::super::outbox as on_sled;
use super::super::{FirstMatchNotice, Notification, QueueStatus, Result, Settled};
use super::Postgres;

pub struct Outbox {
    backend: Backend,
    /// Erases of a portal run by this process (see [`Outbox::erasures`]).
    erasures: AtomicU64,
}

enum Backend {
    Sled(Arc<on_sled::Outbox>),
    Postgres {
        pg: Postgres,
        /// Shared with the first matches' store, which queues what it says.
        first_match: Arc<RwLock<Option<FirstMatchNotice>>>,
    },
}

impl Outbox {
    pub(in crate::store) fn sled(outbox: Arc<on_sled::Outbox>) -> Outbox {
        Outbox {
            backend: Backend::Sled(outbox),
            erasures: AtomicU64::new(0),
        }
    }

    pub(in crate::store) fn postgres(
        pg: &Postgres,
        first_match: Arc<RwLock<Option<FirstMatchNotice>>>,
    ) -> Outbox {
        Outbox {
            backend: Backend::Postgres {
                pg: pg.clone(),
                first_match,
            },
            erasures: AtomicU64::new(0),
        }
    }

    pub(in crate::store) fn on_sled(&self) -> Option<&on_sled::Outbox> {
        match &self.backend {
            Backend::Sled(outbox) => Some(outbox),
            Backend::Postgres { .. } => None,
        }
    }

    /// How many erases of a portal this process ran (`Store::erase_portal`), each of which
    /// may have dropped notifications a deliverer had already read: a deliverer that sees
    /// the number change reads its queue again instead of sending what it holds. Deliverers
    /// run where erases do (on PostgreSQL, both are the leader's).
    pub fn erasures(&self) -> u64 {
        self.erasures.load(Ordering::Acquire)
    }

    pub(in crate::store) fn note_erasure(&self) {
        self.erasures.fetch_add(1, Ordering::AcqRel);
    }

    /// The message id of notification `seq`: the same for every attempt and target.
    pub fn message_id(&self, seq: u64) -> String {
        match &self.backend {
            Backend::Sled(outbox) => outbox.message_id(seq),
            Backend::Postgres { pg, .. } => pg.outbox.message_id(seq),
        }
    }

    /// Declares the targets (name, high water); returns, per target no longer configured,
    /// how many of its notifications were deleted with it. On PostgreSQL only the leader
    /// deletes; a follower learns the targets (it queues first matches for them) and
    /// deletes nothing.
    pub fn configure(&self, targets: &[(String, u64)]) -> Result<Vec<(String, u64)>> {
        match &self.backend {
            Backend::Sled(outbox) => outbox.configure(targets),
            Backend::Postgres { pg, .. } => match pg.role().fence() {
                Some(fence) => pg.wait(pg.outbox.configure(fence, targets)),
                None => {
                    pg.outbox.declare(targets);
                    Ok(Vec::new())
                }
            },
        }
    }

    /// Sets what a first match notifies (see [`FirstMatchNotice`]).
    pub fn set_first_match(&self, notice: Option<FirstMatchNotice>) {
        match &self.backend {
            Backend::Sled(outbox) => outbox.set_first_match(notice),
            Backend::Postgres { first_match, .. } => *first_match.write() = notice,
        }
    }

    /// Up to `limit` waiting notifications of `target` after `after`, oldest first.
    pub fn waiting(
        &self,
        target: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Notification)>> {
        match &self.backend {
            Backend::Sled(outbox) => outbox.waiting(target, after, limit),
            Backend::Postgres { pg, .. } => pg.wait(pg.outbox.waiting(target, after, limit)),
        }
    }

    /// Records what became of notifications of `target`; returns the numbers of those no
    /// longer waiting (erased with their portal while the deliverer held them), which stay
    /// gone: the deliverer forgets them.
    pub fn settle(&self, target: &str, settled: &[Settled]) -> Result<Vec<u64>> {
        match &self.backend {
            Backend::Sled(outbox) => outbox.settle(target, settled),
            Backend::Postgres { pg, .. } => pg.wait(pg.outbox.settle(pg.fence()?, target, settled)),
        }
    }

    /// Moves every dead notification of `target` back to waiting; how many. `None`: no such
    /// target.
    pub fn redeliver(&self, target: &str, now_ms: i64) -> Result<Option<u64>> {
        match &self.backend {
            Backend::Sled(outbox) => outbox.redeliver(target, now_ms),
            Backend::Postgres { pg, .. } => {
                pg.wait(pg.outbox.redeliver(pg.fence()?, target, now_ms))
            }
        }
    }

    /// The counts of `target`; `None`: no such target.
    pub fn status(&self, target: &str) -> Result<Option<QueueStatus>> {
        match &self.backend {
            Backend::Sled(outbox) => Ok(outbox.status(target)),
            Backend::Postgres { pg, .. } => pg.wait(pg.outbox.status(target)),
        }
    }
}
