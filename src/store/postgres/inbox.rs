//! The webhook inbox on PostgreSQL: each group of requests is one `INSERT` (one round trip,
//! one commit), and a request may be answered 2xx once it returns. A redelivered event meets
//! the unique key on (portal, identity digest) and is counted as a duplicate, whichever
//! replica stored the first copy.

use std::collections::HashSet;

use super::{Database, Result};
use crate::store::{AppendOutcome, NewEvent};

/// The inbox's table, shared by every replica.
#[derive(Clone)]
pub struct Inbox {
    database: Database,
}

/// An event as stored, not applied yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unapplied {
    pub seq: i64,
    pub portal_id: i64,
    pub event_id: i64,
    pub received_at_ms: i64,
    pub raw: String,
}

impl Inbox {
    pub fn new(database: Database) -> Inbox {
        Inbox { database }
    }

    /// Stores the events of a group of requests in one transaction and returns, per request,
    /// how many were new and how many were already stored. Durable when it returns `Ok`
    /// (the commit waited for the WAL's fsync, PostgreSQL's default `synchronous_commit`).
    pub async fn append(
        &self,
        received_at_ms: i64,
        requests: &[&[NewEvent<'_>]],
    ) -> Result<Vec<AppendOutcome>> {
        let count: usize = requests.iter().map(|events| events.len()).sum();
        let (mut portals, mut ids, mut digests, mut raws) = (
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
        );
        for event in requests.iter().flat_map(|events| events.iter()) {
            portals.push(event.portal_id);
            ids.push(event.event_id);
            digests.push(&event.digest[..]);
            raws.push(event.raw);
        }
        let client = self.database.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO inbox_events (portal_id, event_id, digest, received_at_ms, raw)
                 SELECT portal_id, event_id, digest, $5, raw
                 FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::text[])
                     AS new (portal_id, event_id, digest, raw)
                 ON CONFLICT (portal_id, digest) DO NOTHING
                 RETURNING portal_id, digest",
            )
            .await?;
        let rows = client
            .query(
                &statement,
                &[&portals, &ids, &digests, &raws, &received_at_ms],
            )
            .await?;
        let mut stored: HashSet<(i64, Vec<u8>)> = rows
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        // Each stored key counts once, for its first copy in the group; any other copy (in
        // the group or stored before) is a duplicate.
        let outcomes = requests
            .iter()
            .map(|events| {
                let mut outcome = AppendOutcome::default();
                for event in events.iter() {
                    if stored.remove(&(event.portal_id, event.digest.to_vec())) {
                        outcome.stored += 1;
                    } else {
                        outcome.duplicates += 1;
                    }
                }
                outcome
            })
            .collect();
        Ok(outcomes)
    }

    /// Up to `limit` events not applied yet, oldest first.
    pub async fn unapplied(&self, limit: i64) -> Result<Vec<Unapplied>> {
        let client = self.database.client().await?;
        let rows = client
            .query(
                "SELECT seq, portal_id, event_id, received_at_ms, raw FROM inbox_events
                 WHERE NOT applied ORDER BY seq LIMIT $1",
                &[&limit],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| Unapplied {
                seq: row.get(0),
                portal_id: row.get(1),
                event_id: row.get(2),
                received_at_ms: row.get(3),
                raw: row.get(4),
            })
            .collect())
    }
}
