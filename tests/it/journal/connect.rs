//! Subscriptions follow the connection: made on Connect, removed on Disconnect, made again
//! on the next Connect (the stretch in between, which no subscription covered, is a gap and
//! reconciled).

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::journal;
use crate::connect::{self, store_lines, PORTAL};
use crate::mirror::wait_until;
use crate::support::process::free_port;
use crate::support::{far_reconcile_window, Gateway, Options, ADMIN_TOKEN};

fn subscribed(setup: &connect::Setup) -> usize {
    let subscriptions = setup.sim.control().journal_subscriptions();
    subscriptions
        .iter()
        .filter(|sub| sub.portal_id == PORTAL)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_made_on_connect_and_removed_on_disconnect() {
    let sim = hubspot_gateway::sim::start(connect::portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = free_port();
    let options = Options {
        // `client_id` comes with `connect_client_id`.
        hubspot: format!(
            "api_base = \"{0}\"\napp_base = \"{0}\"\nmax_retry_secs = 3\n\
             [hubspot.journal]\nenabled = true\npoll_interval_ms = 100\n",
            sim.base_url()
        ),
        store: store_lines(Some("IT_SECRETS_KEY")),
        sync: Some(far_reconcile_window()),
        connect_client_id: Some(sim.config().client_id.clone()),
        ..Options::default()
    };
    let listen = format!("127.0.0.1:{port}");
    let public_url = format!("http://{listen}");
    let gateway =
        Gateway::start_in(tempfile::tempdir().unwrap(), &listen, &public_url, &options).await;
    let setup = connect::Setup { sim, gateway };
    assert_eq!(subscribed(&setup), 0, "nothing before Connect");
    let (email, _) = setup.user(0);
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    setup.wait_for_backfill().await;
    wait_until("subscribed on connect", Duration::from_secs(30), || async {
        subscribed(&setup) > 0
    })
    .await;
    let listed = journal(&setup.gateway).await["subscriptions"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(listed, subscribed(&setup));

    let (status, body) = setup
        .gateway
        .send(Method::DELETE, "/v1/connection", ADMIN_TOKEN, &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    wait_until(
        "unsubscribed on disconnect",
        Duration::from_secs(30),
        || async { subscribed(&setup) == 0 },
    )
    .await;
    wait_until("status lists none", Duration::from_secs(10), || async {
        journal(&setup.gateway).await["subscriptions"] == serde_json::json!([])
    })
    .await;

    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    wait_until("subscribed again", Duration::from_secs(30), || async {
        subscribed(&setup) > 0
    })
    .await;
    wait_until(
        "the uncovered stretch noted as a gap",
        Duration::from_secs(10),
        || async { journal(&setup.gateway).await["gaps"] == 1 },
    )
    .await;
    let status = journal(&setup.gateway).await;
    assert_eq!(status["last_gap"], "resubscribed", "{status}");
    setup.gateway.stop().await;
    setup.sim.shutdown().await;
}
