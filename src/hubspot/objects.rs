//! CRM record reads: list pages (all properties, split when the URL would be too long) and batch read.

use std::collections::{HashMap, HashSet};

use serde_json::json;

use super::client::{Call, Client};
use super::error::Error;
use super::model::{ObjectType, Page, Record};
use super::paging::{split_for_url, ListCursor};
use super::wire::{WireBatch, WirePage, WireRecord};

/// Largest list page; HubSpot allows fewer when property history is asked for.
pub const LIST_LIMIT: usize = 100;
pub const HISTORY_LIMIT: usize = 50;
/// Inputs per batch read.
pub const BATCH_LIMIT: usize = 100;

/// Which properties to fetch. HubSpot returns only defaults unless they are named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pub properties: Vec<String>,
    /// Properties to fetch with their change history (deal stages); lowers page sizes to 50.
    pub history: Vec<String>,
}

impl Fields {
    pub fn properties(names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Fields {
            properties: names.into_iter().map(Into::into).collect(),
            history: Vec::new(),
        }
    }

    pub fn with_history(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.history = names.into_iter().map(Into::into).collect();
        self
    }

    fn page_limit(&self, unlimited: usize) -> usize {
        if self.history.is_empty() {
            unlimited
        } else {
            HISTORY_LIMIT
        }
    }
}

/// Batch read results: records found, and requested ids HubSpot did not return (deleted,
/// archived, or merged into a record with another id).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchRead {
    pub records: Vec<Record>,
    pub missing: Vec<i64>,
}

impl Client {
    /// One page of `GET /crm/v3/objects/{type}` in ascending id order. `archived = true` lists
    /// only archived records. Properties that do not fit in the URL are fetched by batch read and
    /// merged per record; a record gone by then is left out of the page.
    pub async fn list_page(
        &self,
        object: ObjectType,
        fields: &Fields,
        archived: bool,
        cursor: &ListCursor,
    ) -> Result<Page<Record, ListCursor>, Error> {
        let (first, rest) = split_for_url(&fields.properties, self.inner.url_properties_budget);
        let limit = fields.page_limit(LIST_LIMIT);
        let mut call = Call::get(
            format!("/crm/v3/objects/{object}"),
            format!("list {object}"),
        )
        .query("limit", limit.to_string())
        .query("archived", archived.to_string());
        if !first.is_empty() {
            call = call.query("properties", first.join(","));
        }
        if !fields.history.is_empty() {
            call = call.query("propertiesWithHistory", fields.history.join(","));
        }
        if let Some(after) = &cursor.after {
            call = call.query("after", after.clone());
        }
        let page: WirePage<WireRecord> = self.json(&call).await?;
        let next = page
            .next_after()
            .map(|after| ListCursor { after: Some(after) });
        let mut records: Vec<Record> = page.results.into_iter().map(Record::from).collect();
        if !rest.is_empty() && !records.is_empty() {
            records = self
                .fill_properties(object, records, rest, archived)
                .await?;
        }
        Ok(Page {
            items: records,
            next,
        })
    }

    /// Adds the `rest` properties to `records` by batch read, keeping their order.
    async fn fill_properties(
        &self,
        object: ObjectType,
        records: Vec<Record>,
        rest: Vec<String>,
        archived: bool,
    ) -> Result<Vec<Record>, Error> {
        let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
        let extra = self
            .read_batches(object, &ids, &Fields::properties(rest), archived)
            .await?;
        let mut by_id: HashMap<i64, Record> =
            extra.records.into_iter().map(|r| (r.id, r)).collect();
        let mut filled = Vec::with_capacity(records.len());
        for mut record in records {
            match by_id.remove(&record.id) {
                Some(more) => {
                    record.properties.extend(more.properties);
                    filled.push(record);
                }
                None => {
                    tracing::info!(%object, id = record.id, "record vanished between list and batch read")
                }
            }
        }
        Ok(filled)
    }

    /// `POST /crm/v3/objects/{type}/batch/read` in chunks of 100 (50 with history). Records come
    /// back in the order of `ids`; a 207 (some ids unknown) is not an error.
    pub async fn batch_read(
        &self,
        object: ObjectType,
        ids: &[i64],
        fields: &Fields,
    ) -> Result<BatchRead, Error> {
        self.read_batches(object, ids, fields, false).await
    }

    async fn read_batches(
        &self,
        object: ObjectType,
        ids: &[i64],
        fields: &Fields,
        archived: bool,
    ) -> Result<BatchRead, Error> {
        let mut result = BatchRead::default();
        for chunk in ids.chunks(fields.page_limit(BATCH_LIMIT)) {
            let inputs: Vec<_> = chunk
                .iter()
                .map(|id| json!({"id": id.to_string()}))
                .collect();
            let body = json!({
                "inputs": inputs,
                "properties": fields.properties,
                "propertiesWithHistory": fields.history,
            });
            let call = Call::post(
                format!("/crm/v3/objects/{object}/batch/read"),
                body,
                format!("batch read {object}"),
            )
            .query("archived", archived.to_string());
            let batch: WireBatch<WireRecord> = self.json(&call).await?;
            let mut found: HashMap<i64, Record> = batch
                .results
                .into_iter()
                .map(|r| (r.id, Record::from(r)))
                .collect();
            for id in chunk {
                match found.remove(id) {
                    Some(record) => result.records.push(record),
                    None => result.missing.push(*id),
                }
            }
            // Whatever is left was returned under another id (a merge survivor).
            result.records.extend(found.into_values());
        }
        dedup_by_id(&mut result.records);
        Ok(result)
    }
}

fn dedup_by_id(records: &mut Vec<Record>) {
    let mut seen = HashSet::new();
    records.retain(|r| seen.insert(r.id));
}
