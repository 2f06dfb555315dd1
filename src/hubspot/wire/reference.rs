//! Wire shapes of reference data: owners, property definitions, pipelines and stages.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{id, opt_id, properties, string_or_number, time};
use crate::hubspot::model::{Owner, Pipeline, Property, PropertyOption, Stage, Team};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireOwner {
    #[serde(deserialize_with = "id")]
    id: i64,
    #[serde(default, deserialize_with = "opt_id")]
    user_id: Option<i64>,
    #[serde(default, deserialize_with = "opt_id")]
    user_id_including_inactive: Option<i64>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    teams: Option<Vec<WireTeam>>,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireTeam {
    #[serde(deserialize_with = "string_or_number")]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    primary: bool,
}

impl From<WireOwner> for Owner {
    fn from(wire: WireOwner) -> Self {
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        Owner {
            id: wire.id,
            user_id: wire.user_id,
            user_id_including_inactive: wire.user_id_including_inactive.or(wire.user_id),
            email: non_empty(wire.email),
            first_name: non_empty(wire.first_name),
            last_name: non_empty(wire.last_name),
            kind: wire.kind,
            teams: wire
                .teams
                .unwrap_or_default()
                .into_iter()
                .map(|t| Team {
                    id: t.id,
                    name: t.name,
                    primary: t.primary,
                })
                .collect(),
            archived: wire.archived,
            created_at_ms: time(&wire.created_at),
            updated_at_ms: time(&wire.updated_at),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireProperty {
    name: String,
    #[serde(default)]
    label: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    field_type: String,
    #[serde(default)]
    group_name: Option<String>,
    #[serde(default)]
    options: Vec<WireOption>,
    #[serde(default)]
    calculated: bool,
    #[serde(default)]
    has_unique_value: bool,
    #[serde(default)]
    hidden: bool,
    #[serde(default)]
    hubspot_defined: Option<bool>,
    #[serde(default)]
    modification_metadata: Option<WireModification>,
    #[serde(default)]
    archived: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireModification {
    #[serde(default)]
    read_only_value: bool,
}

#[derive(Debug, Deserialize)]
struct WireOption {
    #[serde(default)]
    label: String,
    #[serde(deserialize_with = "string_or_number")]
    value: String,
    #[serde(default)]
    hidden: bool,
}

impl From<WireProperty> for Property {
    fn from(wire: WireProperty) -> Self {
        Property {
            name: wire.name,
            label: wire.label,
            kind: wire.kind,
            field_type: wire.field_type,
            group_name: wire.group_name,
            options: wire
                .options
                .into_iter()
                .map(|o| PropertyOption {
                    label: o.label,
                    value: o.value,
                    hidden: o.hidden,
                })
                .collect(),
            calculated: wire.calculated,
            has_unique_value: wire.has_unique_value,
            hidden: wire.hidden,
            hubspot_defined: wire.hubspot_defined.unwrap_or(false),
            read_only_value: wire
                .modification_metadata
                .is_some_and(|m| m.read_only_value),
            archived: wire.archived,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WirePipeline {
    #[serde(deserialize_with = "string_or_number")]
    id: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    display_order: i64,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    stages: Vec<WireStage>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireStage {
    #[serde(deserialize_with = "string_or_number")]
    id: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    display_order: i64,
    #[serde(default)]
    archived: bool,
    #[serde(default, deserialize_with = "properties")]
    metadata: BTreeMap<String, Option<String>>,
}

impl From<WirePipeline> for Pipeline {
    fn from(wire: WirePipeline) -> Self {
        let stages = wire
            .stages
            .into_iter()
            .map(|s| Stage {
                id: s.id,
                label: s.label,
                display_order: s.display_order,
                archived: s.archived,
                metadata: s
                    .metadata
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v?)))
                    .collect(),
            })
            .collect();
        Pipeline {
            id: wire.id,
            label: wire.label,
            display_order: wire.display_order,
            archived: wire.archived,
            stages,
        }
    }
}
