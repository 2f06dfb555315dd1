//! The Webhooks Journal's cursors, one per portal. They move in the commit that stores the
//! events they read (`Store::store_group`); here they are read and annotated.

use super::super::journal as on_sled;
use super::super::postgres;
use super::super::{JournalCursor, Result};
use super::Postgres;

pub struct JournalCursors {
    backend: Backend,
}

enum Backend {
    Sled(on_sled::JournalCursors),
    Postgres(postgres::Inbox, Postgres),
}

impl JournalCursors {
    pub(in crate::store) fn sled(cursors: on_sled::JournalCursors) -> JournalCursors {
        JournalCursors {
            backend: Backend::Sled(cursors),
        }
    }

    pub(in crate::store) fn postgres(pg: &Postgres) -> JournalCursors {
        let inbox = postgres::Inbox::new(pg.database.clone());
        JournalCursors {
            backend: Backend::Postgres(inbox, pg.clone()),
        }
    }

    pub(in crate::store) fn on_sled(&self) -> Option<&on_sled::JournalCursors> {
        match &self.backend {
            Backend::Sled(cursors) => Some(cursors),
            Backend::Postgres(..) => None,
        }
    }

    /// The cursor of `portal`, if its journal was ever read.
    pub fn get(&self, portal: i64) -> Result<Option<JournalCursor>> {
        match &self.backend {
            Backend::Sled(cursors) => cursors.get(portal),
            Backend::Postgres(inbox, pg) => pg.wait(inbox.journal_cursor(portal)),
        }
    }

    /// Every portal's cursor (status sums them).
    pub fn all(&self) -> Result<Vec<(i64, JournalCursor)>> {
        match &self.backend {
            Backend::Sled(cursors) => cursors.all(),
            Backend::Postgres(inbox, pg) => pg.wait(inbox.journal_cursors()),
        }
    }

    /// Replaces the position of `portal`'s cursor without moving it (the consumer's own
    /// bookkeeping between moves). The leader's on PostgreSQL.
    pub fn annotate(&self, portal: i64, position: &[u8]) -> Result<()> {
        match &self.backend {
            Backend::Sled(cursors) => cursors.annotate(portal, position),
            Backend::Postgres(inbox, pg) => {
                pg.wait(inbox.annotate_journal(pg.fence()?, portal, position))
            }
        }
    }
}
