//! Object writes: create, update, upsert, archive — single and batch. Validation fails
//! the whole batch; contacts are unique by email (409); every write fires webhooks.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/guide>

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::render::{self, View};
use super::reply::{self, Reply};
use super::Request;
use crate::sim::http::acting::Acting;
use crate::sim::kind::{association_type_id, primary_association_type_id, ObjectType};
use crate::sim::portal::{Change, Invalid, Portal};
use crate::time;

mod update;

pub use update::{batch_update, batch_upsert, update};

const BATCH_MAX: usize = 100;
const SOURCE: &str = "API";

type Properties = BTreeMap<String, String>;

fn properties_of(value: &Value) -> Properties {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), text(value)))
        .collect()
}

fn invalid_reply(problems: &[Invalid]) -> Reply {
    // HubSpot's embedded list keeps its own key order (isValid, message, error, name).
    let quote = |text: &str| Value::String(text.to_string()).to_string();
    let listed: Vec<String> = problems
        .iter()
        .map(|problem| {
            format!(
                r#"{{"isValid":false,"message":{},"error":{},"name":{}}}"#,
                quote(&problem.message),
                quote(problem.error),
                quote(&problem.name)
            )
        })
        .collect();
    let errors: Vec<Value> = problems
        .iter()
        .map(|problem| json!({"message": problem.message, "code": problem.error, "context": {"propertyName": [problem.name]}}))
        .collect();
    let message = format!("Property values were not valid: [{}]", listed.join(","));
    reply::json(
        400,
        &json!({"status": "error", "message": message, "correlationId": reply::correlation_id(), "category": "VALIDATION_ERROR", "errors": errors}),
    )
}

fn conflict(existing: u64) -> Reply {
    reply::json(
        409,
        &json!({"status": "error", "message": format!("Contact already exists. Existing ID: {existing}"), "correlationId": reply::correlation_id(), "category": "CONFLICT"}),
    )
}

/// The first email in `writes` that belongs to another contact, or repeats within the batch.
fn email_conflict(
    portal: &Portal,
    kind: ObjectType,
    writes: &[(Option<u64>, &Properties)],
) -> Option<Reply> {
    if kind != ObjectType::Contacts {
        return None;
    }
    let mut seen: BTreeMap<String, Option<u64>> = BTreeMap::new();
    for (id, properties) in writes {
        let Some(email) = properties.get("email").filter(|email| !email.is_empty()) else {
            continue;
        };
        if let Some(existing) = portal
            .contact_by_email(email)
            .filter(|existing| Some(*existing) != *id)
        {
            return Some(conflict(existing));
        }
        if seen.insert(email.to_lowercase(), *id).is_some() {
            return Some(reply::bad_request(&format!(
                "Duplicate email in batch input: {email}"
            )));
        }
    }
    None
}

fn full_view(record: &crate::sim::portal::Record) -> View {
    View {
        properties: record.properties.keys().cloned().collect(),
        ..View::default()
    }
}

fn parse_inputs(request: &Request) -> Result<Vec<Value>, String> {
    let body = reply::body_json(&request.body)?;
    let inputs = body["inputs"]
        .as_array()
        .cloned()
        .ok_or_else(|| "inputs is required".to_string())?;
    if inputs.len() > BATCH_MAX {
        return Err(format!(
            "Batch size must be at most {BATCH_MAX}; got {}",
            inputs.len()
        ));
    }
    Ok(inputs)
}

/// Creates validated inputs as `user_id` (if a user's token); returns their records' JSON
/// and the changes to announce.
fn create_all(
    portal: &mut Portal,
    kind: ObjectType,
    inputs: &[Value],
    user_id: Option<u64>,
) -> (Vec<Value>, Vec<Change>) {
    let (mut results, mut changes) = (Vec::new(), Vec::new());
    for input in inputs {
        let (id, created) = portal.create(kind, &properties_of(&input["properties"]), SOURCE);
        if let Some(user_id) = user_id {
            portal.stamp_user(kind, id, user_id, true);
        }
        changes.extend(created);
        for association in input["associations"].as_array().into_iter().flatten() {
            changes.extend(associate(portal, kind, id, association));
        }
        if let Some(record) = portal.record(kind, id) {
            let mut json = render::record(portal, &record, &full_view(&record));
            if let Some(trace) = input["objectWriteTraceId"].as_str() {
                json["objectWriteTraceId"] = json!(trace);
            }
            results.push(json);
        }
    }
    (results, changes)
}

fn associate(portal: &mut Portal, kind: ObjectType, id: u64, association: &Value) -> Vec<Change> {
    let Ok(to_id) = reply::id_text(&association["to"]["id"]).parse() else {
        return Vec::new();
    };
    let type_ids: Vec<u64> = association["types"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|kind| kind["associationTypeId"].as_u64())
        .collect();
    let target = ObjectType::ALL.into_iter().find(|to| {
        type_ids.iter().any(|type_id| {
            association_type_id(kind, *to).map(u64::from) == Some(*type_id)
                || primary_association_type_id(kind, *to).map(u64::from) == Some(*type_id)
        })
    });
    target.map_or_else(Vec::new, |to| {
        portal.associate((kind, id), (to, to_id), true, SOURCE)
    })
}

pub fn create(acting: &Acting, request: &Request, kind: ObjectType) -> Reply {
    let body = match reply::body_json(&request.body) {
        Ok(body) => body,
        Err(message) => return reply::bad_request(&message),
    };
    let mut portal = acting.portal.lock();
    let properties = properties_of(&body["properties"]);
    let problems = portal.validate(kind, &properties, true);
    if !problems.is_empty() {
        return invalid_reply(&problems);
    }
    if let Some(reply) = email_conflict(&portal, kind, &[(None, &properties)]) {
        return reply;
    }
    let (mut results, changes) = create_all(
        &mut portal,
        kind,
        std::slice::from_ref(&body),
        acting.user_id,
    );
    drop(portal);
    acting.announce(changes);
    reply::json(201, &results.pop().unwrap_or(Value::Null))
}

pub fn batch_create(acting: &Acting, request: &Request, kind: ObjectType) -> Reply {
    let inputs = match parse_inputs(request) {
        Ok(inputs) => inputs,
        Err(message) => return reply::bad_request(&message),
    };
    let started = time::iso(time::now_ms());
    let mut portal = acting.portal.lock();
    let all: Vec<Properties> = inputs
        .iter()
        .map(|input| properties_of(&input["properties"]))
        .collect();
    let problems: Vec<Invalid> = all
        .iter()
        .flat_map(|properties| portal.validate(kind, properties, true))
        .collect();
    if !problems.is_empty() {
        return invalid_reply(&problems);
    }
    let writes: Vec<(Option<u64>, &Properties)> =
        all.iter().map(|properties| (None, properties)).collect();
    if let Some(reply) = email_conflict(&portal, kind, &writes) {
        return reply;
    }
    let (mut results, changes) = create_all(&mut portal, kind, &inputs, acting.user_id);
    drop(portal);
    acting.announce(changes);
    // HubSpot does not return results in input order.
    // HubSpot: https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/guide
    results.reverse();
    let body = json!({"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": time::iso(time::now_ms())});
    reply::json(201, &body)
}

pub fn archive(acting: &Acting, kind: ObjectType, id: &str) -> Reply {
    let changes = id
        .parse()
        .ok()
        .and_then(|id| acting.portal.lock().archive(kind, id, SOURCE))
        .unwrap_or_default();
    acting.announce(changes);
    // HubSpot answers 204 whether or not the record existed.
    reply::empty(204)
}

pub fn batch_archive(acting: &Acting, request: &Request, kind: ObjectType) -> Reply {
    let inputs = match parse_inputs(request) {
        Ok(inputs) => inputs,
        Err(message) => return reply::bad_request(&message),
    };
    let mut changes = Vec::new();
    {
        let mut portal = acting.portal.lock();
        for input in &inputs {
            let id = reply::id_text(&input["id"]).parse().ok();
            changes.extend(
                id.and_then(|id| portal.archive(kind, id, SOURCE))
                    .unwrap_or_default(),
            );
        }
    }
    acting.announce(changes);
    reply::empty(204)
}

/// `POST /crm/v3/objects/contacts/gdpr-delete` `{"objectId", "idProperty"?}`: permanent; fires
/// `contact.privacyDeletion` and `contact.deletion`.
/// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/contacts/guide>
pub fn gdpr_delete(acting: &Acting, request: &Request) -> Reply {
    let body = match reply::body_json(&request.body) {
        Ok(body) => body,
        Err(message) => return reply::bad_request(&message),
    };
    let Some(key) = body["objectId"].as_str() else {
        return reply::bad_request("objectId is required");
    };
    let mut portal = acting.portal.lock();
    let id = match body["idProperty"].as_str() {
        Some("email") => portal.contact_by_email(key),
        _ => key.parse().ok(),
    };
    let Some(changes) = id.and_then(|id| portal.privacy_delete(id, "GDPR")) else {
        return reply::not_found(&[key.to_string()]);
    };
    drop(portal);
    acting.announce(changes);
    reply::empty(204)
}
