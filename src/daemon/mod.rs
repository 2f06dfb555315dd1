//! The daemon: start-up, the long-lived tasks, and an orderly shutdown. Only this module
//! spawns long-lived tasks, handles signals or talks to systemd.

mod activation;
mod admission;
pub mod commands;
pub mod connect;
mod export_daemon;
mod export_direct;
pub mod export_file;
mod export_worker;
mod leading;
mod listener;
pub mod logging;
mod notifications;
mod progress;
pub mod reload;
mod replica;
mod shutdown;
mod sites;
pub mod status;
pub mod sync;
mod systemd;
mod tls;
mod watchdog;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::api::{self, Tokens};
use crate::config::Loaded;
use crate::store::Store;

use crate::webhook::{self, signature::Verifier, Ingress};
pub use replica::{open_for_command, open_store, Opened};

/// A started daemon: bound, ready, serving until its shutdown token is cancelled.
pub struct Running {
    /// `server.listen` (or the socket systemd passed).
    pub local_addr: SocketAddr,
    /// `server.internal_listen`, when set.
    pub internal_addr: Option<SocketAddr>,
    pub state: Arc<api::State>,
    /// The admin console (its sessions; `sign_in_link` for a one-time link).
    pub console: Arc<crate::console::Console>,
    /// Swaps the certificate on reload; `None` without TLS.
    tls: Option<tls::Tls>,
    probe: watchdog::Probe,
    shutdown: CancellationToken,
    /// One accept loop per listener.
    servers: Vec<tokio::task::JoinHandle<()>>,
    pruning: tokio::task::JoinHandle<()>,
    sync: Option<tokio::task::JoinHandle<()>>,
    export: tokio::task::JoinHandle<()>,
    matches: tokio::task::JoinHandle<()>,
    /// Deliverers of notifications and the digest's mailer.
    notifying: Vec<tokio::task::JoinHandle<()>>,
    committer: tokio::task::JoinHandle<crate::store::Result<()>>,
    /// The other tasks that hold the state: each ends on the shutdown token and is joined,
    /// so that when `wait` returns nothing of the daemon holds the store any more.
    background: Vec<tokio::task::JoinHandle<()>>,
    /// On PostgreSQL: the lease task, stopped after the leader's work (see `Running::wait`).
    lease: Option<replica::Lease>,
    /// Set when the store became unwritable: the shutdown that follows is a failure.
    store_failed: Arc<std::sync::OnceLock<String>>,
}

/// How long an unwritable store keeps the daemon up (not ready, webhooks answered 503) before
/// it exits 1 for systemd to restart it on a freshly opened store.
pub const STORE_FAILURE_GRACE: Duration = Duration::from_secs(5);
/// How often the store monitor flushes sled to see whether it met an I/O error.
const STORE_CHECK: Duration = Duration::from_millis(250);

/// Opens the store, takes the listening socket (systemd's, else bound to `server.listen`) and
/// starts serving.
pub async fn start(loaded: &Loaded) -> anyhow::Result<Running> {
    let config = &loaded.config;
    let (store, lease, replica) = match config.store.backend {
        crate::config::Backend::Sled => {
            let store = replica::open_store(&config.store)
                .with_context(|| format!("opening the store at {}", config.store.path.display()))?;
            (store, None, None)
        }
        crate::config::Backend::Postgres => {
            let (store, lease, replica) = replica::open(loaded).await?;
            (store, Some(lease), Some(replica))
        }
    };
    let (inbox, committer) = webhook::inbox(
        store.clone(),
        config.store.inbox_high_water,
        config.server.max_in_flight,
    );
    let committer = tokio::task::spawn_blocking(move || committer.run());
    let verifier = Verifier {
        // Invariant: validation requires hubspot.client_secret and resolution succeeded.
        client_secret: loaded
            .secrets
            .client_secret
            .clone()
            .context("no client secret")?,
        max_age_secs: config.hubspot.signature_max_age_secs,
        accept_legacy: config.hubspot.accept_legacy_signatures,
    };
    let retention = Duration::from_secs(config.store.inbox_retention_hours.saturating_mul(3600));
    let ingress = Ingress::new(
        verifier,
        &config.server.public_url,
        inbox,
        config.server.max_in_flight,
        retention,
    );
    let tokens = Tokens::new(loaded.secrets.api_tokens.clone());
    let objects = sync::record_types(loaded);
    let bodies = api::body::Limits::new(&config.server);
    let connections = commands::connections(loaded, &store)?;
    let notifications = crate::notify::Notifications::start(loaded, &store, objects.clone())
        .context("setting up notifications")?
        .map(Arc::new);
    let export = config.export.clone();
    let mut state = api::State::new(ingress, store, tokens, bodies, objects, connections, export);
    state.replica = replica;
    state.notifications = notifications.clone();
    state.fallback_owner_id = config.ownership.fallback_owner();
    state.cycle.send_replace(sync::cycle(loaded));
    state.journal = crate::journal::Journal::from_config(loaded, &state.store)?;
    let state = Arc::new(state);
    let console = Arc::new(crate::console::Console::new(state.clone()));

    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => Some(tls::Tls::load(cert, key)?),
        _ => None,
    };
    let endpoints = listener::bind(&config.server).await?;
    let shutdown = CancellationToken::new();
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let mut watched = Vec::new();
    let mut servers = Vec::new();
    for endpoint in endpoints {
        let addr = endpoint.listener.local_addr()?;
        let admission = endpoint.admission.clone();
        watched.push(watchdog::Watched { addr, admission });
        servers.push(tokio::spawn(listener::serve(
            endpoint,
            tls.clone(),
            state.clone(),
            console.clone(),
            shutdown.clone(),
            grace,
        )));
    }
    let local_addr = watched[0].addr;
    let internal_addr = watched.get(1).map(|internal| internal.addr);
    // The leader's work: on PostgreSQL only while this replica leads.
    let roles = || state.store.roles();
    let store = state.store.clone();
    let pruning = tokio::spawn(leading::run(roles(), shutdown.clone(), move |stop| {
        prune_inbox(store.clone(), retention, stop)
    }));
    let pruned = state.clone();
    let mut background = vec![tokio::spawn(leading::run(
        roles(),
        shutdown.clone(),
        move |stop| prune_exports(pruned.clone(), stop),
    ))];
    let sync_healthy = Arc::new(AtomicBool::new(true));
    let sync = config.sync.enabled.then(|| {
        let (loaded, state, healthy) = (loaded.clone(), state.clone(), sync_healthy.clone());
        tokio::spawn(leading::run(roles(), shutdown.clone(), move |stop| {
            let (loaded, state) = (loaded.clone(), state.clone());
            let supervisor = tokio::spawn(sites::sync(loaded, state, stop));
            let healthy = healthy.clone();
            async move {
                if let Err(error) = supervisor.await {
                    tracing::error!(%error, "the sync task failed");
                    healthy.store(false, Ordering::Release);
                }
            }
        }))
    });
    let exporting = state.clone();
    let sync_enabled = config.sync.enabled;
    let export = tokio::spawn(leading::run(roles(), shutdown.clone(), move |stop| {
        let state = exporting.clone();
        async move {
            sites::each(&state.sites, stop, |site, stop| {
                export_worker::run(state.clone(), site, sync_enabled, stop)
            })
            .await
        }
    }));
    background.push(tokio::spawn(settle_removals(
        state.clone(),
        shutdown.clone(),
    )));
    if roles().is_some() {
        background.push(tokio::spawn(follow_portal(state.clone(), shutdown.clone())));
        background.push(tokio::spawn(export_worker::wake_on_new_jobs(
            state.clone(),
            shutdown.clone(),
        )));
    }
    let store_failed = Arc::new(std::sync::OnceLock::new());
    background.push(tokio::spawn(watch_store(
        state.clone(),
        shutdown.clone(),
        store_failed.clone(),
    )));
    let notifier = notifications.as_ref().map(|n| n.notifier.clone());
    let matches = tokio::spawn(write_matches(
        state.store.clone(),
        notifier,
        shutdown.clone(),
    ));
    let notifying = notifications
        .map(|n| {
            let store = state.store.clone();
            tokio::spawn(leading::run(roles(), shutdown.clone(), move |stop| {
                let tasks = notifications::spawn(&n, &store, &stop);
                async move {
                    for task in tasks {
                        if let Err(error) = task.await {
                            tracing::error!(%error, "a notification task failed");
                        }
                    }
                }
            }))
        })
        .into_iter()
        .collect();
    state.set_ready(true);
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%local_addr, internal = ?internal_addr, scheme, store = %config.store.path.display(), "hubspot-gateway is ready");
    let probe = watchdog::Probe {
        listeners: watched,
        sync_healthy,
    };
    Ok(Running {
        local_addr,
        internal_addr,
        state,
        console,
        tls,
        probe,
        shutdown,
        servers,
        pruning,
        sync,
        export,
        matches,
        notifying,
        committer,
        background,
        lease,
        store_failed,
    })
}

impl Running {
    /// Cancelling this token starts the shutdown.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// A reloader for this daemon: `loaded` is the config it started with.
    pub fn reloader(&self, path: PathBuf, loaded: Loaded) -> reload::Reloader {
        reload::Reloader::new(path, loaded, self.state.clone(), self.tls.clone())
    }

    /// Waits for shutdown to be requested and to complete: the server drains, the inbox
    /// commits what it holds, the store is made durable.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.shutdown.cancelled().await;
        self.state.set_ready(false);
        for server in self.servers {
            server.await.context("server task")?;
        }
        if let Some(sync) = self.sync {
            sync.await.context("sync task")?;
        }
        self.pruning.await.context("inbox pruning task")?;
        self.export.await.context("export worker")?;
        self.matches.await.context("match writer")?;
        for task in self.notifying {
            task.await.context("notification task")?;
        }
        for task in self.background {
            task.await.context("background task")?;
        }
        // The leader's work has stopped: the lease may go to another replica.
        if let Some(lease) = self.lease {
            lease.stop.cancel();
            lease.task.await.context("lease task")?;
        }
        // The server has drained: write the last first matches.
        let store = self.state.store.clone();
        let matches_written = tokio::task::spawn_blocking(move || store.write_matches())
            .await
            .context("match writer")?;
        self.state.ingress.inbox.close().await;
        let committed = self.committer.await.context("inbox committer")?;
        if let Some(reason) = self.store_failed.get() {
            anyhow::bail!("stopped because the store became unwritable: {reason}");
        }
        matches_written.context("writing first matches")?;
        committed.context("final store commit")?;
        tracing::info!("hubspot-gateway stopped cleanly");
        Ok(())
    }
}

/// Watches for the store becoming unwritable (a commit met an I/O error: disk full, read-only
/// file system). sled 0.34 keeps that error, so this process cannot store anything any more:
/// the daemon turns not-ready at once (`/readyz` 503, systemd `STATUS=`), keeps answering
/// webhooks 503 so HubSpot retries, and after [`STORE_FAILURE_GRACE`] shuts down and exits 1;
/// systemd (`Restart=on-failure`) starts it again on a freshly opened store. The check is a
/// sled flush (`Store::check`), so an error met by any writer (inbox, sync, export) counts.
async fn watch_store(
    state: Arc<api::State>,
    shutdown: CancellationToken,
    failed: Arc<std::sync::OnceLock<String>>,
) {
    let reason = loop {
        tokio::select! {
            () = tokio::time::sleep(STORE_CHECK) => {}
            () = shutdown.cancelled() => return,
        }
        let store = state.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.check()).await;
        if let Some(reason) = state.store.failure() {
            break reason.to_owned();
        }
    };
    state.set_ready(false);
    let grace = STORE_FAILURE_GRACE.as_secs();
    tracing::error!(
        error = %reason,
        grace_secs = grace,
        "the store is unwritable: not ready, webhooks answered 503; exiting for a restart"
    );
    systemd::notify_status(&format!(
        "store unwritable ({reason}); exiting in {grace} s for a restart"
    ));
    let _ = failed.set(reason);
    tokio::select! {
        () = tokio::time::sleep(STORE_FAILURE_GRACE) => {}
        () = shutdown.cancelled() => return,
    }
    systemd::notify_stopping();
    shutdown.cancel();
}

/// How often a replica looks for portals connected at another replica, and a follower for
/// the portal the leader's sync connected to.
const FOLLOW_PORTAL: Duration = Duration::from_secs(1);

/// On PostgreSQL: every replica takes up the portals a Connect at another replica added;
/// while this replica follows, it answers for the portal each site's leader-side sync
/// connected to (saved on connect). Looks every [`FOLLOW_PORTAL`].
async fn follow_portal(state: Arc<api::State>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(FOLLOW_PORTAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let leading = state.store.leads();
        let following = state.clone();
        let follow = move || {
            if following.sites.discover() {
                tracing::info!("took up a portal connected at another replica");
            }
            !leading
                && following
                    .sites
                    .all()
                    .iter()
                    .any(|site| site.follow_portal())
        };
        match tokio::task::spawn_blocking(follow).await {
            Ok(true) => tracing::info!("answering for the portal the leader connected to"),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "following the leader's portal failed"),
        }
    }
}

/// How often every replica looks for portals being removed (a removal requested here wakes
/// it at once).
const SETTLE_REMOVALS: Duration = Duration::from_secs(1);

/// Moves portal removals on (see `api::removal`): at start (one a crash interrupted), when
/// one is requested here, and every [`SETTLE_REMOVALS`] (one requested at another replica).
async fn settle_removals(state: Arc<api::State>, shutdown: CancellationToken) {
    loop {
        let settling = state.clone();
        let settled =
            api::blocking::run(move |blocking| blocking.wait(api::removal::settle(&settling)))
                .await;
        match settled {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "removing a portal failed; trying again"),
            Err(error) => tracing::warn!(%error, "the portal removal task failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(SETTLE_REMOVALS) => {}
            () = state.sites.removal_requested.notified() => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Deletes applied webhook events older than the retention, hourly.
async fn prune_inbox(store: Store, retention: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let cutoff_ms = crate::time::now_ms() - retention.as_millis() as i64;
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.inbox().prune(cutoff_ms)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(pruned)) => {
                tracing::info!(pruned, "pruned applied webhook events past retention")
            }
            Ok(Err(error)) => tracing::warn!(%error, "pruning the inbox failed"),
            Err(error) => tracing::warn!(%error, "inbox pruning task failed"),
        }
    }
}

/// Deletes finished export jobs past `export.retention_days`, at start and hourly.
async fn prune_exports(state: Arc<api::State>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let state = state.clone();
        let pruned = tokio::task::spawn_blocking(move || {
            let now = crate::time::now_ms();
            for hub_id in state.sites.portal_ids() {
                let config = state.sites.export_config();
                let settings =
                    crate::export::Settings::current(&state.store, Some(hub_id), config)?;
                let days = settings.retention_days;
                crate::export::retention::prune(&state.store, hub_id, days, now)?;
            }
            Ok::<_, crate::store::Error>(())
        });
        match pruned.await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "pruning export jobs failed"),
            Err(error) => tracing::warn!(%error, "export pruning task failed"),
        }
    }
}

/// Writes the first matches that lookups answered from memory, so that each is durable
/// within `MATCH_WRITE_INTERVAL` (the last ones at shutdown, in `Running::wait`).
async fn write_matches(
    store: Store,
    notifier: Option<Arc<crate::notify::Notifier>>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(MATCH_WRITE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.write_matches()).await {
            Ok(Ok(0)) => {}
            // Their `match.first` notifications were queued with them.
            Ok(Ok(_)) => notifier.iter().for_each(|notifier| notifier.wake_all()),
            Ok(Err(error)) => tracing::warn!(%error, "writing first matches failed"),
            Err(error) => tracing::warn!(%error, "match writer task failed"),
        }
    }
}

/// How often first matches are written (a `kill -9` loses at most this much of them).
const MATCH_WRITE_INTERVAL: Duration = Duration::from_millis(250);

/// Runs the daemon until SIGTERM or SIGINT (a second one forces an immediate exit); SIGHUP
/// re-reads the config file at `path`.
pub async fn run(loaded: Loaded, path: PathBuf) -> anyhow::Result<()> {
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    if let Err(error) = logging::set_level(loaded.config.server.log_level.as_deref()) {
        tracing::warn!(%error, "could not set the log level");
    }
    let mut stops = shutdown::Stops::install().context("installing the SIGTERM handler")?;
    let mut hangups = shutdown::hangups().context("installing the SIGHUP handler")?;
    let running = start(&loaded).await?;
    let reloader = running.reloader(path, loaded);
    systemd::notify_ready();
    let stop = running.shutdown_token();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(()) = hangups.recv() => {}
                () = stop.cancelled() => return,
            }
            systemd::notify_reloading();
            reloader.reload();
            systemd::notify_ready();
        }
    });
    tokio::spawn(watchdog::run(
        running.probe.clone(),
        running.shutdown_token(),
    ));
    let token = running.shutdown_token();
    tokio::spawn(async move {
        stops.next().await;
        systemd::notify_stopping();
        token.cancel();
        stops.next().await;
        tracing::warn!("second signal: exiting without draining");
        std::process::exit(1);
    });
    running.wait().await
}
