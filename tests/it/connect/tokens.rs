//! Tokens after Connect: HubSpot's token endpoint down during a refresh, a revoked refresh
//! token, a rotated one saved before use, refreshes racing, a changed `store.secrets_key`.

use std::sync::Arc;
use std::time::Duration;

use hubspot_gateway::hubspot::{self, ClientConfig, CredentialEvents, Credentials};
use hubspot_gateway::secret::Secret;
use hubspot_gateway::sim::browser::Browser;
use reqwest::Method;
use serde_json::{json, Value};

use super::{portal, Setup, PORTAL};
use crate::mirror::wait_until;
use crate::support::{ADMIN_TOKEN, READ_TOKEN};

fn token_calls(setup: &Setup) -> u64 {
    setup
        .sim
        .stats()
        .calls
        .get("POST /oauth/v1/token")
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_endpoint_down_during_a_refresh_is_waited_out_and_nothing_is_lost() {
    let setup = Setup::start(portal()).await;
    let (email, user_id) = setup.user(1);
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    setup.wait_for_backfill().await;
    let tokens = setup.live_tokens(user_id);
    let before = token_calls(&setup);
    setup.sim.control().set_token_endpoint_down(true);
    setup.sim.control().expire_tokens();
    wait_until(
        "refreshes refused by the outage",
        Duration::from_secs(30),
        || async { token_calls(&setup) >= before + 2 },
    )
    .await;
    let during = setup.connection().await;
    assert_eq!(
        during["state"], "connected",
        "an outage is not a refusal: {during}"
    );
    setup.sim.control().set_token_endpoint_down(false);
    setup
        .sync_sees_a_new_contact("after.outage@example.org")
        .await;
    assert_eq!(
        setup.live_tokens(user_id),
        tokens,
        "the refresh token is the same"
    );
    assert_eq!(setup.connection().await["state"], "connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_token_turns_the_connection_to_needs_reconnect() {
    let setup = Setup::start(portal()).await;
    let (email, user_id) = setup.user(1);
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    setup.wait_for_backfill().await;
    let token = setup.live_tokens(user_id).pop().unwrap();
    assert!(setup.sim.control().revoke_refresh_token(&token));
    setup.sim.control().expire_tokens();
    wait_until("needs_reconnect", Duration::from_secs(30), || async {
        setup.connection().await["state"] == "needs_reconnect"
    })
    .await;
    let connection = setup.connection().await;
    let reason = connection["reason"].as_str().unwrap();
    assert!(
        reason.contains("refused the refresh token") && reason.contains("/v1/connection/start"),
        "{reason}"
    );
    assert_eq!(connection["primary_admin"]["email"], email);
    let (_, status) = setup.gateway.get("/v1/status", Some(READ_TOKEN)).await;
    assert_eq!(status["connection"]["state"], "needs_reconnect");
    let metrics = setup
        .gateway
        .http
        .get(setup.gateway.url("/metrics"))
        .bearer_auth(READ_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "connection_state{{portal=\"{PORTAL}\",state=\"needs_reconnect\"}} 1"
        )),
        "{metrics}"
    );
    let refusals = format!("connection_refusals_total{{portal=\"{PORTAL}\"}} 1");
    assert!(metrics.contains(&refusals), "{metrics}");
    wait_until("sync stopped", Duration::from_secs(10), || async {
        let (status, _) = setup
            .gateway
            .send(Method::POST, "/v1/sync/contacts", ADMIN_TOKEN, &Value::Null)
            .await;
        status == 503
    })
    .await;

    // Nothing retries for ever: a restart remembers, and asks HubSpot nothing.
    let calls = token_calls(&setup);
    let setup = setup.restart(Some("IT_SECRETS_KEY")).await;
    assert_eq!(setup.connection().await["state"], "needs_reconnect");
    assert_eq!(token_calls(&setup), calls);
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    setup
        .sync_sees_a_new_contact("reconnected@example.org")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_refresh_token_is_saved_before_use_and_a_restart_uses_it() {
    let setup = Setup::start(portal()).await;
    // Each refresh answers a new refresh token; the used one dies at once.
    setup
        .sim
        .control()
        .set_refresh_rotation(Some(Duration::ZERO));
    let (email, user_id) = setup.user(1);
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    setup.wait_for_backfill().await;
    let first = setup.live_tokens(user_id);
    assert_eq!(first.len(), 1, "{first:?}");
    setup.sim.control().expire_tokens();
    wait_until("another rotation", Duration::from_secs(30), || async {
        let live = setup.live_tokens(user_id);
        live.len() == 1 && live != first
    })
    .await;
    let setup = setup.restart(Some("IT_SECRETS_KEY")).await;
    setup
        .sync_sees_a_new_contact("after.rotation@example.org")
        .await;
    assert_eq!(setup.connection().await["state"], "connected");
}

/// Records what a client reports about its refresh token.
#[derive(Debug, Default)]
struct Recorder {
    rotated: parking_lot::Mutex<Vec<String>>,
}

impl CredentialEvents for Recorder {
    fn rotated(&self, refresh_token: &Secret<String>) -> Result<(), String> {
        self.rotated.lock().push(refresh_token.expose().clone());
        Ok(())
    }

    fn refused(&self, message: &str) {
        panic!("refused: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_racing_make_one_token_request_and_save_each_rotation() {
    let sim = hubspot_gateway::sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    sim.control().set_refresh_rotation(Some(Duration::ZERO));
    let config = sim.config().clone();
    let base: url::Url = sim.base_url().parse().unwrap();
    let app = hubspot::App::new(
        base.clone(),
        config.client_id.clone(),
        Secret::new(config.client_secret.clone()),
        Duration::from_secs(10),
    )
    .unwrap();
    let redirect = "http://127.0.0.1:9/oauth/callback";
    let url = hubspot::authorize_url(
        &sim.base_url(),
        &config.client_id,
        redirect,
        &["crm.objects.owners.read".into()],
        &[],
        "s",
    );
    let email = sim.control().users()[1].email.clone();
    let callback = Browser::new()
        .authorize(&url, &email, Some(PORTAL))
        .await
        .unwrap();
    let code = super::param(&callback, "code").unwrap();
    let grant = app.exchange_code(&code, redirect).await.unwrap();
    let recorder = Arc::new(Recorder::default());
    let credentials = Credentials::OAuth {
        client_id: config.client_id.clone(),
        client_secret: Secret::new(config.client_secret.clone()),
        refresh_token: grant.refresh_token,
    };
    let mut client_config = ClientConfig::new(base, credentials);
    client_config.events = Some(recorder.clone());
    let client = hubspot::Client::new(client_config).unwrap();
    let calls = || {
        sim.stats()
            .calls
            .get("POST /oauth/v1/token")
            .copied()
            .unwrap_or(0)
    };
    let exchanged = calls();
    for round in 1..=2u64 {
        let racing: Vec<_> = (0..16)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { client.all_owners().await })
            })
            .collect();
        for call in racing {
            call.await.unwrap().unwrap();
        }
        assert_eq!(calls() - exchanged, round, "one refresh per round");
        assert_eq!(
            recorder.rotated.lock().len() as u64,
            round,
            "each rotation saved once"
        );
        sim.control().expire_tokens();
    }
    // The saved token is the one that works now.
    let latest = recorder.rotated.lock().last().cloned().unwrap();
    let live: Vec<_> = sim
        .control()
        .refresh_tokens()
        .into_iter()
        .filter(|t| t.usable && t.token == latest)
        .collect();
    assert_eq!(live.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_secrets_key_says_so_and_connecting_again_works() {
    let setup = Setup::start(portal()).await;
    let (email, _) = setup.user(1);
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    setup.wait_for_backfill().await;

    let setup = setup.restart(Some("IT_SECRETS_KEY_2")).await;
    let connection = setup.connection().await;
    assert_eq!(connection["state"], "needs_reconnect", "{connection}");
    let reason = connection["reason"].as_str().unwrap();
    assert!(
        reason.contains("cannot be read") && reason.contains("another store.secrets_key"),
        "{reason}"
    );
    assert_eq!(
        connection["primary_admin"]["email"], email,
        "what was connected is still shown"
    );

    let setup = setup.restart(None).await;
    let connection = setup.connection().await;
    assert_eq!(connection["state"], "needs_reconnect");
    assert!(
        connection["reason"]
            .as_str()
            .unwrap()
            .contains("store.secrets_key is not set"),
        "{connection}"
    );
    let (status, body) = super::start(&setup.gateway).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("no_secrets_key")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("openssl rand -base64 32"),
        "{body}"
    );

    let setup = setup.restart(Some("IT_SECRETS_KEY_2")).await;
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    let setup = setup.restart(Some("IT_SECRETS_KEY_2")).await;
    assert_eq!(setup.connection().await["state"], "connected");
    setup.sync_sees_a_new_contact("new.key@example.org").await;
}
