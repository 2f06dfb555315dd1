//! Bearer tokens, OAuth refresh and expiry, introspection, missing scopes, and the
//! client-credentials app tokens that open the Webhooks Journal (and nothing else).

use hubspot_gateway::sim::SimConfig;
use serde_json::Value;

use super::journal_app::{answer, contact_subscription, grant, App, ALL_SCOPES};
use super::{read, Sim};

async fn refresh(sim: &Sim, refresh_token: &str) -> (u16, Value) {
    let config = sim.handle.config();
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.as_str()),
        ("refresh_token", refresh_token),
    ];
    read(
        sim.http
            .post(sim.url("/oauth/v1/token"))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get_with(sim: &Sim, token: &str, path: &str) -> (u16, Value) {
    read(
        sim.http
            .get(sim.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn oauth_tokens_work_until_they_expire() {
    let sim = Sim::unlimited(SimConfig {
        token_ttl_secs: 1,
        ..SimConfig::default()
    })
    .await;
    let (status, body) = get_with(&sim, "nope", "/crm/v3/owners").await;
    assert_eq!(
        (status, body["category"].as_str()),
        (401, Some("INVALID_AUTHENTICATION"))
    );
    let (status, bad) = refresh(&sim, "wrong").await;
    assert_eq!(
        (status, bad["status"].as_str(), bad["error"].as_str()),
        (400, Some("BAD_REFRESH_TOKEN"), Some("invalid_grant"))
    );
    let refresh_token = sim.handle.config().refresh_token.clone();
    let (status, granted) = refresh(&sim, &refresh_token).await;
    assert_eq!((status, granted["expires_in"].as_u64()), (200, Some(1)));
    let token = granted["access_token"].as_str().unwrap().to_string();
    assert_eq!(get_with(&sim, &token, "/crm/v3/owners").await.0, 200);
    let (status, info) = get_with(&sim, &token, &format!("/oauth/v1/access-tokens/{token}")).await;
    assert_eq!(status, 200);
    assert_eq!(info["hub_id"].as_i64(), Some(sim.handle.config().portal_id));
    assert!(
        info["user"].as_str().unwrap().contains('@')
            && info["user_id"].is_u64()
            && info["scopes"].is_array()
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (status, body) = get_with(&sim, &token, "/crm/v3/owners").await;
        if status == 401 {
            assert_eq!(body["category"], "EXPIRED_AUTHENTICATION");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "token never expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn expire_tokens_now_and_missing_scopes() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let refresh_token = sim.handle.config().refresh_token.clone();
    let token = refresh(&sim, &refresh_token).await.1["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    sim.handle.control().expire_tokens();
    assert_eq!(get_with(&sim, &token, "/crm/v3/owners").await.0, 401);
    assert_eq!(
        sim.get("/crm/v3/owners").await.0,
        200,
        "the private-app token never expires"
    );
    sim.handle
        .control()
        .set_scopes(vec!["crm.objects.contacts.read".to_string()]);
    let (status, body) = sim.get("/crm/v3/objects/deals").await;
    assert_eq!(
        (status, body["category"].as_str()),
        (403, Some("MISSING_SCOPES"))
    );
    assert_eq!(
        body["context"]["missingScopes"][0],
        "crm.objects.deals.read"
    );
    assert_eq!(
        sim.get("/crm/v3/objects/tasks").await.0,
        200,
        "tasks ride on the contacts scope"
    );
}

#[tokio::test]
async fn client_credentials_tokens_open_the_journal_and_nothing_else() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let secret = sim.handle.config().client_secret.clone();
    for path in ["/oauth/v1/token", "/oauth/2026-03/token"] {
        let granted = grant(&sim, path, &secret, ALL_SCOPES).await;
        let body = granted.json();
        assert_eq!(
            (granted.status, body["token_use"].as_str()),
            (200, Some("client_credentials"))
        );
        assert_eq!(
            (body["expires_in"].as_u64(), body["token_type"].as_str()),
            (Some(1800), Some("bearer"))
        );
        assert!(body.get("refresh_token").is_none(), "{body}");
    }
    let refused = [
        (
            grant(&sim, "/oauth/v1/token", "wrong", ALL_SCOPES).await,
            "invalid_client",
        ),
        (
            grant(&sim, "/oauth/v1/token", &secret, "developer.nope").await,
            "invalid_scope",
        ),
        (
            grant(&sim, "/oauth/v1/token", &secret, "").await,
            "invalid_scope",
        ),
    ];
    for (answer, error) in refused {
        assert_eq!(
            (answer.status, answer.json()["error"].as_str()),
            (400, Some(error))
        );
    }
    let app = App::new(&sim, ALL_SCOPES).await;
    let crm = answer(
        sim.http
            .get(sim.url("/crm/v3/owners"))
            .bearer_auth(&app.token),
    )
    .await;
    assert_eq!(crm.status, 401, "an app token is no CRM token");
    assert_eq!(
        app.get(&app.local("latest")).await.status,
        204,
        "empty journal"
    );
    let private = answer(
        sim.http
            .get(sim.url(&app.local("latest")))
            .bearer_auth(sim.token()),
    )
    .await;
    assert_eq!(
        (private.status, private.json()["category"].as_str()),
        (403, Some("MISSING_SCOPES"))
    );
    let anonymous = answer(sim.http.get(sim.url(&app.local("latest")))).await;
    assert_eq!(anonymous.status, 401);
    let reader = App::new(&sim, "developer.webhooks_journal.read").await;
    let portal = sim.handle.config().portal_id;
    let denied = reader
        .subscribe(contact_subscription(portal, &["email"]))
        .await;
    assert_eq!(
        denied.json()["context"]["missingScopes"][0],
        "developer.webhooks_journal.subscriptions.write"
    );
    let no_objects = App::new(&sim, "developer.webhooks_journal.subscriptions.write").await;
    let denied = no_objects
        .subscribe(contact_subscription(portal, &["email"]))
        .await;
    assert_eq!(
        (
            denied.status,
            denied.json()["context"]["missingScopes"][0].as_str()
        ),
        (403, Some("crm.objects.contacts.read")),
        "subscribing needs the object's scope"
    );
    sim.handle.control().expire_tokens();
    let expired = app.get(&app.local("latest")).await;
    assert_eq!(
        (expired.status, expired.json()["category"].as_str()),
        (401, Some("EXPIRED_AUTHENTICATION"))
    );
}
