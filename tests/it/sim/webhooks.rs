//! Webhooks out: event shapes per mutation, v1 + v3 signatures, retries, chaos, targets.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hubspot_gateway::sim::{ObjectType, SimConfig, WebhookChaos, WebhookTarget};
use serde_json::{json, Value};

use super::receiver::{self, Received, SECRET};
use super::Sim;

async fn sim_with_receiver() -> (Sim, Arc<Received>) {
    let received = Arc::new(Received::default());
    let url = receiver::start(received.clone()).await;
    let target = WebhookTarget {
        retry_base_ms: 5,
        ..WebhookTarget::new(url, SECRET)
    };
    (
        Sim::unlimited(SimConfig {
            webhook: Some(target),
            ..SimConfig::default()
        })
        .await,
        received,
    )
}

fn of_type<'a>(events: &'a [Value], subscription_type: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|event| event["subscriptionType"] == subscription_type)
        .collect()
}

#[tokio::test]
async fn mutations_fire_signed_events_of_the_right_kinds() {
    let (sim, received) = sim_with_receiver().await;
    let control = sim.handle.control();
    let contact = control
        .create(
            ObjectType::Contacts,
            [("email", "hook@x.example"), ("firstname", "Hook")],
        )
        .unwrap();
    control
        .update(ObjectType::Contacts, &contact, [("lastname", "Line")])
        .unwrap();
    let contacts = control.ids(ObjectType::Contacts, "0", 2);
    control
        .merge(ObjectType::Contacts, &contacts[0], &contacts[1])
        .unwrap();
    control.privacy_delete(&contact).unwrap();
    let task = control.ids(ObjectType::Tasks, "0", 1).remove(0);
    control.archive(ObjectType::Tasks, &task).unwrap();
    let company = control.ids(ObjectType::Companies, "0", 5).remove(4);
    control
        .associate(
            (ObjectType::Contacts, &contacts[0]),
            (ObjectType::Companies, &company),
            true,
        )
        .unwrap();
    let (status, _) = sim
        .post(
            "/crm/v3/objects/deals",
            json!({"properties": {"dealname": "Via API"}}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(control.flush_webhooks(Duration::from_secs(10)).await, 0);
    let events = received.events();
    assert_eq!(
        received.rejected.load(Ordering::SeqCst),
        0,
        "every request carried valid v1 and v3 signatures"
    );
    assert_eq!(of_type(&events, "contact.creation").len(), 1);
    let changes = of_type(&events, "contact.propertyChange");
    assert!(changes
        .iter()
        .any(|event| event["propertyName"] == "lastname" && event["propertyValue"] == "Line"));
    let merge = of_type(&events, "contact.merge");
    assert_eq!(
        merge[0]["mergedObjectIds"],
        json!([contacts[1].parse::<u64>().unwrap()])
    );
    assert_eq!(of_type(&events, "contact.privacyDeletion").len(), 1);
    assert!(of_type(&events, "contact.deletion")
        .iter()
        .any(|event| event["objectId"].as_u64() == contact.parse().ok()));
    let task_events = of_type(&events, "object.deletion");
    assert_eq!(
        (
            task_events[0]["objectTypeId"].as_str(),
            task_events[0]["changeFlag"].as_str()
        ),
        (Some("0-27"), Some("DELETED"))
    );
    let links = of_type(&events, "contact.associationChange");
    assert_eq!(links[0]["associationType"], "CONTACT_TO_COMPANY");
    assert_eq!(
        of_type(&events, "company.associationChange").len(),
        1,
        "one event per direction"
    );
    let deal = of_type(&events, "deal.creation");
    assert_eq!(
        (
            deal[0]["changeSource"].as_str(),
            deal[0]["portalId"].as_i64()
        ),
        (Some("API"), Some(sim.handle.config().portal_id))
    );
    assert!(received
        .batches
        .lock()
        .iter()
        .all(|batch| batch.len() <= 100));
}

#[tokio::test]
async fn a_first_company_is_primary_and_announced_twice_and_gdpr_delete_fires_both_events() {
    let (sim, received) = sim_with_receiver().await;
    let control = sim.handle.control();
    let contact = control
        .create(ObjectType::Contacts, [("email", "solo@x.example")])
        .unwrap();
    control
        .associate(
            (ObjectType::Contacts, &contact),
            (ObjectType::Companies, "5000001"),
            true,
        )
        .unwrap();
    let body = json!({"objectId": "solo@x.example", "idProperty": "email"});
    let response = sim
        .http
        .post(sim.url("/crm/v3/objects/contacts/gdpr-delete"))
        .bearer_auth(sim.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        sim.get(&format!("/crm/v3/objects/contacts/{contact}"))
            .await
            .0,
        404
    );
    control.flush_webhooks(Duration::from_secs(10)).await;
    let events = received.events();
    let links = of_type(&events, "contact.associationChange");
    let flags: Vec<bool> = links
        .iter()
        .map(|event| event["isPrimaryAssociation"].as_bool().unwrap())
        .collect();
    assert_eq!(flags, [false, true]);
    assert_eq!(of_type(&events, "company.associationChange").len(), 2);
    assert_eq!(of_type(&events, "contact.privacyDeletion").len(), 1);
    assert_eq!(of_type(&events, "contact.deletion").len(), 1);
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_a_growing_attempt_number() {
    let (sim, received) = sim_with_receiver().await;
    received.fail_first.store(2, Ordering::SeqCst);
    sim.handle
        .control()
        .update(ObjectType::Companies, "5000001", [("phone", "+1 555 0100")])
        .unwrap();
    let events = received.wait_for(|events| !events.is_empty()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["attemptNumber"], 2);
    // The receiver saw the event before the simulator read its answer and counted it.
    assert_eq!(
        sim.handle
            .control()
            .flush_webhooks(Duration::from_secs(10))
            .await,
        0
    );
    let stats = sim.handle.stats().webhooks;
    assert_eq!(
        (
            stats.failed_attempts,
            stats.events_delivered,
            stats.requests
        ),
        (2, 1, 3)
    );
}

#[tokio::test]
async fn chaos_duplicates_and_drops_events() {
    let (sim, received) = sim_with_receiver().await;
    let control = sim.handle.control();
    control.set_webhook_chaos(WebhookChaos {
        duplicate_rate: 1.0,
        ..WebhookChaos::default()
    });
    control
        .update(ObjectType::Deals, "9000001", [("dealname", "Twice")])
        .unwrap();
    control.flush_webhooks(Duration::from_secs(10)).await;
    let events = received.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], events[1]);
    control.set_webhook_chaos(WebhookChaos {
        drop_rate: 1.0,
        ..WebhookChaos::default()
    });
    control
        .update(ObjectType::Deals, "9000001", [("dealname", "Never")])
        .unwrap();
    control.flush_webhooks(Duration::from_secs(10)).await;
    assert_eq!(received.events().len(), 2);
    assert_eq!(sim.handle.stats().webhooks.events_dropped, 1);
}

#[tokio::test]
async fn the_webhook_target_can_be_set_and_removed_at_runtime_over_http() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let received = Arc::new(Received::default());
    let url = receiver::start(received.clone()).await;
    let control = sim.handle.control();
    control
        .update(ObjectType::Deals, "9000001", [("dealname", "Unheard")])
        .unwrap();
    let target = json!({"url": url, "client_secret": SECRET, "app_id": 77});
    let set = sim
        .http
        .post(sim.url("/_sim/webhooks/target"))
        .json(&target)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 204);
    control
        .update(ObjectType::Deals, "9000001", [("dealname", "Heard")])
        .unwrap();
    control.flush_webhooks(Duration::from_secs(10)).await;
    let events = received.events();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0]["propertyValue"].as_str(),
            events[0]["appId"].as_i64()
        ),
        (Some("Heard"), Some(77))
    );
    let removed = sim
        .http
        .delete(sim.url("/_sim/webhooks/target"))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    control
        .update(
            ObjectType::Deals,
            "9000001",
            [("dealname", "Unheard again")],
        )
        .unwrap();
    control.flush_webhooks(Duration::from_secs(10)).await;
    assert_eq!(received.events().len(), 1);
    let (_, config) =
        super::read(sim.http.get(sim.url("/_sim/config")).send().await.unwrap()).await;
    assert!(config["webhook_target"].is_null());
}
