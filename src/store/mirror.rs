//! The mirror of CRM records: records with their index terms and briefs, aliases of merged
//! records, associations both ways, privacy tombstones, live counts and sync cursors. Every
//! write (through a [`Writing`](super::front::Writing), the portal's write lock) is one sled
//! transaction over all of them.
//!
//! The mirror decides nothing: `sync::apply` works out which writes a change needs (and
//! whether it is stale); this module carries them out. There is one writer at a time.

use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::erase::remove_prefix;
use super::keys::{
    self, association_key, record_key, term_key, term_prefix, trailing_id, type_prefix,
};
use super::outbox::{self, Notice, Outbox};
use super::record::{decode, encode, Brief, Record, Stored, StoredRef, Term, TermKind};
use super::{Error, Result};
use crate::object::ObjectType;

/// One change to the mirror of one object type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Insert or replace a record with its index terms and its brief (derived by the caller
    /// from the same record).
    Upsert {
        record: Record,
        terms: Vec<Term>,
        /// Boxed: the other writes are a few words each.
        brief: Box<Brief>,
    },
    /// Mark a record deleted in HubSpot: kept for a restore, but no longer found by lookups.
    Archive { id: i64, at_ms: i64 },
    /// Undo an archive.
    Restore { id: i64, at_ms: i64 },
    /// Delete a record, its terms and its associations (a merge's losing side).
    Remove { id: i64 },
    /// Privacy deletion: like `Remove`, plus a tombstone so that no stale copy comes back.
    Purge { id: i64 },
    /// Requests for `from` are answered with the record `to` (merges).
    Alias { from: i64, to: i64 },
    /// Add or remove one association, in both directions.
    Associate {
        from: i64,
        to_type: ObjectType,
        to: i64,
        removed: bool,
    },
    /// Replace every association from `from` to records of `to_type` (both directions).
    ReplaceAssociations {
        from: i64,
        to_type: ObjectType,
        to: Vec<i64>,
    },
}

pub struct Mirror {
    records: sled::Tree,
    briefs: sled::Tree,
    terms: sled::Tree,
    index: sled::Tree,
    aliases: sled::Tree,
    associations: sled::Tree,
    purged: sled::Tree,
    counts: sled::Tree,
    cursors: sled::Tree,
    /// Notifications are queued in the change's transaction (`write_notifying`).
    outbox: Arc<Outbox>,
}

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

/// A write's view of some records' associations: by record id, (type code, id) pairs.
type Links = HashMap<i64, BTreeSet<(u8, i64)>>;

impl Mirror {
    pub(super) fn open(db: &sled::Db, outbox: Arc<Outbox>) -> Result<Mirror> {
        Ok(Mirror {
            records: db.open_tree(keys::RECORDS_TREE)?,
            briefs: db.open_tree(keys::BRIEFS_TREE)?,
            terms: db.open_tree(keys::TERMS_TREE)?,
            index: db.open_tree(keys::INDEX_TREE)?,
            aliases: db.open_tree(keys::ALIASES_TREE)?,
            associations: db.open_tree(keys::ASSOCIATIONS_TREE)?,
            purged: db.open_tree(keys::PURGED_TREE)?,
            counts: db.open_tree(keys::COUNTS_TREE)?,
            cursors: db.open_tree(keys::CURSORS_TREE)?,
            outbox,
        })
    }

    /// Applies `writes` and, if given, sets the sync cursor `name`, queueing `notices` (what `notify` derived from these
    /// writes) in the outbox, in the same transaction; `now_ms` stamps them. Outside the
    /// store, only through a [`Writing`](super::Writing).
    pub(super) fn write_notifying(
        &self,
        portal: i64,
        kind: ObjectType,
        writes: &[Write],
        cursor: Option<(&str, &[u8])>,
        notices: &[Notice],
        now_ms: i64,
    ) -> Result<()> {
        let admitted = self.outbox.admit(notices);
        // Transactions cannot scan, so the stored associations of the records whose links
        // these writes remove or replace are read first.
        let mut stored_links = Links::new();
        for write in writes {
            let (id, to_type) = match write {
                Write::Remove { id } | Write::Purge { id } => (*id, None),
                Write::ReplaceAssociations { from, to_type, .. } => (*from, Some(*to_type)),
                _ => continue,
            };
            let found = self.associations_of(portal, kind, id, to_type)?;
            stored_links.entry(id).or_default().extend(found);
        }
        let trees = (
            &self.records,
            &self.index,
            &self.aliases,
            &self.associations,
            &self.purged,
            &self.counts,
            &self.cursors,
            &self.briefs,
            &self.terms,
            self.outbox.tree(),
        );
        // sled hands the transaction's trees back in the order given: named here, once.
        let outcome = trees.transaction(
            |(
                records,
                index,
                aliases,
                associations,
                purged,
                counts,
                cursors,
                briefs,
                terms,
                queue,
            )| {
                let tx = Tx {
                    portal,
                    kind,
                    records,
                    index,
                    aliases,
                    associations,
                    purged,
                    counts,
                    briefs,
                    terms,
                };
                // Kept current as the writes go: a record's links replaced twice in one
                // write end as the second replacement says.
                let mut links = stored_links.clone();
                for write in writes {
                    tx.apply(write, &mut links)?;
                }
                if let Some((name, value)) = cursor {
                    cursors.insert(keys::named_key(portal, None, name), value)?;
                }
                // The notifications of these writes, in their transaction.
                outbox::queue_in(queue, &admitted, now_ms)?;
                Ok(())
            },
        );
        outcome?;
        self.outbox.committed(&admitted);
        Ok(())
    }

    /// The record stored under exactly `id`, archived ones included.
    pub fn get(&self, portal: i64, kind: ObjectType, id: i64) -> Result<Option<Record>> {
        match self.records.get(record_key(portal, kind.code(), id))? {
            Some(bytes) => Ok(Some(decode::<Stored>(&bytes)?.record)),
            None => Ok(None),
        }
    }

    /// The brief of the record stored under exactly `id`, archived ones included: what
    /// lookups and filters need, without decoding the record.
    pub fn brief(&self, portal: i64, kind: ObjectType, id: i64) -> Result<Option<Brief>> {
        match self.briefs.get(record_key(portal, kind.code(), id))? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Writes the brief of every stored record (a store written before briefs existed) as
    /// `brief_of` derives it; returns how many. Replaces whatever the brief tree held.
    pub(super) fn build_briefs(&self, brief_of: super::BriefOf) -> Result<u64> {
        self.briefs.clear()?;
        let mut batch = sled::Batch::default();
        let (mut built, mut in_batch) = (0, 0);
        for row in self.records.iter() {
            let (key, value) = row?;
            let kind = key
                .get(8)
                .and_then(|code| ObjectType::ALL.into_iter().find(|k| k.code() == *code))
                .ok_or_else(|| Error::Corrupt("record key without a type".into()))?;
            let stored: Stored = decode(&value)?;
            batch.insert(key, encode(&brief_of(kind, &stored.record)));
            built += 1;
            in_batch += 1;
            if in_batch == 10_000 {
                self.briefs.apply_batch(std::mem::take(&mut batch))?;
                in_batch = 0;
            }
        }
        self.briefs.apply_batch(batch)?;
        Ok(built)
    }

    /// The record `id` refers to, following merge aliases to the survivor.
    pub fn find(&self, portal: i64, kind: ObjectType, id: i64) -> Result<Option<Record>> {
        let id = self.resolve(portal, kind, id)?;
        self.get(portal, kind, id)
    }

    /// The id a merged record lives on as (itself when not merged).
    pub fn resolve(&self, portal: i64, kind: ObjectType, mut id: i64) -> Result<i64> {
        // Merges chain (a survivor can lose a later merge); bound the walk against cycles.
        for _ in 0..32 {
            match self.aliases.get(record_key(portal, kind.code(), id))? {
                Some(bytes) => id = keys::trailing_id(&bytes, 8)?,
                None => return Ok(id),
            }
        }
        Err(Error::Corrupt(format!(
            "alias chain of {kind} {id} does not end"
        )))
    }

    /// The briefs of the records indexed under `term`, by ascending id.
    pub fn term_briefs(&self, portal: i64, kind: ObjectType, term: &Term) -> Result<Vec<Brief>> {
        let mut briefs = Vec::new();
        for id in self.lookup(portal, kind, term)? {
            briefs.extend(self.brief(portal, kind, id)?);
        }
        Ok(briefs)
    }

    /// Ids of live records indexed under `term`, ascending.
    pub fn lookup(&self, portal: i64, kind: ObjectType, term: &Term) -> Result<Vec<i64>> {
        let prefix = term_prefix(portal, kind.code(), term.kind.code(), &term.value);
        if listed(term.kind) {
            return match self.terms.get(&prefix)? {
                Some(ids) => ids.chunks(8).map(|id| trailing_id(id, 8)).collect(),
                None => Ok(Vec::new()),
            };
        }
        self.index
            .scan_prefix(&prefix)
            .map(|row| {
                let (key, _) = row?;
                trailing_id(&key, key.len())
            })
            .collect()
    }

    /// Moves the rows of listed terms from `index` into `terms` (a store written before
    /// `terms` existed); returns how many rows moved. Can be interrupted and run again.
    pub(super) fn move_listed_terms(&self) -> Result<u64> {
        let mut moved = 0;
        let mut group: Option<(Vec<u8>, Vec<u8>)> = None;
        let mut removals = Vec::new();
        let flush = |group: &mut Option<(Vec<u8>, Vec<u8>)>, removals: &mut Vec<sled::IVec>| {
            if let Some((prefix, ids)) = group.take() {
                let mut list = self
                    .terms
                    .get(&prefix)?
                    .map(|v| v.to_vec())
                    .unwrap_or_default();
                for id in ids.chunks(8) {
                    edit_ids(&mut list, id, true);
                }
                self.terms.insert(prefix, list)?;
            }
            if removals.len() >= 10_000 {
                let mut batch = sled::Batch::default();
                for key in removals.drain(..) {
                    batch.remove(key);
                }
                self.index.apply_batch(batch)?;
            }
            Ok::<(), Error>(())
        };
        for row in self.index.iter() {
            let (key, _) = row?;
            let term_kind = *key
                .get(9)
                .ok_or_else(|| Error::Corrupt("short index key".into()))?;
            if term_kind == TermKind::Owner.code() || key.len() < 19 {
                continue;
            }
            let (prefix, id) = key.split_at(key.len() - 8);
            if group
                .as_ref()
                .is_none_or(|(current, _)| current[..] != *prefix)
            {
                flush(&mut group, &mut removals)?;
                group = Some((prefix.to_vec(), Vec::new()));
            }
            if let Some((_, ids)) = group.as_mut() {
                ids.extend_from_slice(id);
            }
            removals.push(key);
            moved += 1;
        }
        flush(&mut group, &mut removals)?;
        let mut batch = sled::Batch::default();
        for key in removals {
            batch.remove(key);
        }
        self.index.apply_batch(batch)?;
        Ok(moved)
    }

    /// Ids associated with `id` (optionally only of `to_type`), as (type code, id).
    fn associations_of(
        &self,
        portal: i64,
        kind: ObjectType,
        id: i64,
        to_type: Option<ObjectType>,
    ) -> Result<Vec<(u8, i64)>> {
        let mut prefix = record_key(portal, kind.code(), id).to_vec();
        prefix.extend(to_type.map(ObjectType::code));
        self.associations
            .scan_prefix(&prefix)
            .map(|row| {
                let (key, _) = row?;
                Ok((key[17], trailing_id(&key, 26)?))
            })
            .collect()
    }

    /// Ids of `to_type` records associated with the record stored under exactly `id`
    /// (no alias resolved: for ids read from a brief or an index), ascending.
    pub fn associated_exact(
        &self,
        portal: i64,
        kind: ObjectType,
        id: i64,
        to_type: ObjectType,
    ) -> Result<Vec<i64>> {
        Ok(self
            .associations_of(portal, kind, id, Some(to_type))?
            .into_iter()
            .map(|(_, id)| id)
            .collect())
    }

    /// The briefs of the `to_type` records associated with each of `ids` (see the front's
    /// `Mirror::associated_briefs`).
    pub fn associated_briefs(
        &self,
        portal: i64,
        kind: ObjectType,
        ids: &[i64],
        to_type: ObjectType,
    ) -> Result<Vec<Brief>> {
        let mut briefs = Vec::new();
        for &id in ids {
            for to in self.associated_exact(portal, kind, id, to_type)? {
                briefs.extend(self.brief(portal, to_type, to)?);
            }
        }
        Ok(briefs)
    }

    /// Ids of `to_type` records associated with `id`, ascending.
    pub fn associated(
        &self,
        portal: i64,
        kind: ObjectType,
        id: i64,
        to_type: ObjectType,
    ) -> Result<Vec<i64>> {
        let id = self.resolve(portal, kind, id)?;
        self.associated_exact(portal, kind, id, to_type)
    }

    /// Live records of a type.
    pub fn count(&self, portal: i64, kind: ObjectType) -> Result<u64> {
        Ok(match self.counts.get(type_prefix(portal, kind.code()))? {
            Some(bytes) => keys::u64_from(&bytes)?,
            None => 0,
        })
    }

    /// Ids of every stored record of a type (archived included), ascending.
    pub fn ids(&self, portal: i64, kind: ObjectType) -> impl Iterator<Item = Result<i64>> + '_ {
        self.records
            .scan_prefix(type_prefix(portal, kind.code()))
            .map(|row| trailing_id(&row?.0, 17))
    }

    /// Whether a privacy deletion removed this record for good.
    pub fn is_purged(&self, portal: i64, kind: ObjectType, id: i64) -> Result<bool> {
        Ok(self
            .purged
            .contains_key(record_key(portal, kind.code(), id))?)
    }

    pub fn cursor(&self, portal: i64, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .cursors
            .get(keys::named_key(portal, None, name))?
            .map(|bytes| bytes.to_vec()))
    }

    pub(super) fn set_cursor(&self, portal: i64, name: &str, value: &[u8]) -> Result<()> {
        self.cursors
            .insert(keys::named_key(portal, None, name), value)?;
        Ok(())
    }

    /// Deletes everything of `portal` (`Store::erase_portal`, under the portal's write lock):
    /// every key of each tree starts with the portal. Returns (records, every key deleted).
    pub(super) fn erase(&self, portal: i64) -> Result<(u64, u64)> {
        let prefix = keys::i64_key(portal);
        // `counts` also holds the first matches' counters, under `matched`: a portal id is
        // positive, so its key starts at 0x80, never with that `m`.
        let derived = [
            &self.briefs,
            &self.index,
            &self.terms,
            &self.aliases,
            &self.associations,
            &self.purged,
            &self.counts,
            &self.cursors,
        ];
        let mut deleted = 0;
        for tree in derived {
            deleted += remove_prefix(tree, &prefix)?;
        }
        let records = remove_prefix(&self.records, &prefix)?;
        Ok((records, deleted + records))
    }
}

/// The trees of one transaction, by name.
struct Tx<'a> {
    portal: i64,
    kind: ObjectType,
    records: &'a TransactionalTree,
    index: &'a TransactionalTree,
    aliases: &'a TransactionalTree,
    associations: &'a TransactionalTree,
    purged: &'a TransactionalTree,
    counts: &'a TransactionalTree,
    briefs: &'a TransactionalTree,
    terms: &'a TransactionalTree,
}

impl Tx<'_> {
    /// Applies `write`; `links` holds the current associations of the records whose links
    /// the writes remove or replace, and follows what this write does to them.
    fn apply(&self, write: &Write, links: &mut Links) -> TxResult<()> {
        match write {
            Write::Upsert {
                record,
                terms,
                brief,
            } => self.upsert(record, terms, brief),
            Write::Archive { id, at_ms } => self.set_archived(*id, Some(*at_ms)),
            Write::Restore { id, at_ms } => self
                .set_archived(*id, None)
                .and_then(|()| self.touch_state(*id, *at_ms)),
            Write::Remove { id } => self.remove(*id, &links.remove(id).unwrap_or_default()),
            Write::Purge { id } => {
                self.remove(*id, &links.remove(id).unwrap_or_default())?;
                self.purged
                    .insert(&record_key(self.portal, self.kind.code(), *id)[..], &[][..])?;
                Ok(())
            }
            Write::Alias { from, to } => {
                let target = keys::i64_key(*to);
                self.aliases.insert(
                    &record_key(self.portal, self.kind.code(), *from)[..],
                    &target[..],
                )?;
                Ok(())
            }
            Write::Associate {
                from,
                to_type,
                to,
                removed,
            } => {
                if let Some(known) = links.get_mut(from) {
                    let link = (to_type.code(), *to);
                    if *removed {
                        known.remove(&link);
                    } else {
                        known.insert(link);
                    }
                }
                self.associate(*from, *to_type, *to, !removed)
            }
            Write::ReplaceAssociations { from, to_type, to } => {
                let known = links.entry(*from).or_default();
                let code = to_type.code();
                for (_, other) in known.iter().filter(|(kind, _)| *kind == code) {
                    self.link((self.kind.code(), *from), (code, *other), false)?;
                }
                known.retain(|(kind, _)| *kind != code);
                for other in to {
                    self.associate(*from, *to_type, *other, true)?;
                    known.insert((code, *other));
                }
                Ok(())
            }
        }
    }

    fn load(&self, id: i64) -> TxResult<Option<Stored>> {
        match self
            .records
            .get(record_key(self.portal, self.kind.code(), id))?
        {
            Some(bytes) => Ok(Some(
                decode(&bytes).map_err(ConflictableTransactionError::Abort)?,
            )),
            None => Ok(None),
        }
    }

    /// Writes a record, and its brief when given.
    fn save(&self, stored: StoredRef<'_>, brief: Option<&Brief>) -> TxResult<()> {
        let key = record_key(self.portal, self.kind.code(), stored.record.id);
        self.records.insert(&key[..], encode(&stored))?;
        if let Some(brief) = brief {
            self.briefs.insert(&key[..], encode(brief))?;
        }
        Ok(())
    }

    /// The stored brief of record `id` with its archived flag set to `archived`: the one
    /// field of a brief that changes without a new version of the record. Every record has
    /// a brief (written with it since format 2); were one missing, none is invented here.
    fn brief_archived(&self, id: i64, archived: bool) -> TxResult<Option<Brief>> {
        let key = record_key(self.portal, self.kind.code(), id);
        let Some(bytes) = self.briefs.get(key)? else {
            return Ok(None);
        };
        let mut brief: Brief = decode(&bytes).map_err(ConflictableTransactionError::Abort)?;
        brief.archived = archived;
        Ok(Some(brief))
    }

    fn index_terms(&self, id: i64, terms: &[Term], present: bool) -> TxResult<()> {
        for term in terms {
            if listed(term.kind) {
                let key = term_prefix(self.portal, self.kind.code(), term.kind.code(), &term.value);
                let mut ids = self
                    .terms
                    .get(&key)?
                    .map(|ids| ids.to_vec())
                    .unwrap_or_default();
                edit_ids(&mut ids, &keys::i64_key(id), present);
                if ids.is_empty() {
                    self.terms.remove(key)?;
                } else {
                    self.terms.insert(key, ids)?;
                }
                continue;
            }
            let key = term_key(
                self.portal,
                self.kind.code(),
                term.kind.code(),
                &term.value,
                id,
            );
            if present {
                self.index.insert(key, &[][..])?;
            } else {
                self.index.remove(key)?;
            }
        }
        Ok(())
    }

    fn add_to_count(&self, delta: i64) -> TxResult<()> {
        let key = type_prefix(self.portal, self.kind.code());
        let current = match self.counts.get(key)? {
            Some(bytes) => keys::u64_from(&bytes).map_err(ConflictableTransactionError::Abort)?,
            None => 0,
        };
        let next = (current as i64 + delta).max(0) as u64;
        self.counts.insert(&key[..], &next.to_be_bytes()[..])?;
        Ok(())
    }

    fn upsert(&self, record: &Record, terms: &[Term], brief: &Brief) -> TxResult<()> {
        let was_live = match self.load(record.id)? {
            Some(old) if !old.record.archived => {
                self.index_terms(record.id, &old.terms, false)?;
                true
            }
            _ => false,
        };
        let is_live = !record.archived;
        if is_live {
            self.index_terms(record.id, terms, true)?;
        }
        if was_live != is_live {
            self.add_to_count(if is_live { 1 } else { -1 })?;
        }
        self.save(StoredRef { record, terms }, Some(brief))
    }

    fn set_archived(&self, id: i64, archived_at_ms: Option<i64>) -> TxResult<()> {
        let Some(mut stored) = self.load(id)? else {
            return Ok(());
        };
        let archive = archived_at_ms.is_some();
        if stored.record.archived == archive {
            return Ok(());
        }
        self.index_terms(id, &stored.terms, !archive)?;
        self.add_to_count(if archive { -1 } else { 1 })?;
        stored.record.set_archived(archived_at_ms);
        let brief = self.brief_archived(id, archive)?;
        self.save(stored.as_ref(), brief.as_ref())
    }

    fn touch_state(&self, id: i64, at_ms: i64) -> TxResult<()> {
        let Some(mut stored) = self.load(id)? else {
            return Ok(());
        };
        stored.record.note_state_change(at_ms);
        // `state_changed_at_ms` is not in the brief.
        self.save(stored.as_ref(), None)
    }

    /// Removes record `id` and its `links` (type code, id), both directions.
    fn remove(&self, id: i64, links: &BTreeSet<(u8, i64)>) -> TxResult<()> {
        if let Some(stored) = self.load(id)? {
            if !stored.record.archived {
                self.index_terms(id, &stored.terms, false)?;
                self.add_to_count(-1)?;
            }
            let key = record_key(self.portal, self.kind.code(), id);
            self.records.remove(&key[..])?;
            self.briefs.remove(&key[..])?;
        }
        for (code, other) in links {
            self.link((self.kind.code(), id), (*code, *other), false)?;
        }
        Ok(())
    }

    fn associate(&self, from: i64, to_type: ObjectType, to: i64, present: bool) -> TxResult<()> {
        self.link((self.kind.code(), from), (to_type.code(), to), present)
    }

    fn link(&self, from: (u8, i64), to: (u8, i64), present: bool) -> TxResult<()> {
        let keys = [
            association_key(self.portal, from, to),
            association_key(self.portal, to, from),
        ];
        for key in keys {
            if present {
                self.associations.insert(&key[..], &[][..])?;
            } else {
                self.associations.remove(&key[..])?;
            }
        }
        Ok(())
    }
}

/// Terms that lookups ask for by value (domain, email, name) are kept as one `terms` key
/// listing their ids, so that a lookup is a single `get` (a sled prefix scan costs several
/// times more). Owner terms, shared by thousands of records and never looked up by value,
/// stay one `index` row per record.
fn listed(kind: TermKind) -> bool {
    kind != TermKind::Owner
}

/// Adds (`present`) or removes one id (8 bytes, `keys::i64_key`) in an ascending list of ids.
fn edit_ids(list: &mut Vec<u8>, id: &[u8], present: bool) {
    let mut at = 0;
    while at + 8 <= list.len() && list[at..at + 8] < *id {
        at += 8;
    }
    let found = list.get(at..at + 8) == Some(id);
    if present && !found {
        list.splice(at..at, id.iter().copied());
    } else if !present && found {
        list.drain(at..at + 8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_lists_stay_sorted_and_unique() {
        let mut list = Vec::new();
        for id in [5, -1, 9, 5, 7] {
            edit_ids(&mut list, &keys::i64_key(id), true);
        }
        let ids = |list: &[u8]| -> Vec<i64> {
            list.chunks(8)
                .map(|id| trailing_id(id, 8).unwrap())
                .collect()
        };
        assert_eq!(ids(&list), [-1, 5, 7, 9]);
        edit_ids(&mut list, &keys::i64_key(7), false);
        edit_ids(&mut list, &keys::i64_key(8), false);
        assert_eq!(ids(&list), [-1, 5, 9]);
    }
}
