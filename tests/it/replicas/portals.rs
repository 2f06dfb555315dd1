//! Several portals on replicas: a Connect of another account at a follower adds that portal
//! for every replica; the leader syncs it and any replica answers for it.

use std::time::Duration;

use hubspot_gateway::kit::postgres::Cluster;
use hubspot_gateway::sim;
use serde_json::Value;

use super::leads;
use crate::connect::{connect_through, oauth_options, portal, OTHER_PORTAL, PORTAL};
use crate::mirror::wait_until;
use crate::portals::of;
use crate::support::process::free_port;
use crate::support::{webhooks_to, Gateway, Options, READ_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_connected_at_a_follower_is_synced_by_the_leader() {
    let url = Cluster::shared().fresh_database().await.unwrap();
    let (port, other_port) = (free_port(), free_port());
    let public_url = format!("http://127.0.0.1:{port}");
    let sim = sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    sim.control()
        .set_webhook_target(Some(webhooks_to(&public_url)));
    sim.control()
        .create_in(
            OTHER_PORTAL,
            sim::ObjectType::Contacts,
            [("email", "only@other.example")],
        )
        .unwrap();
    let options = Options {
        database_url: Some(url),
        ..oauth_options(&sim, Some("IT_SECRETS_KEY"), "multiple_portals = true", 1)
    };
    let first = Gateway::start_options(&format!("127.0.0.1:{port}"), &public_url, &options).await;
    let other_url = format!("http://127.0.0.1:{other_port}");
    let second =
        Gateway::start_options(&format!("127.0.0.1:{other_port}"), &other_url, &options).await;
    wait_until("a leader", Duration::from_secs(15), || async {
        leads(&first).await || leads(&second).await
    })
    .await;
    let (leader, follower) = if leads(&first).await {
        (first, second)
    } else {
        (second, first)
    };
    // A HubSpot user of both accounts.
    let users = sim.control().users();
    let both = [PORTAL, OTHER_PORTAL];
    let user = users
        .iter()
        .find(|user| both.iter().all(|p| user.portal_ids.contains(p)));
    let email = user.unwrap().email.clone();

    assert_eq!(connect_through(&leader, &email, PORTAL).await.0, 200);
    assert_eq!(
        connect_through(&follower, &email, OTHER_PORTAL).await.0,
        200
    );
    wait_until(
        "the leader's sync of the portal connected at the follower",
        Duration::from_secs(60),
        || async {
            let (status, body) = leader
                .get(&of("/v1/status", OTHER_PORTAL), Some(READ_TOKEN))
                .await;
            status == 200 && !body["contacts"]["last_full_sync"].is_null()
        },
    )
    .await;
    for gateway in [&leader, &follower] {
        let path = of("/v1/contacts/lookup?email=only@other.example", OTHER_PORTAL);
        let (status, body) = gateway.get(&path, Some(READ_TOKEN)).await;
        assert_eq!(
            (status, &body["in_crm"]),
            (200, &Value::Bool(true)),
            "{body}"
        );
        let path = of("/v1/contacts/lookup?email=only@other.example", PORTAL);
        let (_, body) = gateway.get(&path, Some(READ_TOKEN)).await;
        assert_eq!(body["in_crm"], false, "{body}");
        let (_, status) = gateway.get("/v1/status", Some(READ_TOKEN)).await;
        assert_eq!(status["portals"], serde_json::json!([PORTAL, OTHER_PORTAL]));
    }
}
