//! `hubspot-gateway status`: what the gateway holds and how current it is, from the running
//! daemon (`GET /v1/status`) or, when none answers, read from the store itself.

use std::time::Duration;

use anyhow::Context as _;
use comfy_table::{presets, CellAlignment, Table};
use serde_json::Value;

use super::commands::token_with;
use super::sync::record_types;
use crate::api;
use crate::config::{Loaded, Scope};
use crate::store::Store;

/// Where a status came from.
pub enum Source {
    Daemon(String),
    Store,
}

/// The status body (the shape of `GET /v1/status`) of the portal `portal` names (without it,
/// the first) and where it came from.
pub async fn collect(loaded: &Loaded, portal: Option<i64>) -> anyhow::Result<(Value, Source)> {
    let (base, http) = daemon_client(loaded)?;
    let unreachable = match http.get(format!("{base}/healthz")).send().await {
        Ok(answer) if answer.status().is_success() => None,
        Ok(answer) => Some(format!("/healthz answered {}", answer.status())),
        // `{:#}` of a reqwest error leaves out its cause (refused, certificate unknown).
        Err(error) => Some(error_chain(&error)),
    };
    if unreachable.is_none() {
        let token = token_with(loaded, Scope::Read)?;
        let request = http.get(format!("{base}/v1/status")).bearer_auth(token);
        let answer = super::commands::about(request, portal)
            .send()
            .await
            .with_context(|| format!("asking the daemon at {base}"))?;
        let status = answer.status();
        let body = answer.text().await?;
        anyhow::ensure!(status.is_success(), "the daemon answered {status}: {body}");
        let value = serde_json::from_str(&body).context("the daemon's status is not JSON")?;
        return Ok((value, Source::Daemon(base)));
    }
    let why = unreachable.unwrap_or_default();
    if loaded.config.store.backend == crate::config::Backend::Sled {
        let path = &loaded.config.store.path;
        anyhow::ensure!(
            path.exists(),
            "no daemon answers on {base} ({why}) and there is no store at {}",
            path.display()
        );
    }
    let opened = super::open_for_command(loaded, false)
        .await
        .with_context(|| {
            format!("no daemon answers on {base} ({why}), and the store cannot be opened")
        })?;
    let store = &opened.store;
    Ok((from_store(loaded, store, portal)?, Source::Store))
}

/// The daemon's API base URL (`server.internal_listen` when set, else `server.listen`) and a
/// client for it. With TLS the certificates of `tls_cert` are trusted too and the name is not
/// checked: the address is our own.
pub fn daemon_client(loaded: &Loaded) -> anyhow::Result<(String, reqwest::Client)> {
    let server = &loaded.config.server;
    let address = server.internal_listen.as_deref().unwrap_or(&server.listen);
    let builder = reqwest::Client::builder().timeout(Duration::from_secs(5));
    let Some(cert) = &server.tls_cert else {
        return Ok((format!("http://{address}"), builder.build()?));
    };
    let pem = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
    let mut builder = builder.danger_accept_invalid_hostnames(true);
    for certificate in reqwest::Certificate::from_pem_bundle(&pem)? {
        builder = builder.add_root_certificate(certificate);
    }
    Ok((format!("https://{address}"), builder.build()?))
}

/// The status read from a store no daemon holds open: the body `GET /v1/status` answers for
/// the portal `named` (without it, the first).
pub fn from_store(loaded: &Loaded, store: &Store, named: Option<i64>) -> anyhow::Result<Value> {
    let sites = super::commands::sites(loaded, store)?;
    let site = sites
        .described(named)
        .map_err(super::commands::unselected)?;
    let portal = site.portal();
    let portal = portal.as_deref();
    let mut body = api::status_body(store, portal, &record_types(loaded))?;
    body["connection"] = api::connection_summary(&site.connections.status());
    api::add_portals(&mut body, &sites)?;
    body["journal"] = crate::journal::status::body(
        loaded.config.hubspot.journal.enabled,
        store,
        portal.map(|portal| portal.hub_id),
        None,
        None,
    )?;
    Ok(body)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The human table.
pub fn render(body: &Value, source: &Source) -> String {
    let mut out = String::new();
    match source {
        Source::Daemon(base) => out.push_str(&format!("daemon: running at {base}\n")),
        Source::Store => out.push_str("daemon: not running (read from the store)\n"),
    }
    if let Some(connection) = body.get("connection") {
        let state = connection["state"].as_str().unwrap_or("?");
        let method = connection["method"].as_str().unwrap_or("?");
        match connection["reason"].as_str() {
            Some(reason) => out.push_str(&format!("connection: {state} ({method}): {reason}\n")),
            None => out.push_str(&format!("connection: {state} ({method})\n")),
        }
    }
    match body.get("portal_id") {
        Some(portal) => out.push_str(&format!("portal: {portal}\n")),
        None => out.push_str("portal: not connected yet\n"),
    }
    let text = |value: Option<&Value>| match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    };
    let mut table = Table::new();
    table.load_style(presets::ASCII_FULL_CONDENSED);
    table.set_header([
        "type",
        "count",
        "last full sync",
        "last incremental",
        "cursor",
    ]);
    for (name, value) in body.as_object().into_iter().flatten() {
        if ["webhooks", "connection", "journal"].contains(&name.as_str()) || !value.is_object() {
            continue;
        }
        table.add_row([
            name.clone(),
            text(value.get("count")),
            text(value.get("last_full_sync")),
            text(value.get("last_incremental_sync")),
            text(value.get("cursor")),
        ]);
    }
    if let Some(count) = table.column_mut(1) {
        count.set_cell_alignment(CellAlignment::Right);
    }
    if !table.is_empty() {
        out.push_str(&format!("{table}\n"));
    }
    let webhooks = body.get("webhooks");
    let field = |name: &str| text(webhooks.and_then(|hooks| hooks.get(name)));
    out.push_str(&format!(
        "webhooks: {} received, {} duplicates, {} rejected, inbox depth {}, last received {}\n",
        field("received"),
        field("duplicates"),
        field("rejected"),
        field("inbox_depth"),
        field("last_received_at"),
    ));
    if let Some(journal) = body
        .get("journal")
        .filter(|journal| journal["enabled"] == true)
    {
        out.push_str(&journal_line(journal, &text));
    }
    out
}

/// The Webhooks Journal in one line, its subscriptions in another.
fn journal_line(journal: &Value, text: &dyn Fn(Option<&Value>) -> String) -> String {
    let field = |name: &str| text(journal.get(name));
    let mut out = format!(
        "journal: {} events, cursor age {} s, last polled {}, {} gaps (last {})\n",
        field("events"),
        field("cursor_age_secs"),
        field("last_polled_at"),
        field("gaps"),
        field("last_gap_at"),
    );
    let subscriptions: Vec<String> = journal["subscriptions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|sub| {
            format!(
                "{} {}",
                text(sub.get("type")),
                text(sub.get("object_type_id"))
            )
        })
        .collect();
    if !subscriptions.is_empty() {
        out.push_str(&format!(
            "journal subscriptions: {}\n",
            subscriptions.join(", ")
        ));
    }
    if let Some(warning) = journal["warning"].as_str() {
        out.push_str(&format!("journal warning: {warning}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_each_type_under_a_header() {
        let body = serde_json::json!({
            "portal_id": 42,
            "contacts": {"count": 1200, "last_full_sync": "2025-01-02T03:04:05Z",
                         "last_incremental_sync": null, "cursor": "1735787045000"},
            "companies": {"count": 7, "last_full_sync": null,
                          "last_incremental_sync": null, "cursor": null},
            "webhooks": {"received": 4, "duplicates": 0, "rejected": 1, "inbox_depth": 2,
                         "last_received_at": null},
        });
        let text = render(&body, &Source::Store);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "daemon: not running (read from the store)");
        assert_eq!(lines[1], "portal: 42");
        let rows: Vec<Vec<&str>> = lines[2..lines.len() - 1]
            .iter()
            .filter(|line| line.starts_with('|'))
            .map(|line| {
                line.split('|')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .collect();
        assert_eq!(
            rows,
            [
                vec![
                    "type",
                    "count",
                    "last full sync",
                    "last incremental",
                    "cursor"
                ],
                vec!["companies", "7", "-", "-", "-"],
                vec![
                    "contacts",
                    "1200",
                    "2025-01-02T03:04:05Z",
                    "-",
                    "1735787045000"
                ],
            ]
        );
        assert_eq!(
            lines[lines.len() - 1],
            "webhooks: 4 received, 0 duplicates, 1 rejected, inbox depth 2, last received -"
        );
    }
}
