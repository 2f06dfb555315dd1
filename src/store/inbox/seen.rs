//! Which events the inbox holds, in memory and by event id: the dedup check and the lookup by
//! event id, without a row per event on disk.
//!
//! Each chunk has a companion row in `inbox_digests` (same seq; per entry its event id and a
//! 32-bit check of its portal and content digest), written beside the chunk before the commit
//! that acknowledges it, so it is durable exactly when the chunk is. [`load`] rebuilds the map
//! on open from those rows: 12 bytes per event to read instead of the events. A match on event
//! id and check is only a candidate: the inbox confirms it against the full key in the chunk,
//! so dedup stays exact (a false candidate costs one chunk read, about one in 2^32).
//!
//! The map takes about 57 bytes per stored event (a 25-byte entry and hash-table slack) for
//! as long as the inbox keeps the event (`store.inbox_retention_hours`). It is split into
//! [`SHARDS`] tables by event id: a table that outgrows its allocation rehashes every entry
//! at once, under the committer's lock, and one table of a million events took 45 ms doing
//! so, which every waiting webhook request felt. A shard holds 1/256 of that; and since ids
//! spread evenly, shards would all fill at once, so each grows at its own fill level (see
//! [`Seen::insert`]).

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use super::super::keys::u64_from;
use super::super::Result;
use super::chunk::{corrupt, Chunk};
use super::Position;

const ENTRY_BYTES: usize = 12;

/// Where an event is, and the check that rules out most other events sharing its id. Flat, in
/// 16 bytes: a `Position` inside would pad it to 24, a third more per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    seq: u64,
    index: u16,
    check: u32,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 16);

impl Slot {
    pub fn new(position: Position, check: u32) -> Slot {
        Slot {
            seq: position.seq,
            index: position.index,
            check,
        }
    }

    pub fn position(self) -> Position {
        Position {
            seq: self.seq,
            index: self.index,
        }
    }
}

/// Tables the map is split into (a power of two).
const SHARDS: usize = 256;

/// Every stored event by id. HubSpot does not keep event ids unique, so an id may have several
/// slots; the first lives in its shard of `first`, the rare others in `more`.
pub(super) struct Seen {
    first: Vec<HashMap<i64, Slot>>,
    more: HashMap<i64, Vec<Slot>>,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            first: (0..SHARDS).map(|_| HashMap::new()).collect(),
            more: HashMap::new(),
        }
    }
}

/// The shard of an event id: its top bits after a multiplicative mix, so that ids that
/// count up (as HubSpot's do) spread evenly.
fn shard(event_id: i64) -> usize {
    const SHIFT: u32 = u64::BITS - SHARDS.trailing_zeros();
    ((event_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> SHIFT) as usize
}

impl Seen {
    fn first(&self, event_id: i64) -> &HashMap<i64, Slot> {
        &self.first[shard(event_id)]
    }

    fn first_mut(&mut self, event_id: i64) -> &mut HashMap<i64, Slot> {
        &mut self.first[shard(event_id)]
    }

    pub fn insert(&mut self, event_id: i64, slot: Slot) {
        let index = shard(event_id);
        let first = &mut self.first[index];
        // Shard i doubles when it is (1 + i / SHARDS) / 2 full, before the table would: the
        // shards' rehashes spread over each doubling of the map.
        let capacity = first.capacity();
        if first.len() * 2 * SHARDS >= capacity * (SHARDS + index) {
            first.reserve(capacity.max(1));
        }
        match first.entry(event_id) {
            Entry::Vacant(vacant) => {
                vacant.insert(slot);
            }
            Entry::Occupied(_) => self.more.entry(event_id).or_default().push(slot),
        }
    }

    /// Every stored event with this id, in no particular order.
    pub fn positions(&self, event_id: i64) -> impl Iterator<Item = Position> + '_ {
        self.slots(event_id).map(Slot::position)
    }

    /// The stored events with this id and check: those the new event may duplicate.
    pub fn candidates(&self, event_id: i64, check: u32) -> impl Iterator<Item = Position> + '_ {
        self.slots(event_id)
            .filter(move |slot| slot.check == check)
            .map(Slot::position)
    }

    fn slots(&self, event_id: i64) -> impl Iterator<Item = Slot> + '_ {
        let first = self.first(event_id).get(&event_id).into_iter();
        first
            .chain(self.more.get(&event_id).into_iter().flatten())
            .copied()
    }

    /// Forgets the events with this id in chunk `seq` (the chunk is being pruned).
    pub fn forget(&mut self, event_id: i64, seq: u64) {
        let mut more = self.more.remove(&event_id).unwrap_or_default();
        more.retain(|slot| slot.seq != seq);
        let first = self.first_mut(event_id);
        if first.get(&event_id).is_some_and(|slot| slot.seq == seq) {
            match more.pop() {
                Some(next) => first.insert(event_id, next),
                None => first.remove(&event_id),
            };
        }
        if !more.is_empty() {
            self.more.insert(event_id, more);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        let first: usize = self.first.iter().map(HashMap::len).sum();
        first + self.more.values().map(Vec::len).sum::<usize>()
    }
}

/// The check of an event: its content digest folded with its portal.
pub(super) fn check(portal_id: i64, digest: &[u8; 16]) -> u32 {
    let head = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    head ^ (portal_id as u32) ^ ((portal_id >> 32) as u32).rotate_left(16)
}

/// The event id and check of a chunk entry, from its dedup key (see `keys::event_key`).
pub(super) fn of_key(key: &[u8]) -> Result<(i64, u32)> {
    let signed = |bytes: &[u8]| u64_from(bytes).map(|value| (value ^ (1 << 63)) as i64);
    let digest: [u8; 16] = key
        .get(16..32)
        .and_then(|digest| digest.try_into().ok())
        .ok_or_else(|| corrupt("chunk entry key"))?;
    Ok((signed(key)?, check(signed(&key[8..])?, &digest)))
}

/// A chunk's digest row, built beside the chunk.
#[derive(Default)]
pub(super) struct DigestRow(Vec<u8>);

impl DigestRow {
    pub fn push(&mut self, event_id: i64, check: u32) {
        self.0.extend_from_slice(&event_id.to_be_bytes());
        self.0.extend_from_slice(&check.to_be_bytes());
    }

    pub fn of_chunk(chunk: &Chunk<'_>) -> Result<DigestRow> {
        let mut row = DigestRow(Vec::with_capacity(chunk.entries.len() * ENTRY_BYTES));
        for (key, _) in &chunk.entries {
            let (event_id, check) = of_key(key)?;
            row.push(event_id, check);
        }
        Ok(row)
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// Builds the map from the digest rows. Chunks that have none get one first: all of them
/// when `derive_all` (a store from before digest rows), otherwise those after the newest row
/// (a crash can lose the last rows written, never one before a row that survived: sled
/// recovers a prefix of its log). The caller commits afterwards.
pub(super) fn load(digests: &sled::Tree, chunks: &sled::Tree, derive_all: bool) -> Result<Seen> {
    let from = match (derive_all, digests.last()?) {
        (true, _) | (false, None) => 0,
        (false, Some((seq, _))) => u64_from(&seq)? + 1,
    };
    for row in chunks.range(from.to_be_bytes()..) {
        let (seq, chunk) = row?;
        let derived = DigestRow::of_chunk(&Chunk::decode(&chunk)?)?;
        digests.insert(seq, derived.into_bytes())?;
    }
    let mut seen = Seen::default();
    for row in digests.iter() {
        let (seq, entries) = row?;
        let seq = u64_from(&seq)?;
        if entries.len() % ENTRY_BYTES != 0 {
            return Err(corrupt("digest row"));
        }
        for (index, entry) in entries.chunks_exact(ENTRY_BYTES).enumerate() {
            let event_id = u64_from(entry)? as i64;
            let check = u32::from_be_bytes([entry[8], entry[9], entry[10], entry[11]]);
            let index = index as u16;
            seen.insert(event_id, Slot::new(Position { seq, index }, check));
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(seq: u64, check: u32) -> Slot {
        Slot::new(Position { seq, index: 0 }, check)
    }

    #[test]
    fn an_id_keeps_every_slot_until_its_chunk_is_forgotten() {
        let mut seen = Seen::default();
        seen.insert(7, slot(1, 10));
        seen.insert(7, slot(2, 20));
        seen.insert(7, slot(3, 10));
        seen.insert(8, slot(3, 30));
        assert_eq!(seen.len(), 4);
        let seqs = |seen: &Seen, check| {
            let mut seqs: Vec<u64> = seen.candidates(7, check).map(|p| p.seq).collect();
            seqs.sort();
            seqs
        };
        assert_eq!(seqs(&seen, 10), [1, 3]);
        assert_eq!(seqs(&seen, 20), [2]);
        assert_eq!(seqs(&seen, 99), Vec::<u64>::new());
        seen.forget(7, 1);
        assert_eq!(seqs(&seen, 10), [3]);
        assert_eq!(seqs(&seen, 20), [2]);
        seen.forget(7, 2);
        seen.forget(7, 3);
        assert_eq!(seen.positions(7).count(), 0);
        assert_eq!(seen.len(), 1);
        assert!(seen.more.is_empty());
    }

    #[test]
    fn ids_that_count_up_spread_over_every_shard() {
        let mut sizes = [0usize; SHARDS];
        for id in 1_000_000..1_000_000 + 256 * SHARDS as i64 {
            sizes[shard(id)] += 1;
        }
        let (least, most) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(*least >= 128 && *most <= 512, "{least}..{most}");
        let mut seen = Seen::default();
        for id in 0..10_000 {
            seen.insert(id, slot(1, id as u32));
        }
        assert_eq!(seen.len(), 10_000);
        assert!(seen.first.iter().all(|shard| !shard.is_empty()));
        assert_eq!(seen.candidates(4_321, 4_321).count(), 1);
    }

    #[test]
    fn the_shards_grow_at_scattered_moments() {
        // Where each insert past 50,000 made its shard grow: with every shard doubling at the
        // same fill level, a doubling of the map would grow all 256 within a few hundred
        // inserts; staggered, they spread over each doubling.
        let mut seen = Seen::default();
        let mut grown_at = Vec::new();
        for id in 0..400_000i64 {
            let index = shard(id);
            let before = seen.first[index].capacity();
            seen.insert(id, slot(1, 0));
            if id >= 50_000 && seen.first[index].capacity() != before {
                grown_at.push(id);
            }
        }
        assert!(grown_at.len() >= SHARDS, "{} growths", grown_at.len());
        let busiest = grown_at
            .iter()
            .map(|&at| {
                grown_at
                    .iter()
                    .filter(|&&other| (at..at + 1_000).contains(&other))
                    .count()
            })
            .max()
            .unwrap();
        assert!(busiest <= 32, "{busiest} shards grew within 1,000 inserts");
    }

    #[test]
    fn the_check_of_a_key_is_the_check_of_its_parts() {
        let digest = [0xAB; 16];
        let key = super::super::super::keys::event_key(-5, 62515, &digest);
        assert_eq!(of_key(&key).unwrap(), (-5, check(62515, &digest)));
        assert_ne!(check(62515, &digest), check(62516, &digest));
    }
}
