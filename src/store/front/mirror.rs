//! The mirror, and the right to write it: every mirror write needs a [`Writing`], a guard of
//! the portal's one write lock in this process, so that one writer's "read the stored record,
//! decide, write" never interleaves with another's. On PostgreSQL only the leader writes
//! (each write carries its fence), so one process's lock is every replica's. The sync's
//! `Syncer` takes it for every write it makes (a tidy rule keeps `lock_writes` to `sync`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::OwnedMutexGuard;

use super::super::mirror as on_sled;
use super::super::outbox::Notice;
use super::super::postgres;
use super::super::{Brief, Record, Result, Term, Write};
use super::Postgres;
use crate::object::ObjectType;

pub struct Mirror {
    backend: Backend,
    /// One lock per portal: whoever asks for a portal's lock gets the same one.
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
}

enum Backend {
    Sled(on_sled::Mirror),
    Postgres(postgres::Mirror, Postgres),
}

impl Mirror {
    pub(in crate::store) fn sled(mirror: on_sled::Mirror) -> Mirror {
        Mirror::with(Backend::Sled(mirror))
    }

    pub(in crate::store) fn postgres(pg: &Postgres) -> Mirror {
        let mirror = postgres::Mirror::new(pg.database.clone());
        Mirror::with(Backend::Postgres(mirror, pg.clone()))
    }

    fn with(backend: Backend) -> Mirror {
        Mirror {
            backend,
            locks: Mutex::default(),
        }
    }

    /// sled's mirror (the store erases a portal's part of it, `Store::erase_portal`).
    pub(in crate::store) fn on_sled(&self) -> Option<&on_sled::Mirror> {
        match &self.backend {
            Backend::Sled(mirror) => Some(mirror),
            Backend::Postgres(..) => None,
        }
    }

    /// Waits for `portal`'s write lock (held by another writer meanwhile) and takes it.
    pub async fn lock_writes(&self, portal: i64) -> Writing<'_> {
        let lock = self.locks.lock().entry(portal).or_default().clone();
        Writing {
            mirror: self,
            portal,
            _lock: lock.lock_owned().await,
        }
    }

    /// A write without the portal's lock, for the store's own tests.
    #[cfg(test)]
    pub(in crate::store) fn write(
        &self,
        portal: i64,
        kind: ObjectType,
        writes: &[Write],
        cursor: Option<(&str, &[u8])>,
    ) -> Result<()> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.write_notifying(portal, kind, writes, cursor, &[], 0),
            Backend::Postgres(mirror, pg) => {
                pg.wait(mirror.write(pg.fence()?, portal, kind, writes, cursor))
            }
        }
    }

    /// The record stored under exactly `id`, archived ones included.
    pub fn get(&self, portal: i64, kind: ObjectType, id: i64) -> Result<Option<Record>> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.get(portal, kind, id),
            Backend::Postgres(mirror, pg) => pg.wait(mirror.get(portal, kind, id)),
        }
    }

    /// The records stored under `ids`, archived ones included, by id. On PostgreSQL one
    /// statement: read one by one, a page of fetched records costs a round trip and a pooled
    /// connection per record, and many portals syncing at once then hold the pool that
    /// every other store call (the API's, the webhooks') waits for.
    pub fn get_many(
        &self,
        portal: i64,
        kind: ObjectType,
        ids: &[i64],
    ) -> Result<HashMap<i64, Record>> {
        match &self.backend {
            Backend::Sled(mirror) => {
                let mut found = HashMap::with_capacity(ids.len());
                for id in ids {
                    if let Some(record) = mirror.get(portal, kind, *id)? {
                        found.insert(*id, record);
                    }
                }
                Ok(found)
            }
            Backend::Postgres(mirror, pg) => pg.wait(mirror.get_many(portal, kind, ids)),
        }
    }

    /// The brief of the record stored under exactly `id`.
    pub fn brief(&self, portal: i64, kind: ObjectType, id: i64) -> Result<Option<Brief>> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.brief(portal, kind, id),
            Backend::Postgres(mirror, pg) => pg.wait(mirror.brief(portal, kind, id)),
        }
    }

    /// The record `id` answers for (following merges), if live.
    pub fn find(&self, portal: i64, kind: ObjectType, id: i64) -> Result<Option<Record>> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.find(portal, kind, id),
            Backend::Postgres(mirror, pg) => pg.wait(mirror.find(portal, kind, id)),
        }
    }

    /// The id `id` answers for, following merges.
    pub fn resolve(&self, portal: i64, kind: ObjectType, id: i64) -> Result<i64> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.resolve(portal, kind, id),
            Backend::Postgres(mirror, pg) => pg.wait(mirror.resolve(portal, kind, id)),
        }
    }

    /// The briefs of the records indexed under `term`, by ascending id.
    pub fn term_briefs(&self, portal: i64, kind: ObjectType, term: &Term) -> Result<Vec<Brief>> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.term_briefs(portal, kind, term),
            Backend::Postgres(mirror, pg) => pg.wait(mirror.term_briefs(portal, kind, term)),
        }
    }

    /// Live records indexed under `term`.
    pub fn lookup(&self, portal: i64, kind: ObjectType, term: &Term) -> Result<Vec<i64>> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.lookup(portal, kind, term),
            Backend::Postgres(mirror, pg) => pg.wait(mirror.lookup(portal, kind, term)),
        }
    }

    /// The briefs of the `to_type` records associated with each of `ids` (stored records,
    /// not aliases), in the order of `ids` and then of the associated ids; archived ones
    /// included. One round trip on PostgreSQL, where the indicators' filters would otherwise
    /// pay one per associated record.
    pub fn associated_briefs(
        &self,
        portal: i64,
        kind: ObjectType,
        ids: &[i64],
        to_type: ObjectType,
    ) -> Result<Vec<Brief>> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.associated_briefs(portal, kind, ids, to_type),
            Backend::Postgres(mirror, pg) => {
                pg.wait(mirror.associated_briefs(portal, kind, ids, to_type))
            }
        }
    }

    /// Records of `to_type` associated with exactly `id`.
    pub fn associated_exact(
        &self,
        portal: i64,
        kind: ObjectType,
        id: i64,
        to_type: ObjectType,
    ) -> Result<Vec<i64>> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.associated_exact(portal, kind, id, to_type),
            Backend::Postgres(mirror, pg) => {
                pg.wait(mirror.associated_exact(portal, kind, id, to_type))
            }
        }
    }

    /// Records of `to_type` associated with the record `id` answers for.
    pub fn associated(
        &self,
        portal: i64,
        kind: ObjectType,
        id: i64,
        to_type: ObjectType,
    ) -> Result<Vec<i64>> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.associated(portal, kind, id, to_type),
            Backend::Postgres(mirror, pg) => pg.wait(mirror.associated(portal, kind, id, to_type)),
        }
    }

    /// Live records of `kind`.
    pub fn count(&self, portal: i64, kind: ObjectType) -> Result<u64> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.count(portal, kind),
            Backend::Postgres(mirror, pg) => pg.wait(mirror.count(portal, kind)),
        }
    }

    /// Ids of every stored record of `kind`, archived ones included, in id order.
    pub fn ids(&self, portal: i64, kind: ObjectType) -> Box<dyn Iterator<Item = Result<i64>> + '_> {
        match &self.backend {
            Backend::Sled(mirror) => Box::new(mirror.ids(portal, kind)),
            Backend::Postgres(mirror, pg) => match pg.wait(mirror.ids(portal, kind)) {
                Ok(ids) => Box::new(ids.into_iter().map(Ok)),
                Err(error) => Box::new(std::iter::once(Err(error))),
            },
        }
    }

    /// Whether a privacy deletion removed this record for good.
    pub fn is_purged(&self, portal: i64, kind: ObjectType, id: i64) -> Result<bool> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.is_purged(portal, kind, id),
            Backend::Postgres(mirror, pg) => pg.wait(mirror.is_purged(portal, kind, id)),
        }
    }

    /// Which of `ids` a privacy deletion removed for good; on PostgreSQL one statement (see
    /// [`Mirror::get_many`]).
    pub fn purged_among(&self, portal: i64, kind: ObjectType, ids: &[i64]) -> Result<HashSet<i64>> {
        match &self.backend {
            Backend::Sled(mirror) => {
                let mut purged = HashSet::new();
                for id in ids {
                    if mirror.is_purged(portal, kind, *id)? {
                        purged.insert(*id);
                    }
                }
                Ok(purged)
            }
            Backend::Postgres(mirror, pg) => pg.wait(mirror.purged_among(portal, kind, ids)),
        }
    }

    /// The sync cursor `name`.
    pub fn cursor(&self, portal: i64, name: &str) -> Result<Option<Vec<u8>>> {
        match &self.backend {
            Backend::Sled(mirror) => mirror.cursor(portal, name),
            Backend::Postgres(mirror, pg) => pg.wait(mirror.cursor(portal, name)),
        }
    }
}

/// Holds `portal`'s write lock until dropped; the only way to change the mirror.
pub struct Writing<'a> {
    mirror: &'a Mirror,
    portal: i64,
    _lock: OwnedMutexGuard<()>,
}

impl Writing<'_> {
    pub fn portal(&self) -> i64 {
        self.portal
    }

    /// Applies `writes` to records of `kind` and, if given, sets the sync cursor `name`, all
    /// in one transaction.
    pub fn write(
        &self,
        kind: ObjectType,
        writes: &[Write],
        cursor: Option<(&str, &[u8])>,
    ) -> Result<()> {
        self.write_notifying(kind, writes, cursor, &[], 0)
    }

    /// Like [`Writing::write`], also queueing `notices` (derived from these writes) in the
    /// notifications' outbox in the same transaction; `now_ms` stamps them.
    pub fn write_notifying(
        &self,
        kind: ObjectType,
        writes: &[Write],
        cursor: Option<(&str, &[u8])>,
        notices: &[Notice],
        now_ms: i64,
    ) -> Result<()> {
        let portal = self.portal;
        match &self.mirror.backend {
            Backend::Sled(mirror) => {
                mirror.write_notifying(portal, kind, writes, cursor, notices, now_ms)
            }
            Backend::Postgres(mirror, pg) => {
                let fence = pg.fence()?;
                let notifying = (!notices.is_empty()).then_some((&pg.outbox, notices, now_ms));
                pg.wait(mirror.write_notifying(fence, portal, kind, writes, cursor, notifying))
            }
        }
    }

    /// Sets the sync cursor `name` alone.
    pub fn set_cursor(&self, name: &str, value: &[u8]) -> Result<()> {
        match &self.mirror.backend {
            Backend::Sled(mirror) => mirror.set_cursor(self.portal, name, value),
            // A cursor belongs to no object type: a write of none sets it.
            Backend::Postgres(..) => self.write(ObjectType::Contacts, &[], Some((name, value))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::super::tests::open;

    #[tokio::test]
    async fn one_writer_per_portal_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mirror = store.mirror();
        let first = mirror.lock_writes(1).await;
        // Another portal's lock is free; the same portal's waits for the first to go.
        let other = tokio::time::timeout(Duration::from_secs(5), mirror.lock_writes(2)).await;
        assert_eq!(other.map(|writing| writing.portal()).ok(), Some(2));
        let second = mirror.lock_writes(1);
        tokio::pin!(second);
        let waited = tokio::time::timeout(Duration::from_millis(50), &mut second).await;
        assert!(waited.is_err(), "a second writer of portal 1 got in");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), second).await;
        assert_eq!(second.map(|writing| writing.portal()).ok(), Some(1));
    }
}
