//! "Test mapping": one sample record created in HubSpot through the mapping, read back and
//! archived, so an operator sees exactly what HubSpot accepted or why it refused.

use std::collections::BTreeMap;

use super::context::Context;
use super::{plan, Exporter};
use crate::hubspot::{self, Fields, NewRecord};
use crate::object::ObjectType;
use crate::store;
use crate::sync::Syncer;

/// What HubSpot did with the sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub created_id: i64,
    pub archived: bool,
    /// The mapped properties as HubSpot stored them (read back after the create).
    pub properties_written: BTreeMap<String, String>,
}

/// Why a test did not get through.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// HubSpot refused the sample: its validation message.
    #[error("{0}")]
    Refused(String),
    /// HubSpot could not be reached (or failed); retrying later may help.
    #[error("HubSpot could not be reached: {0}")]
    Unavailable(hubspot::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Tests the saved mapping of `kind` with a sample record's `fields`.
pub async fn test(
    syncer: &Syncer,
    exporter: &Exporter,
    kind: ObjectType,
    fields: &BTreeMap<String, String>,
) -> Result<Report, Failure> {
    let context = Context::load(&syncer.store, syncer.portal, kind, &exporter.config)?;
    run(syncer, &context, fields)
        .await
        .map_err(|error| match error.fault() {
            hubspot::Fault::Request => Failure::Refused(error.to_string()),
            _ => Failure::Unavailable(error),
        })
}

/// Creates the sample, reads it back and archives it. A refusal is HubSpot's error.
pub async fn run(
    syncer: &Syncer,
    context: &Context,
    fields: &BTreeMap<String, String>,
) -> Result<Report, hubspot::Error> {
    let properties: BTreeMap<String, String> = plan::map_fields(&context.mapping, fields)
        .into_iter()
        .map(|(name, mapped)| (name, mapped.value))
        .collect();
    let record = NewRecord {
        properties: properties.clone(),
        associations: Vec::new(),
    };
    let created = syncer.client.create(context.kind, &record).await?;
    let fields = Fields::properties(properties.keys().cloned());
    let read = syncer
        .client
        .batch_read(context.kind, &[created.id], &fields)
        .await;
    // Archive even when the read failed: the sample must not stay in the CRM.
    let archived = syncer.client.archive(context.kind, created.id).await;
    if let Err(error) = &archived {
        tracing::warn!(%error, id = created.id, "could not archive the mapping test record");
    }
    let stored = read?.records.into_iter().next().unwrap_or(created);
    let properties_written = properties
        .keys()
        .filter_map(|name| Some((name.clone(), stored.property(name)?.to_owned())))
        .collect();
    Ok(Report {
        created_id: stored.id,
        archived: archived.is_ok(),
        properties_written,
    })
}
