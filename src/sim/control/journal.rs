//! `Control`'s Webhooks Journal surface: subscriptions, the clock, and the journal's faults.

use std::time::Duration;

use anyhow::anyhow;
use serde_json::json;

use super::Control;
use crate::sim::journal::{FileCorruption, Subscription};
use crate::sim::kind::ObjectType;
use crate::sim::limits::Window;
use crate::sim::{schema, RateLimit};
use crate::time;

impl Control {
    /// The app's journal subscriptions, as `GET /webhooks-journal/subscriptions/2026-03` lists them.
    pub fn journal_subscriptions(&self) -> Vec<Subscription> {
        self.shared.journal.lock().subscriptions.all().to_vec()
    }

    /// Subscribes the portal to everything the simulator journals: every object action and
    /// property of the four types, associations between them, contact privacy deletions.
    pub fn journal_subscribe_all(&self) {
        let portal_id = self.shared.config.portal_id;
        let mut bodies = Vec::new();
        for kind in ObjectType::ALL {
            let properties: Vec<&str> = schema::properties(kind)
                .iter()
                .map(|def| def.name)
                .collect();
            let others: Vec<&str> = ObjectType::ALL
                .iter()
                .filter(|other| **other != kind)
                .map(|other| other.type_id())
                .collect();
            bodies.push(json!({"subscriptionType": "OBJECT", "portalId": portal_id, "objectTypeId": kind.type_id(),
                               "actions": ["CREATE", "UPDATE", "DELETE", "MERGE", "RESTORE"],
                               "objectIds": [], "properties": properties}));
            bodies.push(json!({"subscriptionType": "ASSOCIATION", "portalId": portal_id, "objectTypeId": kind.type_id(),
                               "actions": ["ASSOCIATION_ADDED", "ASSOCIATION_REMOVED"],
                               "objectIds": [], "associatedObjectTypeIds": others}));
        }
        bodies.push(
            json!({"subscriptionType": "GDPR_PRIVACY_DELETION", "portalId": portal_id,
                           "objectTypeId": "0-1", "actions": ["GDPR_DELETE"]}),
        );
        let app_id = self.shared.app_id();
        let mut journal = self.shared.journal.lock();
        for body in bodies {
            // Invariant: these bodies satisfy the validation they are built for.
            let subscription = journal
                .parse_subscription(&body, app_id)
                .expect("subscribe-all bodies are valid");
            journal.subscriptions.upsert(subscription, time::now_ms());
        }
    }

    /// Publishes the open buffer as a file now instead of at the end of its interval.
    pub fn flush_journal(&self) {
        self.shared.journal.lock().store.close(time::now_ms());
    }

    /// Makes the journal `by` older: files, their events' `occurredAt` and issued URL expiries
    /// move back; what passes the retention (3 days) is gone, its offsets answer 404. Lets a
    /// test have "the gateway was down for 3 days" in no time.
    pub fn age_journal(&self, by: Duration) {
        let mut journal = self.shared.journal.lock();
        let journal = &mut *journal;
        journal
            .store
            .age(by.as_millis() as i64, time::now_ms(), &journal.config);
    }

    /// Offsets of the retained files, oldest first (the global journal).
    pub fn journal_offsets(&self) -> Vec<String> {
        let mut journal = self.shared.journal.lock();
        journal.tick(time::now_ms());
        journal.store.earliest(None, usize::MAX)
    }

    /// File URLs issued from now on live `ttl` (zero: expired before anyone can download).
    pub fn set_journal_url_ttl(&self, ttl: Duration) {
        self.shared.journal.lock().config.url_ttl_ms = ttl.as_millis() as u64;
    }

    /// The journal's own rate limit (`None`: unlimited).
    pub fn set_journal_rate_limit(&self, limit: Option<RateLimit>) {
        let mut journal = self.shared.journal.lock();
        journal.config.rate_limit = limit;
        journal.faults.window = limit.map(Window::new);
    }

    /// The next `count` journal or subscription calls answer 429 with this `Retry-After`.
    pub fn journal_force_429s(&self, count: u32, retry_after: Duration) {
        let mut journal = self.shared.journal.lock();
        journal.faults.forced_429 = count;
        journal.faults.retry_after_secs = retry_after.as_secs().max(1);
    }

    /// The next `count` journal or subscription calls answer 502 / 503 / 504.
    pub fn journal_force_5xx(&self, count: u32) {
        self.shared.journal.lock().faults.forced_5xx = count;
    }

    /// The next `count` files the journal writes are broken for good (every download).
    pub fn corrupt_journal_files(&self, count: u32, corruption: FileCorruption) {
        self.shared.journal.lock().store.corrupt_next = (count, corruption);
    }

    /// The file at `offset` is broken from now on (`None` repairs it).
    pub fn corrupt_journal_entry(
        &self,
        offset: &str,
        corruption: Option<FileCorruption>,
    ) -> anyhow::Result<()> {
        let mut journal = self.shared.journal.lock();
        let entry = journal
            .store
            .get_mut(offset)
            .ok_or_else(|| anyhow!("no journal entry {offset}"))?;
        entry.corruption = corruption;
        Ok(())
    }

    /// The next `count` downloads (whichever files) come back broken; a retry after them
    /// gets the sound file.
    pub fn corrupt_journal_downloads(&self, count: u32, corruption: FileCorruption) {
        self.shared.journal.lock().faults.corrupt_downloads = (count, corruption);
    }

    /// Writes an event of portal `portal_id` into the installed portal's next file (a
    /// journal that mixes accounts up; consumers must ignore it).
    pub fn journal_foreign_event(&self, portal_id: i64) {
        self.shared
            .journal
            .lock()
            .inject_foreign(portal_id, time::now_ms());
    }
}
