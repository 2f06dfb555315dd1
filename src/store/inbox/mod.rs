//! The webhook inbox on disk: an arrival-ordered log of events, the dedup check, the
//! consumer's cursor and the counters `status` reports.
//!
//! Events are stored in chunks (one sled row per chunk of up to 32 KiB, holding the events of
//! one or several requests) because per-row cost, not bytes, bounds the ingest rate. Dedup
//! writes no row per event either: each chunk has one companion row of compact digests, and an
//! in-memory map rebuilt from those rows on open answers the check (see [`seen`]), so dedup of
//! an acknowledged event survives `kill -9` and power loss with the chunk it belongs to.
//! Only one writer (the webhook committer) appends.

mod chunk;
mod seen;

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use self::chunk::{
    corrupt, decode_counters, encode_counters, position_bytes, position_from, Chunk, ChunkBuilder,
};
use self::seen::{DigestRow, Seen, Slot};
use super::keys::{self, event_key, u64_from};
use super::Result;

/// The largest event (its raw JSON) the inbox stores; the webhook handler refuses bigger ones
/// before anything is stored. An event above the 32 KiB chunk size gets a chunk of its own, so
/// no chunk exceeds this plus its headers, and a sled leaf (at most 17 rows; about 20 for a
/// moment while sled merges two) stays under 1.3 MiB: below 2 MiB, a quarter of the 8 MiB
/// segment, above which sled 0.34 writes a log item to a blob file it never fsyncs.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// What an erased event's text becomes.
pub const ERASED: &str = "{}";

/// Where an event sits in the inbox: its chunk and its index inside the chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub seq: u64,
    pub index: u16,
}

/// An event to append: the parts of its identity dedup needs, and its raw JSON.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub event_id: i64,
    pub portal_id: i64,
    pub digest: [u8; 16],
    pub raw: &'a str,
}

/// One request of a group commit: its events and, for the Webhooks Journal, the cursor its
/// commit moves. A journal request's events count as received (the ledger counts every
/// stored event) but neither as webhook duplicates nor as the last webhook's arrival.
#[derive(Debug, Clone, Copy)]
pub struct Appending<'a> {
    pub events: &'a [NewEvent<'a>],
    pub cursor: Option<&'a super::CursorMove>,
}

impl<'a> Appending<'a> {
    /// Webhook requests: events that move no cursor.
    pub fn webhooks(requests: &[&'a [NewEvent<'a>]]) -> Vec<Appending<'a>> {
        let webhook = |events| Appending {
            events,
            cursor: None,
        };
        requests.iter().copied().map(webhook).collect()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    pub stored: u32,
    pub duplicates: u32,
}

/// An event as stored: where, when it arrived, and its JSON exactly as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub position: Position,
    pub received_at_ms: i64,
    pub raw: String,
}

/// What a group commit adds to the counters: every stored event counts as received (the
/// ledger counts them all), but only webhook requests' duplicates count as duplicates and
/// only theirs as the last webhook's arrival: the journal's are its own (`JournalCursor`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub received: u64,
    pub duplicates: u64,
    pub webhook_stored: bool,
}

impl Tally {
    pub fn of(requests: &[Appending<'_>], outcomes: &[AppendOutcome]) -> Tally {
        let mut tally = Tally::default();
        for (request, outcome) in requests.iter().zip(outcomes) {
            tally.received += u64::from(outcome.stored);
            if request.cursor.is_none() {
                tally.duplicates += u64::from(outcome.duplicates);
                tally.webhook_stored |= outcome.stored > 0;
            }
        }
        tally
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxCounters {
    pub received: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub last_received_at_ms: Option<i64>,
}

/// What the appender owns: the map of stored events and the next chunk seq, under one lock
/// so that a dedup check and the append it allows are one step.
struct Held {
    seen: Seen,
    next_seq: u64,
}

pub struct InboxStore {
    chunks: sled::Tree,
    digests: sled::Tree,
    meta: sled::Tree,
    held: Mutex<Held>,
    /// Events stored but not yet acknowledged by the consumer.
    pending: AtomicU64,
    counters: Mutex<InboxCounters>,
    /// The last chunk whose events were acknowledged (answered 2xx). Readers (the consumer,
    /// the API) see only chunks up to it: a group whose commit failed stays in sled's memory
    /// (sled refuses every write after an I/O error, removals too) but is never shown.
    acknowledged: AtomicU64,
}

impl InboxStore {
    /// Opens the inbox and rebuilds the map of stored events from the digest rows, deriving
    /// the rows chunks lack first (every chunk's when `derive_all`: a store from before them).
    /// The caller commits afterwards.
    pub(super) fn open(db: &sled::Db, derive_all: bool) -> Result<InboxStore> {
        let chunks = db.open_tree(keys::INBOX_TREE)?;
        let digests = db.open_tree(keys::INBOX_DIGESTS_TREE)?;
        let meta = db.open_tree(keys::META_TREE)?;
        let next_seq = reach(&chunks, &meta)? + 1;
        let counters = match meta.get(keys::INBOX_COUNTERS)? {
            Some(bytes) => decode_counters(&bytes)?,
            None => InboxCounters::default(),
        };
        let seen = seen::load(&digests, &chunks, derive_all)?;
        let inbox = InboxStore {
            chunks,
            digests,
            meta,
            held: Mutex::new(Held { seen, next_seq }),
            pending: AtomicU64::new(0),
            counters: Mutex::new(counters),
            acknowledged: AtomicU64::new(next_seq - 1),
        };
        let cursor = inbox.cursor()?;
        let pending = inbox.count_between(
            cursor,
            Position {
                seq: u64::MAX,
                index: 0,
            },
        )?;
        inbox.pending.store(pending, Ordering::Relaxed);
        Ok(inbox)
    }

    /// Appends the events of several requests (a group commit) into shared chunks, dropping
    /// duplicates (dedup by event id, portal and content digest; of stored events and within
    /// the group), and returns each request's outcome. Not durable, nor shown to readers,
    /// until [`super::Store::store_events`] commits and acknowledges them; the counters are
    /// written by [`InboxStore::persist_counters`].
    #[cfg(test)]
    pub(super) fn append_group(
        &self,
        received_at_ms: i64,
        requests: &[&[NewEvent<'_>]],
    ) -> Result<Vec<AppendOutcome>> {
        self.append_requests(received_at_ms, &Appending::webhooks(requests))
    }

    /// [`InboxStore::append_group`] for requests of any source (see [`Appending`]).
    pub(super) fn append_requests(
        &self,
        received_at_ms: i64,
        requests: &[Appending<'_>],
    ) -> Result<Vec<AppendOutcome>> {
        let mut held = self.held.lock();
        let mut outcomes = Vec::with_capacity(requests.len());
        let mut added: Vec<(i64, Slot)> = Vec::new();
        let mut in_group = HashSet::new();
        let mut read = ChunkCache::default();
        let mut chunk = ChunkBuilder::new(received_at_ms);
        let mut digests = DigestRow::default();
        let mut seq = held.next_seq;
        for request in requests {
            let mut outcome = AppendOutcome::default();
            for event in request.events {
                let key = event_key(event.event_id, event.portal_id, &event.digest);
                let check = seen::check(event.portal_id, &event.digest);
                let candidates = held.seen.candidates(event.event_id, check);
                if !in_group.insert(key) || read.holds_any(&self.chunks, candidates, &key)? {
                    outcome.duplicates += 1;
                    continue;
                }
                if chunk.is_full_for(event.raw) {
                    let full = std::mem::replace(&mut chunk, ChunkBuilder::new(received_at_ms));
                    self.write_chunk(seq, full, std::mem::take(&mut digests))?;
                    seq += 1;
                }
                let index = chunk.push(&key, event.raw);
                digests.push(event.event_id, check);
                added.push((event.event_id, Slot::new(Position { seq, index }, check)));
                outcome.stored += 1;
            }
            outcomes.push(outcome);
        }
        if chunk.count > 0 {
            self.write_chunk(seq, chunk, digests)?;
            seq += 1;
        }
        for (event_id, slot) in added {
            held.seen.insert(event_id, slot);
        }
        held.next_seq = seq;
        drop(held);
        let tally = Tally::of(requests, &outcomes);
        self.pending.fetch_add(tally.received, Ordering::Relaxed);
        let mut counters = self.counters.lock();
        counters.received += tally.received;
        counters.duplicates += tally.duplicates;
        if tally.webhook_stored {
            counters.last_received_at_ms = Some(received_at_ms);
        }
        Ok(outcomes)
    }

    /// Writes a chunk, then its digest row: a crash between the two loses only the newest
    /// digest rows, which the next open derives again (see [`seen::load`]).
    fn write_chunk(&self, seq: u64, chunk: ChunkBuilder, digests: DigestRow) -> Result<()> {
        self.chunks.insert(seq.to_be_bytes(), chunk.finish())?;
        self.digests
            .insert(seq.to_be_bytes(), digests.into_bytes())?;
        Ok(())
    }

    /// The last chunk appended so far (0: none) and the events stored through it: what an
    /// acknowledging commit records in the ledger.
    pub(super) fn appended(&self) -> (u64, u64) {
        let seq = self.held.lock().next_seq - 1;
        (seq, self.counters.lock().received)
    }

    /// Shows the chunks through `seq` to readers: their events were acknowledged.
    pub(super) fn acknowledge(&self, seq: u64) {
        self.acknowledged.fetch_max(seq, Ordering::AcqRel);
    }

    fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Acquire)
    }

    /// Events the dedup map holds (those stored and not yet pruned).
    #[cfg(test)]
    pub fn remembered(&self) -> usize {
        self.held.lock().seen.len()
    }

    /// Writes the counters (once per group commit, not per request: one row less each).
    pub fn persist_counters(&self) -> Result<()> {
        let counters = *self.counters.lock();
        self.meta
            .insert(keys::INBOX_COUNTERS, &encode_counters(&counters)[..])?;
        Ok(())
    }

    /// Counts a rejected request; persisted with the next commit.
    pub fn note_rejected(&self) {
        self.counters.lock().rejected += 1;
    }

    pub fn counters(&self) -> InboxCounters {
        *self.counters.lock()
    }

    /// Events stored and not yet acknowledged by the consumer.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Where the consumer resumes: the first event it has not acknowledged.
    pub fn cursor(&self) -> Result<Position> {
        Ok(match self.meta.get(keys::INBOX_CURSOR)? {
            Some(bytes) => position_from(&bytes)?,
            None => Position { seq: 0, index: 0 },
        })
    }

    /// Up to `max` acknowledged events from `from` on, in arrival order.
    pub fn read_from(&self, from: Position, max: usize) -> Result<Vec<StoredEvent>> {
        let mut events = Vec::new();
        let last = self.acknowledged();
        if from.seq > last {
            return Ok(events);
        }
        for row in self
            .chunks
            .range(from.seq.to_be_bytes()..=last.to_be_bytes())
        {
            let (key, value) = row?;
            let seq = u64_from(&key)?;
            let chunk = Chunk::decode(&value)?;
            for (index, (_, raw)) in chunk.entries.iter().enumerate() {
                let position = Position {
                    seq,
                    index: index as u16,
                };
                if position < from {
                    continue;
                }
                if events.len() == max {
                    return Ok(events);
                }
                events.push(chunk.stored(position, raw));
            }
        }
        Ok(events)
    }

    /// Records that every event before `next` has been processed.
    pub fn ack(&self, next: Position) -> Result<()> {
        let cursor = self.cursor()?;
        if next <= cursor {
            return Ok(());
        }
        let acked = self.count_between(cursor, next)?;
        self.meta
            .insert(keys::INBOX_CURSOR, &position_bytes(next)[..])?;
        self.pending
            .fetch_sub(acked.min(self.pending()), Ordering::Relaxed);
        Ok(())
    }

    /// The `limit` most recently stored (acknowledged) events, newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<StoredEvent>> {
        let mut events = Vec::new();
        for row in self
            .chunks
            .range(..=self.acknowledged().to_be_bytes())
            .rev()
        {
            let (key, value) = row?;
            let seq = u64_from(&key)?;
            let chunk = Chunk::decode(&value)?;
            for (index, (_, raw)) in chunk.entries.iter().enumerate().rev() {
                if events.len() == limit {
                    return Ok(events);
                }
                events.push(chunk.stored(
                    Position {
                        seq,
                        index: index as u16,
                    },
                    raw,
                ));
            }
        }
        Ok(events)
    }

    /// Every stored (acknowledged, not erased) event with this `eventId` (HubSpot does not
    /// keep them unique).
    pub fn by_event_id(&self, event_id: i64) -> Result<Vec<StoredEvent>> {
        let last = self.acknowledged();
        let positions: BTreeSet<Position> = self.held.lock().seen.positions(event_id).collect();
        let mut events = Vec::new();
        for position in positions.into_iter().filter(|p| p.seq <= last) {
            if let Some(bytes) = self.chunks.get(position.seq.to_be_bytes())? {
                let chunk = Chunk::decode(&bytes)?;
                match chunk.entries.get(usize::from(position.index)) {
                    Some((_, raw)) if *raw != ERASED => events.push(chunk.stored(position, raw)),
                    _ => {}
                }
            }
        }
        Ok(events)
    }

    /// Deletes fully acknowledged chunks received before `cutoff_ms`, and what the dedup
    /// check knew of them. Returns how many events went.
    pub fn prune(&self, cutoff_ms: i64) -> Result<u64> {
        let cursor = self.cursor()?;
        let mut pruned = 0;
        for row in self.chunks.range(..cursor.seq.to_be_bytes()) {
            let (key, value) = row?;
            let seq = u64_from(&key)?;
            let chunk = Chunk::decode(&value)?;
            if chunk.received_at_ms >= cutoff_ms {
                break;
            }
            let mut held = self.held.lock();
            for (entry_key, _) in &chunk.entries {
                held.seen.forget(seen::of_key(entry_key)?.0, seq);
            }
            drop(held);
            // The digest row first: a crash between the two leaves a chunk without one, past
            // the retention and pruned next time, never a row without its chunk.
            self.digests.remove(&key)?;
            self.chunks.remove(key)?;
            pruned += chunk.entries.len() as u64;
        }
        Ok(pruned)
    }

    /// Replaces every stored event for which `erase` is true by an empty object (`{}`):
    /// privacy deletions leave no copy of a person's data behind. Its dedup key (ids and a
    /// digest of the content) stays, so a late redelivery is still dropped, not stored anew.
    /// Positions stay as they were, so the consumer's cursor is unaffected. Returns the count.
    pub fn erase(&self, erase: impl Fn(&str) -> bool) -> Result<u64> {
        let mut erased = 0;
        for row in self.chunks.iter() {
            let (key, value) = row?;
            let chunk = Chunk::decode(&value)?;
            if !chunk
                .entries
                .iter()
                .any(|(_, raw)| *raw != ERASED && erase(raw))
            {
                continue;
            }
            let mut rebuilt = ChunkBuilder::new(chunk.received_at_ms);
            for (entry_key, raw) in &chunk.entries {
                let entry_key: &[u8; 32] = (*entry_key)
                    .try_into()
                    .map_err(|_| corrupt("chunk entry key"))?;
                if *raw != ERASED && erase(raw) {
                    rebuilt.push(entry_key, ERASED);
                    erased += 1;
                } else {
                    rebuilt.push(entry_key, raw);
                }
            }
            self.chunks.insert(key, rebuilt.finish())?;
        }
        Ok(erased)
    }

    fn count_between(&self, from: Position, to: Position) -> Result<u64> {
        let mut count = 0;
        for row in self.chunks.range(from.seq.to_be_bytes()..) {
            let (key, value) = row?;
            let seq = u64_from(&key)?;
            if seq > to.seq {
                break;
            }
            let total = Chunk::count(&value)?;
            let start = if seq == from.seq {
                u64::from(from.index)
            } else {
                0
            };
            let end = if seq == to.seq {
                u64::from(to.index).min(total)
            } else {
                total
            };
            count += end.saturating_sub(start);
        }
        Ok(count)
    }
}

/// The newest chunk seq the inbox in `chunks` holds or its consumer has read into (0: none):
/// the consumer's cursor keeps its place when the chunks before it are pruned.
fn reach(chunks: &sled::Tree, meta: &sled::Tree) -> Result<u64> {
    let last = match chunks.last()? {
        Some((key, _)) => u64_from(&key)?,
        None => 0,
    };
    let cursor = match meta.get(keys::INBOX_CURSOR)? {
        Some(bytes) => position_from(&bytes)?,
        None => Position::default(),
    };
    // A cursor at index 0 of a chunk has read nothing of it.
    let read_into = cursor.seq - u64::from(cursor.index == 0 && cursor.seq > 0);
    Ok(last.max(read_into))
}

/// How far the inbox of `db` reaches (see `reach`) and how many events it has stored.
pub(super) fn held(db: &sled::Db) -> Result<(u64, u64)> {
    let chunks = db.open_tree(keys::INBOX_TREE)?;
    let meta = db.open_tree(keys::META_TREE)?;
    let received = match meta.get(keys::INBOX_COUNTERS)? {
        Some(bytes) => decode_counters(&bytes)?.received,
        None => 0,
    };
    Ok((reach(&chunks, &meta)?, received))
}

/// Events stored in the chunks after `through_seq` in `db`.
pub(super) fn count_after(db: &sled::Db, through_seq: u64) -> Result<u64> {
    let chunks = db.open_tree(keys::INBOX_TREE)?;
    let mut count = 0;
    for row in chunks.range((through_seq + 1).to_be_bytes()..) {
        count += Chunk::count(&row?.1)?;
    }
    Ok(count)
}

/// Deletes the chunks after `through_seq` (stored but never acknowledged: their commit
/// failed, or the process died before the answer) with their digest rows, and winds the
/// `received` counter back to `events`; HubSpot redelivers what was not answered 2xx.
/// Returns how many events went. Runs on open, before [`InboxStore::open`].
pub(super) fn drop_unacknowledged(db: &sled::Db, through_seq: u64, events: u64) -> Result<u64> {
    let chunks = db.open_tree(keys::INBOX_TREE)?;
    let digests = db.open_tree(keys::INBOX_DIGESTS_TREE)?;
    let meta = db.open_tree(keys::META_TREE)?;
    let after = (through_seq + 1).to_be_bytes();
    let mut dropped = 0;
    for row in chunks.range(after..) {
        let (key, value) = row?;
        dropped += Chunk::count(&value)?;
        chunks.remove(key)?;
    }
    for row in digests.range(after..) {
        digests.remove(row?.0)?;
    }
    if let Some(bytes) = meta.get(keys::INBOX_COUNTERS)? {
        let mut counters = decode_counters(&bytes)?;
        if counters.received > events {
            counters.received = events;
            meta.insert(keys::INBOX_COUNTERS, &encode_counters(&counters)[..])?;
        }
    }
    Ok(dropped)
}

/// The chunk the dedup check read last: a redelivered batch's duplicates mostly sit in one.
#[derive(Default)]
struct ChunkCache {
    last: Option<(u64, sled::IVec)>,
}

impl ChunkCache {
    /// Whether any of the `candidates` positions holds the event with this full `key`.
    fn holds_any(
        &mut self,
        chunks: &sled::Tree,
        candidates: impl Iterator<Item = Position>,
        key: &[u8; 32],
    ) -> Result<bool> {
        for position in candidates {
            if self.last.as_ref().map(|(seq, _)| *seq) != Some(position.seq) {
                let Some(bytes) = chunks.get(position.seq.to_be_bytes())? else {
                    continue;
                };
                self.last = Some((position.seq, bytes));
            }
            let Some((_, bytes)) = &self.last else {
                continue;
            };
            let chunk = Chunk::decode(bytes)?;
            if chunk
                .entries
                .get(usize::from(position.index))
                .is_some_and(|(stored, _)| *stored == key)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
