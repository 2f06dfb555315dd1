//! Reference data: owners, pipelines, property definitions. The sync replaces them whole;
//! lookups read them. On PostgreSQL replacements are the leader's.

use std::sync::Arc;

use super::super::outbox::Notice;
use super::super::postgres;
use super::super::reference as on_sled;
use super::super::{Owner, Pipeline, PropertyDef, Result};
use super::Postgres;
use crate::object::ObjectType;

pub struct Reference {
    backend: Backend,
}

enum Backend {
    Sled(on_sled::Reference),
    Postgres(postgres::Reference, Postgres),
}

impl Reference {
    pub(in crate::store) fn sled(reference: on_sled::Reference) -> Reference {
        Reference {
            backend: Backend::Sled(reference),
        }
    }

    pub(in crate::store) fn postgres(pg: &Postgres) -> Reference {
        let reference = postgres::Reference::new(pg.database.clone());
        Reference {
            backend: Backend::Postgres(reference, pg.clone()),
        }
    }

    /// sled's reference data, owners in memory included (see `Store::erase_portal`).
    pub(in crate::store) fn on_sled(&self) -> Option<&on_sled::Reference> {
        match &self.backend {
            Backend::Sled(reference) => Some(reference),
            Backend::Postgres(..) => None,
        }
    }

    /// Replaces the portal's owners (active and archived) with `owners`.
    pub fn replace_owners(&self, portal: i64, owners: &[Owner]) -> Result<()> {
        self.replace_owners_notifying(portal, owners, &[], 0)
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
        match &self.backend {
            Backend::Sled(reference) => {
                reference.replace_owners_notifying(portal, owners, notices, now_ms)
            }
            Backend::Postgres(reference, pg) => {
                let notifying = (!notices.is_empty()).then_some((&pg.outbox, notices, now_ms));
                let fence = pg.fence()?;
                pg.wait(reference.replace_owners_notifying(fence, portal, owners, notifying))
            }
        }
    }

    pub fn owner(&self, portal: i64, id: i64) -> Result<Option<Owner>> {
        match &self.backend {
            Backend::Sled(reference) => reference.owner(portal, id),
            Backend::Postgres(reference, pg) => pg.wait(reference.owner(portal, id)),
        }
    }

    /// Like [`Reference::owner`], shared: sled answers from the owners it holds in memory.
    pub fn shared_owner(&self, portal: i64, id: i64) -> Result<Option<Arc<Owner>>> {
        match &self.backend {
            Backend::Sled(reference) => Ok(reference.shared_owner(portal, id)),
            // Every replica reads the leader's latest replacement.
            Backend::Postgres(reference, pg) => {
                Ok(pg.wait(reference.owner(portal, id))?.map(Arc::new))
            }
        }
    }

    pub fn owners(&self, portal: i64) -> Result<Vec<Owner>> {
        match &self.backend {
            Backend::Sled(reference) => reference.owners(portal),
            Backend::Postgres(reference, pg) => pg.wait(reference.owners(portal)),
        }
    }

    pub fn replace_pipelines(&self, portal: i64, pipelines: &[Pipeline]) -> Result<()> {
        match &self.backend {
            Backend::Sled(reference) => reference.replace_pipelines(portal, pipelines),
            Backend::Postgres(reference, pg) => {
                pg.wait(reference.replace_pipelines(pg.fence()?, portal, pipelines))
            }
        }
    }

    pub fn pipelines(&self, portal: i64) -> Result<Vec<Pipeline>> {
        match &self.backend {
            Backend::Sled(reference) => reference.pipelines(portal),
            Backend::Postgres(reference, pg) => pg.wait(reference.pipelines(portal)),
        }
    }

    pub fn replace_properties(
        &self,
        portal: i64,
        kind: ObjectType,
        properties: &[PropertyDef],
    ) -> Result<()> {
        match &self.backend {
            Backend::Sled(reference) => reference.replace_properties(portal, kind, properties),
            Backend::Postgres(reference, pg) => {
                pg.wait(reference.replace_properties(pg.fence()?, portal, kind, properties))
            }
        }
    }

    pub fn properties(&self, portal: i64, kind: ObjectType) -> Result<Vec<PropertyDef>> {
        match &self.backend {
            Backend::Sled(reference) => reference.properties(portal, kind),
            Backend::Postgres(reference, pg) => pg.wait(reference.properties(portal, kind)),
        }
    }
}
