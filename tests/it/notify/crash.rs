//! kill -9 with notifications in flight, three times at different points: after the last
//! restart every change has arrived, in order per record; a notification that arrived twice
//! did so under the same webhook-id.

use std::collections::HashMap;
use std::time::Duration;

use hubspot_gateway::sim::{self, ObjectType, SimConfig, WebhookTarget};

use super::receiver::{Answer, Receiver};
use super::{in_order, owner_chains, target};
use crate::mirror::wait_until;
use crate::support::process::{sim_config_file, Process};
use crate::support::{answer, ADMIN_TOKEN, CLIENT_SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_notifications_in_flight_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim::start(
        SimConfig {
            owners: 6,
            contacts: 200,
            companies: 0,
            deals: 0,
            tasks: 0,
            access_token: "pat-na1-it".into(),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let receiver = Receiver::start_any().await;
    // Slow answers: a kill finds several in flight.
    receiver.script(&[], Answer::Slowly(Duration::from_millis(40)));
    let (config, port) = sim_config_file(dir.path(), &sim.base_url(), &["owners", "contacts"]);
    let section = super::notify_section("max_in_flight = 4", &target("crash", &receiver.url, ""));
    let base = format!("http://127.0.0.1:{port}");
    // Webhooks come straight from the simulator: they are signed for where they are sent.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "public_url = \"https://h.example\"",
        &format!("public_url = \"{base}\""),
    ) + "\n"
        + &section;
    std::fs::write(&config, text).unwrap();
    let mut hook = WebhookTarget::new(format!("{base}/webhooks/hubspot"), CLIENT_SECRET);
    hook.retry_base_ms = 50;

    let mut daemon = Process::serve(&config);
    daemon.wait_ready(&base).await;
    let http = reqwest::Client::new();
    wait_until("the first full sync", Duration::from_secs(60), || async {
        let response = http
            .get(format!("{base}/v1/status"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await;
        let (_, status) = answer(response.unwrap()).await;
        !status["contacts"]["last_full_sync"].is_null()
    })
    .await;
    let control = sim.control();
    control.set_webhook_target(Some(hook));
    let owners: Vec<String> = control
        .owners()
        .iter()
        .map(|owner| owner.id.to_string())
        .collect();
    let contacts = control.ids(ObjectType::Contacts, "0", 40);
    let first: HashMap<String, Option<String>> = contacts
        .iter()
        .map(|id| {
            let record = control.record(ObjectType::Contacts, id).unwrap();
            (
                id.clone(),
                record.properties.get("hubspot_owner_id").cloned(),
            )
        })
        .collect();
    let mut finals = HashMap::new();
    for round in 0..3 {
        for (at, contact) in contacts.iter().enumerate() {
            let owner = owners[(at + round + 1) % owners.len()].clone();
            control
                .set_owner(ObjectType::Contacts, contact, &owner)
                .unwrap();
            finals.insert(contact.clone(), owner);
        }
        // Kill once some of this round's notifications arrived and others are in flight.
        let arrived = receiver.arrivals().len();
        wait_until("some arrive", Duration::from_secs(30), || async {
            receiver.arrivals().len() >= arrived + 5 + round * 7
        })
        .await;
        daemon.child.kill().unwrap();
        daemon.wait_exit().await;
        daemon = Process::serve(&config);
        daemon.wait_ready(&base).await;
    }

    // A record back with its first owner may not have changed hands in the mirror.
    let finals: Vec<(String, String)> = finals
        .into_iter()
        .filter(|(contact, owner)| first[contact].as_ref() != Some(owner))
        .collect();
    super::wait_for_finals(&receiver, &finals, Duration::from_secs(60)).await;
    for (record, chain) in owner_chains(&receiver) {
        assert!(in_order(&chain), "{record}: out of order {chain:?}");
    }
    // The same notification (same body, stamped when its change was made) under one id only.
    let mut ids: HashMap<String, String> = HashMap::new();
    for arrival in receiver.arrivals() {
        let id = ids
            .entry(arrival.body.to_string())
            .or_insert(arrival.id.clone());
        assert_eq!(
            *id, arrival.id,
            "notified twice under different ids: {}",
            arrival.body
        );
    }
    daemon.signal(libc::SIGTERM);
    daemon.wait_exit().await;
    sim.shutdown().await;
}
