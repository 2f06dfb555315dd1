//! Backfill: list every record of a type, page by page, and store the pages in steps of up to
//! 1,000 records (what one associations call takes), each step with its cursor in one
//! transaction, so that a restart resumes after the last stored step instead of starting over.
//!
//! A fetch task reads the next steps (list pages, then their associations) while the current
//! one is stored, a bounded channel apart, so that neither the store nor the network waits for
//! the other. The calls are the same as one after the other, paced by the client's limiter.

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::state::{key, TypeState};
use super::syncer::{Links, Result, Syncer};
use crate::hubspot::{
    self, Association, Fields, ListCursor, SearchCursor, ASSOCIATION_BATCH_LIMIT, LIST_LIMIT,
};
use crate::object::ObjectType;
use crate::time::now_ms;

/// Records stored per transaction: as many as one associations call reads.
const STEP_RECORDS: usize = ASSOCIATION_BATCH_LIMIT;
/// Steps waiting, fetched, while one is stored (and the next is being read): enough for the
/// two to overlap. A `kill -9` loses at most these unstored steps: re-read on the restart.
const STEPS_AHEAD: usize = 1;

/// One step as fetched: its records, their associations, and where the walk goes on.
struct Step {
    records: Vec<hubspot::Record>,
    associations: Vec<(ObjectType, BTreeMap<i64, Vec<Association>>)>,
    /// `None`: the walk is complete with this step.
    next: Option<ListCursor>,
}

/// What the fetch task needs: it runs beside the store writer.
struct Fetch {
    client: hubspot::Client,
    kind: ObjectType,
    fields: Fields,
    targets: Vec<ObjectType>,
}

impl Fetch {
    /// Sends the steps from `cursor` on until the walk ends, an error (sent too), or the
    /// writer hangs up.
    async fn run(self, mut cursor: ListCursor, steps: mpsc::Sender<Result<Step>>) {
        loop {
            let step = self.step(&mut cursor).await;
            let more = matches!(&step, Ok(Step { next: Some(_), .. }));
            if steps.send(step).await.is_err() || !more {
                return;
            }
        }
    }

    /// Reads pages until a step is full (so associations cost one call per step), then the
    /// step's associations.
    async fn step(&self, cursor: &mut ListCursor) -> Result<Step> {
        let mut records = Vec::with_capacity(STEP_RECORDS);
        let next = loop {
            let page = (self.client)
                .list_page(self.kind, &self.fields, false, cursor)
                .await?;
            records.extend(page.items);
            match page.next {
                Some(next) if records.len() + LIST_LIMIT > STEP_RECORDS => break Some(next),
                Some(next) => *cursor = next,
                None => break None,
            }
        };
        if let Some(next) = &next {
            *cursor = next.clone();
        }
        let ids: Vec<i64> = records.iter().map(|record| record.id).collect();
        let mut associations = Vec::with_capacity(self.targets.len());
        if !ids.is_empty() {
            for other in &self.targets {
                let links = self.client.associations(self.kind, *other, &ids).await?;
                associations.push((*other, links));
            }
        }
        Ok(Step {
            records,
            associations,
            next,
        })
    }
}

/// Stops the fetch task when the backfill ends early (an error, a shutdown).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

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
        let fetch = Fetch {
            client: self.client.clone(),
            kind,
            fields: self.fields(kind)?,
            targets: self.link_targets(kind, Links::Canonical),
        };
        let cursor = ListCursor {
            after: state.backfill_after.clone(),
        };
        let (sender, mut steps) = mpsc::channel(STEPS_AHEAD);
        let mut fetching = AbortOnDrop(tokio::spawn(fetch.run(cursor, sender)));
        let mut stored = 0;
        let mut finished = false;
        while let Some(step) = steps.recv().await {
            let step = step?;
            match &step.next {
                Some(next) => state.backfill_after = next.after.clone(),
                None => {
                    self.finish(&mut state);
                    finished = true;
                }
            }
            let count = step.records.len() as u64;
            state.backfill_stored += count;
            let encoded = state.encode();
            self.store_fetched(
                kind,
                step.records,
                true,
                &step.associations,
                Some((&key(kind), &encoded)),
            )
            .await?;
            stored += count;
            tracing::debug!(%kind, stored, "backfill step stored");
        }
        if !finished {
            // The fetch task stops before the last step only by panicking: pass that on.
            if let Err(error) = (&mut fetching.0).await {
                std::panic::resume_unwind(error.into_panic());
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
