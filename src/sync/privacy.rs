//! Privacy deletion, the one implementation of forgetting a record (a contact's privacy
//! deletion, or a record HubSpot no longer lists at all): before the mirror purges it, what
//! identified it is read from the mirror and handed to the other keepers of data (export
//! rows: the `Forget` hooks the daemon registers), and its first match is dropped; then the
//! mirror purges it (a tombstone keeps the bare id, so that no stale copy comes back), and
//! every stored webhook event about it is erased, also those that arrive after the deletion.

use std::collections::HashSet;
use std::sync::Arc;

use super::syncer::{Result, Syncer};
use crate::object::ObjectType;
use crate::store::{self, Store, Write};
use crate::webhook::event::Event;

/// What identified a forgotten record, as the mirror held it just before the purge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub kind: ObjectType,
    pub id: i64,
    /// Its email addresses, lower-case (primary and additional).
    pub emails: Vec<String>,
    /// Its other identifying values: names, phone numbers.
    pub values: Vec<String>,
}

/// Erases what another module keeps about people (export rows); returns how many of its
/// items it changed. Runs on the blocking pool, once per batch of forgotten records.
pub type Forget = Arc<dyn Fn(&Store, i64, &[Person]) -> store::Result<u64> + Send + Sync>;

/// Properties whose values identify a person (besides the emails).
const IDENTIFYING: [&str; 5] = ["firstname", "lastname", "phone", "mobilephone", "name"];

impl Syncer {
    /// Forgets records `ids` of `kind`: the hooks, the first match, the mirror (purge), the
    /// stored webhook events. Safe to run again after a crash at any step: the hooks run
    /// before the purge is committed, and the events, which hold the deletion, go last.
    pub async fn forget(&self, kind: ObjectType, ids: &[i64]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let people = ids
            .iter()
            .map(|id| self.person(kind, *id))
            .collect::<Result<Vec<Person>>>()?;
        let people = Arc::new(people);
        for forget in &self.forget {
            let (forget, store, portal) = (forget.clone(), self.store.clone(), self.portal);
            let people = people.clone();
            let changed = tokio::task::spawn_blocking(move || forget(&store, portal, &people))
                .await
                .map_err(|error| store::Error::Unavailable(error.to_string()))??;
            tracing::info!(%kind, changed, "privacy deletion: redacted what named the records");
        }
        for id in ids {
            self.store
                .ownership()
                .forget_match(self.portal, kind, *id)?;
        }
        let purges: Vec<Write> = ids.iter().map(|id| Write::Purge { id: *id }).collect();
        self.write_raw(kind, &purges).await?;
        self.store.commit()?;
        self.erase_events(kind, &ids.iter().copied().collect())?;
        Ok(())
    }

    fn person(&self, kind: ObjectType, id: i64) -> Result<Person> {
        let record = self.store.mirror().get(self.portal, kind, id)?;
        let properties = record.map(|record| record.properties).unwrap_or_default();
        let emails = ["email", "hs_additional_emails"]
            .iter()
            .filter_map(|name| properties.get(*name))
            .flat_map(|value| value.split(';'))
            .map(|email| email.trim().to_lowercase())
            .filter(|email| !email.is_empty())
            .collect();
        let values = IDENTIFYING
            .iter()
            .filter_map(|name| properties.get(*name))
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .collect();
        Ok(Person {
            kind,
            id,
            emails,
            values,
        })
    }

    /// Erases every stored webhook event naming one of records `ids` of `kind`.
    pub fn erase_events(&self, kind: ObjectType, ids: &HashSet<i64>) -> Result<u64> {
        let portal = self.portal;
        let erased = self.store.inbox().erase(|raw| {
            serde_json::from_str::<Event>(raw).is_ok_and(|event| {
                event.portal_id == portal
                    && named(&event)
                        .iter()
                        .any(|(k, id)| *k == kind && ids.contains(id))
            })
        })?;
        tracing::info!(%kind, erased, "privacy deletion: erased the stored webhook events about the record");
        Ok(erased)
    }

    /// Erases the events of `window` (just applied) that name a record forgotten before:
    /// they arrived after its deletion, and nothing of the person may stay.
    pub(super) fn erase_events_after_deletion(&self, window: &[Event]) -> Result<()> {
        let mirror = self.store.mirror();
        let mut seen = HashSet::new();
        let mut purged: Vec<(ObjectType, i64)> = Vec::new();
        for event in window.iter().filter(|event| event.portal_id == self.portal) {
            for named in named(event) {
                if seen.insert(named) && mirror.is_purged(self.portal, named.0, named.1)? {
                    purged.push(named);
                }
            }
        }
        for kind in ObjectType::ALL {
            let ids: HashSet<i64> = purged
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, id)| *id)
                .collect();
            if !ids.is_empty() {
                self.erase_events(kind, &ids)?;
            }
        }
        Ok(())
    }
}

/// The records an event names: its own record (and a merge's other ids), and an
/// association's target.
fn named(event: &Event) -> Vec<(ObjectType, i64)> {
    let mut named = Vec::new();
    if let Some(kind) = ObjectType::from_event_kind(event.object_kind()) {
        let ids = [
            event.object_id,
            event.from_object_id,
            event.primary_object_id,
            event.new_object_id,
        ];
        let merged = event.merged_object_ids.iter().flatten().copied();
        named.extend(ids.into_iter().flatten().chain(merged).map(|id| (kind, id)));
    }
    if let (Some(to), Some(target)) = (event.to_object_id, event.association_target()) {
        named.push((target, to));
    }
    named
}
