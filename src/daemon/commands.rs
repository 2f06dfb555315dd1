//! One-shot CLI commands that work with or without a running daemon: with one (its listen
//! address answers), they go through its HTTP API; otherwise they open the store themselves.
//! `store verify` works on a stopped store only.

use std::sync::Arc;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::sync::{client, connect, record_types, requirements, syncer};
use crate::api::sites::{Site, Sites, Unselected, PORTAL_HEADER};
use crate::config::{Loaded, Scope};
use crate::object::ObjectType;
use crate::store::{self, Store};

/// The running daemon's base URL and a client for it (HTTPS when TLS is on), if one answers
/// on the configured address.
pub async fn running_daemon(loaded: &Loaded) -> Option<(String, reqwest::Client)> {
    let (base, http) = super::status::daemon_client(loaded).ok()?;
    let answer = http.get(format!("{base}/healthz")).send().await.ok()?;
    answer.status().is_success().then_some((base, http))
}

/// A configured API token with at least `scope`.
pub fn token_with(loaded: &Loaded, scope: Scope) -> anyhow::Result<String> {
    loaded
        .secrets
        .api_tokens
        .iter()
        .find(|(_, _, granted)| *granted >= scope)
        .map(|(_, token, _)| token.expose().clone())
        .with_context(|| {
            format!(
                "no [[api.tokens]] entry with scope {} to call the running daemon",
                scope.as_str()
            )
        })
}

/// The connections the config and `store` describe.
pub fn connections(
    loaded: &Loaded,
    store: &Store,
) -> anyhow::Result<crate::connection::Connections> {
    let settings = crate::connection::Settings::from_config(loaded)?;
    Ok(crate::connection::Connections::new(store.clone(), settings))
}

/// The portals the store holds (the first one's and those a Connect added), as the daemon
/// loads them: for commands that open the store themselves.
pub fn sites(loaded: &Loaded, store: &Store) -> anyhow::Result<Sites> {
    let first = connections(loaded, store)?;
    Ok(Sites::load(first, loaded.config.export.clone()))
}

/// The portal `--portal` names, by the rule the API follows: without it, the only one.
pub fn site(loaded: &Loaded, store: &Store, portal: Option<i64>) -> anyhow::Result<Arc<Site>> {
    sites(loaded, store)?.select(portal).map_err(unselected)
}

/// Why `--portal` names no site, in the command line's words.
pub fn unselected(unselected: Unselected) -> anyhow::Error {
    match unselected {
        Unselected::Required(ids) => {
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            anyhow::anyhow!(
                "this gateway mirrors several HubSpot portals ({}): name one with --portal ID",
                ids.join(", ")
            )
        }
        other => anyhow::anyhow!("{other}"),
    }
}

/// A request to the running daemon about the portal `--portal` names (the header the API
/// reads); without it the daemon applies its rule.
pub fn about(request: reqwest::RequestBuilder, portal: Option<i64>) -> reqwest::RequestBuilder {
    match portal {
        Some(id) => request.header(PORTAL_HEADER, id.to_string()),
        None => request,
    }
}

/// `hubspot-gateway sync`: one pass (a full one with `full`) over `object` or every type, of
/// the portal `portal` names.
pub async fn sync_once(
    loaded: &Loaded,
    object: Option<ObjectType>,
    full: bool,
    portal: Option<i64>,
) -> anyhow::Result<()> {
    let kinds: Vec<ObjectType> = record_types(loaded)
        .into_iter()
        .filter(|kind| object.is_none_or(|wanted| wanted == *kind))
        .collect();
    anyhow::ensure!(
        !kinds.is_empty(),
        "{} is not in sync.objects",
        object.map_or("nothing".into(), |kind| kind.to_string())
    );
    if let Some((base, http)) = running_daemon(loaded).await {
        let token = token_with(loaded, Scope::Admin)?;
        for kind in &kinds {
            let url = format!("{base}/v1/sync/{kind}?full={full}");
            let request = http.post(&url).bearer_auth(&token);
            let answer = about(request, portal).send().await?;
            anyhow::ensure!(
                answer.status().is_success(),
                "the daemon answered {} for {kind}: {}",
                answer.status(),
                answer.text().await?
            );
            println!("{kind}: pass requested from the running daemon");
        }
        return Ok(());
    }
    let opened = super::open_for_command(loaded, true).await?;
    let store = &opened.store;
    let client = client(&site(loaded, store, portal)?.connections)?;
    let info = connect(
        &client,
        &requirements(loaded, &kinds),
        &CancellationToken::new(),
    )
    .await
    .context("could not connect to HubSpot")?;
    // Changes made here notify like the daemon's: queued now, delivered when it runs.
    let notifier = crate::notify::attach(loaded, store)?;
    let syncer = syncer(loaded, client, store.clone(), info.hub_id, kinds.clone());
    let syncer = std::sync::Arc::new(syncer.notifying(notifier));
    syncer.refresh_reference().await?;
    for kind in &kinds {
        let listed = syncer.backfill(*kind, full).await?;
        let polled = syncer.poll(*kind).await?;
        println!("{kind}: {listed} listed, {polled} changed records read");
    }
    while syncer.apply_webhooks().await? > 0 {}
    store.commit()?;
    Ok(())
}

/// `hubspot-gateway store verify`: checks the stopped store against its ledger (see
/// `store::verify`) and prints what it found; an error names what is missing.
pub fn verify_store(loaded: &Loaded) -> anyhow::Result<()> {
    let path = &loaded.config.store.path;
    let verified = match store::verify(path) {
        Err(store::Error::Locked { .. }) => anyhow::bail!(
            "a running gateway (or another process) holds the store at {}: stop it first, \
             `store verify` checks a stopped store",
            path.display()
        ),
        other => other?,
    };
    let held = verified.held;
    println!(
        "{}: consistent with what the gateway acknowledged",
        path.display()
    );
    println!(
        "  format {}, {} rows read",
        held.format
            .map_or("none (a new store)".into(), |f| f.to_string()),
        verified.rows
    );
    match verified.recorded {
        Some(recorded) => {
            println!(
                "  inbox: {} events stored through chunk {}; acknowledged {} through chunk {}",
                held.inbox_events, held.inbox_seq, recorded.inbox_events, recorded.inbox_seq
            );
            println!(
                "  export jobs: newest {}; acknowledged through {}",
                held.export_job, recorded.export_job
            );
        }
        None => println!(
            "  no ledger yet (a store from an older version): the next start writes it from \
             the store"
        ),
    }
    if verified.unacknowledged > 0 {
        println!(
            "  {} inbox events were stored but never acknowledged (a refused batch or a crash \
             before the answer): the next start drops them, HubSpot delivers them again",
            verified.unacknowledged
        );
    }
    Ok(())
}

/// `hubspot-gateway journal subscribe`: creates (or updates) the Webhooks Journal
/// subscriptions of the connected portal, through the running daemon or directly.
pub async fn journal_subscribe(loaded: &Loaded, portal: Option<i64>) -> anyhow::Result<()> {
    anyhow::ensure!(
        loaded.config.hubspot.journal.enabled,
        "the Webhooks Journal is off: set [hubspot.journal] enabled = true"
    );
    if let Some((base, http)) = running_daemon(loaded).await {
        let token = token_with(loaded, Scope::Admin)?;
        let request = http
            .post(format!("{base}/v1/journal/subscriptions"))
            .bearer_auth(&token);
        let answer = about(request, portal).send().await?;
        let status = answer.status();
        let body = answer.text().await?;
        anyhow::ensure!(status.is_success(), "the daemon answered {status}: {body}");
        println!("{body}");
        return Ok(());
    }
    let kinds = record_types(loaded);
    let opened = super::open_for_command(loaded, true).await?;
    let store = &opened.store;
    let journal = crate::journal::Journal::from_config(loaded, store)?
        .context("the Webhooks Journal is off")?;
    let client = client(&site(loaded, store, portal)?.connections)?;
    let info = connect(
        &client,
        &requirements(loaded, &kinds),
        &CancellationToken::new(),
    )
    .await
    .context("could not connect to HubSpot")?;
    let syncer = syncer(loaded, client, store.clone(), info.hub_id, kinds);
    for sub in journal.subscribe(&syncer).await? {
        println!(
            "{} {} {}: {}",
            sub.id,
            sub.kind,
            sub.object_type_id,
            sub.actions.join(" ")
        );
    }
    store.commit()?;
    Ok(())
}

/// `hubspot-gateway migrate` (with `store.backend = "postgres"`): creates the PostgreSQL
/// schema, or upgrades it to this build's version; a schema already current is left as it is.
pub async fn migrate(loaded: &Loaded) -> anyhow::Result<()> {
    let url = loaded
        .secrets
        .database_url
        .as_ref()
        .context("no store.url")?;
    let database =
        store::postgres::Database::new(url.expose(), 1, super::replica::ca_file(loaded))?;
    let migrated = database
        .migrate()
        .await
        .context("migrating the PostgreSQL schema")?;
    if migrated.from == migrated.to {
        println!("schema already at version {}", migrated.to);
    } else {
        println!(
            "schema upgraded from version {} to {}",
            migrated.from, migrated.to
        );
    }
    Ok(())
}
