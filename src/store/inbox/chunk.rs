//! The inbox's on-disk encodings: a chunk (the events of one or several requests in one sled
//! row), an event's position, and the counters.

use super::super::keys::{self, u64_from};
use super::super::{Error, Result};
use super::{InboxCounters, Position, StoredEvent};

const CHUNK_BYTES: usize = 32 * 1024;
const CHUNK_FORMAT: u8 = 1;
const ENTRY_HEADER: usize = 32 + 4;

pub(super) struct ChunkBuilder {
    bytes: Vec<u8>,
    pub(super) count: u16,
}

impl ChunkBuilder {
    pub(super) fn new(received_at_ms: i64) -> Self {
        let mut bytes = Vec::with_capacity(CHUNK_BYTES);
        bytes.push(CHUNK_FORMAT);
        bytes.extend_from_slice(&received_at_ms.to_be_bytes());
        bytes.extend_from_slice(&0u16.to_be_bytes());
        ChunkBuilder { bytes, count: 0 }
    }

    pub(super) fn is_full_for(&self, raw: &str) -> bool {
        self.count > 0
            && (self.bytes.len() + ENTRY_HEADER + raw.len() > CHUNK_BYTES || self.count == u16::MAX)
    }

    pub(super) fn push(&mut self, key: &[u8; 32], raw: &str) -> u16 {
        self.bytes.extend_from_slice(key);
        // Invariant: bodies are capped far below 4 GiB by server.max_body_bytes.
        self.bytes
            .extend_from_slice(&(raw.len() as u32).to_be_bytes());
        self.bytes.extend_from_slice(raw.as_bytes());
        self.count += 1;
        self.count - 1
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        self.bytes[9..11].copy_from_slice(&self.count.to_be_bytes());
        self.bytes
    }
}

/// A decoded chunk: its arrival time and each event's dedup key and raw JSON.
pub(super) struct Chunk<'a> {
    pub(super) received_at_ms: i64,
    pub(super) entries: Vec<(&'a [u8], &'a str)>,
}

impl<'a> Chunk<'a> {
    pub(super) fn count(bytes: &[u8]) -> Result<u64> {
        let count = bytes.get(9..11).ok_or_else(|| corrupt("chunk header"))?;
        Ok(u64::from(u16::from_be_bytes([count[0], count[1]])))
    }

    pub(super) fn decode(bytes: &'a [u8]) -> Result<Chunk<'a>> {
        if bytes.first() != Some(&CHUNK_FORMAT) || bytes.len() < 11 {
            return Err(corrupt("chunk header"));
        }
        let received_at_ms = u64_from(&bytes[1..9])? as i64;
        let count = Self::count(bytes)?;
        let mut entries = Vec::with_capacity(count as usize);
        let mut rest = &bytes[11..];
        for _ in 0..count {
            if rest.len() < ENTRY_HEADER {
                return Err(corrupt("chunk entry"));
            }
            let (key, tail) = rest.split_at(32);
            let length = keys::u32_from(tail)? as usize;
            let raw = tail
                .get(4..4 + length)
                .ok_or_else(|| corrupt("chunk entry"))?;
            let raw = std::str::from_utf8(raw).map_err(|_| corrupt("chunk entry text"))?;
            entries.push((key, raw));
            rest = &tail[4 + length..];
        }
        Ok(Chunk {
            received_at_ms,
            entries,
        })
    }

    pub(super) fn stored(&self, position: Position, raw: &str) -> StoredEvent {
        StoredEvent {
            position,
            received_at_ms: self.received_at_ms,
            raw: raw.to_owned(),
        }
    }
}

pub(super) fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("inbox {what} is damaged"))
}

pub(super) fn position_bytes(position: Position) -> [u8; 10] {
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&position.seq.to_be_bytes());
    bytes[8..].copy_from_slice(&position.index.to_be_bytes());
    bytes
}

pub(super) fn position_from(bytes: &[u8]) -> Result<Position> {
    let index = bytes.get(8..10).ok_or_else(|| corrupt("position"))?;
    Ok(Position {
        seq: u64_from(bytes)?,
        index: u16::from_be_bytes([index[0], index[1]]),
    })
}

pub(super) fn encode_counters(counters: &InboxCounters) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&counters.received.to_be_bytes());
    bytes[8..16].copy_from_slice(&counters.duplicates.to_be_bytes());
    bytes[16..24].copy_from_slice(&counters.rejected.to_be_bytes());
    bytes[24..].copy_from_slice(
        &counters
            .last_received_at_ms
            .unwrap_or(i64::MIN)
            .to_be_bytes(),
    );
    bytes
}

pub(super) fn decode_counters(bytes: &[u8]) -> Result<InboxCounters> {
    if bytes.len() != 32 {
        return Err(corrupt("counters"));
    }
    let last = u64_from(&bytes[24..])? as i64;
    Ok(InboxCounters {
        received: u64_from(bytes)?,
        duplicates: u64_from(&bytes[8..])?,
        rejected: u64_from(&bytes[16..])?,
        last_received_at_ms: (last != i64::MIN).then_some(last),
    })
}
