//! The embedded store: the only module that touches sled. It knows nothing of HTTP or of
//! HubSpot's JSON; callers hand it keys, bytes and plain structs.
//!
//! Durability: [`Store::commit`] flushes sled's log and then fdatasyncs the data file, because
//! sled 0.34's `flush()` ends in `sync_file_range`, which survives a process crash but not a
//! power loss. Segments are 8 MiB and inbox events at most [`MAX_EVENT_BYTES`] so that no
//! inbox log item (limit: a quarter segment) goes to sled's `blobs/` directory, whose files
//! sled never fsyncs.
//!
//! Acknowledged data: every commit that precedes an acknowledgement (a webhook's 204, an
//! export job's 202) also records what it makes durable in the [`ledger`], a small fsynced
//! file beside sled's. [`Store::open`] refuses a store that lacks what its ledger records
//! (a damaged `db`, a partial restore) and drops inbox chunks stored after the last
//! acknowledged one (a refused batch, a crash before the answer).
//!
//! Failure: sled 0.34 keeps its first I/O error and fails every later write and flush, even
//! once the disk has room again. [`Store::commit`] and [`Store::check`] therefore record the
//! first I/O error they meet ([`Store::failure`]); the daemon then turns not-ready and exits
//! for a restart.

mod audit;
mod connections;
mod erase;
mod exports;
mod front;
mod inbox;
mod journal;
mod keys;
pub mod ledger;
mod mirror;
mod open;
mod outbox;
mod ownership;
pub mod postgres;
mod record;
mod reference;
mod verify;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use sled::transaction::TransactionError;

use crate::object::ObjectType;

pub use erase::Erased;
pub use front::{
    Connections, Exports, InboxStore, JournalCursors, Mirror, Outbox, Ownership, Reference, Window,
    Writing,
};
pub use inbox::{
    AppendOutcome, Appending, InboxCounters, NewEvent, Position, StoredEvent, ERASED,
    MAX_EVENT_BYTES,
};
pub use journal::{CursorMove, JournalCursor};
use ledger::{Acknowledged, Ledger};
pub use mirror::Write;
pub use open::open_db;
pub use outbox::{FirstMatchNotice, Notice, Notification, QueueStatus, Settled, Subject};
pub use ownership::{MappingSource, UserMapping};
pub use postgres::Role;
pub use record::{
    Brief, Owner, Pipeline, PropertyDef, Record, Stage, StageEntry, Team, Term, TermKind,
};
pub use verify::{verify, Verified};

/// The on-disk format this build writes; older formats are migrated on open.
/// 1: the first. 2: adds `briefs.v1` (built from the records on open). 3: the domain, email
/// and name rows of `index.v1` become id lists in `terms.v1`. 4: the inbox's dedup check reads
/// one digest row per chunk (`inbox_digests.v1`) instead of a row per event (`inbox_ids.v1`).
pub const FORMAT_VERSION: u32 = 4;
const SEGMENT_SIZE: usize = 8 << 20;
/// How often sled's flusher thread wakes (sled's default: 500 ms). Each tick it runs sled's
/// segment cleaner, which on a store with data never runs out of work: it rewrites about
/// one segment per tick for as long as the process lives (at 500 ms, 16 MiB/s of disk writes
/// and ~3.5 % of a core on an idle gateway with 120k or 2.8M records, and indicator requests
/// slowed by it; docs/bench/backfill.md). What must be durable does not wait for this
/// thread: `Store::commit` flushes and syncs, and the daemon flushes sled's log every
/// 250 ms. Turning the thread off altogether once hung a backfill, so it stays, seldom.
const SLED_FLUSHER_TICK_MS: u64 = 60_000;
/// sled's page cache when the config sets no `store.cache_mb` (sled's own default is 1 GiB).
pub const DEFAULT_CACHE_MB: u64 = 256;

/// Keeps this process on regular pages, for a process that runs the store (the daemon, and
/// the benchmarks whose figures must be the daemon's). mimalloc asks for transparent huge
/// pages for its arenas: each first touch of one then zeroes 2 MiB, which cost a backfill
/// about 15 % of its CPU (sled's log buffers are fresh memory all the time) and ~40 % more
/// RSS. Regular pages are zeroed as used.
pub fn use_regular_pages() {
    // SAFETY: prctl(PR_SET_THP_DISABLE) only sets a flag on this process's memory map.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the store at {path} is in use by another process")]
    Locked { path: PathBuf },
    #[error("the store at {path} has format {found}, newer than this build's {FORMAT_VERSION}")]
    TooNew { path: PathBuf, found: u32 },
    #[error(
        "the store at {path} has format {found}, which only the daemon's commands upgrade \
         (open it with `hubspot-gateway serve` once)"
    )]
    NeedsUpgrade { path: PathBuf, found: u32 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// On PostgreSQL: a write that must happen once, asked of a replica that does not lead.
    #[error("not the leader: {0}")]
    NotLeader(String),
    /// On PostgreSQL: the database answered with an error (a schema of another version, a
    /// constraint, a permission).
    #[error("{0}")]
    Database(String),
    #[error(
        "the store at {path} lacks data the gateway acknowledged: {}. It was not opened. \
         {RECOVERY}",
        missing.join("; ")
    )]
    Behind { path: PathBuf, missing: Vec<String> },
    #[error(
        "the store at {path} cannot be checked: its ledger file ({}) is damaged: {reason}. It \
         was not opened. If the store is known to be complete (say, a copy just restored), \
         delete that file and start again: it is written anew from the store. Otherwise \
         {RECOVERY_LOWER}",
        path.join(ledger::FILE_NAME).display()
    )]
    LedgerDamaged { path: PathBuf, reason: String },
}

/// How to recover a store that lost acknowledged data (README, "Recovering a damaged store").
const RECOVERY: &str = "To recover, restore a copy of the whole store directory taken while \
    the gateway was stopped, or move the directory aside and start on an empty one (the \
    backfill reads the mirror again from HubSpot; webhooks acknowledged since are lost). \
    `hubspot-gateway store verify` checks a store without starting (README, \"Recovering a \
    damaged store\").";
const RECOVERY_LOWER: &str = "restore a copy of the whole store directory taken while the \
    gateway was stopped, or move the directory aside and start on an empty one (README, \
    \"Recovering a damaged store\").";

impl From<sled::Error> for Error {
    fn from(error: sled::Error) -> Self {
        match error {
            sled::Error::Corruption { .. } => Error::Corrupt(error.to_string()),
            other => Error::Unavailable(other.to_string()),
        }
    }
}

/// The one reading of a failed sled transaction: an abort carries this module's error,
/// anything else is storage.
impl From<TransactionError<Error>> for Error {
    fn from(error: TransactionError<Error>) -> Self {
        match error {
            TransactionError::Abort(error) => error,
            TransactionError::Storage(error) => Error::from(error),
        }
    }
}

impl From<postgres::Error> for Error {
    fn from(error: postgres::Error) -> Self {
        match error {
            postgres::Error::Unavailable(_) => Error::Unavailable(error.to_string()),
            postgres::Error::Fenced { .. } => Error::NotLeader(error.to_string()),
            other => Error::Database(other.to_string()),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Error::Unavailable(error.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// How a record's brief is derived (`ownership::brief`). The store keeps briefs but cannot
/// derive one, knowing no property names: opening a store written before briefs existed
/// needs this from the caller.
pub type BriefOf = fn(ObjectType, &Record) -> Brief;

/// A handle to the open store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    inbox: InboxStore,
    mirror: Mirror,
    reference: Reference,
    ownership: Ownership,
    exports: Exports,
    connections: Connections,
    journal: JournalCursors,
    /// Notifications to internal services, queued with the changes that cause them.
    outbox: Outbox,
    engine: Engine,
}

/// What a backend needs beyond the fronts: sled's files and ledger, or the database.
enum Engine {
    Sled(Embedded),
    Postgres {
        pg: front::Postgres,
        /// The gateway's own small named values (sled's `meta` tree).
        settings: Connections,
    },
}

struct Embedded {
    db: sled::Db,
    /// Opened once: fdatasync after each flush makes a commit survive power loss.
    data_file: File,
    /// What has been acknowledged; written after each commit that makes more of it durable.
    ledger: Ledger,
    path: PathBuf,
    /// The first I/O error a commit or check met; sled fails every write after it.
    failure: OnceLock<String>,
}

/// A group of inbox events made durable by [`Store::store_events`], through its last chunk;
/// acknowledged once passed to [`Store::acknowledge`]. On PostgreSQL its commit was the
/// acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Durable {
    seq: u64,
    events: u64,
}

impl Store {
    /// The store on PostgreSQL of `replica`, whose lease task publishes `role`; creates the
    /// schema or upgrades an older one (refusing a newer one: a newer build migrated it).
    pub fn open_postgres(
        database: postgres::Database,
        replica: &str,
        role: tokio::sync::watch::Receiver<Role>,
    ) -> Result<Store> {
        let (pg, migrated) = front::Postgres::open(database, replica, role)?;
        if migrated.from != migrated.to {
            tracing::info!(
                from = migrated.from,
                to = migrated.to,
                "upgraded the PostgreSQL schema"
            );
        }
        let first_match = Arc::default();
        let inner = Inner {
            inbox: InboxStore::postgres(&pg),
            mirror: Mirror::postgres(&pg),
            reference: Reference::postgres(&pg),
            ownership: Ownership::postgres(&pg, Arc::clone(&first_match)),
            exports: Exports::postgres(&pg),
            connections: Connections::postgres(&pg),
            journal: JournalCursors::postgres(&pg),
            outbox: Outbox::postgres(&pg, first_match),
            engine: Engine::Postgres {
                settings: Connections::postgres_settings(&pg),
                pg,
            },
        };
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    fn embedded(&self) -> Option<&Embedded> {
        match &self.inner.engine {
            Engine::Sled(embedded) => Some(embedded),
            Engine::Postgres { .. } => None,
        }
    }

    /// Whether group commits are independent of each other (PostgreSQL's transactions), so
    /// that several may be in flight; sled's are recorded in its ledger one after another.
    pub fn commits_independently(&self) -> bool {
        self.embedded().is_none()
    }

    /// This replica's role on PostgreSQL, as its lease task publishes it; `None` on sled,
    /// where the one process leads.
    pub fn roles(&self) -> Option<tokio::sync::watch::Receiver<Role>> {
        match &self.inner.engine {
            Engine::Sled(_) => None,
            Engine::Postgres { pg, .. } => Some(pg.roles()),
        }
    }

    /// On PostgreSQL: new export jobs as any replica stores them (see
    /// [`postgres::listen`]), for as long as the receiver is kept; `None` on sled, where a
    /// job is stored by the process that runs it.
    pub fn new_jobs(&self) -> Option<tokio::sync::mpsc::Receiver<postgres::Heard>> {
        match &self.inner.engine {
            Engine::Sled(_) => None,
            Engine::Postgres { pg, .. } => Some(pg.database.new_jobs()),
        }
    }

    /// Whether this process does the leader's work: always on sled (one process per store),
    /// on PostgreSQL while it holds the lease.
    pub fn leads(&self) -> bool {
        self.roles()
            .is_none_or(|roles| matches!(*roles.borrow(), Role::Leading { .. }))
    }

    /// Makes every write so far durable: sled flush, then fdatasync of the data file; then
    /// records a newly written export job in the ledger, so its caller may be answered. The
    /// first I/O error is kept as the store's [`failure`](Store::failure). On PostgreSQL
    /// every write was durable when it returned.
    pub fn commit(&self) -> Result<()> {
        let (Some(embedded), Some(exports)) = (self.embedded(), self.inner.exports.on_sled())
        else {
            return Ok(());
        };
        let export_job = exports.newest_written();
        self.make_durable(embedded)?;
        let recorded = embedded
            .ledger
            .record(|acked| acked.export_job = acked.export_job.max(export_job));
        self.note(recorded.map_err(Error::from))
    }

    /// The sled flush and fdatasync of [`Store::commit`], without the ledger.
    fn make_durable(&self, embedded: &Embedded) -> Result<()> {
        let committed = (|| {
            open::flush_db(&embedded.db)?;
            embedded.data_file.sync_data()?;
            Ok(())
        })();
        self.note(committed)
    }

    /// Stores the events of a group of webhook requests (see [`Store::store_group`]).
    pub fn store_events(
        &self,
        received_at_ms: i64,
        requests: &[&[NewEvent<'_>]],
    ) -> Result<(Vec<AppendOutcome>, Durable)> {
        self.store_group(received_at_ms, &Appending::webhooks(requests))
    }

    /// Stores the events of a group of requests from any source and makes them durable; a
    /// journal request also moves its cursor in the same commit (see
    /// [`JournalCursors`](journal::JournalCursors)), counting what it stored. They count as
    /// acknowledged, and the requests may be answered 2xx, once [`Store::acknowledge`] has
    /// recorded the returned [`Durable`] in the ledger. Only the webhook committer calls
    /// these two, for one group after another; it may store the next group while the
    /// previous one is being acknowledged.
    ///
    /// On sled, after an error nothing more is stored by this process: part of the group
    /// may already be in sled's log, and a later commit would make it durable. The next open
    /// drops what the ledger does not cover. On PostgreSQL a failed transaction stored
    /// nothing, and the next group tries again.
    pub fn store_group(
        &self,
        received_at_ms: i64,
        requests: &[Appending<'_>],
    ) -> Result<(Vec<AppendOutcome>, Durable)> {
        let on_postgres = Durable { seq: 0, events: 0 };
        if let Some(appended) = self.inner.inbox.append_postgres(received_at_ms, requests) {
            return appended.map(|outcomes| (outcomes, on_postgres));
        }
        let (Some(embedded), Some(inbox), Some(journal)) = (
            self.embedded(),
            self.inner.inbox.on_sled(),
            self.inner.journal.on_sled(),
        ) else {
            unreachable!("a store is on sled or on PostgreSQL");
        };
        if let Some(reason) = self.failure() {
            return Err(Error::Unavailable(reason.to_owned()));
        }
        let stored = inbox
            .append_requests(received_at_ms, requests)
            .and_then(|outcomes| {
                inbox.persist_counters()?;
                let (seq, events) = inbox.appended();
                let moves: Vec<(&CursorMove, u64, u64)> = requests
                    .iter()
                    .zip(&outcomes)
                    .filter_map(|(request, outcome)| {
                        let counts = (u64::from(outcome.stored), u64::from(outcome.duplicates));
                        request.cursor.map(|cursor| (cursor, counts.0, counts.1))
                    })
                    .collect();
                // After the chunks: a cursor durable without its events cannot be.
                journal.commit(&moves, seq)?;
                // Not `commit`: the ledger is the acknowledger's to write, meanwhile.
                self.make_durable(embedded)?;
                Ok((outcomes, Durable { seq, events }))
            });
        if let Err(error) = &stored {
            self.fail(error.to_string());
        }
        stored
    }

    /// Records the inbox events `durable` covers (and every group stored before it) in the
    /// ledger as acknowledged, and shows them to readers. Also after a later group failed:
    /// these are durable.
    pub fn acknowledge(&self, durable: Durable) -> Result<()> {
        let (Some(embedded), Some(inbox)) = (self.embedded(), self.inner.inbox.on_sled()) else {
            return Ok(());
        };
        let recorded = embedded.ledger.record(|acked| {
            acked.inbox_seq = acked.inbox_seq.max(durable.seq);
            acked.inbox_events = acked.inbox_events.max(durable.events);
        });
        match recorded {
            Ok(()) => {
                inbox.acknowledge(durable.seq);
                Ok(())
            }
            Err(error) => {
                let error = Error::from(error);
                self.fail(error.to_string());
                Err(error)
            }
        }
    }

    /// Flushes sled's log (no fdatasync: cheap when nothing is dirty), which fails once sled
    /// has met an I/O error anywhere, and keeps that as the store's [`failure`](Store::failure).
    /// On PostgreSQL there is nothing to check: each request meets the database's state.
    pub fn check(&self) -> Result<()> {
        let Some(embedded) = self.embedded() else {
            return Ok(());
        };
        let flushed = open::flush_db(&embedded.db)
            .map(|_| ())
            .map_err(Error::from);
        self.note(flushed)
    }

    fn note(&self, result: Result<()>) -> Result<()> {
        if let Err(Error::Unavailable(reason)) = &result {
            self.fail(reason.clone());
        }
        result
    }

    fn fail(&self, reason: String) {
        let Some(embedded) = self.embedded() else {
            return;
        };
        if embedded.failure.set(reason.clone()).is_ok() {
            tracing::error!(error = %reason, "the store is unwritable (disk full or I/O error)");
        }
    }

    /// Why the store can no longer write, once a commit or [`check`](Store::check) met an
    /// I/O error. sled 0.34 keeps that error for good in this process (every later write and
    /// flush fails, even with space back): only reopening the store recovers. Never on
    /// PostgreSQL, where the database coming back is the recovery.
    pub fn failure(&self) -> Option<&str> {
        self.embedded()?.failure.get().map(String::as_str)
    }

    /// Writes the first matches answered since the last call and makes them durable; returns
    /// how many were written. The daemon calls this a few times a second and at shutdown.
    /// On PostgreSQL first matches are stored before they are answered: none wait.
    pub fn write_matches(&self) -> Result<usize> {
        let Some(ownership) = self.inner.ownership.on_sled() else {
            return Ok(0);
        };
        let written = ownership.write_pending()?;
        if written > 0 {
            self.commit()?;
        }
        Ok(written)
    }

    pub fn inbox(&self) -> &InboxStore {
        &self.inner.inbox
    }

    /// A small named value of the gateway's own (e.g. the connected portal).
    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let name = format!("app.{name}");
        match &self.inner.engine {
            Engine::Sled(embedded) => {
                let meta = embedded.db.open_tree(keys::META_TREE)?;
                Ok(meta.get(name)?.map(|bytes| bytes.to_vec()))
            }
            Engine::Postgres { settings, .. } => settings.get(&name),
        }
    }

    pub fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        let name = format!("app.{name}");
        match &self.inner.engine {
            Engine::Sled(embedded) => {
                let meta = embedded.db.open_tree(keys::META_TREE)?;
                meta.insert(name, value)?;
                Ok(())
            }
            Engine::Postgres { settings, .. } => settings.put(&name, value),
        }
    }

    /// Deletes the named value (nothing when there is none).
    pub fn remove_meta(&self, name: &str) -> Result<()> {
        let name = format!("app.{name}");
        match &self.inner.engine {
            Engine::Sled(embedded) => {
                let meta = embedded.db.open_tree(keys::META_TREE)?;
                meta.remove(name)?;
                Ok(())
            }
            Engine::Postgres { settings, .. } => settings.take(&name).map(drop),
        }
    }

    pub fn mirror(&self) -> &Mirror {
        &self.inner.mirror
    }

    pub fn reference(&self) -> &Reference {
        &self.inner.reference
    }

    pub fn ownership(&self) -> &Ownership {
        &self.inner.ownership
    }

    /// Durable export jobs.
    pub fn exports(&self) -> &Exports {
        &self.inner.exports
    }

    /// Connections to HubSpot (sealed tokens, preferences, pending Connect flows).
    pub fn connections(&self) -> &Connections {
        &self.inner.connections
    }

    /// The Webhooks Journal's cursors, one per portal.
    pub fn journal(&self) -> &JournalCursors {
        &self.inner.journal
    }

    /// Notifications to internal services (see `notify`).
    pub fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }

    /// The directory of a store on sled.
    pub fn path(&self) -> Option<&Path> {
        Some(&self.embedded()?.path)
    }

    /// Names of the trees (tables, on PostgreSQL) holding `needle` in a key or value (a
    /// privacy audit: after a privacy deletion, a person's email must be found nowhere).
    pub fn trees_containing(&self, needle: &[u8]) -> Result<Vec<String>> {
        let mut found = Vec::new();
        let embedded = match &self.inner.engine {
            Engine::Sled(embedded) => embedded,
            Engine::Postgres { pg, .. } => {
                return pg.wait(postgres::audit::tables_containing(&pg.database, needle))
            }
        };
        for name in embedded.db.tree_names() {
            let tree = embedded.db.open_tree(&name)?;
            for row in tree.iter() {
                let (key, value) = row?;
                if contains(&key, needle) || contains(&value, needle) {
                    found.push(String::from_utf8_lossy(&name).into_owned());
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Bytes the store occupies on disk (sled; 0 on PostgreSQL, whose size its server
    /// reports).
    pub fn size_on_disk(&self) -> u64 {
        self.embedded()
            .and_then(|embedded| embedded.db.size_on_disk().ok())
            .unwrap_or(0)
    }

    /// What the ledger of a store on sled records as acknowledged.
    pub fn acknowledged(&self) -> Option<Acknowledged> {
        Some(self.embedded()?.ledger.current())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

#[cfg(test)]
mod tests;
