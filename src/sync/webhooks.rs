//! Applying stored webhook events: read a window from the inbox, plan it, apply direct
//! changes, re-read the records it names, then acknowledge. Events survive restarts until
//! acknowledged, and applying one twice is harmless.

use std::sync::atomic::Ordering;

use super::apply::Change;
use super::events::plan;
use super::syncer::{Result, Syncer};
use crate::object::ObjectType;
use crate::store::{Position, ERASED};
use crate::webhook::event::Event;

/// Events applied per window at most.
const WINDOW_EVENTS: usize = 2_000;

impl Syncer {
    /// Applies the next window of stored events; returns how many were consumed.
    pub async fn apply_webhooks(&self) -> Result<usize> {
        let inbox = self.store.inbox();
        let cursor = inbox.cursor()?;
        let stored = inbox.read_from(cursor, WINDOW_EVENTS)?;
        let Some(last) = stored.last() else {
            return Ok(0);
        };
        let next = Position {
            seq: last.position.seq,
            index: last.position.index + 1,
        };
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
        let plan = plan(&events, self.portal, &self.objects);
        self.write_changes(&plan.changes).await?;
        for (kind, change) in &plan.changes {
            if let Change::PrivacyDeleted { id } = change {
                self.erase_events(*kind, *id)?;
            }
        }
        for (kind, ids) in &plan.refetch {
            let ids: Vec<i64> = ids.iter().copied().collect();
            self.refetch(*kind, &ids).await?;
        }
        inbox.ack(next)?;
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

    /// Erases every stored webhook event about record `id` of `kind` (privacy deletion).
    pub fn erase_events(&self, kind: ObjectType, id: i64) -> Result<u64> {
        let portal = self.portal;
        let singular = match kind {
            ObjectType::Contacts => "CONTACT",
            ObjectType::Companies => "COMPANY",
            ObjectType::Deals => "DEAL",
            ObjectType::Tasks => "TASK",
        };
        let about = |raw: &str| {
            let Ok(event) = serde_json::from_str::<Event>(raw) else {
                return false;
            };
            if event.portal_id != portal {
                return false;
            }
            let own_kind = ObjectType::from_event_kind(event.object_kind()) == Some(kind);
            let ids = [
                event.object_id,
                event.from_object_id,
                event.primary_object_id,
                event.new_object_id,
            ];
            let names_it = ids.contains(&Some(id))
                || event
                    .merged_object_ids
                    .as_ref()
                    .is_some_and(|ids| ids.contains(&id));
            // Associations from other types point at the record with `toObjectId`.
            let target_is_kind = event.to_object_type_id.as_deref() == Some(kind.type_id())
                || event
                    .association_type
                    .as_deref()
                    .is_some_and(|t| t.ends_with(&format!("TO_{singular}")));
            (own_kind && names_it) || (event.to_object_id == Some(id) && target_is_kind)
        };
        let erased = self.store.inbox().erase(about)?;
        tracing::info!(%kind, erased, "privacy deletion: erased the stored webhook events about the record");
        Ok(erased)
    }
}
