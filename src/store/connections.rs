//! The gateway's connections to HubSpot: small named values (the service connection, each
//! user's, preferences, pending Connect flows). Values are the caller's bytes; tokens in them
//! arrive sealed, so the store never holds a usable token. Names carry no portal: a
//! connection names its portal inside, and outlives a portal switch as a record of it.

use super::keys;
use super::Result;

pub struct Connections {
    tree: sled::Tree,
}

impl Connections {
    pub(super) fn open(db: &sled::Db) -> Result<Connections> {
        Ok(Connections {
            tree: db.open_tree(keys::CONNECTIONS_TREE)?,
        })
    }

    pub fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.get(name)?.map(|bytes| bytes.to_vec()))
    }

    /// Replaces the value (durable after the next `Store::commit`).
    pub fn put(&self, name: &str, value: &[u8]) -> Result<()> {
        self.tree.insert(name, value)?;
        Ok(())
    }

    /// Removes the value and returns it: of two callers taking one name, one gets it.
    pub fn take(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.remove(name)?.map(|bytes| bytes.to_vec()))
    }

    /// Every value whose name starts with `prefix`, in name order.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let mut found = Vec::new();
        for row in self.tree.scan_prefix(prefix) {
            let (name, value) = row?;
            found.push((String::from_utf8_lossy(&name).into_owned(), value.to_vec()));
        }
        Ok(found)
    }
}
