//! Opening a store: sled with the store's settings, the check against the ledger (what was
//! acknowledged must be there), dropping what was stored but never acknowledged, the format
//! check and migrations, and writing the ledger of a store that has none yet.

use std::fs::File;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::connections::Connections;
use super::exports::Exports;
use super::inbox::InboxStore;
use super::ledger::{self, Acknowledged, Holdings, Ledger};
use super::mirror::Mirror;
use super::outbox::Outbox;
use super::ownership::Ownership;
use super::reference::Reference;
use super::{
    front, inbox, journal, keys, BriefOf, Embedded, Engine, Error, Inner, Result, Store,
    DEFAULT_CACHE_MB, FORMAT_VERSION, SEGMENT_SIZE, SLED_FLUSHER_TICK_MS,
};

impl Store {
    /// Opens (creating if needed) the store in `path` with the default cache
    /// ([`DEFAULT_CACHE_MB`]), checks its format and replays state.
    pub fn open(path: &Path) -> Result<Store> {
        Self::open_with_cache(path, DEFAULT_CACHE_MB)
    }

    /// Like [`Store::open`], with sled's page cache limited to about `cache_mb` MiB
    /// (`store.cache_mb`; sled's limit is approximate, the process needs more than that).
    ///
    /// Refuses ([`Error::Behind`]) a store that lacks what its ledger records as acknowledged,
    /// or that holds data but no format; a new directory, or a store from before the ledger,
    /// gets a ledger written from what it holds. A store of a format older than briefs is
    /// refused ([`Error::NeedsUpgrade`]).
    pub fn open_with_cache(path: &Path, cache_mb: u64) -> Result<Store> {
        Self::open_upgrading(path, cache_mb, None)
    }

    /// Like [`Store::open_with_cache`], upgrading a store of any older format: `brief_of`
    /// derives the briefs a store written before them lacks.
    pub fn open_upgrading(path: &Path, cache_mb: u64, brief_of: Option<BriefOf>) -> Result<Store> {
        // Created by the gateway, the store is its own: nobody else may read the CRM in it.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)?;
        warn_if_shared(path);
        let recorded = read_ledger(path)?;
        let db = open_db(path, cache_mb).map_err(|error| unreadable(error, path, &recorded))?;
        let missing = ledger::missing(recorded.as_ref(), &holdings(&db)?);
        if !missing.is_empty() {
            return Err(Error::Behind {
                path: path.to_owned(),
                missing,
            });
        }
        let meta = db.open_tree(keys::META_TREE)?;
        let found = check_format(&meta, path)?;
        if let Some(recorded) = &recorded {
            let dropped =
                inbox::drop_unacknowledged(&db, recorded.inbox_seq, recorded.inbox_events)?;
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    "dropped inbox events stored after the last acknowledged ones (their batch \
                     was answered 503, or never answered); HubSpot delivers them again"
                );
            }
            let rolled = journal::roll_back(&db, recorded.inbox_seq)?;
            if rolled > 0 {
                tracing::warn!(
                    rolled,
                    "journal cursors went back one step: their last move was never \
                     acknowledged; the journal is read again from there"
                );
            }
        }
        let data_file = File::open(path.join("db"))?;
        // The directory entry of a new store must be durable too.
        File::open(path)?.sync_all()?;
        let inbox = InboxStore::open(&db, found < 4)?;
        let outbox = Outbox::open(&db)?;
        let mirror = Mirror::open(&db, outbox.clone())?;
        if found < FORMAT_VERSION {
            migrate(&db, &meta, &mirror, found, &data_file, brief_of, path)?;
        }
        let reference = Reference::open(&db, outbox.clone())?;
        let ownership = Ownership::open(&db, outbox.clone())?;
        let exports = Exports::open(&db)?;
        let connections = Connections::open(&db)?;
        let journal = journal::JournalCursors::open(&db)?;
        // The ledger may describe only what is durable.
        flush_db(&db)?;
        data_file.sync_data()?;
        let ledger = match recorded {
            Some(recorded) => Ledger::open(path, recorded)?,
            None => {
                let (inbox_seq, inbox_events) = inbox.appended();
                let from_store = Acknowledged {
                    format: FORMAT_VERSION,
                    inbox_seq,
                    inbox_events,
                    export_job: Exports::last_id_in(&db)?,
                };
                tracing::info!(?from_store, "wrote the store's ledger from its content");
                Ledger::create(path, from_store)?
            }
        };
        ledger.record(|acked| acked.format = acked.format.max(FORMAT_VERSION))?;
        let inner = Inner {
            inbox: front::InboxStore::sled(inbox),
            mirror: front::Mirror::sled(mirror),
            reference: front::Reference::sled(reference),
            ownership: front::Ownership::sled(ownership),
            exports: front::Exports::sled(exports),
            connections: front::Connections::sled(connections),
            journal: front::JournalCursors::sled(journal),
            outbox: front::Outbox::sled(outbox),
            engine: Engine::Sled(Embedded {
                db,
                data_file,
                ledger,
                path: path.to_owned(),
                failure: OnceLock::new(),
            }),
        };
        let store = Store {
            inner: Arc::new(inner),
        };
        // Digest rows derived on open become durable.
        store.commit()?;
        Ok(store)
    }
}

/// Logs a warning when other users may enter the store directory (made so by hand, or by a
/// version before 0700 was enforced): the store holds CRM data.
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(metadata) = std::fs::metadata(path) {
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the store directory is open to other users; `chmod 700` it"
            );
        }
    }
}

pub(super) fn read_ledger(path: &Path) -> Result<Option<Acknowledged>> {
    Ledger::read(path).map_err(|error| match error {
        ledger::ReadError::Damaged(reason) => Error::LedgerDamaged {
            path: path.to_owned(),
            reason,
        },
        ledger::ReadError::Io(error) => Error::from(error),
    })
}

/// Opens sled in `path` with the store's settings (also for benchmarks that write sled
/// directly, so that their figures are the store's).
pub fn open_db(path: &Path, cache_mb: u64) -> Result<sled::Db> {
    sled::Config::new()
        .path(path)
        .segment_size(SEGMENT_SIZE)
        .cache_capacity(cache_mb.saturating_mul(1 << 20))
        .flush_every_ms(Some(SLED_FLUSHER_TICK_MS))
        .open()
        .map_err(|error| match error {
            sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => Error::Locked {
                path: path.to_owned(),
            },
            sled::Error::Io(io) if io.to_string().contains("lock") => Error::Locked {
                path: path.to_owned(),
            },
            other => Error::from(other),
        })
}

/// Flushes sled's log, then hands the deferred frees of the calling thread to the epoch
/// collector. A flush may seal sled's 8 MiB log buffer, and sled frees a sealed buffer
/// through crossbeam-epoch, in the local bag of the thread that sealed it; a thread that
/// seldom touches sled (the store monitor's, a committer's) fills its bag slowly, so the
/// buffers in it wait. Measured on an idle 700k-record store while sled's segment cleaner
/// rewrote pages: RSS grew 16 MiB/s with periodic flushes, and stayed flat with this.
pub(super) fn flush_db(db: &sled::Db) -> sled::Result<usize> {
    let flushed = db.flush();
    crossbeam_epoch::pin().flush();
    flushed
}

/// An error sled met opening the store in `path`; when it could not read the store at all
/// and the ledger records acknowledged data, that data is missing as far as anyone can tell.
pub(super) fn unreadable(error: Error, path: &Path, recorded: &Option<Acknowledged>) -> Error {
    match (error, recorded) {
        (Error::Corrupt(reason), Some(recorded)) => Error::Behind {
            path: path.to_owned(),
            missing: vec![format!(
                "sled cannot read it ({reason}), so none of what was acknowledged ({} webhook \
                 events through chunk {}, export job {}) can be found",
                recorded.inbox_events, recorded.inbox_seq, recorded.export_job
            )],
        },
        (error, _) => error,
    }
}

/// What the sled store `db` holds, in the ledger's terms.
pub(super) fn holdings(db: &sled::Db) -> Result<Holdings> {
    let meta = db.open_tree(keys::META_TREE)?;
    let format = meta
        .get(keys::FORMAT_VERSION)?
        .map(|bytes| keys::u32_from(&bytes))
        .transpose()?;
    let (inbox_seq, inbox_events) = inbox::held(db)?;
    let mut empty = true;
    for name in db.tree_names() {
        if !db.open_tree(&name)?.is_empty() {
            empty = false;
            break;
        }
    }
    Ok(Holdings {
        format,
        inbox_seq,
        inbox_events,
        export_job: Exports::last_id_in(db)?,
        empty,
    })
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
    if found < 4 {
        // `InboxStore::open` derived the digest rows that replace these.
        db.drop_tree(keys::INBOX_IDS_TREE)?;
        meta.remove(keys::INBOX_INDEXED)?;
    }
    flush_db(db)?;
    data_file.sync_data()?;
    meta.insert(keys::FORMAT_VERSION, &FORMAT_VERSION.to_be_bytes())?;
    flush_db(db)?;
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
