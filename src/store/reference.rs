//! Reference data that has no webhooks and is re-read periodically: owners, deal pipelines
//! and property definitions. Each set is replaced whole, so what HubSpot dropped goes too.

use super::keys::{self, i64_key, named_key};
use super::record::{decode, encode, Owner, Pipeline, PropertyDef};
use super::Result;
use crate::object::ObjectType;

pub struct Reference {
    owners: sled::Tree,
    pipelines: sled::Tree,
    properties: sled::Tree,
}

impl Reference {
    pub(super) fn open(db: &sled::Db) -> Result<Reference> {
        Ok(Reference {
            owners: db.open_tree(keys::OWNERS_TREE)?,
            pipelines: db.open_tree(keys::PIPELINES_TREE)?,
            properties: db.open_tree(keys::PROPERTIES_TREE)?,
        })
    }

    /// Replaces the portal's owners (active and archived) with `owners`.
    pub fn replace_owners(&self, portal: i64, owners: &[Owner]) -> Result<()> {
        let prefix = i64_key(portal);
        let rows = owners
            .iter()
            .map(|owner| (owner_key(portal, owner.id), encode(owner)));
        replace(&self.owners, &prefix, rows)
    }

    pub fn owner(&self, portal: i64, id: i64) -> Result<Option<Owner>> {
        self.owners
            .get(owner_key(portal, id))?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Every owner of the portal, by id.
    pub fn owners(&self, portal: i64) -> Result<Vec<Owner>> {
        scan(&self.owners, &i64_key(portal))
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
