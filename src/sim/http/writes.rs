//! Object writes (§3.13): create, update, upsert, archive — single and batch. Validation fails
//! the whole batch; contacts are unique by email (409); every write fires webhooks.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::objects::batch_response;
use super::render::{self, View};
use super::reply::{self, Reply};
use super::Request;
use crate::sim::control::Shared;
use crate::sim::kind::{association_type_id, primary_association_type_id, ObjectType};
use crate::sim::portal::{Change, Invalid, Portal};
use crate::sim::time;

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

/// Creates validated inputs; returns their records' JSON and the changes to announce.
fn create_all(
    portal: &mut Portal,
    kind: ObjectType,
    inputs: &[Value],
) -> (Vec<Value>, Vec<Change>) {
    let (mut results, mut changes) = (Vec::new(), Vec::new());
    for input in inputs {
        let (id, created) = portal.create(kind, &properties_of(&input["properties"]), SOURCE);
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
    let Some(to_id) = association["to"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .or_else(|| association["to"]["id"].as_u64())
    else {
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

pub fn create(shared: &Shared, request: &Request, kind: ObjectType) -> Reply {
    let body = match reply::body_json(&request.body) {
        Ok(body) => body,
        Err(message) => return reply::bad_request(&message),
    };
    let mut portal = shared.portal.lock();
    let properties = properties_of(&body["properties"]);
    let problems = portal.validate(kind, &properties, true);
    if !problems.is_empty() {
        return invalid_reply(&problems);
    }
    if let Some(reply) = email_conflict(&portal, kind, &[(None, &properties)]) {
        return reply;
    }
    let (mut results, changes) = create_all(&mut portal, kind, std::slice::from_ref(&body));
    drop(portal);
    shared.announce(changes);
    reply::json(201, &results.pop().unwrap_or(Value::Null))
}

pub fn batch_create(shared: &Shared, request: &Request, kind: ObjectType) -> Reply {
    let inputs = match parse_inputs(request) {
        Ok(inputs) => inputs,
        Err(message) => return reply::bad_request(&message),
    };
    let started = time::iso(time::now_ms());
    let mut portal = shared.portal.lock();
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
    let (mut results, changes) = create_all(&mut portal, kind, &inputs);
    drop(portal);
    shared.announce(changes);
    // HubSpot does not return results in input order (§3.13).
    results.reverse();
    let body = json!({"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": time::iso(time::now_ms())});
    reply::json(201, &body)
}

pub fn update(shared: &Shared, request: &Request, kind: ObjectType, id: &str) -> Reply {
    let body = match reply::body_json(&request.body) {
        Ok(body) => body,
        Err(message) => return reply::bad_request(&message),
    };
    let input = json!({"id": id, "properties": body["properties"], "idProperty": request.param("idProperty")});
    let reply = update_inputs(shared, kind, &[input]);
    if reply.status() == 207 {
        return reply::not_found(&[id.to_string()]);
    }
    reply
}

pub fn batch_update(shared: &Shared, request: &Request, kind: ObjectType) -> Reply {
    match parse_inputs(request) {
        Ok(inputs) => update_inputs(shared, kind, &inputs),
        Err(message) => reply::bad_request(&message),
    }
}

fn update_inputs(shared: &Shared, kind: ObjectType, inputs: &[Value]) -> Reply {
    let started = time::iso(time::now_ms());
    let mut portal = shared.portal.lock();
    let mut targets = Vec::new();
    let mut missing = Vec::new();
    for input in inputs {
        let id_text = input["id"]
            .as_str()
            .map(str::to_string)
            .or_else(|| input["id"].as_u64().map(|id| id.to_string()))
            .unwrap_or_default();
        let id = match input["idProperty"].as_str() {
            Some("email") if kind == ObjectType::Contacts => portal.contact_by_email(&id_text),
            _ => id_text
                .parse()
                .ok()
                .and_then(|id| portal.live(kind, id))
                .map(|record| record.id),
        };
        match id {
            Some(id) => targets.push((id, properties_of(&input["properties"]))),
            None => missing.push(id_text),
        }
    }
    let problems: Vec<Invalid> = targets
        .iter()
        .flat_map(|(_, properties)| portal.validate(kind, properties, false))
        .collect();
    if !problems.is_empty() {
        return invalid_reply(&problems);
    }
    let writes: Vec<(Option<u64>, &Properties)> = targets
        .iter()
        .map(|(id, properties)| (Some(*id), properties))
        .collect();
    if let Some(reply) = email_conflict(&portal, kind, &writes) {
        return reply;
    }
    let (mut results, mut changes) = (Vec::new(), Vec::new());
    for (id, properties) in &targets {
        if let Some((id, changed)) = portal.update(kind, *id, properties, SOURCE) {
            changes.extend(changed);
            if let Some(record) = portal.record(kind, id) {
                results.push(render::record(&portal, &record, &full_view(&record)));
            }
        }
    }
    drop(portal);
    shared.announce(changes);
    results.reverse();
    if inputs.len() == 1 && missing.is_empty() {
        // The single-record PATCH answers with the record itself.
        return reply::json(200, &results.pop().unwrap_or(Value::Null));
    }
    batch_response(results, missing, kind, &started)
}

pub fn batch_upsert(shared: &Shared, request: &Request, kind: ObjectType) -> Reply {
    let inputs = match parse_inputs(request) {
        Ok(inputs) => inputs,
        Err(message) => return reply::bad_request(&message),
    };
    if kind != ObjectType::Contacts
        || inputs
            .iter()
            .any(|input| input["idProperty"].as_str() != Some("email"))
    {
        return reply::bad_request(
            "Upsert needs a unique idProperty; the only one here is email on contacts",
        );
    }
    let started = time::iso(time::now_ms());
    let mut portal = shared.portal.lock();
    let planned: Vec<(Option<u64>, Properties)> = inputs
        .iter()
        .map(|input| {
            let email = input["id"].as_str().unwrap_or_default().to_string();
            let mut properties = properties_of(&input["properties"]);
            properties
                .entry("email".to_string())
                .or_insert(email.clone());
            (portal.contact_by_email(&email), properties)
        })
        .collect();
    let problems: Vec<Invalid> = planned
        .iter()
        .flat_map(|(id, properties)| portal.validate(kind, properties, id.is_none()))
        .collect();
    if !problems.is_empty() {
        return invalid_reply(&problems);
    }
    let (mut results, mut changes) = (Vec::new(), Vec::new());
    for (existing, properties) in planned {
        let (id, is_new) = match existing {
            Some(id) => {
                changes.extend(
                    portal
                        .update(kind, id, &properties, SOURCE)
                        .map(|(_, changed)| changed)
                        .unwrap_or_default(),
                );
                (id, false)
            }
            None => {
                let (id, created) = portal.create(kind, &properties, SOURCE);
                changes.extend(created);
                (id, true)
            }
        };
        if let Some(record) = portal.record(kind, id) {
            let mut json = render::record(&portal, &record, &full_view(&record));
            json["new"] = json!(is_new);
            results.push(json);
        }
    }
    drop(portal);
    shared.announce(changes);
    results.reverse();
    reply::json(
        200,
        &json!({"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": time::iso(time::now_ms())}),
    )
}

pub fn archive(shared: &Shared, kind: ObjectType, id: &str) -> Reply {
    let changes = id
        .parse()
        .ok()
        .and_then(|id| shared.portal.lock().archive(kind, id, SOURCE))
        .unwrap_or_default();
    shared.announce(changes);
    // HubSpot answers 204 whether or not the record existed.
    reply::empty(204)
}

pub fn batch_archive(shared: &Shared, request: &Request, kind: ObjectType) -> Reply {
    let inputs = match parse_inputs(request) {
        Ok(inputs) => inputs,
        Err(message) => return reply::bad_request(&message),
    };
    let mut changes = Vec::new();
    {
        let mut portal = shared.portal.lock();
        for input in &inputs {
            let id = input["id"]
                .as_str()
                .and_then(|id| id.parse().ok())
                .or_else(|| input["id"].as_u64());
            changes.extend(
                id.and_then(|id| portal.archive(kind, id, SOURCE))
                    .unwrap_or_default(),
            );
        }
    }
    shared.announce(changes);
    reply::empty(204)
}
