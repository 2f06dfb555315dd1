//! Reconciliation: compare every id HubSpot lists (live and archived) with the mirror and
//! repair what webhooks and polling missed. Returns how many records it repaired.

use std::collections::{BTreeMap, BTreeSet};

use super::convert::api;
use super::state::TypeState;
use super::syncer::{Result, Syncer};
use crate::hubspot::{Fields, ListCursor};
use crate::object::ObjectType;
use crate::store::Write;
use crate::webhook::inbox::now_ms;

impl Syncer {
    pub async fn reconcile(&self, kind: ObjectType) -> Result<u64> {
        if !self.backfilled(kind)? {
            return Ok(0);
        }
        let started = now_ms();
        let live = self.list_modified(kind, false).await?;
        let archived = self.list_modified(kind, true).await?;
        let mirror = self.store.mirror();
        let mut stale_or_missing = Vec::new();
        for (id, modified) in &live {
            match mirror.get(self.portal, kind, *id)? {
                Some(record) if !record.archived && record.updated_at_ms >= *modified => {}
                _ if mirror.is_purged(self.portal, kind, *id)? => {}
                _ => stale_or_missing.push(*id),
            }
        }
        let mut gone = Vec::new();
        for id in mirror.ids(self.portal, kind) {
            let id = id?;
            if live.contains_key(&id) {
                continue;
            }
            // Records written after the walk began may simply be newer than it.
            let stored = mirror.get(self.portal, kind, id)?;
            if stored.is_some_and(|record| !record.archived && record.synced_at_ms < started) {
                gone.push(id);
            }
        }
        self.refetch(kind, &stale_or_missing).await?;
        let archived_ids: BTreeSet<i64> = archived.keys().copied().collect();
        let writes: Vec<Write> = gone
            .iter()
            .map(|id| Write::Archive {
                id: *id,
                at_ms: archived.get(id).copied().unwrap_or_else(now_ms),
            })
            .collect();
        self.write_raw(kind, &writes).await?;
        let repaired = (stale_or_missing.len() + gone.len()) as u64;
        let mut state = TypeState::load(&self.store, self.portal, kind)?;
        state.last_reconcile_at_ms = Some(now_ms());
        state.last_reconcile_repaired = repaired;
        state.save(&self.store, self.portal, kind)?;
        tracing::info!(%kind, repaired, live = live.len(), archived = archived_ids.len(), "reconciliation done");
        Ok(repaired)
    }

    /// Every id of `kind` HubSpot lists (live or archived) with its modified time.
    async fn list_modified(&self, kind: ObjectType, archived: bool) -> Result<BTreeMap<i64, i64>> {
        let fields = Fields::properties([kind.modified_property()]);
        let mut cursor = ListCursor::default();
        let mut ids = BTreeMap::new();
        loop {
            let page = self.client.list_page(api(kind), &fields, archived, &cursor).await?;
            for record in &page.items {
                let at = if archived { record.archived_at_ms } else { record.modified_ms(api(kind)) };
                ids.insert(record.id, at.unwrap_or(0));
            }
            match page.next {
                Some(next) => cursor = next,
                None => return Ok(ids),
            }
        }
    }
}
