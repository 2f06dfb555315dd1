//! Reference data without webhooks: property definitions and deal pipelines with their stages.

use super::client::{Call, Client};
use super::error::Error;
use super::model::{ObjectType, Pipeline, Property};
use super::wire::{WirePage, WirePipeline, WireProperty};

impl Client {
    /// Every (non-archived) property definition of `object`.
    pub async fn properties(&self, object: ObjectType) -> Result<Vec<Property>, Error> {
        let call = Call::get(
            format!("/crm/v3/properties/{object}"),
            format!("read {object} properties"),
        )
        .query("archived", "false");
        let page: WirePage<WireProperty> = self.json(&call).await?;
        Ok(page.results.into_iter().map(Property::from).collect())
    }

    /// The names of every property of `object`: what a full mirror asks for.
    pub async fn property_names(&self, object: ObjectType) -> Result<Vec<String>, Error> {
        Ok(self
            .properties(object)
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect())
    }

    /// Deal pipelines and their stages (no paging exists for pipelines).
    pub async fn deal_pipelines(&self) -> Result<Vec<Pipeline>, Error> {
        let call = Call::get("/crm/v3/pipelines/deals", "read deal pipelines");
        let page: WirePage<WirePipeline> = self.json(&call).await?;
        Ok(page.results.into_iter().map(Pipeline::from).collect())
    }
}
