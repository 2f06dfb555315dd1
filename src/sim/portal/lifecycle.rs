//! Merges, GDPR deletions and association edits, with the changes HubSpot announces.

use std::collections::BTreeMap;

use super::{Change, ChangeKind, Entry, Portal};
use crate::sim::kind::ObjectType;

impl Portal {
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
        let was_primary = self.is_primary(from, to);
        if !self.set_association(from, to, present) {
            return Vec::new();
        }
        // A primary association also exists unlabelled: HubSpot sends both.
        // HubSpot: https://developers.hubspot.com/docs/api-reference/legacy/webhooks/guide
        let primary = if present {
            self.is_primary(from, to)
        } else {
            was_primary
        };
        let flags: &[bool] = if primary { &[false, true] } else { &[false] };
        let mut changes = Vec::new();
        for &flag in flags {
            for (a, b) in [(from, to), (to, from)] {
                let what = ChangeKind::Association {
                    to_kind: b.0,
                    to: b.1,
                    removed: !present,
                    primary: flag,
                };
                changes.push(self.change(a.0, a.1, source, what));
            }
        }
        changes
    }
}
