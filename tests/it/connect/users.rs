//! Preferences and users' own connections: exports turned off for everyone; "user account"
//! exports created by the exporting user in HubSpot; a user without a connection gets the
//! link to connect; a consent by someone else is refused; a user whose refresh fails needs
//! to reconnect without touching anyone else.

use std::time::Duration;

use hubspot_gateway::sim::ObjectType;
use reqwest::Method;
use serde_json::{json, Value};

use super::{consent, follow, portal, Setup, PORTAL};
use crate::mirror::wait_until;
use crate::support::{ADMIN_TOKEN, EXPORT_TOKEN};

async fn preferences(setup: &Setup, body: Value) -> Value {
    let (status, answer) = setup
        .gateway
        .send(
            Method::PUT,
            "/v1/connection/preferences",
            ADMIN_TOKEN,
            &body,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

fn job(user: &str, emails: &[&str]) -> Value {
    let records: Vec<Value> = emails
        .iter()
        .map(|email| json!({"ref": email, "fields": {"email": email, "first_name": "Ex", "last_name": "Port"}}))
        .collect();
    json!({"type": "contacts", "user_email": user, "records": records})
}

/// Runs an export job to its end; the job.
async fn export(setup: &Setup, user: &str, emails: &[&str]) -> Value {
    let (status, started) = setup
        .gateway
        .send(
            Method::POST,
            "/v1/exports",
            EXPORT_TOKEN,
            &job(user, emails),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let path = format!("/v1/exports/{}", started["export_id"].as_str().unwrap());
    wait_until("the export finished", Duration::from_secs(60), || async {
        let (_, job) = setup.gateway.get(&path, Some(EXPORT_TOKEN)).await;
        job["state"] == "done" || job["state"] == "failed"
    })
    .await;
    setup.gateway.get(&path, Some(EXPORT_TOKEN)).await.1
}

async fn user_connection(setup: &Setup, email: &str) -> Value {
    let path = format!("/v1/users/{email}/connection");
    let (status, body) = setup.gateway.get(&path, Some(EXPORT_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A user's own Connect: start (export scope), consent as `as_who`, callback.
async fn connect_user(setup: &Setup, email: &str, as_who: &str) -> (u16, String) {
    let path = format!("/v1/users/{email}/connection/start");
    let (status, body) = setup
        .gateway
        .send(Method::POST, &path, EXPORT_TOKEN, &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    let callback = consent(body["authorize_url"].as_str().unwrap(), as_who, PORTAL).await;
    follow(&callback).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_turned_off_are_refused_for_everyone_until_turned_on() {
    let setup = Setup::start(portal()).await;
    let (admin, _) = setup.user(1);
    assert_eq!(setup.connect_as(&admin, PORTAL).await.0, 200);
    setup.wait_for_backfill().await;
    let answer = preferences(&setup, json!({"exports_enabled": false})).await;
    assert_eq!(
        (&answer["exports_enabled"], &answer["export_connection"]),
        (&json!(false), &json!("service"))
    );
    for dry_run in [false, true] {
        let mut body = job("seller@internal.example", &["off@example.org"]);
        body["dry_run"] = json!(dry_run);
        let (status, refused) = setup
            .gateway
            .send(Method::POST, "/v1/exports", EXPORT_TOKEN, &body)
            .await;
        assert_eq!(
            (status, &refused["error"]["code"]),
            (403, &json!("export_disabled")),
            "{refused}"
        );
    }
    assert_eq!(setup.connection().await["exports_enabled"], false);
    let (status, bad) = setup
        .gateway
        .send(
            Method::PUT,
            "/v1/connection/preferences",
            ADMIN_TOKEN,
            &json!({"export_connection": "team"}),
        )
        .await;
    assert_eq!(status, 400, "{bad}");
    preferences(&setup, json!({"exports_enabled": true})).await;
    let done = export(&setup, "seller@internal.example", &["on.again@example.org"]).await;
    assert_eq!(done["results"][0]["action"], "created", "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_account_exports_are_created_by_the_user_and_others_get_the_link_to_connect() {
    let setup = Setup::start(portal()).await;
    let (admin, _) = setup.user(1);
    let (seller, seller_id) = setup.user(2);
    assert_eq!(setup.connect_as(&admin, PORTAL).await.0, 200);
    setup.wait_for_backfill().await;
    preferences(&setup, json!({"export_connection": "user"})).await;

    let refused = export(&setup, &seller, &["before.connect@example.org"]).await;
    let result = &refused["results"][0];
    assert_eq!(
        (&result["action"], &result["error"]["code"]),
        (&json!("failed"), &json!("user_not_connected")),
        "{refused}"
    );
    let start = format!("/v1/users/{}/connection/start", seller.replace('@', "%40"));
    assert!(
        result["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&start),
        "{result}"
    );
    assert_eq!(
        user_connection(&setup, &seller).await["state"],
        "not_connected"
    );

    let (status, html) = connect_user(&setup, &seller, &seller).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(&format!("{seller} is connected to HubSpot")),
        "{html}"
    );
    let connection = user_connection(&setup, &seller).await;
    assert_eq!(connection["state"], "connected", "{connection}");
    assert_eq!(connection["hubspot_user"]["user_id"], seller_id);

    let emails = ["by.seller.1@example.org", "by.seller.2@example.org"];
    let done = export(&setup, &seller, &emails).await;
    let owner = setup
        .sim
        .control()
        .owners()
        .into_iter()
        .find(|o| o.email == seller)
        .unwrap();
    for result in done["results"].as_array().unwrap() {
        assert_eq!(result["action"], "created", "{done}");
        let id = result["id"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| result["id"].to_string());
        let record = setup
            .sim
            .control()
            .record(ObjectType::Contacts, &id)
            .unwrap();
        assert_eq!(
            record.properties.get("hs_created_by_user_id"),
            Some(&seller_id.to_string()),
            "created as the seller"
        );
        assert_eq!(
            record.properties.get("hubspot_owner_id"),
            Some(&owner.id.to_string()),
            "owned by the seller's owner"
        );
    }

    // The seller's refresh token is revoked: they must reconnect; nobody else is touched.
    let token = setup.live_tokens(seller_id).pop().unwrap();
    assert!(setup.sim.control().revoke_refresh_token(&token));
    setup.sim.control().expire_tokens();
    export(&setup, &seller, &["after.revoke@example.org"]).await;
    wait_until(
        "the seller needs to reconnect",
        Duration::from_secs(10),
        || async { user_connection(&setup, &seller).await["state"] == "needs_reconnect" },
    )
    .await;
    let again = export(&setup, &seller, &["after.revoke.2@example.org"]).await;
    assert_eq!(
        again["results"][0]["error"]["code"], "needs_reconnect",
        "{again}"
    );
    assert_eq!(setup.connection().await["state"], "connected");
    setup
        .sync_sees_a_new_contact("service.still.syncs@example.org")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_consent_by_someone_else_is_refused_naming_both() {
    let setup = Setup::start(portal()).await;
    let (seller, _) = setup.user(2);
    let (other, other_id) = setup.user(3);
    let path = format!("/v1/users/{seller}/connection/start");
    let (status, body) = setup
        .gateway
        .send(Method::POST, &path, EXPORT_TOKEN, &Value::Null)
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (409, &json!("not_connected")),
        "the gateway connects first: {body}"
    );

    let (admin, _) = setup.user(1);
    assert_eq!(setup.connect_as(&admin, PORTAL).await.0, 200);
    let (status, html) = connect_user(&setup, &seller, &other).await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains(&seller) && html.contains(&other), "{html}");
    assert_eq!(
        user_connection(&setup, &seller).await["state"],
        "not_connected"
    );
    assert!(
        setup.live_tokens(other_id).is_empty(),
        "the refused token was revoked"
    );
}
