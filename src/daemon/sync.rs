//! Starting sync: take the service connection's client (see `connection`), connect (token
//! introspection and the scope check, retried while HubSpot is unreachable), then run the
//! sync loops until the connection changes (Connect, Change user, Disconnect, a refused
//! refresh token) or the daemon stops; without a usable connection, wait for one.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::api::{Portal, Site, State};
use crate::config::Loaded;
use crate::connection::{self, Connections, ServiceClient, Unavailable};
use crate::hubspot::{self, Requirements};
use crate::object::ObjectType;
use crate::store::Store;
use crate::sync::{self, Cycle, Settings, Syncer};
use crate::time::Window;

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

/// What the token must allow for syncing `kinds` (and owners, when `sync.objects` has them):
/// the service connection's required scopes.
pub fn requirements(loaded: &Loaded, kinds: &[ObjectType]) -> Requirements {
    Requirements {
        read: kinds.to_vec(),
        ..connection::service_scopes(loaded).required
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

/// The service connection's client of a portal's `connections` (one-shot commands that open
/// the store themselves).
pub fn client(connections: &Connections) -> anyhow::Result<hubspot::Client> {
    let service = connections
        .service_client()
        .map_err(|unavailable| anyhow::anyhow!("{}", unavailable.reason))?;
    Ok(service.client)
}

/// Connects to HubSpot, retrying transient failures until `shutdown`; a missing scope or
/// bad credentials end the attempt (logged: the error says what to fix).
pub async fn connect(
    client: &hubspot::Client,
    needs: &Requirements,
    shutdown: &CancellationToken,
) -> Option<hubspot::TokenInfo> {
    match try_connect(client, needs, shutdown).await {
        Ok(info) => Some(info),
        Err(Some(error)) => {
            tracing::error!(%error, "HubSpot refused the connection");
            None
        }
        Err(None) => None,
    }
}

/// Connects to HubSpot, retrying transient failures until `stop`. `Err(Some)`: HubSpot
/// refused (credentials, scopes: someone must act); `Err(None)`: stopped.
pub async fn try_connect(
    client: &hubspot::Client,
    needs: &Requirements,
    stop: &CancellationToken,
) -> Result<hubspot::TokenInfo, Option<hubspot::Error>> {
    let mut delay = Duration::from_secs(1);
    loop {
        match client.connect(needs).await {
            Ok(info) => return Ok(info),
            Err(error) if error.is_retryable() => {
                tracing::warn!(%error, retry_in_secs = delay.as_secs(), "cannot reach HubSpot yet; webhooks are still accepted");
            }
            Err(error) => return Err(Some(error)),
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => delay = (delay * 2).min(Duration::from_secs(60)),
            () = stop.cancelled() => return Err(None),
        }
    }
}

/// Runs `site`'s sync for each of its service connections in turn until shutdown: waits
/// while there is none.
pub async fn supervise(
    loaded: Loaded,
    state: Arc<State>,
    site: Arc<Site>,
    shutdown: CancellationToken,
) {
    let connections = site.connections.clone();
    let mut changes = connections.subscribe();
    loop {
        changes.borrow_and_update();
        let stop = shutdown.child_token();
        match connections.service_client() {
            Ok(service) => {
                let run = run_connection(&loaded, &state, &site, service, stop.clone());
                tokio::pin!(run);
                tokio::select! {
                    () = &mut run => {
                        // Connect was refused (or shutdown): wait for the connection to change.
                        if !changed(&mut changes, &shutdown).await {
                            return;
                        }
                    }
                    Ok(()) = changes.changed() => {
                        tracing::info!("the HubSpot connection changed; restarting sync");
                        // Nobody may use the old client from now on.
                        site.set_syncer(None);
                        stop.cancel();
                        run.await;
                    }
                }
            }
            Err(unavailable) => {
                tracing::warn!(
                    state = unavailable.state.as_str(),
                    reason = %unavailable.reason,
                    "sync waits for a HubSpot connection"
                );
                // Meanwhile a disconnect's journal subscriptions are removed.
                let still = tokio::select! {
                    still = changed(&mut changes, &shutdown) => still,
                    () = release_journal(&state, &site, &unavailable, &stop) => {
                        changed(&mut changes, &shutdown).await
                    }
                };
                stop.cancel();
                if !still {
                    return;
                }
            }
        }
        site.set_syncer(None);
        if shutdown.is_cancelled() {
            return;
        }
    }
}

/// Not connected any more (a disconnect): removes the journal subscriptions of the portal
/// the gateway mirrored, retrying until done or `stop`.
async fn release_journal(
    state: &State,
    site: &Site,
    unavailable: &Unavailable,
    stop: &CancellationToken,
) {
    let (Some(journal), Some(portal)) = (&state.journal, site.portal()) else {
        return;
    };
    if unavailable.state == connection::State::NotConnected {
        journal.release(portal.hub_id, stop).await;
    }
}

/// Waits for the connection to change; `false` at shutdown.
async fn changed(
    changes: &mut tokio::sync::watch::Receiver<u64>,
    shutdown: &CancellationToken,
) -> bool {
    tokio::select! {
        changed = changes.changed() => changed.is_ok(),
        () = shutdown.cancelled() => false,
    }
}

/// One connection's sync: connect, record the portal, then the loops until `stop`.
async fn run_connection(
    loaded: &Loaded,
    state: &Arc<State>,
    site: &Site,
    service: ServiceClient,
    stop: CancellationToken,
) {
    let connections = &site.connections;
    let objects = record_types(loaded);
    let client = service.client;
    let info = match try_connect(&client, &requirements(loaded, &objects), &stop).await {
        Ok(info) => info,
        Err(Some(error)) => {
            connections.refuse_service(
                service.connection_id.as_deref(),
                format!("HubSpot refused the connection: {error}"),
            );
            return;
        }
        Err(None) => return,
    };
    connections.observe(&info);
    if let Err(error) = site.set_portal(Portal::of(&info)) {
        tracing::error!(%error, "cannot record the connected portal");
        return;
    }
    let notifier = state.notifications.as_ref().map(|n| n.notifier.clone());
    let syncer = Arc::new(
        syncer(loaded, client, state.store.clone(), info.hub_id, objects).notifying(notifier),
    );
    if service.reset_user_mappings {
        reset_user_mappings(connections, &syncer).await;
    }
    site.set_syncer(Some(syncer.clone()));
    let mut loops = JoinSet::new();
    // What the loops log names their portal (a deployment may mirror hundreds).
    let span = tracing::info_span!("sync", portal = info.hub_id);
    if let Some(journal) = &state.journal {
        // Subscribed before the first backfill reads anything: no change falls between.
        if !subscribe_journal(journal, &syncer, &stop).await {
            return;
        }
        let inbox = state.ingress.inbox.clone();
        let reading = journal.clone().run(syncer.clone(), inbox, stop.clone());
        loops.spawn(reading.instrument(span.clone()));
    }
    let cycle = sync::run_cycle(
        syncer,
        state.cycle.subscribe(),
        site.triggers.clone(),
        stop.clone(),
    );
    loops.spawn(cycle.instrument(span));
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

/// Creates the journal subscriptions of `syncer`'s portal, retrying while HubSpot fails;
/// a refusal (credentials, scopes) is logged and the journal is read all the same (an
/// operator fixes it, `hubspot-gateway journal subscribe` tries again). `false`: stopped.
async fn subscribe_journal(
    journal: &crate::journal::Journal,
    syncer: &Syncer,
    stop: &CancellationToken,
) -> bool {
    let mut delay = Duration::from_secs(1);
    loop {
        match journal.subscribe(syncer).await {
            Ok(_) => return true,
            Err(error) if error.is_retryable() => {
                tracing::warn!(%error, retry_in_secs = delay.as_secs(), "cannot create the journal subscriptions yet");
            }
            Err(error) => {
                tracing::error!(%error, "HubSpot refused the journal subscriptions; run `hubspot-gateway journal subscribe` once fixed");
                return true;
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => delay = (delay * 2).min(Duration::from_secs(60)),
            () = stop.cancelled() => return false,
        }
    }
}

/// After a switch of portals: the new portal's owners are read, then the user mappings are
/// reset (as `POST /v1/user-mappings/reset` does). A failure leaves it for the next start.
async fn reset_user_mappings(connections: &Connections, syncer: &Syncer) {
    if let Err(error) = syncer.refresh_reference().await {
        tracing::warn!(%error, "cannot read the new portal's owners; user mappings are reset later");
        return;
    }
    let map = crate::ownership::UserMap {
        store: syncer.store(),
        portal: syncer.portal,
    };
    match map.reset() {
        Ok(mappings) => {
            tracing::info!(
                mappings = mappings.len(),
                "user mappings reset for the new portal"
            );
            if let Err(error) = connections.user_mappings_reset() {
                tracing::warn!(%error, "cannot record that the user mappings were reset");
            }
        }
        Err(error) => tracing::warn!(%error, "resetting the user mappings failed"),
    }
}

/// The sync schedule the config describes (reloadable).
pub fn cycle(loaded: &Loaded) -> Cycle {
    let config = &loaded.config.sync;
    Cycle {
        incremental: !loaded.config.hubspot.journal.enabled,
        poll_interval: Duration::from_secs(config.poll_interval_secs),
        reference_interval: Duration::from_secs(config.reference_interval_secs),
        reconcile_interval: Duration::from_secs(config.reconcile_interval_hours * 3600),
        // Validation checked the window; the default is the documented one.
        reconcile_window: Window::parse(&config.reconcile_window_utc)
            .or_else(|| Window::parse("02:00-05:00"))
            .expect("the default window parses"),
    }
}
