//! The syncer's side of notifications: the events of each mirror write (derived by
//! `notify::derive` from the stored records and the writes `apply` decided), queued in the
//! write's own transaction; and `owner.archived` when the owners are re-read.
//!
//! "The first full sync" of a type lasts until the transaction holding its backfill's last
//! step commits (the one that records `last_full_sync`); until then new records of that type
//! are not announced (`record.created`), so a backfill does not flood subscribers. Later
//! backfills (`sync --full`, a reconciliation) announce records the mirror did not have.

use std::collections::{BTreeMap, HashMap};

use super::state::TypeState;
use super::syncer::{Result, Syncer};
use crate::notify::{self, Event, EventKind};
use crate::object::ObjectType;
use crate::store::{Notice, Owner, Record, Term, TermKind, Write, Writing};
use crate::time::now_ms;

impl Syncer {
    /// Whether writes to `kind` are notified at all (a target or the digest wants events).
    pub(super) fn notifies(&self) -> bool {
        self.notifier.is_some()
    }

    /// The notices of `writes` to records of `kind`, given the records they touch as stored
    /// before (see [`Syncer::stored_before`]). Call under the write lock.
    pub(super) fn notices(
        &self,
        kind: ObjectType,
        writes: &[Write],
        before: &HashMap<i64, Record>,
        now_ms: i64,
    ) -> Result<Vec<Notice>> {
        let Some(notifier) = &self.notifier else {
            return Ok(Vec::new());
        };
        let state = TypeState::load(&self.store, self.portal, kind)?;
        let announce_created = state.backfill_done_at_ms.is_some();
        let events = notify::derive(kind, writes, before, announce_created);
        Ok(notifier.notices(self.portal, now_ms, &events))
    }

    /// The stored records `writes` touch, by id (none when nothing is notified).
    pub(super) fn stored_before(
        &self,
        kind: ObjectType,
        writes: &[Write],
    ) -> Result<HashMap<i64, Record>> {
        let mut before = HashMap::new();
        if !self.notifies() {
            return Ok(before);
        }
        let mirror = self.store.mirror();
        for write in writes {
            let id = match write {
                Write::Upsert { record, .. } => record.id,
                Write::Archive { id, .. }
                | Write::Restore { id, .. }
                | Write::Remove { id }
                | Write::Purge { id } => *id,
                Write::Alias { .. }
                | Write::Associate { .. }
                | Write::ReplaceAssociations { .. } => continue,
            };
            if let std::collections::hash_map::Entry::Vacant(slot) = before.entry(id) {
                if let Some(record) = mirror.get(self.portal, kind, id)? {
                    slot.insert(record);
                }
            }
        }
        Ok(before)
    }

    /// Writes `writes` to the mirror with their notifications, in one transaction, and wakes
    /// the deliverers. Call under the write lock, with the records as stored before.
    pub(super) fn write_notified(
        &self,
        writing: &Writing<'_>,
        kind: ObjectType,
        writes: &[Write],
        before: &HashMap<i64, Record>,
        cursor: Option<(&str, &[u8])>,
    ) -> Result<()> {
        let now = now_ms();
        let notices = self.notices(kind, writes, before, now)?;
        writing.write_notifying(kind, writes, cursor, &notices, now)?;
        if !notices.is_empty() {
            notify::crash::point(notify::crash::Step::Queued);
        }
        if let Some(notifier) = &self.notifier {
            notifier.wake(&notices);
        }
        Ok(())
    }

    /// Replaces the portal's owners; owners who left notify `owner.archived` with the live
    /// records they still own, counted per mirrored type, in the same transaction.
    pub(super) async fn replace_owners(&self, owners: &[Owner]) -> Result<()> {
        let reference = self.store.reference();
        let wanted = self
            .notifier
            .as_ref()
            .filter(|notifier| notifier.wants(EventKind::OwnerArchived));
        let Some(notifier) = wanted else {
            let _writing = self.writing().await?;
            reference.replace_owners(self.portal, owners)?;
            return Ok(());
        };
        // Counted and replaced under the write lock: no record changes hands meanwhile.
        let _writing = self.writing().await?;
        let left = notify::owners_left(&reference.owners(self.portal)?, owners);
        let mut events = Vec::with_capacity(left.len());
        for id in left {
            let mut records = BTreeMap::new();
            for kind in &self.objects {
                let term = Term::new(TermKind::Owner, id.to_string());
                let owned = self.store.mirror().lookup(self.portal, *kind, &term)?.len();
                records.insert(*kind, owned as u64);
            }
            events.push(Event::OwnerArchived { id, records });
        }
        let now = now_ms();
        let notices = notifier.notices(self.portal, now, &events);
        reference.replace_owners_notifying(self.portal, owners, &notices, now)?;
        if !notices.is_empty() {
            notify::crash::point(notify::crash::Step::Queued);
        }
        notifier.wake(&notices);
        Ok(())
    }
}
