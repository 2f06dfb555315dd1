//! Reconciliation: compare every id HubSpot lists (live and archived) with the mirror and
//! repair what webhooks and polling missed. A stored record HubSpot no longer lists is
//! archived if HubSpot lists it as archived, aliased if a live record names it in
//! `hs_merged_object_ids`, and otherwise purged: HubSpot deleted it for good (privacy
//! deletion, or 90 days in the recycle bin).

use std::collections::BTreeMap;

use super::state::TypeState;
use super::syncer::{Result, Syncer};
use crate::hubspot::{Fields, ListCursor};
use crate::object::ObjectType;
use crate::store::Write;
use crate::time::now_ms;

/// Listed records compared with the mirror per read: bounded memory per step, however large
/// the portal.
const RECONCILE_STEP: usize = 1_000;

/// What HubSpot lists for one type: live ids with their modified time, merge losers with
/// their survivor, archived ids with their archive time.
#[derive(Default)]
struct Listing {
    live: BTreeMap<i64, i64>,
    merged_into: BTreeMap<i64, i64>,
    archived: BTreeMap<i64, i64>,
}

impl Syncer {
    /// Compares `kind` with HubSpot and repairs the mirror; returns the records repaired.
    pub async fn reconcile(&self, kind: ObjectType) -> Result<u64> {
        self.reconcile_since(kind, None).await
    }

    /// [`Syncer::reconcile`] after a gap in the events: records HubSpot modified at or after
    /// `since_ms` are read again even when the mirror's version looks as new (a later patch
    /// may have advanced it past a change that never arrived).
    pub async fn reconcile_since(&self, kind: ObjectType, since_ms: Option<i64>) -> Result<u64> {
        if !self.backfilled(kind)? {
            return Ok(0);
        }
        let started = now_ms();
        let listing = self.listing(kind).await?;
        let mirror = self.store.mirror();
        let mut refetch = Vec::new();
        let live: Vec<(i64, i64)> = listing.live.iter().map(|(id, at)| (*id, *at)).collect();
        // Read a step at a time (one statement each on PostgreSQL, not one per record).
        for step in live.chunks(RECONCILE_STEP) {
            let ids: Vec<i64> = step.iter().map(|(id, _)| *id).collect();
            let stored = mirror.get_many(self.portal, kind, &ids)?;
            let stale: Vec<i64> = step
                .iter()
                .filter(|(id, modified)| {
                    !stored.get(id).is_some_and(|record| {
                        !record.archived
                            && record.updated_at_ms >= *modified
                            && since_ms.is_none_or(|since| *modified < since)
                    })
                })
                .map(|(id, _)| *id)
                .collect();
            if stale.is_empty() {
                continue;
            }
            let purged = mirror.purged_among(self.portal, kind, &stale)?;
            refetch.extend(stale.into_iter().filter(|id| !purged.contains(id)));
        }
        let mut writes = Vec::new();
        for id in mirror.ids(self.portal, kind) {
            let id = id?;
            if listing.live.contains_key(&id) {
                continue;
            }
            // Records written after the walk began may simply be newer than it.
            let Some(record) = mirror.get(self.portal, kind, id)? else {
                continue;
            };
            if record.archived || record.synced_at_ms >= started {
                continue;
            }
            if let Some(at_ms) = listing.archived.get(&id) {
                writes.push(Write::Archive { id, at_ms: *at_ms });
            } else if let Some(survivor) = listing.merged_into.get(&id) {
                writes.extend([
                    Write::Alias {
                        from: id,
                        to: *survivor,
                    },
                    Write::Remove { id },
                ]);
            } else {
                writes.push(Write::Purge { id });
            }
        }
        let removed = writes
            .iter()
            .filter(|write| !matches!(write, Write::Alias { .. }))
            .count();
        // Deleted for good: forgotten as a privacy deletion is.
        let purged: Vec<i64> = writes
            .iter()
            .filter_map(|write| match write {
                Write::Purge { id } => Some(*id),
                _ => None,
            })
            .collect();
        writes.retain(|write| !matches!(write, Write::Purge { .. }));
        self.write_raw(kind, &writes).await?;
        self.forget(kind, &purged).await?;
        self.refetch(kind, &refetch).await?;
        let repaired = (refetch.len() + removed) as u64;
        let writing = self.writing().await?;
        let mut state = TypeState::load(&self.store, self.portal, kind)?;
        state.last_reconcile_at_ms = Some(now_ms());
        state.last_reconcile_repaired = repaired;
        state.save(&writing, kind)?;
        drop(writing);
        tracing::info!(%kind, repaired, live = listing.live.len(), archived = listing.archived.len(), "reconciliation done");
        Ok(repaired)
    }

    async fn listing(&self, kind: ObjectType) -> Result<Listing> {
        let merged = "hs_merged_object_ids";
        let fields = Fields::properties([kind.modified_property(), merged]);
        let mut listing = Listing::default();
        for archived in [false, true] {
            let mut cursor = ListCursor::default();
            loop {
                let page = self
                    .client
                    .list_page(kind, &fields, archived, &cursor)
                    .await?;
                for record in &page.items {
                    if archived {
                        listing
                            .archived
                            .insert(record.id, record.archived_at_ms.unwrap_or_else(now_ms));
                        continue;
                    }
                    listing
                        .live
                        .insert(record.id, record.modified_ms(kind).unwrap_or(0));
                    let losers = record.property(merged).unwrap_or("");
                    for loser in losers.split(';').filter_map(|id| id.trim().parse().ok()) {
                        listing.merged_into.insert(loser, record.id);
                    }
                }
                match page.next {
                    Some(next) => cursor = next,
                    None => break,
                }
            }
        }
        Ok(listing)
    }
}
