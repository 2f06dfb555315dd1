//! `GET/PUT/DELETE /v1/sync/schedule`: the reconciliation schedule, overridden and reset.

use reqwest::Method;
use serde_json::json;

use crate::support::{Gateway, ADMIN_TOKEN, READ_TOKEN};

#[tokio::test]
async fn schedule_override_is_validated_persisted_and_reset() {
    let gateway = Gateway::start().await;
    let (status, configured) = gateway.get("/v1/sync/schedule", Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200, "{configured}");
    assert_eq!(configured["frequency"], "interval");
    assert_eq!(configured["interval_hours"], 24);
    assert_eq!(configured["window_utc"], "02:00-05:00");
    assert_eq!(configured["source"], "config");
    assert!(configured["next_run_at"].is_string());
    let (status, _) = gateway.get("/v1/sync/schedule", Some(READ_TOKEN)).await;
    assert_eq!(status, 403);

    let (status, body) = gateway
        .send(
            Method::PUT,
            "/v1/sync/schedule",
            ADMIN_TOKEN,
            &json!({"frequency": "weekly", "window_utc": "9-5"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_schedule");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("day:") && message.contains("window_utc:"),
        "{message}"
    );

    let weekly = json!({"frequency": "weekly", "day": "friday", "window_utc": "01:00-03:00"});
    let (status, body) = gateway
        .send(Method::PUT, "/v1/sync/schedule", ADMIN_TOKEN, &weekly)
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, stored) = gateway.get("/v1/sync/schedule", Some(ADMIN_TOKEN)).await;
    assert_eq!(stored, body);
    assert_eq!(
        (&stored["frequency"], &stored["day"], &stored["source"]),
        (&json!("weekly"), &json!("friday"), &json!("override"))
    );
    assert_eq!(stored["window_utc"], "01:00-03:00");

    // The override outlives a restart; DELETE brings the config back.
    let dir = gateway.stop().await;
    let gateway = Gateway::start_in(
        dir,
        "127.0.0.1:0",
        "https://hooks.example.com/gw",
        &Default::default(),
    )
    .await;
    let (_, after) = gateway.get("/v1/sync/schedule", Some(ADMIN_TOKEN)).await;
    assert_eq!(after["day"], "friday");
    let (status, reset) = gateway
        .send(Method::DELETE, "/v1/sync/schedule", ADMIN_TOKEN, &json!({}))
        .await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["source"], "config");
    assert_eq!(reset["frequency"], "interval");
}
