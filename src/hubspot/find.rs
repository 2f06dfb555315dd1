//! Finding records an export may have created: contacts by email (batch read by
//! `idProperty`), and any type by a property value and creation time (search).

use serde_json::json;

use super::client::{Call, Client};
use super::error::Error;
use super::model::{ObjectType, Record};
use super::rate_limit::Lane;
use super::wire::{WireBatch, WirePage, WireRecord};

impl Client {
    /// `POST /crm/v3/objects/contacts/batch/read` with `idProperty: "email"`, up to 100 emails;
    /// the contacts found, in no particular order.
    pub async fn contacts_by_email(&self, emails: &[String]) -> Result<Vec<Record>, Error> {
        let mut found = Vec::new();
        for chunk in emails.chunks(super::objects::BATCH_LIMIT) {
            let inputs: Vec<_> = chunk.iter().map(|email| json!({"id": email})).collect();
            let call = Call::post(
                "/crm/v3/objects/contacts/batch/read",
                json!({"inputs": inputs, "idProperty": "email", "properties": ["email"]}),
                "batch read contacts by email",
            );
            let batch: WireBatch<WireRecord> = self.json(&call).await?;
            found.extend(batch.results.into_iter().map(Record::from));
        }
        Ok(found)
    }

    /// Search: records whose `property` equals `value` and that were created at or after
    /// `created_since_ms` (one page of up to 100; search lags seconds behind writes).
    pub async fn created_with(
        &self,
        object: ObjectType,
        property: &str,
        value: &str,
        created_since_ms: i64,
    ) -> Result<Vec<Record>, Error> {
        let body = json!({
            "filterGroups": [{"filters": [
                {"propertyName": property, "operator": "EQ", "value": value},
                {"propertyName": "createdate", "operator": "GTE", "value": created_since_ms.to_string()},
            ]}],
            "properties": [property, "createdate"],
            "limit": 100,
        });
        let mut call = Call::post(
            format!("/crm/v3/objects/{object}/search"),
            body,
            format!("search {object} by {property}"),
        );
        call.lane = Lane::Search;
        let page: WirePage<WireRecord> = self.json(&call).await?;
        Ok(page.results.into_iter().map(Record::from).collect())
    }
}
