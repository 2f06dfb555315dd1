//! Creates whose outcome is unknown (a crash or a timeout after sending) are looked up in
//! HubSpot before anything is sent again: contacts by email (batch read, consistent at
//! once), other records by search on a key property and creation time, after waiting out
//! search's indexing lag.

use super::create::created_outcome;
use super::{Error, Job, Writer};
use crate::hubspot;
use crate::object::ObjectType;
use crate::ownership::normalize;
use crate::webhook::inbox::now_ms;

/// How long after a create HubSpot's search may still miss it.
const SEARCH_LAG_MS: i64 = 10_000;
/// Clock difference tolerated between this host and HubSpot when comparing create times.
const CLOCK_MARGIN_MS: i64 = 60_000;

impl Writer {
    /// Rows with an intent and no outcome may exist in HubSpot: find them there. Found and
    /// created after the intent → created; else the intent is dropped and the row planned
    /// again (a record created by someone else, now mirrored, is then its duplicate).
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
        let mut found: Vec<(u32, hubspot::Record)> = Vec::new();
        let keyed: Vec<(u32, String, String)> = pending
            .iter()
            .filter_map(|i| {
                let mapped = crate::export::plan::map_fields(
                    &job.context.mapping,
                    &job.rows[*i as usize].fields,
                );
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
        if !by_email.is_empty() {
            let emails: Vec<String> = by_email.iter().map(|(_, _, email)| email.clone()).collect();
            let contacts = job.client.contacts_by_email(&emails).await?;
            for (index, _, email) in &by_email {
                let wanted = normalize::email(email);
                if let Some(contact) = contacts
                    .iter()
                    .find(|c| c.property("email").and_then(normalize::email) == wanted)
                {
                    found.push((*index, contact.clone()));
                }
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
            let mut hits = self
                .syncer
                .client
                .created_with(kind, name, value, since)
                .await?;
            hits.sort_by_key(|record| record.id);
            if let Some(first) = hits.into_iter().next() {
                found.push((*index, first));
            }
        }
        let ids: Vec<i64> = found.iter().map(|(_, record)| record.id).collect();
        self.syncer.refetch(kind, &ids).await?;
        for index in &pending {
            let row = &mut job.rows[*index as usize];
            let intent = row.intent_at_ms.unwrap_or(0);
            let ours = found.iter().find(|(i, record)| {
                i == index
                    && record
                        .created_at_ms
                        .is_none_or(|at| at >= intent - CLOCK_MARGIN_MS)
            });
            match ours {
                Some((_, record)) => {
                    let outcome =
                        created_outcome(record.id, job.owner.as_ref().ok().copied(), Vec::new());
                    job.finish(*index, outcome);
                }
                None => row.intent_at_ms = None,
            }
        }
        self.save_indexes(job, pending.iter().copied())
    }
}
