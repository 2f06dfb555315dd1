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

use tokio::runtime::{Handle, RuntimeFlavor};
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
    /// This replica's name (its lease's, and its row of the inbox's counters).
    pub replica: String,
    role: watch::Receiver<Role>,
    driver: Driver,
}

impl std::ops::Deref for Postgres {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Postgres {
    /// The front's view of `database` for `replica`, whose lease task publishes `role`:
    /// creates the schema or upgrades an older one first (refusing a newer one).
    pub fn open(
        database: postgres::Database,
        replica: &str,
        role: watch::Receiver<Role>,
    ) -> Result<(Postgres, postgres::Migrated)> {
        let driver = Driver::start()?;
        let (migrated, outbox) = driver.wait(async {
            let migrated = database.migrate().await?;
            Ok((migrated, postgres::Outbox::open(database.clone()).await?))
        })?;
        let shared = Shared {
            database,
            outbox,
            replica: replica.to_owned(),
            role,
            driver,
        };
        Ok((Postgres(Arc::new(shared)), migrated))
    }
}

impl Shared {
    /// The replica's role as it changes.
    pub fn roles(&self) -> watch::Receiver<Role> {
        self.role.clone()
    }

    /// The replica's role now.
    pub fn role(&self) -> Role {
        *self.role.borrow()
    }

    /// The fence of a write that must happen once; [`Error::NotLeader`] on a follower.
    pub(in crate::store) fn fence(&self) -> Result<Fence> {
        self.role().fence().ok_or_else(|| {
            Error::NotLeader("this replica follows; the leader makes this change".into())
        })
    }

    pub(in crate::store) fn wait<T: Send>(
        &self,
        future: impl Future<Output = postgres::Result<T>> + Send,
    ) -> Result<T> {
        self.driver.wait(future)
    }
}

/// A runtime of its own, on its own thread, that drives the database's connections (their
/// I/O and the tasks of the pool). A caller waiting for the database then never depends on
/// the daemon's workers, which may all be busy, or blocked on a lock the caller holds.
struct Driver(Option<tokio::runtime::Runtime>);

impl Driver {
    fn start() -> Result<Driver> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("gateway-database")
            .enable_all()
            .build()?;
        Ok(Driver(Some(runtime)))
    }

    /// Waits for `future` from synchronous code: on a worker of a multi-threaded runtime
    /// (the daemon's), after handing the worker's other tasks to another thread; on a
    /// blocking-pool or plain thread, directly. The future runs in this runtime's context, so
    /// connections it opens are driven here. On a single-threaded runtime (tests), which
    /// cannot hand its tasks on, the future runs on a thread of its own while the caller's
    /// thread waits: nothing the future needs runs on that thread.
    fn wait<T: Send>(&self, future: impl Future<Output = postgres::Result<T>> + Send) -> Result<T> {
        let Some(runtime) = &self.0 else {
            unreachable!("the runtime is only taken when the driver is dropped");
        };
        let result = match Handle::try_current().map(|caller| caller.runtime_flavor()) {
            Ok(RuntimeFlavor::CurrentThread) => std::thread::scope(|scope| {
                let waiting = scope.spawn(|| runtime.block_on(future));
                waiting
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }),
            Ok(_) => tokio::task::block_in_place(|| runtime.block_on(future)),
            Err(_) => runtime.block_on(future),
        };
        result.map_err(Error::from)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Dropped wherever the last store handle goes, maybe on an async worker, where a
        // runtime may not block to shut down.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The driver waits from a runtime worker, from the blocking pool and from a plain
    /// thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waits_from_every_kind_of_thread() {
        let driver = Arc::new(Driver::start().unwrap());
        let answer = || async {
            tokio::task::yield_now().await;
            Ok::<_, postgres::Error>(42)
        };
        assert_eq!(driver.wait(answer()).unwrap(), 42);
        let on_pool = driver.clone();
        let pooled = tokio::task::spawn_blocking(move || on_pool.wait(answer()).unwrap());
        assert_eq!(pooled.await.unwrap(), 42);
        let on_thread = driver.clone();
        let plain = std::thread::spawn(move || on_thread.wait(answer()).unwrap());
        assert_eq!(plain.join().unwrap(), 42);
    }

    /// On a single-threaded runtime (as in tests) the driver waits too.
    #[tokio::test]
    async fn waits_on_a_single_threaded_runtime() {
        let driver = Driver::start().unwrap();
        let answered = driver.wait(async {
            tokio::task::yield_now().await;
            Ok::<_, postgres::Error>(42)
        });
        assert_eq!(answered.unwrap(), 42);
    }

    /// A caller holding a lock that every worker of the daemon's runtime waits for still
    /// gets its answer: the database's side does not need those workers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_caller_does_not_need_the_daemons_workers() {
        let driver = Arc::new(Driver::start().unwrap());
        let lock = Arc::new(parking_lot::Mutex::new(()));
        let held = lock.lock();
        // Both workers block on the lock (as request handlers might).
        let blocked: Vec<_> = (0..2)
            .map(|_| {
                let lock = lock.clone();
                tokio::spawn(async move { drop(lock.lock()) })
            })
            .collect();
        // What the database's connection tasks do: run on the driver's runtime.
        let answered = driver.wait(async {
            let spawned = tokio::spawn(async { 6 * 7 });
            Ok::<_, postgres::Error>(spawned.await.unwrap_or(0))
        });
        assert_eq!(answered.unwrap(), 42);
        drop(held);
        for task in blocked {
            task.await.unwrap();
        }
    }
}
