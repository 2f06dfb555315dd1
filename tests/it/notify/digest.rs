//! The e-mail digest, sent to an SMTP server the test runs: the newly matched record, the
//! match rate, the owners whose records changed hands, in a plain text and an HTML part.

use std::time::Duration;

use hubspot_gateway::sim::ObjectType;

use super::receiver::Receiver;
use super::smtp::Sink;
use super::{notify_section, target, wait_for, Harness, READ};
use crate::mirror::{small_portal, wait_until};
use crate::support::{Gateway, ADMIN_TOKEN};

/// Gives a company of the simulated portal another owner and waits until `gateway` mirrors
/// the change (asking at `path` of the record's API path).
async fn move_a_company(
    control: &hubspot_gateway::sim::Control,
    gateway: &Gateway,
    path: impl Fn(String) -> String,
) {
    let moved = control.ids(ObjectType::Companies, "0", 1).remove(0);
    let (_, after) = super::reassign(control, ObjectType::Companies, &moved);
    let mirrored = path(format!("/v1/objects/companies/{moved}"));
    wait_until("the move is mirrored", Duration::from_secs(20), || async {
        let (_, body) = gateway.get(&mirrored, Some(READ)).await;
        body["properties"]["hubspot_owner_id"] == after.as_str()
    })
    .await;
}

/// `POST /v1/notifications/digest`: its status and answer.
async fn send_digest(gateway: &Gateway) -> (u16, serde_json::Value) {
    let body = serde_json::json!({});
    let path = "/v1/notifications/digest";
    gateway
        .send(reqwest::Method::POST, path, ADMIN_TOKEN, &body)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_reports_new_matches_and_owner_moves_by_smtp() {
    let sink = Sink::start().await;
    let matches = Receiver::start_any().await;
    let email = format!(
        "[notify.email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nusername = \"digest-user\"\n\
         password = \"digest-password\"\nfrom = \"CRM gateway <gw@notify.example>\"\n\
         to = [\"sales-ops@notify.example\"]\nschedule = \"weekly fri 09:00\"\n",
        sink.port
    );
    let section = notify_section(
        "",
        &(target("matches", &matches.url, "events = [\"match.first\"]") + &email),
    );
    let harness = Harness::start(small_portal(), section).await;
    let control = harness.sim.control();

    let contact = control.ids(ObjectType::Contacts, "0", 1).remove(0);
    let address = control
        .record(ObjectType::Contacts, &contact)
        .unwrap()
        .properties["email"]
        .clone();
    let (code, _) = harness
        .gateway
        .get(&format!("/v1/contacts/lookup?email={address}"), Some(READ))
        .await;
    assert_eq!(code, 200);
    wait_for(&matches, "match.first", 1, Duration::from_secs(20)).await;

    move_a_company(control, &harness.gateway, |path| path).await;

    let (code, sent) = send_digest(&harness.gateway).await;
    assert_eq!(code, 200, "{sent}");
    assert_eq!(sent["newly_matched"], 1, "{sent}");
    assert_eq!(sent["changed_hands"], 1, "{sent}");
    let mails = sink.mails.lock().clone();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.login.as_deref(), Some("digest-user:digest-password"));
    assert!(mail.from.contains("gw@notify.example"), "{mail:?}");
    assert_eq!(mail.to, ["<sales-ops@notify.example>"]);
    let data = mail.data.replace("=\n", "");
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(
        data.contains("text/plain") && data.contains("text/html"),
        "{data}"
    );
    let person = control
        .record(ObjectType::Contacts, &contact)
        .unwrap()
        .properties["firstname"]
        .clone();
    assert!(
        data.contains(&person),
        "the newly matched contact is named: {data}"
    );
    assert!(
        data.contains("match rate") || data.contains("Match rate"),
        "{data}"
    );

    // The moves were consumed: the next digest has none.
    let (_, again) = send_digest(&harness.gateway).await;
    assert_eq!(again["changed_hands"], 0, "{again}");
    assert_eq!(again["newly_matched"], 0, "{again}");
    let (_, listed) = harness
        .gateway
        .get("/v1/notifications", Some(ADMIN_TOKEN))
        .await;
    assert!(listed["email"]["last_sent_at"].is_string(), "{listed}");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_several_portals_the_digest_has_a_section_for_each() {
    use crate::connect::{connect_through, oauth_options, portal, OTHER_PORTAL, PORTAL};
    use crate::portals::{of, wait_for_backfill_of};

    let sink = Sink::start().await;
    let sim = hubspot_gateway::sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    // The other account's only contact, matched by a lookup there.
    sim.control()
        .create_in(
            OTHER_PORTAL,
            ObjectType::Contacts,
            [("email", "ida@other.example"), ("firstname", "Ida")],
        )
        .unwrap();
    let port = crate::support::process::free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    sim.control()
        .set_webhook_target(Some(crate::support::webhooks_to(&public_url)));
    let mut options = oauth_options(
        &sim,
        Some("IT_SECRETS_KEY"),
        "multiple_portals = true",
        3600,
    );
    options.sections = notify_section(
        "",
        &format!(
            "[notify.email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nfrom = \"gw@notify.example\"\n\
             to = [\"ops@notify.example\"]\nschedule = \"weekly fri 09:00\"\n",
            sink.port
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let gateway = Gateway::start_in(dir, &format!("127.0.0.1:{port}"), &public_url, &options).await;
    let admin = sim
        .control()
        .users()
        .into_iter()
        .find(|user| user.portal_ids.contains(&OTHER_PORTAL))
        .unwrap()
        .email;
    let setup = crate::connect::Setup { sim, gateway };
    let control = setup.sim.control();
    for account in [PORTAL, OTHER_PORTAL] {
        assert_eq!(
            connect_through(&setup.gateway, &admin, account).await.0,
            200
        );
        wait_for_backfill_of(&setup, account).await;
    }

    // A first match in the other account; an owner change in the first.
    let lookup = of("/v1/contacts/lookup?email=ida@other.example", OTHER_PORTAL);
    let (code, found) = setup.gateway.get(&lookup, Some(READ)).await;
    assert_eq!(
        (code, found["matches"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    move_a_company(control, &setup.gateway, |path| of(&path, PORTAL)).await;

    let (code, sent) = send_digest(&setup.gateway).await;
    assert_eq!(code, 200, "{sent}");
    assert_eq!(
        (
            sent["newly_matched"].as_u64(),
            sent["changed_hands"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let mails = sink.mails.lock().clone();
    let data = mails[0].data.replace("=\n", "");
    let first = data
        .find(&format!("HubSpot account {PORTAL}"))
        .expect(&data);
    let other = data
        .find(&format!("HubSpot account {OTHER_PORTAL}"))
        .expect(&data);
    assert!(first < other, "{data}");
    let (first_part, other_part) = data.split_at(other);
    // Plain text first: the first account's section holds the move, the other's the match.
    assert!(first_part[first..].contains("1 moved away"), "{data}");
    assert!(other_part.contains("contacts: 1 newly matched"), "{data}");
    assert!(other_part.contains("Ida"), "{data}");
    setup.gateway.stop().await;
    setup.sim.shutdown().await;
}
