//! `Control`: the mutation and fault surface of a running simulator (tests, demo, `/_sim`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail};
use parking_lot::Mutex;
use serde::Serialize;

use super::auth::Tokens;
use super::gen::owners::Owner;
use super::kind::ObjectType;
use super::limits::{Limits, Window};
use super::portal::{Change, Portal};
use super::stats::{Counters, Stats};
use super::webhooks::{Outbox, WebhookChaos};
use super::{time, RateLimit, SimConfig};

/// Changes made through `Control` carry this `changeSource`, like edits in HubSpot's UI.
const UI_SOURCE: &str = "CRM_UI";

/// State shared by the server, the webhook sender and `Control`.
pub(crate) struct Shared {
    pub config: SimConfig,
    pub portal: Mutex<Portal>,
    pub tokens: Mutex<Tokens>,
    pub limits: Mutex<Limits>,
    pub stats: Counters,
    pub outbox: Outbox,
}

impl Shared {
    pub fn new(config: SimConfig) -> Shared {
        let counts = [
            config.contacts,
            config.companies,
            config.deals,
            config.tasks,
        ]
        .map(|count| count as u64);
        let portal = Portal::new(
            config.seed,
            counts,
            config.owners as u64,
            config.search_lag_ms,
        );
        Shared {
            portal: Mutex::new(portal),
            tokens: Mutex::new(Tokens::new(&config.access_token, config.scopes.clone())),
            limits: Mutex::new(Limits::new(&config)),
            stats: Counters::default(),
            outbox: Outbox::new(config.seed),
            config,
        }
    }

    /// Queues the webhooks for these changes (if a target is configured).
    pub fn announce(&self, changes: Vec<Change>) {
        if let Some(target) = &self.config.webhook {
            self.outbox
                .push(&changes, self.config.portal_id, target.app_id, &self.stats);
        }
    }
}

/// One record in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotRecord {
    pub id: String,
    pub properties: BTreeMap<String, String>,
}

/// The whole portal, for comparing a mirror against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Live records per type, ascending id.
    pub objects: BTreeMap<ObjectType, Vec<SnapshotRecord>>,
    pub archived: BTreeMap<ObjectType, Vec<String>>,
    pub owners: Vec<Owner>,
    /// (from type, from id, to type, to id) for each live pair, both directions.
    pub associations: Vec<(ObjectType, String, ObjectType, String)>,
}

#[derive(Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

fn parse_id(id: &str) -> anyhow::Result<u64> {
    id.parse()
        .map_err(|_| anyhow!("record ids are numeric strings, got {id:?}"))
}

fn to_map<K: Into<String>, V: Into<String>>(
    properties: impl IntoIterator<Item = (K, V)>,
) -> BTreeMap<String, String> {
    properties
        .into_iter()
        .map(|(name, value)| (name.into(), value.into()))
        .collect()
}

impl Control {
    pub(crate) fn new(shared: Arc<Shared>) -> Control {
        Control { shared }
    }

    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    pub fn stats(&self) -> Stats {
        let mut stats = self.shared.stats.snapshot();
        stats.webhooks.pending = self.shared.outbox.pending() as u64;
        stats
    }

    fn mutate<T>(
        &self,
        change: impl FnOnce(&mut Portal) -> anyhow::Result<(T, Vec<Change>)>,
    ) -> anyhow::Result<T> {
        let (value, changes) = change(&mut self.shared.portal.lock())?;
        self.shared.announce(changes);
        Ok(value)
    }

    /// Creates a record as a user would in the UI (same validation as the API); returns its id.
    pub fn create<K: Into<String>, V: Into<String>>(
        &self,
        kind: ObjectType,
        properties: impl IntoIterator<Item = (K, V)>,
    ) -> anyhow::Result<String> {
        let properties = to_map(properties);
        self.mutate(|portal| {
            check_write(portal, kind, &properties, true)?;
            let (id, changes) = portal.create(kind, &properties, UI_SOURCE);
            Ok((id.to_string(), changes))
        })
    }

    /// Sets properties (`""` clears one); fires one propertyChange per changed property.
    pub fn update<K: Into<String>, V: Into<String>>(
        &self,
        kind: ObjectType,
        id: &str,
        properties: impl IntoIterator<Item = (K, V)>,
    ) -> anyhow::Result<()> {
        let (id, properties) = (parse_id(id)?, to_map(properties));
        self.mutate(|portal| {
            check_write(portal, kind, &properties, false)?;
            let (_, changes) = portal
                .update(kind, id, &properties, UI_SOURCE)
                .ok_or_else(|| anyhow!("no live {kind:?} {id}"))?;
            Ok(((), changes))
        })
    }

    /// Changes a record's owner (`hubspot_owner_id`), archived owners included.
    pub fn set_owner(&self, kind: ObjectType, id: &str, owner_id: &str) -> anyhow::Result<()> {
        let (id, properties) = (parse_id(id)?, to_map([("hubspot_owner_id", owner_id)]));
        self.mutate(|portal| {
            let (_, changes) = portal
                .update(kind, id, &properties, UI_SOURCE)
                .ok_or_else(|| anyhow!("no live {kind:?} {id}"))?;
            Ok(((), changes))
        })
    }

    pub fn archive(&self, kind: ObjectType, id: &str) -> anyhow::Result<()> {
        let id = parse_id(id)?;
        self.mutate(|portal| {
            Ok((
                (),
                portal
                    .archive(kind, id, UI_SOURCE)
                    .ok_or_else(|| anyhow!("no live {kind:?} {id}"))?,
            ))
        })
    }

    pub fn restore(&self, kind: ObjectType, id: &str) -> anyhow::Result<()> {
        let id = parse_id(id)?;
        self.mutate(|portal| {
            Ok((
                (),
                portal
                    .restore(kind, id, UI_SOURCE)
                    .ok_or_else(|| anyhow!("no archived {kind:?} {id}"))?,
            ))
        })
    }

    /// Merges `merged` into `primary` (which survives with its id).
    pub fn merge(&self, kind: ObjectType, primary: &str, merged: &str) -> anyhow::Result<()> {
        let (primary, merged) = (parse_id(primary)?, parse_id(merged)?);
        self.mutate(|portal| {
            Ok((
                (),
                portal
                    .merge(kind, primary, merged, UI_SOURCE)
                    .map_err(|error| anyhow!(error))?,
            ))
        })
    }

    /// GDPR-deletes a contact: fires `contact.privacyDeletion` and `contact.deletion`.
    pub fn privacy_delete(&self, contact_id: &str) -> anyhow::Result<()> {
        let id = parse_id(contact_id)?;
        self.mutate(|portal| {
            Ok((
                (),
                portal
                    .privacy_delete(id, UI_SOURCE)
                    .ok_or_else(|| anyhow!("no contact {id}"))?,
            ))
        })
    }

    /// Adds (`present`) or removes an association; fires associationChange both ways.
    pub fn associate(
        &self,
        from: (ObjectType, &str),
        to: (ObjectType, &str),
        present: bool,
    ) -> anyhow::Result<()> {
        let (from_id, to_id) = (parse_id(from.1)?, parse_id(to.1)?);
        self.mutate(|portal| {
            Ok((
                (),
                portal.associate((from.0, from_id), (to.0, to_id), present, UI_SOURCE),
            ))
        })
    }

    /// Associated ids of `to` type, as the API lists them.
    pub fn associations(
        &self,
        from: ObjectType,
        id: &str,
        to: ObjectType,
    ) -> anyhow::Result<Vec<String>> {
        let id = parse_id(id)?;
        Ok(self
            .shared
            .portal
            .lock()
            .associations(from, id, to)
            .iter()
            .map(u64::to_string)
            .collect())
    }

    /// A live record's properties (following merges), or `None`.
    pub fn record(&self, kind: ObjectType, id: &str) -> Option<SnapshotRecord> {
        let record = self.shared.portal.lock().live(kind, parse_id(id).ok()?)?;
        Some(SnapshotRecord {
            id: record.id.to_string(),
            properties: record.properties,
        })
    }

    /// Live ids of a type in ascending order (page `limit` from `after`).
    pub fn ids(&self, kind: ObjectType, after: &str, limit: usize) -> Vec<String> {
        let after = after.parse().unwrap_or(0);
        self.shared
            .portal
            .lock()
            .list(kind, after, limit, false)
            .0
            .iter()
            .map(u64::to_string)
            .collect()
    }

    /// Stamps `count` records with one modified timestamp (bulk import); returns it (epoch ms).
    pub fn bulk_touch(&self, kind: ObjectType, count: usize) -> i64 {
        self.shared.portal.lock().bulk_touch(kind, count)
    }

    pub fn owners(&self) -> Vec<Owner> {
        self.shared.portal.lock().owners.clone()
    }

    pub fn add_owner(&self, email: &str, first_name: &str, last_name: &str) -> String {
        self.shared
            .portal
            .lock()
            .add_owner(email, first_name, last_name)
            .id
            .to_string()
    }

    pub fn archive_owner(&self, id: &str) -> anyhow::Result<()> {
        if !self.shared.portal.lock().archive_owner(parse_id(id)?) {
            bail!("no owner {id}");
        }
        Ok(())
    }

    pub fn set_fault_rate(&self, fault_rate: f64) {
        self.shared.limits.lock().fault_rate = fault_rate;
    }

    pub fn set_latency_ms(&self, latency_ms: u64) {
        self.shared.limits.lock().latency_ms = latency_ms;
    }

    /// The next `count` API calls answer 429 (a "429 storm").
    pub fn force_429s(&self, count: u32) {
        self.shared.limits.lock().forced_429 = count;
    }

    /// Every API call answers 503 for `duration`.
    pub fn outage(&self, duration: Duration) {
        self.shared.limits.lock().outage_until_ms = time::now_ms() + duration.as_millis() as i64;
    }

    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        self.shared.limits.lock().general = limit.map(Window::new);
    }

    pub fn set_search_rate_limit(&self, limit: Option<RateLimit>) {
        self.shared.limits.lock().search = limit.map(Window::new);
    }

    pub fn set_daily_limit(&self, limit: Option<u64>) {
        self.shared.limits.lock().daily_limit = limit;
    }

    pub fn set_scopes(&self, scopes: Vec<String>) {
        self.shared.tokens.lock().scopes = scopes;
    }

    /// Expires every OAuth access token issued so far (the private-app token never expires).
    pub fn expire_tokens(&self) {
        self.shared.tokens.lock().expire_all(time::now_ms());
    }

    pub fn set_webhook_chaos(&self, chaos: WebhookChaos) {
        self.shared.outbox.set_chaos(chaos);
    }

    /// Waits until every queued webhook was delivered or given up, at most `timeout`;
    /// returns how many events are still pending.
    pub async fn flush_webhooks(&self, timeout: Duration) -> usize {
        self.shared.outbox.flush(timeout).await
    }

    /// Every live record, archived ids, owners and associations (meant for small portals).
    pub fn snapshot(&self) -> Snapshot {
        let portal = self.shared.portal.lock();
        let mut snapshot = Snapshot {
            objects: BTreeMap::new(),
            archived: BTreeMap::new(),
            owners: portal.owners.clone(),
            associations: Vec::new(),
        };
        for kind in ObjectType::ALL {
            let ids = portal.live_ids(kind);
            let records = ids.iter().filter_map(|id| portal.record(kind, *id));
            let records = records.map(|record| SnapshotRecord {
                id: record.id.to_string(),
                properties: record.properties,
            });
            snapshot.objects.insert(kind, records.collect());
            snapshot.archived.insert(
                kind,
                portal
                    .table(kind)
                    .archived
                    .iter()
                    .map(u64::to_string)
                    .collect(),
            );
            for id in ids {
                for to in ObjectType::ALL {
                    for other in portal.associations(kind, id, to) {
                        snapshot
                            .associations
                            .push((kind, id.to_string(), to, other.to_string()));
                    }
                }
            }
        }
        snapshot
    }
}

/// The API's write checks, as anyhow errors for `Control` callers.
fn check_write(
    portal: &Portal,
    kind: ObjectType,
    properties: &BTreeMap<String, String>,
    creating: bool,
) -> anyhow::Result<()> {
    let problems = portal.validate(kind, properties, creating);
    if let Some(problem) = problems.first() {
        bail!("{}: {} ({})", problem.name, problem.message, problem.error);
    }
    if kind == ObjectType::Contacts {
        if let Some(existing) = properties
            .get("email")
            .and_then(|email| portal.contact_by_email(email))
        {
            bail!("Contact already exists. Existing ID: {existing}");
        }
    }
    Ok(())
}
