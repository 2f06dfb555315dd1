//! HubSpot's Webhooks Journal as the simulator keeps it: the app's
//! per-portal subscriptions decide which portal changes are written; written events collect in
//! a buffer that closes into a file every `file_interval_ms` or at `max_file_events` /
//! `max_file_bytes`, whichever comes first; files are kept `retention_ms` (3 days) on the
//! simulator's clock, which [`crate::sim::Control::age_journal`] can move past.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/latest/webhooks-journal/guide>
//!
//! # What HubSpot does not document, decided here (and only here)
//! - File: `{"offset": <uuid>, "publishedAt": <ISO-8601>, "journalEvents": [...]}`, plain JSON.
//!   Events: `type` (`OBJECT`, `ASSOCIATION`, `GDPR_PRIVACY_DELETION`), `portalId`,
//!   `objectTypeId`, `objectId`, `action`, `occurredAt` (epoch ms, as in webhooks); UPDATE adds
//!   `propertyChanges` {name: new value, `""` = cleared}, one UPDATE per record and mutation
//!   holding only subscribed properties; CREATE carries none (the properties set on creation
//!   follow as an UPDATE, as webhooks send creation then propertyChange); MERGE adds
//!   `mergedObjectIds` (`objectId` is the survivor); association events add `fromObjectTypeId`,
//!   `fromObjectId`, `toObjectTypeId`, `toObjectId`, `associationTypeId`,
//!   `associationCategory`, `isPrimary` (a primary association also comes unlabelled, as in
//!   webhooks). No event id, no `changeSource`. A change several subscriptions want is written
//!   once.
//! - Nothing after the offset (or an empty journal) on a single-entry call: 204, empty body.
//!   Batch calls answer 200 with `results: []`.
//! - An upsert with the same `subscriptionType`, `portalId` and `objectTypeId` replaces that
//!   subscription (keeps its id). Every field the spec marks required must be sent; UPDATE
//!   needs at least one property; properties must exist; LIST_MEMBERSHIP and
//!   APP_LIFECYCLE_EVENT are refused (the simulator has neither).
//! - Journal and subscription calls take client-credentials tokens only: another valid token
//!   answers 403 `MISSING_SCOPES` (it cannot carry `developer.*` scopes).
//! - Rate limit: its own rolling window (default 100 per second, the old beta's figure), 429
//!   with `Retry-After` (seconds) and HubSpot's secondly-limit body; no rate-limit headers.
//!   The CRM's limits, `fault_rate` and forced 429s do not touch journal calls (they are
//!   exempt); a HubSpot `outage` does. File downloads are not API calls: no auth, no
//!   limit, no outage.
//! - File URLs live `url_ttl_ms` (default 10 minutes); afterwards 403 `AccessDenied`
//!   ("Request has expired") in S3's XML; a file past retention 404 `NoSuchKey`; a download
//!   carrying `Authorization` 400 `InvalidArgument`, as S3 answers a second auth mechanism.

mod events;
mod faults;
mod file;
mod store;
mod subscriptions;
mod urls;

use serde::Serialize;
use serde_json::Value;

pub use faults::{Admission, JournalFaults};
pub use file::FileCorruption;
pub use store::UrlCheck;
pub use subscriptions::{Action, Invalid, Subscription, SubscriptionType};

use crate::sim::portal::Change;
use crate::sim::RateLimit;
use store::Store;
use subscriptions::Subscriptions;

pub const READ_SCOPE: &str = "developer.webhooks_journal.read";
pub const SUBSCRIPTIONS_READ_SCOPE: &str = "developer.webhooks_journal.subscriptions.read";
pub const SUBSCRIPTIONS_WRITE_SCOPE: &str = "developer.webhooks_journal.subscriptions.write";
/// The `developer.*` scopes an app may ask a client-credentials token for.
pub const SCOPES: [&str; 5] = [
    READ_SCOPE,
    SUBSCRIPTIONS_READ_SCOPE,
    SUBSCRIPTIONS_WRITE_SCOPE,
    "developer.webhooks_journal.snapshots.read",
    "developer.webhooks_journal.snapshots.write",
];
/// Most entries one batch call reads.
pub const MAX_BATCH: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct JournalConfig {
    /// A buffer closes into a file this long after its first event (default 200 ms).
    pub file_interval_ms: u64,
    /// ... or at this many events (HubSpot: 10 000) ...
    pub max_file_events: usize,
    /// ... or before passing this many bytes of events (HubSpot: 5 MB).
    pub max_file_bytes: usize,
    /// Files older than this vanish (HubSpot: 3 days).
    pub retention_ms: u64,
    /// Lifetime of a pre-signed file URL (undocumented; default 10 minutes).
    pub url_ttl_ms: u64,
    /// The journal's own limit per app (default 100 per second); `None` = unlimited.
    pub rate_limit: Option<RateLimit>,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            file_interval_ms: 200,
            max_file_events: 10_000,
            max_file_bytes: 5 << 20,
            retention_ms: 3 * 86_400_000,
            url_ttl_ms: 600_000,
            rate_limit: Some(RateLimit {
                max: 100,
                interval_ms: 1_000,
            }),
        }
    }
}

/// What the journal holds, for `Stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JournalStats {
    pub subscriptions: u64,
    pub files_written: u64,
    pub events_written: u64,
    /// Files retained now.
    pub entries: u64,
    /// Events waiting in the open buffer.
    pub buffered: u64,
}

pub struct Journal {
    pub config: JournalConfig,
    /// The accounts the app is installed in (the simulated portal first): the ones
    /// subscriptions may name.
    pub installed: Vec<i64>,
    pub subscriptions: Subscriptions,
    pub store: Store,
    pub faults: JournalFaults,
}

impl Journal {
    pub fn new(config: JournalConfig, installed: Vec<i64>, seed: u64) -> Journal {
        Journal {
            faults: JournalFaults::new(config.rate_limit),
            config,
            installed,
            subscriptions: Subscriptions::default(),
            store: Store::new(seed),
        }
    }

    /// Writes the subscribed events of one mutation's changes in the account `portal_id`.
    pub fn record(&mut self, portal_id: i64, changes: &[Change], now_ms: i64) {
        if self.subscriptions.is_empty() {
            return;
        }
        let events = events::journal_events(changes, portal_id, &self.subscriptions);
        if !events.is_empty() {
            self.store.append(portal_id, events, now_ms, &self.config);
        }
    }

    /// Puts an event of `portal_id` (not the simulated portal's) into the simulated portal's
    /// next file.
    pub fn inject_foreign(&mut self, portal_id: i64, now_ms: i64) {
        let event = events::foreign_event(portal_id, 1 + now_ms as u64 % 1_000_000, now_ms);
        let home = self.installed[0];
        self.store.append(home, vec![event], now_ms, &self.config);
    }

    pub fn tick(&mut self, now_ms: i64) {
        self.store.tick(now_ms, &self.config);
    }

    /// A subscription from an upsert body, validated against the accounts the app is
    /// installed in.
    pub fn parse_subscription(&self, body: &Value, app_id: i64) -> Result<Subscription, Invalid> {
        subscriptions::parse(body, app_id, &self.installed)
    }

    pub fn stats(&mut self, now_ms: i64) -> JournalStats {
        self.tick(now_ms);
        JournalStats {
            subscriptions: self.subscriptions.all().len() as u64,
            files_written: self.store.files_written,
            events_written: self.store.events_written,
            entries: self.store.len() as u64,
            buffered: self.store.buffered() as u64,
        }
    }
}
