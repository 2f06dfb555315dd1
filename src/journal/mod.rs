//! HubSpot's Webhooks Journal as an event source: pull instead of push, for gateways HubSpot
//! cannot reach and to recover what webhooks missed.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/latest/webhooks-journal/guide>
//!
//! For the connected portal the [`Journal`] keeps the app's journal subscriptions
//! (`subscriptions`: created on connect, removed on disconnect), reads the portal's local
//! journal with the app's client-credentials token (`consumer`), converts each file's events
//! into the webhook shape (`format`, where every assumption about the undocumented format
//! lives) and appends them to the same inbox the webhooks fill, moving one durable cursor in
//! the same group commit (`store::JournalCursors`). Everything downstream — dedup, apply,
//! privacy erasure — is shared; a change that both sources deliver is applied once
//! (`sync::arrivals`). A gap (an expired cursor, a cursor older than the journal keeps, a file
//! that stays damaged) is counted, logged, and closed by a reconciliation of the subscribed
//! types (`gaps`). `status` holds what `GET /v1/status` and the metrics show.

pub mod consumer;
pub mod crash;
pub mod format;
pub mod gaps;
pub mod metrics;
mod record;
pub mod status;
pub mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use record::{BadFile, Position, Reconcile, Record, Subscribed};
pub use status::Monitor;

use crate::config::Loaded;
use crate::hubspot::journal::JournalClient;
use crate::object::ObjectType;
use crate::store::Store;
use crate::sync::Syncer;
use crate::webhook::Inbox;

/// What the journal needs from the config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Between reads while caught up (behind, it reads back to back).
    pub poll_interval: Duration,
    /// The mirrored types: what is subscribed, and what a gap reconciles.
    pub kinds: Vec<ObjectType>,
}

/// The journal of the daemon: each connected portal's local journal is read by that portal's
/// sync; shared by the sync supervisors, the API and the metrics.
pub struct Journal {
    pub settings: Settings,
    pub client: Arc<JournalClient>,
    pub store: Store,
    /// Each portal's reader's live state.
    monitors: parking_lot::Mutex<std::collections::HashMap<i64, Arc<Monitor>>>,
    /// Wakes each portal's gap reconciliation.
    reconciles: parking_lot::Mutex<std::collections::HashMap<i64, Arc<Notify>>>,
    /// The record of a portal is read, changed and written one at a time.
    record_lock: parking_lot::Mutex<()>,
}

impl Journal {
    /// The journal `[hubspot.journal]` describes; `None` when it is off.
    pub fn from_config(loaded: &Loaded, store: &Store) -> anyhow::Result<Option<Arc<Journal>>> {
        let config = &loaded.config;
        if !config.hubspot.journal.enabled {
            return Ok(None);
        }
        let kinds: Vec<ObjectType> = config
            .sync
            .objects
            .iter()
            .filter_map(|name| name.parse().ok())
            .collect();
        let scopes: Vec<&str> = kinds.iter().map(|kind| kind.read_scope()).collect();
        let (Some(client_id), Some(client_secret)) = (
            config.hubspot.client_id.clone(),
            loaded.secrets.client_secret.clone(),
        ) else {
            anyhow::bail!("hubspot.journal needs hubspot.client_id and hubspot.client_secret");
        };
        let client = JournalClient::new(
            url::Url::parse(&config.hubspot.api_base)?,
            client_id,
            client_secret,
            &scopes,
            Duration::from_secs(config.hubspot.request_timeout_secs),
        )?;
        let settings = Settings {
            poll_interval: Duration::from_millis(config.hubspot.journal.poll_interval_ms),
            kinds,
        };
        Ok(Some(Arc::new(Journal::new(
            settings,
            client,
            store.clone(),
        ))))
    }

    pub fn new(settings: Settings, client: JournalClient, store: Store) -> Journal {
        Journal {
            settings,
            client: Arc::new(client),
            store,
            monitors: parking_lot::Mutex::default(),
            reconciles: parking_lot::Mutex::default(),
            record_lock: parking_lot::Mutex::new(()),
        }
    }

    /// Reads the journal of `syncer`'s portal into `inbox` and reconciles its gaps, until
    /// `stop`.
    pub async fn run(self: Arc<Self>, syncer: Arc<Syncer>, inbox: Inbox, stop: CancellationToken) {
        let reconciling = gaps::reconcile(&self, &syncer, &stop);
        let consuming = consumer::run(&self, syncer.portal, &inbox, &stop);
        tokio::join!(reconciling, consuming);
    }

    /// The live state of `portal`'s reader (empty until it reads).
    pub fn monitor(&self, portal: i64) -> Arc<Monitor> {
        self.monitors.lock().entry(portal).or_default().clone()
    }

    /// What wakes `portal`'s gap reconciliation.
    fn reconcile_wake(&self, portal: i64) -> Arc<Notify> {
        self.reconciles.lock().entry(portal).or_default().clone()
    }

    /// The record of `portal` (gaps, damaged files, subscriptions).
    pub fn record(&self, portal: i64) -> crate::store::Result<Record> {
        record::load(&self.store, portal)
    }

    /// Changes the record of `portal` and writes it (durable with the next commit).
    pub fn update_record(
        &self,
        portal: i64,
        change: impl FnOnce(&mut Record),
    ) -> crate::store::Result<Record> {
        let _lock = self.record_lock.lock();
        let mut record = record::load(&self.store, portal)?;
        change(&mut record);
        record::save(&self.store, portal, &record)?;
        Ok(record)
    }
}
