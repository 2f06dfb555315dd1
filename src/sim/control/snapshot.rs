//! `Control::snapshot`: the whole portal, for comparing a mirror against it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Control;
use crate::sim::gen::owners::Owner;
use crate::sim::kind::ObjectType;

/// One record in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotRecord {
    pub id: String,
    pub properties: BTreeMap<String, String>,
}

/// The whole portal, for comparing a mirror against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Live records per type, ascending id.
    pub objects: BTreeMap<ObjectType, Vec<SnapshotRecord>>,
    pub archived: BTreeMap<ObjectType, Vec<String>>,
    pub owners: Vec<Owner>,
    /// (from type, from id, to type, to id) for each live pair, both directions.
    pub associations: Vec<(ObjectType, String, ObjectType, String)>,
}

impl Control {
    /// Every live record, archived ids, owners and associations (meant for small portals).
    pub fn snapshot(&self) -> Snapshot {
        let portal = self.shared.portal.lock();
        let mut snapshot = Snapshot {
            objects: BTreeMap::new(),
            archived: BTreeMap::new(),
            owners: portal.owners.clone(),
            associations: Vec::new(),
        };
        for kind in ObjectType::ALL {
            let ids = portal.live_ids(kind);
            let records = ids.iter().filter_map(|id| portal.record(kind, *id));
            let records = records.map(|record| SnapshotRecord {
                id: record.id.to_string(),
                properties: record.properties,
            });
            snapshot.objects.insert(kind, records.collect());
            snapshot.archived.insert(
                kind,
                portal
                    .table(kind)
                    .archived
                    .iter()
                    .map(u64::to_string)
                    .collect(),
            );
            for id in ids {
                for to in ObjectType::ALL {
                    for other in portal.associations(kind, id, to) {
                        snapshot
                            .associations
                            .push((kind, id.to_string(), to, other.to_string()));
                    }
                }
            }
        }
        snapshot
    }
}
