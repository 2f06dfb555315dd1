//! Owners, pipelines, property definitions and associations v4. HubSpot:
//! <https://developers.hubspot.com/docs/api-reference/latest/crm/owners/guide>,
//! <https://developers.hubspot.com/docs/api-reference/legacy/crm/pipelines/guide>,
//! <https://developers.hubspot.com/docs/api-reference/legacy/crm/properties/guide>,
//! <https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide>.

use serde_json::{json, Value};

use super::objects::batch_response;
use super::reply::{self, Reply};
use super::Request;
use crate::sim::http::acting::Acting;
use crate::sim::kind::{association_type_id, primary_association_type_id, ObjectType};
use crate::sim::schema;
use crate::time;

const OWNERS_DEFAULT: usize = 100;
const OWNERS_MAX: usize = 500;
const ASSOCIATIONS_MAX_INPUTS: usize = 1000;
/// Associations per input and page; more come with a per-input `paging.next.after`.
const ASSOCIATIONS_PAGE: usize = 500;

pub fn owners(acting: &Acting, request: &Request) -> Reply {
    let limit = request
        .param("limit")
        .and_then(|limit| limit.parse().ok())
        .unwrap_or(OWNERS_DEFAULT);
    if limit == 0 || limit > OWNERS_MAX {
        return reply::bad_request(&format!("limit must be between 1 and {OWNERS_MAX}"));
    }
    let after: usize = request
        .param("after")
        .and_then(|after| after.parse().ok())
        .unwrap_or(0);
    let archived = request.flag("archived");
    let email = request.param("email").map(str::to_lowercase);
    let portal = acting.portal.lock();
    let matching: Vec<&crate::sim::Owner> = portal
        .owners
        .iter()
        .filter(|owner| owner.archived == archived)
        .filter(|owner| {
            email
                .as_ref()
                .is_none_or(|email| owner.email.to_lowercase() == *email)
        })
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(after)
        .take(limit)
        .map(|owner| owner.to_json())
        .collect();
    let mut body = json!({ "results": page });
    if after + limit < matching.len() {
        let next = (after + limit).to_string();
        body["paging"] = json!({"next": {"after": next, "link": format!("/crm/v3/owners?after={next}&limit={limit}")}});
    }
    reply::json(200, &body)
}

pub fn owner(acting: &Acting, request: &Request, id: &str) -> Reply {
    let by_user = request.param("idProperty") == Some("userId");
    let archived = request.flag("archived");
    let portal = acting.portal.lock();
    let found = portal.owners.iter().find(|owner| {
        let key = if by_user { owner.user_id } else { owner.id };
        key.to_string() == id && owner.archived == archived
    });
    match found {
        Some(owner) => reply::json(200, &owner.to_json()),
        None => reply::not_found(&[id.to_string()]),
    }
}

pub fn pipelines() -> Reply {
    reply::json(200, &schema::pipelines_json())
}

pub fn pipeline(id: &str) -> Reply {
    let all = schema::pipelines_json();
    match all["results"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|pipeline| pipeline["id"] == id)
    {
        Some(pipeline) => reply::json(200, pipeline),
        None => reply::error(
            404,
            "OBJECT_NOT_FOUND",
            &format!("Unable to find pipeline {id}"),
        ),
    }
}

pub fn properties(kind: ObjectType) -> Reply {
    let results: Vec<Value> = schema::properties(kind)
        .iter()
        .map(schema::property_json)
        .collect();
    reply::json(200, &json!({ "results": results }))
}

pub fn property(kind: ObjectType, name: &str) -> Reply {
    match schema::property(kind, name) {
        Some(def) => reply::json(200, &schema::property_json(def)),
        None => reply::error(
            404,
            "OBJECT_NOT_FOUND",
            &format!("Unable to find property {name} on {}", kind.name()),
        ),
    }
}

pub fn associations(acting: &Acting, request: &Request, from: ObjectType, to: ObjectType) -> Reply {
    let body = match reply::body_json(&request.body) {
        Ok(body) => body,
        Err(message) => return reply::bad_request(&message),
    };
    let inputs = body["inputs"].as_array().cloned().unwrap_or_default();
    if inputs.len() > ASSOCIATIONS_MAX_INPUTS {
        return reply::bad_request(&format!(
            "Batch size must be at most {ASSOCIATIONS_MAX_INPUTS}; got {}",
            inputs.len()
        ));
    }
    let started = time::iso(time::now_ms());
    let portal = acting.portal.lock();
    let (mut results, mut missing) = (Vec::new(), Vec::new());
    for input in &inputs {
        let id_text = reply::id_text(&input["id"]);
        let after: usize = input["after"]
            .as_str()
            .and_then(|after| after.parse().ok())
            .unwrap_or(0);
        let id: u64 = id_text.parse().unwrap_or(0);
        let ids = match portal.live(from, id) {
            Some(_) => portal.associations(from, id, to),
            None => Vec::new(),
        };
        if ids.is_empty() {
            missing.push(id_text);
            continue;
        }
        let page: Vec<Value> = ids.iter().skip(after).take(ASSOCIATIONS_PAGE).map(|other| {
            let mut types = vec![json!({"category": "HUBSPOT_DEFINED", "typeId": association_type_id(from, to), "label": null})];
            if portal.is_primary((from, id), (to, *other)) {
                types.push(json!({"category": "HUBSPOT_DEFINED", "typeId": primary_association_type_id(from, to), "label": "Primary"}));
            }
            json!({"toObjectId": other, "associationTypes": types})
        }).collect();
        let mut result = json!({"from": {"id": id_text}, "to": page});
        if after + ASSOCIATIONS_PAGE < ids.len() {
            result["paging"] = json!({"next": {"after": (after + ASSOCIATIONS_PAGE).to_string()}});
        }
        results.push(result);
    }
    if missing.is_empty() {
        return batch_response(results, missing, from, &started);
    }
    let mut reply_body = json!({"status": "COMPLETE", "results": results, "numErrors": missing.len(), "startedAt": started, "completedAt": time::iso(time::now_ms())});
    reply_body["errors"] = Value::Array(missing.iter().map(|id| json!({
        "status": "error", "category": "OBJECT_NOT_FOUND", "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
        "message": format!("No {} is associated with {} {id}.", to.singular(), from.singular()),
        "context": {"fromObjectId": [id]}})).collect());
    reply::json(207, &reply_body)
}
