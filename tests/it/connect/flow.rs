//! The install flow: connect, sync with the stored tokens, restart; a token of another
//! portal or without a required scope; Change user; Disconnect; a private-app token.

use std::time::Duration;

use hubspot_gateway::sim::browser::Browser;
use reqwest::Method;
use serde_json::{json, Value};

use super::{consent, follow, param, portal, with_param, Setup, OTHER_PORTAL, PORTAL};
use crate::mirror::{small_portal, wait_until, Harness};
use crate::support::{ADMIN_TOKEN, READ_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_stores_the_connection_syncs_with_it_and_survives_a_restart() {
    let setup = Setup::start(portal()).await;
    let before = setup.connection().await;
    assert_eq!(
        (&before["state"], &before["method"]),
        (&json!("not_connected"), &json!("oauth"))
    );
    assert!(
        before["reason"]
            .as_str()
            .unwrap()
            .contains("POST /v1/connection/start"),
        "{before}"
    );
    let (_, status) = setup.gateway.get("/v1/status", Some(READ_TOKEN)).await;
    assert_eq!(status["connection"]["state"], "not_connected", "{status}");

    let url = setup.start_url().await;
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?", setup.sim.base_url())),
        "{url}"
    );
    assert_eq!(
        param(&url, "client_id").unwrap(),
        setup.sim.config().client_id
    );
    let redirect = format!("{}/oauth/callback", setup.gateway.public_url);
    assert_eq!(param(&url, "redirect_uri").unwrap(), redirect);
    assert_eq!(
        param(&url, "scope").unwrap(),
        "crm.objects.companies.read crm.objects.contacts.read crm.objects.deals.read crm.objects.owners.read"
    );
    assert_eq!(
        param(&url, "optional_scope").unwrap(),
        "crm.objects.companies.write crm.objects.contacts.write"
    );
    assert!(param(&url, "state").unwrap().len() >= 32);

    // The first owner belongs to two accounts: HubSpot asks which one.
    let (email, user_id) = setup.user(0);
    let mut browser = Browser::new();
    let page = browser.open(&url).await.unwrap();
    let page = browser.sign_in(&page, &email).await.unwrap();
    assert_eq!(page.step, "choose-account");
    assert_eq!(page.portal_ids(), [PORTAL, OTHER_PORTAL]);
    let page = browser.choose_account(&page, PORTAL).await.unwrap();
    let page = browser.decide(&page, true).await.unwrap();
    let (status, html) = follow(&page.location.unwrap()).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Connected to HubSpot")
            && html.contains(&email)
            && html.contains(&PORTAL.to_string()),
        "{html}"
    );

    let connected = setup.connection().await;
    assert_eq!(connected["state"], "connected", "{connected}");
    assert_eq!(connected["method"], "oauth");
    assert_eq!(connected["portal_id"], PORTAL);
    assert_eq!(
        connected["primary_admin"],
        json!({"email": email, "user_id": user_id})
    );
    assert_eq!(connected["missing_scopes"], json!([]), "{connected}");
    assert!(connected["scopes"]
        .as_array()
        .unwrap()
        .contains(&json!("crm.objects.deals.read")));
    assert_eq!(
        (
            &connected["export_connection"],
            &connected["exports_enabled"]
        ),
        (&json!("service"), &json!(true))
    );
    assert!(connected["connected_at"].is_string());
    setup.wait_for_backfill().await;
    setup
        .sync_sees_a_new_contact("connect.flow@example.org")
        .await;
    let tokens = setup.live_tokens(user_id);
    assert_eq!(
        tokens.len(),
        1,
        "one refresh token issued, to the admin who consented"
    );
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
            "connection_state{{portal=\"{PORTAL}\",state=\"connected\"}} 1"
        )),
        "{metrics}"
    );

    let setup = setup.restart(Some("IT_SECRETS_KEY")).await;
    let again = setup.connection().await;
    assert_eq!(again["state"], "connected", "{again}");
    assert_eq!(
        (&again["connected_at"], &again["primary_admin"]),
        (&connected["connected_at"], &connected["primary_admin"])
    );
    setup
        .sync_sees_a_new_contact("after.restart@example.org")
        .await;

    // At rest the refresh token is sealed: its text is nowhere in the store.
    let dir = setup.gateway.stop().await;
    let store = crate::support::open_store(&dir.path().join("store")).await;
    assert_eq!(
        store.trees_containing(tokens[0].as_bytes()).unwrap(),
        Vec::<String>::new()
    );
    assert!(store.connections().get("service").unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_a_required_scope_or_of_another_portal_is_refused_by_name() {
    let setup = Setup::start(portal()).await;
    let (email, user_id) = setup.user(0);
    // The link was tampered with (a scope dropped), the state is the gateway's own.
    let url = setup.start_url().await;
    let scopes = param(&url, "scope")
        .unwrap()
        .replace(" crm.objects.deals.read", "");
    let tampered = with_param(&url, "scope", Some(&scopes));
    let (status, html) = follow(&consent(&tampered, &email, PORTAL).await).await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("crm.objects.deals.read"), "{html}");
    assert_eq!(setup.connection().await["state"], "not_connected");
    assert!(
        setup.live_tokens(user_id).is_empty(),
        "the refused token was revoked"
    );

    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    setup.wait_for_backfill().await;
    let owner_here = owner_id_of(&setup, &email).await;
    let (status, _) = setup
        .gateway
        .send(
            Method::PUT,
            &format!("/v1/user-mappings/{email}"),
            ADMIN_TOKEN,
            &json!({"owner_id": owner_here}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, html) = setup.connect_as(&email, OTHER_PORTAL).await;
    assert_eq!(status, 409, "{html}");
    assert!(
        html.contains(&OTHER_PORTAL.to_string()) && html.contains(&PORTAL.to_string()),
        "{html}"
    );
    assert!(html.contains("disconnect first"), "{html}");
    let connection = setup.connection().await;
    assert_eq!(
        (&connection["state"], &connection["portal_id"]),
        (&json!("connected"), &json!(PORTAL))
    );
    let other: Vec<_> = setup
        .sim
        .control()
        .refresh_tokens()
        .into_iter()
        .filter(|t| t.portal_id == OTHER_PORTAL && t.usable)
        .collect();
    assert!(other.is_empty(), "{other:?}");

    // Switching accounts is an explicit Disconnect, then Connect; user mappings are reset.
    let (status, body) = setup
        .gateway
        .send(Method::DELETE, "/v1/connection", ADMIN_TOKEN, &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(setup.connect_as(&email, OTHER_PORTAL).await.0, 200);
    assert_eq!(setup.connection().await["portal_id"], OTHER_PORTAL);
    let path = "/v1/user-mappings";
    wait_until(
        "the mapping reset for the new account",
        Duration::from_secs(30),
        || async {
            let (_, mappings) = setup.gateway.get(path, Some(ADMIN_TOKEN)).await;
            let list = mappings
                .get("mappings")
                .unwrap_or(&mappings)
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mine = list
                .into_iter()
                .find(|m| m["email"] == email.to_lowercase());
            mine.is_some_and(|m| {
                m["owner_id"] != json!(owner_here) && m["owner_id"] != json!(owner_here.to_string())
            })
        },
    )
    .await;
}

/// The owner id of `email` in the mirror.
async fn owner_id_of(setup: &Setup, email: &str) -> String {
    let (_, owners) = setup.gateway.get("/v1/owners", Some(READ_TOKEN)).await;
    let owners = owners["owners"].as_array().cloned().unwrap_or_default();
    let owner = owners.iter().find(|o| {
        o["email"]
            .as_str()
            .is_some_and(|e| e.eq_ignore_ascii_case(email))
    });
    owner
        .map(|o| {
            o["id"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| o["id"].to_string())
        })
        .expect("the owner is mirrored")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_user_replaces_the_primary_admin_and_revokes_the_old_token() {
    let setup = Setup::start(portal()).await;
    let (first, first_id) = setup.user(1);
    let (second, second_id) = setup.user(2);
    assert_eq!(setup.connect_as(&first, PORTAL).await.0, 200);
    assert_eq!(setup.live_tokens(first_id).len(), 1);
    let (status, html) = setup.connect_as(&second, PORTAL).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(&format!("replaces the connection of {first}")),
        "{html}"
    );
    let connection = setup.connection().await;
    assert_eq!(connection["primary_admin"]["email"], second);
    assert!(
        setup.live_tokens(first_id).is_empty(),
        "the replaced token was revoked"
    );
    assert_eq!(setup.live_tokens(second_id).len(), 1);
    setup.wait_for_backfill().await;
    setup
        .sync_sees_a_new_contact("changed.user@example.org")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_revokes_at_hubspot_and_sync_and_exports_wait() {
    let setup = Setup::start(portal()).await;
    let (email, user_id) = setup.user(1);
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    setup.wait_for_backfill().await;
    let (status, body) = setup
        .gateway
        .send(Method::DELETE, "/v1/connection", ADMIN_TOKEN, &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "not_connected");
    assert!(setup.live_tokens(user_id).is_empty(), "revoked at HubSpot");
    wait_until("sync stopped", Duration::from_secs(10), || async {
        let (status, _) = setup
            .gateway
            .send(Method::POST, "/v1/sync/contacts", ADMIN_TOKEN, &Value::Null)
            .await;
        status == 503
    })
    .await;
    let job = json!({"type": "contacts", "user_email": "seller@internal.example",
                     "records": [{"ref": "r", "fields": {"email": "waits@example.org"}}]});
    let (status, started) = setup
        .gateway
        .send(
            Method::POST,
            "/v1/exports",
            crate::support::EXPORT_TOKEN,
            &job,
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let path = format!("/v1/exports/{}", started["export_id"].as_str().unwrap());
    wait_until(
        "the job waits for a connection",
        Duration::from_secs(10),
        || async {
            let (_, job) = setup
                .gateway
                .get(&path, Some(crate::support::EXPORT_TOKEN))
                .await;
            job["waiting"]["code"] == "not_connected"
        },
    )
    .await;
    let setup = setup.restart(Some("IT_SECRETS_KEY")).await;
    assert_eq!(setup.connection().await["state"], "not_connected");
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    wait_until("the waiting job ran", Duration::from_secs(30), || async {
        let (_, job) = setup
            .gateway
            .get(&path, Some(crate::support::EXPORT_TOKEN))
            .await;
        job["state"] == "done"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_app_token_shows_as_connected_and_refuses_connect() {
    let harness = Harness::start(small_portal()).await;
    let gateway = &harness.gateway;
    let (_, connection) = gateway.get("/v1/connection", Some(ADMIN_TOKEN)).await;
    assert_eq!(
        (&connection["state"], &connection["method"]),
        (&json!("connected"), &json!("private_app")),
        "{connection}"
    );
    assert_eq!(connection["portal_id"], PORTAL);
    let first = &harness.sim.control().users()[0];
    assert_eq!(connection["primary_admin"]["email"], first.email);
    let (status, body) = super::start(gateway).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("private_app_configured")),
        "{body}"
    );
}
