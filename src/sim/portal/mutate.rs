//! Mutations of the portal. Each returns the `Change`s HubSpot would announce by webhook.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Entry, Portal, Record, Version};
use crate::sim::kind::ObjectType;
use crate::time;

/// One thing that happened to a record, with HubSpot's `changeSource` label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: ObjectType,
    pub object_id: u64,
    pub occurred_ms: i64,
    pub source: String,
    pub what: ChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ChangeKind {
    Created,
    Property {
        name: String,
        value: String,
    },
    Deleted,
    Restored,
    Merged {
        primary: u64,
        merged: Vec<u64>,
        new_id: u64,
        moved: usize,
    },
    Association {
        to_kind: ObjectType,
        to: u64,
        removed: bool,
        primary: bool,
    },
    PrivacyDeleted,
}

impl Portal {
    pub(super) fn change(
        &self,
        kind: ObjectType,
        id: u64,
        source: &str,
        what: ChangeKind,
    ) -> Change {
        self.change_at(kind, id, source, what, time::now_ms())
    }

    /// A change that happened at `occurred_ms`: HubSpot's event time is the time the record
    /// was modified (its property versions and `lastmodifieddate` carry the same instant).
    pub(super) fn change_at(
        &self,
        kind: ObjectType,
        id: u64,
        source: &str,
        what: ChangeKind,
        occurred_ms: i64,
    ) -> Change {
        Change {
            kind,
            object_id: id,
            occurred_ms,
            source: source.to_string(),
            what,
        }
    }

    /// Copies a base record into the overlay so it can change; `None` if it does not exist.
    pub(super) fn materialize(&mut self, kind: ObjectType, id: u64) -> Option<&mut Record> {
        if !self.table(kind).entries.contains_key(&id) {
            let index = self.table(kind).ids.index(id)?;
            let record = self.base_record(kind, index);
            self.table_mut(kind)
                .entries
                .insert(id, Entry::Live(Box::new(record)));
        }
        match self.table_mut(kind).entries.get_mut(&id) {
            Some(Entry::Live(record)) => Some(record),
            _ => None,
        }
    }

    /// Queues the record for the search index, which sees it after `search_lag_ms`.
    pub(super) fn reindex(&mut self, kind: ObjectType, id: u64) {
        self.pending_index.push_back((time::now_ms(), kind, id));
        if self.search_lag_ms == 0 {
            self.sync_index(time::now_ms());
        }
    }

    /// Publishes to search every mutation older than the lag.
    pub fn sync_index(&mut self, now_ms: i64) {
        while let Some(&(at, kind, id)) = self.pending_index.front() {
            if at + self.search_lag_ms as i64 > now_ms {
                break;
            }
            self.pending_index.pop_front();
            let table = self.table_mut(kind);
            if let Some(entry) = table.entries.get(&id).cloned() {
                table.indexed.insert(id, entry);
            }
        }
    }

    /// Sets properties (`""` clears one) and bumps the modified time; returns the changes.
    pub(super) fn apply(
        &mut self,
        kind: ObjectType,
        id: u64,
        properties: &BTreeMap<String, String>,
        source: &str,
    ) -> Vec<Change> {
        let now = time::now_ms();
        let Some(record) = self.materialize(kind, id) else {
            return Vec::new();
        };
        let mut changed = Vec::new();
        let mut old_email = None;
        for (name, value) in properties {
            if record
                .properties
                .get(name)
                .map_or(value.is_empty(), |old| old == value)
            {
                continue;
            }
            if name == "email" {
                old_email = record.properties.get(name).cloned();
            }
            if value.is_empty() {
                record.properties.remove(name);
            } else {
                record.properties.insert(name.clone(), value.clone());
            }
            let version = Version {
                value: value.clone(),
                timestamp_ms: now,
                source: source.to_string(),
            };
            record
                .history
                .entry(name.clone())
                .or_default()
                .push(version);
            changed.push((name.clone(), value.clone()));
        }
        if changed.is_empty() {
            return Vec::new();
        }
        record.modified_ms = now;
        record
            .properties
            .insert(kind.modified_property().to_string(), time::iso(now));
        let new_email = record
            .properties
            .get("email")
            .map(|email| email.to_lowercase());
        if kind == ObjectType::Contacts {
            let table = self.table_mut(kind);
            if let Some(old) = old_email {
                table.emails.remove(&old.to_lowercase());
            }
            if let Some(email) = new_email {
                table.emails.insert(email, id);
            }
        }
        self.reindex(kind, id);
        changed
            .into_iter()
            .map(|(name, value)| {
                self.change_at(kind, id, source, ChangeKind::Property { name, value }, now)
            })
            .collect()
    }

    /// Creates a record from already validated properties.
    pub fn create(
        &mut self,
        kind: ObjectType,
        properties: &BTreeMap<String, String>,
        source: &str,
    ) -> (u64, Vec<Change>) {
        let now = time::now_ms();
        let id = self.table_mut(kind).allocate_id();
        let mut base = BTreeMap::new();
        base.insert("hs_object_id".to_string(), id.to_string());
        base.insert(kind.created_property().to_string(), time::iso(now));
        base.insert(kind.modified_property().to_string(), time::iso(now));
        let record = Record {
            kind,
            id,
            properties: base,
            history: BTreeMap::new(),
            created_ms: now,
            modified_ms: now,
            archived_ms: None,
        };
        let table = self.table_mut(kind);
        table.entries.insert(id, Entry::Live(Box::new(record)));
        table.created.insert(id);
        let mut changes = vec![self.change_at(kind, id, source, ChangeKind::Created, now)];
        let applied = self.apply(kind, id, properties, source);
        // `apply` queues the record for search only when a property changed.
        if applied.is_empty() {
            self.reindex(kind, id);
        }
        changes.extend(applied);
        (id, changes)
    }

    /// Records the HubSpot user behind an API write, as HubSpot does for a user's OAuth
    /// token: `hs_updated_by_user_id` always, `hs_created_by_user_id` on creation. Not a
    /// change of its own (no history, no webhook).
    pub fn stamp_user(&mut self, kind: ObjectType, id: u64, user_id: u64, created: bool) {
        let Some(record) = self.materialize(kind, id) else {
            return;
        };
        let user_id = user_id.to_string();
        if created {
            record
                .properties
                .insert("hs_created_by_user_id".to_string(), user_id.clone());
        }
        record
            .properties
            .insert("hs_updated_by_user_id".to_string(), user_id);
        self.reindex(kind, id);
    }

    /// Updates a live record (a merged-away id updates its survivor, as HubSpot allows).
    pub fn update(
        &mut self,
        kind: ObjectType,
        id: u64,
        properties: &BTreeMap<String, String>,
        source: &str,
    ) -> Option<(u64, Vec<Change>)> {
        let id = self.live(kind, id)?.id;
        Some((id, self.apply(kind, id, properties, source)))
    }

    pub fn archive(&mut self, kind: ObjectType, id: u64, source: &str) -> Option<Vec<Change>> {
        self.live(kind, id).filter(|record| record.id == id)?;
        let now = time::now_ms();
        let record = self.materialize(kind, id)?;
        record.archived_ms = Some(now);
        self.table_mut(kind).archived.insert(id);
        self.reindex(kind, id);
        Some(vec![self.change_at(
            kind,
            id,
            source,
            ChangeKind::Deleted,
            now,
        )])
    }

    pub fn restore(&mut self, kind: ObjectType, id: u64, source: &str) -> Option<Vec<Change>> {
        if !self.table(kind).archived.contains(&id) {
            return None;
        }
        let now = time::now_ms();
        let record = self.materialize(kind, id)?;
        record.archived_ms = None;
        record.modified_ms = now;
        record
            .properties
            .insert(kind.modified_property().to_string(), time::iso(now));
        self.table_mut(kind).archived.remove(&id);
        self.reindex(kind, id);
        Some(vec![self.change_at(
            kind,
            id,
            source,
            ChangeKind::Restored,
            now,
        )])
    }

    /// Stamps `count` live records (from the start of the id range) with one modified time,
    /// like a bulk import; returns that time. No webhooks: imports of unsubscribed props.
    pub fn bulk_touch(&mut self, kind: ObjectType, count: usize) -> i64 {
        let now = time::now_ms();
        let ids: Vec<u64> = self.list(kind, 0, count, false).0;
        for id in ids {
            if let Some(record) = self.materialize(kind, id) {
                record.modified_ms = now;
                record
                    .properties
                    .insert(kind.modified_property().to_string(), time::iso(now));
            }
            self.pending_index.push_back((now, kind, id));
        }
        if self.search_lag_ms == 0 {
            self.sync_index(now);
        }
        now
    }
}
