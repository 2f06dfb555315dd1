//! Removing a portal from the deployment (a customer left, an account is no longer served):
//! the one rule the API (`DELETE /v1/portals/{id}`) and the console apply.
//!
//! A removal is recorded durably first, then the portal's site is taken out at once (requests
//! naming it are refused, its webhook events skipped); the rest is [`settle`]'s, which every
//! replica runs every second: it stops the work of sites taken out, and on the replica that
//! leads it revokes the portal's tokens and deletes everything the deployment keeps for it
//! (its notifications not yet delivered included), then the record. A crash anywhere in
//! between leaves the record, so the next leader finishes the removal; every step can run
//! again.

pub mod crash;

use self::crash::Step;
use super::{Sites, State};
use crate::connection::Refusal;
use crate::export::{self, Exporter};
use crate::store::{self, Erased};
use crate::sync::schedule::Schedule;

/// Why a removal was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Unselected(#[from] super::sites::Unselected),
    /// The first site's connection is a private app's token from the config.
    #[error(transparent)]
    PrivateApp(Refusal),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Starts removing `hub_id`: recorded, taken out of the deployment, finished by [`settle`].
pub fn request(state: &State, hub_id: i64) -> Result<(), Refused> {
    let site = state.sites.select(Some(hub_id))?;
    if site.connections.is_private_app() {
        return Err(Refused::PrivateApp(Refusal::PrivateApp));
    }
    state.sites.first().connections.mark_removal(hub_id)?;
    crash::point(Step::Marked);
    state.sites.take_out(hub_id);
    state.sites.removal_requested.notify_one();
    tracing::info!(portal = hub_id, "removing a portal from the deployment");
    Ok(())
}

/// The portals being removed (`GET /v1/status`).
pub fn pending(sites: &Sites) -> store::Result<Vec<i64>> {
    sites.first().connections.removals()
}

/// Moves every recorded removal on: takes out the sites of portals being removed (a removal
/// requested at another replica), stops their work, and where this replica leads, finishes
/// each removal.
pub async fn settle(state: &State) -> store::Result<()> {
    let removing = pending(&state.sites)?;
    for &hub_id in &removing {
        state.sites.take_out(hub_id);
    }
    state.sites.retire_taken().await;
    if !state.store.leads() {
        // The leader finished the first site's removal: the blank site may connect again.
        let first = state.sites.first().connections.clone();
        let stored = first.portal().map(|portal| portal.hub_id);
        if first.is_held() && stored.is_none_or(|id| !removing.contains(&id)) {
            first.release();
        }
        return Ok(());
    }
    for hub_id in removing {
        let erased = finish(state, hub_id).await?;
        tracing::info!(
            portal = hub_id,
            records = erased.records,
            notifications = erased.notifications,
            "removed a portal from the deployment"
        );
    }
    Ok(())
}

/// Deletes what the deployment keeps for `hub_id` (its site's work has stopped): the
/// settings kept per portal, the store's data of the portal, then its connections (their
/// tokens revoked); last, the removal's record.
async fn finish(state: &State, hub_id: i64) -> store::Result<Erased> {
    let store = &state.store;
    let first = state.sites.first().connections.clone();
    let is_first = first.portal().is_some_and(|portal| portal.hub_id == hub_id);
    let connections = if is_first {
        first.clone()
    } else {
        first.for_portal(hub_id)
    };
    // A setting's name is the portal's only while its connections remain (the first
    // site's portal, or a portal a Connect added): after they are forgotten, the same names
    // would be another portal's, so a removal resumed after that point leaves settings be.
    if is_first || first.added_portals()?.contains(&hub_id) {
        export::Settings::reset(store, Some(hub_id))?;
        Schedule::reset(store, Some(hub_id))?;
        Exporter::publish(store, hub_id, None)?;
        store.commit()?;
    }
    crash::point(Step::SettingsReset);
    let erased = store.erase_portal(hub_id).await?;
    crash::point(Step::Erased);
    connections.forget().await?;
    crash::point(Step::Forgotten);
    first.unmark_removal(hub_id)?;
    Ok(erased)
}
