//! What the journal keeps per portal: its [`Position`] (the cursor's own bytes, moved with the
//! events it covers, see `store::JournalCursors`) and its [`Record`] (gaps, the reconciliation
//! they need, damaged files, subscriptions), a small meta value written apart.

use serde::{Deserialize, Serialize};

use crate::object::ObjectType;
use crate::store::{self, Store};

/// Where the consumer is in the journal of one portal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The last entry whose events are in the inbox; `None`: read from the earliest.
    pub offset: Option<String>,
    /// When that entry's file was published (as the file says, else when it was read).
    pub published_at_ms: Option<i64>,
    /// When reading after `offset` last found nothing newer.
    pub caught_up_at_ms: Option<i64>,
    /// Events of other portals ignored, and events skipped as of no use, so far.
    pub foreign: u64,
    pub skipped: u64,
}

impl Position {
    /// Until when the inbox holds every journal event: the newer of the cursor's file and
    /// the last time nothing newer was found.
    pub fn covered_until_ms(&self) -> Option<i64> {
        self.published_at_ms.max(self.caught_up_at_ms)
    }

    pub fn encode(&self) -> Vec<u8> {
        // Invariant: a struct of plain fields serialises.
        serde_json::to_vec(self).expect("Position serialises")
    }

    /// The stored position of `portal` (the default before the first read).
    pub fn load(store: &Store, portal: i64) -> store::Result<Position> {
        let stored = store.journal().get(portal)?;
        Ok(stored
            .and_then(|cursor| serde_json::from_slice(&cursor.position).ok())
            .unwrap_or_default())
    }
}

/// A portal's journal history that is not part of the cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub gaps: u64,
    pub last_gap_at_ms: Option<i64>,
    /// Why the last gap happened (`gaps::Reason::as_str`).
    pub last_gap: Option<String>,
    /// The reconciliation the gaps still need.
    pub reconcile: Option<Reconcile>,
    /// Files skipped because they stayed damaged.
    pub bad_files: u64,
    pub last_bad_file: Option<BadFile>,
    /// The subscriptions the gateway created for this portal.
    pub subscriptions: Vec<Subscribed>,
    pub subscribed_at_ms: Option<i64>,
    /// Set when they were removed (a disconnect); coverage resumes at the next subscription.
    pub unsubscribed_at_ms: Option<i64>,
}

/// Types to reconcile, reading again every record HubSpot modified since `since_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconcile {
    pub types: Vec<ObjectType>,
    pub since_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadFile {
    pub offset: String,
    pub error: String,
    pub at_ms: i64,
}

/// A journal subscription as HubSpot answered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    pub id: String,
    /// `OBJECT`, `ASSOCIATION`, `GDPR_PRIVACY_DELETION`.
    pub kind: String,
    pub object_type_id: String,
    pub actions: Vec<String>,
}

fn name(portal: i64) -> String {
    format!("journal.{portal}")
}

/// The record of `portal` (empty before anything happened). One that no longer parses (a
/// newer build's) starts again empty: it holds history, and pending work is found again.
pub(super) fn load(store: &Store, portal: i64) -> store::Result<Record> {
    Ok(match store.meta(&name(portal))? {
        Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            tracing::warn!(%error, "the journal's record does not parse; starting a new one");
            Record::default()
        }),
        None => Record::default(),
    })
}

pub(super) fn save(store: &Store, portal: i64, record: &Record) -> store::Result<()> {
    // Invariant: a struct of plain fields serialises.
    let bytes = serde_json::to_vec(record).expect("Record serialises");
    store.set_meta(&name(portal), &bytes)
}
