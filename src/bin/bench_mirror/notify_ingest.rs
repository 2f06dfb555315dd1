//! What a dead notification target costs webhook ingest: signed v3 batches of owner changes
//! (`hubspot-sim fire`'s load generator and signing, in its owner-change mode) driven at the
//! gateway at full speed, with no target, with a target refusing connections and with one
//! that accepts and never answers. Each contact's first change is one the mirror applies and
//! notifies, so the outbox of a dead target grows while the webhooks come in.

use std::sync::Arc;

use hubspot_gateway::sim::fire::{self, FireConfig};
use hubspot_gateway::sim::{ObjectType, WebhookTarget};
use hubspot_gateway::webhook::signature::Version;
use serde_json::{json, Value};

use crate::gateway::{self, Gateway};
use crate::notify::Run;

/// Concurrent connections and events per request, as `scripts/bench`'s batch scenario.
const CONCURRENCY: usize = 64;
const BATCH: usize = 100;

/// One gateway's ingest of `events` owner changes.
#[derive(Debug, Clone, Copy)]
pub struct Ingest {
    /// Events acknowledged per second (the load generator's figure).
    pub acked_per_sec: f64,
    /// Events per second applied to the mirror while the load ran (the rest wait in the
    /// inbox: applying re-reads each changed record from the simulator).
    pub applied_per_sec: f64,
    /// Notifications waiting for the target afterwards.
    pub pending: u64,
}

impl Ingest {
    pub fn json(&self) -> Value {
        json!({"acked_per_sec": crate::report::round3(self.acked_per_sec),
               "applied_per_sec": crate::report::round3(self.applied_per_sec),
               "pending": self.pending})
    }
}

/// Changes the owners of the next `contacts` contacts in the simulator without telling the
/// gateway, then sends it `events` signed owner-change events about them (over and over) at
/// full speed.
pub async fn ingest(
    run: &mut Run,
    gw: &Gateway,
    contacts: usize,
    events: usize,
) -> anyhow::Result<Ingest> {
    let control = run.sim.control().clone();
    // The simulator's own webhooks would race the load: only the load generator speaks.
    control.set_webhook_target(None);
    let mut changes = Vec::with_capacity(contacts);
    for _ in 0..contacts.min(events) {
        let (id, owner) = run.change(&control);
        control.set_owner(ObjectType::Contacts, &id, &owner)?;
        changes.push((id.parse::<i64>()?, owner));
    }
    let config = FireConfig {
        target: format!("{}/webhooks/hubspot", gw.base),
        client_secret: gateway::CLIENT_SECRET.into(),
        version: Version::V3,
        events: events as u64,
        batch_size: BATCH,
        concurrency: CONCURRENCY,
        duplicate_rate: 0.0,
        portal_id: control.config().portal_id,
        app_id: WebhookTarget::DEFAULT_APP_ID,
        owner_changes: Some(Arc::new(changes)),
    };
    let received = |status: &Value| status["webhooks"]["received"].as_u64().unwrap_or(0);
    let depth = |status: &Value| status["webhooks"]["inbox_depth"].as_u64().unwrap_or(0);
    let before = gw.status().await?;
    let report = fire::run(config).await?;
    let after = gw.status().await?;
    anyhow::ensure!(
        report.transport_errors == 0 && report.statuses.keys().all(|status| *status == 204),
        "not every request got 204: {:?} ({:?})",
        report.statuses,
        report.last_error
    );
    let applied = (received(&after) - depth(&after)) - (received(&before) - depth(&before));
    let applied_per_sec = applied as f64 / report.elapsed_secs.max(1e-9);
    let response = gw
        .http
        .get(format!("{}/v1/notifications", gw.base))
        .bearer_auth(gateway::ADMIN_TOKEN)
        .send()
        .await?;
    let notifications: Value = response.json().await.unwrap_or_default();
    Ok(Ingest {
        acked_per_sec: report.events_per_sec,
        applied_per_sec,
        pending: notifications["targets"][0]["pending"].as_u64().unwrap_or(0),
    })
}
