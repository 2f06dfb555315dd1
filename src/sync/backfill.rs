//! Backfill: list every record of a type, page by page, and store the pages in steps of up to
//! 1,000 records (what one associations call takes), each step with its cursor in one
//! transaction, so that a restart resumes after the last stored step instead of starting over.

use super::state::{key, TypeState};
use super::syncer::{Links, Result, Syncer};
use crate::hubspot::{ListCursor, SearchCursor, ASSOCIATION_BATCH_LIMIT, LIST_LIMIT};
use crate::object::ObjectType;
use crate::webhook::inbox::now_ms;

/// Records stored per transaction: as many as one associations call reads.
const STEP_RECORDS: usize = ASSOCIATION_BATCH_LIMIT;

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
            state.backfill_stored = 0;
            // Only for showing progress: a backfill does not wait for a count it cannot get.
            state.backfill_expected = match self.client.count(kind).await {
                Ok(count) => Some(count),
                Err(error) => {
                    tracing::info!(%error, %kind, "no record count for the backfill's progress");
                    None
                }
            };
        }
        let fields = self.fields(kind)?;
        let mut cursor = ListCursor {
            after: state.backfill_after.clone(),
        };
        let mut stored = 0;
        let mut done = false;
        while !done {
            // Read pages until a step is full, so associations cost one call per step.
            let mut step = Vec::with_capacity(STEP_RECORDS);
            loop {
                let page = self.client.list_page(kind, &fields, false, &cursor).await?;
                step.extend(page.items);
                match page.next {
                    Some(next) => {
                        state.backfill_after = next.after.clone();
                        cursor = next;
                    }
                    None => {
                        self.finish(&mut state);
                        done = true;
                        break;
                    }
                }
                if step.len() + LIST_LIMIT > STEP_RECORDS {
                    break;
                }
            }
            let ids: Vec<i64> = step.iter().map(|record| record.id).collect();
            let associations = self.associations(kind, &ids, Links::Canonical).await?;
            state.backfill_stored += step.len() as u64;
            let encoded = state.encode();
            self.write_fetched(
                kind,
                &step,
                true,
                &associations,
                Some((&key(kind), &encoded)),
            )
            .await?;
            stored += step.len() as u64;
            tracing::debug!(%kind, stored, "backfill step stored");
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
