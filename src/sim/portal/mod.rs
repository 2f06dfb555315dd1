//! The portal's live state: generated base records plus an overlay of everything that changed
//! since start (mutated, created, archived, merged, purged records and association edits).
//! Reads consult the overlay first and fall back to the generator.

mod assoc;
mod lifecycle;
mod mutate;
mod search;
mod table;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

pub use mutate::{Change, ChangeKind};
pub use search::{Filter, FilterGroup, SearchQuery};
pub use table::{Entry, Table};
pub use validate::Invalid;

use crate::sim::gen::owners::{self, Owner};
use crate::sim::gen::Gen;
use crate::sim::kind::ObjectType;
use crate::time;

/// One history entry of `propertiesWithHistory`.
/// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/deals/guide>
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    pub value: String,
    pub timestamp_ms: i64,
    pub source: String,
}

/// A record as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub kind: ObjectType,
    pub id: u64,
    pub properties: BTreeMap<String, String>,
    /// Versions added since start, per property (base history is derived from the generator).
    pub history: BTreeMap<String, Vec<Version>>,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub archived_ms: Option<i64>,
}

pub struct Portal {
    pub gen: Gen,
    tables: [Table; 4],
    pub owners: Vec<Owner>,
    /// Association lists that differ from the generated ones: (from, id, to) -> ids.
    assoc: assoc::Overrides,
    /// Mutations not yet visible to search: (when, type, id).
    pending_index: VecDeque<(i64, ObjectType, u64)>,
    pub search_lag_ms: u64,
}

impl Portal {
    pub fn new(seed: u64, counts: [u64; 4], owners: u64, search_lag_ms: u64) -> Portal {
        let gen = Gen::new(seed, counts, owners);
        let tables = ObjectType::ALL.map(|kind| Table::new(gen.ids(kind)));
        Portal {
            owners: owners::generate(seed, owners),
            gen,
            tables,
            assoc: assoc::Overrides::default(),
            pending_index: VecDeque::new(),
            search_lag_ms,
        }
    }

    pub fn table(&self, kind: ObjectType) -> &Table {
        &self.tables[kind.index()]
    }

    fn table_mut(&mut self, kind: ObjectType) -> &mut Table {
        &mut self.tables[kind.index()]
    }

    /// Follows merges to the surviving id (HubSpot resolves old ids on single-record reads).
    pub fn resolve(&self, kind: ObjectType, id: u64) -> u64 {
        let mut current = id;
        // A record takes part in at most 250 merges, so the chain is bounded.
        // HubSpot: https://developers.hubspot.com/docs/api-reference/legacy/crm/using-object-apis
        for _ in 0..256 {
            match self.table(kind).entries.get(&current) {
                Some(Entry::Merged(into)) => current = *into,
                _ => break,
            }
        }
        current
    }

    /// The record with exactly this id, archived or not; `None` if absent, merged or purged.
    pub fn record(&self, kind: ObjectType, id: u64) -> Option<Record> {
        let table = self.table(kind);
        match table.entries.get(&id) {
            Some(Entry::Live(record)) => Some((**record).clone()),
            Some(_) => None,
            None => Some(self.base_record(kind, table.ids.index(id)?)),
        }
    }

    /// A live (not archived) record, following merges.
    pub fn live(&self, kind: ObjectType, id: u64) -> Option<Record> {
        self.record(kind, self.resolve(kind, id))
            .filter(|record| record.archived_ms.is_none())
    }

    pub fn base_record(&self, kind: ObjectType, index: u64) -> Record {
        let properties = self
            .gen
            .properties(kind, index)
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        Record {
            kind,
            id: self.gen.ids(kind).id(index),
            properties,
            history: BTreeMap::new(),
            created_ms: self.gen.created_ms(kind, index),
            modified_ms: self.gen.modified_ms(kind, index),
            archived_ms: None,
        }
    }

    /// Full history of one property, oldest first: the generated past, then runtime changes.
    pub fn history(&self, record: &Record, name: &str) -> Vec<Version> {
        let mut versions = Vec::new();
        if let Some(index) = self.table(record.kind).ids.index(record.id) {
            let base = self.base_record(record.kind, index);
            if record.kind == ObjectType::Deals && name == "dealstage" {
                for (stage, at) in self.gen.stage_history(index) {
                    versions.push(Version {
                        value: stage,
                        timestamp_ms: at,
                        source: "CRM_UI".into(),
                    });
                }
            } else if let Some(value) = base.properties.get(name) {
                versions.push(Version {
                    value: value.clone(),
                    timestamp_ms: base.created_ms,
                    source: "IMPORT".into(),
                });
            }
        }
        versions.extend(record.history.get(name).into_iter().flatten().cloned());
        versions
    }

    /// One page of ids in ascending id order: live records, or only archived ones.
    /// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/using-object-apis>
    pub fn list(
        &self,
        kind: ObjectType,
        after: u64,
        limit: usize,
        archived: bool,
    ) -> (Vec<u64>, Option<u64>) {
        let table = self.table(kind);
        let mut ids: Vec<u64> = if archived {
            table
                .archived
                .range(after..)
                .take(limit + 1)
                .copied()
                .collect()
        } else {
            let start = table.ids.first_index_at_or_after(after);
            let base = (start..table.ids.count()).map(|index| table.ids.id(index));
            base.chain(table.created.range(after..).copied())
                .filter(|id| table.is_live(*id))
                .take(limit + 1)
                .collect()
        };
        let next = (ids.len() > limit).then(|| ids[limit]);
        ids.truncate(limit);
        (ids, next)
    }

    /// Every live id of a type (snapshots of small portals, tests).
    pub fn live_ids(&self, kind: ObjectType) -> Vec<u64> {
        let mut ids = Vec::new();
        let mut after = 0;
        loop {
            let (page, next) = self.list(kind, after, 10_000, false);
            ids.extend(page);
            match next {
                Some(next) => after = next,
                None => return ids,
            }
        }
    }

    pub fn owner(&self, id: u64) -> Option<&Owner> {
        self.owners.iter().find(|owner| owner.id == id)
    }

    pub fn add_owner(&mut self, email: &str, first_name: &str, last_name: &str) -> Owner {
        let index = self.owners.len() as u64;
        let mut owner = owners::owner(self.gen.seed, index);
        owner.email = email.to_string();
        owner.first_name = first_name.to_string();
        owner.last_name = last_name.to_string();
        owner.archived = false;
        owner.created_ms = time::now_ms();
        owner.updated_ms = owner.created_ms;
        self.owners.push(owner.clone());
        owner
    }

    /// Deactivates an owner; records keep pointing at its id.
    /// HubSpot: <https://developers.hubspot.com/docs/api-reference/latest/crm/owners/guide>
    pub fn archive_owner(&mut self, id: u64) -> bool {
        match self.owners.iter_mut().find(|owner| owner.id == id) {
            Some(owner) => {
                owner.archived = true;
                owner.updated_ms = time::now_ms();
                true
            }
            None => false,
        }
    }
}
