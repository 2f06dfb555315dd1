//! The Webhooks Journal: subscriptions deciding what is written, files closing on their own,
//! offsets chaining through `next`, batch calls.

use hubspot_gateway::sim::{ObjectType, SimConfig};
use serde_json::json;

use super::journal_app::{contact_subscription, Answer, App, ALL_SCOPES};
use super::Sim;

#[tokio::test]
async fn subscriptions_decide_what_is_written() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let (app, control) = (App::new(&sim, ALL_SCOPES).await, sim.handle.control());
    let portal = sim.handle.config().portal_id;
    let bad = app
        .subscribe(
            json!({"subscriptionType": "OBJECT", "portalId": portal, "objectTypeId": "0-1",
                                   "actions": ["CREATE"], "objectIds": []}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.json()["category"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    assert_eq!(bad.json()["errors"][0]["in"], "properties");
    let created = app
        .subscribe(contact_subscription(portal, &["firstname"]))
        .await;
    assert_eq!(created.status, 200);
    let id = created.json()["id"].as_i64().unwrap();
    let listed = app
        .get("/webhooks-journal/subscriptions/2026-03")
        .await
        .json();
    assert_eq!(listed["results"][0]["properties"], json!(["firstname"]));
    let fetched = app
        .get(&format!("/webhooks-journal/subscriptions/2026-03/{id}"))
        .await
        .json();
    assert_eq!(
        (
            fetched["subscriptionType"].as_str(),
            fetched["portalId"].as_i64()
        ),
        (Some("OBJECT"), Some(portal))
    );
    let contact = control
        .create(
            ObjectType::Contacts,
            [("email", "j@x.example"), ("firstname", "Jo")],
        )
        .unwrap();
    control
        .update(
            ObjectType::Contacts,
            &contact,
            [("lastname", "Unsubscribed")],
        )
        .unwrap();
    control.archive(ObjectType::Contacts, &contact).unwrap();
    control
        .create(ObjectType::Deals, [("dealname", "Unsubscribed type")])
        .unwrap();
    let events = app.wait_events(2).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["CREATE", "UPDATE"], "{events:?}");
    assert_eq!(
        events[1]["propertyChanges"],
        json!({"firstname": "Jo"}),
        "only the subscribed property"
    );
    assert_eq!(events[0]["objectId"].to_string(), contact);
    assert_eq!(
        (events[0]["type"].as_str(), events[0]["portalId"].as_i64()),
        (Some("OBJECT"), Some(portal))
    );
    assert!(events[0]["occurredAt"].is_i64());
    let delete = app
        .call(
            reqwest::Method::DELETE,
            &format!("/webhooks-journal/subscriptions/2026-03/{id}"),
            None,
        )
        .await;
    assert_eq!(delete.status, 204);
    assert_eq!(
        app.get(&format!("/webhooks-journal/subscriptions/2026-03/{id}"))
            .await
            .status,
        404
    );
    app.subscribe(contact_subscription(portal, &["firstname"]))
        .await;
    let drop_portal = format!("/webhooks-journal/subscriptions/2026-03/portals/{portal}");
    assert_eq!(
        app.call(reqwest::Method::DELETE, &drop_portal, None)
            .await
            .status,
        204
    );
    assert!(control.journal_subscriptions().is_empty());
    control
        .create(ObjectType::Contacts, [("firstname", "After")])
        .unwrap();
    control.flush_journal();
    assert_eq!(
        app.events().await.len(),
        2,
        "nothing written without a subscription"
    );
}

#[tokio::test]
async fn offsets_chain_through_next_and_batches_read_them() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let (app, control) = (App::new(&sim, ALL_SCOPES).await, sim.handle.control());
    control.journal_subscribe_all();
    let first = control
        .create(ObjectType::Companies, [("name", "Acme")])
        .unwrap();
    // No flush: the file closes on its own within the interval.
    let events = app.wait_events(2).await;
    assert_eq!(events[0]["objectTypeId"], "0-2");
    for name in ["B", "C"] {
        control
            .update(ObjectType::Companies, &first, [("name", name)])
            .unwrap();
        control.flush_journal();
    }
    let entries = app.entries().await;
    assert_eq!(entries.len(), 3, "one file per flush after the first");
    let offsets: Vec<&str> = entries
        .iter()
        .map(|entry| entry["currentOffset"].as_str().unwrap())
        .collect();
    assert!(entries
        .iter()
        .all(|entry| entry["expiresAt"].as_str().unwrap().ends_with('Z')));
    assert_eq!(
        app.get(&app.local("latest")).await.json()["currentOffset"],
        offsets[2]
    );
    let listed = |answer: Answer| -> Vec<String> {
        assert_eq!(
            (answer.status, answer.json()["status"].as_str()),
            (200, Some("COMPLETE"))
        );
        answer.json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["currentOffset"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(listed(app.get_local("batch/earliest/100").await), offsets);
    assert_eq!(listed(app.get_local("batch/latest/2").await), offsets[1..]);
    assert_eq!(
        listed(app.get_local(&format!("batch/{}/next/1", offsets[0])).await),
        offsets[1..2]
    );
    assert!(listed(app.get_local(&format!("batch/{}/next/5", offsets[2])).await).is_empty());
    for count in ["0", "101", "x"] {
        assert_eq!(
            app.get_local(&format!("batch/earliest/{count}"))
                .await
                .status,
            400,
            "{count}"
        );
    }
    assert_eq!(
        app.get_local("offset/00000000-0000-4000-8000-000000000000/next")
            .await
            .status,
        404
    );
    assert_eq!(
        listed(app.batch_read(json!([offsets[1]])).await),
        offsets[1..2]
    );
    let partial = app.batch_read(json!([offsets[0], "unknown"])).await;
    let body = partial.json();
    assert_eq!(
        (
            partial.status,
            body["numErrors"].as_u64(),
            body["results"].as_array().unwrap().len()
        ),
        (207, Some(1), 1)
    );
    assert_eq!(body["errors"][0]["context"]["offsets"][0], "unknown");
    let global = app
        .get("/webhooks-journal/journal/2026-03/batch/earliest/10")
        .await;
    assert_eq!(
        listed(global),
        offsets,
        "the global journal holds the same files"
    );
    let elsewhere = app
        .get("/webhooks-journal/journal-local/2026-03/earliest?installPortalId=1")
        .await;
    assert_eq!(
        elsewhere.status, 204,
        "another portal's local journal is empty"
    );
    let calls = sim.handle.stats().calls;
    assert!(
        calls["GET /webhooks-journal/journal-local/2026-03/offset/{offset}/next"] >= 3,
        "{calls:?}"
    );
    assert_eq!(
        calls["POST /webhooks-journal/journal-local/2026-03/batch/read"],
        2
    );
    assert!(calls["GET /journal-files/{portalId}/{offset}.json"] >= 1);
    assert_eq!(sim.handle.stats().journal.files_written, 3);
}
