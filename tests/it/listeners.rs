//! Where each route is served: everything on `listen` alone (with `/metrics` behind a `read`
//! token, since HubSpot reaches that address), or webhooks and health on `listen` and the
//! query API and metrics on `internal_listen`.

use crate::support::signing::Signing;
use crate::support::{batch, Gateway, Options, READ_TOKEN};

async fn status(gateway: &Gateway, base: &str, path: &str, token: Option<&str>) -> u16 {
    let mut request = gateway.http.get(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn metrics_need_a_read_token_on_the_listener_hubspot_reaches() {
    let gateway = Gateway::start().await;
    let base = gateway.url("");
    assert_eq!(status(&gateway, &base, "/metrics", None).await, 401);
    assert_eq!(
        status(&gateway, &base, "/metrics", Some("wrong")).await,
        401
    );
    assert_eq!(
        status(&gateway, &base, "/metrics", Some(READ_TOKEN)).await,
        200
    );
    assert_eq!(status(&gateway, &base, "/healthz", None).await, 200);
    gateway.stop().await;
}

#[tokio::test]
async fn internal_listen_takes_the_query_api_and_metrics_off_the_public_listener() {
    let options = Options {
        server: "internal_listen = \"127.0.0.1:0\"".into(),
        ..Options::default()
    };
    let gateway =
        Gateway::start_options("127.0.0.1:0", "https://hooks.example.com/gw", &options).await;
    let public = gateway.url("");
    let internal = format!("http://{}", gateway.internal_addr.expect("bound"));
    assert_ne!(public, internal);

    // `listen`: webhooks and health only.
    let body = batch(1, 2, 0);
    assert_eq!(
        gateway
            .post("/webhooks/hubspot", &body, Signing::FRESH)
            .await
            .0,
        204
    );
    for path in ["/healthz", "/readyz"] {
        assert_eq!(status(&gateway, &public, path, None).await, 200, "{path}");
    }
    for path in ["/metrics", "/v1/status", "/openapi.json", "/v1/owners"] {
        assert_eq!(
            status(&gateway, &public, path, Some(READ_TOKEN)).await,
            404,
            "{path} on listen"
        );
    }
    // `internal_listen`: the API with its tokens, metrics without one, no webhooks.
    assert_eq!(status(&gateway, &internal, "/metrics", None).await, 200);
    assert_eq!(status(&gateway, &internal, "/v1/status", None).await, 401);
    assert_eq!(
        status(&gateway, &internal, "/v1/status", Some(READ_TOKEN)).await,
        200
    );
    assert_eq!(
        status(&gateway, &internal, "/openapi.json", None).await,
        200
    );
    assert_eq!(status(&gateway, &internal, "/healthz", None).await, 200);
    let webhook = gateway
        .http
        .post(format!("{internal}/webhooks/hubspot"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), 404);
    let stored: serde_json::Value = gateway
        .http
        .get(format!("{internal}/v1/status"))
        .bearer_auth(READ_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["webhooks"]["received"], 2);
    gateway.stop().await;
}
