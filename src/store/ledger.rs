//! The acknowledgement ledger: a small file beside sled's (`ledger` in the store directory)
//! recording what the gateway has acknowledged (the last inbox chunk answered 204 and the
//! events received through it, the newest export job reported to its caller) and the store's
//! format, so that a store missing any of it (a damaged or truncated `db`, a partial restore)
//! is refused on open instead of starting ready without it.
//!
//! The file is 4 KiB, written whole when the ledger is created (temp file, fsync, rename,
//! fsync of the directory); after that one 64-byte record at offset 0 is rewritten in place
//! and fdatasync'ed after the sled commit it describes and before the acknowledgement: no
//! allocation and no metadata to sync, so it costs one small write and one flush of a block.
//! The record lies inside the first 512-byte sector, which disks write whole, so a crash
//! leaves either the old record or the new one; a checksum tells a damaged file.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::Path;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

pub const FILE_NAME: &str = "ledger";
const FILE_BYTES: usize = 4096;
const RECORD_BYTES: usize = 64;
const CHECKED_BYTES: usize = 56;
const MAGIC: &[u8; 8] = b"hsgw-ack";
const LAYOUT: u32 = 1;

/// What the gateway has acknowledged, as the ledger records it. Every field only grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Acknowledged {
    /// The store's format version.
    pub format: u32,
    /// The last inbox chunk whose events were acknowledged (0: none yet).
    pub inbox_seq: u64,
    /// Events stored in the inbox through that chunk (the inbox's `received` counter).
    pub inbox_events: u64,
    /// The newest export job acknowledged to its caller (0: none yet).
    pub export_job: u64,
}

impl Acknowledged {
    fn encode(&self) -> [u8; RECORD_BYTES] {
        let mut bytes = [0u8; RECORD_BYTES];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8..12].copy_from_slice(&LAYOUT.to_be_bytes());
        bytes[12..16].copy_from_slice(&self.format.to_be_bytes());
        bytes[16..24].copy_from_slice(&self.inbox_seq.to_be_bytes());
        bytes[24..32].copy_from_slice(&self.inbox_events.to_be_bytes());
        bytes[32..40].copy_from_slice(&self.export_job.to_be_bytes());
        let checksum = checksum(&bytes[..CHECKED_BYTES]);
        bytes[CHECKED_BYTES..].copy_from_slice(&checksum);
        bytes
    }

    /// The record in `bytes` (the file's content), or why it cannot be trusted.
    fn decode(bytes: &[u8]) -> Result<Acknowledged, String> {
        let record = bytes
            .get(..RECORD_BYTES)
            .ok_or_else(|| format!("{} bytes long, expected {FILE_BYTES}", bytes.len()))?;
        if &record[..8] != MAGIC {
            return Err("it does not start like a ledger".into());
        }
        if record[CHECKED_BYTES..] != checksum(&record[..CHECKED_BYTES]) {
            return Err("its checksum does not match its content".into());
        }
        let u32_at =
            |at: usize| u32::from_be_bytes(record[at..at + 4].try_into().unwrap_or([0; 4]));
        let u64_at =
            |at: usize| u64::from_be_bytes(record[at..at + 8].try_into().unwrap_or([0; 8]));
        let layout = u32_at(8);
        if layout != LAYOUT {
            return Err(format!(
                "it has layout {layout}, which this build (layout {LAYOUT}) does not read"
            ));
        }
        Ok(Acknowledged {
            format: u32_at(12),
            inbox_seq: u64_at(16),
            inbox_events: u64_at(24),
            export_job: u64_at(32),
        })
    }
}

fn checksum(bytes: &[u8]) -> [u8; 8] {
    let digest = Sha256::digest(bytes);
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    head
}

/// The open ledger file and the record last written to it.
pub struct Ledger {
    file: File,
    written: Mutex<Acknowledged>,
}

/// Why the ledger of a store could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The file exists but its record cannot be trusted.
    Damaged(String),
    Io(std::io::Error),
}

impl Ledger {
    /// The record in the ledger of the store in `dir`; `None` when there is no ledger file.
    pub fn read(dir: &Path) -> Result<Option<Acknowledged>, ReadError> {
        match std::fs::read(dir.join(FILE_NAME)) {
            Ok(bytes) => Acknowledged::decode(&bytes)
                .map(Some)
                .map_err(ReadError::Damaged),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(ReadError::Io(error)),
        }
    }

    /// Creates the ledger of the store in `dir` holding `acknowledged`; a crash leaves either
    /// no ledger or this one.
    pub fn create(dir: &Path, acknowledged: Acknowledged) -> std::io::Result<Ledger> {
        let temporary = dir.join(format!("{FILE_NAME}.new"));
        let mut content = [0u8; FILE_BYTES];
        content[..RECORD_BYTES].copy_from_slice(&acknowledged.encode());
        let mut file = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(&content)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, dir.join(FILE_NAME))?;
        File::open(dir)?.sync_all()?;
        Self::open(dir, acknowledged)
    }

    /// Opens the existing ledger of the store in `dir`, which holds `acknowledged`.
    pub fn open(dir: &Path, acknowledged: Acknowledged) -> std::io::Result<Ledger> {
        let file = File::options().write(true).open(dir.join(FILE_NAME))?;
        Ok(Ledger {
            file,
            written: Mutex::new(acknowledged),
        })
    }

    /// Applies `update` to the record and, when that changed it, writes it durably before
    /// returning. Callers only ever raise fields; concurrent calls are serialised.
    pub fn record(&self, update: impl FnOnce(&mut Acknowledged)) -> std::io::Result<()> {
        let mut written = self.written.lock();
        let mut next = *written;
        update(&mut next);
        if next == *written {
            return Ok(());
        }
        self.file.write_all_at(&next.encode(), 0)?;
        self.file.sync_data()?;
        *written = next;
        Ok(())
    }

    pub fn current(&self) -> Acknowledged {
        *self.written.lock()
    }
}

/// What a store holds, in the terms the ledger records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holdings {
    /// Its format version; `None` when its `meta` tree has none.
    pub format: Option<u32>,
    /// The newest inbox chunk it holds or its consumer has read into.
    pub inbox_seq: u64,
    /// Events stored in its inbox (the `received` counter).
    pub inbox_events: u64,
    /// The newest export job id it handed out.
    pub export_job: u64,
    /// No tree holds any row.
    pub empty: bool,
}

/// What a store holding `held` lacks of what the ledger `recorded`, one phrase per finding;
/// empty when nothing is missing. Without a ledger only a store with data but no format is
/// found wanting (its `meta` tree was lost).
pub fn missing(recorded: Option<&Acknowledged>, held: &Holdings) -> Vec<String> {
    let mut missing = Vec::new();
    let Some(recorded) = recorded else {
        if held.format.is_none() && !held.empty {
            missing.push("it holds data but no format version (its meta tree is lost)".into());
        }
        return missing;
    };
    match held.format {
        None if held.empty => missing.push(format!(
            "it holds nothing at all, but it was a store of format {} before",
            recorded.format
        )),
        None => missing.push(format!(
            "it has no format version (its meta tree is lost), but it was a store of format {}",
            recorded.format
        )),
        Some(format) if format < recorded.format => missing.push(format!(
            "it has format {format}, but it had been upgraded to format {}",
            recorded.format
        )),
        Some(_) => {}
    }
    if held.inbox_seq < recorded.inbox_seq || held.inbox_events < recorded.inbox_events {
        let stored = match (held.inbox_events, held.inbox_seq) {
            (0, 0) => "no webhook event".to_owned(),
            (events, seq) => format!("{events} webhook events (through chunk {seq})"),
        };
        missing.push(format!(
            "its inbox has stored {stored}, but {} were acknowledged (through chunk {})",
            recorded.inbox_events, recorded.inbox_seq
        ));
    }
    if held.export_job < recorded.export_job {
        missing.push(match held.export_job {
            0 => format!(
                "it holds no export job, but job {} was acknowledged",
                recorded.export_job
            ),
            newest => format!(
                "its newest export job is {newest}, but job {} was acknowledged",
                recorded.export_job
            ),
        });
    }
    missing
}

#[cfg(test)]
mod tests;
