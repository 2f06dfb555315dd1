//! A target that fails: down then back (everything delivered, in order per record), 500 /
//! 410 / no answer / slow answers, a hanging target beside a healthy one, dead notifications
//! redelivered.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hubspot_gateway::sim::ObjectType;

use super::receiver::{Answer, Receiver};
use super::{
    in_order, key, notify_section, owner_chains, target, wait_for, wait_for_finals, Harness,
};
use crate::mirror::{small_portal, wait_until};
use crate::support::process::free_port;
use crate::support::ADMIN_TOKEN;

const WITHIN: Duration = Duration::from_secs(40);

/// Moves each of `records` contacts through `rounds` owners; returns each one's final owner,
/// for those whose final owner is not the one they started with (the mirror may see only the
/// end state of quick changes: a record back with its first owner has not changed hands).
fn reassign(harness: &Harness, records: usize, rounds: usize) -> Vec<(String, String)> {
    let control = harness.sim.control();
    let owners: Vec<String> = control
        .owners()
        .iter()
        .map(|owner| owner.id.to_string())
        .collect();
    let contacts = control.ids(ObjectType::Contacts, "0", records);
    let first: Vec<Option<String>> = contacts
        .iter()
        .map(|id| {
            let record = control.record(ObjectType::Contacts, id).unwrap();
            record.properties.get("hubspot_owner_id").cloned()
        })
        .collect();
    let mut last = Vec::new();
    for round in 0..rounds {
        for (at, contact) in contacts.iter().enumerate() {
            let owner = &owners[(at + round + 1) % owners.len()];
            control
                .set_owner(ObjectType::Contacts, contact, owner)
                .unwrap();
            if round + 1 == rounds && first[at].as_ref() != Some(owner) {
                last.push((contact.clone(), owner.clone()));
            }
        }
    }
    assert!(!last.is_empty());
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_down_then_back_gets_everything_in_order_per_record() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let harness = Harness::start(
        small_portal(),
        notify_section("", &target("down", &url, "")),
    )
    .await;
    let finals = reassign(&harness, 6, 4);
    wait_until("the target is seen failing", WITHIN, || async {
        let status = harness.status("down").await;
        status["state"] == "failing" && status["failed"].as_u64().unwrap() >= 2
    })
    .await;
    // Still mirrored meanwhile: the failing target holds nothing back.
    for (contact, owner) in &finals {
        wait_until("the mirror follows", WITHIN, || async {
            let (_, body) = harness
                .gateway
                .get(
                    &format!("/v1/objects/contacts/{contact}"),
                    Some(super::READ),
                )
                .await;
            body["properties"]["hubspot_owner_id"] == owner.as_str()
        })
        .await;
    }

    let receiver = Receiver::start(&key(), port).await;
    wait_for_finals(&receiver, &finals, WITHIN).await;
    for (record, chain) in owner_chains(&receiver) {
        assert!(in_order(&chain), "{record}: out of order {chain:?}");
    }
    wait_until("the queue drains", WITHIN, || async {
        harness.status("down").await["pending"] == 0
    })
    .await;
    assert_eq!(harness.status("down").await["state"], "ok");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_timeouts_and_slow_answers_are_retried_until_delivered() {
    let receiver = Receiver::start_any().await;
    receiver.script(
        &[
            Answer::Status(500),
            Answer::Status(410),
            Answer::Hang,
            // Well inside timeout_secs (1 s), even on a loaded machine.
            Answer::Slowly(Duration::from_millis(300)),
        ],
        Answer::Ok,
    );
    let harness = Harness::start(
        small_portal(),
        notify_section("max_in_flight = 1", &target("flaky", &receiver.url, "")),
    )
    .await;
    let finals = reassign(&harness, 1, 1);
    let changed = wait_for(&receiver, "owner.changed", 1, WITHIN).await;
    assert_eq!(changed[0]["data"]["owner_after"], finals[0].1.as_str());
    // 500, 410, no answer in timeout_secs (1 s), then the slow answer (within it) delivered.
    assert_eq!(receiver.state.attempts.load(Ordering::SeqCst), 4);
    // The delivery is settled in the outbox after the receiver answered.
    wait_until("the delivery settled", WITHIN, || async {
        harness.status("flaky").await["delivered"] == 1
    })
    .await;
    let status = harness.status("flaky").await;
    assert_eq!(status["failed"], 3, "{status}");
    assert_eq!(status["delivered"], 1, "{status}");
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains("no answer within"),
        "{status}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_target_holds_back_neither_another_target_nor_the_mirror() {
    let hanging = Receiver::start_any().await;
    hanging.script(&[], Answer::Hang);
    let healthy = Receiver::start_any().await;
    let targets = target("hanging", &hanging.url, "") + &target("healthy", &healthy.url, "");
    let section = notify_section("timeout_secs = 30\nmax_in_flight = 2", &targets);
    // timeout_secs set twice: the later key is refused, so build the keys by hand.
    let section = section.replace("timeout_secs = 1\n", "");
    let harness = Harness::start(small_portal(), section).await;
    let finals = reassign(&harness, 8, 2);
    wait_for_finals(&healthy, &finals, WITHIN).await;
    assert!(hanging.arrivals().is_empty());
    // At most max_in_flight requests wait at the hanging target.
    assert!(hanging.state.attempts.load(Ordering::SeqCst) <= 2);
    assert!(harness.status("hanging").await["pending"].as_u64().unwrap() > 0);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_notifications_are_redelivered_on_request() {
    let receiver = Receiver::start_any().await;
    receiver.script(&[], Answer::Status(503));
    let harness = Harness::start(
        small_portal(),
        notify_section("dead_after_secs = 1", &target("dying", &receiver.url, "")),
    )
    .await;
    let finals = reassign(&harness, 2, 1);
    wait_until("both die", WITHIN, || async {
        let status = harness.status("dying").await;
        status["dead"] == 2 && status["pending"] == 0
    })
    .await;
    assert!(receiver.arrivals().is_empty());

    receiver.script(&[], Answer::Ok);
    let (code, body) = harness
        .gateway
        .send(
            reqwest::Method::POST,
            "/v1/notifications/dying/redeliver",
            ADMIN_TOKEN,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["redelivered"], 2, "{body}");
    let changed = wait_for(&receiver, "owner.changed", 2, WITHIN).await;
    let mut afters: Vec<String> = changed
        .iter()
        .map(|body| body["data"]["owner_after"].as_str().unwrap().to_owned())
        .collect();
    let mut expected: Vec<String> = finals.into_iter().map(|(_, owner)| owner).collect();
    afters.sort();
    expected.sort();
    assert_eq!(afters, expected);
    let (code, _) = harness
        .gateway
        .send(
            reqwest::Method::POST,
            "/v1/notifications/nobody/redeliver",
            ADMIN_TOKEN,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(code, 404);
    harness.stop().await;
}
