//! Small named values: the connections to HubSpot (sealed tokens, preferences, pending
//! Connect flows) and, in another table, the gateway's settings (`Store::meta`). Any replica
//! writes them.

use super::super::connections as on_sled;
use super::super::postgres;
use super::super::Result;
use super::Postgres;

pub struct Connections {
    backend: Backend,
}

enum Backend {
    Sled(on_sled::Connections),
    Postgres(postgres::Connections, Postgres),
}

impl Connections {
    pub(in crate::store) fn sled(connections: on_sled::Connections) -> Connections {
        Connections {
            backend: Backend::Sled(connections),
        }
    }

    /// The connections' table on PostgreSQL.
    pub(in crate::store) fn postgres(pg: &Postgres) -> Connections {
        let connections = postgres::Connections::new(pg.database.clone());
        Connections {
            backend: Backend::Postgres(connections, pg.clone()),
        }
    }

    /// The settings' table on PostgreSQL.
    pub(in crate::store) fn postgres_settings(pg: &Postgres) -> Connections {
        let settings = postgres::Connections::settings(pg.database.clone());
        Connections {
            backend: Backend::Postgres(settings, pg.clone()),
        }
    }

    pub fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match &self.backend {
            Backend::Sled(connections) => connections.get(name),
            Backend::Postgres(connections, pg) => pg.wait(connections.get(name)),
        }
    }

    pub fn put(&self, name: &str, value: &[u8]) -> Result<()> {
        match &self.backend {
            Backend::Sled(connections) => connections.put(name, value),
            Backend::Postgres(connections, pg) => pg.wait(connections.put(name, value)),
        }
    }

    /// Removes the value and returns it: of two callers taking one name, one gets it.
    pub fn take(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match &self.backend {
            Backend::Sled(connections) => connections.take(name),
            Backend::Postgres(connections, pg) => pg.wait(connections.take(name)),
        }
    }

    /// Every value whose name starts with `prefix`, in name order.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        match &self.backend {
            Backend::Sled(connections) => connections.list(prefix),
            Backend::Postgres(connections, pg) => pg.wait(connections.list(prefix)),
        }
    }
}
