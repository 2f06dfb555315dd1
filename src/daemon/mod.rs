//! The daemon: start-up, the long-lived tasks, and an orderly shutdown. Only this module
//! spawns long-lived tasks, handles signals or talks to systemd.

pub mod commands;
mod export_direct;
mod listener;
pub mod logging;
mod shutdown;
pub mod sync;
mod systemd;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::api::{self, Tokens};
use crate::config::Loaded;
use crate::store::Store;
use crate::webhook::{self, signature::Verifier, Ingress};

/// A started daemon: bound, ready, serving until its shutdown token is cancelled.
pub struct Running {
    pub local_addr: SocketAddr,
    pub state: Arc<api::State>,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    sync: Option<tokio::task::JoinHandle<()>>,
    export: tokio::task::JoinHandle<()>,
    committer: tokio::task::JoinHandle<crate::store::Result<()>>,
}

/// Opens the store, binds the listener and starts serving.
pub async fn start(loaded: &Loaded) -> anyhow::Result<Running> {
    let config = &loaded.config;
    let store = Store::open(&config.store.path)
        .with_context(|| format!("opening the store at {}", config.store.path.display()))?;
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
    let ingress = Ingress::new(
        verifier,
        &config.server.public_url,
        inbox,
        config.server.max_in_flight,
    );
    let tokens = Tokens::new(loaded.secrets.api_tokens.clone());
    let objects = sync::record_types(loaded);
    let mut state = api::State::new(
        ingress,
        store,
        tokens,
        config.server.max_body_bytes,
        objects,
    );
    state.fallback_owner_id = config
        .ownership
        .fallback_owner_id
        .as_deref()
        .and_then(|id| id.parse().ok());
    state.exporter = Arc::new(crate::export::Exporter::new(config.export.clone()));
    let state = Arc::new(state);

    let listen: SocketAddr = config.server.listen.parse().context("server.listen")?;
    let tcp = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let local_addr = tcp.local_addr()?;
    let shutdown = CancellationToken::new();
    let limits = listener::Limits {
        max_connections: config.server.max_connections,
        grace: Duration::from_secs(config.server.shutdown_grace_secs),
    };
    let server = tokio::spawn(listener::serve(
        tcp,
        state.clone(),
        shutdown.clone(),
        limits,
    ));
    let retention = Duration::from_secs(config.store.inbox_retention_hours * 3600);
    tokio::spawn(prune_inbox(
        state.store.clone(),
        retention,
        shutdown.clone(),
    ));
    let sync = config.sync.enabled.then(|| {
        tokio::spawn(sync::supervise(
            loaded.clone(),
            state.clone(),
            shutdown.clone(),
        ))
    });
    let export = tokio::spawn(export_worker(state.clone(), shutdown.clone()));
    state.set_ready(true);
    tracing::info!(%local_addr, store = %config.store.path.display(), "hubspot-gateway is ready");
    Ok(Running {
        local_addr,
        state,
        shutdown,
        server,
        sync,
        export,
        committer,
    })
}

impl Running {
    /// Cancelling this token starts the shutdown.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits for shutdown to be requested and to complete: the server drains, the inbox
    /// commits what it holds, the store is made durable.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.shutdown.cancelled().await;
        self.state.set_ready(false);
        self.server.await.context("server task")?;
        if let Some(sync) = self.sync {
            sync.await.context("sync task")?;
        }
        self.export.await.context("export worker")?;
        self.state.ingress.inbox.close().await;
        self.committer
            .await
            .context("inbox committer")?
            .context("final store commit")?;
        tracing::info!("hubspot-gateway stopped cleanly");
        Ok(())
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
        let cutoff_ms = webhook::inbox::now_ms() - retention.as_millis() as i64;
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

/// Runs export jobs once the sync has connected to HubSpot (the writer needs its client
/// and its mirror writes); a job interrupted by shutdown resumes at the next start.
async fn export_worker(state: Arc<api::State>, shutdown: CancellationToken) {
    let syncer = loop {
        if let (Some(syncer), Some(_)) = (state.syncer(), state.portal()) {
            break syncer.clone();
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
            () = shutdown.cancelled() => return,
        }
    };
    let portal = state.portal();
    let fallback = crate::ownership::Fallback {
        owner_id: state.fallback_owner_id,
        connected_user_email: portal.as_ref().and_then(|p| p.user_email.clone()),
        connected_user_id: portal.as_ref().and_then(|p| p.user_id),
    };
    let writer = crate::export::writer::Writer {
        syncer,
        fallback,
        exporter: state.exporter.clone(),
    };
    crate::export::writer::run(writer, shutdown).await;
}

/// Runs the daemon until SIGTERM or SIGINT (a second one forces an immediate exit).
pub async fn run(loaded: Loaded) -> anyhow::Result<()> {
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let running = start(&loaded).await?;
    systemd::notify_ready();
    let token = running.shutdown_token();
    tokio::spawn(async move {
        shutdown::first_signal().await;
        systemd::notify_stopping();
        token.cancel();
        shutdown::first_signal().await;
        tracing::warn!("second signal: exiting without draining");
        std::process::exit(1);
    });
    running.wait().await
}
