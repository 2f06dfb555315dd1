//! From the HubSpot client's model to what the store keeps.

use crate::hubspot;
use crate::object::ObjectType;
use crate::store::{Owner, Pipeline, PropertyDef, Record, Stage, StageEntry, Team};

/// A fetched record as stored: properties without value dropped, deal stage history kept.
/// Takes the record: its strings move into the stored one.
pub fn record(kind: ObjectType, fetched: hubspot::Record) -> Record {
    let updated_at_ms = fetched.modified_ms(kind).unwrap_or(0);
    let mut stage_history: Vec<StageEntry> = fetched
        .history
        .get("dealstage")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            Some(StageEntry {
                stage: entry.value.clone().filter(|value| !value.is_empty())?,
                pipeline: fetched.property("pipeline").map(str::to_owned),
                entered_at_ms: entry.timestamp_ms?,
            })
        })
        .collect();
    stage_history.sort_by_key(|entry| entry.entered_at_ms);
    let properties = fetched
        .properties
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
    Record {
        id: fetched.id,
        properties,
        created_at_ms: fetched.created_at_ms,
        updated_at_ms,
        archived: fetched.archived,
        archived_at_ms: fetched.archived_at_ms,
        state_changed_at_ms: 0,
        synced_at_ms: 0,
        stage_history,
    }
}

pub fn owner(owner: &hubspot::Owner) -> Owner {
    Owner {
        id: owner.id,
        user_id: owner.user_id.or(owner.user_id_including_inactive),
        email: owner.email.clone().unwrap_or_default(),
        first_name: owner.first_name.clone().unwrap_or_default(),
        last_name: owner.last_name.clone().unwrap_or_default(),
        teams: owner
            .teams
            .iter()
            .map(|team| Team {
                id: team.id.clone(),
                name: team.name.clone(),
                primary: team.primary,
            })
            .collect(),
        archived: owner.archived,
        updated_at_ms: owner.updated_at_ms.unwrap_or(0),
    }
}

pub fn pipeline(pipeline: &hubspot::Pipeline) -> Pipeline {
    Pipeline {
        id: pipeline.id.clone(),
        label: pipeline.label.clone(),
        display_order: pipeline.display_order,
        archived: pipeline.archived,
        stages: pipeline
            .stages
            .iter()
            .map(|stage| Stage {
                id: stage.id.clone(),
                label: stage.label.clone(),
                display_order: stage.display_order,
                archived: stage.archived,
                metadata: stage.metadata.clone(),
            })
            .collect(),
    }
}

pub fn property(property: &hubspot::Property) -> PropertyDef {
    PropertyDef {
        name: property.name.clone(),
        label: property.label.clone(),
        value_type: property.kind.clone(),
        field_type: property.field_type.clone(),
        options: property
            .options
            .iter()
            .map(|option| (option.value.clone(), option.label.clone()))
            .collect(),
        calculated: property.calculated,
        read_only_value: property.read_only_value,
        has_unique_value: property.has_unique_value,
        hidden: property.hidden,
        archived: property.archived,
    }
}
