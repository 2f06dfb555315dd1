//! The reader of one portal's local journal: entries after the cursor (a batch of up to 100),
//! each file downloaded before its URL expires (else the entries are read again from the
//! cursor), converted, and appended to the inbox with the cursor's move in one group commit
//! (a commit covers the files of up to 10,000 events or 5 MB, so memory stays bounded by about
//! two files). Nothing newer (204, or fewer entries than asked) is caught up: the next read
//! waits `poll_interval`; behind, reads follow back to back. A 429 waits its `Retry-After`,
//! other failures back off. A damaged file is read again with growing pauses, reported, and
//! after [`FILE_ATTEMPTS`] reads skipped as a gap (see `gaps`): never silently.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::format::{self, Converted};
use super::gaps::{self, Reason};
use super::{BadFile, Journal, Monitor, Position};
use crate::hubspot::journal::{DownloadError, Entry, Start, MAX_BATCH};
use crate::hubspot::Error;
use crate::store::CursorMove;
use crate::time::now_ms;
use crate::webhook::inbox::{Pending, Refusal};
use crate::webhook::Inbox;

/// Larger than any journal file should be (HubSpot: 5 MB): refused as damaged.
const MAX_FILE_BYTES: usize = 16 << 20;
/// Events and bytes one commit covers at most (a file never needs more).
const COMMIT_EVENTS: usize = 10_000;
const COMMIT_BYTES: usize = 5 << 20;
/// Reads of a damaged file before it is skipped: the pauses between them double from the
/// poll interval (1, 2, 4, 8, 16 s at the default 1 s), so a file HubSpot repairs within
/// half a minute loses nothing.
pub const FILE_ATTEMPTS: u32 = 6;
/// A URL expiring sooner than this is not used: its entry is read again.
const URL_MARGIN_MS: i64 = 2_000;
/// How often the time of the last caught-up read is written (status ages the cursor by it).
const CAUGHT_UP_WRITE_MS: i64 = 60_000;

/// Reads `portal`'s journal into `inbox` until `stop`.
pub async fn run(journal: &Journal, portal: i64, inbox: &Inbox, stop: &CancellationToken) {
    let position = loop {
        match Position::load(&journal.store, portal) {
            Ok(position) => break position,
            Err(error) => {
                tracing::error!(%error, "cannot read the journal's cursor; retrying");
                if pause(Duration::from_secs(5), stop).await {
                    return;
                }
            }
        }
    };
    tracing::info!(portal, offset = ?position.offset, "reading the Webhooks Journal");
    let mut consumer = Consumer {
        journal,
        portal,
        monitor: journal.monitor(portal),
        inbox,
        caught_up_written: position.caught_up_at_ms,
        position,
        confirmed_ms: None,
        failures: 0,
        url_retries: 0,
        damaged: None,
    };
    loop {
        let wait = tokio::select! {
            wait = consumer.step() => wait,
            () = stop.cancelled() => return,
        };
        if pause(wait, stop).await {
            return;
        }
    }
}

/// Sleeps `wait` unless stopped first; `true` when stopped.
async fn pause(wait: Duration, stop: &CancellationToken) -> bool {
    if wait.is_zero() {
        return stop.is_cancelled();
    }
    tokio::select! {
        () = tokio::time::sleep(wait) => false,
        () = stop.cancelled() => true,
    }
}

struct Consumer<'a> {
    journal: &'a Journal,
    portal: i64,
    monitor: Arc<Monitor>,
    inbox: &'a Inbox,
    position: Position,
    caught_up_written: Option<i64>,
    /// When this process last found nothing after the current cursor (see `gaps`).
    confirmed_ms: Option<i64>,
    /// Failed reads in a row, and URLs found expired in a row.
    failures: u32,
    url_retries: u32,
    /// The damaged file being retried, and how often it was read.
    damaged: Option<(String, u32)>,
}

/// What became of one entry's file.
enum Fetched {
    File(Converted, Option<i64>),
    /// Read the entries again from the cursor after this pause (the URL expired, or the
    /// download failed for a while).
    Again(Duration),
    Damaged(String),
}

impl Consumer<'_> {
    /// One read of entries and their files; the pause before the next.
    async fn step(&mut self) -> Duration {
        let now = now_ms();
        self.monitor.observe(&self.position, now);
        if gaps::too_old(&self.position, now) {
            return self.gap(Reason::TooOld, None).await;
        }
        let start = match &self.position.offset {
            Some(offset) => Start::After(offset),
            None => Start::Earliest,
        };
        let read = self
            .journal
            .client
            .entries(self.portal, start, MAX_BATCH)
            .await;
        self.monitor.polled(now);
        match read {
            Ok(entries) => {
                self.failures = 0;
                self.monitor.reachable();
                self.read(entries, now).await
            }
            Err(Error::NotFound { .. }) if self.position.offset.is_some() => self.expired().await,
            Err(error) => self.failed(&error),
        }
    }

    async fn read(&mut self, entries: Vec<Entry>, read_at: i64) -> Duration {
        let complete = entries.len() < MAX_BATCH;
        let mut batch = Batch::new(self.portal, self.position.clone());
        for entry in &entries {
            match self.fetch(entry).await {
                Fetched::File(converted, published) => {
                    if batch.is_full_for(&converted) {
                        if let Err(wait) = self.commit(&mut batch).await {
                            return wait;
                        }
                    }
                    batch.add(entry, converted, published);
                }
                Fetched::Again(wait) => return self.commit(&mut batch).await.err().unwrap_or(wait),
                Fetched::Damaged(error) => {
                    if let Err(wait) = self.commit(&mut batch).await {
                        return wait;
                    }
                    return self.damaged(entry, error).await;
                }
            }
        }
        if let Err(wait) = self.commit(&mut batch).await {
            return wait;
        }
        if !complete {
            return Duration::ZERO;
        }
        self.caught_up(read_at);
        self.journal.settings.poll_interval
    }

    async fn fetch(&mut self, entry: &Entry) -> Fetched {
        let client = &self.journal.client;
        let expiring = entry
            .expires_at_ms
            .is_some_and(|at| at - now_ms() < URL_MARGIN_MS);
        let downloaded = if expiring {
            Err(DownloadError::Expired(0))
        } else {
            client.download(&entry.url, MAX_FILE_BYTES).await
        };
        let bytes = match downloaded {
            Ok(bytes) => bytes,
            Err(DownloadError::TooBig(limit)) => {
                return Fetched::Damaged(format!("larger than {limit} bytes"))
            }
            Err(error) => {
                self.url_retries += 1;
                self.monitor.url_retry();
                tracing::debug!(offset = %entry.offset, %error, "journal file not downloaded; reading the entries again");
                let wait = match self.url_retries {
                    1 => Duration::ZERO,
                    n => Duration::from_millis((250u64 << n.min(6)).min(10_000)),
                };
                return Fetched::Again(wait);
            }
        };
        self.url_retries = 0;
        match format::read_file(&bytes) {
            Ok(file) => {
                let converted = format::convert(&file, &entry.offset, self.portal);
                Fetched::File(converted, file.published_at_ms)
            }
            Err(damaged) => Fetched::Damaged(damaged.0),
        }
    }

    /// Appends the batch's events with the cursor's move; on success the batch is empty and
    /// the cursor moved. `Err`: the pause before trying again (the store fails).
    async fn commit(&mut self, batch: &mut Batch) -> Result<(), Duration> {
        if batch.files == 0 {
            return Ok(());
        }
        let cursor = CursorMove {
            portal_id: self.portal,
            position: batch.position.encode(),
        };
        if !batch.pending.is_empty() {
            super::crash::point(super::crash::Step::Downloaded);
        }
        let body = bytes::Bytes::from(std::mem::take(&mut batch.body));
        let events = std::mem::take(&mut batch.pending);
        loop {
            let submitted = self
                .inbox
                .submit_with(body.clone(), events.clone(), Some(cursor.clone()))
                .await;
            match submitted {
                Ok(outcome) => {
                    super::crash::point(super::crash::Step::Committed);
                    self.monitor.stored(&outcome);
                    break;
                }
                // The mirror applies more slowly than the journal is read: wait for it.
                Err(Refusal::Overloaded { .. }) => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                Err(Refusal::StorageUnavailable(reason)) => {
                    tracing::error!(%reason, "cannot store journal events; trying again");
                    return Err(Duration::from_secs(5));
                }
            }
        }
        self.position = batch.position.clone();
        self.confirmed_ms = None;
        batch.files = 0;
        self.damaged = None;
        self.monitor.clear_damaged();
        Ok(())
    }

    /// Nothing newer than the cursor as of `read_at`.
    fn caught_up(&mut self, read_at: i64) {
        self.confirmed_ms = Some(read_at);
        self.position.caught_up_at_ms = Some(read_at);
        self.monitor.observe(&self.position, read_at);
        let due = self
            .caught_up_written
            .is_none_or(|at| read_at - at >= CAUGHT_UP_WRITE_MS);
        if due && self.position.offset.is_some() {
            let written = self
                .journal
                .store
                .journal()
                .annotate(self.portal, &self.position.encode());
            match written {
                Ok(()) => self.caught_up_written = Some(read_at),
                Err(error) => tracing::warn!(%error, "cannot note when the journal was caught up"),
            }
        }
    }

    /// `next` answered 404: the cursor's file is gone.
    async fn expired(&mut self) -> Duration {
        if gaps::expired_while_quiet(self.confirmed_ms, now_ms()) {
            tracing::info!(
                portal = self.portal,
                "the journal dropped the cursor's file while the portal was quiet; reading on \
                 from its earliest entry (nothing newer can have expired)"
            );
            self.position.offset = None;
            self.confirmed_ms = None;
            return Duration::ZERO;
        }
        self.gap(Reason::Expired, None).await
    }

    async fn damaged(&mut self, entry: &Entry, error: String) -> Duration {
        let attempts = match &mut self.damaged {
            Some((offset, attempts)) if *offset == entry.offset => {
                *attempts += 1;
                *attempts
            }
            _ => {
                self.damaged = Some((entry.offset.clone(), 1));
                1
            }
        };
        self.monitor.damaged_file(&entry.offset, attempts, &error);
        if attempts < FILE_ATTEMPTS {
            tracing::warn!(offset = %entry.offset, attempts, %error, "a journal file is damaged; reading it again");
            return self.journal.settings.poll_interval * (1 << (attempts - 1));
        }
        tracing::error!(
            offset = %entry.offset,
            attempts,
            %error,
            "a journal file stayed damaged; skipping it as a gap (its changes are reconciled)"
        );
        let bad = BadFile {
            offset: entry.offset.clone(),
            error,
            at_ms: now_ms(),
        };
        let noted = self.journal.update_record(self.portal, |record| {
            record.bad_files += 1;
            record.last_bad_file = Some(bad);
        });
        if let Err(error) = noted {
            tracing::warn!(%error, "cannot record the damaged journal file; trying again");
            return Duration::from_secs(5);
        }
        self.monitor.bad_file();
        self.gap(Reason::DamagedFile, Some(&entry.offset)).await
    }

    /// A gap: where to read on (past the damaged file, else the newest entry), the gap noted
    /// with its reconciliation, then the cursor moved there.
    async fn gap(&mut self, reason: Reason, damaged: Option<&str>) -> Duration {
        let offset = match damaged {
            Some(offset) => Some(offset.to_owned()),
            None => match self.journal.client.latest(self.portal).await {
                Ok(latest) => latest.map(|entry| entry.offset),
                Err(error) => return self.failed(&error),
            },
        };
        let now = now_ms();
        let needs = gaps::reconcile_for(
            &self.journal.settings.kinds,
            self.position.covered_until_ms(),
            now,
        );
        if let Err(error) = self.journal.note_gap(self.portal, reason, needs) {
            tracing::warn!(%error, "cannot record a journal gap; trying again");
            return Duration::from_secs(5);
        }
        super::crash::point(super::crash::Step::GapNoted);
        // The reconciliation reads HubSpot after now: the cursor covers until now.
        let position = Position {
            offset,
            published_at_ms: Some(now),
            caught_up_at_ms: None,
            ..self.position.clone()
        };
        let mut batch = Batch::new(self.portal, position);
        batch.files = 1;
        self.commit(&mut batch)
            .await
            .err()
            .unwrap_or(Duration::ZERO)
    }

    fn failed(&mut self, error: &Error) -> Duration {
        self.failures += 1;
        self.monitor.failed(error);
        if let Error::RateLimited { .. } = error {
            // HubSpot's `Retry-After`, at least a second (a secondly limit).
            return error.min_retry_delay().unwrap_or(Duration::from_secs(1));
        }
        if !error.is_retryable() {
            // Credentials, scopes, configuration: someone must act; look again in a minute.
            return Duration::from_secs(60);
        }
        let backoff = Duration::from_millis((500u64 << self.failures.min(6)).min(30_000));
        backoff.max(error.min_retry_delay().unwrap_or_default())
    }
}

/// Files read but not committed yet: their events and where the cursor goes with them.
struct Batch {
    portal: i64,
    body: String,
    pending: Vec<Pending>,
    position: Position,
    files: usize,
}

impl Batch {
    fn new(portal: i64, position: Position) -> Batch {
        Batch {
            portal,
            body: String::new(),
            pending: Vec::new(),
            position,
            files: 0,
        }
    }

    fn is_full_for(&self, converted: &Converted) -> bool {
        let bytes: usize = converted.events.iter().map(|(raw, _)| raw.len()).sum();
        self.files > 0
            && (self.pending.len() + converted.events.len() > COMMIT_EVENTS
                || self.body.len() + bytes > COMMIT_BYTES)
    }

    fn add(&mut self, entry: &Entry, converted: Converted, published_at_ms: Option<i64>) {
        for (raw, digest) in converted.events {
            let start = self.body.len();
            self.body.push_str(&raw);
            self.pending.push(Pending {
                event_id: 0,
                portal_id: self.portal,
                digest,
                raw: start..self.body.len(),
            });
        }
        let position = &mut self.position;
        position.offset = Some(entry.offset.clone());
        position.published_at_ms = Some(published_at_ms.unwrap_or_else(now_ms));
        position.caught_up_at_ms = None;
        position.foreign += converted.foreign;
        position.skipped += converted.skipped;
        self.files += 1;
    }
}
