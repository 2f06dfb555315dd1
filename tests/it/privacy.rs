//! Privacy deletion leaves nothing of the person: not through any API route (exports,
//! objects, lookups, indicators, webhook events, status) nor in any tree of the store, export
//! rows and first matches included; events about the person arriving afterwards are erased
//! too. And finished export jobs are pruned after `export.retention_days`.

use std::time::Duration;

use hubspot_gateway::export::job::{self, Header, Row, State};
use hubspot_gateway::object::ObjectType as Kind;
use hubspot_gateway::sim::ObjectType;
use reqwest::Method;
use serde_json::{json, Value};

use crate::mirror::{small_portal, wait_until, Harness};
use crate::support::signing::{now_ms, Signing};
use crate::support::{Gateway, Options, ADMIN_TOKEN, EXPORT_TOKEN, READ_TOKEN};

const EMAIL: &str = "erase.me@privacy.example";
/// What identifies the person, as HubSpot and the export requests spelled it.
const NEEDLES: [&str; 6] = [
    EMAIL,
    "Erase.Me@Privacy.example",
    "Erasmus",
    "Forgotten",
    "+1 555 0123",
    "Chief Secret Officer",
];

/// Whether `text` names the person (a needle, or `id` as a whole number).
fn names(text: &str, id: &str) -> Option<String> {
    if let Some(needle) = NEEDLES.iter().find(|needle| text.contains(*needle)) {
        return Some((*needle).to_owned());
    }
    let digits = text.as_bytes();
    let found = text.match_indices(id).any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| digits[i]);
        let after = digits.get(at + id.len()).copied();
        !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|b| b.is_ascii_digit())
    });
    found.then(|| format!("id {id}"))
}

async fn export(harness: &Harness, records: Value) -> String {
    let request = json!({"type": "contacts", "user_email": "seller@internal.example",
                         "records": records});
    let (status, started) = harness
        .gateway
        .send(Method::POST, "/v1/exports", EXPORT_TOKEN, &request)
        .await;
    assert_eq!(status, 202, "{started}");
    let path = format!("/v1/exports/{}", started["export_id"].as_str().unwrap());
    wait_until("the export job", Duration::from_secs(60), || async {
        harness.gateway.get(&path, Some(EXPORT_TOKEN)).await.1["state"] == "done"
    })
    .await;
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_privacy_deletion_leaves_nothing_of_the_person_in_any_route_or_tree() {
    let harness = Harness::start(small_portal()).await;
    let control = harness.sim.control();
    let id = control
        .create(
            ObjectType::Contacts,
            [
                ("email", EMAIL),
                ("firstname", "Erasmus"),
                ("lastname", "Forgotten"),
                ("phone", "+1 555 0123"),
                ("jobtitle", "Chief Secret Officer"),
            ],
        )
        .unwrap();
    let object = format!("/v1/objects/contacts/{id}");
    wait_until(
        "the contact is mirrored",
        Duration::from_secs(20),
        || async { harness.gateway.get(&object, Some(READ_TOKEN)).await.0 == 200 },
    )
    .await;

    // Exports naming the person: by email (its `ref` too) and as a result's id.
    let job = export(
        &harness,
        json!([
            {"ref": "Erase.Me@Privacy.example", "fields": {"email": "Erase.Me@Privacy.example",
             "direct_phone": "+1 555 0123", "first_name": "Erasmus"}},
            {"ref": "keep", "fields": {"email": "keep.me@privacy.example", "first_name": "Kept"}},
        ]),
    )
    .await;
    let (_, before) = harness.gateway.get(&job, Some(EXPORT_TOKEN)).await;
    assert_eq!(before["results"][0]["id"], id.as_str(), "{before}");
    // A lookup records the person's first match.
    let lookup = format!("/v1/contacts/lookup?email={EMAIL}");
    let (status, found) = harness.gateway.get(&lookup, Some(READ_TOKEN)).await;
    assert_eq!(status, 200, "{found}");
    assert!(found.to_string().contains(&id), "{found}");
    let matched = || async {
        harness.gateway.get("/v1/status", Some(READ_TOKEN)).await.1["contacts"]["matched"]
            .as_u64()
            .unwrap()
    };
    let matched_before = matched().await;

    control.privacy_delete(&id).unwrap();
    wait_until(
        "the contact is forgotten",
        Duration::from_secs(20),
        || async { harness.gateway.get(&object, Some(READ_TOKEN)).await.0 == 404 },
    )
    .await;
    // An event about the person arriving after the deletion, quoting their email.
    let late = json!([{"eventId": 990_001, "subscriptionId": 2202, "portalId": 62_515_001,
        "appId": 54321, "occurredAt": now_ms(), "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0, "objectId": id.parse::<i64>().unwrap(), "propertyName": "email",
        "propertyValue": EMAIL, "changeSource": "CRM_UI"}]);
    let (status, _) = harness
        .gateway
        .post("/webhooks/hubspot", &late.to_string(), Signing::FRESH)
        .await;
    assert_eq!(status, 204);
    wait_until(
        "the late event is applied",
        Duration::from_secs(20),
        || async { harness.gateway.webhook_status().await["inbox_depth"] == 0 },
    )
    .await;

    // The job still adds up; its other row is intact; the first match is gone.
    let (_, after) = harness.gateway.get(&job, Some(EXPORT_TOKEN)).await;
    assert_eq!(after["results"].as_array().unwrap().len(), 2, "{after}");
    let total = ["created", "updated", "skipped", "failed"]
        .iter()
        .map(|action| after[action].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(total, 2, "{after}");
    assert_eq!(
        after["results"][0]["action"],
        before["results"][0]["action"]
    );
    assert_eq!(after["results"][0]["reason"], "privacy_deleted", "{after}");
    assert_eq!(after["results"][1], before["results"][1]);
    assert_eq!(matched().await, matched_before - 1);

    let routes = [
        (job.clone(), EXPORT_TOKEN),
        ("/v1/exports?limit=100".to_owned(), EXPORT_TOKEN),
        (lookup.clone(), READ_TOKEN),
        ("/v1/status".to_owned(), READ_TOKEN),
        ("/v1/webhooks/events?limit=1000".to_owned(), ADMIN_TOKEN),
        ("/v1/webhooks/events/990001".to_owned(), ADMIN_TOKEN),
    ];
    for (path, token) in routes {
        let (_, body) = harness.gateway.get(&path, Some(token)).await;
        assert_eq!(names(&body.to_string(), &id), None, "{path}: {body}");
    }
    // The record's route answers 404 (its message quotes only the path asked for).
    let (status, body) = harness.gateway.get(&object, Some(READ_TOKEN)).await;
    assert_eq!(status, 404);
    assert_eq!(names(&body.to_string().replace(&id, ""), &id), None);
    let indicators = json!({"contacts": [{"ref": "x", "email": EMAIL}]});
    let (status, body) = harness
        .gateway
        .send(Method::POST, "/v1/indicators", READ_TOKEN, &indicators)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        names(&body["contacts"][0]["matches"].to_string(), &id),
        None
    );

    let dir = harness.stop().await;
    let store = crate::support::open_store(&dir.path().join("store")).await;
    for needle in NEEDLES {
        let trees = store.trees_containing(needle.as_bytes()).unwrap();
        assert_eq!(trees, Vec::<String>::new(), "{needle:?} survived");
    }
    let trees = store.trees_naming(id.parse().unwrap()).unwrap();
    assert_eq!(trees, Vec::<String>::new(), "the id survived");
}

/// A job that finished more than `export.retention_days` (30 by default) ago is pruned at
/// start (and hourly), rows and header; a younger one stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_export_jobs_are_pruned_after_the_retention() {
    let harness = Harness::start(small_portal()).await;
    let Harness { sim, gateway } = harness;
    let dir = gateway.stop().await;
    let day = 86_400_000;
    let (old, young) = {
        let store = crate::support::open_store(&dir.path().join("store")).await;
        let portal: Value =
            serde_json::from_slice(&store.meta("portal").unwrap().unwrap()).unwrap();
        let hub = portal["hub_id"].as_i64().unwrap();
        let job_finished = |days_ago: i64| {
            let header = Header {
                kind: Kind::Contacts,
                user_email: "seller@internal.example".into(),
                state: State::Done,
                total: 1,
                created_at_ms: now_ms() - 40 * day,
                finished_at_ms: Some(now_ms() - days_ago * day),
                error: None,
                stalled: None,
            };
            let row = Row {
                reference: "r-1".into(),
                fields: [("email".to_owned(), "old@retention.example".to_owned())].into(),
                on_duplicate: None,
                intent_at_ms: None,
                known_at_intent: Vec::new(),
                outcome: None,
            };
            job::enqueue(&store, hub, &header, &[row]).unwrap()
        };
        (job_finished(31), job_finished(29))
    };
    // Sync disabled: pruning does not wait for HubSpot.
    let options = Options::default();
    let gateway = Gateway::start_in(dir, "127.0.0.1:0", "http://unused.example", &options).await;
    let path = |id: u64| format!("/v1/exports/{id}");
    wait_until("the old job is pruned", Duration::from_secs(20), || async {
        gateway.get(&path(old), Some(EXPORT_TOKEN)).await.0 == 404
    })
    .await;
    assert_eq!(gateway.get(&path(young), Some(EXPORT_TOKEN)).await.0, 200);
    let dir = gateway.stop().await;
    let store = crate::support::open_store(&dir.path().join("store")).await;
    let held = store.trees_containing(b"old@retention.example").unwrap();
    // The rows of export jobs: sled's tree, or PostgreSQL's table.
    let rows = if store.path().is_some() {
        "exports.v1"
    } else {
        "export_rows"
    };
    assert_eq!(held, [rows], "the young job's row");
    sim.shutdown().await;
}

/// A privacy deletion while a job exporting the person runs: their row fails with
/// `privacy_deleted` and the job never sends them to HubSpot again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_never_exports_a_person_deleted_meanwhile() {
    let harness = Harness::start(small_portal()).await;
    let control = harness.sim.control();
    let fields = [("email", EMAIL), ("firstname", "Erasmus")];
    let id = control.create(ObjectType::Contacts, fields).unwrap();
    let object = format!("/v1/objects/contacts/{id}");
    wait_until(
        "the contact is mirrored",
        Duration::from_secs(20),
        || async { harness.gateway.get(&object, Some(READ_TOKEN)).await.0 == 200 },
    )
    .await;
    // Slow enough for the deletion to land while the job runs.
    control.set_latency_ms(250);
    let mut records: Vec<Value> = (0..1000)
        .map(|i| json!({"ref": format!("n{i}"), "fields": {"email": format!("n{i}@running.example")}}))
        .collect();
    records.push(json!({"ref": "them", "fields": {"email": EMAIL, "job_title": "Chief"}}));
    let request = json!({"type": "contacts", "user_email": "seller@internal.example",
                         "records": records});
    let (status, started) = harness
        .gateway
        .send(Method::POST, "/v1/exports", EXPORT_TOKEN, &request)
        .await;
    assert_eq!(status, 202, "{started}");
    let job = format!("/v1/exports/{}", started["export_id"].as_str().unwrap());
    wait_until("the first batch", Duration::from_secs(30), || async {
        harness.gateway.get(&job, Some(EXPORT_TOKEN)).await.1["created"] != 0
    })
    .await;
    control.privacy_delete(&id).unwrap();
    wait_until("the job", Duration::from_secs(60), || async {
        harness.gateway.get(&job, Some(EXPORT_TOKEN)).await.1["state"] == "done"
    })
    .await;
    let (_, done) = harness.gateway.get(&job, Some(EXPORT_TOKEN)).await;
    let last = &done["results"][1000];
    assert_eq!(last["action"], "failed", "{last}");
    assert_eq!(last["error"]["code"], "privacy_deleted", "{last}");
    assert_eq!(done["created"], 1000);
    assert_eq!(names(&done.to_string(), &id), None);
    let snapshot = control.snapshot();
    let recreated = snapshot.objects[&ObjectType::Contacts]
        .iter()
        .any(|record| record.properties.get("email").map(String::as_str) == Some(EMAIL));
    assert!(!recreated, "the person was exported again");
    harness.stop().await;
}
