//! Per-type sync progress, persisted in the mirror's cursor tree in the same transaction as
//! the records it covers, so a restart resumes exactly where the last stored page ended.

use serde::{Deserialize, Serialize};

use crate::hubspot::SearchCursor;
use crate::object::ObjectType;
use crate::store::{self, Store};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeState {
    /// Where the backfill's list walk resumes (`None` with `backfill_started_at_ms` set: the
    /// first page is next).
    pub backfill_after: Option<String>,
    pub backfill_started_at_ms: Option<i64>,
    /// Records the running backfill has stored so far, and how many HubSpot counted when it
    /// began (`None` when the count could not be read): its progress.
    #[serde(default)]
    pub backfill_stored: u64,
    #[serde(default)]
    pub backfill_expected: Option<u64>,
    /// When the last complete backfill finished ("last full sync").
    pub backfill_done_at_ms: Option<i64>,
    /// Where incremental polling resumes.
    pub incremental: Option<SearchCursor>,
    pub last_incremental_at_ms: Option<i64>,
    pub last_reconcile_at_ms: Option<i64>,
    /// Records the last reconciliation had to repair.
    pub last_reconcile_repaired: u64,
}

pub fn key(kind: ObjectType) -> String {
    format!("state.{kind}")
}

impl TypeState {
    pub fn load(store: &Store, portal: i64, kind: ObjectType) -> store::Result<TypeState> {
        Ok(store
            .mirror()
            .cursor(portal, &key(kind))?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default())
    }

    pub fn encode(&self) -> Vec<u8> {
        // Invariant: a struct of plain fields serialises.
        serde_json::to_vec(self).expect("TypeState serialises")
    }

    pub fn save(&self, store: &Store, portal: i64, kind: ObjectType) -> store::Result<()> {
        store
            .mirror()
            .set_cursor(portal, &key(kind), &self.encode())
    }
}
