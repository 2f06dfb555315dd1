//! Property definitions served by `/crm/v3/properties/{type}` and used to validate writes,
//! plus the deal pipelines. Each definition also says how the generator fills it (`Fill`).

mod builder;
mod companies;
mod contacts;
mod deals;
mod pipelines;
mod tasks;

use std::sync::OnceLock;

use serde_json::{json, Value};

pub use builder::{Fill, PropertyDef, PropertyType};
pub use pipelines::{pipelines, pipelines_json, Pipeline};

use crate::sim::kind::ObjectType;

/// Every property of a type, in display order.
pub fn properties(kind: ObjectType) -> &'static [PropertyDef] {
    static TABLES: OnceLock<[Vec<PropertyDef>; 4]> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        [
            contacts::table(),
            companies::table(),
            deals::table(),
            tasks::table(),
        ]
    });
    &tables[kind.index()]
}

pub fn property(kind: ObjectType, name: &str) -> Option<&'static PropertyDef> {
    properties(kind).iter().find(|def| def.name == name)
}

/// The HubSpot JSON of one property definition.
/// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/properties/guide>
pub fn property_json(def: &PropertyDef) -> Value {
    let options: Vec<Value> = def
        .options
        .iter()
        .enumerate()
        .map(|(order, choice)| {
            json!({"label": choice.label, "value": choice.value, "displayOrder": order,
                   "hidden": choice.hidden, "description": ""})
        })
        .collect();
    json!({
        "name": def.name,
        "label": def.label,
        "type": def.ptype.as_str(),
        "fieldType": def.field_type(),
        "groupName": def.group,
        "description": "",
        "options": options,
        "displayOrder": -1,
        "calculated": def.calculated,
        "externalOptions": def.name == "hubspot_owner_id",
        "hasUniqueValue": def.unique,
        "hidden": def.hidden,
        "hubspotDefined": true,
        "formField": !def.read_only && !def.calculated,
        "dataSensitivity": "non_sensitive",
        "modificationMetadata": {
            "archivable": false,
            "readOnlyDefinition": true,
            "readOnlyValue": def.read_only || def.calculated,
            "readOnlyOptions": def.options.is_empty()
        },
        "archived": false,
        "createdAt": "2019-08-06T02:41:52.000Z",
        "updatedAt": "2025-03-11T09:12:40.000Z"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_dozens_of_properties_with_unique_names() {
        for kind in ObjectType::ALL {
            let defs = properties(kind);
            assert!(defs.len() >= 20, "{kind:?} has {}", defs.len());
            let mut names: Vec<_> = defs.iter().map(|def| def.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), defs.len(), "{kind:?}");
            for required in [
                kind.modified_property(),
                kind.created_property(),
                "hs_object_id",
            ] {
                assert!(property(kind, required).is_some(), "{kind:?} {required}");
            }
        }
    }
}
