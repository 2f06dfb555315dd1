//! The API's JSON shapes (interface.md): owners, records, timestamps. Ids are strings, as in
//! HubSpot's own JSON, so no client loses precision on ids above 2^53.

use serde_json::{json, Map, Value};

use super::{rfc3339, Portal};
use crate::object::ObjectType;
use crate::store::{self, Owner, Record};

pub fn owner(owner: &Owner) -> Value {
    // Invariant: a plain struct with string keys.
    serde_json::to_value(OwnerJson::from(owner)).expect("owner serialises")
}

/// `Owner = {"id","user_id","email","first_name","last_name","teams","archived"}`, typed so
/// that answers can be serialised without building a `Value` first.
#[derive(serde::Serialize)]
pub struct OwnerJson<'a> {
    id: String,
    user_id: Option<String>,
    email: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    teams: Vec<TeamJson<'a>>,
    archived: bool,
}

#[derive(serde::Serialize)]
struct TeamJson<'a> {
    id: &'a str,
    name: &'a str,
    primary: bool,
}

impl<'a> From<&'a Owner> for OwnerJson<'a> {
    fn from(owner: &'a Owner) -> Self {
        OwnerJson {
            id: owner.id.to_string(),
            user_id: owner.user_id.map(|id| id.to_string()),
            email: &owner.email,
            first_name: &owner.first_name,
            last_name: &owner.last_name,
            teams: owner
                .teams
                .iter()
                .map(|team| TeamJson {
                    id: &team.id,
                    name: &team.name,
                    primary: team.primary,
                })
                .collect(),
            archived: owner.archived,
        }
    }
}

/// The owner a record names in `hubspot_owner_id`, if the mirror knows it.
pub fn record_owner(
    store: &store::Store,
    portal: i64,
    record: &Record,
) -> store::Result<Option<Owner>> {
    let Some(id) = record
        .properties
        .get("hubspot_owner_id")
        .and_then(|id| id.trim().parse().ok())
    else {
        return Ok(None);
    };
    store.reference().owner(portal, id)
}

/// `GET /v1/objects/{type}/{id}`'s answer.
pub fn record(
    kind: ObjectType,
    record: &Record,
    owner: Option<&Owner>,
    associations: Map<String, Value>,
    portal: &Portal,
) -> Value {
    let mut body = json!({
        "type": kind.name(),
        "id": record.id.to_string(),
        "properties": record.properties,
        "owner": owner.map(self::owner),
        "associations": associations,
        "url": portal.record_url(kind, record.id),
        "archived": record.archived,
        "updated_at": rfc3339(record.updated_at_ms),
        "synced_at": rfc3339(record.synced_at_ms),
    });
    if kind == ObjectType::Deals {
        body["stage_history"] = record
            .stage_history
            .iter()
            .map(|entry| json!({"stage": entry.stage, "pipeline": entry.pipeline, "entered_at": rfc3339(entry.entered_at_ms)}))
            .collect();
    }
    body
}

pub fn optional_time(epoch_ms: Option<i64>) -> Value {
    epoch_ms.map_or(Value::Null, |ms| Value::String(rfc3339(ms)))
}

/// A JSON request body, or 400 `invalid_json` saying what is wrong with it.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, super::ApiError> {
    serde_json::from_slice(body).map_err(|error| {
        super::ApiError::new(
            http::StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("request body: {error}"),
        )
    })
}
