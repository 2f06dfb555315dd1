//! What the ownership API keeps of its own: when each record was first matched by a lookup,
//! and the mapping of internal users (by email) to HubSpot owners.

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::keys::{self, record_key, type_prefix};
use super::record::{decode, encode};
use super::{Error, Result};
use crate::object::ObjectType;

/// How an internal user came to be mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MappingSource {
    Manual,
    Auto,
}

/// An internal user (by lower-case email) and the HubSpot owner their exports get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMapping {
    pub email: String,
    /// `None`: known but unmapped (no owner had the email when auto-mapping ran).
    pub owner_id: Option<i64>,
    pub source: MappingSource,
}

pub struct Ownership {
    matches: sled::Tree,
    counts: sled::Tree,
    user_map: sled::Tree,
}

impl Ownership {
    pub(super) fn open(db: &sled::Db) -> Result<Ownership> {
        Ok(Ownership {
            matches: db.open_tree(keys::MATCHES_TREE)?,
            counts: db.open_tree(keys::COUNTS_TREE)?,
            user_map: db.open_tree(keys::USER_MAP_TREE)?,
        })
    }

    /// When this record was first matched; records `now_ms` if it never was.
    pub fn matched_at(&self, portal: i64, kind: ObjectType, id: i64, now_ms: i64) -> Result<i64> {
        let key = record_key(portal, kind.code(), id);
        if let Some(bytes) = self.matches.get(key)? {
            return Ok(keys::u64_from(&bytes)? as i64);
        }
        let counter = matched_counter(portal, kind);
        let outcome = (&self.matches, &self.counts).transaction(|(matches, counts)| {
            if let Some(bytes) = matches.get(key)? {
                return Ok(
                    keys::u64_from(&bytes).map_err(ConflictableTransactionError::Abort)? as i64,
                );
            }
            matches.insert(&key[..], &(now_ms as u64).to_be_bytes()[..])?;
            let count = match counts.get(&counter)? {
                Some(bytes) => {
                    keys::u64_from(&bytes).map_err(ConflictableTransactionError::Abort)?
                }
                None => 0,
            };
            counts.insert(&counter[..], &(count + 1).to_be_bytes()[..])?;
            Ok(now_ms)
        });
        outcome.map_err(|error| match error {
            TransactionError::Abort(error) => error,
            TransactionError::Storage(error) => Error::from(error),
        })
    }

    /// Records of `kind` matched at least once.
    pub fn matched_count(&self, portal: i64, kind: ObjectType) -> Result<u64> {
        match self.counts.get(matched_counter(portal, kind))? {
            Some(bytes) => keys::u64_from(&bytes),
            None => Ok(0),
        }
    }

    /// Forgets every recorded match of `kind`; returns how many there were.
    pub fn clear_matches(&self, portal: i64, kind: ObjectType) -> Result<u64> {
        let mut batch = sled::Batch::default();
        let mut cleared = 0;
        for row in self.matches.scan_prefix(type_prefix(portal, kind.code())) {
            batch.remove(row?.0);
            cleared += 1;
        }
        self.matches.apply_batch(batch)?;
        self.counts.remove(matched_counter(portal, kind))?;
        Ok(cleared)
    }

    // User mappings describe the internal users, so they are kept across portals (unlike
    // every other key, they carry no portal id): after a switch, `reset` drops those whose
    // owner the new portal does not have.

    pub fn mappings(&self) -> Result<Vec<UserMapping>> {
        self.user_map.iter().map(|row| decode(&row?.1)).collect()
    }

    pub fn mapping(&self, email: &str) -> Result<Option<UserMapping>> {
        self.user_map
            .get(email)?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    pub fn set_mapping(&self, mapping: &UserMapping) -> Result<()> {
        self.user_map
            .insert(mapping.email.as_bytes(), encode(mapping))?;
        Ok(())
    }

    /// Removes a mapping; whether there was one.
    pub fn remove_mapping(&self, email: &str) -> Result<bool> {
        Ok(self.user_map.remove(email)?.is_some())
    }
}

fn matched_counter(portal: i64, kind: ObjectType) -> Vec<u8> {
    let mut key = b"matched".to_vec();
    key.extend_from_slice(&type_prefix(portal, kind.code()));
    key
}
