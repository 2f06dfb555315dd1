//! Reference data that has no webhooks and is re-read periodically: owners, deal pipelines
//! and property definitions. Each set is replaced whole, so what HubSpot dropped goes too.
//!
//! Owners (hundreds to a few thousand per portal) are also kept in memory, loaded on open
//! and replaced together with the rows, so that lookups resolve a record's owner without a
//! read of the store.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::erase::remove_prefix;
use super::keys::{self, i64_key, named_key};
use super::outbox::{self, Notice, Outbox};
use super::record::{decode, encode, Owner, Pipeline, PropertyDef};
use super::{Error, Result};
use crate::object::ObjectType;
use sled::transaction::TransactionError;
use sled::Transactional;

pub struct Reference {
    owners: sled::Tree,
    pipelines: sled::Tree,
    properties: sled::Tree,
    /// Every stored owner: (portal, id) → owner. Equal to `owners` outside `replace_owners`.
    owner_table: RwLock<HashMap<(i64, i64), Arc<Owner>>>,
    /// Held while owners are replaced (rows, then table), so replacements do not interleave.
    replacing: Mutex<()>,
    outbox: Arc<Outbox>,
}

impl Reference {
    pub(super) fn open(db: &sled::Db, outbox: Arc<Outbox>) -> Result<Reference> {
        let owners = db.open_tree(keys::OWNERS_TREE)?;
        let mut table = HashMap::new();
        for row in owners.iter() {
            let (key, value) = row?;
            let owner: Owner = decode(&value)?;
            table.insert((keys::trailing_id(&key, 8)?, owner.id), Arc::new(owner));
        }
        Ok(Reference {
            owners,
            pipelines: db.open_tree(keys::PIPELINES_TREE)?,
            properties: db.open_tree(keys::PROPERTIES_TREE)?,
            owner_table: RwLock::new(table),
            replacing: Mutex::new(()),
            outbox,
        })
    }

    /// Like [`Reference::replace_owners`], also queueing `notices` (owners who left) in the
    /// outbox in the same transaction; `now_ms` stamps them.
    pub fn replace_owners_notifying(
        &self,
        portal: i64,
        owners: &[Owner],
        notices: &[Notice],
        now_ms: i64,
    ) -> Result<()> {
        let _replacing = self.replacing.lock();
        let prefix = i64_key(portal);
        let rows = owners
            .iter()
            .map(|owner| (owner_key(portal, owner.id), encode(owner)));
        let admitted = self.outbox.admit(notices);
        if admitted.is_empty() {
            replace(&self.owners, &prefix, rows)?;
        } else {
            // notify: the owners and the notices of those who left, in one transaction.
            let stale: Vec<sled::IVec> = self
                .owners
                .scan_prefix(prefix)
                .keys()
                .collect::<std::result::Result<_, _>>()?;
            let rows: Vec<(Vec<u8>, Vec<u8>)> = rows.collect();
            let outcome = (&self.owners, self.outbox.tree()).transaction(|(tree, queue)| {
                for key in &stale {
                    tree.remove(key)?;
                }
                for (key, value) in &rows {
                    tree.insert(&key[..], &value[..])?;
                }
                outbox::queue_in(queue, &admitted, now_ms)
            });
            outcome.map_err(|error: TransactionError<Error>| match error {
                TransactionError::Abort(error) => error,
                TransactionError::Storage(error) => Error::from(error),
            })?;
            self.outbox.committed(&admitted);
        }
        // Only once the rows are stored: a failed write leaves both as they were.
        let mut table = self.owner_table.write();
        table.retain(|(of, _), _| *of != portal);
        for owner in owners {
            table.insert((portal, owner.id), Arc::new(owner.clone()));
        }
        Ok(())
    }

    pub fn owner(&self, portal: i64, id: i64) -> Result<Option<Owner>> {
        Ok(self.shared_owner(portal, id).map(|owner| (*owner).clone()))
    }

    /// An owner from memory, shared (no copy, no read of the store).
    pub fn shared_owner(&self, portal: i64, id: i64) -> Option<Arc<Owner>> {
        self.owner_table.read().get(&(portal, id)).cloned()
    }

    /// Every owner of the portal, by id (from memory, like [`Reference::owner`]).
    pub fn owners(&self, portal: i64) -> Result<Vec<Owner>> {
        let mut owners: Vec<Owner> = self
            .owner_table
            .read()
            .iter()
            .filter(|((of, _), _)| *of == portal)
            .map(|(_, owner)| (**owner).clone())
            .collect();
        owners.sort_by_key(|owner| owner.id);
        Ok(owners)
    }

    pub fn replace_pipelines(&self, portal: i64, pipelines: &[Pipeline]) -> Result<()> {
        let rows = pipelines
            .iter()
            .map(|pipeline| (named_key(portal, None, &pipeline.id), encode(pipeline)));
        replace(&self.pipelines, &i64_key(portal), rows)
    }

    pub fn pipelines(&self, portal: i64) -> Result<Vec<Pipeline>> {
        scan(&self.pipelines, &i64_key(portal))
    }

    pub fn replace_properties(
        &self,
        portal: i64,
        kind: ObjectType,
        properties: &[PropertyDef],
    ) -> Result<()> {
        let prefix = named_key(portal, Some(kind.code()), "");
        let rows = properties.iter().map(|property| {
            (
                named_key(portal, Some(kind.code()), &property.name),
                encode(property),
            )
        });
        replace(&self.properties, &prefix, rows)
    }

    /// Every property definition of a type, by name.
    pub fn properties(&self, portal: i64, kind: ObjectType) -> Result<Vec<PropertyDef>> {
        scan(&self.properties, &named_key(portal, Some(kind.code()), ""))
    }

    /// Deletes the portal's owners (rows, then memory, as a replacement does), pipelines and
    /// property definitions (`Store::erase_portal`); how many rows.
    pub(super) fn erase(&self, portal: i64) -> Result<u64> {
        let _replacing = self.replacing.lock();
        let prefix = i64_key(portal);
        let mut deleted = 0;
        for tree in [&self.owners, &self.pipelines, &self.properties] {
            deleted += remove_prefix(tree, &prefix)?;
        }
        self.owner_table.write().retain(|(of, _), _| *of != portal);
        Ok(deleted)
    }
}

fn owner_key(portal: i64, id: i64) -> Vec<u8> {
    let mut key = i64_key(portal).to_vec();
    key.extend_from_slice(&i64_key(id));
    key
}

/// Replaces every row under `prefix` with `rows`, atomically.
fn replace(
    tree: &sled::Tree,
    prefix: &[u8],
    rows: impl Iterator<Item = (Vec<u8>, Vec<u8>)>,
) -> Result<()> {
    let mut batch = sled::Batch::default();
    for row in tree.scan_prefix(prefix) {
        batch.remove(row?.0);
    }
    for (key, value) in rows {
        batch.insert(key, value);
    }
    tree.apply_batch(batch)?;
    Ok(())
}

fn scan<T: serde::de::DeserializeOwned>(tree: &sled::Tree, prefix: &[u8]) -> Result<Vec<T>> {
    tree.scan_prefix(prefix)
        .map(|row| decode(&row?.1))
        .collect()
}
