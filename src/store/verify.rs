//! `hubspot-gateway store verify`: checks a stopped store against its ledger without changing
//! it. sled repairs a damaged log as it opens it (it zeroes a torn tail) and the gateway's own
//! open drops unacknowledged events, so the check opens a copy, made in the system's temp
//! directory (`TMPDIR`) while it holds sled's lock on the store (a daemon cannot start
//! meanwhile, and a running one makes the check refuse).

use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::path::Path;

use super::ledger::{self, Acknowledged, Holdings};
use super::open::{holdings, open_db, read_ledger, unreadable};
use super::{inbox, Error, Result};

/// A store found consistent with its ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The ledger's record; `None` for a store from before the ledger (its first start
    /// writes one from what it holds).
    pub recorded: Option<Acknowledged>,
    pub held: Holdings,
    /// Events stored after the last acknowledged chunk (their batch was refused or never
    /// answered): the next start drops them.
    pub unacknowledged: u64,
    /// Rows read: every row of every tree, so that sled checked every page it holds.
    pub rows: u64,
}

/// Checks the stopped store in `path` (see the module's comment); [`Error::Behind`] names what
/// it lacks, [`Error::Locked`] says a process (a running gateway) holds it.
pub fn verify(path: &Path) -> Result<Verified> {
    let db_file = path.join("db");
    if !db_file.exists() && !path.join(ledger::FILE_NAME).exists() {
        return Err(Error::Unavailable(format!(
            "there is no store at {}",
            path.display()
        )));
    }
    let _lock = lock(&db_file, path)?;
    let recorded = read_ledger(path)?;
    let copy = tempfile::Builder::new()
        .prefix("hubspot-gateway-verify-")
        .tempdir()?;
    copy_files(path, copy.path())?;
    let db = open_db(copy.path(), 64).map_err(|error| unreadable(error, path, &recorded))?;
    let held = holdings(&db)?;
    let missing = ledger::missing(recorded.as_ref(), &held);
    if !missing.is_empty() {
        return Err(Error::Behind {
            path: path.to_owned(),
            missing,
        });
    }
    let mut rows = 0;
    for name in db.tree_names() {
        for row in db.open_tree(&name)?.iter() {
            row?;
            rows += 1;
        }
    }
    let unacknowledged = match &recorded {
        Some(recorded) => inbox::count_after(&db, recorded.inbox_seq)?,
        None => 0,
    };
    Ok(Verified {
        recorded,
        held,
        unacknowledged,
        rows,
    })
}

/// Takes sled's lock (an exclusive `flock` of `db`) for as long as the file lives; `None`
/// when there is no `db`.
fn lock(db_file: &Path, store: &Path) -> Result<Option<File>> {
    let file = match File::open(db_file) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    // SAFETY: flock(2) on a descriptor this function owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let error = std::io::Error::last_os_error();
        return Err(match error.kind() {
            std::io::ErrorKind::WouldBlock => Error::Locked {
                path: store.to_owned(),
            },
            _ => error.into(),
        });
    }
    Ok(Some(file))
}

/// Copies the files under `from` (sled's `db`, `conf`, snapshots, `blobs/`) into `to`.
fn copy_files(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            std::fs::create_dir(&target)?;
            copy_files(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
