//! `Syncer`: one portal's sync, shared by the backfill, polling, webhook and reconciliation
//! loops. Every write to the mirror goes through [`Syncer::write_fetched`] or
//! [`Syncer::write_changes`] (or, within `sync`, `write_raw`), each holding the portal's write
//! lock (`store::Writing`, which every mirror write needs), so "read current, decide, write"
//! never races.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::apply::{self, apply, Applied, Change};
use super::convert;
use super::privacy::Forget;
use crate::hubspot::{self, Association, Fields};
use crate::notify::Notifier;
use crate::object::ObjectType;
use crate::store::{Store, Write, Writing};
use crate::time::now_ms;

/// Why a sync step stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    HubSpot(#[from] hubspot::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    /// The portal was removed from the deployment: its mirror takes no more writes.
    #[error("the portal was removed from this deployment")]
    Retired,
}

pub type Result<T> = std::result::Result<T, Error>;

/// Tunables of the sync loops (from the `[sync]` config section).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Each poll re-reads this much before its cursor: search indexes changes late.
    pub lookback_ms: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lookback_ms: 300_000,
        }
    }
}

/// Counters the status and metrics report.
#[derive(Debug, Default)]
pub struct Counters {
    pub records_written: AtomicU64,
    pub stale_dropped: AtomicU64,
    pub events_applied: AtomicU64,
    /// Newest HubSpot modification time applied (epoch ms): "now − this" is the sync lag.
    pub newest_change_ms: AtomicU64,
}

pub struct Syncer {
    pub client: hubspot::Client,
    pub(super) store: Store,
    pub portal: i64,
    /// Record types mirrored (owners are reference data, handled apart).
    pub objects: Vec<ObjectType>,
    pub owners: bool,
    pub settings: Settings,
    pub counters: Counters,
    /// Set when the portal is removed (see [`Syncer::retire`]).
    retired: AtomicBool,
    /// What else a privacy deletion erases (see `sync::privacy`).
    pub(super) forget: Vec<Forget>,
    /// Which source delivered each change first (webhooks, the journal).
    pub arrivals: super::arrivals::Arrivals,
    /// Who is told about mirror changes (see `sync::notices`); `None`: nobody.
    pub(super) notifier: Option<Arc<Notifier>>,
}

/// Which associations to read for fetched records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// One direction per pair of types (backfill: the other side's pass reads nothing twice).
    Canonical,
    /// Every mirrored type (a re-read record gets all its associations replaced).
    All,
}

impl Syncer {
    pub fn new(
        client: hubspot::Client,
        store: Store,
        portal: i64,
        objects: Vec<ObjectType>,
        owners: bool,
        settings: Settings,
    ) -> Self {
        Syncer {
            client,
            store,
            portal,
            objects,
            owners,
            settings,
            counters: Counters::default(),
            forget: Vec::new(),
            arrivals: Default::default(),
            notifier: None,
            retired: AtomicBool::new(false),
        }
    }

    /// Tells `notifier`'s targets about the mirror's changes (queued with each change).
    pub fn notifying(mut self, notifier: Option<Arc<Notifier>>) -> Self {
        self.notifier = notifier;
        self
    }

    /// The store this syncer mirrors into; its mirror is written only through the syncer.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Takes the portal's mirror write lock (see `store::Writing`); refused once the portal
    /// is retired, so a write that waited for the lock cannot land after the erase.
    pub(super) async fn writing(&self) -> Result<Writing<'_>> {
        let writing = self.store.mirror().lock_writes(self.portal).await;
        if self.retired.load(Ordering::Acquire) {
            return Err(Error::Retired);
        }
        Ok(writing)
    }

    /// Refuses every mirror write from now on: the portal is being removed. The removal
    /// erases the mirror under the same write lock after this, so whatever was written
    /// before goes with it.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    /// Adds `forget` to what a privacy deletion erases (e.g. export rows naming the person).
    pub fn forgetting(mut self, forget: Forget) -> Self {
        self.forget.push(forget);
        self
    }

    /// Owners (active and archived), deal pipelines and property definitions.
    pub async fn refresh_reference(&self) -> Result<()> {
        let reference = self.store.reference();
        if self.owners {
            let owners: Vec<_> = self
                .client
                .all_owners()
                .await?
                .iter()
                .map(convert::owner)
                .collect();
            self.replace_owners(&owners).await?;
        }
        if self.objects.contains(&ObjectType::Deals) {
            let pipelines: Vec<_> = self
                .client
                .deal_pipelines()
                .await?
                .iter()
                .map(convert::pipeline)
                .collect();
            let _writing = self.writing().await?;
            reference.replace_pipelines(self.portal, &pipelines)?;
        }
        for kind in &self.objects {
            let properties: Vec<_> = self
                .client
                .properties(*kind)
                .await?
                .iter()
                .map(convert::property)
                .collect();
            let _writing = self.writing().await?;
            reference.replace_properties(self.portal, *kind, &properties)?;
        }
        Ok(())
    }

    /// Every readable property of `kind` (from the stored definitions), deal stages with history.
    pub fn fields(&self, kind: ObjectType) -> Result<Fields> {
        let names: Vec<String> = self
            .store
            .reference()
            .properties(self.portal, kind)?
            .into_iter()
            .filter(|property| !property.archived)
            .map(|property| property.name)
            .collect();
        let fields = Fields::properties(names);
        Ok(if kind == ObjectType::Deals {
            fields.with_history(["dealstage"])
        } else {
            fields
        })
    }

    /// The types whose associations from `kind` are read.
    pub(super) fn link_targets(&self, kind: ObjectType, links: Links) -> Vec<ObjectType> {
        self.objects
            .iter()
            .copied()
            .filter(|other| *other != kind && (links == Links::All || canonical(kind, *other)))
            .collect()
    }

    /// Reads the associations of `ids` towards the mirrored types `links` selects.
    pub async fn associations(
        &self,
        kind: ObjectType,
        ids: &[i64],
        links: Links,
    ) -> Result<Vec<(ObjectType, BTreeMap<i64, Vec<Association>>)>> {
        let mut all = Vec::new();
        if ids.is_empty() {
            return Ok(all);
        }
        for other in self.link_targets(kind, links) {
            all.push((other, self.client.associations(kind, other, ids).await?));
        }
        Ok(all)
    }

    /// Stores fetched records (and their associations, and optionally a sync cursor) in one
    /// transaction, dropping stale versions.
    pub async fn write_fetched(
        &self,
        kind: ObjectType,
        records: &[hubspot::Record],
        authoritative: bool,
        associations: &[(ObjectType, BTreeMap<i64, Vec<Association>>)],
        cursor: Option<(&str, &[u8])>,
    ) -> Result<()> {
        let records = records.to_vec();
        self.store_fetched(kind, records, authoritative, associations, cursor)
            .await
    }

    /// [`Syncer::write_fetched`], taking the records (their strings move into the store's).
    pub(super) async fn store_fetched(
        &self,
        kind: ObjectType,
        records: Vec<hubspot::Record>,
        authoritative: bool,
        associations: &[(ObjectType, BTreeMap<i64, Vec<Association>>)],
        cursor: Option<(&str, &[u8])>,
    ) -> Result<()> {
        let writing = self.writing().await?;
        let mirror = self.store.mirror();
        let now = now_ms();
        let mut writes = Vec::with_capacity(records.len() * (1 + associations.len()));
        // After every record's own writes: the links go to other types, so the order changes
        // nothing, and the store writes a run of them at once (PostgreSQL: three statements).
        let mut replacements = Vec::with_capacity(records.len() * associations.len());
        let mut before = HashMap::new();
        // The page's stored versions in one read each (see `Mirror::get_many`).
        let ids: Vec<i64> = records.iter().map(|fetched| fetched.id).collect();
        let stored = mirror.get_many(self.portal, kind, &ids)?;
        let purged = mirror.purged_among(self.portal, kind, &ids)?;
        for fetched in records {
            let id = fetched.id;
            let record = convert::record(kind, fetched);
            let newest = record.updated_at_ms;
            // Borrowed, not taken: an id twice in a page is decided against the stored
            // version both times, as the writes land together at the end.
            let current = stored.get(&id);
            let purged = purged.contains(&id);
            let applied = apply::fetched(kind, current, purged, record, authoritative, now);
            if let (Some(current), true) = (current, self.notifies()) {
                before.insert(current.id, current.clone());
            }
            match applied {
                Applied::Writes(more) => {
                    self.counters
                        .records_written
                        .fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .newest_change_ms
                        .fetch_max(newest.max(0) as u64, Ordering::Relaxed);
                    writes.extend(more);
                }
                Applied::Stale => {
                    self.counters.stale_dropped.fetch_add(1, Ordering::Relaxed);
                }
                Applied::Nothing | Applied::Unknown => continue,
            }
            for (other, links) in associations {
                let to = links
                    .get(&id)
                    .map(|list| list.iter().map(|link| link.to_id).collect())
                    .unwrap_or_default();
                replacements.push(Write::ReplaceAssociations {
                    from: id,
                    to_type: *other,
                    to,
                });
            }
        }
        writes.append(&mut replacements);
        self.write_notified(&writing, kind, &writes, &before, cursor)?;
        Ok(())
    }

    /// Applies direct changes (deletions, restores, merges, privacy deletions, patches,
    /// associations) in order. Returns the records a change needed but the mirror lacks
    /// (a patch of a record it never saw): the caller reads them.
    pub async fn write_changes(
        &self,
        changes: &[(ObjectType, Change)],
    ) -> Result<Vec<(ObjectType, i64)>> {
        let writing = self.writing().await?;
        let mirror = self.store.mirror();
        let now = now_ms();
        let mut unknown = Vec::new();
        for (kind, change) in changes {
            let id = change.id();
            let current = mirror.get(self.portal, *kind, id)?;
            let mut purged = mirror.is_purged(self.portal, *kind, id)?;
            if let Change::Linked { to_type, to, .. } = change {
                // No association may name a privacy-deleted record again.
                purged = purged || mirror.is_purged(self.portal, *to_type, *to)?;
            }
            match apply(*kind, current.as_ref(), purged, change, now) {
                Applied::Writes(writes) => {
                    if let Change::Patched { at_ms, .. } = change {
                        self.counters
                            .newest_change_ms
                            .fetch_max((*at_ms).max(0) as u64, Ordering::Relaxed);
                    }
                    let before = self.stored_before(*kind, &writes)?;
                    self.write_notified(&writing, *kind, &writes, &before, None)?
                }
                Applied::Stale => {
                    self.counters.stale_dropped.fetch_add(1, Ordering::Relaxed);
                }
                Applied::Unknown => unknown.push((*kind, id)),
                Applied::Nothing => {}
            }
        }
        Ok(unknown)
    }

    /// Writes decided elsewhere in `sync` (reconciliation, privacy), under the write lock.
    pub(super) async fn write_raw(&self, kind: ObjectType, writes: &[Write]) -> Result<()> {
        let writing = self.writing().await?;
        let before = self.stored_before(kind, writes)?;
        self.write_notified(&writing, kind, writes, &before, None)?;
        Ok(())
    }

    /// Re-reads `ids` with every property and all their associations, and stores them.
    pub async fn refetch(&self, kind: ObjectType, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let fields = self.fields(kind)?;
        let read = self.client.batch_read(kind, ids, &fields).await?;
        let found: Vec<i64> = read.records.iter().map(|record| record.id).collect();
        let associations = self.associations(kind, &found, Links::All).await?;
        self.store_fetched(kind, read.records, true, &associations, None)
            .await
    }
}

/// One direction per pair of mirrored types: contacts→companies, deals→companies,
/// deals→contacts, tasks→everything.
fn canonical(from: ObjectType, to: ObjectType) -> bool {
    use ObjectType::*;
    matches!(
        (from, to),
        (Contacts, Companies) | (Deals, Companies) | (Deals, Contacts) | (Tasks, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hubspot::{ClientConfig, Credentials};
    use crate::secret::Secret;

    #[tokio::test]
    async fn a_retired_syncer_writes_nothing_more() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let credentials = Credentials::PrivateApp {
            access_token: Secret::new("pat-na1-unit".to_owned()),
        };
        let base = url::Url::parse("http://127.0.0.1:9").unwrap();
        let client = hubspot::Client::new(ClientConfig::new(base, credentials)).unwrap();
        let kind = ObjectType::Contacts;
        let syncer = Syncer::new(client, store, 1, vec![kind], false, Settings::default());
        assert!(syncer.write_raw(kind, &[]).await.is_ok());
        syncer.retire();
        let refused = syncer.write_raw(kind, &[]).await;
        assert!(matches!(refused, Err(Error::Retired)), "{refused:?}");
        assert!(matches!(syncer.writing().await, Err(Error::Retired)));
    }
}
