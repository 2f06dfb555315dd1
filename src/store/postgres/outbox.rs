//! The outbox of notifications on PostgreSQL: sled's [`Outbox`](crate::store::Outbox) in two
//! tables. A notification is queued in the transaction of the change that caused it
//! ([`queue_in`], from [`Mirror::write_notifying`](super::Mirror::write_notifying)), behind
//! that change's fence; delivery (settling, redelivering, the targets' configuration) is the
//! leader's and passes the fence too. Pending and dead counts are counted in the database,
//! so every replica reports the same.
//!
//! Bounded as on sled: a target holds at most its high water of waiting notifications (and
//! as many dead ones); past it new ones are not queued and are counted as dropped.
//!
//! Erasing a portal drops its notifications ([`erase_in`], in the erase's transaction); a
//! settlement that comes after finds its row gone and puts nothing back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::Transaction;
use futures_util::TryStreamExt as _;
use parking_lot::{Mutex, RwLock};
use tokio_postgres::types::Json;

use super::{Database, Fence, Result};
use crate::store::outbox::body_portal;
use crate::store::{Notice, Notification, QueueStatus, Settled};

#[derive(Clone)]
pub struct Outbox {
    database: Database,
    /// Random, fixed when the schema was created: makes message ids unique across stores.
    instance: u64,
    /// The configured targets and their high water.
    targets: Arc<RwLock<HashMap<String, u64>>>,
    /// Targets this process found above their high water (it says so once, when dropping
    /// starts, and again when it ends).
    dropping: Arc<Mutex<HashSet<String>>>,
}

impl Outbox {
    pub async fn open(database: Database) -> Result<Outbox> {
        let rows = database
            .read("SELECT instance FROM outbox_instance", &[])
            .await?;
        let instance = rows.first().map_or(0, |row| row.get::<_, i64>(0) as u64);
        Ok(Outbox {
            database,
            instance,
            targets: Arc::default(),
            dropping: Arc::default(),
        })
    }

    /// The message id of notification `seq`: the same for every attempt, target and replica.
    pub fn message_id(&self, seq: u64) -> String {
        format!("msg_{:016x}{seq:016x}", self.instance)
    }

    /// Declares the targets (name, high water); returns, per target no longer configured,
    /// how many of its notifications were deleted with it. The leader's, behind `fence`.
    pub async fn configure(
        &self,
        fence: Fence,
        targets: &[(String, u64)],
    ) -> Result<Vec<(String, u64)>> {
        let names: Vec<&str> = targets.iter().map(|(name, _)| name.as_str()).collect();
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        let removed = transaction
            .query(
                "DELETE FROM outbox WHERE NOT (target = ANY($1)) RETURNING target",
                &[&names],
            )
            .await?;
        transaction
            .execute(
                "DELETE FROM outbox_totals WHERE NOT (target = ANY($1))",
                &[&names],
            )
            .await?;
        transaction.commit().await?;
        let mut counts: HashMap<String, u64> = HashMap::new();
        for row in removed {
            *counts.entry(row.get(0)).or_default() += 1;
        }
        *self.targets.write() = targets.iter().cloned().collect();
        Ok(counts.into_iter().collect())
    }

    /// Declares the targets (name, high water) in this process alone, deleting nothing: a
    /// follower queues notices (first matches) for the targets the leader configured.
    pub fn declare(&self, targets: &[(String, u64)]) {
        *self.targets.write() = targets.iter().cloned().collect();
    }

    fn high_water(&self, target: &str) -> Option<u64> {
        self.targets.read().get(target).copied()
    }

    /// Up to `limit` waiting notifications of `target` after `after`, oldest first.
    pub async fn waiting(
        &self,
        target: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Notification)>> {
        let (after, limit) = (after as i64, limit as i64);
        let rows = self
            .database
            .read(
                "SELECT seq, notification FROM outbox WHERE target = $1 AND NOT dead AND seq > $2
                 ORDER BY seq LIMIT $3",
                &[&target, &after, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let seq: i64 = row.get(0);
                (seq as u64, row.get::<_, Json<Notification>>(1).0)
            })
            .collect())
    }

    /// Records what became of notifications of `target`, in one transaction behind `fence`;
    /// returns the numbers of those no longer waiting (erased with their portal while the
    /// deliverer held them), which are put back nowhere: the deliverer forgets them.
    pub async fn settle(
        &self,
        fence: Fence,
        target: &str,
        settled: &[Settled],
    ) -> Result<Vec<u64>> {
        let Some(high_water) = self.high_water(target) else {
            return Ok(Vec::new());
        };
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        hold_rows(&transaction, Hold::Moving).await?;
        let mut dead = count(&transaction, target, true).await?;
        let mut totals = Totals::default();
        let mut gone = Vec::new();
        for each in settled {
            // What happened at the target is counted either way; the rows only if still there.
            match each {
                Settled::Delivered { seq, at_ms } => {
                    if !remove_pending(&transaction, target, *seq).await? {
                        gone.push(*seq);
                    }
                    totals.delivered += 1;
                    totals.last_delivered_at_ms = Some(*at_ms);
                }
                Settled::Retry { seq, row } => {
                    let updated = transaction
                        .execute(
                            "UPDATE outbox SET notification = $3
                             WHERE target = $1 AND NOT dead AND seq = $2",
                            &[&target, &(*seq as i64), &Json(row)],
                        )
                        .await?;
                    if updated == 0 {
                        gone.push(*seq);
                    }
                    totals.failed(row);
                }
                Settled::Dead { seq, row } => {
                    totals.failed(row);
                    if !remove_pending(&transaction, target, *seq).await? {
                        gone.push(*seq);
                    } else if dead >= high_water {
                        totals.dropped += 1;
                        tracing::warn!(
                            target = %target,
                            high_water,
                            "a dead notification above the high water was discarded"
                        );
                    } else {
                        transaction
                            .execute(
                                "INSERT INTO outbox (target, dead, seq, notification)
                                 VALUES ($1, true, $2, $3)",
                                &[&target, &(*seq as i64), &Json(row)],
                            )
                            .await?;
                        dead += 1;
                    }
                }
            }
        }
        totals.add_to(&transaction, target).await?;
        transaction.commit().await?;
        Ok(gone)
    }

    /// Moves every dead notification of `target` back to waiting, to be tried again for a
    /// full retry period from `now_ms`; how many. `None`: no such target. Behind `fence`.
    pub async fn redeliver(&self, fence: Fence, target: &str, now_ms: i64) -> Result<Option<u64>> {
        if self.high_water(target).is_none() {
            return Ok(None);
        }
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        hold_rows(&transaction, Hold::Moving).await?;
        let moved = transaction
            .execute(
                "UPDATE outbox SET dead = false, notification = notification
                     || jsonb_build_object('attempts', 0, 'next_attempt_at_ms', 0,
                                           'queued_at_ms', $2::bigint)
                 WHERE target = $1 AND dead",
                &[&target, &now_ms],
            )
            .await?;
        transaction.commit().await?;
        Ok(Some(moved))
    }

    /// The counts of `target`; `None`: no such target.
    pub async fn status(&self, target: &str) -> Result<Option<QueueStatus>> {
        if self.high_water(target).is_none() {
            return Ok(None);
        }
        let rows = self
            .database
            .read(
                "SELECT (SELECT count(*) FROM outbox WHERE target = $1 AND NOT dead),
                        (SELECT count(*) FROM outbox WHERE target = $1 AND dead),
                        t.delivered, t.failed, t.dropped, t.last_error, t.last_error_at_ms,
                        t.last_delivered_at_ms
                 FROM (SELECT 1) AS one LEFT JOIN outbox_totals t ON t.target = $1",
                &[&target],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let number = |at: usize| row.get::<_, Option<i64>>(at).unwrap_or(0).max(0) as u64;
        Ok(Some(QueueStatus {
            pending: number(0),
            dead: number(1),
            delivered: number(2),
            failed: number(3),
            dropped: number(4),
            last_error: row.get(5),
            last_error_at_ms: row.get(6),
            last_delivered_at_ms: row.get(7),
        }))
    }
}

/// The advisory lock a transaction takes before numbering its notifications (see
/// [`queue_in`]): "hsgw" and 3.
const NUMBERING_LOCK: i64 = 0x6873_6777_0000_0003;

/// The advisory lock over moving rows between waiting and dead and deleting them: "hsgw" and
/// 4. Settlements and redeliveries take it shared (each moves its own target's rows), an
/// erase exclusively, so that the erase reads every row where it is: a settlement running
/// beside it could otherwise move a row the erase read as waiting to a dead row it never
/// saw.
const MOVING_LOCK: i64 = 0x6873_6777_0000_0004;

enum Hold {
    /// Moving rows of one target (a settlement, a redelivery).
    Moving,
    /// Deleting rows wherever they are (an erase).
    Erasing,
}

/// Takes [`MOVING_LOCK`] for the rest of `transaction`.
async fn hold_rows(transaction: &Transaction<'_>, hold: Hold) -> Result<()> {
    let sql = match hold {
        Hold::Moving => "SELECT pg_advisory_xact_lock_shared($1)",
        Hold::Erasing => "SELECT pg_advisory_xact_lock($1)",
    };
    transaction.execute(sql, &[&MOVING_LOCK]).await?;
    Ok(())
}

/// Deletes, in `transaction` (an erase's), every waiting and dead notification about
/// `portal` of every target; how many rows. Every row's body is read (no column names a
/// portal), streamed: at most two high waters per target.
pub(super) async fn erase_in(transaction: &Transaction<'_>, portal: i64) -> Result<u64> {
    hold_rows(transaction, Hold::Erasing).await?;
    let rows = transaction
        .query_raw(
            "SELECT target, dead, seq, notification->'body' FROM outbox",
            std::iter::empty::<i64>(),
        )
        .await?;
    futures_util::pin_mut!(rows);
    let (mut targets, mut dead, mut seqs) = (Vec::<String>::new(), Vec::new(), Vec::new());
    while let Some(row) = rows.try_next().await? {
        let body: Json<Vec<u8>> = row.get(3);
        if body_portal(&body.0) == Some(portal) {
            targets.push(row.get(0));
            dead.push(row.get::<_, bool>(1));
            seqs.push(row.get::<_, i64>(2));
        }
    }
    if seqs.is_empty() {
        return Ok(0);
    }
    let deleted = transaction
        .execute(
            "DELETE FROM outbox WHERE (target, dead, seq) IN
                 (SELECT * FROM unnest($1::text[], $2::boolean[], $3::bigint[]))",
            &[&targets, &dead, &seqs],
        )
        .await?;
    Ok(deleted)
}

/// Queues `notices` in `transaction` (the change that caused them): one sequence number per
/// notice, one row per configured target below its high water; the others are counted as
/// dropped. A deliverer reads what comes after the last number it read, so numbers must
/// follow commit order: a transaction that queues takes [`NUMBERING_LOCK`] before it
/// numbers, and holds it until it commits.
pub(super) async fn queue_in(
    outbox: &Outbox,
    transaction: &Transaction<'_>,
    notices: &[Notice],
    now_ms: i64,
) -> Result<()> {
    let mut pending: HashMap<&str, u64> = HashMap::new();
    let mut dropped: HashMap<&str, u64> = HashMap::new();
    let mut rows: Vec<(Vec<&str>, Notification)> = Vec::new();
    for notice in notices {
        let mut targets = Vec::new();
        for target in &notice.targets {
            let Some(high_water) = outbox.high_water(target) else {
                continue;
            };
            let waiting = match pending.get(&**target) {
                Some(waiting) => *waiting,
                None => count(transaction, target, false).await?,
            };
            if waiting >= high_water {
                *dropped.entry(target).or_default() += 1;
                pending.insert(target, waiting);
                if outbox.dropping.lock().insert(target.to_string()) {
                    tracing::warn!(
                        target = %target,
                        high_water,
                        "outbox above its high water: new notifications for this target are \
                         dropped (the oldest are kept) until deliveries catch up"
                    );
                }
            } else {
                targets.push(&**target);
                pending.insert(target, waiting + 1);
                if outbox.dropping.lock().remove(&**target) {
                    tracing::info!(target = %target, "outbox below its high water again; queueing notifications");
                }
            }
        }
        if !targets.is_empty() {
            rows.push((targets, notice.queued(now_ms)));
        }
    }
    if !rows.is_empty() {
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&NUMBERING_LOCK])
            .await?;
    }
    for (targets, notification) in &rows {
        // One number for every target of a notice: one message id wherever it goes.
        let seq: i64 = transaction
            .query_one("SELECT nextval('outbox_seq')", &[])
            .await?
            .get(0);
        let statement = transaction
            .prepare_cached(
                "INSERT INTO outbox (target, dead, seq, notification)
                 SELECT target, false, $2, $3 FROM unnest($1::text[]) AS target",
            )
            .await?;
        transaction
            .execute(&statement, &[targets, &seq, &Json(notification)])
            .await?;
    }
    for (target, dropped) in dropped {
        let totals = Totals {
            dropped,
            ..Totals::default()
        };
        totals.add_to(transaction, target).await?;
    }
    Ok(())
}

async fn count(transaction: &Transaction<'_>, target: &str, dead: bool) -> Result<u64> {
    let statement = transaction
        .prepare_cached("SELECT count(*) FROM outbox WHERE target = $1 AND dead = $2")
        .await?;
    let count: i64 = transaction
        .query_one(&statement, &[&target, &dead])
        .await?
        .get(0);
    Ok(count as u64)
}

/// Deletes a waiting row; whether it was there.
async fn remove_pending(transaction: &Transaction<'_>, target: &str, seq: u64) -> Result<bool> {
    let removed = transaction
        .execute(
            "DELETE FROM outbox WHERE target = $1 AND NOT dead AND seq = $2",
            &[&target, &(seq as i64)],
        )
        .await?;
    Ok(removed > 0)
}

/// Additions to a target's totals (the latest error and delivery replace the stored ones).
#[derive(Default)]
struct Totals {
    delivered: u64,
    failed: u64,
    dropped: u64,
    last_error: Option<String>,
    last_error_at_ms: Option<i64>,
    last_delivered_at_ms: Option<i64>,
}

impl Totals {
    fn failed(&mut self, row: &Notification) {
        self.failed += 1;
        self.last_error = row.last_error.clone();
        self.last_error_at_ms = Some(crate::time::now_ms());
    }

    async fn add_to(&self, transaction: &Transaction<'_>, target: &str) -> Result<()> {
        let (delivered, failed, dropped) = (
            self.delivered as i64,
            self.failed as i64,
            self.dropped as i64,
        );
        transaction
            .execute(
                "INSERT INTO outbox_totals (target, delivered, failed, dropped, last_error,
                     last_error_at_ms, last_delivered_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (target) DO UPDATE SET
                     delivered = outbox_totals.delivered + $2,
                     failed = outbox_totals.failed + $3,
                     dropped = outbox_totals.dropped + $4,
                     last_error = CASE WHEN $3 > 0 THEN $5 ELSE outbox_totals.last_error END,
                     last_error_at_ms = COALESCE($6, outbox_totals.last_error_at_ms),
                     last_delivered_at_ms = COALESCE($7, outbox_totals.last_delivered_at_ms)",
                &[
                    &target,
                    &delivered,
                    &failed,
                    &dropped,
                    &self.last_error,
                    &self.last_error_at_ms,
                    &self.last_delivered_at_ms,
                ],
            )
            .await?;
        Ok(())
    }
}
