//! The journal subscriptions the mirror needs for a portal: changes of each mirrored type
//! with every property the mirror keeps, the associations between mirrored types, contacts'
//! privacy deletions. Created on connect (and by `hubspot-gateway journal subscribe`),
//! removed on disconnect; HubSpot replaces a subscription of the same type, portal and object
//! type, so subscribing again updates them (new properties included).
//!
//! Every kept property, not a few: the mirror keeps every readable property of a record
//! (`Syncer::fields`), and a journal `UPDATE` is applied as a patch, so a kept property left
//! out of the subscription would silently go stale.
//!
//! The journal only holds what a subscription wanted when it happened: subscribing again
//! after a disconnect, or for a mirror that was filled before, leaves a stretch no source
//! covered, which is reconciled like a gap.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::gaps::{self, Reason};
use super::{Journal, Reconcile, Subscribed};
use crate::object::ObjectType;
use crate::sync::{Syncer, TypeState};
use crate::time::now_ms;

const OBJECT_ACTIONS: [&str; 5] = ["CREATE", "UPDATE", "DELETE", "MERGE", "RESTORE"];
const ASSOCIATION_ACTIONS: [&str; 2] = ["ASSOCIATION_ADDED", "ASSOCIATION_REMOVED"];

/// The subscription bodies for a mirror of `kinds` in `portal`, `properties` per type.
pub fn wanted(
    portal: i64,
    kinds: &[ObjectType],
    properties: &BTreeMap<ObjectType, Vec<String>>,
) -> Vec<Value> {
    let mut bodies = Vec::new();
    for kind in kinds {
        let names = properties.get(kind).cloned().unwrap_or_default();
        bodies.push(json!({"subscriptionType": "OBJECT", "portalId": portal,
            "objectTypeId": kind.type_id(), "actions": OBJECT_ACTIONS, "objectIds": [],
            "properties": names}));
        let others: Vec<&str> = kinds
            .iter()
            .filter(|other| *other != kind)
            .map(|other| other.type_id())
            .collect();
        if !others.is_empty() {
            bodies.push(
                json!({"subscriptionType": "ASSOCIATION", "portalId": portal,
                "objectTypeId": kind.type_id(), "actions": ASSOCIATION_ACTIONS,
                "objectIds": [], "associatedObjectTypeIds": others}),
            );
        }
    }
    if kinds.contains(&ObjectType::Contacts) {
        bodies.push(
            json!({"subscriptionType": "GDPR_PRIVACY_DELETION", "portalId": portal,
            "objectTypeId": ObjectType::Contacts.type_id(), "actions": ["GDPR_DELETE"]}),
        );
    }
    bodies
}

/// Why subscribing failed.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error(transparent)]
    HubSpot(#[from] crate::hubspot::Error),
    #[error(transparent)]
    Sync(#[from] crate::sync::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
}

impl SubscribeError {
    /// Whether trying again later can help.
    pub fn is_retryable(&self) -> bool {
        match self {
            SubscribeError::HubSpot(error) => error.is_retryable(),
            SubscribeError::Sync(crate::sync::Error::HubSpot(error)) => error.is_retryable(),
            _ => false,
        }
    }
}

impl Journal {
    /// Creates (or updates) the subscriptions `syncer`'s mirror needs and records them; a
    /// stretch no subscription covered becomes a gap.
    pub async fn subscribe(&self, syncer: &Syncer) -> Result<Vec<Subscribed>, SubscribeError> {
        let portal = syncer.portal;
        let kinds = &self.settings.kinds;
        let mut properties = BTreeMap::new();
        for kind in kinds {
            let mut names = syncer.fields(*kind)?.properties;
            if names.is_empty() {
                // A new store: the property definitions are not read yet.
                syncer.refresh_reference().await?;
                names = syncer.fields(*kind)?.properties;
            }
            properties.insert(*kind, names);
        }
        let mut subscribed = Vec::new();
        for body in wanted(portal, kinds, &properties) {
            let answer = self.client.upsert_subscription(&body).await?;
            subscribed.push(described(&body, &answer));
        }
        let now = now_ms();
        let before = self.record(portal)?;
        if let Some((reason, needs)) = uncovered(&before, syncer, kinds, now)? {
            self.note_gap(portal, reason, needs)?;
        }
        self.update_record(portal, |record| {
            record.subscriptions = subscribed.clone();
            if record.subscribed_at_ms.is_none() || record.unsubscribed_at_ms.is_some() {
                record.subscribed_at_ms = Some(now);
            }
            record.unsubscribed_at_ms = None;
        })?;
        self.store.commit()?;
        tracing::info!(
            portal,
            subscriptions = subscribed.len(),
            "Webhooks Journal subscriptions in place"
        );
        Ok(subscribed)
    }

    /// Removes the subscriptions of `portal` (the gateway was disconnected from it).
    pub async fn unsubscribe(&self, portal: i64) -> Result<(), SubscribeError> {
        self.client.delete_portal_subscriptions(portal).await?;
        self.update_record(portal, |record| {
            record.subscriptions.clear();
            record.unsubscribed_at_ms = Some(now_ms());
        })?;
        self.store.commit()?;
        tracing::info!(portal, "Webhooks Journal subscriptions removed");
        Ok(())
    }

    /// After a disconnect from `portal`: removes its recorded subscriptions, retrying until
    /// done or `stop`.
    pub async fn release(&self, portal: i64, stop: &CancellationToken) {
        let mut delay = std::time::Duration::from_secs(1);
        loop {
            match self.record(portal) {
                Ok(record) if record.subscriptions.is_empty() => return,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot read the journal's record"),
            }
            match self.unsubscribe(portal).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(%error, "cannot remove the journal subscriptions yet; retrying")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => delay = (delay * 2).min(std::time::Duration::from_secs(300)),
                () = stop.cancelled() => return,
            }
        }
    }
}

/// The stretch before now that no subscription covered, if the mirror holds anything of it:
/// since the last disconnect, or (a first subscription) since the mirror's polling stopped.
fn uncovered(
    before: &super::Record,
    syncer: &Syncer,
    kinds: &[ObjectType],
    now: i64,
) -> crate::store::Result<Option<(Reason, Reconcile)>> {
    if let Some(at) = before.unsubscribed_at_ms {
        return Ok(Some((
            Reason::Resubscribed,
            gaps::reconcile_for(kinds, Some(at), now),
        )));
    }
    if before.subscribed_at_ms.is_some() {
        return Ok(None);
    }
    let mut since = None::<i64>;
    for kind in kinds {
        let state = TypeState::load(syncer.store(), syncer.portal, *kind)?;
        let Some(done) = state.backfill_done_at_ms else {
            continue;
        };
        let polled = state.incremental.as_ref().map(|cursor| cursor.since_ms);
        let covered = polled.unwrap_or(done);
        since = Some(since.map_or(covered, |since| since.min(covered)));
    }
    Ok(since.map(|since| {
        (
            Reason::SubscribedLate,
            gaps::reconcile_for(kinds, Some(since), now),
        )
    }))
}

/// What the status lists of a subscription: HubSpot's id, and what it asked for.
fn described(body: &Value, answer: &Value) -> Subscribed {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    Subscribed {
        id: text(&answer["id"]),
        kind: text(&body["subscriptionType"]),
        object_type_id: text(&body["objectTypeId"]),
        actions: body["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mirrored_type_its_associations_and_privacy_deletions() {
        let kinds = [ObjectType::Contacts, ObjectType::Companies];
        let properties = BTreeMap::from([
            (ObjectType::Contacts, vec!["email".to_string()]),
            (ObjectType::Companies, vec!["domain".to_string()]),
        ]);
        let bodies = wanted(7, &kinds, &properties);
        let kinds_of: Vec<(&str, &str)> = bodies
            .iter()
            .map(|body| {
                (
                    body["subscriptionType"].as_str().unwrap(),
                    body["objectTypeId"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            kinds_of,
            [
                ("OBJECT", "0-1"),
                ("ASSOCIATION", "0-1"),
                ("OBJECT", "0-2"),
                ("ASSOCIATION", "0-2"),
                ("GDPR_PRIVACY_DELETION", "0-1")
            ]
        );
        assert_eq!(bodies[0]["properties"], json!(["email"]));
        assert_eq!(bodies[1]["associatedObjectTypeIds"], json!(["0-2"]));
        assert!(bodies.iter().all(|body| body["portalId"] == 7));
        let only_deals = wanted(7, &[ObjectType::Deals], &BTreeMap::new());
        assert_eq!(
            only_deals.len(),
            1,
            "no other type to associate with, no contacts"
        );
    }
}
