//! Removing a portal from the store (an account leaves the deployment): everything kept
//! under its id (the mirror, reference data, first matches and user mappings, export jobs,
//! the journal's cursor), the notifications about it in the outbox (waiting and dead, each
//! naming its portal in its body), and what the store holds of it in memory, so that the
//! store then answers for it as for a portal it never saw. Other portals' data is not
//! touched.
//!
//! Not erased: what is not kept under a portal's id (connections and settings, which the
//! caller names and removes; leadership), and the webhook inbox with its redelivery check,
//! which expire with the inbox's retention.
//!
//! On sled the keys go in batches of [`BATCH`], not in one transaction (a portal may hold
//! millions), then one [`Store::commit`] makes the erase durable. An erase cut short (a
//! crash, an I/O error) leaves part of the portal; running it again finishes. On PostgreSQL
//! it is one transaction behind the leader's fence.

use serde::Serialize;

use super::{postgres, Engine, Error, Result, Store};

/// Keys removed per sled batch: bounded work and memory per write, however big the portal.
pub(super) const BATCH: usize = 10_000;

/// What [`Store::erase_portal`] deleted; all zero when nothing of the portal was left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    /// Mirror records, archived ones included.
    pub records: u64,
    /// Owners, pipelines and property definitions.
    pub reference: u64,
    /// First matches (on sled, those still waiting in memory too).
    pub matches: u64,
    /// User mappings.
    pub mappings: u64,
    /// Export jobs (each with its rows).
    pub export_jobs: u64,
    /// Notifications, waiting and dead (one per target).
    pub notifications: u64,
    /// Every key (sled) or row (PostgreSQL) deleted, the stored ones counted above included:
    /// the mirror's derived keys, the counters and cursors are counted only here.
    pub rows: u64,
}

impl Store {
    /// Deletes everything the store keeps for `portal`: the mirror (records with their briefs,
    /// index terms, aliases, associations, tombstones, live counts and sync cursors), owners,
    /// pipelines and property definitions, first matches with their counts, the portal's user
    /// mappings, its export jobs with their rows, its journal cursor, and the notifications
    /// about it of every target, waiting and dead (taken off the targets' counts); and drops
    /// what the store holds of it in memory (owners, first matches, pending ones included).
    /// Reads then answer as for a portal never seen. A deliverer holding one of those
    /// notifications meanwhile puts nothing back when it settles it, and reads its queue
    /// again ([`Outbox::erasures`](super::Outbox::erasures)) instead of sending the rest.
    ///
    /// Leaves the portal's connections and settings (named by the caller, who removes them)
    /// and its webhook events and their redelivery check (they expire with the inbox's
    /// retention).
    ///
    /// Holds the portal's mirror write lock throughout, so no mirror write of the portal
    /// interleaves; the caller stops the portal's other writers first (its sync, its export
    /// worker, its lookups: a first match answered meanwhile would be stored again). Runs on
    /// the blocking pool and finishes even if this future is dropped. Safe to run again: an
    /// erase cut short finishes, and one with nothing left returns zero counts. On
    /// PostgreSQL the leader's ([`Error::NotLeader`] on a follower).
    pub async fn erase_portal(&self, portal: i64) -> Result<Erased> {
        let store = self.clone();
        let erasing = tokio::task::spawn_blocking(move || {
            // Taken on this thread, not by the caller's future: the lock is held until the
            // erase ends, whatever becomes of that future.
            let mirror = store.mirror();
            let _writing = tokio::runtime::Handle::current().block_on(mirror.lock_writes(portal));
            let erased = store.erase_locked(portal);
            // Even after an error: an erase cut short may have dropped notifications too.
            store.outbox().note_erasure();
            erased
        });
        match erasing.await {
            Ok(erased) => erased,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => Err(Error::Unavailable(format!(
                "erasing portal {portal}: {error}"
            ))),
        }
    }

    fn erase_locked(&self, portal: i64) -> Result<Erased> {
        match &self.inner.engine {
            Engine::Postgres { pg, .. } => {
                let fence = pg.fence()?;
                pg.wait(postgres::erase::portal(&pg.database, fence, portal))
            }
            Engine::Sled(_) => self.erase_on_sled(portal),
        }
    }

    fn erase_on_sled(&self, portal: i64) -> Result<Erased> {
        let inner = &self.inner;
        let (
            Some(mirror),
            Some(reference),
            Some(ownership),
            Some(exports),
            Some(journal),
            Some(outbox),
        ) = (
            inner.mirror.on_sled(),
            inner.reference.on_sled(),
            inner.ownership.on_sled(),
            inner.exports.on_sled(),
            inner.journal.on_sled(),
            inner.outbox.on_sled(),
        )
        else {
            unreachable!("a store is on sled or on PostgreSQL");
        };
        let (records, mirror_keys) = mirror.erase(portal)?;
        let reference = reference.erase(portal)?;
        let (matches, mappings, ownership_keys) = ownership.erase(portal)?;
        let (export_jobs, export_keys) = exports.erase(portal)?;
        let journal_keys = journal.erase(portal)?;
        // After the first matches: one still waiting in memory would queue its notice when
        // written behind; erased above, it queues none after this.
        let notifications = outbox.erase(portal)?;
        self.commit()?;
        Ok(Erased {
            records,
            reference,
            matches,
            mappings,
            export_jobs,
            notifications,
            rows: mirror_keys
                + reference
                + ownership_keys
                + export_keys
                + journal_keys
                + notifications,
        })
    }
}

/// Removes every key of `tree` that starts with `prefix`, [`BATCH`] at a time; how many.
pub(super) fn remove_prefix(tree: &sled::Tree, prefix: &[u8]) -> Result<u64> {
    let mut removed = 0;
    loop {
        let keys = tree
            .scan_prefix(prefix)
            .keys()
            .take(BATCH)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Ok(removed);
        }
        removed += keys.len() as u64;
        let mut batch = sled::Batch::default();
        for key in keys {
            batch.remove(key);
        }
        tree.apply_batch(batch)?;
    }
}

#[cfg(test)]
mod in_flight;
#[cfg(test)]
mod tests;
