//! `/_sim/...`: the `Control` surface over HTTP (routes documented in `sim/mod.rs`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::reply::{self, Reply};
use super::{control_journal, Request};
use crate::sim::control::{Control, Shared};
use crate::sim::kind::ObjectType;
use crate::sim::webhooks::WebhookChaos;
use crate::sim::{hub_domain, RateLimit, ScopeLimit, WebhookTarget};

pub async fn handle(shared: &Arc<Shared>, request: &Request) -> Reply {
    let control = Control::new(shared.clone());
    let body: Value = if request.body.is_empty() {
        Value::Null
    } else {
        match reply::body_json(&request.body) {
            Ok(body) => body,
            Err(message) => return reply::bad_request(&message),
        }
    };
    let segments = request.segments();
    let outcome = match (request.method.as_str(), &segments[1..]) {
        ("GET", ["stats"]) => Ok(Some(json!(control.stats()))),
        ("GET", ["snapshot"]) => Ok(Some(json!(control.snapshot()))),
        ("GET", ["config"]) => Ok(Some(config_json(&control))),
        ("POST", ["expire-tokens"]) => {
            control.expire_tokens();
            Ok(None)
        }
        ("POST", ["faults"]) => faults(&control, &body).map(|()| None),
        ("POST", ["oauth"]) => oauth(&control, &body).map(|()| None),
        ("GET", ["accounts"]) => Ok(Some(
            json!({"accounts": control.accounts(), "users": control.users()}),
        )),
        ("POST", ["users"]) => {
            let email = body["email"].as_str().unwrap_or_default();
            let portal_id = body["portal_id"]
                .as_i64()
                .unwrap_or(control.config().portal_id);
            control
                .add_user(email, portal_id)
                .map(|user_id| Some(json!({"user_id": user_id})))
        }
        ("POST", ["webhooks", "chaos"]) => serde_json::from_value::<WebhookChaos>(body)
            .map(|chaos| control.set_webhook_chaos(chaos))
            .map(|()| None)
            .map_err(anyhow::Error::from),
        ("POST", ["webhooks", "target"]) => webhook_target(&body).map(|target| {
            control.set_webhook_target(Some(target));
            None
        }),
        ("DELETE", ["webhooks", "target"]) => {
            control.set_webhook_target(None);
            Ok(None)
        }
        ("POST", ["webhooks", "flush"]) => Ok(Some(
            json!({"pending": control.flush_webhooks(Duration::from_secs(30)).await}),
        )),
        ("POST", ["owners"]) => {
            let text = |name: &str| body[name].as_str().unwrap_or_default().to_string();
            Ok(Some(
                json!({"id": control.add_owner(&text("email"), &text("first_name"), &text("last_name"))}),
            ))
        }
        ("DELETE", ["owners", id]) => control.archive_owner(id).map(|()| None),
        ("POST", ["contacts", id, "privacy-delete"]) => control.privacy_delete(id).map(|()| None),
        ("POST", ["associations"]) => association(&control, &body).map(|()| None),
        ("POST", ["bulk-touch", kind]) => kind_of(kind).map(|kind| {
            let count = body["count"].as_u64().unwrap_or(10_001) as usize;
            Some(json!({"modified_ms": control.bulk_touch(kind, count)}))
        }),
        (method, ["objects", kind, rest @ ..]) => objects(&control, method, kind, rest, &body),
        (method, ["journal", rest @ ..]) => control_journal::handle(&control, method, rest, &body),
        _ => {
            return reply::error(
                404,
                "NOT_FOUND",
                &format!("No control route {} {}", request.method, request.path),
            )
        }
    };
    match outcome {
        Ok(Some(value)) => reply::json(200, &value),
        Ok(None) => reply::empty(204),
        Err(error) => reply::bad_request(&format!("{error:#}")),
    }
}

fn kind_of(text: &str) -> anyhow::Result<ObjectType> {
    crate::sim::kind::parse(text).ok_or_else(|| anyhow::anyhow!("unknown object type {text}"))
}

fn properties(body: &Value) -> Vec<(String, String)> {
    let text = |value: &Value| {
        value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string)
    };
    body["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), text(value)))
        .collect()
}

fn objects(
    control: &Control,
    method: &str,
    kind: &str,
    rest: &[&str],
    body: &Value,
) -> anyhow::Result<Option<Value>> {
    let kind = kind_of(kind)?;
    match (method, rest) {
        ("POST", []) => Ok(Some(json!({"id": control.create(kind, properties(body))?}))),
        ("POST", ["merge"]) => {
            let id = |name: &str| {
                body[name]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow::anyhow!("{name} is required"))
            };
            control
                .merge(kind, &id("primary")?, &id("merged")?)
                .map(|()| None)
        }
        ("PATCH", [id]) => control.update(kind, id, properties(body)).map(|()| None),
        ("DELETE", [id]) => control.archive(kind, id).map(|()| None),
        ("POST", [id, "restore"]) => control.restore(kind, id).map(|()| None),
        _ => anyhow::bail!(
            "no control route for {method} objects/{}/{}",
            kind.name(),
            rest.join("/")
        ),
    }
}

fn association(control: &Control, body: &Value) -> anyhow::Result<()> {
    let text = |name: &str| {
        body[name]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("{name} is required"))
    };
    let from = (kind_of(text("from_type")?)?, text("from_id")?);
    let to = (kind_of(text("to_type")?)?, text("to_id")?);
    control.associate(from, to, !body["remove"].as_bool().unwrap_or(false))
}

fn faults(control: &Control, body: &Value) -> anyhow::Result<()> {
    let limit = |value: &Value| -> anyhow::Result<Option<RateLimit>> {
        Ok(serde_json::from_value(value.clone())?)
    };
    if let Some(rate) = body["fault_rate"].as_f64() {
        control.set_fault_rate(rate);
    }
    if let Some(latency) = body["latency_ms"].as_u64() {
        control.set_latency_ms(latency);
    }
    if let Some(count) = body["force_429"].as_u64() {
        control.force_429s(count as u32);
    }
    if let Some(count) = body["stall_writes"].as_u64() {
        let stall = Duration::from_millis(body["stall_ms"].as_u64().unwrap_or(5_000));
        control.stall_writes(count as u32, stall);
    }
    if let Some(outage) = body["outage_ms"].as_u64() {
        control.outage(Duration::from_millis(outage));
    }
    if let Some(value) = body.get("rate_limit") {
        control.set_rate_limit(limit(value)?);
    }
    if let Some(value) = body.get("search_rate_limit") {
        control.set_search_rate_limit(limit(value)?);
    }
    if let Some(value) = body.get("daily_limit") {
        control.set_daily_limit(value.as_u64());
    }
    if let Some(lag_ms) = body["search_lag_ms"].as_u64() {
        control.set_search_lag_ms(lag_ms);
    }
    if let Some(scopes) = body["scopes"].as_array() {
        control.set_scopes(
            scopes
                .iter()
                .filter_map(|scope| scope.as_str().map(str::to_string))
                .collect(),
        );
    }
    Ok(())
}

/// `POST /_sim/oauth`: the authorization server's switches (documented in `sim/mod.rs`).
fn oauth(control: &Control, body: &Value) -> anyhow::Result<()> {
    let strings = |value: &Value| -> Option<Vec<String>> {
        let list = value.as_array()?.iter().filter_map(Value::as_str);
        Some(list.map(str::to_string).collect())
    };
    if let Some(ttl_ms) = body["code_ttl_ms"].as_u64() {
        control.set_code_ttl(Duration::from_millis(ttl_ms));
    }
    if body["expire_codes"].as_bool() == Some(true) {
        control.expire_codes();
    }
    if let Some(grace) = body.get("refresh_rotation_grace_ms") {
        control.set_refresh_rotation(grace.as_u64().map(Duration::from_millis));
    }
    if let Some(down) = body["token_endpoint_down"].as_bool() {
        control.set_token_endpoint_down(down);
    }
    if let Some(uris) = strings(&body["redirect_uris"]) {
        control.set_redirect_uris(uris);
    }
    if let Some(scopes) = body.get("app_scopes") {
        control.limit_scopes(ScopeLimit::App, strings(scopes));
    }
    for (portal_id, scopes) in body["portal_scopes"].as_object().into_iter().flatten() {
        let portal_id = portal_id
            .parse()
            .map_err(|_| anyhow::anyhow!("portal_scopes keys are portal ids, got {portal_id:?}"))?;
        control.limit_scopes(ScopeLimit::Portal(portal_id), strings(scopes));
    }
    for (email, scopes) in body["user_scopes"].as_object().into_iter().flatten() {
        control.limit_scopes(ScopeLimit::User(email.clone()), strings(scopes));
    }
    Ok(())
}

fn webhook_target(body: &Value) -> anyhow::Result<WebhookTarget> {
    let text = |name: &str| {
        body[name]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("{name} is required"))
    };
    let mut target = WebhookTarget::new(text("url")?, text("client_secret")?);
    target.app_id = body["app_id"].as_i64().unwrap_or(target.app_id);
    target.retry_base_ms = body["retry_base_ms"]
        .as_u64()
        .unwrap_or(target.retry_base_ms);
    Ok(target)
}

fn config_json(control: &Control) -> Value {
    let config = control.config();
    json!({"portal_id": config.portal_id, "access_token": config.access_token, "client_id": config.client_id,
           "client_secret": config.client_secret, "refresh_token": config.refresh_token, "scopes": config.scopes,
           "hub_domain": hub_domain(config.portal_id), "authorize_path": "/oauth/authorize",
           "journal_scopes": crate::sim::journal::SCOPES,
           "webhook_target": control.webhook_target().map(|target| target.url)})
}
