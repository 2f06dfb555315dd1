//! What the ownership API keeps of its own: first matches and the user ↔ owner mappings.
//!
//! sled answers a first match from memory and writes it behind the request path
//! (`Store::write_matches`). Replicas on PostgreSQL cannot: two of them would each answer
//! their own time for one record. There a first match is stored before it is answered, in
//! one transaction that returns the time the table holds (its own, or the one another replica
//! stored first).

use parking_lot::RwLock;
use std::sync::Arc;

use super::super::ownership as on_sled;
use super::super::postgres;
use super::super::{FirstMatchNotice, Result, UserMapping};
use super::Postgres;
use crate::object::ObjectType;

pub struct Ownership {
    backend: Backend,
}

enum Backend {
    Sled(on_sled::Ownership),
    Postgres {
        matches: postgres::Matches,
        mappings: postgres::Reference,
        pg: Postgres,
        /// What a first match notifies (`Outbox::set_first_match`).
        first_match: Arc<RwLock<Option<FirstMatchNotice>>>,
    },
}

impl Ownership {
    pub(in crate::store) fn sled(ownership: on_sled::Ownership) -> Ownership {
        Ownership {
            backend: Backend::Sled(ownership),
        }
    }

    pub(in crate::store) fn postgres(
        pg: &Postgres,
        first_match: Arc<RwLock<Option<FirstMatchNotice>>>,
    ) -> Ownership {
        Ownership {
            backend: Backend::Postgres {
                matches: postgres::Matches::new(pg.database.clone()),
                mappings: postgres::Reference::new(pg.database.clone()),
                pg: pg.clone(),
                first_match,
            },
        }
    }

    /// sled's part, whose first matches wait in memory for `Store::write_matches`.
    pub(in crate::store) fn on_sled(&self) -> Option<&on_sled::Ownership> {
        match &self.backend {
            Backend::Sled(ownership) => Some(ownership),
            Backend::Postgres { .. } => None,
        }
    }

    /// When this record was first matched; if it never was, `now_ms` becomes that time.
    pub fn matched_at(&self, portal: i64, kind: ObjectType, id: i64, now_ms: i64) -> Result<i64> {
        match &self.backend {
            Backend::Sled(ownership) => ownership.matched_at(portal, kind, id, now_ms),
            Backend::Postgres {
                matches,
                pg,
                first_match,
                ..
            } => {
                let notice = first_match.read().clone();
                let notifying = notice.as_ref().map(|notice| (&pg.outbox, notice));
                let found = [(kind, id, now_ms)];
                let stored = pg.wait(matches.store_notifying(portal, &found, notifying))?;
                Ok(stored.first().copied().unwrap_or(now_ms))
            }
        }
    }

    /// Records of `kind` matched at least once.
    pub fn matched_count(&self, portal: i64, kind: ObjectType) -> Result<u64> {
        match &self.backend {
            Backend::Sled(ownership) => ownership.matched_count(portal, kind),
            Backend::Postgres { matches, pg, .. } => pg.wait(matches.matched_count(portal, kind)),
        }
    }

    /// Records of `kind` first matched in `[from_ms, to_ms)`, as (id, matched at), oldest
    /// first.
    pub fn matched_between(
        &self,
        portal: i64,
        kind: ObjectType,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(i64, i64)>> {
        match &self.backend {
            Backend::Sled(ownership) => Ok(ownership.matched_between(portal, kind, from_ms, to_ms)),
            Backend::Postgres { matches, pg, .. } => {
                pg.wait(matches.matched_between(portal, kind, from_ms, to_ms))
            }
        }
    }

    /// Forgets every recorded match of `kind`; returns how many there were.
    pub fn clear_matches(&self, portal: i64, kind: ObjectType) -> Result<u64> {
        match &self.backend {
            Backend::Sled(ownership) => ownership.clear_matches(portal, kind),
            Backend::Postgres { matches, pg, .. } => pg.wait(matches.clear(portal, kind)),
        }
    }

    /// Forgets the first match of one record (a privacy deletion); whether there was one.
    pub fn forget_match(&self, portal: i64, kind: ObjectType, id: i64) -> Result<bool> {
        match &self.backend {
            Backend::Sled(ownership) => ownership.forget_match(portal, kind, id),
            Backend::Postgres { matches, pg, .. } => pg.wait(matches.forget(portal, kind, id)),
        }
    }

    /// The user mappings of `portal`.
    pub fn mappings(&self, portal: i64) -> Result<Vec<UserMapping>> {
        match &self.backend {
            Backend::Sled(ownership) => ownership.mappings(portal),
            Backend::Postgres { mappings, pg, .. } => pg.wait(mappings.mappings(portal)),
        }
    }

    pub fn mapping(&self, portal: i64, email: &str) -> Result<Option<UserMapping>> {
        match &self.backend {
            Backend::Sled(ownership) => ownership.mapping(portal, email),
            Backend::Postgres { mappings, pg, .. } => pg.wait(mappings.mapping(portal, email)),
        }
    }

    pub fn set_mapping(&self, portal: i64, mapping: &UserMapping) -> Result<()> {
        match &self.backend {
            Backend::Sled(ownership) => ownership.set_mapping(portal, mapping),
            Backend::Postgres { mappings, pg, .. } => {
                pg.wait(mappings.set_mapping(portal, mapping))
            }
        }
    }

    /// Removes the mapping of `email` in `portal`; whether there was one.
    pub fn remove_mapping(&self, portal: i64, email: &str) -> Result<bool> {
        match &self.backend {
            Backend::Sled(ownership) => ownership.remove_mapping(portal, email),
            Backend::Postgres { mappings, pg, .. } => {
                pg.wait(mappings.remove_mapping(portal, email))
            }
        }
    }

    /// Files the user mappings of `from` under `to` (`None`: those stored before mappings
    /// carried a portal, which are the first portal's); a mapping `to` has already stays.
    /// How many were moved.
    pub fn move_mappings(&self, from: Option<i64>, to: i64) -> Result<u64> {
        match &self.backend {
            Backend::Sled(ownership) => ownership.move_mappings(from, to),
            Backend::Postgres { mappings, pg, .. } => pg.wait(mappings.move_mappings(from, to)),
        }
    }
}
