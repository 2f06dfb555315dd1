//! Creates whose outcome is unknown (a crash or a timeout after sending) are looked up in
//! HubSpot before anything is sent again: contacts by email (batch read, consistent at
//! once), other records by search on a key property and creation time, after waiting out
//! search's indexing lag. What is found is mirrored, and a row is settled as `created` when
//! a record is its own by [`own`], the one rule that also settles rows planned again later.

use std::collections::{BTreeMap, HashSet};

use super::{Error, Job, Writer};
use crate::export::job::Row;
use crate::export::plan::{self, Mapped};
use crate::hubspot;
use crate::object::ObjectType;
use crate::ownership::normalize;
use crate::store;
use crate::time::now_ms;

/// How long after a create HubSpot's search may still miss it.
const SEARCH_LAG_MS: i64 = 10_000;
/// Clock difference tolerated between this host and HubSpot when comparing create times.
const CLOCK_MARGIN_MS: i64 = 60_000;

/// Whether `record` is the one row `row`'s own create made. A row has no marker HubSpot
/// would echo, so the record must: carry the row's duplicate key (contacts: its email, else
/// each of first name, last name and company it has; companies: its domain, else its name),
/// have been created after the row's create was first sent (less a clock margin), not have
/// been a known duplicate then, and not be any other row's result (`claimed`). A record
/// someone else created with the same key after the intent would pass too: the window is
/// one crashed request long.
pub fn own(
    kind: ObjectType,
    row: &Row,
    mapped: &BTreeMap<String, Mapped>,
    record: &store::Record,
    claimed: &HashSet<i64>,
) -> bool {
    let Some(intent) = row.intent_at_ms else {
        return false;
    };
    let value = |name: &str| mapped.get(name).map(|m| m.value.as_str());
    let held = |name: &str| record.properties.get(name).map(String::as_str);
    let same = |name: &str, normal: fn(&str) -> Option<String>| {
        value(name).and_then(normal).is_some()
            && value(name).and_then(normal) == held(name).and_then(normal)
    };
    let keyed = match kind {
        ObjectType::Contacts if value("email").is_some() => same("email", normalize::email),
        ObjectType::Companies if value("domain").is_some() => same("domain", normalize::domain),
        ObjectType::Companies => same("name", folded),
        _ => {
            let names = ["firstname", "lastname", "company"];
            let present: Vec<&str> = names.into_iter().filter(|n| value(n).is_some()).collect();
            !present.is_empty() && present.iter().all(|name| same(name, folded))
        }
    };
    keyed
        && !record.archived
        && record
            .created_at_ms
            .is_none_or(|at| at >= intent - CLOCK_MARGIN_MS)
        && !row.known_at_intent.contains(&record.id)
        && !claimed.contains(&record.id)
}

/// Names compare trimmed and case-folded.
fn folded(text: &str) -> Option<String> {
    Some(text.trim().to_lowercase()).filter(|text| !text.is_empty())
}

impl Writer {
    /// The lowest-id record among `candidates` (mirrored ids) that is row `index`'s own
    /// (see [`own`]), if any.
    pub(super) fn own_record(
        &self,
        job: &Job,
        index: u32,
        candidates: &[i64],
    ) -> Result<Option<i64>, Error> {
        let row = &job.rows[index as usize];
        if row.intent_at_ms.is_none() || candidates.is_empty() {
            return Ok(None);
        }
        let claimed: HashSet<i64> = job
            .rows
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index as usize)
            .filter_map(|(_, row)| row.outcome.as_ref()?.id)
            .collect();
        let mapped = plan::map_fields(&job.context.mapping, &row.fields);
        let mut ids = candidates.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mirror = self.store().mirror();
        for id in ids {
            let Some(record) = mirror.get(self.portal(), job.header.kind, id)? else {
                continue;
            };
            if own(job.header.kind, row, &mapped, &record, &claimed) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Rows with an intent and no outcome may exist in HubSpot: find them there, mirror
    /// what is found and settle the rows whose own record it is. The others keep their
    /// intent: planning looks at their mirrored duplicates by the same rule before anything
    /// is sent again.
    pub(super) async fn reconcile(&self, job: &mut Job) -> Result<(), Error> {
        let kind = job.header.kind;
        let pending: Vec<u32> = (0..job.rows.len() as u32)
            .filter(|i| {
                let row = &job.rows[*i as usize];
                row.outcome.is_none() && row.intent_at_ms.is_some()
            })
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        tracing::info!(
            export = job.id,
            rows = pending.len(),
            "reconciling creates of unknown outcome"
        );
        let found = self.look_up(job, &pending).await?;
        let ids: Vec<i64> = found
            .iter()
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        self.syncer.refetch(kind, &ids).await?;
        let mut settled = 0;
        for (index, candidates) in &found {
            if let Some(id) = self.own_record(job, *index, candidates)? {
                job.settle_created(*index, id);
                settled += 1;
            }
        }
        tracing::info!(
            export = job.id,
            settled,
            "creates of unknown outcome found in HubSpot"
        );
        super::crash::point(super::crash::Step::Reconciled);
        self.save_indexes(job, pending.iter().copied())
    }

    /// The ids HubSpot holds under each pending row's key.
    async fn look_up(&self, job: &Job, pending: &[u32]) -> Result<Vec<(u32, Vec<i64>)>, Error> {
        let kind = job.header.kind;
        let keyed: Vec<(u32, String, String)> = pending
            .iter()
            .filter_map(|i| {
                let mapped = plan::map_fields(&job.context.mapping, &job.rows[*i as usize].fields);
                let names: &[&str] = match kind {
                    ObjectType::Companies => &["domain", "name"],
                    _ => &["email", "lastname", "firstname"],
                };
                names.iter().find_map(|name| {
                    Some((*i, (*name).to_owned(), mapped.get(*name)?.value.clone()))
                })
            })
            .collect();
        let (by_email, by_search): (Vec<_>, Vec<_>) = keyed
            .into_iter()
            .partition(|(_, name, _)| kind == ObjectType::Contacts && name == "email");
        let mut found = Vec::new();
        if !by_email.is_empty() {
            let emails: Vec<String> = by_email.iter().map(|(_, _, email)| email.clone()).collect();
            let contacts = job.client.contacts_by_email(&emails).await?;
            for (index, _, email) in &by_email {
                let wanted = normalize::email(email);
                let ids = contacts
                    .iter()
                    .filter(|c| c.property("email").and_then(normalize::email) == wanted)
                    .map(|c| c.id)
                    .collect();
                found.push((*index, ids));
            }
        }
        if let Some(latest) = by_search
            .iter()
            .filter_map(|(i, _, _)| job.rows[*i as usize].intent_at_ms)
            .max()
        {
            // Search misses records created in the last seconds: wait that out first.
            let wait_ms = latest + SEARCH_LAG_MS - now_ms();
            if wait_ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(wait_ms as u64)).await;
            }
        }
        for (index, name, value) in &by_search {
            let since = job.rows[*index as usize].intent_at_ms.unwrap_or(0) - CLOCK_MARGIN_MS;
            let hits: Vec<hubspot::Record> = self
                .syncer
                .client
                .created_with(kind, name, value, since)
                .await?;
            found.push((*index, hits.iter().map(|record| record.id).collect()));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests;
