//! Starting sync: build the HubSpot client from the config, connect (token introspection and
//! the scope check, retried while HubSpot is unreachable), then run the sync loops.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::{Portal, State};
use crate::config::Loaded;
use crate::hubspot::{self, ClientConfig, Credentials, Requirements};
use crate::object::ObjectType;
use crate::store::Store;
use crate::sync::{self, Cycle, Settings, Syncer};
use crate::time::Window;

/// The HubSpot client the config describes.
pub fn client(loaded: &Loaded) -> anyhow::Result<hubspot::Client> {
    let hubspot = &loaded.config.hubspot;
    let secrets = &loaded.secrets;
    let credentials = match (
        &secrets.access_token,
        &hubspot.client_id,
        &secrets.refresh_token,
    ) {
        (Some(token), _, _) => Credentials::PrivateApp {
            access_token: token.clone(),
        },
        (None, Some(client_id), Some(refresh_token)) => Credentials::OAuth {
            client_id: client_id.clone(),
            client_secret: secrets
                .client_secret
                .clone()
                .context("OAuth needs hubspot.client_secret")?,
            refresh_token: refresh_token.clone(),
        },
        _ => anyhow::bail!("set hubspot.access_token, or hubspot.client_id + refresh_token"),
    };
    let api_base = url::Url::parse(&hubspot.api_base).context("hubspot.api_base")?;
    let mut config =
        ClientConfig::new(api_base, credentials).with_max_retry_secs(hubspot.max_retry_secs);
    config.max_concurrency = hubspot.max_concurrency;
    config.request_timeout = Duration::from_secs(hubspot.request_timeout_secs);
    Ok(hubspot::Client::new(config)?)
}

/// The record types `sync.objects` names (owners are handled as reference data).
pub fn record_types(loaded: &Loaded) -> Vec<ObjectType> {
    loaded
        .config
        .sync
        .objects
        .iter()
        .filter_map(|name| name.parse().ok())
        .collect()
}

/// What the token must allow for syncing `kinds` (and owners, when `sync.objects` has them).
pub fn requirements(loaded: &Loaded, kinds: &[ObjectType]) -> Requirements {
    Requirements {
        read: kinds.to_vec(),
        owners: mirrors_owners(loaded),
        write: Vec::new(),
    }
}

fn mirrors_owners(loaded: &Loaded) -> bool {
    loaded
        .config
        .sync
        .objects
        .iter()
        .any(|name| name == "owners")
}

/// The syncer for `kinds` of the portal `hub_id`, as the config tunes it; a privacy
/// deletion also redacts the export rows naming the person.
pub fn syncer(
    loaded: &Loaded,
    client: hubspot::Client,
    store: Store,
    hub_id: i64,
    kinds: Vec<ObjectType>,
) -> Syncer {
    let settings = Settings {
        lookback_ms: loaded.config.sync.lookback_secs as i64 * 1000,
    };
    Syncer::new(
        client,
        store,
        hub_id,
        kinds,
        mirrors_owners(loaded),
        settings,
    )
    .forgetting(std::sync::Arc::new(crate::export::privacy::redact))
}

/// Connects to HubSpot, retrying transient failures until shutdown; a missing scope or bad
/// credentials end the attempt (the error says what to fix).
pub async fn connect(
    client: &hubspot::Client,
    needs: &Requirements,
    shutdown: &CancellationToken,
) -> Option<hubspot::TokenInfo> {
    let mut delay = Duration::from_secs(1);
    loop {
        match client.connect(needs).await {
            Ok(info) => return Some(info),
            Err(error) if error.is_retryable() => {
                tracing::warn!(%error, retry_in_secs = delay.as_secs(), "cannot reach HubSpot yet; webhooks are still accepted");
            }
            Err(error) => {
                tracing::error!(%error, "HubSpot refused the connection; sync is disabled until the config is fixed");
                return None;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => delay = (delay * 2).min(Duration::from_secs(60)),
            () = shutdown.cancelled() => return None,
        }
    }
}

/// The portal a connection's token introspection describes.
pub fn portal(info: &hubspot::TokenInfo) -> Portal {
    Portal {
        hub_id: info.hub_id,
        ui_base: info.ui_base(),
        user_email: info.user_email.clone(),
        user_id: info.user_id,
    }
}

/// Connects, then runs the webhook and polling loops until shutdown.
pub async fn supervise(loaded: Loaded, state: Arc<State>, shutdown: CancellationToken) {
    let client = match client(&loaded) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!("{error:#}");
            return;
        }
    };
    let objects = record_types(&loaded);
    let Some(info) = connect(&client, &requirements(&loaded, &objects), &shutdown).await else {
        return;
    };
    if let Err(error) = state.set_portal(portal(&info)) {
        tracing::error!(%error, "cannot record the connected portal");
        return;
    }
    let syncer = Arc::new(syncer(
        &loaded,
        client,
        state.store.clone(),
        info.hub_id,
        objects,
    ));
    state.set_syncer(syncer.clone());
    let mut loops = JoinSet::new();
    loops.spawn(sync::run_webhooks(syncer.clone(), shutdown.clone()));
    loops.spawn(sync::run_cycle(
        syncer,
        state.cycle.subscribe(),
        state.triggers.clone(),
        shutdown.clone(),
    ));
    while let Some(finished) = loops.join_next().await {
        // A panicking loop takes the supervisor down with it: the watchdog then stops
        // vouching for the daemon and systemd restarts it.
        if let Err(error) = finished {
            if error.is_panic() {
                std::panic::resume_unwind(error.into_panic());
            }
        }
    }
}

/// The sync schedule the config describes (reloadable).
pub fn cycle(loaded: &Loaded) -> Cycle {
    let config = &loaded.config.sync;
    Cycle {
        poll_interval: Duration::from_secs(config.poll_interval_secs),
        reference_interval: Duration::from_secs(config.reference_interval_secs),
        reconcile_interval: Duration::from_secs(config.reconcile_interval_hours * 3600),
        // Validation checked the window; the default is the documented one.
        reconcile_window: Window::parse(&config.reconcile_window_utc)
            .or_else(|| Window::parse("02:00-05:00"))
            .expect("the default window parses"),
    }
}
