//! What the ownership API keeps of its own: when each record was first matched by a lookup,
//! and the mapping of internal users (by email) to HubSpot owners.
//!
//! First matches are answered from memory and written behind the request path: a first
//! match goes into `pending`, and [`Ownership::write_pending`] (the daemon calls
//! `Store::write_matches` a few times a second and at shutdown) writes them, each with its
//! per-type counter increment, in one transaction per chunk. A `kill -9` loses the first
//! matches of at most that last interval (those records are then matched afresh, with a
//! later time); the counters always equal the number of rows in `matches`.
//!
//! The stored first matches are also kept in memory (`stored`, loaded on open, ~40 bytes
//! per matched record), so answering an already-matched record reads nothing from the store.
//! It changes only together with the rows: after a write commits, and in `clear_matches`.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;
use sled::Transactional;

use super::erase::remove_prefix;
use super::keys::{self, record_key, type_prefix};
use super::outbox::{self, Outbox};
use super::record::{decode, encode};
use super::{Error, Result};
use crate::object::ObjectType;

/// How an internal user came to be mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MappingSource {
    Manual,
    Auto,
}

/// An internal user (by lower-case email) and the HubSpot owner their exports get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMapping {
    pub email: String,
    /// `None`: known but unmapped (no owner had the email when auto-mapping ran).
    pub owner_id: Option<i64>,
    pub source: MappingSource,
}

/// At most this many first matches wait in memory; beyond it they are written at once.
const MAX_PENDING: usize = 100_000;
/// First matches per transaction when writing pending ones.
const CHUNK: usize = 1_000;

type Key = [u8; 17];
/// Portal and type of a record key (`keys::type_prefix`).
type Prefix = [u8; 9];
/// Stored first matches in memory: portal + type → record id bytes → matched at (ms).
type StoredMatches = HashMap<Prefix, HashMap<u64, i64, Fast>, Fast>;
/// Keys here are ids and a few prefixes, not attacker-chosen strings: FxHash instead of
/// SipHash, about 2 % of an indicator request's CPU in a profile.
type Fast = rustc_hash::FxBuildHasher;

pub struct Ownership {
    matches: sled::Tree,
    counts: sled::Tree,
    user_map: sled::Tree,
    /// First matches answered but not yet written: record key → matched at (ms).
    pending: Mutex<HashMap<Key, i64>>,
    /// Every stored first match, as in `matches`: portal + type → record id bytes → at (ms).
    stored: RwLock<StoredMatches>,
    /// Held while pending matches are written, counted or cleared.
    writing: Mutex<()>,
    /// A first match notifies `match.first` in its transaction (see `store_matches`).
    outbox: Arc<Outbox>,
}

impl Ownership {
    pub(super) fn open(db: &sled::Db, outbox: Arc<Outbox>) -> Result<Ownership> {
        let matches = db.open_tree(keys::MATCHES_TREE)?;
        let mut stored = StoredMatches::default();
        for row in matches.iter() {
            let (key, value) = row?;
            let key: Key = key[..].try_into().map_err(|_| {
                Error::Corrupt(format!("a first match's key has {} bytes", key.len()))
            })?;
            let (prefix, id) = split(&key);
            stored
                .entry(prefix)
                .or_default()
                .insert(id, keys::u64_from(&value)? as i64);
        }
        Ok(Ownership {
            matches,
            counts: db.open_tree(keys::COUNTS_TREE)?,
            user_map: db.open_tree(keys::USER_MAP_TREE)?,
            pending: Mutex::new(HashMap::new()),
            stored: RwLock::new(stored),
            writing: Mutex::new(()),
            outbox,
        })
    }

    /// When this record was first matched; if it never was, `now_ms` becomes that time
    /// (kept in memory until [`Ownership::write_pending`] writes it).
    pub fn matched_at(&self, portal: i64, kind: ObjectType, id: i64, now_ms: i64) -> Result<i64> {
        let key = record_key(portal, kind.code(), id);
        // Pending before stored: a write moves a match from `pending` only once it is
        // stored, so one of the two always has it.
        if let Some(at) = self.pending.lock().get(&key) {
            return Ok(*at);
        }
        if let Some(at) = self.stored_match(&key) {
            return Ok(at);
        }
        let mut pending = self.pending.lock();
        if let Some(at) = pending.get(&key) {
            return Ok(*at);
        }
        // Stored meanwhile (by a write at the cap, below)?
        if let Some(at) = self.stored_match(&key) {
            return Ok(at);
        }
        if pending.len() < MAX_PENDING {
            pending.insert(key, now_ms);
            return Ok(now_ms);
        }
        // The writer is behind: store this one now (still under the lock, so nobody else
        // can answer another time for it meanwhile).
        self.store_matches(&[(key, now_ms)])?;
        Ok(now_ms)
    }

    fn stored_match(&self, key: &Key) -> Option<i64> {
        let (prefix, id) = split(key);
        self.stored.read().get(&prefix)?.get(&id).copied()
    }

    /// Writes the pending first matches; returns how many were new. Callers make them
    /// durable afterwards (`Store::write_matches`).
    pub(super) fn write_pending(&self) -> Result<usize> {
        let _writing = self.writing.lock();
        let batch: Vec<(Key, i64)> = self
            .pending
            .lock()
            .iter()
            .map(|(key, at)| (*key, *at))
            .collect();
        let mut written = 0;
        for chunk in batch.chunks(CHUNK) {
            written += self.store_matches(chunk)?;
            let mut pending = self.pending.lock();
            for (key, _) in chunk {
                pending.remove(key);
            }
        }
        Ok(written)
    }

    /// Stores first matches that are not stored yet, each counted once, in one transaction
    /// (with its `match.first` notification, when one is wanted).
    fn store_matches(&self, found: &[(Key, i64)]) -> Result<usize> {
        // notify: a match not stored yet is a first match; its notice is queued with it.
        let notices = self.first_match_notices(found)?;
        let admitted = self.outbox.admit(&notices);
        let outbox_tree = self.outbox.tree();
        let outcome =
            (&self.matches, &self.counts, outbox_tree).transaction(|(matches, counts, queue)| {
                let mut added: HashMap<Vec<u8>, u64> = HashMap::new();
                let mut written = Vec::new();
                for (key, at) in found {
                    if matches.get(key)?.is_some() {
                        continue;
                    }
                    matches.insert(&key[..], &(*at as u64).to_be_bytes()[..])?;
                    *added.entry(counter_of(key)).or_default() += 1;
                    written.push((*key, *at));
                }
                // A key is in one call at a time (taken from `pending`, or stored at the cap
                // instead of entering it), so those found new above are the ones written here.
                outbox::queue_in(queue, &admitted, crate::time::now_ms())?;
                for (counter, added) in &added {
                    let count = match counts.get(counter)? {
                        Some(bytes) => {
                            keys::u64_from(&bytes).map_err(ConflictableTransactionError::Abort)?
                        }
                        None => 0,
                    };
                    counts.insert(&counter[..], &(count + added).to_be_bytes()[..])?;
                }
                Ok(written)
            });
        let written = outcome?;
        self.outbox.committed(&admitted);
        // Before the callers drop them from `pending`, so that one of the two has each.
        let mut stored = self.stored.write();
        for (key, at) in &written {
            let (prefix, id) = split(key);
            stored.entry(prefix).or_default().insert(id, *at);
        }
        Ok(written.len())
    }

    /// The `match.first` notices of those of `found` not stored yet (none without a hook).
    fn first_match_notices(&self, found: &[(Key, i64)]) -> Result<Vec<outbox::Notice>> {
        let Some(notice) = self.outbox.first_match_notice() else {
            return Ok(Vec::new());
        };
        let mut notices = Vec::new();
        for (key, at) in found {
            let kind = ObjectType::ALL
                .into_iter()
                .find(|kind| kind.code() == key[8]);
            if let (Some(kind), false) = (kind, self.matches.contains_key(key)?) {
                let portal = keys::trailing_id(key, 8)?;
                let id = keys::trailing_id(key, 17)?;
                notices.extend(notice(portal, kind, id, *at));
            }
        }
        Ok(notices)
    }

    /// Records of `kind` matched at least once (pending first matches included).
    pub fn matched_count(&self, portal: i64, kind: ObjectType) -> Result<u64> {
        let _writing = self.writing.lock();
        let prefix = type_prefix(portal, kind.code());
        let pending = self
            .pending
            .lock()
            .keys()
            .filter(|key| key.starts_with(&prefix))
            .count() as u64;
        let stored = match self.counts.get(matched_counter(portal, kind))? {
            Some(bytes) => keys::u64_from(&bytes)?,
            None => 0,
        };
        Ok(stored + pending)
    }

    /// Records of `kind` first matched in `[from_ms, to_ms)` (pending ones included), as
    /// (id, matched at), oldest first.
    pub fn matched_between(
        &self,
        portal: i64,
        kind: ObjectType,
        from_ms: i64,
        to_ms: i64,
    ) -> Vec<(i64, i64)> {
        let prefix = type_prefix(portal, kind.code());
        let within = |at: &i64| (from_ms..to_ms).contains(at);
        let mut found: Vec<(i64, i64)> = self
            .pending
            .lock()
            .iter()
            .filter(|(key, at)| key.starts_with(&prefix) && within(at))
            .map(|(key, at)| (split(key).1, *at))
            .chain(
                self.stored
                    .read()
                    .get(&prefix)
                    .into_iter()
                    .flatten()
                    .filter(|(_, at)| within(at))
                    .map(|(id, at)| (*id, *at)),
            )
            .map(|(id, at)| ((id ^ (1 << 63)) as i64, at))
            .collect();
        found.sort_by_key(|(id, at)| (*at, *id));
        found.dedup();
        found
    }

    /// Forgets every recorded match of `kind`; returns how many there were.
    pub fn clear_matches(&self, portal: i64, kind: ObjectType) -> Result<u64> {
        let _writing = self.writing.lock();
        // Held throughout: no first match of any type is stored meanwhile.
        let mut pending = self.pending.lock();
        let prefix = type_prefix(portal, kind.code());
        let before = pending.len();
        pending.retain(|key, _| !key.starts_with(&prefix));
        let forgotten = (before - pending.len()) as u64;
        let stored: Vec<sled::IVec> = self
            .matches
            .scan_prefix(prefix)
            .keys()
            .collect::<std::result::Result<_, _>>()?;
        let counter = matched_counter(portal, kind);
        // Rows and counter together, so that the counter never disagrees with the rows.
        let outcome = (&self.matches, &self.counts).transaction(|(matches, counts)| {
            for key in &stored {
                matches.remove(key)?;
            }
            counts.remove(&counter[..])?;
            Ok::<_, ConflictableTransactionError<Error>>(())
        });
        outcome?;
        self.stored.write().remove(&prefix);
        Ok(forgotten + stored.len() as u64)
    }

    /// Forgets the first match of one record (a privacy deletion), row and counter together;
    /// whether there was one.
    pub fn forget_match(&self, portal: i64, kind: ObjectType, id: i64) -> Result<bool> {
        let _writing = self.writing.lock();
        let key = record_key(portal, kind.code(), id);
        let pending = self.pending.lock().remove(&key).is_some();
        let counter = counter_of(&key);
        let outcome = (&self.matches, &self.counts).transaction(|(matches, counts)| {
            if matches.remove(&key[..])?.is_none() {
                return Ok(false);
            }
            let count = match counts.get(&counter)? {
                Some(bytes) => {
                    keys::u64_from(&bytes).map_err(ConflictableTransactionError::Abort)?
                }
                None => 0,
            };
            counts.insert(&counter[..], &count.saturating_sub(1).to_be_bytes()[..])?;
            Ok(true)
        });
        let stored = outcome?;
        let (prefix, id) = split(&key);
        if let Some(ids) = self.stored.write().get_mut(&prefix) {
            ids.remove(&id);
        }
        Ok(pending || stored)
    }

    /// Deletes the portal's first matches (stored and pending, rows and memory), their
    /// counters and its user mappings (`Store::erase_portal`). Returns (first matches,
    /// mappings, keys deleted).
    pub(super) fn erase(&self, portal: i64) -> Result<(u64, u64, u64)> {
        // Held throughout: `write_pending` cannot store a dropped pending match meanwhile.
        let _writing = self.writing.lock();
        let prefix = keys::i64_key(portal);
        let pending = {
            let mut pending = self.pending.lock();
            let before = pending.len();
            pending.retain(|key, _| !key.starts_with(&prefix));
            (before - pending.len()) as u64
        };
        let stored = remove_prefix(&self.matches, &prefix)?;
        let mut counters = b"matched".to_vec();
        counters.extend_from_slice(&prefix);
        let counters = remove_prefix(&self.counts, &counters)?;
        self.stored.write().retain(|of, _| !of.starts_with(&prefix));
        let mappings = remove_prefix(&self.user_map, &mapping_prefix(portal))?;
        Ok((pending + stored, mappings, stored + counters + mappings))
    }

    // User mappings describe one portal's internal users: keyed by a NUL, the portal and the
    // email. Rows from before they carried a portal (the email alone; an email never starts
    // with NUL) are the first portal's: `move_mappings(None, portal)` files them under it.

    pub fn mappings(&self, portal: i64) -> Result<Vec<UserMapping>> {
        let rows = self.user_map.scan_prefix(mapping_prefix(portal));
        rows.map(|row| decode(&row?.1)).collect()
    }

    pub fn mapping(&self, portal: i64, email: &str) -> Result<Option<UserMapping>> {
        self.user_map
            .get(mapping_key(portal, email))?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    pub fn set_mapping(&self, portal: i64, mapping: &UserMapping) -> Result<()> {
        self.user_map
            .insert(mapping_key(portal, &mapping.email), encode(mapping))?;
        Ok(())
    }

    /// Removes a mapping; whether there was one.
    pub fn remove_mapping(&self, portal: i64, email: &str) -> Result<bool> {
        Ok(self.user_map.remove(mapping_key(portal, email))?.is_some())
    }

    /// Files the mappings of `from` (`None`: those stored without a portal) under `to`, in
    /// one batch; a mapping `to` has already stays. How many were moved.
    pub fn move_mappings(&self, from: Option<i64>, to: i64) -> Result<u64> {
        if from == Some(to) {
            return Ok(0);
        }
        let rows = match from {
            Some(from) => self.user_map.scan_prefix(mapping_prefix(from)),
            None => self.user_map.range(&[1u8][..]..),
        };
        let rows = rows.collect::<std::result::Result<Vec<_>, _>>()?;
        let mut batch = sled::Batch::default();
        for (key, value) in &rows {
            let mapping: UserMapping = decode(value)?;
            let target = mapping_key(to, &mapping.email);
            if self.user_map.get(&target)?.is_none() {
                batch.insert(target, value.clone());
            }
            batch.remove(key.clone());
        }
        self.user_map.apply_batch(batch)?;
        Ok(rows.len() as u64)
    }
}

fn mapping_prefix(portal: i64) -> [u8; 9] {
    let mut prefix = [0u8; 9];
    prefix[1..].copy_from_slice(&portal.to_be_bytes());
    prefix
}

fn mapping_key(portal: i64, email: &str) -> Vec<u8> {
    let mut key = mapping_prefix(portal).to_vec();
    key.extend_from_slice(email.as_bytes());
    key
}

/// A record key as portal + type and the id's key bytes.
fn split(key: &Key) -> (Prefix, u64) {
    let mut prefix = [0u8; 9];
    prefix.copy_from_slice(&key[..9]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&key[9..]);
    (prefix, u64::from_be_bytes(id))
}

fn matched_counter(portal: i64, kind: ObjectType) -> Vec<u8> {
    counter_of(&record_key(portal, kind.code(), 0))
}

/// The matched counter of the type a record key names: `matched` + portal + type.
fn counter_of(key: &Key) -> Vec<u8> {
    let mut counter = b"matched".to_vec();
    counter.extend_from_slice(&key[..9]);
    counter
}
