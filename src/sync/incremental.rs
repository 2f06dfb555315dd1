//! Incremental polling: search for records modified since the cursor, re-reading a lookback
//! window each time because search indexes changes late.

use super::state::{key, TypeState};
use super::syncer::{Links, Result, Syncer};
use crate::hubspot::{Fields, SearchCursor};
use crate::object::ObjectType;
use crate::time::now_ms;

impl Syncer {
    /// One polling pass over `kind`; returns the records read. Waits for the backfill.
    pub async fn poll(&self, kind: ObjectType) -> Result<u64> {
        if !self.backfilled(kind)? {
            return Ok(0);
        }
        let mut state = TypeState::load(&self.store, self.portal, kind)?;
        let lookback = self.settings.lookback_ms;
        let mut cursor = state
            .incremental
            .clone()
            .unwrap_or_else(|| SearchCursor::since(now_ms() - lookback))
            .rewound(lookback);
        let fields = self.fields(kind)?;
        // Search cannot return history: deals are re-read by batch read for their stages.
        let search_fields = Fields::properties(fields.properties.clone());
        let mut read = 0;
        loop {
            let page = self
                .client
                .search_page(kind, &search_fields, &cursor)
                .await?;
            let ids: Vec<i64> = page.records.iter().map(|record| record.id).collect();
            let (records, authoritative) = if kind == ObjectType::Deals && !ids.is_empty() {
                (
                    self.client.batch_read(kind, &ids, &fields).await?.records,
                    true,
                )
            } else {
                (page.records, false)
            };
            let associations = self.associations(kind, &ids, Links::All).await?;
            state.incremental = Some(page.next.clone());
            if page.done {
                state.last_incremental_at_ms = Some(now_ms());
            }
            let encoded = state.encode();
            read += records.len() as u64;
            self.store_fetched(
                kind,
                records,
                authoritative,
                &associations,
                Some((&key(kind), &encoded)),
            )
            .await?;
            if page.done {
                break;
            }
            cursor = page.next;
        }
        Ok(read)
    }
}
