//! Removing a portal from a deployment of several (`DELETE /v1/portals/{id}`): its answers
//! stop at once, its tokens are revoked, everything kept for it is deleted (mirror, user
//! mappings, settings, notifications not yet delivered), the other portal keeps all of its
//! own, and a removed portal stays removed across a restart. Against the simulator's two
//! accounts, over real sockets.

use std::time::Duration;

use hubspot_gateway::sim;
use reqwest::Method;
use serde_json::{json, Value};

use crate::connect::{oauth_options, portal, Setup, OTHER_PORTAL, PORTAL};
use crate::mirror::wait_until;
use crate::notify::receiver::{Answer, Receiver};
use crate::notify::{notify_section, reassign, target};
use crate::portals::{of, restart, start, wait_for_backfill_of};
use crate::support::process::free_port;
use crate::support::{webhooks_to, Gateway, ADMIN_TOKEN, READ_TOKEN};

const SCHEDULE: &str = "/v1/sync/schedule";

async fn remove(setup: &Setup, portal: i64) -> (u16, Value) {
    let path = format!("/v1/portals/{portal}");
    setup
        .gateway
        .send(Method::DELETE, &path, ADMIN_TOKEN, &Value::Null)
        .await
}

/// Waits until no removal is pending and the deployment mirrors exactly `portals`.
async fn wait_for_portals(setup: &Setup, portals: Value) {
    let what = format!("portals {portals}, nothing being removed");
    wait_until(&what, Duration::from_secs(30), || async {
        let (_, body) = setup.gateway.get("/v1/status", Some(READ_TOKEN)).await;
        body["removing"] == json!([]) && body["portals"] == portals
    })
    .await;
}

async fn contact_ids(setup: &Setup, portal: i64, email: &str) -> Vec<Value> {
    let path = of(&format!("/v1/contacts/lookup?email={email}"), portal);
    let (status, body) = setup.gateway.get(&path, Some(READ_TOKEN)).await;
    assert_eq!(status, 200, "{path}: {body}");
    let found = body["matches"].as_array().cloned().unwrap_or_default();
    found.iter().map(|found| found["id"].clone()).collect()
}

async fn mapping(setup: &Setup, portal: i64) -> Value {
    let (_, body) = setup
        .gateway
        .get(&of("/v1/user-mappings", portal), Some(ADMIN_TOKEN))
        .await;
    let mappings = body["mappings"].as_array().cloned().unwrap_or_default();
    mappings
        .into_iter()
        .find(|mapping| mapping["email"] == "dev@internal.example")
        .map_or(Value::Null, |mapping| mapping["owner_id"].clone())
}

async fn schedule_source(setup: &Setup, portal: i64) -> Value {
    let (status, body) = setup
        .gateway
        .get(&of(SCHEDULE, portal), Some(ADMIN_TOKEN))
        .await;
    assert_eq!(status, 200, "{body}");
    body["source"].clone()
}

/// Whether each refresh token a Connect to `portal` got is still usable at HubSpot (the
/// simulator's own configured token aside).
fn connected_tokens(setup: &Setup, portal: i64) -> Vec<bool> {
    let configured = &setup.sim.config().refresh_token;
    let tokens = setup.sim.control().refresh_tokens();
    tokens
        .into_iter()
        .filter(|token| token.portal_id == portal && &token.token != configured)
        .map(|token| token.usable)
        .collect()
}

#[tokio::test]
async fn a_removed_portal_leaves_nothing_behind_and_the_other_keeps_everything() {
    let setup = start(portal()).await;
    let control = setup.sim.control();
    let contacts = sim::ObjectType::Contacts;
    let leaving = control
        .create(contacts, [("email", "leaving@first.example")])
        .unwrap();
    control
        .create_in(OTHER_PORTAL, contacts, [("email", "stays@other.example")])
        .unwrap();
    let (email, _) = setup.user(0);
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    wait_for_backfill_of(&setup, PORTAL).await;
    assert_eq!(setup.connect_as(&email, OTHER_PORTAL).await.0, 200);
    wait_for_backfill_of(&setup, OTHER_PORTAL).await;
    assert_eq!(
        contact_ids(&setup, PORTAL, "leaving@first.example").await,
        [json!(leaving)]
    );

    // Each portal: a user mapping and a schedule of its own.
    for portal in [PORTAL, OTHER_PORTAL] {
        let (_, owners) = setup
            .gateway
            .get(&of("/v1/owners", portal), Some(READ_TOKEN))
            .await;
        let owner = owners["owners"][0]["id"].clone();
        let path = of("/v1/user-mappings/dev@internal.example", portal);
        let body = json!({"owner_id": owner});
        let (status, answer) = setup
            .gateway
            .send(Method::PUT, &path, ADMIN_TOKEN, &body)
            .await;
        assert_eq!(status, 200, "{answer}");
        let weekly = json!({"frequency": "weekly", "day": "tuesday"});
        let (status, answer) = setup
            .gateway
            .send(Method::PUT, &of(SCHEDULE, portal), ADMIN_TOKEN, &weekly)
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    let other_mapping = mapping(&setup, OTHER_PORTAL).await;
    assert!(!other_mapping.is_null());
    assert_eq!(connected_tokens(&setup, PORTAL), [true]);

    // The first portal goes: refused at once, then nothing of it is left.
    let (status, body) = remove(&setup, PORTAL).await;
    assert_eq!(
        (status, &body),
        (202, &json!({"portal_id": PORTAL, "state": "removing"}))
    );
    let path = of("/v1/contacts/lookup?email=leaving@first.example", PORTAL);
    let (status, body) = setup.gateway.get(&path, Some(READ_TOKEN)).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("unknown_portal")),
        "{body}"
    );
    wait_for_portals(&setup, json!([OTHER_PORTAL])).await;
    assert_eq!(
        connected_tokens(&setup, PORTAL),
        [false],
        "its refresh token is revoked"
    );

    // The other portal keeps its mirror, mapping and schedule; unnamed requests mean it.
    assert_eq!(
        contact_ids(&setup, OTHER_PORTAL, "stays@other.example")
            .await
            .len(),
        1
    );
    assert_eq!(mapping(&setup, OTHER_PORTAL).await, other_mapping);
    assert_eq!(schedule_source(&setup, OTHER_PORTAL).await, "override");
    let (status, _) = setup.gateway.get("/v1/owners", Some(READ_TOKEN)).await;
    assert_eq!(status, 200, "one portal left: naming it is optional");

    // While it was gone the contact was deleted in HubSpot, which no sync told the gateway.
    // Connected again, the portal starts from nothing: a mirror kept from before would still
    // have that contact (a backfill does not delete), and its mapping and schedule.
    control.archive(contacts, &leaving).unwrap();
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    wait_for_backfill_of(&setup, PORTAL).await;
    assert!(contact_ids(&setup, PORTAL, "leaving@first.example")
        .await
        .is_empty());
    assert!(
        mapping(&setup, PORTAL).await.is_null(),
        "its user mapping went with it"
    );
    assert_eq!(schedule_source(&setup, PORTAL).await, "config");
    assert_eq!(schedule_source(&setup, OTHER_PORTAL).await, "override");

    // An added portal goes the same way, and stays gone across a restart.
    let (status, _) = remove(&setup, OTHER_PORTAL).await;
    assert_eq!(status, 202);
    wait_for_portals(&setup, json!([PORTAL])).await;
    assert_eq!(connected_tokens(&setup, OTHER_PORTAL), [false]);
    let setup = restart(setup).await;
    wait_for_portals(&setup, json!([PORTAL])).await;
    let path = of(
        "/v1/contacts/lookup?email=stays@other.example",
        OTHER_PORTAL,
    );
    let (status, body) = setup.gateway.get(&path, Some(READ_TOKEN)).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("unknown_portal")),
        "{body}"
    );

    // Naming no portal the deployment has, or none at all.
    let (status, body) = remove(&setup, OTHER_PORTAL).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("unknown_portal")),
        "{body}"
    );
    let (status, body) = remove(&setup, 0).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_portal")),
        "{body}"
    );
}

/// Like `portals::start`, with `[notify]` `section`.
async fn start_notifying(section: String) -> Setup {
    let sim = sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    sim.control()
        .set_webhook_target(Some(webhooks_to(&public_url)));
    let mut options = oauth_options(
        &sim,
        Some("IT_SECRETS_KEY"),
        "multiple_portals = true",
        3600,
    );
    options.sections = section;
    let listen = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start_in(dir, &listen, &public_url, &options).await;
    Setup { sim, gateway }
}

/// Target `t`'s waiting notifications.
async fn pending(setup: &Setup) -> u64 {
    let (status, body) = setup
        .gateway
        .get("/v1/notifications", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(status, 200, "{body}");
    body["targets"][0]["pending"].as_u64().unwrap()
}

async fn wait_for_pending(setup: &Setup, count: u64) {
    let what = format!("{count} notifications waiting");
    wait_until(&what, Duration::from_secs(30), || async {
        pending(setup).await == count
    })
    .await;
}

#[tokio::test]
async fn a_removed_portals_waiting_notifications_are_never_delivered() {
    let receiver = Receiver::start_any().await;
    receiver.script(&[], Answer::Status(503));
    let events = "events = [\"record.created\", \"owner.changed\"]\ntypes = [\"contacts\"]";
    let setup = start_notifying(notify_section("", &target("t", &receiver.url, events))).await;
    let (email, _) = setup.user(0);
    for portal in [PORTAL, OTHER_PORTAL] {
        assert_eq!(setup.connect_as(&email, portal).await.0, 200);
        wait_for_backfill_of(&setup, portal).await;
    }

    // While the target is down, both portals change: the leaving one's creations interleaved
    // with a contact of the staying one created and given another owner twice.
    let control = setup.sim.control();
    let contacts = sim::ObjectType::Contacts;
    let owner = control.owners()[0].id.to_string();
    let mut waiting = 0;
    let mut staying = String::new();
    for at in 0..3 {
        let email = format!("leaving{at}@other.example");
        control
            .create_in(OTHER_PORTAL, contacts, [("email", email.as_str())])
            .unwrap();
        if at == 0 {
            let properties = [
                ("email", "stays@first.example"),
                ("hubspot_owner_id", &owner),
            ];
            staying = control.create(contacts, properties).unwrap();
        } else {
            reassign(control, contacts, &staying);
        }
        // One at a time: each change its own notification, none coalesced.
        waiting += 2;
        wait_for_pending(&setup, waiting).await;
    }
    let tried = receiver
        .state
        .attempts
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        tried > 0,
        "the deliverer has read the waiting notifications"
    );

    let (status, _) = remove(&setup, OTHER_PORTAL).await;
    assert_eq!(status, 202);
    wait_for_portals(&setup, json!([PORTAL])).await;
    assert_eq!(pending(&setup).await, 3, "the staying portal's");

    // The target comes back: it gets the staying portal's notifications, in order, and none
    // of the removed portal's.
    receiver.script(&[], Answer::Ok);
    wait_for_pending(&setup, 0).await;
    let arrived: Vec<(Value, Value, Value)> = receiver
        .arrivals()
        .into_iter()
        .map(|arrival| {
            let data = &arrival.body["data"];
            (
                data["portal_id"].clone(),
                data["id"].clone(),
                arrival.body["type"].clone(),
            )
        })
        .collect();
    let expected = ["record.created", "owner.changed", "owner.changed"]
        .map(|kind| (json!(PORTAL), json!(staying), json!(kind)));
    assert_eq!(arrived, expected);
    let chain = crate::notify::owner_chains(&receiver);
    assert!(
        chain
            .values()
            .all(|changes| crate::notify::in_order(changes)),
        "{chain:?}"
    );
    setup.sim.shutdown().await;
}
