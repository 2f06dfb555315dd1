//! Work each portal of the deployment has (its sync, its export worker): started for every
//! site there is and for each one added while the daemon runs.

use std::future::Future;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::api::{Site, Sites, State};
use crate::config::Loaded;
use crate::sync::Route;

/// The sync of every portal (each site's supervisor) and the webhook consumer that feeds
/// them, until `stop`. A panic in any of them ends this at once with that panic, so the
/// daemon's sync task reports it (and the watchdog stops vouching for the daemon).
pub async fn sync(loaded: Loaded, state: Arc<State>, stop: CancellationToken) {
    let routing = state.clone();
    let routes = Arc::new(move |portal| route(&routing.sites, portal));
    let store = state.store.clone();
    let mut consumer = tokio::spawn(crate::sync::run_consumer(store, routes, stop.clone()));
    let supervising = each(&state.sites, stop, |site, stop| {
        super::sync::supervise(loaded.clone(), state.clone(), site, stop)
    });
    tokio::pin!(supervising);
    let consumed = tokio::select! {
        () = &mut supervising => consumer.await,
        consumed = &mut consumer => {
            resume_panic(consumed);
            supervising.await;
            Ok(())
        }
    };
    resume_panic(consumed);
}

/// Goes on with the panic a task ended with, if it did.
fn resume_panic(ended: Result<(), tokio::task::JoinError>) {
    if let Err(error) = ended {
        if error.is_panic() {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}

/// Where the webhook consumer takes the events of `portal`: to its site's sync. With several
/// portals, a site whose connection is usable but whose sync has not started keeps the inbox
/// waiting; one that cannot connect (disconnected, needs a new Connect) does not hold up the
/// others (its sync catches up from HubSpot when it starts). With one portal, events wait
/// for its sync whatever the reason, as they always have.
pub fn route(sites: &Sites, portal: i64) -> Route {
    let all = sites.all();
    if let [only] = all.as_slice() {
        return match only.syncer() {
            Some(syncer) if syncer.portal == portal => Route::Apply(syncer),
            Some(_) => Route::Skip,
            None => Route::Wait,
        };
    }
    match sites.of(portal) {
        Some(site) => match site.syncer() {
            Some(syncer) => Route::Apply(syncer),
            None if site.connections.service_client().is_ok() => Route::Wait,
            None => Route::Skip,
        },
        None => Route::Skip,
    }
}

/// Runs `work` for every site, those there are and those added later, until `stop`; a site
/// taken out stops its own (see `Site::retire`). Returns once every run has ended. A run
/// that panics takes this down with it (the caller's task reports it).
pub async fn each<W, F>(sites: &Sites, stop: CancellationToken, work: W)
where
    W: Fn(Arc<Site>, CancellationToken) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let mut changes = sites.subscribe();
    let mut running = JoinSet::new();
    let mut started: Vec<Arc<Site>> = Vec::new();
    loop {
        changes.borrow_and_update();
        started.retain(|site| !site.is_retired());
        for site in sites.all() {
            if started.iter().any(|known| Arc::ptr_eq(known, &site)) {
                continue;
            }
            if let Some(run) = site.run(&stop, |stop| work(site.clone(), stop)) {
                running.spawn(run);
            }
            started.push(site);
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { break },
            () = stop.cancelled() => break,
            Some(finished) = running.join_next() => resume_panic(finished),
        }
    }
    while let Some(finished) = running.join_next().await {
        resume_panic(finished);
    }
}
