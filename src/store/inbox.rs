//! The webhook inbox on disk: an arrival-ordered log of events, a dedup index, the consumer's
//! cursor and the counters `status` reports.
//!
//! Events are stored in chunks (one sled row per chunk of up to 32 KiB, holding the events of
//! one or several requests) because per-row cost, not bytes, bounds the ingest rate. The dedup
//! index (`inbox_ids`, one row per event) is written *after* the commit that acknowledges the
//! events, off the acknowledgement path: until then their keys sit in an in-memory set that
//! the dedup check consults too. A watermark (`inbox_indexed`: every chunk below it has its
//! dedup rows durably written) bounds what [`InboxStore::open`] re-indexes from the chunks
//! after a crash, so dedup of an acknowledged event survives `kill -9` and power loss.
//! Only one writer (the webhook committer) appends.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::keys::{self, event_key, u64_from};
use super::{Error, Result};

const CHUNK_BYTES: usize = 32 * 1024;
/// The largest event (its raw JSON) the inbox stores; the webhook handler refuses bigger ones
/// before anything is stored. An event above `CHUNK_BYTES` gets a chunk of its own, so no
/// chunk exceeds this plus its headers, and a sled leaf (at most 17 rows; about 20 for a
/// moment while sled merges two) stays under 1.3 MiB: below 2 MiB, a quarter of the 8 MiB
/// segment, above which sled 0.34 writes a log item to a blob file it never fsyncs.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
const CHUNK_FORMAT: u8 = 1;
const ENTRY_HEADER: usize = 32 + 4;
/// What an erased event's text becomes.
pub const ERASED: &str = "{}";

/// Where an event sits in the inbox: its chunk and its index inside the chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub seq: u64,
    pub index: u16,
}

/// An event to append: the parts of its identity the dedup index needs, and its raw JSON.
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboxCounters {
    pub received: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub last_received_at_ms: Option<i64>,
}

/// Events stored but whose dedup rows are not written yet, and the next chunk seq; one lock,
/// so a snapshot of the keys and the seq bound it covers are consistent.
struct Unindexed {
    keys: HashMap<[u8; 32], Position>,
    next_seq: u64,
}

pub struct InboxStore {
    chunks: sled::Tree,
    ids: sled::Tree,
    meta: sled::Tree,
    unindexed: Mutex<Unindexed>,
    /// Held while dedup rows are written, erased or pruned, so that none of them races another.
    indexing: Mutex<()>,
    /// Every chunk below this seq has its dedup rows written (not necessarily durable).
    indexed_written: AtomicU64,
    /// Every chunk below this seq has its dedup rows durable (a commit ran since they were
    /// written): the next commit may persist it as the watermark.
    indexed_durable: AtomicU64,
    /// The watermark as last written to `meta`.
    indexed_persisted: AtomicU64,
    /// Events stored but not yet acknowledged by the consumer.
    pending: AtomicU64,
    counters: Mutex<InboxCounters>,
    /// The last chunk whose events were acknowledged (answered 2xx). Readers (the consumer,
    /// the API) see only chunks up to it: a group whose commit failed stays in sled's memory
    /// (sled refuses every write after an I/O error, removals too) but is never shown.
    acknowledged: AtomicU64,
}

impl InboxStore {
    /// Opens the inbox and re-indexes the chunks above the durable dedup watermark (their rows
    /// may have been lost in a crash). The caller commits afterwards.
    pub(super) fn open(db: &sled::Db) -> Result<InboxStore> {
        let chunks = db.open_tree(keys::INBOX_TREE)?;
        let ids = db.open_tree(keys::INBOX_IDS_TREE)?;
        let meta = db.open_tree(keys::META_TREE)?;
        let next_seq = reach(&chunks, &meta)? + 1;
        let counters = match meta.get(keys::INBOX_COUNTERS)? {
            Some(bytes) => decode_counters(&bytes)?,
            None => InboxCounters::default(),
        };
        let watermark = match meta.get(keys::INBOX_INDEXED)? {
            Some(bytes) => u64_from(&bytes)?,
            None => 0,
        };
        let inbox = InboxStore {
            chunks,
            ids,
            meta,
            unindexed: Mutex::new(Unindexed {
                keys: HashMap::new(),
                next_seq,
            }),
            indexing: Mutex::new(()),
            indexed_written: AtomicU64::new(watermark),
            indexed_durable: AtomicU64::new(watermark),
            indexed_persisted: AtomicU64::new(watermark),
            pending: AtomicU64::new(0),
            counters: Mutex::new(counters),
            acknowledged: AtomicU64::new(next_seq - 1),
        };
        inbox.reindex_from(watermark, next_seq)?;
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

    /// Writes the dedup rows of every chunk from `from` on (erased events have none).
    /// Idempotent: rows already there are written again with the same value.
    fn reindex_from(&self, from: u64, next_seq: u64) -> Result<u64> {
        let mut rows = 0;
        for row in self.chunks.range(from.to_be_bytes()..) {
            let (key, value) = row?;
            let seq = u64_from(&key)?;
            let chunk = Chunk::decode(&value)?;
            let mut id_rows = sled::Batch::default();
            for (index, (id_key, raw)) in chunk.entries.iter().enumerate() {
                if *raw == ERASED {
                    continue;
                }
                let position = Position {
                    seq,
                    index: index as u16,
                };
                id_rows.insert(*id_key, &position_bytes(position)[..]);
                rows += 1;
            }
            self.ids.apply_batch(id_rows)?;
        }
        self.indexed_written.store(next_seq, Ordering::Release);
        Ok(rows)
    }

    /// Appends the events of several requests (a group commit) into shared chunks, dropping
    /// duplicates (dedup by event id, portal and content digest; of stored events and within
    /// the group), and returns each request's outcome. Not durable, nor shown to readers,
    /// until [`super::Store::store_events`] commits and acknowledges them; the counters are
    /// written by [`InboxStore::persist_counters`]. The new events' dedup rows are *not*
    /// written: see [`InboxStore::index_pending`].
    #[cfg(test)]
    pub(super) fn append_group(
        &self,
        received_at_ms: i64,
        requests: &[&[NewEvent<'_>]],
    ) -> Result<Vec<AppendOutcome>> {
        let requests: Vec<Appending<'_>> = requests
            .iter()
            .map(|events| Appending {
                events,
                cursor: None,
            })
            .collect();
        self.append_requests(received_at_ms, &requests)
    }

    /// [`InboxStore::append_group`] for requests of any source (see [`Appending`]).
    pub(super) fn append_requests(
        &self,
        received_at_ms: i64,
        requests: &[Appending<'_>],
    ) -> Result<Vec<AppendOutcome>> {
        let mut unindexed = self.unindexed.lock();
        let mut outcomes = Vec::with_capacity(requests.len());
        let mut added: Vec<([u8; 32], Position)> = Vec::new();
        let mut seen = HashSet::new();
        let mut chunk = ChunkBuilder::new(received_at_ms);
        let mut seq = unindexed.next_seq;
        for request in requests {
            let mut outcome = AppendOutcome::default();
            for event in request.events {
                let key = event_key(event.event_id, event.portal_id, &event.digest);
                if !seen.insert(key)
                    || unindexed.keys.contains_key(&key)
                    || self.ids.contains_key(key)?
                {
                    outcome.duplicates += 1;
                    continue;
                }
                if chunk.is_full_for(event.raw) {
                    self.chunks.insert(seq.to_be_bytes(), chunk.finish())?;
                    seq += 1;
                    chunk = ChunkBuilder::new(received_at_ms);
                }
                let index = chunk.push(&key, event.raw);
                added.push((key, Position { seq, index }));
                outcome.stored += 1;
            }
            outcomes.push(outcome);
        }
        if chunk.count > 0 {
            self.chunks.insert(seq.to_be_bytes(), chunk.finish())?;
            seq += 1;
        }
        unindexed.keys.extend(added);
        unindexed.next_seq = seq;
        drop(unindexed);
        let stored: u64 = outcomes.iter().map(|o| u64::from(o.stored)).sum();
        let webhooks = || {
            requests
                .iter()
                .zip(&outcomes)
                .filter(|(request, _)| request.cursor.is_none())
                .map(|(_, outcome)| outcome)
        };
        let duplicates: u64 = webhooks().map(|o| u64::from(o.duplicates)).sum();
        let webhooks_stored = webhooks().any(|o| o.stored > 0);
        self.pending.fetch_add(stored, Ordering::Relaxed);
        let mut counters = self.counters.lock();
        counters.received += stored;
        counters.duplicates += duplicates;
        if webhooks_stored {
            counters.last_received_at_ms = Some(received_at_ms);
        }
        Ok(outcomes)
    }

    /// The last chunk appended so far (0: none) and the events stored through it: what an
    /// acknowledging commit records in the ledger.
    pub(super) fn appended(&self) -> (u64, u64) {
        let seq = self.unindexed.lock().next_seq - 1;
        (seq, self.counters.lock().received)
    }

    /// Shows the chunks through `seq` to readers: their events were acknowledged.
    pub(super) fn acknowledge(&self, seq: u64) {
        self.acknowledged.fetch_max(seq, Ordering::AcqRel);
    }

    fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Acquire)
    }

    /// Events whose dedup rows are not written yet.
    pub fn unindexed(&self) -> usize {
        self.unindexed.lock().keys.len()
    }

    /// Writes the dedup rows of up to `max` events appended so far (not durable until the
    /// next commit). Called after the commit that acknowledged them, off the acknowledgement
    /// path; until then the dedup check finds them in memory. Returns how many rows were
    /// written.
    pub fn index_pending(&self, max: usize) -> Result<usize> {
        let _indexing = self.indexing.lock();
        let rows: Vec<([u8; 32], Position)> = {
            let unindexed = self.unindexed.lock();
            unindexed
                .keys
                .iter()
                .take(max)
                .map(|(k, p)| (*k, *p))
                .collect()
        };
        // One insert per row, not `apply_batch`: sled 0.34's batch holds a process-wide write
        // lock for its whole length, which would stall the committer's chunk inserts
        // (measured: multi-second acknowledgement stalls).
        for (key, position) in &rows {
            self.ids.insert(&key[..], &position_bytes(*position)[..])?;
        }
        let upto = {
            let mut unindexed = self.unindexed.lock();
            for (key, _) in &rows {
                unindexed.keys.remove(key);
            }
            // Every chunk below the oldest event still without a row is fully indexed.
            unindexed
                .keys
                .values()
                .map(|position| position.seq)
                .min()
                .unwrap_or(unindexed.next_seq)
        };
        self.indexed_written.fetch_max(upto, Ordering::AcqRel);
        Ok(rows.len())
    }

    /// Part of [`super::Store::commit`], before the flush: persists the dedup watermark if it
    /// moved, and returns the bound whose rows the coming flush makes durable.
    pub(super) fn before_commit(&self) -> Result<u64> {
        let durable = self.indexed_durable.load(Ordering::Acquire);
        if durable > self.indexed_persisted.load(Ordering::Acquire) {
            self.meta
                .insert(keys::INBOX_INDEXED, &durable.to_be_bytes()[..])?;
            self.indexed_persisted.fetch_max(durable, Ordering::AcqRel);
        }
        Ok(self.indexed_written.load(Ordering::Acquire))
    }

    /// Part of [`super::Store::commit`], after the flush and fdatasync succeeded.
    pub(super) fn after_commit(&self, written_before: u64) {
        self.indexed_durable
            .fetch_max(written_before, Ordering::AcqRel);
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

    /// Every stored (acknowledged) event with this `eventId` (HubSpot does not keep them
    /// unique).
    pub fn by_event_id(&self, event_id: i64) -> Result<Vec<StoredEvent>> {
        let last = self.acknowledged();
        let prefix = keys::i64_key(event_id);
        let mut positions: BTreeSet<Position> = self
            .unindexed
            .lock()
            .keys
            .iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .map(|(_, position)| *position)
            .collect();
        for row in self.ids.scan_prefix(prefix) {
            let (_, value) = row?;
            positions.insert(position_from(&value)?);
        }
        let mut events = Vec::new();
        for position in positions.into_iter().filter(|p| p.seq <= last) {
            if let Some(bytes) = self.chunks.get(position.seq.to_be_bytes())? {
                let chunk = Chunk::decode(&bytes)?;
                if let Some((_, raw)) = chunk.entries.get(usize::from(position.index)) {
                    events.push(chunk.stored(position, raw));
                }
            }
        }
        events.sort_by_key(|event| event.position);
        Ok(events)
    }

    /// Deletes fully acknowledged chunks received before `cutoff_ms`, with their dedup rows.
    /// Returns how many events went.
    pub fn prune(&self, cutoff_ms: i64) -> Result<u64> {
        let cursor = self.cursor()?;
        let mut pruned = 0;
        let _indexing = self.indexing.lock();
        for row in self.chunks.range(..cursor.seq.to_be_bytes()) {
            let (key, value) = row?;
            let chunk = Chunk::decode(&value)?;
            if chunk.received_at_ms >= cutoff_ms {
                break;
            }
            let mut id_rows = sled::Batch::default();
            let mut unindexed = self.unindexed.lock();
            for (id_key, _) in &chunk.entries {
                id_rows.remove(&id_key[..]);
                if let Ok(key) = <[u8; 32]>::try_from(*id_key) {
                    unindexed.keys.remove(&key);
                }
            }
            drop(unindexed);
            self.ids.apply_batch(id_rows)?;
            self.chunks.remove(key)?;
            pruned += chunk.entries.len() as u64;
        }
        Ok(pruned)
    }

    /// Replaces every stored event for which `erase` is true by an empty object (`{}`), and
    /// drops its dedup row: privacy deletions leave no copy of a person's data behind.
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
            let _indexing = self.indexing.lock();
            let mut rebuilt = ChunkBuilder::new(chunk.received_at_ms);
            let mut id_rows = sled::Batch::default();
            let mut erased_keys = Vec::new();
            for (id_key, raw) in &chunk.entries {
                let key: [u8; 32] = (*id_key)
                    .try_into()
                    .map_err(|_| corrupt("chunk entry key"))?;
                if *raw != ERASED && erase(raw) {
                    rebuilt.push(&key, ERASED);
                    id_rows.remove(&key[..]);
                    erased_keys.push(key);
                    erased += 1;
                } else {
                    rebuilt.push(&key, raw);
                }
            }
            self.chunks.insert(key, rebuilt.finish())?;
            let mut unindexed = self.unindexed.lock();
            for key in &erased_keys {
                unindexed.keys.remove(key);
            }
            drop(unindexed);
            self.ids.apply_batch(id_rows)?;
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
/// failed, or the process died before the answer) with their dedup rows, and winds the
/// `received` counter back to `events`; HubSpot redelivers what was not answered 2xx.
/// Returns how many events went. Runs on open, before [`InboxStore::open`].
pub(super) fn drop_unacknowledged(db: &sled::Db, through_seq: u64, events: u64) -> Result<u64> {
    let chunks = db.open_tree(keys::INBOX_TREE)?;
    let ids = db.open_tree(keys::INBOX_IDS_TREE)?;
    let meta = db.open_tree(keys::META_TREE)?;
    let mut dropped = 0;
    for row in chunks.range((through_seq + 1).to_be_bytes()..) {
        let (key, value) = row?;
        let seq = u64_from(&key)?;
        let chunk = Chunk::decode(&value)?;
        for (id_key, _) in &chunk.entries {
            let indexed_here = ids
                .get(id_key)?
                .map(|position| position_from(&position).map(|p| p.seq == seq))
                .transpose()?;
            if indexed_here == Some(true) {
                ids.remove(id_key)?;
            }
        }
        chunks.remove(key)?;
        dropped += chunk.entries.len() as u64;
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

struct ChunkBuilder {
    bytes: Vec<u8>,
    count: u16,
}

impl ChunkBuilder {
    fn new(received_at_ms: i64) -> Self {
        let mut bytes = Vec::with_capacity(CHUNK_BYTES);
        bytes.push(CHUNK_FORMAT);
        bytes.extend_from_slice(&received_at_ms.to_be_bytes());
        bytes.extend_from_slice(&0u16.to_be_bytes());
        ChunkBuilder { bytes, count: 0 }
    }

    fn is_full_for(&self, raw: &str) -> bool {
        self.count > 0
            && (self.bytes.len() + ENTRY_HEADER + raw.len() > CHUNK_BYTES || self.count == u16::MAX)
    }

    fn push(&mut self, key: &[u8; 32], raw: &str) -> u16 {
        self.bytes.extend_from_slice(key);
        // Invariant: bodies are capped far below 4 GiB by server.max_body_bytes.
        self.bytes
            .extend_from_slice(&(raw.len() as u32).to_be_bytes());
        self.bytes.extend_from_slice(raw.as_bytes());
        self.count += 1;
        self.count - 1
    }

    fn finish(mut self) -> Vec<u8> {
        self.bytes[9..11].copy_from_slice(&self.count.to_be_bytes());
        self.bytes
    }
}

struct Chunk<'a> {
    received_at_ms: i64,
    entries: Vec<(&'a [u8], &'a str)>,
}

impl<'a> Chunk<'a> {
    fn count(bytes: &[u8]) -> Result<u64> {
        let count = bytes.get(9..11).ok_or_else(|| corrupt("chunk header"))?;
        Ok(u64::from(u16::from_be_bytes([count[0], count[1]])))
    }

    fn decode(bytes: &'a [u8]) -> Result<Chunk<'a>> {
        if bytes.first() != Some(&CHUNK_FORMAT) || bytes.len() < 11 {
            return Err(corrupt("chunk header"));
        }
        let received_at_ms = u64_from(&bytes[1..9])? as i64;
        let count = Self::count(bytes)?;
        let mut entries = Vec::with_capacity(count as usize);
        let mut rest = &bytes[11..];
        for _ in 0..count {
            if rest.len() < ENTRY_HEADER {
                return Err(corrupt("chunk entry"));
            }
            let (key, tail) = rest.split_at(32);
            let length = keys::u32_from(tail)? as usize;
            let raw = tail
                .get(4..4 + length)
                .ok_or_else(|| corrupt("chunk entry"))?;
            let raw = std::str::from_utf8(raw).map_err(|_| corrupt("chunk entry text"))?;
            entries.push((key, raw));
            rest = &tail[4 + length..];
        }
        Ok(Chunk {
            received_at_ms,
            entries,
        })
    }

    fn stored(&self, position: Position, raw: &str) -> StoredEvent {
        StoredEvent {
            position,
            received_at_ms: self.received_at_ms,
            raw: raw.to_owned(),
        }
    }
}

fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("inbox {what} is damaged"))
}

fn position_bytes(position: Position) -> [u8; 10] {
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&position.seq.to_be_bytes());
    bytes[8..].copy_from_slice(&position.index.to_be_bytes());
    bytes
}

fn position_from(bytes: &[u8]) -> Result<Position> {
    let index = bytes.get(8..10).ok_or_else(|| corrupt("position"))?;
    Ok(Position {
        seq: u64_from(bytes)?,
        index: u16::from_be_bytes([index[0], index[1]]),
    })
}

fn encode_counters(counters: &InboxCounters) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&counters.received.to_be_bytes());
    bytes[8..16].copy_from_slice(&counters.duplicates.to_be_bytes());
    bytes[16..24].copy_from_slice(&counters.rejected.to_be_bytes());
    bytes[24..].copy_from_slice(
        &counters
            .last_received_at_ms
            .unwrap_or(i64::MIN)
            .to_be_bytes(),
    );
    bytes
}

fn decode_counters(bytes: &[u8]) -> Result<InboxCounters> {
    if bytes.len() != 32 {
        return Err(corrupt("counters"));
    }
    let last = u64_from(&bytes[24..])? as i64;
    Ok(InboxCounters {
        received: u64_from(bytes)?,
        duplicates: u64_from(&bytes[8..])?,
        rejected: u64_from(&bytes[16..])?,
        last_received_at_ms: (last != i64::MIN).then_some(last),
    })
}
