//! The leader's side of the inbox: a [`Window`] of unapplied requests with their
//! redeliveries dropped, and marking it applied (see the parent module).

use std::collections::{HashMap, HashSet};

use super::{Inbox, Unapplied};
use crate::store::postgres::{Fence, Result};

/// Unapplied events read together, redeliveries dropped, and what marking them applied
/// records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    /// The first copy of each event not applied before, in arrival order.
    pub events: Vec<Unapplied>,
    /// The requests read: every event of theirs is in `events` or a redelivery.
    seqs: Vec<i64>,
    /// Their events, kept or dropped.
    read: usize,
    /// The kept events' keys for redelivery detection: portal, digest, arrival.
    first_seen: Vec<(i64, Vec<u8>, i64)>,
    /// Redeliveries dropped from webhook requests.
    duplicates: i64,
    /// Redeliveries dropped from each portal's journal requests.
    journal_duplicates: HashMap<i64, i64>,
}

impl Window {
    /// Whether nothing was read (a window of redeliveries only is not empty).
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    /// Events the window read: those kept and the redeliveries dropped.
    pub fn events_read(&self) -> usize {
        self.read
    }
}

/// A request row as read for a window.
struct Request {
    seq: i64,
    received_at_ms: i64,
    journal_portal: Option<i64>,
    portal_ids: Vec<i64>,
    event_ids: Vec<i64>,
    digests: Vec<Vec<u8>>,
    raws: Vec<String>,
}

/// Requests read per round trip while a window fills.
const WINDOW_PAGE: i64 = 32;

impl Inbox {
    /// The unapplied requests, oldest first, until they hold `max_events` events (the last
    /// one whole), with their redeliveries dropped.
    pub async fn window(&self, max_events: usize) -> Result<Window> {
        let mut requests: Vec<Request> = Vec::new();
        let mut events = 0;
        while events < max_events {
            let after = requests.last().map_or(0, |request| request.seq);
            let page = self
                .database
                .read(
                    "SELECT seq, received_at_ms, journal_portal, portal_ids, event_ids, digests,
                            raws
                     FROM inbox_requests WHERE NOT applied AND seq > $1 ORDER BY seq LIMIT $2",
                    &[&after, &WINDOW_PAGE],
                )
                .await?;
            let full = page.len() as i64 == WINDOW_PAGE;
            for row in &page {
                if events >= max_events {
                    break;
                }
                let request = Request {
                    seq: row.get(0),
                    received_at_ms: row.get(1),
                    journal_portal: row.get(2),
                    portal_ids: row.get(3),
                    event_ids: row.get(4),
                    digests: row.get(5),
                    raws: row.get(6),
                };
                events += request.event_ids.len();
                requests.push(request);
            }
            if !full {
                break;
            }
        }
        let seen = self.seen(&requests).await?;
        Ok(sift(requests, &seen))
    }

    /// Which of the requests' events were applied before (their keys in `inbox_seen`).
    async fn seen(&self, requests: &[Request]) -> Result<HashSet<(i64, Vec<u8>)>> {
        let (portals, digests): (Vec<i64>, Vec<&[u8]>) = requests
            .iter()
            .flat_map(|request| request.portal_ids.iter().zip(&request.digests))
            .map(|(portal, digest)| (*portal, digest.as_slice()))
            .unzip();
        if portals.is_empty() {
            return Ok(HashSet::new());
        }
        let rows = self
            .database
            .read(
                "SELECT seen.portal_id, seen.digest
                 FROM unnest($1::bigint[], $2::bytea[]) AS key (portal_id, digest)
                 JOIN inbox_seen AS seen USING (portal_id, digest)",
                &[&portals, &digests],
            )
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// Marks the window's requests applied and records its events for redelivery detection,
    /// moving the redeliveries it dropped from received to duplicates (in `replica`'s row of
    /// the counters, and each journal's cursor). The leader's, behind `fence`.
    pub async fn mark_applied(&self, fence: Fence, replica: &str, window: &Window) -> Result<()> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        let (portals, digests, arrivals) = window.first_seen.iter().fold(
            (Vec::new(), Vec::new(), Vec::new()),
            |(mut portals, mut digests, mut arrivals), (portal, digest, at)| {
                portals.push(*portal);
                digests.push(digest.as_slice());
                arrivals.push(*at);
                (portals, digests, arrivals)
            },
        );
        let statement = transaction
            .prepare_cached(
                "INSERT INTO inbox_seen (portal_id, digest, received_at_ms)
                 SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bigint[])
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        transaction
            .execute(&statement, &[&portals, &digests, &arrivals])
            .await?;
        let statement = transaction
            .prepare_cached("UPDATE inbox_requests SET applied = true WHERE seq = ANY($1)")
            .await?;
        transaction.execute(&statement, &[&window.seqs]).await?;
        if window.duplicates > 0 {
            transaction
                .execute(
                    "INSERT INTO inbox_counters (replica, received, duplicates, rejected)
                     VALUES ($1, -$2::bigint, $2, 0)
                     ON CONFLICT (replica) DO UPDATE SET
                         received = inbox_counters.received - $2,
                         duplicates = inbox_counters.duplicates + $2",
                    &[&replica, &window.duplicates],
                )
                .await?;
        }
        for (portal, duplicates) in &window.journal_duplicates {
            transaction
                .execute(
                    "UPDATE journal_cursors SET stored = stored - $2,
                         duplicates = duplicates + $2
                     WHERE portal_id = $1",
                    &[portal, duplicates],
                )
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}

/// The window of `requests`: the first copy of each event not in `seen` (applied before),
/// the others counted as redeliveries by source.
fn sift(requests: Vec<Request>, seen: &HashSet<(i64, Vec<u8>)>) -> Window {
    let mut window = Window::default();
    let mut kept: HashSet<(i64, Vec<u8>)> = HashSet::new();
    for request in requests {
        window.seqs.push(request.seq);
        let each = (request.portal_ids.into_iter().zip(request.event_ids))
            .zip(request.digests.into_iter().zip(request.raws));
        for (index, ((portal_id, event_id), (digest, raw))) in each.enumerate() {
            window.read += 1;
            let key = (portal_id, digest);
            if seen.contains(&key) || kept.contains(&key) {
                match request.journal_portal {
                    Some(portal) => *window.journal_duplicates.entry(portal).or_default() += 1,
                    None => window.duplicates += 1,
                }
                continue;
            }
            window
                .first_seen
                .push((portal_id, key.1.clone(), request.received_at_ms));
            kept.insert(key);
            window.events.push(Unapplied {
                seq: request.seq,
                index,
                portal_id,
                event_id,
                received_at_ms: request.received_at_ms,
                raw,
            });
        }
    }
    window
}
