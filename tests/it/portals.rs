//! Several portals in one deployment (`hubspot.multiple_portals`): each Connect of another
//! account adds that portal with its own connection, sync and mirror; webhooks are applied to
//! the portal they name; every query names its portal (`?portal=` or the header), and no
//! answer mixes portals. Against the simulator's two accounts, over real sockets.

use std::time::Duration;

use hubspot_gateway::sim::{self, SimConfig};
use reqwest::Method;
use serde_json::{json, Value};

use crate::connect::{portal, Setup, OTHER_PORTAL, PORTAL};
use crate::mirror::wait_until;
use crate::support::process::free_port;
use crate::support::{ADMIN_TOKEN, READ_TOKEN};

const MULTIPLE: &str = "multiple_portals = true";
/// Polling far apart: a change made after the backfill reaches the mirror by its webhook.
const POLL_SECS: u64 = 3600;

/// A simulator and a gateway that takes several portals, nothing connected yet.
pub async fn start(config: SimConfig) -> Setup {
    let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = Some("IT_SECRETS_KEY");
    let gateway = Setup::gateway_tuned(&sim, dir, key, free_port(), MULTIPLE, POLL_SECS).await;
    Setup { sim, gateway }
}

pub async fn restart(setup: Setup) -> Setup {
    let port = setup.gateway.addr.port();
    let dir = setup.gateway.stop().await;
    let key = Some("IT_SECRETS_KEY");
    let gateway = Setup::gateway_tuned(&setup.sim, dir, key, port, MULTIPLE, POLL_SECS).await;
    Setup {
        sim: setup.sim,
        gateway,
    }
}

/// `path` asking about `portal`.
pub fn of(path: &str, portal: i64) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}portal={portal}")
}

/// The contact with `email` in `portal`'s mirror, if any.
async fn contact(setup: &Setup, portal: i64, email: &str) -> Option<Value> {
    let path = of(&format!("/v1/contacts/lookup?email={email}"), portal);
    let (status, body) = setup.gateway.get(&path, Some(READ_TOKEN)).await;
    assert_eq!(status, 200, "{path}: {body}");
    let found = body["matches"].as_array().cloned().unwrap_or_default();
    found.into_iter().next()
}

/// Whether `portal`'s mirror has a contact with `email`.
async fn has(setup: &Setup, portal: i64, email: &str) -> bool {
    contact(setup, portal, email).await.is_some()
}

pub async fn wait_for_backfill_of(setup: &Setup, portal: i64) {
    wait_until("the portal's backfill", Duration::from_secs(60), || async {
        let (status, body) = setup
            .gateway
            .get(&of("/v1/status", portal), Some(READ_TOKEN))
            .await;
        status == 200 && backfilled(&body, portal)
    })
    .await;
}

/// Whether `status` (of `GET /v1/status?portal=`) says every type of `portal` is backfilled.
pub fn backfilled(status: &Value, portal: i64) -> bool {
    status["portal_id"] == portal
        && ["contacts", "companies", "deals", "tasks"]
            .iter()
            .all(|kind| !status[kind]["last_full_sync"].is_null())
}

#[tokio::test]
async fn each_connected_portal_has_its_own_mirror_and_every_answer_names_one() {
    let setup = start(portal()).await;
    let control = setup.sim.control();
    // One address in both accounts (a person known to two customers), one in the second only.
    let contacts = sim::ObjectType::Contacts;
    let here = control
        .create(contacts, [("email", "both@shared.example")])
        .unwrap();
    let there = control
        .create_in(OTHER_PORTAL, contacts, [("email", "both@shared.example")])
        .unwrap();
    control
        .create_in(OTHER_PORTAL, contacts, [("email", "only@other.example")])
        .unwrap();
    let (email, _) = setup.user(0);

    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    wait_for_backfill_of(&setup, PORTAL).await;
    let (status, html) = setup.connect_as(&email, OTHER_PORTAL).await;
    assert_eq!(status, 200, "another account is added, not refused: {html}");
    wait_for_backfill_of(&setup, OTHER_PORTAL).await;

    // Unnamed, a query is refused with the portals to choose from; status names the first.
    let path = "/v1/contacts/lookup?email=both@shared.example";
    let (status, body) = setup.gateway.get(path, Some(READ_TOKEN)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "portal_required");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&PORTAL.to_string()) && message.contains(&OTHER_PORTAL.to_string()),
        "{message}"
    );
    let (_, status_body) = setup.gateway.get("/v1/status", Some(READ_TOKEN)).await;
    assert_eq!(status_body["portals"], json!([PORTAL, OTHER_PORTAL]));
    assert_eq!(status_body["portal_id"], PORTAL);
    // /metrics has each portal's series, by its label: here the other account's contacts.
    let (_, metrics) = setup.gateway.get("/metrics", Some(READ_TOKEN)).await;
    let metrics = metrics.as_str().unwrap_or_default();
    for portal in [PORTAL, OTHER_PORTAL] {
        let connected = format!("connection_state{{portal=\"{portal}\",state=\"connected\"}} 1");
        assert!(metrics.contains(&connected), "{metrics}");
    }
    let counted = format!("mirror_records{{portal=\"{OTHER_PORTAL}\",type=\"contacts\"}} 2\n");
    assert!(metrics.contains(&counted), "{metrics}");

    // Each portal answers with its own record, linked to its own account.
    let found_here = contact(&setup, PORTAL, "both@shared.example")
        .await
        .unwrap();
    let found_there = contact(&setup, OTHER_PORTAL, "both@shared.example")
        .await
        .unwrap();
    assert_eq!(found_here["id"], here, "{found_here}");
    assert_eq!(found_there["id"], there, "{found_there}");
    let url = found_there["url"].as_str().unwrap();
    assert!(url.contains(&format!("/{OTHER_PORTAL}/")), "{url}");
    assert!(has(&setup, OTHER_PORTAL, "only@other.example").await);
    assert!(
        !has(&setup, PORTAL, "only@other.example").await,
        "a record of one portal never answers for another"
    );
    let (status, body) = setup
        .gateway
        .get(
            &of("/v1/contacts/lookup?email=x@y.example", 1),
            Some(READ_TOKEN),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("unknown_portal"))
    );
    let (status, body) = setup
        .gateway
        .get("/v1/owners?portal=abc", Some(READ_TOKEN))
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_portal"))
    );

    // The header names the portal as `?portal=` does.
    let response = reqwest::Client::new()
        .get(setup.gateway.url("/v1/owners"))
        .bearer_auth(READ_TOKEN)
        .header("X-HubSpot-Portal-Id", OTHER_PORTAL.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let owners: Value = response.json().await.unwrap();
    let other_owners = control
        .accounts()
        .into_iter()
        .find(|account| account.portal_id == OTHER_PORTAL)
        .unwrap();
    assert_eq!(
        owners["owners"].as_array().unwrap().len(),
        other_owners.user_ids.len(),
        "{owners}"
    );

    // User mappings are each portal's: the same person maps to an owner of each account.
    let owner_in = |portal: i64| {
        let gateway = &setup.gateway;
        async move {
            let (_, owners) = gateway
                .get(&of("/v1/owners", portal), Some(READ_TOKEN))
                .await;
            owners["owners"][0]["id"].as_str().unwrap().to_owned()
        }
    };
    let (first_owner, other_owner) = (owner_in(PORTAL).await, owner_in(OTHER_PORTAL).await);
    assert_ne!(first_owner, other_owner);
    for (portal, owner) in [(PORTAL, &first_owner), (OTHER_PORTAL, &other_owner)] {
        let path = of("/v1/user-mappings/dev@internal.example", portal);
        let body = json!({"owner_id": owner});
        let (status, answer) = setup
            .gateway
            .send(Method::PUT, &path, ADMIN_TOKEN, &body)
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    for (portal, owner) in [(PORTAL, &first_owner), (OTHER_PORTAL, &other_owner)] {
        let (_, list) = setup
            .gateway
            .get(&of("/v1/user-mappings", portal), Some(ADMIN_TOKEN))
            .await;
        let mapped: Vec<&Value> = list["mappings"].as_array().unwrap().iter().collect();
        let dev: Vec<_> = mapped
            .iter()
            .filter(|m| m["email"] == "dev@internal.example")
            .collect();
        assert_eq!(dev.len(), 1, "{list}");
        assert_eq!(dev[0]["owner_id"], json!(owner), "{list}");
    }

    // Export settings are each portal's: skip duplicates in the second account only.
    let settings = "/v1/export/settings";
    let (_, mut changed) = setup
        .gateway
        .get(&of(settings, OTHER_PORTAL), Some(ADMIN_TOKEN))
        .await;
    changed["contacts"]["on_duplicate"] = json!("skip");
    let (status, saved) = setup
        .gateway
        .send(
            Method::PUT,
            &of(settings, OTHER_PORTAL),
            ADMIN_TOKEN,
            &changed,
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    for (portal, expected) in [(PORTAL, "update"), (OTHER_PORTAL, "skip")] {
        let (_, current) = setup
            .gateway
            .get(&of(settings, portal), Some(ADMIN_TOKEN))
            .await;
        assert_eq!(
            current["contacts"]["on_duplicate"], expected,
            "{portal}: {current}"
        );
    }
    let (status, _) = setup.gateway.get(settings, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 400, "several portals: the settings of which?");

    // So is the reconciliation schedule: weekly in the second account only.
    let schedule = "/v1/sync/schedule";
    let weekly = json!({"frequency": "weekly", "day": "friday"});
    let (status, saved) = setup
        .gateway
        .send(
            Method::PUT,
            &of(schedule, OTHER_PORTAL),
            ADMIN_TOKEN,
            &weekly,
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    let expected = vec![
        (json!("interval"), json!("config")),
        (json!("weekly"), json!("override")),
    ];
    assert_eq!(frequencies(&setup).await, expected);
    let (status, _) = setup.gateway.get(schedule, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 400, "several portals: the schedule of which?");

    // A change in the second account reaches its mirror by webhook (polling is an hour
    // apart), and only its mirror.
    control
        .create_in(OTHER_PORTAL, contacts, [("email", "late@other.example")])
        .unwrap();
    wait_until(
        "the webhook applied to the second portal",
        Duration::from_secs(30),
        || async { has(&setup, OTHER_PORTAL, "late@other.example").await },
    )
    .await;
    assert!(!has(&setup, PORTAL, "late@other.example").await);

    // After a restart both portals answer at once, before HubSpot is asked anything.
    let setup = restart(setup).await;
    assert!(has(&setup, OTHER_PORTAL, "only@other.example").await);
    assert!(has(&setup, PORTAL, "both@shared.example").await);
    assert_eq!(frequencies(&setup).await, expected, "kept per portal");

    // Disconnecting one portal leaves the other connected.
    let (status, body) = setup
        .gateway
        .send(
            Method::DELETE,
            &of("/v1/connection", OTHER_PORTAL),
            ADMIN_TOKEN,
            &Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "not_connected");
    let connection = |portal| {
        let gateway = &setup.gateway;
        async move {
            let (_, body) = gateway
                .get(&of("/v1/connection", portal), Some(ADMIN_TOKEN))
                .await;
            body["state"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(connection(PORTAL).await, "connected");
    assert_eq!(connection(OTHER_PORTAL).await, "not_connected");
}

#[tokio::test]
async fn without_multiple_portals_another_account_is_still_refused() {
    let setup = Setup::start(portal()).await;
    let (email, _) = setup.user(0);
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    let (status, html) = setup.connect_as(&email, OTHER_PORTAL).await;
    assert_eq!(status, 409, "{html}");
    let (_, status_body) = setup.gateway.get("/v1/status", Some(READ_TOKEN)).await;
    assert_eq!(status_body["portals"], json!([PORTAL]));
    // With one portal, naming it is allowed and naming another is not.
    let (status, _) = setup
        .gateway
        .get(&of("/v1/owners", PORTAL), Some(READ_TOKEN))
        .await;
    assert_eq!(status, 200);
    let (status, _) = setup
        .gateway
        .get(&of("/v1/owners", OTHER_PORTAL), Some(READ_TOKEN))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_portals_webhooks_journal_feeds_its_own_mirror() {
    let sim = sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let journal = format!("{MULTIPLE}\n[hubspot.journal]\nenabled = true\npoll_interval_ms = 100");
    let (dir, key) = (tempfile::tempdir().unwrap(), Some("IT_SECRETS_KEY"));
    let gateway = Setup::gateway_tuned(&sim, dir, key, free_port(), &journal, POLL_SECS).await;
    // No webhooks: the journal is the only source of changes after the backfill.
    sim.control().set_webhook_target(None);
    let setup = Setup { sim, gateway };
    let (email, _) = setup.user(0);
    for portal in [PORTAL, OTHER_PORTAL] {
        assert_eq!(setup.connect_as(&email, portal).await.0, 200);
        wait_for_backfill_of(&setup, portal).await;
    }
    let control = setup.sim.control();
    wait_until(
        "both portals subscribed",
        Duration::from_secs(30),
        || async {
            let subscriptions = control.journal_subscriptions();
            [PORTAL, OTHER_PORTAL]
                .iter()
                .all(|portal| subscriptions.iter().any(|sub| sub.portal_id == *portal))
        },
    )
    .await;

    let contacts = sim::ObjectType::Contacts;
    control
        .create_in(OTHER_PORTAL, contacts, [("email", "journal@other.example")])
        .unwrap();
    control
        .create(contacts, [("email", "journal@first.example")])
        .unwrap();
    wait_until(
        "each change in its portal's mirror",
        Duration::from_secs(30),
        || async {
            has(&setup, OTHER_PORTAL, "journal@other.example").await
                && has(&setup, PORTAL, "journal@first.example").await
        },
    )
    .await;
    assert!(!has(&setup, PORTAL, "journal@other.example").await);
    assert!(!has(&setup, OTHER_PORTAL, "journal@first.example").await);
    let (_, status) = setup
        .gateway
        .get(&of("/v1/status", OTHER_PORTAL), Some(READ_TOKEN))
        .await;
    assert!(
        status["journal"]["events"].as_u64() > Some(0),
        "{}",
        status["journal"]
    );
}

/// Each portal's reconciliation frequency and where it comes from, the first's first.
async fn frequencies(setup: &Setup) -> Vec<(Value, Value)> {
    let mut found = Vec::new();
    for portal in [PORTAL, OTHER_PORTAL] {
        let path = of("/v1/sync/schedule", portal);
        let (_, current) = setup.gateway.get(&path, Some(ADMIN_TOKEN)).await;
        found.push((current["frequency"].clone(), current["source"].clone()));
    }
    found
}
