//! Associations v4 batch read: ≤1,000 ids per call, following each input's own `after` paging.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use super::client::{Call, Client};
use super::error::Error;
use super::model::ObjectType;
use super::wire::{id, WireBatch, WirePaging};

pub const ASSOCIATION_BATCH_LIMIT: usize = 1_000;

/// One associated record and the association types (labels) linking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub to_id: i64,
    pub types: Vec<AssociationType>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociationType {
    /// `HUBSPOT_DEFINED`, `USER_DEFINED` or `INTEGRATOR_DEFINED`.
    pub category: String,
    pub type_id: i64,
    pub label: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireResult {
    from: WireFrom,
    #[serde(default)]
    to: Vec<WireTo>,
    #[serde(default)]
    paging: Option<WirePaging>,
}

#[derive(Debug, Deserialize)]
struct WireFrom {
    #[serde(deserialize_with = "id")]
    id: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTo {
    #[serde(deserialize_with = "id")]
    to_object_id: i64,
    #[serde(default)]
    association_types: Vec<WireType>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireType {
    #[serde(default)]
    category: String,
    #[serde(deserialize_with = "id")]
    type_id: i64,
    #[serde(default)]
    label: Option<String>,
}

impl Client {
    /// The `to` records associated with each of `ids`; ids without associations map to nothing.
    pub async fn associations(
        &self,
        from: ObjectType,
        to: ObjectType,
        ids: &[i64],
    ) -> Result<BTreeMap<i64, Vec<Association>>, Error> {
        let mut links: BTreeMap<i64, Vec<Association>> = BTreeMap::new();
        let mut pending: Vec<(i64, Option<String>)> = ids.iter().map(|id| (*id, None)).collect();
        while !pending.is_empty() {
            let mut again = Vec::new();
            for chunk in pending.chunks(ASSOCIATION_BATCH_LIMIT) {
                let inputs: Vec<_> = chunk
                    .iter()
                    .map(|(id, after)| match after {
                        Some(after) => json!({"id": id.to_string(), "after": after}),
                        None => json!({"id": id.to_string()}),
                    })
                    .collect();
                let call = Call::post(
                    format!("/crm/v4/associations/{from}/{to}/batch/read"),
                    json!({"inputs": inputs}),
                    format!("read {from}→{to} associations"),
                );
                // 207 errors name ids without associations: nothing to record.
                let batch: WireBatch<WireResult> = self.json(&call).await?;
                for result in batch.results {
                    let entry = links.entry(result.from.id).or_default();
                    entry.extend(result.to.into_iter().map(|t| {
                        Association {
                            to_id: t.to_object_id,
                            types: t
                                .association_types
                                .into_iter()
                                .map(|k| AssociationType {
                                    category: k.category,
                                    type_id: k.type_id,
                                    label: k.label.filter(|l| !l.is_empty()),
                                })
                                .collect(),
                        }
                    }));
                    if let Some(after) = result.paging.and_then(|p| p.next).map(|n| n.after) {
                        again.push((result.from.id, Some(after)));
                    }
                }
            }
            pending = again;
        }
        Ok(links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hubspot::test_fixture as fixture;

    #[test]
    fn results_carry_numeric_targets_labels_and_per_input_paging() {
        let batch: WireBatch<WireResult> =
            serde_json::from_slice(&fixture("associations-batch.json")).unwrap();
        let result = &batch.results[0];
        assert_eq!(result.from.id, 9001);
        assert_eq!(result.to[0].to_object_id, 5_790_939_450);
        let types: Vec<_> = result.to[0]
            .association_types
            .iter()
            .map(|t| (t.type_id, t.label.as_deref()))
            .collect();
        assert_eq!(types, [(341, None), (5, Some("Primary"))]);
        let after = result.paging.as_ref().and_then(|p| p.next.as_ref());
        assert_eq!(after.map(|n| n.after.as_str()), Some("MTIzNDU2"));
    }
}
