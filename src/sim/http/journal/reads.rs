//! Journal reads on the global and the local journal: earliest, latest, next, their
//! batch forms and batch read. Each entry carries a freshly signed file URL.

use serde_json::{json, Value};

use super::super::reply::{self, Reply};
use super::super::Request;
use super::files;
use crate::sim::control::Shared;
use crate::sim::journal::{Journal, MAX_BATCH};
use crate::time;

/// Where a listing starts.
pub enum From {
    Earliest,
    Latest,
    After(String),
}

pub enum Read {
    /// One entry, or 204.
    One(From),
    /// Up to `count` (1 to 100, as written in the path) entries.
    Many(From, String),
    /// `batch/read`: the entries of the offsets in the body.
    Offsets,
}

/// The call under `/webhooks-journal/{journal}/2026-03/`: its path template and operation.
pub fn identify(method: &str, rest: &[&str]) -> Option<(&'static str, Read)> {
    let after = |offset: &str| From::After(offset.to_string());
    Some(match (method, rest) {
        ("GET", ["earliest"]) => ("earliest", Read::One(From::Earliest)),
        ("GET", ["latest"]) => ("latest", Read::One(From::Latest)),
        ("GET", ["offset", offset, "next"]) => ("offset/{offset}/next", Read::One(after(offset))),
        ("GET", ["batch", "earliest", count]) => (
            "batch/earliest/{count}",
            Read::Many(From::Earliest, count.to_string()),
        ),
        ("GET", ["batch", "latest", count]) => (
            "batch/latest/{count}",
            Read::Many(From::Latest, count.to_string()),
        ),
        ("GET", ["batch", offset, "next", count]) => (
            "batch/{offset}/next/{count}",
            Read::Many(after(offset), count.to_string()),
        ),
        ("POST", ["batch", "read"]) => ("batch/read", Read::Offsets),
        _ => return None,
    })
}

pub fn serve(shared: &Shared, request: &Request, local: bool, read: Read) -> Reply {
    let portal = match request.param("installPortalId") {
        Some(text) if local => match text.parse::<i32>() {
            Ok(id) => Some(i64::from(id)),
            Err(_) => {
                return reply::bad_request(&format!("installPortalId {text:?} is not an int32"))
            }
        },
        _ => None,
    };
    let base = files::base_url(request);
    let started = time::now_ms();
    let mut journal = shared.journal.lock();
    journal.tick(started);
    let (from, count, single) = match read {
        Read::One(from) => (from, 1, true),
        Read::Many(from, count) => match batch_count(&count) {
            Ok(count) => (from, count, false),
            Err(message) => return reply::bad_request(&message),
        },
        Read::Offsets => return batch_read(&mut journal, request, portal, &base, started),
    };
    let offsets = match &from {
        From::Earliest => journal.store.earliest(portal, count),
        From::Latest => journal.store.latest(portal, count),
        From::After(offset) => match journal.store.after(offset, portal, count) {
            Some(offsets) => offsets,
            None => return gone(offset),
        },
    };
    let results: Vec<Value> = offsets
        .iter()
        .map(|offset| entry(&mut journal, offset, &base, started))
        .collect();
    if !single {
        return reply::json(200, &batch(results, started, None));
    }
    match results.into_iter().next() {
        Some(result) => reply::json(200, &result),
        None => reply::empty(204),
    }
}

/// One entry: `{currentOffset, expiresAt, url}` with a URL signed now.
fn entry(journal: &mut Journal, offset: &str, base: &str, now_ms: i64) -> Value {
    let ttl_ms = journal.config.url_ttl_ms;
    let expires_ms = now_ms + ttl_ms as i64;
    let signature = journal.store.sign(offset, expires_ms, now_ms);
    let portal = journal
        .store
        .get(offset, None)
        .map_or(0, |entry| entry.portal_id);
    let url = files::url(base, portal, offset, ttl_ms, &signature);
    json!({"currentOffset": offset, "expiresAt": time::iso(expires_ms), "url": url})
}

fn gone(offset: &str) -> Reply {
    reply::error(
        404,
        "OBJECT_NOT_FOUND",
        &format!("Offset {offset} does not exist or has expired"),
    )
}

fn batch_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(count) if (1..=MAX_BATCH).contains(&count) => Ok(count),
        _ => Err(format!(
            "count must be an integer from 1 to {MAX_BATCH}, got {text:?}"
        )),
    }
}

fn batch(results: Vec<Value>, started_ms: i64, errors: Option<Vec<Value>>) -> Value {
    let mut body = json!({"status": "COMPLETE", "results": results, "startedAt": time::iso(started_ms),
                          "completedAt": time::iso(time::now_ms())});
    if let Some(errors) = errors {
        body["numErrors"] = json!(errors.len());
        body["errors"] = json!(errors);
    }
    body
}

/// `POST …/batch/read {"inputs": [offset, …]}`: 200, or 207 naming the offsets it cannot read.
fn batch_read(
    journal: &mut Journal,
    request: &Request,
    portal: Option<i64>,
    base: &str,
    started: i64,
) -> Reply {
    let inputs: Vec<String> = match reply::body_json(&request.body).and_then(|body| {
        serde_json::from_value(body["inputs"].clone())
            .map_err(|_| "inputs must be an array of offsets".to_string())
    }) {
        Ok(inputs) => inputs,
        Err(message) => return reply::bad_request(&message),
    };
    if inputs.is_empty() || inputs.len() > MAX_BATCH {
        return reply::bad_request(&format!(
            "inputs must hold 1 to {MAX_BATCH} offsets, got {}",
            inputs.len()
        ));
    }
    let (mut results, mut errors) = (Vec::new(), Vec::new());
    for offset in &inputs {
        if journal.store.get(offset, portal).is_some() {
            results.push(entry(journal, offset, base, started));
        } else {
            errors.push(json!({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "message": format!("Offset {offset} does not exist or has expired"),
                               "context": {"offsets": [offset]}}));
        }
    }
    if errors.is_empty() {
        reply::json(200, &batch(results, started, None))
    } else {
        reply::json(207, &batch(results, started, Some(errors)))
    }
}
