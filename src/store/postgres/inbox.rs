//! The webhook inbox on PostgreSQL: each group of requests is one `INSERT` (one round trip,
//! one commit), and a request may be answered 2xx once it returns. A redelivered event meets
//! the unique key on (portal, identity digest) and is counted as a duplicate, whichever
//! replica stored the first copy. A Webhooks Journal request moves its portal's cursor in the
//! same transaction (the journal is the leader's, so that transaction passes the fence).
//!
//! The leader applies events in `seq` order and marks them applied; it keeps no cursor,
//! because the identities of concurrent replicas' transactions commit out of order.

use std::collections::HashSet;

use super::{Database, Error, Fence, Result};
use crate::store::inbox::Tally;
use crate::store::{AppendOutcome, Appending, InboxCounters, JournalCursor, NewEvent, ERASED};

/// The inbox's table, shared by every replica.
#[derive(Clone)]
pub struct Inbox {
    database: Database,
}

/// Whose counters a group commit moves, and the rejected requests it adds.
#[derive(Debug, Clone, Copy)]
pub struct Counting<'a> {
    pub replica: &'a str,
    pub rejected: u64,
}

/// Moves `counting`'s row of the counters by `tally` (and its rejected requests) in
/// `transaction`.
async fn move_counters(
    transaction: &deadpool_postgres::Transaction<'_>,
    counting: Counting<'_>,
    tally: Tally,
    last_received_at_ms: Option<i64>,
) -> Result<()> {
    let statement = transaction
        .prepare_cached(
            "INSERT INTO inbox_counters (replica, received, duplicates, rejected, last_received_at_ms)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (replica) DO UPDATE SET
                 received = inbox_counters.received + $2,
                 duplicates = inbox_counters.duplicates + $3,
                 rejected = inbox_counters.rejected + $4,
                 last_received_at_ms = coalesce($5, inbox_counters.last_received_at_ms)",
        )
        .await?;
    let (received, duplicates) = (tally.received as i64, tally.duplicates as i64);
    let rejected = counting.rejected as i64;
    let parameters: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
        &counting.replica,
        &received,
        &duplicates,
        &rejected,
        &last_received_at_ms,
    ];
    transaction.execute(&statement, &parameters).await?;
    Ok(())
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unapplied {
    pub seq: i64,
    pub portal_id: i64,
    pub event_id: i64,
    pub received_at_ms: i64,
    pub raw: String,
}

const STORED_COLUMNS: &str = "seq, portal_id, event_id, received_at_ms, raw";

fn stored(row: &tokio_postgres::Row) -> Unapplied {
    Unapplied {
        seq: row.get(0),
        portal_id: row.get(1),
        event_id: row.get(2),
        received_at_ms: row.get(3),
        raw: row.get(4),
    }
}

impl Inbox {
    pub fn new(database: Database) -> Inbox {
        Inbox { database }
    }

    /// Stores the events of a group of webhook requests in one transaction and returns, per
    /// request, how many were new and how many were already stored. Durable when it returns
    /// `Ok` (the commit waited for the WAL's fsync, PostgreSQL's default
    /// `synchronous_commit`).
    pub async fn append(
        &self,
        received_at_ms: i64,
        requests: &[&[NewEvent<'_>]],
    ) -> Result<Vec<AppendOutcome>> {
        self.append_group(received_at_ms, &Appending::webhooks(requests), None, None)
            .await
    }

    /// Like [`Inbox::append`], for requests from any source: a journal request's cursor
    /// moves in the same transaction, counting what it stored, behind `fence` (required
    /// when a request moves a cursor); with `counting`, that replica's counters too.
    pub async fn append_group(
        &self,
        received_at_ms: i64,
        requests: &[Appending<'_>],
        fence: Option<Fence>,
        counting: Option<Counting<'_>>,
    ) -> Result<Vec<AppendOutcome>> {
        if fence.is_none() && requests.iter().any(|request| request.cursor.is_some()) {
            return Err(Error::Refused(
                "a journal cursor moves only behind the leader's fence".into(),
            ));
        }
        let count: usize = requests.iter().map(|request| request.events.len()).sum();
        let (mut portals, mut ids, mut digests, mut raws) = (
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
        );
        for event in requests.iter().flat_map(|request| request.events.iter()) {
            portals.push(event.portal_id);
            ids.push(event.event_id);
            digests.push(&event.digest[..]);
            raws.push(event.raw);
        }
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        if let Some(fence) = fence {
            fence.check(&transaction).await?;
        }
        let statement = transaction
            .prepare_cached(
                "INSERT INTO inbox_events (portal_id, event_id, digest, received_at_ms, raw)
                 SELECT portal_id, event_id, digest, $5, raw
                 FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::text[])
                     AS new (portal_id, event_id, digest, raw)
                 ON CONFLICT (portal_id, digest) DO NOTHING
                 RETURNING portal_id, digest",
            )
            .await?;
        let parameters: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&portals, &ids, &digests, &raws, &received_at_ms];
        let rows = transaction.query(&statement, &parameters).await?;
        let mut stored: HashSet<(i64, Vec<u8>)> = rows
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        // Each stored key counts once, for its first copy in the group; any other copy (in
        // the group or stored before) is a duplicate.
        let outcomes: Vec<AppendOutcome> = requests
            .iter()
            .map(|request| {
                let mut outcome = AppendOutcome::default();
                for event in request.events {
                    if stored.remove(&(event.portal_id, event.digest.to_vec())) {
                        outcome.stored += 1;
                    } else {
                        outcome.duplicates += 1;
                    }
                }
                outcome
            })
            .collect();
        if let Some(counting) = counting {
            let tally = Tally::of(requests, &outcomes);
            let last = tally.webhook_stored.then_some(received_at_ms);
            move_counters(&transaction, counting, tally, last).await?;
        }
        for (request, outcome) in requests.iter().zip(&outcomes) {
            let Some(cursor) = request.cursor else {
                continue;
            };
            let statement = transaction
                .prepare_cached(
                    "INSERT INTO journal_cursors (portal_id, position, stored, duplicates)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (portal_id) DO UPDATE SET position = $2,
                         stored = journal_cursors.stored + $3,
                         duplicates = journal_cursors.duplicates + $4",
                )
                .await?;
            let counts = (i64::from(outcome.stored), i64::from(outcome.duplicates));
            let parameters: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&cursor.portal_id, &cursor.position, &counts.0, &counts.1];
            transaction.execute(&statement, &parameters).await?;
        }
        transaction.commit().await?;
        Ok(outcomes)
    }

    /// Adds `rejected` requests to `replica`'s counters (those not yet counted by a commit).
    pub async fn count_rejected(&self, replica: &str, rejected: u64) -> Result<()> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        let counting = Counting { replica, rejected };
        move_counters(&transaction, counting, Tally::default(), None).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The counters of every replica, summed.
    pub async fn counters(&self) -> Result<InboxCounters> {
        let row = self
            .database
            .read_opt(
                "SELECT coalesce(sum(received), 0)::bigint, coalesce(sum(duplicates), 0)::bigint,
                        coalesce(sum(rejected), 0)::bigint, max(last_received_at_ms)
                 FROM inbox_counters",
                &[],
            )
            .await?;
        Ok(
            row.map_or_else(InboxCounters::default, |row| InboxCounters {
                received: row.get::<_, i64>(0) as u64,
                duplicates: row.get::<_, i64>(1) as u64,
                rejected: row.get::<_, i64>(2) as u64,
                last_received_at_ms: row.get(3),
            }),
        )
    }

    /// Up to `limit` events not applied yet, oldest first.
    pub async fn unapplied(&self, limit: i64) -> Result<Vec<Unapplied>> {
        let rows = self
            .database
            .read(
                &format!(
                    "SELECT {STORED_COLUMNS} FROM inbox_events WHERE NOT applied
                     ORDER BY seq LIMIT $1"
                ),
                &[&limit],
            )
            .await?;
        Ok(rows.iter().map(stored).collect())
    }

    /// Marks events applied (the leader, once their changes are in the mirror).
    pub async fn mark_applied(&self, fence: Fence, seqs: &[i64]) -> Result<()> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        let statement = transaction
            .prepare_cached("UPDATE inbox_events SET applied = true WHERE seq = ANY($1)")
            .await?;
        transaction.execute(&statement, &[&seqs]).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Events stored and not applied yet.
    pub async fn pending(&self) -> Result<u64> {
        let rows = self
            .database
            .read("SELECT count(*) FROM inbox_events WHERE NOT applied", &[])
            .await?;
        Ok(rows.first().map_or(0, |row| row.get::<_, i64>(0) as u64))
    }

    /// The `limit` most recently stored events, newest first.
    pub async fn recent(&self, limit: i64) -> Result<Vec<Unapplied>> {
        let rows = self
            .database
            .read(
                &format!("SELECT {STORED_COLUMNS} FROM inbox_events ORDER BY seq DESC LIMIT $1"),
                &[&limit],
            )
            .await?;
        Ok(rows.iter().map(stored).collect())
    }

    /// Every stored, not erased event with this `eventId` (HubSpot does not keep them
    /// unique), oldest first.
    pub async fn by_event_id(&self, event_id: i64) -> Result<Vec<Unapplied>> {
        let rows = self
            .database
            .read(
                &format!(
                    "SELECT {STORED_COLUMNS} FROM inbox_events WHERE event_id = $1 AND raw <> $2
                     ORDER BY seq"
                ),
                &[&event_id, &ERASED],
            )
            .await?;
        Ok(rows.iter().map(stored).collect())
    }

    /// Deletes applied events received before `cutoff_ms` (and with them what redelivery
    /// detection knew of them); returns how many. Behind `fence`: pruning is the leader's.
    pub async fn prune(&self, fence: Fence, cutoff_ms: i64) -> Result<u64> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        let pruned = transaction
            .execute(
                "DELETE FROM inbox_events WHERE applied AND received_at_ms < $1",
                &[&cutoff_ms],
            )
            .await?;
        transaction.commit().await?;
        Ok(pruned)
    }

    /// Replaces every stored event for which `erase` is true by [`ERASED`]: a privacy
    /// deletion leaves no copy of a person's data. The identity digest stays, so a late
    /// redelivery is still dropped. Returns the count; behind `fence`.
    pub async fn erase(&self, fence: Fence, erase: impl Fn(&str) -> bool + Send) -> Result<u64> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        let rows = transaction
            .query(
                "SELECT seq, raw FROM inbox_events WHERE raw <> $1",
                &[&ERASED],
            )
            .await?;
        let seqs: Vec<i64> = rows
            .iter()
            .filter(|row| erase(row.get::<_, &str>(1)))
            .map(|row| row.get(0))
            .collect();
        transaction
            .execute(
                "UPDATE inbox_events SET raw = $1 WHERE seq = ANY($2)",
                &[&ERASED, &seqs],
            )
            .await?;
        transaction.commit().await?;
        Ok(seqs.len() as u64)
    }

    /// Every portal's journal cursor (status sums them).
    pub async fn journal_cursors(&self) -> Result<Vec<(i64, JournalCursor)>> {
        let rows = self
            .database
            .read(
                "SELECT portal_id, position, stored, duplicates FROM journal_cursors
                 ORDER BY portal_id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let cursor = JournalCursor {
                    position: row.get(1),
                    stored: row.get::<_, i64>(2) as u64,
                    duplicates: row.get::<_, i64>(3) as u64,
                };
                (row.get(0), cursor)
            })
            .collect())
    }

    /// Replaces the position of `portal`'s journal cursor without moving it (the consumer's
    /// bookkeeping between moves, sled's `JournalCursors::annotate`); behind `fence`.
    pub async fn annotate_journal(&self, fence: Fence, portal: i64, position: &[u8]) -> Result<()> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        transaction
            .execute(
                "INSERT INTO journal_cursors (portal_id, position, stored, duplicates)
                 VALUES ($1, $2, 0, 0)
                 ON CONFLICT (portal_id) DO UPDATE SET position = $2",
                &[&portal, &position],
            )
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The journal cursor of `portal`, if its journal was ever read.
    pub async fn journal_cursor(&self, portal: i64) -> Result<Option<JournalCursor>> {
        let row = self
            .database
            .read_opt(
                "SELECT position, stored, duplicates FROM journal_cursors WHERE portal_id = $1",
                &[&portal],
            )
            .await?;
        Ok(row.map(|row| JournalCursor {
            position: row.get(0),
            stored: row.get::<_, i64>(1) as u64,
            duplicates: row.get::<_, i64>(2) as u64,
        }))
    }
}
