//! The Webhooks Journal's files, retention and fault switches: URLs that expire, files that
//! are broken, 3 days passing, 429 / 5xx storms, the rate limit, foreign events, and
//! webhooks and the journal both carrying a change.

use std::time::Duration;

use hubspot_gateway::sim::{
    FileCorruption, JournalConfig, ObjectType, RateLimit, SimConfig, WebhookTarget,
};
use serde_json::Value;

use super::journal_app::{answer, App, ALL_SCOPES};
use super::receiver::{self, Received, SECRET};
use super::Sim;

const DAY: Duration = Duration::from_secs(86_400);

/// A sim with everything subscribed and one file holding a created contact; its entry.
async fn one_file(sim: &Sim) -> (App<'_>, Value) {
    let app = App::new(sim, ALL_SCOPES).await;
    sim.handle.control().journal_subscribe_all();
    sim.handle
        .control()
        .create(ObjectType::Contacts, [("firstname", "Filed")])
        .unwrap();
    sim.handle.control().flush_journal();
    let entry = app.get(&app.local("latest")).await.json();
    (app, entry)
}

fn s3_code(answer: &super::journal_app::Answer) -> String {
    let xml = String::from_utf8_lossy(&answer.bytes);
    xml.split("<Code>")
        .nth(1)
        .and_then(|rest| rest.split("</Code>").next())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn files_download_without_auth_until_their_url_expires() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let (app, entry) = one_file(&sim).await;
    let file = app.file(&entry).await;
    assert_eq!(file.status, 200);
    let body = file.json();
    assert_eq!(body["offset"], entry["currentOffset"]);
    assert!(body["publishedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["journalEvents"][0]["action"], "CREATE");
    let url = entry["url"].as_str().unwrap();
    let with_auth = answer(sim.http.get(url).bearer_auth(&app.token)).await;
    assert_eq!(
        (with_auth.status, s3_code(&with_auth).as_str()),
        (400, "InvalidArgument")
    );
    let forged = answer(sim.http.get(url.replace("Signature=", "Signature=0"))).await;
    assert_eq!(
        (forged.status, s3_code(&forged).as_str()),
        (403, "SignatureDoesNotMatch")
    );
    sim.handle.control().set_journal_url_ttl(Duration::ZERO);
    let stale = app.get(&app.local("latest")).await.json();
    let expired = app.file(&stale).await;
    assert_eq!(
        (expired.status, s3_code(&expired).as_str()),
        (403, "AccessDenied")
    );
    assert_eq!(
        app.file(&entry).await.status,
        200,
        "URLs issued before keep their TTL"
    );
}

#[tokio::test]
async fn three_days_later_old_offsets_are_gone() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let control = sim.handle.control();
    control.set_journal_url_ttl(4 * DAY);
    let (app, entry) = one_file(&sim).await;
    let offset = entry["currentOffset"].as_str().unwrap().to_string();
    let next = app.local(&format!("offset/{offset}/next"));
    control.age_journal(2 * DAY);
    assert_eq!(app.get(&next).await.status, 204, "2 days old: still there");
    let published = app.file(&entry).await.json()["publishedAt"]
        .as_str()
        .unwrap()
        .to_string();
    let age_ms =
        hubspot_gateway::time::now_ms() - hubspot_gateway::time::parse_ms(&published).unwrap();
    assert!(
        age_ms >= 2 * 86_400_000,
        "publishedAt moved back by the aging: {published}"
    );
    control
        .create(ObjectType::Contacts, [("firstname", "Fresh")])
        .unwrap();
    control.flush_journal();
    control.age_journal(DAY + Duration::from_secs(1));
    let gone = app.get(&next).await;
    assert_eq!(
        (gone.status, gone.json()["category"].as_str()),
        (404, Some("OBJECT_NOT_FOUND"))
    );
    let file = app.file(&entry).await;
    assert_eq!((file.status, s3_code(&file).as_str()), (404, "NoSuchKey"));
    let earliest = app.get(&app.local("earliest")).await.json();
    assert_ne!(
        earliest["currentOffset"], entry["currentOffset"],
        "the fresher file remains"
    );
    assert_eq!(control.journal_offsets().len(), 1);
}

#[tokio::test]
async fn storms_and_the_rate_limit_answer_before_the_handler() {
    let sim = Sim::start(SimConfig {
        journal: JournalConfig {
            rate_limit: Some(RateLimit {
                max: 5,
                interval_ms: 60_000,
            }),
            ..JournalConfig::default()
        },
        ..SimConfig::default()
    })
    .await;
    let (app, control) = (App::new(&sim, ALL_SCOPES).await, sim.handle.control());
    let latest = app.local("latest");
    control.journal_force_5xx(3);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(app.get(&latest).await.status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [502, 503, 504]);
    control.journal_force_429s(1, Duration::from_secs(7));
    let limited = app.get(&latest).await;
    assert_eq!(
        (limited.status, limited.json()["errorType"].as_str()),
        (429, Some("RATE_LIMIT"))
    );
    assert_eq!(limited.headers["retry-after"], "7");
    let mut passed = 0;
    let window = loop {
        let answer = app.get(&latest).await;
        if answer.status == 429 {
            break answer;
        }
        passed += 1;
    };
    assert_eq!(passed, 5, "the storms did not use the window");
    let retry_after: u64 = window.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        sim.get("/crm/v3/owners").await.0,
        200,
        "the CRM's limits are separate"
    );
    control.set_journal_rate_limit(None);
    assert_eq!(app.get(&latest).await.status, 204);
}

#[tokio::test]
async fn broken_files_and_foreign_events() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let control = sim.handle.control();
    let (app, entry) = one_file(&sim).await;
    let parses =
        |answer: super::journal_app::Answer| serde_json::from_slice::<Value>(&answer.bytes).is_ok();
    control.corrupt_journal_downloads(1, FileCorruption::NotJson);
    assert!(
        !parses(app.file(&entry).await),
        "the next download is broken"
    );
    assert!(parses(app.file(&entry).await), "the one after is sound");
    let offset = entry["currentOffset"].as_str().unwrap();
    control
        .corrupt_journal_entry(offset, Some(FileCorruption::Truncated))
        .unwrap();
    assert!(
        !parses(app.file(&entry).await) && !parses(app.file(&entry).await),
        "broken for good"
    );
    control.corrupt_journal_entry(offset, None).unwrap();
    assert!(parses(app.file(&entry).await), "repaired");
    control.corrupt_journal_files(1, FileCorruption::Truncated);
    control
        .create(ObjectType::Contacts, [("firstname", "Cut")])
        .unwrap();
    control.flush_journal();
    let cut = app.get(&app.local("latest")).await.json();
    let truncated = app.file(&cut).await;
    assert_eq!(truncated.status, 200);
    assert!(!truncated.bytes.is_empty() && !parses(truncated));
    control.journal_foreign_event(99_999);
    control.flush_journal();
    let foreign = app.get(&app.local("latest")).await.json();
    let events = app.file(&foreign).await.json()["journalEvents"].clone();
    assert_eq!(
        events[0]["portalId"], 99_999,
        "written into our local journal all the same"
    );
}

#[tokio::test]
async fn webhooks_and_the_journal_both_get_the_change() {
    let received = std::sync::Arc::new(Received::default());
    let url = receiver::start(received.clone()).await;
    let target = WebhookTarget {
        retry_base_ms: 5,
        ..WebhookTarget::new(url, SECRET)
    };
    let sim = Sim::unlimited(SimConfig {
        webhook: Some(target),
        ..SimConfig::default()
    })
    .await;
    let app = App::new(&sim, ALL_SCOPES).await;
    sim.handle.control().journal_subscribe_all();
    let id = sim
        .handle
        .control()
        .create(ObjectType::Deals, [("dealname", "Both")])
        .unwrap();
    let id: u64 = id.parse().unwrap();
    let hooks = received
        .wait_for(|events| {
            events
                .iter()
                .any(|event| event["subscriptionType"] == "deal.creation")
        })
        .await;
    assert!(hooks.iter().any(|event| event["objectId"] == id));
    let journaled = app.wait_events(2).await;
    assert!(journaled
        .iter()
        .any(|event| event["action"] == "CREATE" && event["objectId"] == id));
    let update = journaled
        .iter()
        .find(|event| event["action"] == "UPDATE")
        .expect("an UPDATE");
    assert_eq!(update["propertyChanges"]["dealname"], "Both");
}
