//! One journal file: the entry that names it and its bytes as served (§9.3 shape), broken
//! on purpose when a fault says so.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::sim::time;

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
    pub events: Vec<Value>,
    pub corruption: Option<FileCorruption>,
}

impl Entry {
    /// The file's bytes as served (§9.3 shape), broken if a fault says so.
    pub fn file(&self, corruption: Option<FileCorruption>) -> Vec<u8> {
        let body = json!({"offset": self.offset, "publishedAt": time::iso(self.published_ms),
                          "journalEvents": self.events});
        // Invariant: JSON values serialise.
        let bytes = serde_json::to_vec(&body).expect("JSON values serialise");
        match corruption.or(self.corruption) {
            None => bytes,
            Some(FileCorruption::Truncated) => bytes[..bytes.len() / 2].to_vec(),
            Some(FileCorruption::NotJson) => {
                b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec()
            }
        }
    }
}
