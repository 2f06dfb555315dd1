//! The webhook inbox on PostgreSQL: a row per request (its events as arrays), each group of
//! requests one `INSERT` (one round trip, one commit), and a request may be answered 2xx once
//! it returns. A Webhooks Journal request moves its portal's cursor in the same transaction
//! (the journal is the leader's, so that transaction passes the fence).
//!
//! Redeliveries are dropped when the leader applies, not when a replica stores: the leader
//! reads a [`Window`] of unapplied requests in `seq` order, keeps the first copy of each event
//! whose (portal, identity digest) is not in `inbox_seen`, and records the kept ones there in
//! the transaction that marks the window applied — so detection is exact whichever replica
//! stored which copy, and acknowledging a request costs one row, not a unique-index probe per
//! event (which made most of an acknowledgement's time). Redeliveries count as received until
//! then; the leader moves them to the duplicates. It keeps no cursor, because concurrent
//! replicas' transactions commit out of order.

mod window;

use std::collections::HashSet;

use super::{Database, Error, Fence, Result};
use crate::store::inbox::Tally;
use crate::store::{AppendOutcome, Appending, InboxCounters, JournalCursor, NewEvent, ERASED};
pub use window::Window;

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

/// An event as stored: the request row it is in (`seq`) and its place there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unapplied {
    pub seq: i64,
    pub index: usize,
    pub portal_id: i64,
    pub event_id: i64,
    pub received_at_ms: i64,
    pub raw: String,
}

impl Inbox {
    pub fn new(database: Database) -> Inbox {
        Inbox { database }
    }

    /// Stores the events of a group of webhook requests in one transaction; every event
    /// counts as stored (the leader drops redeliveries). Durable when it returns `Ok` (the
    /// commit waited for the WAL's fsync, PostgreSQL's default `synchronous_commit`).
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
        // Flat arrays with each event's request; the statement makes a row of each request.
        let count: usize = requests.iter().map(|request| request.events.len()).sum();
        let mut columns = Flat::with_capacity(count);
        for (number, request) in requests.iter().enumerate() {
            let journal = request.cursor.map(|cursor| cursor.portal_id);
            for event in request.events {
                columns.push(number as i32, journal, event);
            }
        }
        let outcomes: Vec<AppendOutcome> = requests
            .iter()
            .map(|request| AppendOutcome {
                stored: request.events.len() as u32,
                duplicates: 0,
            })
            .collect();
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        if let Some(fence) = fence {
            fence.check(&transaction).await?;
        }
        let statement = transaction
            .prepare_cached(
                "INSERT INTO inbox_requests
                     (received_at_ms, journal_portal, portal_ids, event_ids, digests, raws)
                 SELECT $1, (array_agg(journal))[1], array_agg(portal_id ORDER BY n),
                        array_agg(event_id ORDER BY n), array_agg(digest ORDER BY n),
                        array_agg(raw ORDER BY n)
                 FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bytea[],
                             $7::text[]) WITH ORDINALITY
                     AS event (request, journal, portal_id, event_id, digest, raw, n)
                 GROUP BY request ORDER BY request",
            )
            .await?;
        let parameters: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
            &received_at_ms,
            &columns.requests,
            &columns.journals,
            &columns.portals,
            &columns.ids,
            &columns.digests,
            &columns.raws,
        ];
        transaction.execute(&statement, &parameters).await?;
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
                     VALUES ($1, $2, $3, 0)
                     ON CONFLICT (portal_id) DO UPDATE SET position = $2,
                         stored = journal_cursors.stored + $3",
                )
                .await?;
            let stored = i64::from(outcome.stored);
            let parameters: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
                [&cursor.portal_id, &cursor.position, &stored];
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
                received: row.get::<_, i64>(0).max(0) as u64,
                duplicates: row.get::<_, i64>(1) as u64,
                rejected: row.get::<_, i64>(2) as u64,
                last_received_at_ms: row.get(3),
            }),
        )
    }

    /// Events stored and not applied yet (redeliveries among them until the leader reads
    /// them).
    pub async fn pending(&self) -> Result<u64> {
        let rows = self
            .database
            .read(
                "SELECT coalesce(sum(cardinality(event_ids)), 0)::bigint
                 FROM inbox_requests WHERE NOT applied",
                &[],
            )
            .await?;
        Ok(rows.first().map_or(0, |row| row.get::<_, i64>(0) as u64))
    }

    /// The `limit` most recently stored events, newest first, a redelivery shown once (as
    /// its first copy among them).
    pub async fn recent(&self, limit: usize) -> Result<Vec<Unapplied>> {
        let rows = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut events = self
            .events(
                "SELECT seq, received_at_ms, portal_ids, event_ids, digests, raws
                 FROM inbox_requests ORDER BY seq DESC LIMIT $1",
                &[&rows],
            )
            .await?;
        events.sort_by_key(|(event, _)| (event.seq, event.index));
        let mut events: Vec<Unapplied> = first_copies(events)
            .into_iter()
            .map(|(event, _)| event)
            .collect();
        events.reverse();
        events.truncate(limit);
        Ok(events)
    }

    /// Every stored, not erased event with this `eventId` (HubSpot does not keep them
    /// unique), oldest first, a redelivery shown once.
    pub async fn by_event_id(&self, event_id: i64) -> Result<Vec<Unapplied>> {
        let events = self
            .events(
                "SELECT seq, received_at_ms, portal_ids, event_ids, digests, raws
                 FROM inbox_requests WHERE $1 = ANY (event_ids) ORDER BY seq",
                &[&event_id],
            )
            .await?;
        Ok(first_copies(events)
            .into_iter()
            .filter(|(event, _)| event.event_id == event_id && event.raw != ERASED)
            .map(|(event, _)| event)
            .collect())
    }

    /// The events of the request rows `sql` reads (seq, arrival, portal ids, event ids,
    /// digests, raws), in row order, each with its digest.
    async fn events(
        &self,
        sql: &str,
        parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<(Unapplied, Vec<u8>)>> {
        let rows = self.database.read(sql, parameters).await?;
        let mut events = Vec::new();
        for row in &rows {
            let (seq, received_at_ms) = (row.get(0), row.get(1));
            let portal_ids: Vec<i64> = row.get(2);
            let event_ids: Vec<i64> = row.get(3);
            let digests: Vec<Vec<u8>> = row.get(4);
            let raws: Vec<String> = row.get(5);
            let each = portal_ids.into_iter().zip(event_ids).zip(digests).zip(raws);
            for (index, (((portal_id, event_id), digest), raw)) in each.enumerate() {
                let event = Unapplied {
                    seq,
                    index,
                    portal_id,
                    event_id,
                    received_at_ms,
                    raw,
                };
                events.push((event, digest));
            }
        }
        Ok(events)
    }

    /// Deletes applied events received before `cutoff_ms` (and with them what redelivery
    /// detection knew of them); returns how many. Behind `fence`: pruning is the leader's.
    pub async fn prune(&self, fence: Fence, cutoff_ms: i64) -> Result<u64> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        let pruned: i64 = transaction
            .query_one(
                "WITH pruned AS (
                     DELETE FROM inbox_requests WHERE applied AND received_at_ms < $1
                     RETURNING cardinality(event_ids) AS events)
                 SELECT coalesce(sum(events), 0)::bigint FROM pruned",
                &[&cutoff_ms],
            )
            .await?
            .get(0);
        transaction
            .execute(
                "DELETE FROM inbox_seen WHERE received_at_ms < $1",
                &[&cutoff_ms],
            )
            .await?;
        transaction.commit().await?;
        Ok(pruned as u64)
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
                "SELECT seq, raws FROM inbox_requests
                 WHERE EXISTS (SELECT FROM unnest(raws) AS raw WHERE raw <> $1)",
                &[&ERASED],
            )
            .await?;
        let mut erased = 0;
        for row in &rows {
            let mut raws: Vec<String> = row.get(1);
            let mut changed = false;
            for raw in raws.iter_mut().filter(|raw| *raw != ERASED && erase(raw)) {
                *raw = ERASED.to_owned();
                changed = true;
                erased += 1;
            }
            if changed {
                let seq: i64 = row.get(0);
                transaction
                    .execute(
                        "UPDATE inbox_requests SET raws = $2 WHERE seq = $1",
                        &[&seq, &raws],
                    )
                    .await?;
            }
        }
        transaction.commit().await?;
        Ok(erased)
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

/// The events of a group as the columns of its `INSERT`, each with its request's number.
struct Flat<'a> {
    requests: Vec<i32>,
    journals: Vec<Option<i64>>,
    portals: Vec<i64>,
    ids: Vec<i64>,
    digests: Vec<&'a [u8]>,
    raws: Vec<&'a str>,
}

impl<'a> Flat<'a> {
    fn with_capacity(count: usize) -> Flat<'a> {
        Flat {
            requests: Vec::with_capacity(count),
            journals: Vec::with_capacity(count),
            portals: Vec::with_capacity(count),
            ids: Vec::with_capacity(count),
            digests: Vec::with_capacity(count),
            raws: Vec::with_capacity(count),
        }
    }

    fn push(&mut self, request: i32, journal: Option<i64>, event: &'a NewEvent<'a>) {
        self.requests.push(request);
        self.journals.push(journal);
        self.portals.push(event.portal_id);
        self.ids.push(event.event_id);
        self.digests.push(&event.digest[..]);
        self.raws.push(event.raw);
    }
}

/// `events` (oldest first) without later copies of an event.
fn first_copies(events: Vec<(Unapplied, Vec<u8>)>) -> Vec<(Unapplied, Vec<u8>)> {
    let mut shown = HashSet::new();
    events
        .into_iter()
        .filter(|(event, digest)| shown.insert((event.portal_id, digest.clone())))
        .collect()
}
