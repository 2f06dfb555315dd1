//! The store's front: one type per concept (the mirror, the inbox, reference data, first
//! matches and user mappings, export jobs, connections, journal cursors, the outbox), each
//! answering from whichever backend the store was opened on. The rest of the gateway sees only
//! these; sled's implementations sit beside this module, PostgreSQL's in `postgres`.
//!
//! On PostgreSQL the front waits for the database's futures: the callers are the same
//! synchronous code that reads sled, run by the daemon on its multi-threaded runtime (a
//! worker hands its other tasks on while it waits, see [`Postgres::wait`]). Writes that must
//! happen once carry the leader's fence; on a replica that does not lead they fail with
//! [`Error::NotLeader`](super::Error::NotLeader) before touching the database.

mod connections;
mod exports;
mod inbox;
mod journal;
mod mirror;
mod outbox;
mod ownership;
mod reference;

use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::watch;

use super::postgres::{self, Fence, Role};
use super::{Error, Result};

pub use connections::Connections;
pub use exports::Exports;
pub use inbox::{InboxStore, Window};
pub use journal::JournalCursors;
pub use mirror::{Mirror, Writing};
pub use outbox::Outbox;
pub use ownership::Ownership;
pub use reference::Reference;

/// What every PostgreSQL arm of the front shares: the database, this replica's role, and
/// the runtime that drives the database's connections. Cheap to clone.
#[derive(Clone)]
pub struct Postgres(Arc<Shared>);

pub struct Shared {
    pub database: postgres::Database,
    /// Notifications queued in the transactions of the changes that cause them.
    pub outbox: postgres::Outbox,
    role: watch::Receiver<Role>,
    runtime: Handle,
}

impl std::ops::Deref for Postgres {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Postgres {
    /// The front's view of `database` for a replica whose lease task publishes `role`.
    /// Called on the runtime that will drive the database.
    pub fn new(
        database: postgres::Database,
        outbox: postgres::Outbox,
        role: watch::Receiver<Role>,
    ) -> Postgres {
        Postgres(Arc::new(Shared {
            database,
            outbox,
            role,
            runtime: Handle::current(),
        }))
    }
}

impl Shared {
    /// The replica's role now.
    pub fn role(&self) -> Role {
        *self.role.borrow()
    }

    /// The fence of a write that must happen once; [`Error::NotLeader`] on a follower.
    fn fence(&self) -> Result<Fence> {
        self.role().fence().ok_or_else(|| {
            Error::NotLeader("this replica follows; the leader makes this change".into())
        })
    }

    /// Waits for `future` from synchronous code: on a runtime worker, after handing the
    /// worker's other tasks to another thread; on a blocking-pool or plain thread, directly.
    fn wait<T>(&self, future: impl Future<Output = postgres::Result<T>>) -> Result<T> {
        let result = match Handle::try_current() {
            Ok(_) => tokio::task::block_in_place(|| self.runtime.block_on(future)),
            Err(_) => self.runtime.block_on(future),
        };
        result.map_err(Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        let database = postgres::Database::new("postgresql://nobody@127.0.0.1:1/none", 1)
            .expect("a valid URL");
        let (_, role) = watch::channel(Role::Following);
        Shared {
            outbox: postgres::Outbox::unopened(database.clone()),
            database,
            role,
            runtime: Handle::current(),
        }
    }

    /// The front waits from a runtime worker, from the blocking pool and from a plain thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waits_from_every_kind_of_thread() {
        let pg = Arc::new(shared());
        let answer = || async {
            tokio::task::yield_now().await;
            Ok::<_, postgres::Error>(42)
        };
        assert_eq!(pg.wait(answer()).unwrap(), 42);
        let on_pool = pg.clone();
        let pooled = tokio::task::spawn_blocking(move || on_pool.wait(answer()).unwrap());
        assert_eq!(pooled.await.unwrap(), 42);
        let on_thread = pg.clone();
        let plain = std::thread::spawn(move || on_thread.wait(answer()).unwrap());
        assert_eq!(plain.join().unwrap(), 42);
        assert!(matches!(pg.fence(), Err(Error::NotLeader(_))), "a follower");
    }
}
