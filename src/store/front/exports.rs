//! Durable export jobs: a header and record rows per job; a sealed row records that its
//! record was created in HubSpot. On PostgreSQL ids come from a sequence every replica
//! shares, and changes to rows that may be sealed are the leader's.

use super::super::exports as on_sled;
use super::super::postgres;
use super::super::Result;
use super::Postgres;

pub struct Exports {
    backend: Backend,
}

enum Backend {
    Sled(on_sled::Exports),
    Postgres(postgres::Exports, Postgres),
}

type Rows = [(u32, Vec<u8>)];

impl Exports {
    pub(in crate::store) fn sled(exports: on_sled::Exports) -> Exports {
        Exports {
            backend: Backend::Sled(exports),
        }
    }

    pub(in crate::store) fn postgres(pg: &Postgres) -> Exports {
        let exports = postgres::Exports::new(pg.database.clone());
        Exports {
            backend: Backend::Postgres(exports, pg.clone()),
        }
    }

    pub(in crate::store) fn on_sled(&self) -> Option<&on_sled::Exports> {
        match &self.backend {
            Backend::Sled(exports) => Some(exports),
            Backend::Postgres(..) => None,
        }
    }

    /// A new job id, never handed out before.
    pub fn next_id(&self) -> Result<u64> {
        match &self.backend {
            Backend::Sled(exports) => exports.next_id(),
            Backend::Postgres(exports, pg) => pg.wait(exports.next_id()),
        }
    }

    /// Writes a job header and any record rows in one transaction.
    pub fn write(&self, portal: i64, id: u64, header: Option<&[u8]>, rows: &Rows) -> Result<()> {
        match &self.backend {
            Backend::Sled(exports) => exports.write(portal, id, header, rows),
            Backend::Postgres(exports, pg) => pg.wait(exports.write(portal, id, header, rows)),
        }
    }

    pub fn header(&self, portal: i64, id: u64) -> Result<Option<Vec<u8>>> {
        match &self.backend {
            Backend::Sled(exports) => exports.header(portal, id),
            Backend::Postgres(exports, pg) => pg.wait(exports.header(portal, id)),
        }
    }

    /// The newest `limit` job headers of the portal, newest first.
    pub fn headers(&self, portal: i64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        match &self.backend {
            Backend::Sled(exports) => exports.headers(portal, limit),
            Backend::Postgres(exports, pg) => pg.wait(exports.headers(portal, limit)),
        }
    }

    pub fn rows(&self, portal: i64, id: u64) -> Result<Vec<(u32, Vec<u8>)>> {
        match &self.backend {
            Backend::Sled(exports) => exports.rows(portal, id),
            Backend::Postgres(exports, pg) => pg.wait(exports.rows(portal, id)),
        }
    }

    /// Replaces rows that are not sealed; returns how many it replaced.
    pub fn update_rows(&self, portal: i64, id: u64, rows: &Rows) -> Result<usize> {
        match &self.backend {
            Backend::Sled(exports) => exports.update_rows(portal, id, rows),
            Backend::Postgres(exports, pg) => {
                pg.wait(exports.update_rows(pg.fence()?, portal, id, rows))
            }
        }
    }

    /// Writes rows and seals them, in one transaction.
    pub fn seal_rows(&self, portal: i64, id: u64, rows: &Rows) -> Result<()> {
        match &self.backend {
            Backend::Sled(exports) => exports.seal_rows(portal, id, rows),
            Backend::Postgres(exports, pg) => {
                pg.wait(exports.seal_rows(pg.fence()?, portal, id, rows))
            }
        }
    }

    /// Rows sealed so far: since the store was opened on sled, ever on PostgreSQL.
    pub fn seals(&self) -> Result<u64> {
        match &self.backend {
            Backend::Sled(exports) => Ok(exports.seals()),
            Backend::Postgres(exports, pg) => pg.wait(exports.seals()),
        }
    }

    /// Indexes of the job's sealed rows, in order.
    pub fn sealed(&self, portal: i64, id: u64) -> Result<Vec<u32>> {
        match &self.backend {
            Backend::Sled(exports) => exports.sealed(portal, id),
            Backend::Postgres(exports, pg) => pg.wait(exports.sealed(portal, id)),
        }
    }

    /// Deletes a job with its rows.
    pub fn remove(&self, portal: i64, id: u64) -> Result<()> {
        match &self.backend {
            Backend::Sled(exports) => exports.remove(portal, id),
            Backend::Postgres(exports, pg) => pg.wait(exports.remove(pg.fence()?, portal, id)),
        }
    }
}
