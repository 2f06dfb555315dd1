//! CRM writes for the export: create, batch create/update/upsert, archive.
//!
//! Creates are not idempotent: after a timeout or a 5xx the record may exist, so they are
//! retried only when HubSpot surely did not process them (429, 423, 477, connection refused).

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Value};

use super::client::{Call, Client};
use super::error::Error;
use super::model::{ObjectType, Record};
use super::wire::{WireBatch, WireRecord};

pub const WRITE_BATCH_LIMIT: usize = 100;

/// A record to create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRecord {
    pub properties: BTreeMap<String, String>,
    pub associations: Vec<NewAssociation>,
}

/// An association made at creation, e.g. contact→company type 279 (`HUBSPOT_DEFINED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAssociation {
    pub to_id: i64,
    pub type_id: i64,
    pub category: String,
}

/// Properties to set on an existing record; `""` clears a property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordUpdate {
    pub id: i64,
    pub properties: BTreeMap<String, String>,
}

/// A 207 answer: what was written and what failed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchWrite {
    pub records: Vec<Record>,
    pub errors: Vec<WriteError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    pub category: Option<String>,
    pub message: String,
    pub ids: Vec<i64>,
}

/// An upserted contact and whether HubSpot created it.
#[derive(Debug, Clone, PartialEq)]
pub struct Upserted {
    pub record: Record,
    pub created: bool,
}

impl NewRecord {
    fn wire(&self) -> Value {
        let associations: Vec<Value> = self
            .associations
            .iter()
            .map(|a| {
                json!({"to": {"id": a.to_id.to_string()},
                       "types": [{"associationCategory": a.category, "associationTypeId": a.type_id}]})
            })
            .collect();
        json!({"properties": self.properties, "associations": associations})
    }
}

impl Client {
    /// `POST /crm/v3/objects/{type}`. A contact whose email exists fails with
    /// `Error::Conflict { existing_id }`.
    pub async fn create(&self, object: ObjectType, record: &NewRecord) -> Result<Record, Error> {
        let mut call = Call::post(
            format!("/crm/v3/objects/{object}"),
            record.wire(),
            format!("create {object}"),
        );
        call.idempotent = false;
        let created: WireRecord = self.json(&call).await?;
        Ok(created.into())
    }

    /// Creates up to 100 records in one call. HubSpot returns them in no particular order: match
    /// them back by a property you sent. One invalid or duplicate input fails the whole batch.
    pub async fn batch_create(
        &self,
        object: ObjectType,
        records: &[NewRecord],
    ) -> Result<Vec<Record>, Error> {
        check_batch(records.len())?;
        let inputs: Vec<Value> = records.iter().map(NewRecord::wire).collect();
        let mut call = Call::post(
            format!("/crm/v3/objects/{object}/batch/create"),
            json!({"inputs": inputs}),
            format!("batch create {object}"),
        );
        call.idempotent = false;
        let batch: WireBatch<WireRecord> = self.json(&call).await?;
        Ok(batch.results.into_iter().map(Record::from).collect())
    }

    /// Updates up to 100 records; inputs HubSpot refuses come back in `errors` (207).
    pub async fn batch_update(
        &self,
        object: ObjectType,
        updates: &[RecordUpdate],
    ) -> Result<BatchWrite, Error> {
        check_batch(updates.len())?;
        let inputs: Vec<Value> = updates
            .iter()
            .map(|u| json!({"id": u.id.to_string(), "properties": u.properties}))
            .collect();
        let call = Call::post(
            format!("/crm/v3/objects/{object}/batch/update"),
            json!({"inputs": inputs}),
            format!("batch update {object}"),
        );
        let batch: WireBatch<WireRecord> = self.json(&call).await?;
        let errors = batch
            .errors
            .iter()
            .map(|e| WriteError {
                category: e.category.clone(),
                message: e.message.clone(),
                ids: e.ids().collect(),
            })
            .collect();
        Ok(BatchWrite {
            records: batch.results.into_iter().map(Record::from).collect(),
            errors,
        })
    }

    /// Creates or updates up to 100 contacts keyed by email (contacts' only unique property).
    pub async fn batch_upsert_contacts_by_email(
        &self,
        inputs: &[(String, BTreeMap<String, String>)],
    ) -> Result<Vec<Upserted>, Error> {
        check_batch(inputs.len())?;
        let inputs: Vec<Value> = inputs
            .iter()
            .map(|(email, properties)| json!({"idProperty": "email", "id": email, "properties": properties}))
            .collect();
        let call = Call::post(
            "/crm/v3/objects/contacts/batch/upsert",
            json!({"inputs": inputs}),
            "batch upsert contacts",
        );
        let batch: WireBatch<WireRecord> = self.json(&call).await?;
        Ok(batch
            .results
            .into_iter()
            .map(|r| {
                let created = r.new.unwrap_or(false);
                Upserted {
                    record: r.into(),
                    created,
                }
            })
            .collect())
    }

    /// Archives (deletes) a record; archiving one already gone is not an error.
    pub async fn archive(&self, object: ObjectType, id: i64) -> Result<(), Error> {
        let mut call = Call::get(
            format!("/crm/v3/objects/{object}/{id}"),
            format!("archive {object}"),
        );
        call.method = Method::DELETE;
        match self.send(&call).await {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

fn check_batch(len: usize) -> Result<(), Error> {
    if len > WRITE_BATCH_LIMIT {
        return Err(Error::InvalidInput(format!(
            "a batch holds at most {WRITE_BATCH_LIMIT} inputs, got {len}"
        )));
    }
    Ok(())
}
