//! Applying stored events (webhooks and the Webhooks Journal alike): read a window from the
//! inbox, drop second arrivals of a change (`arrivals`), plan it, apply direct changes and
//! patches (privacy deletions through `Syncer::forget`), re-read the records it names, erase
//! the events about forgotten records, then acknowledge. Events survive restarts until
//! acknowledged, and applying one twice is harmless.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::apply::Change;
use super::arrivals::Sifted;
use super::events::plan;
use super::syncer::{Result, Syncer};
use crate::object::ObjectType;
use crate::store::{Store, StoredEvent, ERASED};
use crate::webhook::event::Event;

/// Events applied per window at most.
const WINDOW_EVENTS: usize = 2_000;

/// Where the consumer takes a portal's events.
pub enum Route {
    /// To the portal's sync.
    Apply(Arc<Syncer>),
    /// Nowhere yet: the portal's sync is about to start, so the inbox waits for it.
    Wait,
    /// Nowhere: the gateway does not sync that portal (its sync, once it starts, catches up
    /// by reading HubSpot).
    Skip,
}

/// What one read of the inbox did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumed {
    /// Events consumed, redeliveries dropped among them (0: the inbox is empty).
    Events(usize),
    /// A portal's events wait for its sync to start: nothing was consumed.
    Waiting,
}

/// Applies the next window of stored events, each portal's with the sync `route` names; the
/// window is acknowledged once every portal's part is applied (or skipped).
pub async fn consume(store: &Store, route: &(dyn Fn(i64) -> Route + Sync)) -> Result<Consumed> {
    let inbox = store.inbox();
    let window = inbox.window(WINDOW_EVENTS)?;
    if window.is_empty() {
        return Ok(Consumed::Events(0));
    }
    let events = parse(&window.events);
    let mut portals: Vec<i64> = events.iter().map(|event| event.portal_id).collect();
    portals.sort_unstable();
    portals.dedup();
    let mut targets = Vec::new();
    let mut skipped = 0;
    for portal in portals {
        let theirs = events.iter().filter(|event| event.portal_id == portal);
        match route(portal) {
            Route::Apply(syncer) => targets.push((syncer, theirs.cloned().collect::<Vec<_>>())),
            Route::Wait => return Ok(Consumed::Waiting),
            Route::Skip => skipped += theirs.count(),
        }
    }
    let mut applied = Vec::new();
    for (syncer, theirs) in targets {
        let sifted = syncer.apply_events(&theirs).await?;
        applied.push((syncer, sifted, theirs.len()));
    }
    inbox.mark_applied(&window)?;
    for (syncer, sifted, count) in applied {
        syncer.arrivals.settle(sifted);
        let counters = &syncer.counters;
        counters
            .events_applied
            .fetch_add(count as u64, Ordering::Relaxed);
    }
    if skipped > 0 {
        tracing::debug!(skipped, "events for portals this gateway does not sync");
    }
    Ok(Consumed::Events(window.read()))
}

/// The stored events that still parse (an erased event is no event any more).
fn parse(stored: &[StoredEvent]) -> Vec<Event> {
    stored
        .iter()
        .filter(|stored| stored.raw != ERASED)
        .filter_map(|stored| match serde_json::from_str(&stored.raw) {
            Ok(event) => Some(event),
            Err(error) => {
                tracing::warn!(%error, "skipping a stored event that no longer parses");
                None
            }
        })
        .collect()
}

impl Syncer {
    /// Applies the next window of stored events, this portal's (others' are skipped);
    /// returns how many were consumed.
    pub async fn apply_webhooks(self: &Arc<Self>) -> Result<usize> {
        let route = |portal| match portal == self.portal {
            true => Route::Apply(self.clone()),
            false => Route::Skip,
        };
        match consume(&self.store, &route).await? {
            Consumed::Events(count) => Ok(count),
            Consumed::Waiting => Ok(0),
        }
    }

    /// Applies `events` (of this portal); what `arrivals` settles once they are acknowledged.
    async fn apply_events(&self, events: &[Event]) -> Result<Sifted> {
        let sifted = self.arrivals.sift(events);
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
        self.erase_events_after_deletion(events)?;
        if plan.ignored > 0 {
            tracing::debug!(ignored = plan.ignored, "events of unmirrored types");
        }
        Ok(sifted)
    }
}
