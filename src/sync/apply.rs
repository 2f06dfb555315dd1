//! The pure heart of sync: given what the mirror holds and a change from HubSpot, decide which
//! store writes to make. No IO here; most correctness tests live beside it.
//!
//! Ordering rule: HubSpot delivers webhooks unordered and search lags, so a change only wins
//! when it is at least as new as what is stored: fetched versions compare HubSpot's
//! `updatedAt`, deletions and restores compare their event time with both the stored
//! version and the last deletion/restore applied.

use std::collections::BTreeMap;

use crate::object::ObjectType;
use crate::ownership::{brief, terms};
use crate::store::{Record, Write};

/// One change to one record, from a fetch or a webhook. Event times and `now_ms` are epoch ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The record's current state, read from HubSpot. `authoritative` reads (list, batch read)
    /// prove the record is live now; search results may lag behind a deletion.
    Fetched {
        record: Record,
        authoritative: bool,
    },
    Deleted {
        id: i64,
        at_ms: i64,
    },
    Restored {
        id: i64,
        at_ms: i64,
    },
    /// `losers` were merged into `survivor` (which must be refetched).
    Merged {
        survivor: i64,
        losers: Vec<i64>,
    },
    /// GDPR deletion: nothing of the record may remain.
    PrivacyDeleted {
        id: i64,
    },
    /// Properties HubSpot changed at `at_ms` (`""`: cleared), from an ordered source (the
    /// Webhooks Journal): applied to the stored record without reading it again.
    Patched {
        id: i64,
        at_ms: i64,
        properties: BTreeMap<String, String>,
    },
    /// One association added or removed (both directions).
    Linked {
        from: i64,
        to_type: ObjectType,
        to: i64,
        removed: bool,
    },
}

impl Change {
    /// The record the change is about (a merge's survivor, an association's `from`).
    pub fn id(&self) -> i64 {
        match self {
            Change::Deleted { id, .. }
            | Change::Restored { id, .. }
            | Change::PrivacyDeleted { id }
            | Change::Patched { id, .. } => *id,
            Change::Merged { survivor, .. } => *survivor,
            Change::Fetched { record, .. } => record.id,
            Change::Linked { from, .. } => *from,
        }
    }
}

/// What applying a change amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Writes(Vec<Write>),
    /// Older than what the mirror holds: dropped.
    Stale,
    /// Nothing to do (unknown record, already in that state, purged for good).
    Nothing,
    /// The change needs the stored record, which the mirror does not have (read it).
    Unknown,
}

/// Decides the writes for `change` given the stored record (`current`, looked up by the
/// change's id) and whether that id was privacy-deleted. `now_ms` stamps `synced_at`.
pub fn apply(
    kind: ObjectType,
    current: Option<&Record>,
    purged: bool,
    change: &Change,
    now_ms: i64,
) -> Applied {
    match change {
        Change::Fetched {
            record,
            authoritative,
        } => skipped(current, purged, record, *authoritative)
            .unwrap_or_else(|| upsert(kind, current, record.clone(), *authoritative, now_ms)),
        Change::Deleted { id, at_ms } => match current {
            None => Applied::Nothing,
            Some(current) if current.archived => Applied::Nothing,
            Some(current) if *at_ms < current.updated_at_ms.max(current.state_changed_at_ms) => {
                Applied::Stale
            }
            Some(_) => Applied::Writes(vec![Write::Archive {
                id: *id,
                at_ms: *at_ms,
            }]),
        },
        Change::Restored { id, at_ms } => match current {
            Some(current) if current.archived && *at_ms >= current.state_changed_at_ms => {
                Applied::Writes(vec![Write::Restore {
                    id: *id,
                    at_ms: *at_ms,
                }])
            }
            Some(current) if current.archived => Applied::Stale,
            _ => Applied::Nothing,
        },
        Change::Merged { survivor, losers } => {
            let writes: Vec<Write> = losers
                .iter()
                .filter(|loser| *loser != survivor)
                .flat_map(|loser| {
                    [
                        Write::Alias {
                            from: *loser,
                            to: *survivor,
                        },
                        Write::Remove { id: *loser },
                    ]
                })
                .collect();
            if writes.is_empty() {
                Applied::Nothing
            } else {
                Applied::Writes(writes)
            }
        }
        Change::PrivacyDeleted { id } => Applied::Writes(vec![Write::Purge { id: *id }]),
        Change::Patched {
            at_ms, properties, ..
        } => patch::apply(kind, current, purged, *at_ms, properties, now_ms),
        Change::Linked {
            from,
            to_type,
            to,
            removed,
        } if !purged => Applied::Writes(vec![Write::Associate {
            from: *from,
            to_type: *to_type,
            to: *to,
            removed: *removed,
        }]),
        Change::Linked { .. } => Applied::Nothing,
    }
}

/// [`apply`] of [`Change::Fetched`], taking the record (the sync's own reads have it to give).
pub fn fetched(
    kind: ObjectType,
    current: Option<&Record>,
    purged: bool,
    record: Record,
    authoritative: bool,
    now_ms: i64,
) -> Applied {
    skipped(current, purged, &record, authoritative)
        .unwrap_or_else(|| upsert(kind, current, record, authoritative, now_ms))
}

/// Why a fetched version is not written, if it is not: purged for good, or stale.
fn skipped(
    current: Option<&Record>,
    purged: bool,
    record: &Record,
    authoritative: bool,
) -> Option<Applied> {
    if purged {
        return Some(Applied::Nothing);
    }
    let current = current?;
    let older = record.updated_at_ms < current.updated_at_ms;
    let deleted_since = current.archived && current.state_changed_at_ms > record.updated_at_ms;
    (older || (deleted_since && !authoritative)).then_some(Applied::Stale)
}

/// The write of a fetched version that is neither purged nor stale.
fn upsert(
    kind: ObjectType,
    current: Option<&Record>,
    mut record: Record,
    authoritative: bool,
    now_ms: i64,
) -> Applied {
    record.archived = false;
    record.archived_at_ms = None;
    // A read that found the record live outranks every deletion that happened before it,
    // including ones whose webhooks are still on the way.
    let known = current.map_or(0, |current| current.state_changed_at_ms);
    record.state_changed_at_ms = if authoritative {
        known.max(now_ms)
    } else {
        known
    };
    stored(kind, record, now_ms)
}

/// The write that stores `record` as read at `now_ms`, with its index terms and brief.
fn stored(kind: ObjectType, mut record: Record, now_ms: i64) -> Applied {
    record.synced_at_ms = now_ms;
    let terms = terms(kind, &record.properties);
    let brief = Box::new(brief(kind, &record));
    Applied::Writes(vec![Write::Upsert {
        record,
        terms,
        brief,
    }])
}

mod patch;

#[cfg(test)]
mod tests;
