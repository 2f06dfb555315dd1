//! Updates (single PATCH and batch) and contact upserts by email.

use serde_json::{json, Value};

use super::{
    email_conflict, full_view, invalid_reply, parse_inputs, properties_of, Properties, SOURCE,
};
use crate::sim::http::acting::Acting;
use crate::sim::http::objects::batch_response;
use crate::sim::http::render;
use crate::sim::http::reply::{self, Reply};
use crate::sim::http::Request;
use crate::sim::kind::ObjectType;
use crate::sim::portal::Invalid;
use crate::time;

pub fn update(acting: &Acting, request: &Request, kind: ObjectType, id: &str) -> Reply {
    let body = match reply::body_json(&request.body) {
        Ok(body) => body,
        Err(message) => return reply::bad_request(&message),
    };
    let input = json!({"id": id, "properties": body["properties"], "idProperty": request.param("idProperty")});
    let reply = update_inputs(acting, kind, &[input]);
    if reply.status() == 207 {
        return reply::not_found(&[id.to_string()]);
    }
    reply
}

pub fn batch_update(acting: &Acting, request: &Request, kind: ObjectType) -> Reply {
    match parse_inputs(request) {
        Ok(inputs) => update_inputs(acting, kind, &inputs),
        Err(message) => reply::bad_request(&message),
    }
}

fn update_inputs(acting: &Acting, kind: ObjectType, inputs: &[Value]) -> Reply {
    let started = time::iso(time::now_ms());
    let mut portal = acting.portal.lock();
    let mut targets = Vec::new();
    let mut missing = Vec::new();
    for input in inputs {
        let id_text = reply::id_text(&input["id"]);
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
            if let Some(user_id) = acting.user_id.filter(|_| !changed.is_empty()) {
                portal.stamp_user(kind, id, user_id, false);
            }
            changes.extend(changed);
            if let Some(record) = portal.record(kind, id) {
                results.push(render::record(&portal, &record, &full_view(&record)));
            }
        }
    }
    drop(portal);
    acting.announce(changes);
    results.reverse();
    if inputs.len() == 1 && missing.is_empty() {
        // The single-record PATCH answers with the record itself.
        return reply::json(200, &results.pop().unwrap_or(Value::Null));
    }
    batch_response(results, missing, kind, &started)
}

pub fn batch_upsert(acting: &Acting, request: &Request, kind: ObjectType) -> Reply {
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
    let mut portal = acting.portal.lock();
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
        let (id, is_new, changed) = match existing {
            Some(id) => {
                let changed = portal
                    .update(kind, id, &properties, SOURCE)
                    .map(|(_, changed)| changed)
                    .unwrap_or_default();
                (id, false, changed)
            }
            None => {
                let (id, created) = portal.create(kind, &properties, SOURCE);
                (id, true, created)
            }
        };
        if let Some(user_id) = acting.user_id.filter(|_| !changed.is_empty()) {
            portal.stamp_user(kind, id, user_id, is_new);
        }
        changes.extend(changed);
        if let Some(record) = portal.record(kind, id) {
            let mut json = render::record(&portal, &record, &full_view(&record));
            json["new"] = json!(is_new);
            results.push(json);
        }
    }
    drop(portal);
    acting.announce(changes);
    results.reverse();
    reply::json(
        200,
        &json!({"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": time::iso(time::now_ms())}),
    )
}
