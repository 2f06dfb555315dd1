//! A target removed from the config: what was queued for it is deleted when the gateway
//! starts leading (on PostgreSQL the daemon declares its targets before it holds the lease,
//! so the deletion waits for it), and nothing is delivered to it any more.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hubspot_gateway::sim::ObjectType;

use super::receiver::{Answer, Receiver};
use super::{notify_section, target, Harness};
use crate::mirror::{small_portal, wait_until};
use crate::support::open_store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_removed_from_the_config_leaves_nothing_queued() {
    let receiver = Receiver::start_any().await;
    // Refused: what is queued stays queued.
    receiver.script(&[], Answer::Status(503));
    let both = target("kept", &receiver.url, "") + &target("removed", &receiver.url, "");
    let harness = Harness::start(small_portal(), notify_section("", &both)).await;
    let control = harness.sim.control();
    let owners = control.owners();
    for contact in control.ids(ObjectType::Contacts, "0", 3) {
        let record = control.record(ObjectType::Contacts, &contact).unwrap();
        let current = record.properties.get("hubspot_owner_id").cloned();
        let other = owners
            .iter()
            .map(|owner| owner.id.to_string())
            .find(|id| Some(id) != current.as_ref())
            .unwrap();
        control
            .set_owner(ObjectType::Contacts, &contact, &other)
            .unwrap();
    }
    wait_until("notifications queued", Duration::from_secs(30), || async {
        harness.status("removed").await["pending"].as_u64() > Some(0)
    })
    .await;

    let only_kept = notify_section("", &target("kept", &receiver.url, ""));
    let harness = harness.restart(only_kept).await;
    // Deliveries start once the leader has configured its targets (on PostgreSQL after the
    // restarted gateway takes the lease): a new attempt for the kept target shows it did.
    let attempts = || receiver.state.attempts.load(Ordering::Relaxed);
    let before = attempts();
    wait_until(
        "the leader delivering again",
        Duration::from_secs(30),
        || async { attempts() > before },
    )
    .await;
    let (_, body) = harness
        .gateway
        .get("/v1/notifications", Some(crate::support::ADMIN_TOKEN))
        .await;
    let names: Vec<&str> = body["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|target| target["name"].as_str())
        .collect();
    assert_eq!(names, ["kept"]);
    let kept = harness.status("kept").await["pending"].as_u64().unwrap();
    assert!(kept > 0, "the kept target's stay");

    let dir = harness.gateway.stop().await;
    let opened = open_store(&dir.path().join("store")).await;
    let outbox = opened.outbox();
    // Declared again (deleting nothing), so the removed target's rows can be counted.
    outbox
        .configure(&[("kept".into(), 10_000), ("removed".into(), 10_000)])
        .unwrap();
    let removed = outbox.status("removed").unwrap().unwrap();
    assert_eq!((removed.pending, removed.dead), (0, 0), "{removed:?}");
    assert_eq!(outbox.status("kept").unwrap().unwrap().pending, kept);
    harness.sim.shutdown().await;
}
