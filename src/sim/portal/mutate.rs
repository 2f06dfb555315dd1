//! Mutations of the portal. Each returns the `Change`s HubSpot would announce by webhook.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Entry, Portal, Record, Version};
use crate::sim::kind::ObjectType;
use crate::sim::time;

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
    fn change(&self, kind: ObjectType, id: u64, source: &str, what: ChangeKind) -> Change {
        Change {
            kind,
            object_id: id,
            occurred_ms: time::now_ms(),
            source: source.to_string(),
            what,
        }
    }

    /// Copies a base record into the overlay so it can change; `None` if it does not exist.
    fn materialize(&mut self, kind: ObjectType, id: u64) -> Option<&mut Record> {
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
    fn reindex(&mut self, kind: ObjectType, id: u64) {
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
    fn apply(
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
                self.change(kind, id, source, ChangeKind::Property { name, value })
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
        let mut changes = vec![self.change(kind, id, source, ChangeKind::Created)];
        changes.extend(self.apply(kind, id, properties, source));
        self.reindex(kind, id);
        (id, changes)
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
        Some(vec![self.change(kind, id, source, ChangeKind::Deleted)])
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
        Some(vec![self.change(kind, id, source, ChangeKind::Restored)])
    }

    /// Merges `loser` into `primary`: empty properties of the survivor are filled from the
    /// loser, associations move, `hs_merged_object_ids` grows, the loser id resolves to it.
    pub fn merge(
        &mut self,
        kind: ObjectType,
        primary: u64,
        loser: u64,
        source: &str,
    ) -> Result<Vec<Change>, String> {
        let survivor = self
            .live(kind, primary)
            .filter(|record| record.id == primary);
        let merged = self.live(kind, loser).filter(|record| record.id == loser);
        let (Some(_), Some(merged)) = (survivor, merged) else {
            return Err(format!(
                "both records must exist and be live: {primary}, {loser}"
            ));
        };
        if primary == loser {
            return Err("cannot merge a record into itself".to_string());
        }
        let mut moved: BTreeMap<String, String> = BTreeMap::new();
        let record = self
            .materialize(kind, primary)
            .ok_or_else(|| "survivor vanished".to_string())?;
        for (name, value) in &merged.properties {
            if !record.properties.contains_key(name) && !name.starts_with("hs_") {
                moved.insert(name.clone(), value.clone());
            }
        }
        let ids = record
            .properties
            .get("hs_merged_object_ids")
            .cloned()
            .unwrap_or_default();
        let ids = if ids.is_empty() {
            loser.to_string()
        } else {
            format!("{ids};{loser}")
        };
        moved.insert("hs_merged_object_ids".to_string(), ids);
        let numbers_moved = moved.len() - 1;
        self.apply(kind, primary, &moved, source);
        self.move_associations(kind, loser, primary);
        if let Some(email) = merged.properties.get("email") {
            self.table_mut(kind)
                .emails
                .insert(email.to_lowercase(), primary);
        }
        self.table_mut(kind)
            .entries
            .insert(loser, Entry::Merged(primary));
        self.reindex(kind, loser);
        let what = ChangeKind::Merged {
            primary,
            merged: vec![loser],
            new_id: primary,
            moved: numbers_moved,
        };
        Ok(vec![self.change(kind, primary, source, what)])
    }

    /// GDPR delete of a contact: gone everywhere; fires privacyDeletion and deletion.
    pub fn privacy_delete(&mut self, id: u64, source: &str) -> Option<Vec<Change>> {
        let kind = ObjectType::Contacts;
        let record = self.record(kind, id)?;
        let table = self.table_mut(kind);
        if let Some(email) = record.properties.get("email") {
            table.emails.remove(&email.to_lowercase());
        }
        table.archived.remove(&id);
        table.entries.insert(id, Entry::Purged);
        self.reindex(kind, id);
        Some(vec![
            self.change(kind, id, source, ChangeKind::PrivacyDeleted),
            self.change(kind, id, source, ChangeKind::Deleted),
        ])
    }

    /// Adds or removes an association; one change per direction, as HubSpot sends.
    pub fn associate(
        &mut self,
        from: (ObjectType, u64),
        to: (ObjectType, u64),
        present: bool,
        source: &str,
    ) -> Vec<Change> {
        if self.live(from.0, from.1).is_none() || self.live(to.0, to.1).is_none() {
            return Vec::new();
        }
        if !self.set_association(from, to, present) {
            return Vec::new();
        }
        [(from, to), (to, from)]
            .into_iter()
            .map(|(a, b)| {
                let what = ChangeKind::Association {
                    to_kind: b.0,
                    to: b.1,
                    removed: !present,
                    primary: false,
                };
                self.change(a.0, a.1, source, what)
            })
            .collect()
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
        self.sync_index(if self.search_lag_ms == 0 { now } else { 0 });
        now
    }
}
