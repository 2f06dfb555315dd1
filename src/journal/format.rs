//! The Webhooks Journal's files and events, read tolerantly, and converted into the webhook
//! event shape the rest of the gateway reads (`webhook::event::Event`): webhooks and the
//! journal feed one inbox, and everything downstream (dedup, apply, privacy erasure) has one
//! implementation.
//!
//! # What HubSpot does not document, assumed here and only here
//! - A file is a JSON object whose `journalEvents` is an array of events; `offset` and
//!   `publishedAt` (ISO-8601 or epoch ms) are read when present. Anything else — truncated,
//!   not JSON, no such array — is a damaged file (the consumer retries, then reports it).
//! - An event names `portalId`, `objectTypeId` (`0-1`, `0-2`, `0-3`, `0-27`, or a type name),
//!   `objectId`, `action` and `occurredAt` (epoch ms or ISO-8601); ids may be numbers or
//!   numeric strings. `type` (`OBJECT`, `ASSOCIATION`, `GDPR_PRIVACY_DELETION`) is not needed:
//!   the action says the same. An event missing what its action needs is skipped and counted.
//! - `UPDATE` carries `propertyChanges` {name: new value}; `""` or `null` clears the property,
//!   numbers and booleans are read as text. `CREATE` carries no properties (they follow as an
//!   `UPDATE`, as webhooks send a creation and then property changes), so a created record
//!   is read from HubSpot once.
//! - `occurredAt` is the instant HubSpot stamps the changed record with (its modified time
//!   and its property versions): the mirror's ordering rule rests on it (`sync::apply`).
//! - `MERGE`: `objectId` is the survivor, `mergedObjectIds` the records merged into it.
//! - Associations: `fromObjectTypeId`, `fromObjectId`, `toObjectTypeId`, `toObjectId`,
//!   `associationTypeId`, `isPrimary`; a primary association also comes unlabelled.
//! - `GDPR_DELETE`: a contact's privacy deletion.
//! - No event id: the change key (`webhook::event::change`) is the dedup key, so a file read
//!   twice stores nothing twice.
//! - Actions the mirror has no use for (`SNAPSHOT`, `APP_INSTALL`, list memberships, anything
//!   new) are skipped and counted; events of another portal are ignored and counted.

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::object::ObjectType;
use crate::store::MAX_EVENT_BYTES;
use crate::time::parse_ms;
use crate::webhook::event::Event;

/// A file's header and its events, not yet read.
#[derive(Debug)]
pub struct File<'a> {
    pub offset: Option<String>,
    pub published_at_ms: Option<i64>,
    pub events: Vec<&'a RawValue>,
}

/// Why a file cannot be read (truncated, not JSON, not a journal file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the journal file is damaged: {0}")]
pub struct Damaged(pub String);

/// A file's events as the inbox stores them, and what was left out.
#[derive(Debug, Default)]
pub struct Converted {
    /// Webhook-shaped JSON, with its dedup digest (the change key).
    pub events: Vec<(String, [u8; 16])>,
    /// Events of another portal: ignored.
    pub foreign: u64,
    /// Events the mirror has no use for, or that lack what their action needs.
    pub skipped: u64,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireFile<'a> {
    #[serde(default)]
    offset: Option<Value>,
    #[serde(default)]
    published_at: Option<Value>,
    #[serde(borrow)]
    journal_events: Vec<&'a RawValue>,
}

/// Reads a downloaded file.
pub fn read_file(bytes: &[u8]) -> Result<File<'_>, Damaged> {
    let wire: WireFile<'_> =
        serde_json::from_slice(bytes).map_err(|error| Damaged(error.to_string()))?;
    Ok(File {
        offset: wire.offset.as_ref().and_then(text),
        published_at_ms: wire.published_at.as_ref().and_then(time),
        events: wire.journal_events,
    })
}

/// Converts `file` (the entry at `offset`) for the mirror of `portal`.
pub fn convert(file: &File<'_>, offset: &str, portal: i64) -> Converted {
    let mut converted = Converted::default();
    for raw in &file.events {
        let Ok(Value::Object(event)) = serde_json::from_str::<Value>(raw.get()) else {
            converted.skipped += 1;
            continue;
        };
        match event.get("portalId").and_then(id) {
            Some(id) if id == portal => {}
            Some(_) => {
                converted.foreign += 1;
                continue;
            }
            None => {
                converted.skipped += 1;
                continue;
            }
        }
        match events_of(&event, portal, offset) {
            Some(events) => converted.events.extend(events.into_iter().map(stored)),
            None => converted.skipped += 1,
        }
    }
    converted
}

/// The webhook-shaped events of one journal event; `None` when it is of no use.
fn events_of(event: &Map<String, Value>, portal: i64, offset: &str) -> Option<Vec<Event>> {
    let field = |name: &str| event.get(name);
    let action = field("action").and_then(Value::as_str)?;
    let kind = field("objectTypeId")
        .or(field("fromObjectTypeId"))
        .and_then(object_type)?;
    let base = Event {
        portal_id: portal,
        occurred_at: field("occurredAt").and_then(time)?,
        object_type_id: Some(kind.type_id().to_owned()),
        object_id: field("objectId").and_then(id),
        journal_offset: Some(offset.to_owned()),
        ..Event::default()
    };
    let with = |what: &str| Event {
        subscription_type: format!("object.{what}"),
        ..base.clone()
    };
    let single = |what: &str| base.object_id.map(|_| vec![with(what)]);
    match action {
        "CREATE" => single("creation"),
        "DELETE" => single("deletion"),
        "RESTORE" => single("restore"),
        "GDPR_DELETE" => single("privacyDeletion"),
        "MERGE" => {
            let mut merge = with("merge");
            let merged = field("mergedObjectIds").and_then(Value::as_array);
            merge.merged_object_ids = Some(merged.into_iter().flatten().filter_map(id).collect());
            base.object_id.map(|_| vec![merge])
        }
        "UPDATE" => {
            base.object_id?;
            let changes = field("propertyChanges")?.as_object()?;
            let events = changes.iter().map(|(name, value)| Event {
                property_name: Some(name.clone()),
                property_value: Some(text(value).unwrap_or_default()),
                ..with("propertyChange")
            });
            Some(events.collect())
        }
        "ASSOCIATION_ADDED" | "ASSOCIATION_REMOVED" => {
            let to_type = field("toObjectTypeId").and_then(object_type)?;
            let association = Event {
                object_id: None,
                from_object_id: Some(field("fromObjectId").and_then(id)?),
                to_object_id: Some(field("toObjectId").and_then(id)?),
                from_object_type_id: Some(kind.type_id().to_owned()),
                to_object_type_id: Some(to_type.type_id().to_owned()),
                association_type_id: field("associationTypeId").and_then(id),
                association_category: field("associationCategory").and_then(text),
                association_removed: Some(action == "ASSOCIATION_REMOVED"),
                is_primary_association: field("isPrimary").and_then(Value::as_bool),
                ..with("associationChange")
            };
            Some(vec![association])
        }
        _ => None,
    }
}

/// The stored text and digest of a converted event. A value too big for the inbox is left
/// out: the event then asks for the record to be read again.
fn stored(mut event: Event) -> (String, [u8; 16]) {
    // Invariant: a struct of plain fields serialises.
    let mut raw = serde_json::to_string(&event).expect("Event serialises");
    if raw.len() > MAX_EVENT_BYTES {
        event.property_value = None;
        raw = serde_json::to_string(&event).expect("Event serialises");
    }
    let digest = event.change_key().unwrap_or_else(|| {
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&Sha256::digest(raw.as_bytes())[..16]);
        digest
    });
    (raw, digest)
}

fn object_type(value: &Value) -> Option<ObjectType> {
    let name = value.as_str()?.to_ascii_lowercase();
    ObjectType::from_event_kind(&name).or_else(|| name.parse().ok())
}

/// An id: a number or a numeric string.
fn id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A time: epoch ms, or ISO-8601 text.
fn time(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => parse_ms(text),
        _ => None,
    }
}

/// A property value as HubSpot's text (`null`: cleared).
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
