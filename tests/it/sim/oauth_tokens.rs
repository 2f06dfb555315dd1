//! OAuth tokens: info of access and refresh tokens, refresh, revocation, codes that work once
//! and expire, refresh-token rotation, a token endpoint that is down.

use std::time::Duration;

use hubspot_gateway::sim::browser::Browser;
use hubspot_gateway::sim::{hub_domain, SimConfig};
use serde_json::Value;

use super::oauth::{
    authorize_url, connect, exchange, get_with, param, token_request, REDIRECT, SCOPES,
};
use super::{read, Sim};

async fn refresh(sim: &Sim, token: &str) -> (u16, Value) {
    token_request(
        sim,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

#[tokio::test]
async fn token_info_refresh_and_revocation() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let main = sim.handle.config().portal_id;
    let user = sim.handle.control().users()[0].clone();
    let tokens = connect(&sim, &user, main, SCOPES, "").await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    assert!(refresh.starts_with("na1-") && refresh != sim.handle.config().refresh_token);

    let (status, info) =
        get_with(&sim, &access, &format!("/oauth/v1/access-tokens/{access}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (info["user"].as_str(), info["user_id"].as_u64()),
        (Some(user.email.as_str()), Some(user.user_id))
    );
    assert_eq!(
        (info["hub_id"].as_i64(), info["hub_domain"].as_str()),
        (Some(main), Some(hub_domain(main).as_str()))
    );
    assert_eq!(info["token_type"], "access");
    assert!(
        info["app_id"].is_i64() && (1700..=1800).contains(&info["expires_in"].as_i64().unwrap())
    );
    assert_eq!(info["scopes"], tokens["scopes"]);
    let (status, info) = get_with(
        &sim,
        &access,
        &format!("/oauth/v1/refresh-tokens/{refresh}"),
    )
    .await;
    assert_eq!(
        (status, info["token_type"].as_str()),
        (200, Some("refresh"))
    );
    assert_eq!(
        (info["user"].as_str(), info["hub_id"].as_i64()),
        (Some(user.email.as_str()), Some(main))
    );
    assert_eq!(
        info["client_id"].as_str(),
        Some(sim.handle.config().client_id.as_str())
    );

    let (status, refreshed) = token_request(
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(
        refreshed["refresh_token"].as_str(),
        Some(refresh.as_str()),
        "HubSpot does not rotate"
    );
    assert_eq!(refreshed["user_id"].as_u64(), Some(user.user_id));
    let second = refreshed["access_token"].as_str().unwrap();
    assert_ne!(second, access);
    assert_eq!(
        get_with(&sim, second, "/crm/v3/objects/contacts").await.0,
        200
    );

    let revoked = sim
        .http
        .delete(sim.url(&format!("/oauth/v1/refresh-tokens/{refresh}")))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let (status, _) = get_with(
        &sim,
        &access,
        &format!("/oauth/v1/refresh-tokens/{refresh}"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, refused) = token_request(
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(
        (
            status,
            refused["status"].as_str(),
            refused["error"].as_str()
        ),
        (400, Some("BAD_REFRESH_TOKEN"), Some("invalid_grant"))
    );
    assert_eq!(
        get_with(&sim, &access, "/crm/v3/objects/contacts").await.0,
        200,
        "issued access tokens live on"
    );
}

#[tokio::test]
async fn codes_work_once_expire_and_are_bound_to_the_redirect_uri() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let user = sim.handle.control().users()[1].clone();
    let code = || async {
        let url = authorize_url(&sim, SCOPES, "", "st");
        let callback = Browser::new()
            .authorize(&url, &user.email, None)
            .await
            .unwrap();
        param(&callback, "code").unwrap()
    };
    let refused = |(status, body): (u16, Value)| {
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
        body["status"].as_str().unwrap().to_string()
    };
    let once = code().await;
    assert_eq!(exchange(&sim, &once, REDIRECT).await.0, 200);
    assert_eq!(
        refused(exchange(&sim, &once, REDIRECT).await),
        "BAD_AUTH_CODE"
    );
    let late = code().await;
    sim.handle.control().expire_codes();
    let (status, body) = exchange(&sim, &late, REDIRECT).await;
    assert_eq!(body["message"], "auth code expired");
    assert_eq!(refused((status, body)), "BAD_AUTH_CODE");
    let elsewhere = code().await;
    let other = "http://127.0.0.1:9/elsewhere";
    assert_eq!(
        refused(exchange(&sim, &elsewhere, other).await),
        "BAD_REDIRECT_URI"
    );
    assert_eq!(
        refused(exchange(&sim, &elsewhere, REDIRECT).await),
        "BAD_AUTH_CODE",
        "used up"
    );
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", "never-issued"),
        ("redirect_uri", REDIRECT),
    ];
    assert_eq!(refused(token_request(&sim, &fields).await), "BAD_AUTH_CODE");
    let secret = [
        ("client_id", "sim-client-id"),
        ("client_secret", "wrong"),
        ("grant_type", "authorization_code"),
    ];
    let response = sim
        .http
        .post(sim.url("/oauth/v3/token"))
        .form(&secret)
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(
        (status, body["status"].as_str(), body["error"].as_str()),
        (400, Some("BAD_CLIENT_SECRET"), Some("invalid_client"))
    );
}

#[tokio::test]
async fn rotation_and_a_token_endpoint_that_is_down() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let control = sim.handle.control();
    let configured = sim.handle.config().refresh_token.clone();
    control.set_refresh_rotation(Some(Duration::from_secs(600)));
    let (status, first) = refresh(&sim, &configured).await;
    assert_eq!(status, 200);
    let rotated = first["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rotated, configured);
    let (_, retry) = refresh(&sim, &configured).await;
    assert_eq!(
        retry["refresh_token"].as_str(),
        Some(rotated.as_str()),
        "within the grace: the same successor"
    );
    control.set_refresh_rotation(Some(Duration::ZERO));
    let (_, second) = refresh(&sim, &rotated).await;
    let newest = second["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(
        refresh(&sim, &rotated).await.1["status"],
        "BAD_REFRESH_TOKEN",
        "no grace: the old one is gone"
    );
    control.set_token_endpoint_down(true);
    assert_eq!(refresh(&sim, &newest).await.0, 503);
    control.set_token_endpoint_down(false);
    assert_eq!(refresh(&sim, &newest).await.0, 200);
}
