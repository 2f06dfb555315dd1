//! HubSpot's v3 record JSON: `{id, properties, propertiesWithHistory?, associations?,
//! createdAt, updatedAt, archived, archivedAt?}`, every property value a string.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/using-object-apis>

use serde_json::{json, Map, Value};

use crate::sim::kind::ObjectType;
use crate::sim::portal::{Portal, Record};
use crate::sim::schema;
use crate::time;

/// What a request asked to see of each record.
#[derive(Debug, Default, Clone)]
pub struct View {
    /// Requested properties; empty = the type's defaults.
    pub properties: Vec<String>,
    pub history: Vec<String>,
    pub associations: Vec<ObjectType>,
}

pub fn record(portal: &Portal, record: &Record, view: &View) -> Value {
    let kind = record.kind;
    let always = [
        "hs_object_id",
        kind.created_property(),
        kind.modified_property(),
    ];
    let requested: Vec<&str> = if view.properties.is_empty() {
        crate::sim::kind::default_properties(kind).to_vec()
    } else {
        view.properties
            .iter()
            .map(String::as_str)
            .filter(|name| schema::property(kind, name).is_some())
            .collect()
    };
    let mut properties = Map::new();
    for name in requested.into_iter().chain(always) {
        let value = record
            .properties
            .get(name)
            .map_or(Value::Null, |value| json!(value));
        properties.insert(name.to_string(), value);
    }
    let mut out = Map::new();
    out.insert("id".into(), json!(record.id.to_string()));
    out.insert("properties".into(), Value::Object(properties));
    if !view.history.is_empty() {
        out.insert(
            "propertiesWithHistory".into(),
            history(portal, record, &view.history),
        );
    }
    if !view.associations.is_empty() {
        out.insert(
            "associations".into(),
            associations(portal, record, &view.associations),
        );
    }
    out.insert("createdAt".into(), json!(time::iso(record.created_ms)));
    out.insert("updatedAt".into(), json!(time::iso(record.modified_ms)));
    out.insert("archived".into(), json!(record.archived_ms.is_some()));
    if let Some(archived_ms) = record.archived_ms {
        out.insert("archivedAt".into(), json!(time::iso(archived_ms)));
    }
    Value::Object(out)
}

fn history(portal: &Portal, record: &Record, names: &[String]) -> Value {
    let mut out = Map::new();
    for name in names
        .iter()
        .filter(|name| schema::property(record.kind, name).is_some())
    {
        let versions: Vec<Value> = portal
            .history(record, name)
            .iter()
            .rev()
            .map(|version| {
                json!({"value": version.value, "timestamp": time::iso(version.timestamp_ms),
                       "sourceType": version.source, "sourceId": "userId:9100000", "updatedByUserId": 9_100_000})
            })
            .collect();
        out.insert(name.clone(), Value::Array(versions));
    }
    Value::Object(out)
}

fn associations(portal: &Portal, record: &Record, kinds: &[ObjectType]) -> Value {
    let mut out = Map::new();
    for &to in kinds {
        let ids = portal.associations(record.kind, record.id, to);
        if ids.is_empty() {
            continue;
        }
        let kind_name = format!("{}_to_{}", record.kind.singular(), to.singular());
        let results: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id.to_string(), "type": kind_name}))
            .collect();
        out.insert(to.name().to_string(), json!({ "results": results }));
    }
    Value::Object(out)
}
