//! What the status of one mirrored type is: records, sync times, backfill progress, matches
//! and the last reconciliation. `GET /v1/status`, the `status` command and the console's
//! sync page show these same figures.

use super::state::TypeState;
use crate::object::ObjectType;
use crate::store::{self, Store};

#[derive(Debug, Clone, PartialEq)]
pub struct TypeStatus {
    pub kind: ObjectType,
    /// Live records in the mirror.
    pub count: u64,
    pub last_full_sync_ms: Option<i64>,
    pub last_incremental_sync_ms: Option<i64>,
    /// Where incremental polling resumes.
    pub cursor_ms: Option<i64>,
    /// `Some` while a backfill runs.
    pub backfill: Option<Backfill>,
    /// Records matched by lookups, and their share of `count`.
    pub matched: u64,
    pub match_rate: f64,
    pub last_reconcile_ms: Option<i64>,
    pub last_reconcile_repaired: u64,
}

/// A running backfill's progress: records stored, and what HubSpot counted when it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backfill {
    pub started_at_ms: i64,
    pub stored: u64,
    pub expected: Option<u64>,
}

impl TypeStatus {
    pub fn load(store: &Store, portal: i64, kind: ObjectType) -> store::Result<TypeStatus> {
        let count = store.mirror().count(portal, kind)?;
        let sync = TypeState::load(store, portal, kind)?;
        let matched = store.ownership().matched_count(portal, kind)?;
        let match_rate = if count == 0 {
            0.0
        } else {
            matched as f64 / count as f64
        };
        Ok(TypeStatus {
            kind,
            count,
            last_full_sync_ms: sync.backfill_done_at_ms,
            last_incremental_sync_ms: sync.last_incremental_at_ms,
            cursor_ms: sync.incremental.as_ref().map(|cursor| cursor.since_ms),
            backfill: sync.backfill_started_at_ms.map(|started_at_ms| Backfill {
                started_at_ms,
                stored: sync.backfill_stored,
                expected: sync.backfill_expected,
            }),
            matched,
            match_rate,
            last_reconcile_ms: sync.last_reconcile_at_ms,
            last_reconcile_repaired: sync.last_reconcile_repaired,
        })
    }
}
