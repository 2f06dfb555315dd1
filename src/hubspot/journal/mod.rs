//! HubSpot's Webhooks Journal API (version 2026-03) for one app, outside any portal's
//! [`Client`](super::Client): its client-credentials token (`token`),
//! reads of a portal's local journal, file downloads, and subscriptions (`subscriptions`).
//! Journal calls are exempt from the portal's rate limits and have their own (429 with
//! `Retry-After`); each call here is one attempt (after at most one new token on a 401), so
//! the caller decides how long to wait. Files are fetched from pre-signed URLs without
//! `Authorization`, size-bounded. What the files hold is `journal::format`'s business.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/latest/webhooks-journal/guide>

mod subscriptions;
mod token;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::Method;
use serde::Deserialize;
use url::Url;

use super::calls::{CallCount, CallCounts};
use super::classify;
use super::client::endpoint;
use super::error::Error;
use crate::secret::Secret;
use crate::time::parse_ms;

pub use subscriptions::SUBSCRIPTIONS_PATH;

/// The scopes the journal's calls need (with the read scopes of the subscribed types).
pub const SCOPES: [&str; 3] = [
    "developer.webhooks_journal.read",
    "developer.webhooks_journal.subscriptions.read",
    "developer.webhooks_journal.subscriptions.write",
];
/// Most entries one batch read returns.
pub const MAX_BATCH: usize = 100;
const LOCAL: &str = "/webhooks-journal/journal-local/2026-03";

/// One journal entry: a file of events behind a pre-signed URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Opaque; `next` from it reads the entries after this one.
    pub offset: String,
    /// When `url` stops working (`None`: HubSpot did not say, or not readably).
    pub expires_at_ms: Option<i64>,
    pub url: String,
}

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start<'a> {
    Earliest,
    After(&'a str),
}

/// Why a file could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The pre-signed URL expired (S3 answers 403): read the entry again for a new one.
    #[error("the file's URL has expired (HTTP {0})")]
    Expired(u16),
    /// The file is gone (404): past the journal's retention.
    #[error("the file no longer exists (HTTP 404)")]
    Gone,
    /// Larger than any journal file should be: treated as a damaged file.
    #[error("the file is larger than {0} bytes")]
    TooBig(usize),
    /// The network or the file store failed; trying again may work.
    #[error("downloading the file failed: {0}")]
    Failed(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEntry {
    current_offset: String,
    #[serde(default)]
    expires_at: Option<serde_json::Value>,
    url: String,
}

#[derive(Deserialize)]
struct WireBatch {
    #[serde(default)]
    results: Vec<WireEntry>,
}

/// An app's Webhooks Journal client; share it behind an `Arc`.
pub struct JournalClient {
    http: reqwest::Client,
    /// Downloads: never any `Authorization` (S3 refuses a second auth mechanism).
    files: reqwest::Client,
    base: Url,
    client_id: String,
    client_secret: Secret<String>,
    /// Space-separated, as the token endpoint takes them.
    scopes: String,
    token: tokio::sync::Mutex<Option<token::AppToken>>,
    calls: CallCounts,
    downloads: CallCounts,
}

impl JournalClient {
    /// `scopes`: the read scopes of the subscribed types; the journal's own are added.
    pub fn new(
        api_base: Url,
        client_id: String,
        client_secret: Secret<String>,
        scopes: &[&str],
        timeout: Duration,
    ) -> Result<JournalClient, Error> {
        let build = || {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .timeout(timeout)
                .user_agent(concat!("hubspot-gateway/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(Error::from_transport)
        };
        let mut all: Vec<&str> = SCOPES.iter().chain(scopes).copied().collect();
        all.sort_unstable();
        all.dedup();
        Ok(JournalClient {
            http: build()?,
            files: build()?,
            base: api_base,
            client_id,
            client_secret,
            scopes: all.join(" "),
            token: tokio::sync::Mutex::new(None),
            calls: CallCounts::default(),
            downloads: CallCounts::default(),
        })
    }

    /// Up to `count` (≤ [`MAX_BATCH`]) entries of `portal`'s local journal from `start`, oldest
    /// first; empty when nothing is newer (HubSpot answers 204, or no results). An expired or
    /// unknown offset is [`Error::NotFound`].
    pub async fn entries(
        &self,
        portal: i64,
        start: Start<'_>,
        count: usize,
    ) -> Result<Vec<Entry>, Error> {
        let count = count.clamp(1, MAX_BATCH);
        let (path, label) = match start {
            Start::Earliest => (
                format!("{LOCAL}/batch/earliest/{count}"),
                "journal batch earliest",
            ),
            Start::After(offset) => (
                format!("{LOCAL}/batch/{}/next/{count}", segment(offset)),
                "journal batch next",
            ),
        };
        let body = self.call(Method::GET, &path, portal, None, label).await?;
        batch_entries(&body, label)
    }

    /// The newest entry of `portal`'s local journal (`None`: it is empty).
    pub async fn latest(&self, portal: i64) -> Result<Option<Entry>, Error> {
        let label = "journal latest";
        let path = format!("{LOCAL}/latest");
        let body = self.call(Method::GET, &path, portal, None, label).await?;
        if body.is_empty() {
            return Ok(None);
        }
        let entry: WireEntry = parse(&body, label)?;
        Ok(Some(entry.into()))
    }

    /// Downloads a file, without `Authorization`, reading at most `limit` bytes.
    pub async fn download(&self, url: &str, limit: usize) -> Result<Bytes, DownloadError> {
        let failed = |error: reqwest::Error| DownloadError::Failed(error.without_url().to_string());
        let mut response = self.files.get(url).send().await.map_err(failed)?;
        let status = response.status().as_u16();
        self.downloads.record("journal file", status);
        match status {
            200..=299 => {}
            // S3: 403 AccessDenied "Request has expired" (or a signature it no longer
            // knows), 400 for an expired URL on some regions.
            400 | 403 => return Err(DownloadError::Expired(status)),
            404 => return Err(DownloadError::Gone),
            other => return Err(DownloadError::Failed(format!("HTTP {other}"))),
        }
        if response
            .content_length()
            .is_some_and(|length| length as usize > limit)
        {
            return Err(DownloadError::TooBig(limit));
        }
        let mut bytes = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if bytes.len() + chunk.len() > limit {
                return Err(DownloadError::TooBig(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes.freeze())
    }

    /// Answers per journal endpoint and status (token requests included).
    pub fn calls(&self) -> Vec<CallCount> {
        self.calls.snapshot()
    }

    /// File downloads per status.
    pub fn downloads(&self) -> Vec<CallCount> {
        self.downloads.snapshot()
    }

    /// One call with the app token (a new token and one more attempt after a 401); the body
    /// of a 2xx answer (empty for 204).
    async fn call(
        &self,
        method: Method,
        path: &str,
        portal: i64,
        body: Option<&serde_json::Value>,
        label: &str,
    ) -> Result<Bytes, Error> {
        let mut refused = None;
        loop {
            let (token, generation) = self.token(refused).await?;
            let mut request = self
                .http
                .request(method.clone(), endpoint(&self.base, path))
                .bearer_auth(token.expose());
            if path.starts_with(LOCAL) {
                request = request.query(&[("installPortalId", portal.to_string())]);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(Error::from_transport)?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(Error::from_transport)?;
            self.calls.record(label, status);
            if (200..300).contains(&status) {
                return Ok(bytes);
            }
            let error = classify::error_from_response(status, &headers, &bytes);
            match error {
                Error::Unauthorized { .. } if refused.is_none() => refused = Some(generation),
                Error::Forbidden { .. } => {
                    let missing: Vec<super::MissingScope> = classify::missing_scopes(&bytes)
                        .into_iter()
                        .map(|scope| super::MissingScope {
                            scope,
                            needed_for: label.to_owned(),
                        })
                        .collect();
                    if missing.is_empty() {
                        return Err(error);
                    }
                    return Err(Error::MissingScopes { missing });
                }
                error => return Err(error),
            }
        }
    }
}

impl From<WireEntry> for Entry {
    fn from(wire: WireEntry) -> Entry {
        let expires_at_ms = match &wire.expires_at {
            Some(serde_json::Value::String(text)) => parse_ms(text),
            Some(serde_json::Value::Number(number)) => number.as_i64(),
            _ => None,
        };
        Entry {
            offset: wire.current_offset,
            expires_at_ms,
            url: wire.url,
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], label: &str) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|error| Error::BadResponse {
        what: label.to_owned(),
        reason: error.to_string(),
    })
}

/// A batch answer's entries; a 204 (empty body) has none.
fn batch_entries(body: &[u8], label: &str) -> Result<Vec<Entry>, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let batch: WireBatch = parse(body, label)?;
    Ok(batch.results.into_iter().map(Entry::from).collect())
}

/// An opaque offset as one path segment (HubSpot's are UUIDs; anything else is escaped).
fn segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_204s_and_entries() {
        let body = br#"{"status":"COMPLETE","results":[{"currentOffset":"a-1",
            "expiresAt":"2026-03-01T00:10:00.000Z","url":"https://files/x"}],
            "startedAt":"2026-03-01T00:00:00Z","completedAt":"2026-03-01T00:00:00Z"}"#;
        let entries = batch_entries(body, "t").unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].offset, "a-1");
        assert_eq!(
            entries[0].expires_at_ms,
            parse_ms("2026-03-01T00:10:00.000Z")
        );
        assert!(batch_entries(b"", "t").unwrap().is_empty(), "204");
        assert!(batch_entries(br#"{"status":"COMPLETE"}"#, "t")
            .unwrap()
            .is_empty());
        assert!(batch_entries(b"<html>", "t").is_err());
        assert_eq!(segment("a-b_c.d~"), "a-b_c.d~");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
