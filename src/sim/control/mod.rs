//! `Control`: the mutation and fault surface of a running simulator (tests, demo, `/_sim`).

mod journal;
mod oauth;
mod runtime;
mod shared;
mod snapshot;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, bail};

pub use oauth::{Account, RefreshToken};
pub(crate) use shared::Shared;
pub use snapshot::{Snapshot, SnapshotRecord};

use super::gen::owners::Owner;
use super::kind::ObjectType;
use super::portal::{Change, Portal};
use super::stats::Stats;
use super::SimConfig;
use crate::time;

/// Changes made through `Control` carry this `changeSource`, like edits in HubSpot's UI.
const UI_SOURCE: &str = "CRM_UI";

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
        stats.journal = self.shared.journal.lock().stats(time::now_ms());
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
            check_write(portal, kind, &properties, None)?;
            let (id, changes) = portal.create(kind, &properties, UI_SOURCE);
            Ok((id.to_string(), changes))
        })
    }

    /// Creates a record in the account `portal_id` (the simulated portal or another) as a
    /// user would in its UI; its webhooks name that account. Returns its id.
    pub fn create_in<K: Into<String>, V: Into<String>>(
        &self,
        portal_id: i64,
        kind: ObjectType,
        properties: impl IntoIterator<Item = (K, V)>,
    ) -> anyhow::Result<String> {
        let properties = to_map(properties);
        let portal = self
            .shared
            .portal_of(portal_id)
            .ok_or_else(|| anyhow!("no account {portal_id}"))?;
        let (id, changes) = {
            let mut portal = portal.lock();
            check_write(&portal, kind, &properties, None)?;
            portal.create(kind, &properties, UI_SOURCE)
        };
        self.shared.announce_in(portal_id, changes);
        Ok(id.to_string())
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
            check_write(portal, kind, &properties, Some(portal.resolve(kind, id)))?;
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
}

/// The API's write checks, as anyhow errors for `Control` callers; `updating` names the
/// record being updated (its own email is no conflict).
fn check_write(
    portal: &Portal,
    kind: ObjectType,
    properties: &BTreeMap<String, String>,
    updating: Option<u64>,
) -> anyhow::Result<()> {
    let problems = portal.validate(kind, properties, updating.is_none());
    if let Some(problem) = problems.first() {
        bail!("{}: {} ({})", problem.name, problem.message, problem.error);
    }
    if kind == ObjectType::Contacts {
        if let Some(existing) = properties
            .get("email")
            .and_then(|email| portal.contact_by_email(email))
            .filter(|existing| Some(*existing) != updating)
        {
            bail!("Contact already exists. Existing ID: {existing}");
        }
    }
    Ok(())
}
