//! Turning a window of events into changes: deletions, restores, merges and privacy
//! deletions apply directly; everything else marks the record for a (coalesced) re-read,
//! since webhook payloads are thin and unordered. Journal events are ordered and carry the
//! changed values, so their property changes become patches and their association changes
//! apply directly; only creations (whose system properties no event carries) are re-read.

use std::collections::{BTreeMap, BTreeSet};

use super::apply::Change;
use crate::object::ObjectType;
use crate::webhook::event::{Event, Source};

/// What a window of events asks of the mirror.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Direct changes, oldest event first.
    pub changes: Vec<(ObjectType, Change)>,
    /// Records to read again from HubSpot, per type.
    pub refetch: BTreeMap<ObjectType, BTreeSet<i64>>,
    /// Events for other portals, unmirrored types or kinds the mirror does not use.
    pub ignored: usize,
}

/// Plans `events` for the mirror of `portal`, which keeps the types in `mirrored`.
pub fn plan(events: &[Event], portal: i64, mirrored: &[ObjectType]) -> Plan {
    let mut ordered: Vec<&Event> = events.iter().collect();
    ordered.sort_by_key(|event| event.occurred_at);
    let mut plan = Plan::default();
    for event in ordered {
        let kind =
            ObjectType::from_event_kind(event.object_kind()).filter(|kind| mirrored.contains(kind));
        match kind {
            Some(kind) if event.portal_id == portal => plan.add(kind, event, mirrored),
            _ => plan.ignored += 1,
        }
    }
    plan
}

impl Plan {
    fn add(&mut self, kind: ObjectType, event: &Event, mirrored: &[ObjectType]) {
        let at_ms = event.occurred_at;
        if event.source() == Source::Journal && self.add_journal(kind, event, mirrored) {
            return;
        }
        match (event.action(), event.object_id) {
            ("creation" | "propertyChange", Some(id)) => self.refetch(kind, id),
            ("deletion", Some(id)) => self.changes.push((kind, Change::Deleted { id, at_ms })),
            ("restore", Some(id)) => {
                self.changes.push((kind, Change::Restored { id, at_ms }));
                self.refetch(kind, id);
            }
            ("privacyDeletion", Some(id)) => {
                self.changes.push((kind, Change::PrivacyDeleted { id }));
                // A re-read queued earlier in this window must not bring the person back.
                if let Some(ids) = self.refetch.get_mut(&kind) {
                    ids.remove(&id);
                }
            }
            ("merge", _) => self.merge(kind, event),
            ("associationChange", _) => match event.from_object_id {
                // The re-read replaces the record's associations with HubSpot's current ones.
                Some(from) => self.refetch(kind, from),
                None => self.ignored += 1,
            },
            _ => self.ignored += 1,
        }
    }

    /// A journal event's patch or association, in order; `false`: plan it as a webhook's.
    fn add_journal(&mut self, kind: ObjectType, event: &Event, mirrored: &[ObjectType]) -> bool {
        match (event.action(), event.object_id, event.from_object_id) {
            ("propertyChange", Some(id), _) => {
                let (Some(name), Some(value)) = (&event.property_name, &event.property_value)
                else {
                    // A value too big to keep: read the record instead.
                    return false;
                };
                let at_ms = event.occurred_at;
                // One journal UPDATE becomes one event per property: one patch again.
                if let Some((
                    last_kind,
                    Change::Patched {
                        id: last,
                        at_ms: at,
                        properties,
                    },
                )) = self.changes.last_mut()
                {
                    if (*last_kind, *last, *at) == (kind, id, at_ms) {
                        properties.insert(name.clone(), value.clone());
                        return true;
                    }
                }
                let properties = [(name.clone(), value.clone())].into();
                let patch = Change::Patched {
                    id,
                    at_ms,
                    properties,
                };
                self.changes.push((kind, patch));
                true
            }
            ("associationChange", _, Some(from)) => {
                match (event.association_target(), event.to_object_id) {
                    (Some(to_type), Some(to)) if mirrored.contains(&to_type) => {
                        let removed = event.association_removed == Some(true);
                        let link = Change::Linked {
                            from,
                            to_type,
                            to,
                            removed,
                        };
                        self.changes.push((kind, link));
                    }
                    _ => self.ignored += 1,
                }
                true
            }
            _ => false,
        }
    }

    fn merge(&mut self, kind: ObjectType, event: &Event) {
        let Some(survivor) = event
            .new_object_id
            .or(event.primary_object_id)
            .or(event.object_id)
        else {
            self.ignored += 1;
            return;
        };
        let mut losers: Vec<i64> = event.merged_object_ids.clone().unwrap_or_default();
        // A merge that creates a new record retires the primary too.
        losers.extend(
            event
                .primary_object_id
                .filter(|primary| *primary != survivor),
        );
        losers.retain(|loser| *loser != survivor);
        losers.sort_unstable();
        losers.dedup();
        if let Some(ids) = self.refetch.get_mut(&kind) {
            for loser in &losers {
                ids.remove(loser);
            }
        }
        self.changes
            .push((kind, Change::Merged { survivor, losers }));
        self.refetch(kind, survivor);
    }

    fn refetch(&mut self, kind: ObjectType, id: i64) {
        self.refetch.entry(kind).or_default().insert(id);
    }
}
