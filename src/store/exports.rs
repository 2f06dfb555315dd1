//! Durable export jobs: a header per job and one row per exported record (its input, the
//! intent persisted before a create is sent, and its result). Values are the caller's bytes.
//!
//! A row can be sealed (a privacy deletion redacted it): [`Exports::update_rows`] then never
//! writes it again, so a worker holding an older copy in memory cannot bring the person back.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::erase::remove_prefix;
use super::keys::{self, i64_key};
use super::{Error, Result};

const HEADER: u8 = b'j';
const ROW: u8 = b'r';
const SEAL: u8 = b's';
const NEXT_ID: &[u8] = b"next_id";

pub struct Exports {
    tree: sled::Tree,
    /// Held while rows are updated or sealed, so that a seal and an update never interleave.
    writing: Mutex<()>,
    /// Rows sealed since the store was opened (see [`Exports::seals`]).
    seals: AtomicU64,
    /// The newest job whose header was written: the ledger records it once committed.
    newest: AtomicU64,
}

fn header_key(portal: i64, id: u64) -> Vec<u8> {
    job_prefix(HEADER, portal, id)
}

fn job_prefix(kind: u8, portal: i64, id: u64) -> Vec<u8> {
    let mut key = vec![kind];
    key.extend_from_slice(&i64_key(portal));
    key.extend_from_slice(&id.to_be_bytes());
    key
}

fn row_prefix(portal: i64, id: u64) -> Vec<u8> {
    job_prefix(ROW, portal, id)
}

fn row_key(portal: i64, id: u64, index: u32) -> Vec<u8> {
    let mut key = row_prefix(portal, id);
    key.extend_from_slice(&index.to_be_bytes());
    key
}

fn seal_key(portal: i64, id: u64, index: u32) -> Vec<u8> {
    let mut key = job_prefix(SEAL, portal, id);
    key.extend_from_slice(&index.to_be_bytes());
    key
}

impl Exports {
    pub(super) fn open(db: &sled::Db) -> Result<Exports> {
        Ok(Exports {
            tree: db.open_tree(keys::EXPORTS_TREE)?,
            writing: Mutex::new(()),
            seals: AtomicU64::new(0),
            newest: AtomicU64::new(0),
        })
    }

    /// The last job id handed out by the store in `db` (0: none).
    pub(super) fn last_id_in(db: &sled::Db) -> Result<u64> {
        let tree = db.open_tree(keys::EXPORTS_TREE)?;
        tree.get(NEXT_ID)?
            .map_or(Ok(0), |bytes| keys::u64_from(&bytes))
    }

    /// The newest job whose header was written in this process (0: none).
    pub(super) fn newest_written(&self) -> u64 {
        self.newest.load(Ordering::Acquire)
    }

    /// A new job id, never handed out before (ids grow, so newer jobs sort later).
    pub fn next_id(&self) -> Result<u64> {
        let next = self.tree.update_and_fetch(NEXT_ID, |old| {
            let current = old
                .and_then(|bytes| keys::u64_from(bytes).ok())
                .unwrap_or(0);
            Some((current + 1).to_be_bytes().to_vec())
        })?;
        let bytes = next.ok_or_else(|| Error::Corrupt("job id counter vanished".into()))?;
        keys::u64_from(&bytes)
    }

    /// Writes a job header and any record rows in one atomic batch (a new job's rows; rows
    /// that may be sealed go through [`Exports::update_rows`]).
    pub fn write(
        &self,
        portal: i64,
        id: u64,
        header: Option<&[u8]>,
        rows: &[(u32, Vec<u8>)],
    ) -> Result<()> {
        let mut batch = sled::Batch::default();
        if let Some(header) = header {
            batch.insert(header_key(portal, id), header);
        }
        for (index, value) in rows {
            batch.insert(row_key(portal, id, *index), value.as_slice());
        }
        self.tree.apply_batch(batch)?;
        if header.is_some() {
            self.newest.fetch_max(id, Ordering::AcqRel);
        }
        Ok(())
    }

    pub fn header(&self, portal: i64, id: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.get(header_key(portal, id))?.map(|v| v.to_vec()))
    }

    /// Job headers, newest first.
    pub fn headers(&self, portal: i64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut prefix = vec![HEADER];
        prefix.extend_from_slice(&i64_key(portal));
        self.tree
            .scan_prefix(&prefix)
            .rev()
            .take(limit)
            .map(|row| {
                let (key, value) = row?;
                Ok((keys::u64_from(&key[prefix.len()..])?, value.to_vec()))
            })
            .collect()
    }

    /// Every record row of a job, in index order.
    pub fn rows(&self, portal: i64, id: u64) -> Result<Vec<(u32, Vec<u8>)>> {
        let prefix = row_prefix(portal, id);
        self.tree
            .scan_prefix(&prefix)
            .map(|row| {
                let (key, value) = row?;
                Ok((keys::u32_from(&key[prefix.len()..])?, value.to_vec()))
            })
            .collect()
    }

    /// Writes rows of job `id`, except sealed ones, in one atomic batch; returns how many
    /// were written.
    pub fn update_rows(&self, portal: i64, id: u64, rows: &[(u32, Vec<u8>)]) -> Result<usize> {
        let _writing = self.writing.lock();
        let mut batch = sled::Batch::default();
        let mut written = 0;
        for (index, value) in rows {
            if self.tree.contains_key(seal_key(portal, id, *index))? {
                continue;
            }
            batch.insert(row_key(portal, id, *index), value.as_slice());
            written += 1;
        }
        self.tree.apply_batch(batch)?;
        Ok(written)
    }

    /// Writes rows of job `id` and seals them: later [`Exports::update_rows`] leave them be.
    pub fn seal_rows(&self, portal: i64, id: u64, rows: &[(u32, Vec<u8>)]) -> Result<()> {
        let _writing = self.writing.lock();
        let mut batch = sled::Batch::default();
        for (index, value) in rows {
            batch.insert(row_key(portal, id, *index), value.as_slice());
            batch.insert(seal_key(portal, id, *index), &[][..]);
        }
        self.tree.apply_batch(batch)?;
        self.seals.fetch_add(rows.len() as u64, Ordering::SeqCst);
        Ok(())
    }

    /// How many rows were sealed since the store was opened: a worker holding rows in memory
    /// re-reads the sealed ones when this changes.
    pub fn seals(&self) -> u64 {
        self.seals.load(Ordering::SeqCst)
    }

    /// The sealed rows of job `id`, in index order.
    pub fn sealed(&self, portal: i64, id: u64) -> Result<Vec<u32>> {
        let prefix = job_prefix(SEAL, portal, id);
        self.tree
            .scan_prefix(&prefix)
            .keys()
            .map(|key| keys::u32_from(&key?[prefix.len()..]))
            .collect()
    }

    /// Deletes every job of `portal` (`Store::erase_portal`): headers first, so the jobs
    /// leave the lists at once, then rows and seals. Returns (jobs, keys deleted).
    pub(super) fn erase(&self, portal: i64) -> Result<(u64, u64)> {
        let of = |kind: u8| {
            let mut prefix = vec![kind];
            prefix.extend_from_slice(&i64_key(portal));
            prefix
        };
        let jobs = remove_prefix(&self.tree, &of(HEADER))?;
        let rows = remove_prefix(&self.tree, &of(ROW))? + remove_prefix(&self.tree, &of(SEAL))?;
        Ok((jobs, jobs + rows))
    }

    /// Removes job `id`: its header, rows and seals, in one atomic batch.
    pub fn remove(&self, portal: i64, id: u64) -> Result<()> {
        let _writing = self.writing.lock();
        let mut batch = sled::Batch::default();
        batch.remove(header_key(portal, id));
        for prefix in [row_prefix(portal, id), job_prefix(SEAL, portal, id)] {
            for key in self.tree.scan_prefix(&prefix).keys() {
                batch.remove(key?);
            }
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}
