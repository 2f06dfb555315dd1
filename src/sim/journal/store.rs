//! The journal's entries: a buffer of events that closes into a file (by age, count or
//! size), and the retained files in publication order with the URLs signed for them.

use std::collections::{HashMap, VecDeque};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::file::{Entry, FileCorruption};
use super::urls::Urls;
use super::JournalConfig;

struct Buffer {
    portal_id: i64,
    opened_ms: i64,
    /// `[` and the events so far, comma-separated.
    json: Vec<u8>,
    count: usize,
}

/// What a file URL leads to.
#[derive(Debug)]
pub enum UrlCheck<'a> {
    Unknown,
    Expired,
    Gone,
    File(&'a Entry),
}

pub struct Store {
    entries: VecDeque<Entry>,
    /// Offset → sequence number; `entries[0]` has `first_seq`.
    by_offset: HashMap<String, u64>,
    first_seq: u64,
    buffer: Option<Buffer>,
    urls: Urls,
    rng: StdRng,
    /// The next this many files close corrupted, for good.
    pub corrupt_next: (u32, FileCorruption),
    pub files_written: u64,
    pub events_written: u64,
}

impl Store {
    pub fn new(seed: u64) -> Store {
        Store {
            entries: VecDeque::new(),
            by_offset: HashMap::new(),
            first_seq: 0,
            buffer: None,
            urls: Urls::new(seed),
            rng: StdRng::seed_from_u64(seed ^ 0x10_0c4a1),
            corrupt_next: (0, FileCorruption::Truncated),
            files_written: 0,
            events_written: 0,
        }
    }

    /// Adds events to the buffer, first closing it if it is due, then whenever it is full.
    pub fn append(
        &mut self,
        portal_id: i64,
        events: Vec<Value>,
        now_ms: i64,
        config: &JournalConfig,
    ) {
        self.tick(now_ms, config);
        for event in events {
            // Invariant: JSON values serialise.
            let event = serde_json::to_vec(&event).expect("JSON values serialise");
            let fits = self.buffer.as_ref().is_none_or(|buffer| {
                buffer.portal_id == portal_id
                    && buffer.json.len() + event.len() + 2 <= config.max_file_bytes
            });
            if !fits {
                self.close(now_ms);
            }
            let buffer = self.buffer.get_or_insert_with(|| Buffer {
                portal_id,
                opened_ms: now_ms,
                json: vec![b'['],
                count: 0,
            });
            if buffer.count > 0 {
                buffer.json.push(b',');
            }
            buffer.json.extend_from_slice(&event);
            buffer.count += 1;
            if buffer.count >= config.max_file_events {
                self.close(now_ms);
            }
        }
    }

    /// Closes the buffer if its interval passed (as of when it did) and drops expired files.
    pub fn tick(&mut self, now_ms: i64, config: &JournalConfig) {
        let due = self
            .buffer
            .as_ref()
            .map(|buffer| buffer.opened_ms + config.file_interval_ms as i64)
            .filter(|&due| due <= now_ms);
        if let Some(due) = due {
            self.close(due);
        }
        while self
            .entries
            .front()
            .is_some_and(|entry| entry.published_ms + config.retention_ms as i64 <= now_ms)
        {
            if let Some(entry) = self.entries.pop_front() {
                self.by_offset.remove(&entry.offset);
                self.first_seq += 1;
            }
        }
    }

    /// Publishes the buffer as a file now (no-op when empty).
    pub fn close(&mut self, published_ms: i64) {
        let Some(mut buffer) = self.buffer.take() else {
            return;
        };
        buffer.json.push(b']');
        let offset = self.uuid();
        let corruption = (self.corrupt_next.0 > 0).then(|| {
            self.corrupt_next.0 -= 1;
            self.corrupt_next.1
        });
        self.files_written += 1;
        self.events_written += buffer.count as u64;
        self.by_offset
            .insert(offset.clone(), self.first_seq + self.entries.len() as u64);
        self.entries.push_back(Entry {
            offset,
            portal_id: buffer.portal_id,
            published_ms,
            events: buffer.json,
            corruption,
        });
    }

    /// Makes everything held `by_ms` older: files, their events, and issued URLs.
    pub fn age(&mut self, by_ms: i64, now_ms: i64, config: &JournalConfig) {
        self.close(now_ms);
        for entry in &mut self.entries {
            entry.age(by_ms);
        }
        self.urls.age(by_ms);
        self.tick(now_ms, config);
    }

    /// Offsets of the first `count` entries in scope (`portal`: the local journal's filter).
    pub fn earliest(&self, portal: Option<i64>, count: usize) -> Vec<String> {
        offsets(self.entries.iter(), portal, count)
    }

    /// Offsets of the last `count` entries in scope, oldest first.
    pub fn latest(&self, portal: Option<i64>, count: usize) -> Vec<String> {
        let mut latest = offsets(self.entries.iter().rev(), portal, count);
        latest.reverse();
        latest
    }

    /// Offsets of up to `count` entries after `offset`; `None` if it is unknown or expired.
    pub fn after(&self, offset: &str, portal: Option<i64>, count: usize) -> Option<Vec<String>> {
        self.get(offset, portal)?;
        let index = (self.by_offset[offset] - self.first_seq) as usize;
        Some(offsets(self.entries.iter().skip(index + 1), portal, count))
    }

    pub fn get(&self, offset: &str, portal: Option<i64>) -> Option<&Entry> {
        let seq = *self.by_offset.get(offset)?;
        let entry = self.entries.get((seq - self.first_seq) as usize)?;
        in_scope(entry, portal).then_some(entry)
    }

    pub fn get_mut(&mut self, offset: &str) -> Option<&mut Entry> {
        let seq = *self.by_offset.get(offset)?;
        self.entries.get_mut((seq - self.first_seq) as usize)
    }

    /// Signs a URL for `offset` until `expires_ms`; returns the signature.
    pub fn sign(&mut self, offset: &str, expires_ms: i64, now_ms: i64) -> String {
        self.urls.sign(offset, expires_ms, now_ms)
    }

    pub fn check_url(&self, offset: &str, signature: &str, now_ms: i64) -> UrlCheck<'_> {
        match self.urls.expiry(offset, signature) {
            None => UrlCheck::Unknown,
            Some(expires_ms) if expires_ms <= now_ms => UrlCheck::Expired,
            Some(_) => self
                .get(offset, None)
                .map_or(UrlCheck::Gone, UrlCheck::File),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn buffered(&self) -> usize {
        self.buffer.as_ref().map_or(0, |buffer| buffer.count)
    }

    fn uuid(&mut self) -> String {
        let (a, b, c): (u32, u16, u64) = self.rng.gen();
        let (time_hi, clock) = ((c >> 48) & 0x0fff, ((c >> 36) & 0x3fff) | 0x8000);
        format!(
            "{a:08x}-{b:04x}-4{time_hi:03x}-{clock:04x}-{:012x}",
            c & 0xffff_ffff_ffff
        )
    }
}

fn in_scope(entry: &Entry, portal: Option<i64>) -> bool {
    portal.is_none_or(|portal| entry.portal_id == portal)
}

fn offsets<'a>(
    entries: impl Iterator<Item = &'a Entry>,
    portal: Option<i64>,
    count: usize,
) -> Vec<String> {
    let in_scope = entries.filter(|entry| in_scope(entry, portal));
    in_scope
        .take(count)
        .map(|entry| entry.offset.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> JournalConfig {
        JournalConfig {
            file_interval_ms: 100,
            max_file_events: 3,
            max_file_bytes: 1_000,
            retention_ms: 10_000,
            ..JournalConfig::default()
        }
    }

    fn events(count: usize) -> Vec<Value> {
        (0..count)
            .map(|n| json!({"objectId": n, "occurredAt": 1_000}))
            .collect()
    }

    #[test]
    fn files_close_by_interval_count_and_size() {
        let (mut store, config) = (Store::new(1), config());
        store.append(7, events(1), 1_000, &config);
        store.tick(1_099, &config);
        assert_eq!((store.len(), store.buffered()), (0, 1));
        store.tick(1_100, &config);
        assert_eq!(store.len(), 1, "closed after the interval");
        store.append(7, events(7), 2_000, &config);
        assert_eq!((store.len(), store.buffered()), (3, 1), "3 events per file");
        let big = vec![json!({"blob": "x".repeat(600)}); 2];
        store.append(7, big, 2_000, &config);
        assert_eq!(store.len(), 4, "the second blob would pass 1 000 bytes");
        let offsets = store.earliest(None, 10);
        assert_eq!(store.latest(Some(7), 2), offsets[2..].to_vec());
        assert_eq!(
            store.after(&offsets[0], Some(7), 2).unwrap(),
            offsets[1..3].to_vec()
        );
        assert_eq!(
            store.after(&offsets[0], Some(8), 2),
            None,
            "other portal's journal"
        );
        assert!(store.after("nope", None, 1).is_none());
    }

    #[test]
    fn aging_expires_files_and_urls() {
        let (mut store, config) = (Store::new(1), config());
        store.append(7, events(1), 1_000, &config);
        store.close(1_000);
        let offset = store.earliest(None, 1).remove(0);
        let signature = store.sign(&offset, 5_000, 1_000);
        assert!(matches!(
            store.check_url(&offset, &signature, 4_999),
            UrlCheck::File(_)
        ));
        assert!(matches!(
            store.check_url("other", &signature, 1_000),
            UrlCheck::Unknown
        ));
        store.age(4_000, 1_000, &config);
        assert!(matches!(
            store.check_url(&offset, &signature, 1_000),
            UrlCheck::Expired
        ));
        assert_eq!(
            store.get(&offset, None).unwrap().events()[0]["occurredAt"],
            -3_000
        );
        store.age(6_000, 1_000, &config);
        assert_eq!(store.len(), 0, "older than retention");
        assert!(store.get(&offset, None).is_none());
    }

    #[test]
    fn corrupt_files_are_broken_for_good() {
        let (mut store, config) = (Store::new(1), config());
        store.corrupt_next = (1, FileCorruption::Truncated);
        store.append(7, events(3), 1_000, &config);
        store.append(7, events(3), 1_000, &config);
        let offsets = store.earliest(None, 2);
        let broken = store.get(&offsets[0], None).unwrap().file(None);
        assert!(serde_json::from_slice::<Value>(&broken).is_err());
        let sound: Value =
            serde_json::from_slice(&store.get(&offsets[1], None).unwrap().file(None)).unwrap();
        assert_eq!(sound["offset"], offsets[1]);
        assert_eq!(sound["journalEvents"].as_array().unwrap().len(), 3);
    }
}
