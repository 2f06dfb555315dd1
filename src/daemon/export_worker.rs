//! The export worker: runs export jobs while the sync is connected (with that connection's
//! client, or each job's user's) and exports are enabled; stops the writer of a connection
//! that changed, before anything else is written with it.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api;
use crate::export::Exporter;
use crate::store::postgres::Heard;

/// Runs export jobs while the sync is connected to HubSpot (the writer needs its client and
/// its mirror writes) and exports are enabled; a job interrupted by a change of connection
/// or by shutdown resumes later. Meanwhile, queued jobs say what they wait for; on
/// PostgreSQL that is published for the replicas that follow.
pub async fn run(
    state: Arc<api::State>,
    site: Arc<api::Site>,
    sync_enabled: bool,
    shutdown: CancellationToken,
) {
    let work = work(state.clone(), site.clone(), sync_enabled, shutdown);
    if state.store.roles().is_none() {
        return work.await;
    }
    tokio::select! {
        () = work => {}
        () = publish_waiting(&state, &site) => {}
    }
}

/// On PostgreSQL: wakes the export worker of each portal a new job is announced for (by any
/// replica; see `store::postgres::listen`), until `shutdown`. Without a leader's worker
/// running here the wake-up is kept for when one starts, which then looks once.
pub async fn wake_on_new_jobs(state: Arc<api::State>, shutdown: CancellationToken) {
    let Some(mut heard) = state.store.new_jobs() else {
        return;
    };
    loop {
        let sites = tokio::select! {
            heard = heard.recv() => match heard {
                Some(Heard::NewJob(portal)) => state.sites.of(portal).into_iter().collect(),
                Some(Heard::MaybeMissed) => state.sites.all(),
                None => return,
            },
            () = shutdown.cancelled() => return,
        };
        for site in sites {
            site.exporter.wake.notify_one();
        }
    }
}

/// Publishes what the site's jobs wait for at the start and whenever it changes (see
/// `api::State::export_waiting`); runs until dropped.
async fn publish_waiting(state: &api::State, site: &api::Site) {
    let mut changes = site.exporter.subscribe();
    loop {
        let waiting = changes.borrow_and_update().clone();
        let published = site.hub_id().map_or(Ok(()), |hub_id| {
            Exporter::publish(&state.store, hub_id, waiting.as_ref())
        });
        if let Err(error) = published {
            tracing::warn!(%error, "cannot publish what export jobs wait for; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if changes.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// The worker itself (see [`run`]).
async fn work(
    state: Arc<api::State>,
    site: Arc<api::Site>,
    sync_enabled: bool,
    shutdown: CancellationToken,
) {
    let mut changes = site.connections.subscribe();
    let mut replaced = None;
    loop {
        let found = wait_for_writer(&site, sync_enabled, replaced.as_ref(), &shutdown).await;
        let Some(syncer) = found else {
            return;
        };
        site.exporter.set_waiting(None);
        changes.borrow_and_update();
        let writer = export_writer(&state, &site, syncer.clone());
        let stop = shutdown.child_token();
        let run = crate::export::writer::run(writer, stop.clone());
        tokio::pin!(run);
        replaced = tokio::select! {
            () = &mut run => return,
            // The connection changed: this syncer's client must not write any more.
            _ = changes.changed() => Some(syncer),
            outdated = writer_outdated(&site, &syncer, &shutdown) => outdated.then_some(syncer),
        };
        stop.cancel();
        run.await;
    }
}

/// The syncer to export with, once there is one (other than `replaced`) and exports are
/// enabled; `None` at shutdown.
async fn wait_for_writer(
    site: &api::Site,
    sync_enabled: bool,
    replaced: Option<&Arc<crate::sync::Syncer>>,
    shutdown: &CancellationToken,
) -> Option<Arc<crate::sync::Syncer>> {
    loop {
        let current = site
            .syncer()
            .filter(|syncer| replaced.is_none_or(|old| !Arc::ptr_eq(old, syncer)));
        let waiting = if !site.connections.preferences().exports_enabled {
            crate::export::Waiting {
                code: "export_disabled".into(),
                message: "exports are turned off for every user (PUT /v1/connection/preferences)"
                    .into(),
                job: None,
            }
        } else if let (Some(syncer), Some(_)) = (current, site.portal()) {
            return Some(syncer);
        } else if !sync_enabled {
            crate::export::Waiting {
                code: "sync_disabled".into(),
                message: "jobs run once the gateway has connected to HubSpot, which it does \
                          only with [sync] enabled = true; enable it, or run `hubspot-gateway \
                          export` while no daemon is running"
                    .into(),
                job: None,
            }
        } else {
            let status = site.connections.status();
            let reason = status.reason.unwrap_or_else(|| {
                "waiting for the gateway to connect to HubSpot (the log says why it has not yet)"
                    .into()
            });
            let code = match status.state {
                crate::connection::State::Connected => "not_connected",
                other => other.as_str(),
            };
            crate::export::Waiting {
                code: code.into(),
                message: reason,
                job: None,
            }
        };
        site.exporter.set_waiting(Some(waiting));
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
            () = shutdown.cancelled() => return None,
        }
    }
}

/// How often a running writer checks that its syncer is still the site's (in memory).
const SYNCER_CHECK: Duration = Duration::from_millis(200);
/// How often it reads whether exports are still enabled, unless this process saves the
/// preferences meanwhile: a store read (a query on PostgreSQL) every 200 ms for every portal
/// was most of an idle deployment's work.
const PREFERENCES_CHECK: Duration = Duration::from_secs(5);

/// Returns once `syncer` is no longer the connection's (`true`), or exports were turned off
/// (or at shutdown).
async fn writer_outdated(
    site: &api::Site,
    syncer: &Arc<crate::sync::Syncer>,
    shutdown: &CancellationToken,
) -> bool {
    let mut preferences_read = tokio::time::Instant::now();
    loop {
        let mut read_preferences = preferences_read.elapsed() >= PREFERENCES_CHECK;
        tokio::select! {
            () = tokio::time::sleep(SYNCER_CHECK) => {}
            () = site.connections.preferences_saved() => read_preferences = true,
            () = shutdown.cancelled() => return false,
        }
        let current = site.syncer();
        if !current.is_some_and(|current| Arc::ptr_eq(&current, syncer)) {
            return true;
        }
        if read_preferences {
            preferences_read = tokio::time::Instant::now();
            if !site.connections.preferences().exports_enabled {
                return false;
            }
        }
    }
}

/// The writer for `syncer`'s connection: the primary admin is the fallback owner; with the
/// `user` export preference each job is written with its user's own connection.
fn export_writer(
    state: &api::State,
    site: &api::Site,
    syncer: Arc<crate::sync::Syncer>,
) -> crate::export::writer::Writer {
    use crate::connection::ExportConnection;
    let fallback =
        crate::connection::portal::fallback(state.fallback_owner_id, site.portal().as_deref());
    let mut writer = crate::export::writer::Writer::new(syncer, fallback, site.exporter.clone());
    let connections = site.connections.clone();
    writer.client_for = Some(Arc::new(move |user_email: &str| {
        if connections.preferences().export_connection == ExportConnection::Service {
            return Ok(None);
        }
        connections
            .user_client(user_email)
            .map(Some)
            .map_err(|problem| crate::export::job::Problem {
                code: problem.code.into(),
                message: problem.message,
                property: None,
            })
    }));
    writer
}
