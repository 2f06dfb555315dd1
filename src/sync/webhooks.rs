//! Applying stored events (webhooks and the Webhooks Journal alike): read a window from the
//! inbox, drop second arrivals of a change (`arrivals`), plan it, apply direct changes and
//! patches (privacy deletions through `Syncer::forget`), re-read the records it names, erase
//! the events about forgotten records, then acknowledge. Events survive restarts until
//! acknowledged, and applying one twice is harmless.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use super::apply::Change;
use super::events::plan;
use super::syncer::{Result, Syncer};
use crate::object::ObjectType;
use crate::store::ERASED;
use crate::webhook::event::Event;

/// Events applied per window at most.
const WINDOW_EVENTS: usize = 2_000;

impl Syncer {
    /// Applies the next window of stored events; returns how many were consumed.
    pub async fn apply_webhooks(&self) -> Result<usize> {
        let inbox = self.store.inbox();
        let window = inbox.window(WINDOW_EVENTS)?;
        let stored = &window.events;
        if stored.is_empty() {
            return Ok(0);
        }
        let events: Vec<Event> = stored
            .iter()
            .filter(|stored| stored.raw != ERASED)
            .filter_map(|stored| match serde_json::from_str(&stored.raw) {
                Ok(event) => Some(event),
                Err(error) => {
                    tracing::warn!(%error, "skipping a stored event that no longer parses");
                    None
                }
            })
            .collect();
        let sifted = self.arrivals.sift(&events);
        let fresh: Vec<Event> = events
            .iter()
            .zip(&sifted.keep)
            .filter(|(_, keep)| **keep)
            .map(|(event, _)| event.clone())
            .collect();
        let mut plan = plan(&fresh, self.portal, &self.objects);
        // A privacy deletion is final: applied after the window's other changes, it ends
        // the same.
        let (deletions, changes): (Vec<_>, Vec<_>) = plan
            .changes
            .into_iter()
            .partition(|(_, change)| matches!(change, Change::PrivacyDeleted { .. }));
        // HubSpot announces a privacy deletion with a deletion beside it: applied first, that
        // would notify the record as archived (with its owner) before it is erased. The
        // window's other changes of an erased record are moot: it is notified once, by id.
        let erased: HashSet<(ObjectType, i64)> = deletions
            .iter()
            .map(|(kind, change)| (*kind, change.id()))
            .collect();
        let changes: Vec<_> = changes
            .into_iter()
            .filter(|(kind, change)| {
                matches!(change, Change::Merged { .. }) || !erased.contains(&(*kind, change.id()))
            })
            .collect();
        for (kind, id) in self.write_changes(&changes).await? {
            plan.refetch.entry(kind).or_default().insert(id);
        }
        for kind in ObjectType::ALL {
            let ids: Vec<i64> = deletions
                .iter()
                .filter_map(|(k, change)| match change {
                    Change::PrivacyDeleted { id } if *k == kind => Some(*id),
                    _ => None,
                })
                .collect();
            self.forget(kind, &ids).await?;
        }
        for (kind, ids) in &plan.refetch {
            let ids: Vec<i64> = ids.iter().copied().collect();
            self.refetch(*kind, &ids).await?;
        }
        self.erase_events_after_deletion(&events)?;
        inbox.mark_applied(&window)?;
        self.arrivals.settle(sifted);
        self.counters
            .events_applied
            .fetch_add(stored.len() as u64, Ordering::Relaxed);
        if plan.ignored > 0 {
            tracing::debug!(
                ignored = plan.ignored,
                "events for other portals or unmirrored types"
            );
        }
        Ok(stored.len())
    }
}
