//! The overlay of one object type: what changed relative to the generated base records.

use std::collections::{BTreeSet, HashMap};

use super::Record;
use crate::sim::gen::IdSpace;

/// The state of a record that differs from its generated base (or was created at runtime).
#[derive(Debug, Clone)]
pub enum Entry {
    /// Materialised: mutated, created, or archived (`archived_ms` set).
    Live(Box<Record>),
    /// Merged into another record (the survivor's id).
    Merged(u64),
    /// Permanently deleted (GDPR): gone from every endpoint, archived lists included.
    Purged,
}

pub struct Table {
    pub ids: IdSpace,
    pub entries: HashMap<u64, Entry>,
    /// The entries search sees: `entries` as they were `search_lag_ms` ago.
    pub indexed: HashMap<u64, Entry>,
    /// Ids created at runtime, ascending (all above every base id).
    pub created: BTreeSet<u64>,
    pub archived: BTreeSet<u64>,
    /// Contacts: lowercase email -> id, for overlay records (base emails map back by parsing).
    pub emails: HashMap<String, u64>,
    pub next_id: u64,
}

impl Table {
    pub fn new(ids: IdSpace) -> Table {
        Table {
            ids,
            entries: HashMap::new(),
            indexed: HashMap::new(),
            created: BTreeSet::new(),
            archived: BTreeSet::new(),
            emails: HashMap::new(),
            next_id: ids.first_created_id(),
        }
    }

    /// Listed by default: exists, not archived, not merged away, not purged.
    pub fn is_live(&self, id: u64) -> bool {
        match self.entries.get(&id) {
            Some(Entry::Live(record)) => record.archived_ms.is_none(),
            Some(_) => false,
            None => self.ids.index(id).is_some(),
        }
    }

    pub fn allocate_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}
