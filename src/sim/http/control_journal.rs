//! `/_sim/journal/...`: the journal part of `Control` over HTTP (routes in `sim/mod.rs`).

use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::sim::control::Control;
use crate::sim::{FileCorruption, RateLimit};

#[derive(Deserialize)]
struct Corrupt {
    #[serde(default = "one")]
    count: u32,
    kind: FileCorruption,
}

fn one() -> u32 {
    1
}

/// `Ok(Some(json))` answers 200 with it, `Ok(None)` 204.
pub fn handle(
    control: &Control,
    method: &str,
    rest: &[&str],
    body: &Value,
) -> anyhow::Result<Option<Value>> {
    match (method, rest) {
        ("GET", ["subscriptions"]) => Ok(Some(json!({"results": control.journal_subscriptions()}))),
        ("GET", ["offsets"]) => Ok(Some(json!({"offsets": control.journal_offsets()}))),
        ("POST", ["subscribe-all"]) => {
            control.journal_subscribe_all();
            Ok(None)
        }
        ("POST", ["flush"]) => {
            control.flush_journal();
            Ok(None)
        }
        ("POST", ["age"]) => {
            let ms = body["ms"].as_u64().context("ms is required")?;
            control.age_journal(Duration::from_millis(ms));
            Ok(None)
        }
        ("POST", ["faults"]) => faults(control, body).map(|()| None),
        _ => anyhow::bail!("no control route for {method} journal/{}", rest.join("/")),
    }
}

fn faults(control: &Control, body: &Value) -> anyhow::Result<()> {
    let parse = |name: &str| -> anyhow::Result<Option<Corrupt>> {
        body.get(name)
            .map(|value| {
                serde_json::from_value(value.clone()).with_context(|| {
                    format!("{name}: {{\"count\", \"kind\": \"truncated\"|\"not_json\"}}")
                })
            })
            .transpose()
    };
    if let Some(count) = body["force_5xx"].as_u64() {
        control.journal_force_5xx(count as u32);
    }
    if let Some(count) = body["force_429"].as_u64() {
        let retry_after = body["retry_after_secs"].as_u64().unwrap_or(1);
        control.journal_force_429s(count as u32, Duration::from_secs(retry_after));
    }
    if let Some(value) = body.get("rate_limit") {
        control.set_journal_rate_limit(serde_json::from_value::<Option<RateLimit>>(value.clone())?);
    }
    if let Some(ttl_ms) = body["url_ttl_ms"].as_u64() {
        control.set_journal_url_ttl(Duration::from_millis(ttl_ms));
    }
    if let Some(corrupt) = parse("corrupt_files")? {
        control.corrupt_journal_files(corrupt.count, corrupt.kind);
    }
    if let Some(corrupt) = parse("corrupt_downloads")? {
        control.corrupt_journal_downloads(corrupt.count, corrupt.kind);
    }
    if let Some(entry) = body.get("corrupt_entry") {
        let offset = entry["offset"]
            .as_str()
            .context("corrupt_entry.offset is required")?;
        let kind = serde_json::from_value::<Option<FileCorruption>>(entry["kind"].clone())?;
        control.corrupt_journal_entry(offset, kind)?;
    }
    if let Some(portal_id) = body["foreign_portal_id"].as_i64() {
        control.journal_foreign_event(portal_id);
    }
    Ok(())
}
