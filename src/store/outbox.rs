//! The outbox of notifications to internal services (the `notify` module decides what they
//! say and who gets them). Per target, the notifications waiting for delivery and the dead
//! ones. A notification is queued in the transaction of the mirror change that caused it
//! ([`queue_in`], called by `Mirror::write_notifying`, `Reference::replace_owners_notifying`
//! and the first-match write), so a crash never leaves a change without its notification;
//! it is removed once delivered ([`Outbox::settle`]).
//!
//! A notification is about the portal its body names ([`Notification::portal`]); erasing a
//! portal drops its notifications, waiting and dead ([`Outbox::erase`]). A deliverer may
//! hold one of them meanwhile: settling it afterwards finds it gone and puts nothing back.
//!
//! Bounded: a target holds at most its `high_water` waiting notifications (and as many dead
//! ones). Past it, new notifications for that target are not queued: the oldest are kept,
//! the dropped ones counted ([`QueueStatus::dropped`]) and logged. The counts live in
//! memory (one [`Queue`] per configured target), so the check reads nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::keys;
use super::record::{decode, encode};
use super::{Error, Result};
use crate::object::ObjectType;

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

/// What a notification is about. Notifications of one subject are delivered in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Subject {
    /// An `ObjectType` code, or 0 for an owner.
    pub kind: u8,
    pub id: i64,
}

impl Subject {
    pub fn record(kind: ObjectType, id: i64) -> Subject {
        Subject {
            kind: kind.code(),
            id,
        }
    }

    pub fn owner(id: i64) -> Subject {
        Subject { kind: 0, id }
    }
}

/// A notification to queue: the targets that want it and what to send them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub targets: Vec<Arc<str>>,
    /// The event name (`owner.changed`, ...).
    pub event: &'static str,
    pub subject: Subject,
    /// The body to send, as it will be signed: the contract's JSON, whose `data.portal_id`
    /// names the portal it is about (an erase of that portal drops it).
    pub body: Vec<u8>,
}

impl Notice {
    /// The notification this notice queues at `now_ms`: not tried yet.
    pub(super) fn queued(&self, now_ms: i64) -> Notification {
        Notification {
            event: self.event.to_owned(),
            subject: self.subject,
            body: self.body.clone(),
            queued_at_ms: now_ms,
            attempts: 0,
            next_attempt_at_ms: 0,
            last_error: None,
        }
    }
}

/// A queued notification, waiting or dead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub event: String,
    pub subject: Subject,
    pub body: Vec<u8>,
    pub queued_at_ms: i64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not sent again before this (epoch ms; 0: at once).
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
}

impl Notification {
    /// The portal this notification is about: its body's `data.portal_id`; `None` for a body
    /// without one.
    pub fn portal(&self) -> Option<i64> {
        body_portal(&self.body)
    }
}

/// The `data.portal_id` of a notification's body (see [`Notice::body`]); the rest of the
/// body is skipped unread.
pub(super) fn body_portal(body: &[u8]) -> Option<i64> {
    #[derive(Deserialize)]
    struct Body {
        data: Data,
    }
    #[derive(Deserialize)]
    struct Data {
        portal_id: Option<i64>,
    }
    serde_json::from_slice::<Body>(body).ok()?.data.portal_id
}

/// What became of one notification a deliverer took.
#[derive(Debug, Clone)]
pub enum Settled {
    Delivered {
        seq: u64,
        at_ms: i64,
    },
    /// Failed; to be tried again as `row` says.
    Retry {
        seq: u64,
        row: Notification,
    },
    /// Failed for good: kept for redelivery.
    Dead {
        seq: u64,
        row: Notification,
    },
}

impl Settled {
    pub fn seq(&self) -> u64 {
        match self {
            Settled::Delivered { seq, .. }
            | Settled::Retry { seq, .. }
            | Settled::Dead { seq, .. } => *seq,
        }
    }
}

/// Counts of one target, for the API and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    pub pending: u64,
    pub dead: u64,
    pub delivered: u64,
    /// Failed attempts (each retry counts).
    pub failed: u64,
    /// Not queued: the target was above its high water (or, dead, above it too).
    pub dropped: u64,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<i64>,
    pub last_delivered_at_ms: Option<i64>,
}

/// The persisted part of a [`QueueStatus`] (the counts of rows are counted on open).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Totals {
    delivered: u64,
    failed: u64,
    dropped: u64,
    last_error: Option<String>,
    last_error_at_ms: Option<i64>,
    last_delivered_at_ms: Option<i64>,
}

/// One configured target's queue, in memory: its bound and counts.
pub struct Queue {
    name: Arc<str>,
    high_water: u64,
    pending: AtomicI64,
    dead: AtomicI64,
    totals: Mutex<Totals>,
    /// Set while dropping, so that the log line says when dropping starts and stops.
    dropping: AtomicBool,
}

/// Builds the notice of a first match (portal, type, id, matched at ms), if anyone wants it.
pub type FirstMatchNotice = Arc<dyn Fn(i64, ObjectType, i64, i64) -> Option<Notice> + Send + Sync>;

pub struct Outbox {
    tree: sled::Tree,
    /// Random, fixed at creation: makes message ids unique across stores.
    instance: u64,
    queues: RwLock<HashMap<Arc<str>, Arc<Queue>>>,
    first_match: RwLock<Option<FirstMatchNotice>>,
    /// Orders settlements, redeliveries and erases, which move or delete rows: an erase then
    /// finds each row where it is, and a settlement sees whether its row is still there.
    moving: Mutex<()>,
}

const PENDING: u8 = b'q';
const DEAD: u8 = b'd';
const TOTALS: u8 = b't';
const INSTANCE: &[u8] = b"instance";

fn row_key(state: u8, target: &str, seq: u64) -> Vec<u8> {
    let mut key = prefix(state, target);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn prefix(state: u8, target: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(target.len() + 10);
    key.push(state);
    key.extend_from_slice(target.as_bytes());
    key.push(0);
    key
}

/// The target's name in a waiting or dead row's key (state, name, 0, seq).
fn target_of(key: &[u8]) -> Result<&[u8]> {
    key.len()
        .checked_sub(9)
        .filter(|end| *end >= 1)
        .map(|end| &key[1..end])
        .ok_or_else(|| Error::Corrupt("short outbox key".into()))
}

fn seq_of(key: &[u8]) -> Result<u64> {
    let start = key
        .len()
        .checked_sub(8)
        .ok_or_else(|| Error::Corrupt("short outbox key".into()))?;
    keys::u64_from(&key[start..])
}

impl Outbox {
    pub(super) fn open(db: &sled::Db) -> Result<Arc<Outbox>> {
        let tree = db.open_tree(keys::OUTBOX_TREE)?;
        let instance = match tree.get(INSTANCE)? {
            Some(bytes) => keys::u64_from(&bytes)?,
            None => {
                let instance: u64 = rand::random();
                tree.insert(INSTANCE, &instance.to_be_bytes())?;
                instance
            }
        };
        Ok(Arc::new(Outbox {
            tree,
            instance,
            queues: RwLock::new(HashMap::new()),
            first_match: RwLock::new(None),
            moving: Mutex::new(()),
        }))
    }

    pub(super) fn tree(&self) -> &sled::Tree {
        &self.tree
    }

    /// The message id of notification `seq`: the same for every attempt and target.
    pub fn message_id(&self, seq: u64) -> String {
        format!("msg_{:016x}{seq:016x}", self.instance)
    }

    /// Declares the targets (name, high water); returns, per target no longer configured,
    /// how many of its notifications were deleted with it.
    pub fn configure(&self, targets: &[(String, u64)]) -> Result<Vec<(String, u64)>> {
        let mut queues = HashMap::new();
        for (name, high_water) in targets {
            let name: Arc<str> = Arc::from(name.as_str());
            let totals = match self.tree.get(prefix(TOTALS, &name))? {
                Some(bytes) => decode(&bytes)?,
                None => Totals::default(),
            };
            let pending = self.tree.scan_prefix(prefix(PENDING, &name)).count() as i64;
            let dead = self.tree.scan_prefix(prefix(DEAD, &name)).count() as i64;
            let queue = Queue {
                name: name.clone(),
                high_water: *high_water,
                pending: AtomicI64::new(pending),
                dead: AtomicI64::new(dead),
                totals: Mutex::new(totals),
                dropping: AtomicBool::new(false),
            };
            queues.insert(name, Arc::new(queue));
        }
        let mut removed: HashMap<String, u64> = HashMap::new();
        let mut batch = sled::Batch::default();
        for row in self.tree.iter().keys() {
            let key = row?;
            if key[..] == *INSTANCE {
                continue;
            }
            let name_end = key.iter().skip(1).position(|b| *b == 0).map(|at| at + 1);
            let name = String::from_utf8_lossy(&key[1..name_end.unwrap_or(key.len())]);
            if !queues.contains_key(name.as_ref()) {
                if key[0] != TOTALS {
                    *removed.entry(name.into_owned()).or_default() += 1;
                }
                batch.remove(key);
            }
        }
        self.tree.apply_batch(batch)?;
        *self.queues.write() = queues;
        Ok(removed.into_iter().collect())
    }

    /// Sets what a first match notifies (see [`FirstMatchNotice`]).
    pub fn set_first_match(&self, notice: Option<FirstMatchNotice>) {
        *self.first_match.write() = notice;
    }

    pub(super) fn first_match_notice(&self) -> Option<FirstMatchNotice> {
        self.first_match.read().clone()
    }

    fn queue(&self, target: &str) -> Option<Arc<Queue>> {
        self.queues.read().get(target).cloned()
    }

    /// Up to `limit` waiting notifications of `target` after `after`, oldest first.
    pub fn waiting(
        &self,
        target: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Notification)>> {
        let start = row_key(PENDING, target, after.saturating_add(1));
        let end = prefix(PENDING, target);
        let mut found = Vec::new();
        for row in self.tree.range(start..) {
            let (key, value) = row?;
            if !key.starts_with(&end) || found.len() >= limit {
                break;
            }
            found.push((seq_of(&key)?, decode(&value)?));
        }
        Ok(found)
    }

    /// Records what became of notifications of `target`, in one batch; returns the numbers
    /// of those no longer waiting (erased with their portal while the deliverer held them),
    /// which are put back nowhere: the deliverer forgets them.
    pub fn settle(&self, target: &str, settled: &[Settled]) -> Result<Vec<u64>> {
        let Some(queue) = self.queue(target) else {
            return Ok(Vec::new());
        };
        let _moving = self.moving.lock();
        let mut batch = sled::Batch::default();
        let mut totals = queue.totals.lock().clone();
        let (mut done, mut died, mut discarded) = (0i64, 0i64, 0u64);
        let mut dead_now = queue.dead.load(Ordering::Relaxed);
        let mut gone = Vec::new();
        for each in settled {
            // What happened at the target is counted either way; the rows only if still there.
            match each {
                Settled::Delivered { at_ms, .. } => {
                    totals.delivered += 1;
                    totals.last_delivered_at_ms = Some(*at_ms);
                }
                Settled::Retry { row, .. } | Settled::Dead { row, .. } => {
                    note_failure(&mut totals, row)
                }
            }
            let waiting = row_key(PENDING, target, each.seq());
            if !self.tree.contains_key(&waiting)? {
                gone.push(each.seq());
                continue;
            }
            match each {
                Settled::Delivered { .. } => {
                    batch.remove(waiting);
                    done += 1;
                }
                Settled::Retry { row, .. } => batch.insert(waiting, encode(row)),
                Settled::Dead { seq, row } => {
                    batch.remove(waiting);
                    done += 1;
                    if dead_now as u64 >= queue.high_water {
                        totals.dropped += 1;
                        discarded += 1;
                    } else {
                        batch.insert(row_key(DEAD, target, *seq), encode(row));
                        dead_now += 1;
                        died += 1;
                    }
                }
            }
        }
        batch.insert(prefix(TOTALS, target), encode(&totals));
        self.tree.apply_batch(batch)?;
        *queue.totals.lock() = totals;
        queue.pending.fetch_sub(done, Ordering::Relaxed);
        queue.dead.fetch_add(died, Ordering::Relaxed);
        if discarded > 0 {
            tracing::warn!(
                target = %target,
                discarded,
                high_water = queue.high_water,
                "dead notifications above the high water were discarded"
            );
        }
        Ok(gone)
    }

    /// Moves every dead notification of `target` back to waiting, to be tried again for a
    /// full retry period from `now_ms`; how many. `None`: no such target.
    pub fn redeliver(&self, target: &str, now_ms: i64) -> Result<Option<u64>> {
        let Some(queue) = self.queue(target) else {
            return Ok(None);
        };
        let _moving = self.moving.lock();
        let mut moved = 0u64;
        let mut batch = sled::Batch::default();
        for row in self.tree.scan_prefix(prefix(DEAD, target)) {
            let (key, value) = row?;
            let mut notification: Notification = decode(&value)?;
            notification.attempts = 0;
            notification.next_attempt_at_ms = 0;
            notification.queued_at_ms = now_ms;
            batch.remove(key.clone());
            batch.insert(
                row_key(PENDING, target, seq_of(&key)?),
                encode(&notification),
            );
            moved += 1;
            if moved % 10_000 == 0 {
                self.tree.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        self.tree.apply_batch(batch)?;
        queue.dead.fetch_sub(moved as i64, Ordering::Relaxed);
        queue.pending.fetch_add(moved as i64, Ordering::Relaxed);
        Ok(Some(moved))
    }

    /// Deletes every waiting and dead notification about `portal`, of every target, and
    /// takes them off the targets' counts; how many rows. Every row's body is read (the
    /// keys do not name a portal), at most two high waters per target. Batched like the
    /// rest of an erase; one cut short leaves the rest for the next run.
    pub(super) fn erase(&self, portal: i64) -> Result<u64> {
        let _moving = self.moving.lock();
        let mut doomed = Vec::new();
        for state in [PENDING, DEAD] {
            for row in self.tree.scan_prefix([state]) {
                let (key, value) = row?;
                let notification: Notification = decode(&value)?;
                if notification.portal() == Some(portal) {
                    doomed.push(key);
                }
            }
        }
        let queues = self.queues.read().clone();
        for keys in doomed.chunks(super::erase::BATCH) {
            let mut batch = sled::Batch::default();
            let mut taken: HashMap<(u8, &[u8]), i64> = HashMap::new();
            for key in keys {
                batch.remove(key.clone());
                *taken.entry((key[0], target_of(key)?)).or_default() += 1;
            }
            self.tree.apply_batch(batch)?;
            for ((state, target), count) in taken {
                let Some(queue) = std::str::from_utf8(target)
                    .ok()
                    .and_then(|target| queues.get(target))
                else {
                    continue;
                };
                let counted = if state == PENDING {
                    &queue.pending
                } else {
                    &queue.dead
                };
                counted.fetch_sub(count, Ordering::Relaxed);
            }
        }
        Ok(doomed.len() as u64)
    }

    /// The counts of `target`; `None`: no such target.
    pub fn status(&self, target: &str) -> Option<QueueStatus> {
        let queue = self.queue(target)?;
        let totals = queue.totals.lock().clone();
        Some(QueueStatus {
            pending: queue.pending.load(Ordering::Relaxed).max(0) as u64,
            dead: queue.dead.load(Ordering::Relaxed).max(0) as u64,
            delivered: totals.delivered,
            failed: totals.failed,
            dropped: totals.dropped,
            last_error: totals.last_error,
            last_error_at_ms: totals.last_error_at_ms,
            last_delivered_at_ms: totals.last_delivered_at_ms,
        })
    }

    /// Splits `notices` into rows to queue and drops per target above its high water. Done
    /// before the transaction (whose closure may run more than once).
    pub(super) fn admit<'a>(&self, notices: &'a [Notice]) -> Admitted<'a> {
        let queues = self.queues.read();
        let mut admitted = Admitted::default();
        let mut added: HashMap<&str, i64> = HashMap::new();
        for notice in notices {
            let mut targets = Vec::new();
            for target in &notice.targets {
                let Some(queue) = queues.get(target) else {
                    continue;
                };
                let extra = added.entry(target).or_default();
                if queue.pending.load(Ordering::Relaxed) + *extra >= queue.high_water as i64 {
                    admitted.dropped.push(queue.clone());
                } else {
                    *extra += 1;
                    targets.push(queue.clone());
                }
            }
            if !targets.is_empty() {
                admitted.rows.push((targets, notice));
            }
        }
        admitted
    }

    /// After the transaction holding `admitted` committed: counts and the high-water log.
    pub(super) fn committed(&self, admitted: &Admitted) {
        for (targets, _) in &admitted.rows {
            for queue in targets {
                queue.pending.fetch_add(1, Ordering::Relaxed);
                if queue.dropping.swap(false, Ordering::Relaxed) {
                    tracing::info!(target = %queue.name, "outbox below its high water again; queueing notifications");
                }
            }
        }
        for queue in &admitted.dropped {
            let dropped = {
                let mut totals = queue.totals.lock();
                totals.dropped += 1;
                totals.dropped
            };
            if !queue.dropping.swap(true, Ordering::Relaxed) || dropped % 10_000 == 0 {
                tracing::warn!(
                    target = %queue.name,
                    high_water = queue.high_water,
                    dropped_in_all = dropped,
                    "outbox above its high water: new notifications for this target are dropped \
                     (the oldest are kept) until deliveries catch up"
                );
            }
        }
    }
}

fn note_failure(totals: &mut Totals, row: &Notification) {
    totals.failed += 1;
    totals.last_error = row.last_error.clone();
    totals.last_error_at_ms = Some(crate::time::now_ms());
}

/// Notices split by [`Outbox::admit`]: rows to queue (with their queues) and drops.
#[derive(Default)]
pub(super) struct Admitted<'a> {
    rows: Vec<(Vec<Arc<Queue>>, &'a Notice)>,
    dropped: Vec<Arc<Queue>>,
}

impl Admitted<'_> {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.dropped.is_empty()
    }
}

/// Queues the admitted notices in a transaction over the outbox tree: one sequence number
/// per notice (sled's id generator, monotonic across restarts; transactions are serialised,
/// so numbers follow commit order), one row per target.
pub(super) fn queue_in(tx: &TransactionalTree, admitted: &Admitted, now_ms: i64) -> TxResult<()> {
    for (targets, notice) in &admitted.rows {
        // Sequence numbers start at 1: readers ask for what comes after the last one read (0
        // before any), and sled's ids start at 0.
        let seq = tx.generate_id()? + 1;
        let row = encode(&notice.queued(now_ms));
        for queue in targets {
            tx.insert(row_key(PENDING, &queue.name, seq), row.clone())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
