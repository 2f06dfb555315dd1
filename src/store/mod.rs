//! The embedded store: the only module that touches sled. It knows nothing of HTTP or of
//! HubSpot's JSON; callers hand it keys, bytes and plain structs.
//!
//! Durability: [`Store::commit`] flushes sled's log and then fdatasyncs the data file, because
//! sled 0.34's `flush()` ends in `sync_file_range`, which survives a process crash but not a
//! power loss. Segments are 8 MiB so that no log item (limit: a quarter segment) goes to
//! sled's `blobs/` directory, whose files sled never fsyncs.
//!
//! Failure: sled 0.34 keeps its first I/O error and fails every later write and flush, even
//! once the disk has room again. [`Store::commit`] and [`Store::check`] therefore record the
//! first I/O error they meet ([`Store::failure`]); the daemon then turns not-ready and exits
//! for a restart.

mod audit;
mod exports;
mod inbox;
mod keys;
mod mirror;
mod ownership;
mod record;
mod reference;
mod writing;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use sled::transaction::TransactionError;

use crate::object::ObjectType;

pub use exports::Exports;
pub use inbox::{
    AppendOutcome, InboxCounters, InboxStore, NewEvent, Position, StoredEvent, ERASED,
};
pub use mirror::{Mirror, Write};
pub use ownership::{MappingSource, Ownership, UserMapping};
pub use record::{
    Brief, Owner, Pipeline, PropertyDef, Record, Stage, StageEntry, Team, Term, TermKind,
};
pub use reference::Reference;
pub use writing::Writing;

/// The on-disk format this build writes; older formats are migrated on open.
/// 1: the first. 2: adds `briefs.v1` (built from the records on open). 3: the domain, email
/// and name rows of `index.v1` become id lists in `terms.v1`.
pub const FORMAT_VERSION: u32 = 3;
const SEGMENT_SIZE: usize = 8 << 20;
/// sled's page cache when the config sets no `store.cache_mb` (sled's own default is 1 GiB).
pub const DEFAULT_CACHE_MB: u64 = 256;

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
}

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
    db: sled::Db,
    /// Opened once: fdatasync after each flush makes a commit survive power loss.
    data_file: File,
    inbox: InboxStore,
    mirror: Mirror,
    reference: Reference,
    ownership: Ownership,
    exports: Exports,
    path: PathBuf,
    /// The first I/O error a commit or check met; sled fails every write after it.
    failure: OnceLock<String>,
}

impl Store {
    /// Opens (creating if needed) the store in `path` with the default cache
    /// ([`DEFAULT_CACHE_MB`]), checks its format and replays state.
    pub fn open(path: &Path) -> Result<Store> {
        Self::open_with_cache(path, DEFAULT_CACHE_MB)
    }

    /// Like [`Store::open`], with sled's page cache limited to about `cache_mb` MiB
    /// (`store.cache_mb`; sled's limit is approximate, the process needs more than that).
    /// A store of a format older than briefs is refused ([`Error::NeedsUpgrade`]).
    pub fn open_with_cache(path: &Path, cache_mb: u64) -> Result<Store> {
        Self::open_upgrading(path, cache_mb, None)
    }

    /// Like [`Store::open_with_cache`], upgrading a store of any older format: `brief_of`
    /// derives the briefs a store written before them lacks.
    pub fn open_upgrading(path: &Path, cache_mb: u64, brief_of: Option<BriefOf>) -> Result<Store> {
        std::fs::create_dir_all(path)?;
        let db = sled::Config::new()
            .path(path)
            .segment_size(SEGMENT_SIZE)
            .cache_capacity(cache_mb.saturating_mul(1 << 20))
            .open()
            .map_err(|error| match error {
                sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                    Error::Locked {
                        path: path.to_owned(),
                    }
                }
                sled::Error::Io(io) if io.to_string().contains("lock") => Error::Locked {
                    path: path.to_owned(),
                },
                other => Error::from(other),
            })?;
        let meta = db.open_tree(keys::META_TREE)?;
        let found = check_format(&meta, path)?;
        let data_file = File::open(path.join("db"))?;
        // The directory entry of a new store must be durable too.
        File::open(path)?.sync_all()?;
        let inbox = InboxStore::open(&db)?;
        let mirror = Mirror::open(&db)?;
        if found < FORMAT_VERSION {
            migrate(&db, &meta, &mirror, found, &data_file, brief_of, path)?;
        }
        let reference = Reference::open(&db)?;
        let ownership = Ownership::open(&db)?;
        let exports = Exports::open(&db)?;
        let inner = Inner {
            db,
            data_file,
            inbox,
            mirror,
            reference,
            ownership,
            exports,
            path: path.to_owned(),
            failure: OnceLock::new(),
        };
        let store = Store {
            inner: Arc::new(inner),
        };
        // Dedup rows re-indexed on open become durable, so the watermark can move past them.
        store.commit()?;
        Ok(store)
    }

    /// Makes every write so far durable: sled flush, then fdatasync of the data file. Also
    /// moves the inbox's dedup watermark (see `InboxStore`). The first I/O error is kept as
    /// the store's [`failure`](Store::failure).
    pub fn commit(&self) -> Result<()> {
        let committed = self.inner.inbox.before_commit().and_then(|indexed| {
            self.inner.db.flush()?;
            self.inner.data_file.sync_data()?;
            self.inner.inbox.after_commit(indexed);
            Ok(())
        });
        self.note(committed)
    }

    /// Flushes sled's log (no fdatasync: cheap when nothing is dirty), which fails once sled
    /// has met an I/O error anywhere, and keeps that as the store's [`failure`](Store::failure).
    pub fn check(&self) -> Result<()> {
        let flushed = self.inner.db.flush().map(|_| ()).map_err(Error::from);
        self.note(flushed)
    }

    fn note(&self, result: Result<()>) -> Result<()> {
        if let Err(Error::Unavailable(reason)) = &result {
            if self.inner.failure.set(reason.clone()).is_ok() {
                tracing::error!(error = %reason, "the store is unwritable (disk full or I/O error)");
            }
        }
        result
    }

    /// Why the store can no longer write, once a commit or [`check`](Store::check) met an
    /// I/O error. sled 0.34 keeps that error for good in this process (every later write and
    /// flush fails, even with space back): only reopening the store recovers.
    pub fn failure(&self) -> Option<&str> {
        self.inner.failure.get().map(String::as_str)
    }

    /// Writes the first matches answered since the last call and makes them durable; returns
    /// how many were written. The daemon calls this a few times a second and at shutdown.
    pub fn write_matches(&self) -> Result<usize> {
        let written = self.inner.ownership.write_pending()?;
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
        let meta = self.inner.db.open_tree(keys::META_TREE)?;
        Ok(meta.get(format!("app.{name}"))?.map(|bytes| bytes.to_vec()))
    }

    pub fn set_meta(&self, name: &str, value: &[u8]) -> Result<()> {
        let meta = self.inner.db.open_tree(keys::META_TREE)?;
        meta.insert(format!("app.{name}"), value)?;
        Ok(())
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

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Names of the trees holding `needle` in a key or value (a privacy audit: after a
    /// privacy deletion, a person's email must be found nowhere).
    pub fn trees_containing(&self, needle: &[u8]) -> Result<Vec<String>> {
        let mut found = Vec::new();
        for name in self.inner.db.tree_names() {
            let tree = self.inner.db.open_tree(&name)?;
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

    /// Bytes the store occupies on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.inner.db.size_on_disk().unwrap_or(0)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// The format the store has (a new store gets this build's); refuses a newer one.
fn check_format(meta: &sled::Tree, path: &Path) -> Result<u32> {
    match meta.get(keys::FORMAT_VERSION)? {
        None => {
            meta.insert(keys::FORMAT_VERSION, &FORMAT_VERSION.to_be_bytes())?;
            Ok(FORMAT_VERSION)
        }
        Some(bytes) => {
            let found = keys::u32_from(&bytes)?;
            if found > FORMAT_VERSION {
                return Err(Error::TooNew {
                    path: path.to_owned(),
                    found,
                });
            }
            Ok(found)
        }
    }
}

/// Brings a store of format `found` to this build's. The new format is recorded only after
/// the migration is durable, so an interrupted one runs again at the next open.
fn migrate(
    db: &sled::Db,
    meta: &sled::Tree,
    mirror: &Mirror,
    found: u32,
    data_file: &File,
    brief_of: Option<BriefOf>,
    path: &Path,
) -> Result<()> {
    let started = tokio::time::Instant::now();
    let briefs = match (found < 2, brief_of) {
        (false, _) => 0,
        (true, Some(brief_of)) => mirror.build_briefs(brief_of)?,
        (true, None) => {
            return Err(Error::NeedsUpgrade {
                path: path.to_owned(),
                found,
            })
        }
    };
    let terms = if found < 3 {
        mirror.move_listed_terms()?
    } else {
        0
    };
    db.flush()?;
    data_file.sync_data()?;
    meta.insert(keys::FORMAT_VERSION, &FORMAT_VERSION.to_be_bytes())?;
    db.flush()?;
    data_file.sync_data()?;
    tracing::info!(
        from = found,
        to = FORMAT_VERSION,
        briefs,
        terms,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "migrated the store"
    );
    Ok(())
}

#[cfg(test)]
mod tests;
