//! Backfill: list every record of a type, page by page, each page stored with its cursor in
//! one transaction so that a restart resumes at the next page instead of starting over.

use super::state::{key, TypeState};
use super::syncer::{Links, Result, Syncer};
use crate::hubspot::{ListCursor, SearchCursor};
use crate::object::ObjectType;
use crate::webhook::inbox::now_ms;

impl Syncer {
    /// Lists `kind` from where the last backfill stopped (from the start with `full`, or when
    /// none finished yet); returns the records stored. A finished backfill is not repeated
    /// unless `full`.
    pub async fn backfill(&self, kind: ObjectType, full: bool) -> Result<u64> {
        let mut state = TypeState::load(&self.store, self.portal, kind)?;
        if state.backfill_done_at_ms.is_some() && state.backfill_started_at_ms.is_none() && !full {
            return Ok(0);
        }
        if full || state.backfill_started_at_ms.is_none() {
            state.backfill_started_at_ms = Some(now_ms());
            state.backfill_after = None;
        }
        let fields = self.fields(kind)?;
        let mut cursor = ListCursor {
            after: state.backfill_after.clone(),
        };
        let mut stored = 0;
        loop {
            let page = self.client.list_page(kind, &fields, false, &cursor).await?;
            let ids: Vec<i64> = page.items.iter().map(|record| record.id).collect();
            let associations = self.associations(kind, &ids, Links::Canonical).await?;
            match &page.next {
                Some(next) => state.backfill_after = next.after.clone(),
                None => self.finish(&mut state),
            }
            let encoded = state.encode();
            self.write_fetched(
                kind,
                &page.items,
                true,
                &associations,
                Some((&key(kind), &encoded)),
            )
            .await?;
            stored += page.items.len() as u64;
            tracing::debug!(%kind, stored, "backfill page stored");
            match page.next {
                Some(next) => cursor = next,
                None => break,
            }
        }
        tracing::info!(%kind, stored, "backfill complete");
        Ok(stored)
    }

    /// Marks the backfill done; incremental polling starts from when it began, so changes
    /// made during the walk are read again.
    fn finish(&self, state: &mut TypeState) {
        let started = state.backfill_started_at_ms.take().unwrap_or_else(now_ms);
        state.backfill_after = None;
        state.backfill_done_at_ms = Some(now_ms());
        if state.incremental.is_none() {
            state.incremental = Some(SearchCursor::since(started - self.settings.lookback_ms));
        }
    }

    /// Whether `kind` has a complete backfill (incremental polling waits for it).
    pub fn backfilled(&self, kind: ObjectType) -> Result<bool> {
        let state = TypeState::load(&self.store, self.portal, kind)?;
        Ok(state.backfill_done_at_ms.is_some() && state.backfill_started_at_ms.is_none())
    }
}
