//! Incremental reads: CRM search by last-modified time, one resumable page at a time.

use serde_json::Value;

use super::client::{Call, Client};
use super::error::Error;
use super::model::{ObjectType, Record};
use super::objects::Fields;
use super::paging::SearchCursor;
use super::rate_limit::Lane;
use super::wire::{WirePage, WireRecord};

/// Results per search request (HubSpot's maximum).
pub const SEARCH_LIMIT: usize = 200;

/// One search page: records modified in the cursor's window, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub records: Vec<Record>,
    /// Where to continue; persist it once `records` are stored. Also valid when `done`: the
    /// next pass starts there (rewind it a little for search's indexing lag).
    pub next: SearchCursor,
    /// Nothing more matched right now.
    pub done: bool,
    /// HubSpot's count of matches for this query.
    pub total: Option<u64>,
}

impl Client {
    /// One page of records modified since the cursor, with `fields.properties` (history is not
    /// available through search; batch read the ids for it).
    pub async fn search_page(
        &self,
        object: ObjectType,
        fields: &Fields,
        cursor: &SearchCursor,
    ) -> Result<SearchPage, Error> {
        let modified = object.modified_property();
        let mut body = cursor.query(object, SEARCH_LIMIT);
        let mut wanted = fields.properties.clone();
        for required in [modified, "hs_object_id"] {
            if !wanted.iter().any(|p| p == required) {
                wanted.push(required.to_owned());
            }
        }
        body["properties"] = Value::from(wanted.clone());
        let hydrate = body.to_string().len() > self.inner.search_body_budget;
        if hydrate {
            body["properties"] = Value::from(vec![modified, "hs_object_id"]);
        }
        let mut call = Call::post(
            format!("/crm/v3/objects/{object}/search"),
            body,
            format!("search {object}"),
        );
        call.lane = Lane::Search;
        let page: WirePage<WireRecord> = self.json(&call).await?;
        let has_more = page.next_after().is_some() || page.results.len() >= SEARCH_LIMIT;
        let total = page.total;
        let records: Vec<Record> = page.results.into_iter().map(Record::from).collect();
        let mut hits = Vec::with_capacity(records.len());
        for record in &records {
            let Some(at) = record.modified_ms(object) else {
                return Err(Error::BadResponse {
                    what: format!("search {object}"),
                    reason: format!("record {} has no {modified}", record.id),
                });
            };
            hits.push((record.id, Some(at)));
        }
        let step = cursor.advance(&hits, has_more);
        let mut fresh: Vec<Record> = step.fresh.iter().map(|&i| records[i].clone()).collect();
        if hydrate && !fresh.is_empty() {
            fresh = self
                .hydrate(object, fresh, Fields::properties(wanted))
                .await?;
        }
        Ok(SearchPage {
            records: fresh,
            next: step.next,
            done: step.done,
            total,
        })
    }

    /// How many live records of `object` HubSpot holds (a one-result search reports the
    /// total): the denominator of a backfill's progress.
    pub async fn count(&self, object: ObjectType) -> Result<u64, Error> {
        let body = serde_json::json!({"limit": 1, "properties": ["hs_object_id"]});
        let mut call = Call::post(
            format!("/crm/v3/objects/{object}/search"),
            body,
            format!("count {object}"),
        );
        call.lane = Lane::Search;
        let page: WirePage<WireRecord> = self.json(&call).await?;
        page.total.ok_or_else(|| Error::BadResponse {
            what: format!("count {object}"),
            reason: "the search answer has no total".into(),
        })
    }

    /// Replaces search hits by their batch-read versions with every wanted property. A hit gone
    /// since (archived) is dropped; its cursor position still counts.
    async fn hydrate(
        &self,
        object: ObjectType,
        hits: Vec<Record>,
        fields: Fields,
    ) -> Result<Vec<Record>, Error> {
        let ids: Vec<i64> = hits.iter().map(|r| r.id).collect();
        let read = self.batch_read(object, &ids, &fields).await?;
        Ok(read
            .records
            .into_iter()
            .filter(|r| ids.contains(&r.id))
            .collect())
    }
}
