//! Associations: generated links between base records, overridden per (record, other type)
//! once an association is added or removed at runtime.

use std::collections::HashMap;

use super::Portal;
use crate::sim::kind::ObjectType;

/// (from type, from id, to type) -> the full list of associated ids.
pub type Overrides = HashMap<(ObjectType, u64, ObjectType), Vec<u64>>;

impl Portal {
    /// Ids associated to `id`, stored order, including targets that are archived.
    fn stored_associations(&self, from: ObjectType, id: u64, to: ObjectType) -> Vec<u64> {
        if let Some(list) = self.assoc.get(&(from, id, to)) {
            return list.clone();
        }
        let Some(index) = self.gen.ids(from).index(id) else {
            return Vec::new();
        };
        let to_ids = self.gen.ids(to);
        self.gen
            .links
            .of(from, index, to)
            .into_iter()
            .map(|other| to_ids.id(other))
            .collect()
    }

    /// Live associated ids of `to` type (archived and merged-away targets are hidden).
    pub fn associations(&self, from: ObjectType, id: u64, to: ObjectType) -> Vec<u64> {
        let mut ids = self.stored_associations(from, id, to);
        ids.retain(|other| self.table(to).is_live(*other));
        ids.sort_unstable();
        ids
    }

    /// Whether `a`–`b` is a primary association: the company is the contact's (or deal's)
    /// first company, as HubSpot makes the first company primary.
    pub fn is_primary(&self, a: (ObjectType, u64), b: (ObjectType, u64)) -> bool {
        use ObjectType::{Companies, Contacts, Deals};
        let (child, company) = match (a.0, b.0) {
            (Contacts | Deals, Companies) => (a, b.1),
            (Companies, Contacts | Deals) => (b, a.1),
            _ => return false,
        };
        self.associations(child.0, child.1, Companies).first() == Some(&company)
    }

    /// Adds or removes one association in both directions; false when nothing changed.
    pub(super) fn set_association(
        &mut self,
        from: (ObjectType, u64),
        to: (ObjectType, u64),
        present: bool,
    ) -> bool {
        let changed = self.edit_one(from, to, present);
        self.edit_one(to, from, present);
        changed
    }

    fn edit_one(&mut self, from: (ObjectType, u64), to: (ObjectType, u64), present: bool) -> bool {
        let mut list = self.stored_associations(from.0, from.1, to.0);
        let had = list.contains(&to.1);
        match (had, present) {
            (false, true) => list.push(to.1),
            (true, false) => list.retain(|other| *other != to.1),
            _ => return false,
        }
        self.assoc.insert((from.0, from.1, to.0), list);
        true
    }

    /// Moves every association of `loser` to `winner` (merge); returns the moved (type, id)s.
    pub(super) fn move_associations(&mut self, kind: ObjectType, loser: u64, winner: u64) -> usize {
        let mut moved = 0;
        for to in ObjectType::ALL {
            for other in self.stored_associations(kind, loser, to) {
                self.set_association((kind, loser), (to, other), false);
                if self.set_association((kind, winner), (to, other), true) {
                    moved += 1;
                }
            }
        }
        moved
    }
}
