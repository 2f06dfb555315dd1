//! Object reads: list, get, batch read and search. HubSpot:
//! <https://developers.hubspot.com/docs/api-reference/legacy/crm/using-object-apis>,
//! <https://developers.hubspot.com/docs/api-reference/legacy/crm/search-the-crm>.

use serde_json::{json, Value};

use super::render::{self, View};
use super::reply::{self, Reply};
use super::Request;
use crate::sim::http::acting::Acting;
use crate::sim::kind::ObjectType;
use crate::sim::portal::{Filter, FilterGroup, Portal, SearchQuery};
use crate::time;

const LIST_MAX: usize = 100;
/// `propertiesWithHistory` lowers the page size (HubSpot's spec says so without a number;
/// 50 is community-observed).
/// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/using-object-apis>
const HISTORY_MAX: usize = 50;
const BATCH_MAX: usize = 100;

fn view(request: &Request) -> Result<View, String> {
    let associations = request
        .list("associations")
        .iter()
        .map(|name| {
            crate::sim::kind::parse(name)
                .ok_or_else(|| format!("Unknown object type in associations: {name}"))
        })
        .collect::<Result<_, _>>()?;
    Ok(View {
        properties: request.list("properties"),
        history: request.list("propertiesWithHistory"),
        associations,
    })
}

pub fn list(acting: &Acting, request: &Request, kind: ObjectType) -> Reply {
    let view = match view(request) {
        Ok(view) => view,
        Err(message) => return reply::bad_request(&message),
    };
    let limit = match request.param("limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(limit)) if limit >= 1 => limit,
        Some(_) => return reply::bad_request("limit must be a positive integer"),
    };
    let max = if view.history.is_empty() {
        LIST_MAX
    } else {
        HISTORY_MAX
    };
    if limit > max {
        return reply::bad_request(&format!(
            "limit must be less than or equal to {max}{}",
            if max == HISTORY_MAX {
                " when requesting propertiesWithHistory"
            } else {
                ""
            }
        ));
    }
    let after = match request
        .param("after")
        .filter(|after| !after.is_empty())
        .map(str::parse::<u64>)
    {
        None => 0,
        Some(Ok(after)) => after,
        Some(Err(_)) => {
            return reply::bad_request("after must be a numeric cursor from paging.next.after")
        }
    };
    let portal = acting.portal.lock();
    let (ids, next) = portal.list(kind, after, limit, request.flag("archived"));
    let results: Vec<Value> = ids
        .iter()
        .filter_map(|id| portal.record(kind, *id))
        .map(|record| render::record(&portal, &record, &view))
        .collect();
    let mut body = json!({ "results": results });
    if let Some(next) = next {
        let link = format!("/crm/v3/objects/{}?after={next}&limit={limit}", kind.name());
        body["paging"] = json!({"next": {"after": next.to_string(), "link": link}});
    }
    reply::json(200, &body)
}

/// A record by id (or by a unique `idProperty`); merged ids answer with the survivor.
fn find(
    portal: &Portal,
    kind: ObjectType,
    id: &str,
    id_property: Option<&str>,
    archived: bool,
) -> Option<u64> {
    let id = match id_property {
        Some("email") if kind == ObjectType::Contacts => portal.contact_by_email(id)?,
        Some("hs_object_id") | None => id.parse().ok()?,
        Some(_) => return None,
    };
    let resolved = portal.resolve(kind, id);
    let record = portal.record(kind, resolved)?;
    (record.archived_ms.is_some() == archived).then_some(resolved)
}

pub fn get(acting: &Acting, request: &Request, kind: ObjectType, id: &str) -> Reply {
    let view = match view(request) {
        Ok(view) => view,
        Err(message) => return reply::bad_request(&message),
    };
    let portal = acting.portal.lock();
    match find(
        &portal,
        kind,
        id,
        request.param("idProperty"),
        request.flag("archived"),
    )
    .and_then(|id| portal.record(kind, id))
    {
        Some(record) => reply::json(200, &render::record(&portal, &record, &view)),
        None => reply::not_found(&[id.to_string()]),
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_str().map(str::to_string))
        .collect()
}

pub fn batch_read(acting: &Acting, request: &Request, kind: ObjectType) -> Reply {
    let body = match reply::body_json(&request.body) {
        Ok(body) => body,
        Err(message) => return reply::bad_request(&message),
    };
    let Some(inputs) = body["inputs"].as_array() else {
        return reply::bad_request("inputs is required");
    };
    if inputs.len() > BATCH_MAX {
        return reply::bad_request(&format!(
            "Batch size must be at most {BATCH_MAX}; got {}",
            inputs.len()
        ));
    }
    let view = View {
        properties: strings(&body["properties"]),
        history: strings(&body["propertiesWithHistory"]),
        associations: Vec::new(),
    };
    let started = time::iso(time::now_ms());
    let portal = acting.portal.lock();
    let (mut results, mut missing) = (Vec::new(), Vec::new());
    for input in inputs {
        let id = reply::id_text(&input["id"]);
        match find(
            &portal,
            kind,
            &id,
            body["idProperty"].as_str(),
            request.flag("archived"),
        )
        .and_then(|found| portal.record(kind, found))
        {
            Some(record) => results.push(render::record(&portal, &record, &view)),
            None => missing.push(id),
        }
    }
    // HubSpot does not promise input order; newest-id-first makes clients that rely on it fail.
    results.reverse();
    batch_response(results, missing, kind, &started)
}

pub fn batch_response(
    results: Vec<Value>,
    missing: Vec<String>,
    kind: ObjectType,
    started: &str,
) -> Reply {
    let mut body = json!({"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": time::iso(time::now_ms())});
    if missing.is_empty() {
        return reply::json(200, &body);
    }
    let singular = kind.singular().to_uppercase();
    body["numErrors"] = json!(1);
    body["errors"] = json!([{"status": "error", "category": "OBJECT_NOT_FOUND",
        "message": format!("Could not get some {singular} objects, they may be deleted or not exist. Check that ids are valid."),
        "context": {"ids": missing}}]);
    reply::json(207, &body)
}

pub fn search(acting: &Acting, request: &Request, kind: ObjectType) -> Reply {
    let body = match reply::body_json(&request.body) {
        Ok(body) => body,
        Err(message) => return reply::bad_request(&message),
    };
    let query = match parse_query(&body) {
        Ok(query) => query,
        Err(message) => return reply::bad_request(&message),
    };
    let view = View {
        properties: strings(&body["properties"]),
        ..View::default()
    };
    let mut portal = acting.portal.lock();
    let found = match portal.search(kind, &query) {
        Ok(found) => found,
        Err(message) => return reply::bad_request(&message),
    };
    let results: Vec<Value> = found
        .ids
        .iter()
        .filter_map(|id| portal.record(kind, *id))
        .map(|record| render::record(&portal, &record, &view))
        .collect();
    let mut out = json!({"total": found.total, "results": results});
    if let Some(next) = found.next_after {
        out["paging"] = json!({"next": {"after": next.to_string()}});
    }
    reply::json(200, &out)
}

fn parse_query(body: &Value) -> Result<SearchQuery, String> {
    let number = |value: &Value, default: usize| -> Result<usize, String> {
        match value {
            Value::Null => Ok(default),
            Value::Number(number) => number
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| format!("{number} is not a valid integer")),
            Value::String(text) if text.is_empty() => Ok(default),
            Value::String(text) => text
                .parse()
                .map_err(|_| format!("after/limit must be integers, got {text:?}")),
            other => Err(format!("{other} is not a valid integer")),
        }
    };
    let text = |value: &Value| {
        value
            .as_str()
            .map(str::to_string)
            .or_else(|| value.as_i64().map(|n| n.to_string()))
    };
    let mut groups = Vec::new();
    for group in body["filterGroups"].as_array().into_iter().flatten() {
        let mut filters = Vec::new();
        for filter in group["filters"].as_array().into_iter().flatten() {
            filters.push(Filter {
                property: text(&filter["propertyName"])
                    .ok_or("every filter needs a propertyName")?,
                operator: text(&filter["operator"]).unwrap_or_else(|| "EQ".to_string()),
                value: text(&filter["value"]),
                high_value: text(&filter["highValue"]),
                values: filter["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(text)
                    .collect(),
            });
        }
        groups.push(FilterGroup { filters });
    }
    let sorts = body["sorts"].as_array().cloned().unwrap_or_default();
    if sorts.len() > 1 {
        return Err("Only one sort is supported".to_string());
    }
    let sort = sorts.first().map(|sort| match sort {
        Value::String(name) => (
            name.trim_start_matches('-').to_string(),
            name.starts_with('-'),
        ),
        other => (
            text(&other["propertyName"]).unwrap_or_default(),
            other["direction"].as_str() == Some("DESCENDING"),
        ),
    });
    Ok(SearchQuery {
        groups,
        sort,
        query: text(&body["query"]),
        after: number(&body["after"], 0)?,
        limit: number(&body["limit"], 10)?,
    })
}
