//! The right to write a portal's mirror. Every mirror write needs a [`Writing`]: a guard of
//! the portal's one write lock, kept by the store, so that one writer's "read the stored
//! record, decide, write" never interleaves with another's. The sync's `Syncer` takes it for
//! every write it makes (a tidy rule keeps `lock_writes` to `sync`).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::OwnedMutexGuard;

use super::mirror::{Mirror, Write};
use super::Result;
use crate::object::ObjectType;

/// Holds `portal`'s write lock until dropped; the only way to change the mirror.
pub struct Writing<'a> {
    mirror: &'a Mirror,
    portal: i64,
    _lock: OwnedMutexGuard<()>,
}

/// One lock per portal: whoever asks for a portal's lock gets the same one.
#[derive(Default)]
pub(super) struct Locks(Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>);

impl Mirror {
    /// Waits for `portal`'s write lock (held by another writer meanwhile) and takes it.
    pub async fn lock_writes(&self, portal: i64) -> Writing<'_> {
        let lock = self.locks.0.lock().entry(portal).or_default().clone();
        Writing {
            mirror: self,
            portal,
            _lock: lock.lock_owned().await,
        }
    }
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
        self.mirror.write(self.portal, kind, writes, cursor)
    }

    /// Like [`Writing::write`], also queueing `notices` (derived from these writes) in the
    /// notifications' outbox in the same transaction; `now_ms` stamps them.
    pub fn write_notifying(
        &self,
        kind: ObjectType,
        writes: &[Write],
        cursor: Option<(&str, &[u8])>,
        notices: &[super::outbox::Notice],
        now_ms: i64,
    ) -> Result<()> {
        self.mirror
            .write_notifying(self.portal, kind, writes, cursor, notices, now_ms)
    }

    /// Sets the sync cursor `name` alone.
    pub fn set_cursor(&self, name: &str, value: &[u8]) -> Result<()> {
        self.mirror.set_cursor(self.portal, name, value)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::open;

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
