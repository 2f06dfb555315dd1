//! One journal file: the entry that names it and its bytes as served (the shape of HubSpot's journal files), broken
//! on purpose when a fault says so.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::time;

/// How a file is broken when served (a fault for testing consumers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileCorruption {
    /// The first half of the JSON.
    Truncated,
    /// An HTML error page instead of JSON.
    NotJson,
}

/// One closed file: an entry of the journal.
#[derive(Debug, Clone)]
pub struct Entry {
    pub offset: String,
    pub portal_id: i64,
    pub published_ms: i64,
    /// The events as one JSON array, serialised once (a file is read far more often than
    /// changed, and bytes are a fraction of the size of `Value`s).
    pub events: Vec<u8>,
    pub corruption: Option<FileCorruption>,
}

impl Entry {
    /// The file's bytes as served (the shape of HubSpot's journal files), broken if a fault says so.
    pub fn file(&self, corruption: Option<FileCorruption>) -> Vec<u8> {
        // Offsets are UUIDs and the time is ISO-8601: nothing to escape.
        let head = format!(
            r#"{{"offset":"{}","publishedAt":"{}","journalEvents":"#,
            self.offset,
            time::iso(self.published_ms)
        );
        let mut bytes = Vec::with_capacity(head.len() + self.events.len() + 1);
        bytes.extend_from_slice(head.as_bytes());
        bytes.extend_from_slice(&self.events);
        bytes.push(b'}');
        match corruption.or(self.corruption) {
            None => bytes,
            Some(FileCorruption::Truncated) => bytes[..bytes.len() / 2].to_vec(),
            Some(FileCorruption::NotJson) => {
                b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec()
            }
        }
    }

    /// The events, parsed.
    pub fn events(&self) -> Vec<Value> {
        // Invariant: `events` was serialised from JSON values.
        serde_json::from_slice(&self.events).expect("stored events are JSON")
    }

    /// Makes the file and its events' `occurredAt` `by_ms` older.
    pub fn age(&mut self, by_ms: i64) {
        self.published_ms -= by_ms;
        let mut events = self.events();
        for event in &mut events {
            if let Some(at) = event["occurredAt"].as_i64() {
                event["occurredAt"] = json!(at - by_ms);
            }
        }
        // Invariant: JSON values serialise.
        self.events = serde_json::to_vec(&events).expect("JSON values serialise");
    }
}
