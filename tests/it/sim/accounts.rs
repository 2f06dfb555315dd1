//! Accounts and per-user tokens: a second portal's token sees only its own CRM; records
//! written with a user's token name that user; the account and OAuth control routes.

use hubspot_gateway::sim::browser::Browser;
use hubspot_gateway::sim::SimConfig;
use serde_json::{json, Value};

use super::oauth::{access, authorize_url, connect, get_with, token_request, SCOPES};
use super::{read, Sim};

async fn post_with(sim: &Sim, token: &str, path: &str, body: Value) -> (u16, Value) {
    let response = sim
        .http
        .post(sim.url(path))
        .bearer_auth(token)
        .json(&body)
        .send();
    read(response.await.unwrap()).await
}

#[tokio::test]
async fn a_token_of_the_second_portal_sees_only_that_portals_crm() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let (main, other) = (sim.handle.config().portal_id, 62_515_002);
    let user = sim.handle.control().users()[0].clone();
    let scopes = format!("{SCOPES} crm.objects.owners.read");
    let tokens = connect(&sim, &user, other, &scopes, "").await;
    assert_eq!(
        (tokens["hub_id"].as_i64(), tokens["user_id"].as_u64()),
        (Some(other), Some(user.user_id))
    );
    let token = access(&tokens);
    let (_, info) = get_with(&sim, &token, &format!("/oauth/v1/access-tokens/{token}")).await;
    assert_eq!(info["hub_id"].as_i64(), Some(other));
    assert_ne!(
        info["hub_domain"],
        json!(hubspot_gateway::sim::hub_domain(main))
    );
    let (status, page) = get_with(&sim, &token, "/crm/v3/objects/contacts").await;
    assert_eq!(
        (status, page["results"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    assert_eq!(
        get_with(&sim, &token, "/crm/v3/objects/contacts/51")
            .await
            .0,
        404
    );
    assert_eq!(
        sim.get("/crm/v3/objects/contacts/51").await.0,
        200,
        "the main portal has it"
    );
    let (_, owners) = get_with(&sim, &token, "/crm/v3/owners").await;
    let owners = owners["results"].as_array().unwrap().clone();
    let emails: Vec<&str> = owners
        .iter()
        .filter_map(|owner| owner["email"].as_str())
        .collect();
    assert_eq!(emails, [user.email.as_str(), "admin@othercorp.example"]);
    let main_owner = &sim.handle.control().owners()[0];
    assert_eq!(
        owners[0]["userId"].as_u64(),
        Some(main_owner.user_id),
        "one user, two seats"
    );
    assert_ne!(
        owners[0]["id"].as_str(),
        Some(main_owner.id.to_string().as_str())
    );
    let body = json!({"properties": {"email": "only-in-other@x.example"}});
    assert_eq!(
        post_with(&sim, &token, "/crm/v3/objects/contacts", body)
            .await
            .0,
        201
    );
    let search = json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "only-in-other@x.example"}]}]});
    let (_, found) = sim
        .post("/crm/v3/objects/contacts/search", search.clone())
        .await;
    assert_eq!(found["total"], 0, "the main portal does not see it");
    let (_, found) = post_with(&sim, &token, "/crm/v3/objects/contacts/search", search).await;
    assert_eq!(found["total"], 1);
}

#[tokio::test]
async fn writes_with_a_users_token_record_that_user() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let (main, users) = (sim.handle.config().portal_id, sim.handle.control().users());
    let ann = access(&connect(&sim, &users[1], main, SCOPES, "").await);
    let bob = access(&connect(&sim, &users[2], main, SCOPES, "").await);
    let (status, created) = post_with(
        &sim,
        &ann,
        "/crm/v3/objects/contacts",
        json!({"properties": {"email": "made@x.example"}}),
    )
    .await;
    assert_eq!(status, 201);
    let ann_id = users[1].user_id.to_string();
    assert_eq!(
        created["properties"]["hs_created_by_user_id"].as_str(),
        Some(ann_id.as_str())
    );
    let id = created["id"].as_str().unwrap().to_string();
    let patch = sim
        .http
        .patch(sim.url(&format!("/crm/v3/objects/contacts/{id}")))
        .bearer_auth(&bob);
    let updated = patch
        .json(&json!({"properties": {"firstname": "Made"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let path = format!(
        "/crm/v3/objects/contacts/{id}?properties=hs_created_by_user_id,hs_updated_by_user_id"
    );
    let (_, record) = sim.get(&path).await;
    let by = |name: &str| record["properties"][name].as_str().map(str::to_string);
    assert_eq!(by("hs_created_by_user_id"), Some(ann_id));
    assert_eq!(
        by("hs_updated_by_user_id"),
        Some(users[2].user_id.to_string())
    );
    let batch = json!({"inputs": [{"properties": {"email": "batch@x.example"}}]});
    let (_, made) = post_with(&sim, &bob, "/crm/v3/objects/contacts/batch/create", batch).await;
    assert_eq!(
        made["results"][0]["properties"]["hs_created_by_user_id"].as_str(),
        Some(users[2].user_id.to_string().as_str())
    );
    let (_, private) = sim
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "app@x.example"}}),
        )
        .await;
    assert!(
        private["properties"].get("hs_created_by_user_id").is_none(),
        "a private app is no user"
    );
    let (_, definition) = sim
        .get("/crm/v3/properties/contacts/hs_created_by_user_id")
        .await;
    assert_eq!(definition["modificationMetadata"]["readOnlyValue"], true);
    let write = json!({"properties": {"hs_created_by_user_id": "1"}});
    assert_eq!(
        post_with(&sim, &ann, "/crm/v3/objects/contacts", write)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn accounts_users_and_oauth_switches_over_http() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let response = sim
        .http
        .get(sim.url("/_sim/accounts"))
        .send()
        .await
        .unwrap();
    let (_, listing) = read(response).await;
    let ids: Vec<i64> = listing["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|account| account["portal_id"].as_i64())
        .collect();
    assert_eq!(ids, [sim.handle.config().portal_id, 62_515_002]);
    let added = sim
        .http
        .post(sim.url("/_sim/users"))
        .json(&json!({"email": "New@Other.example", "portal_id": 62_515_002}))
        .send();
    let (status, added) = read(added.await.unwrap()).await;
    assert_eq!(status, 200);
    let user = sim
        .handle
        .control()
        .users()
        .into_iter()
        .find(|user| user.email == "New@Other.example")
        .unwrap();
    assert_eq!(
        (Some(user.user_id), user.portal_ids),
        (added["user_id"].as_u64(), vec![62_515_002])
    );
    let switch = sim
        .http
        .post(sim.url("/_sim/oauth"))
        .json(&json!({"token_endpoint_down": true}))
        .send();
    assert_eq!(switch.await.unwrap().status(), 204);
    let configured = sim.handle.config().refresh_token.clone();
    let fields = [
        ("grant_type", "refresh_token"),
        ("refresh_token", configured.as_str()),
    ];
    assert_eq!(token_request(&sim, &fields).await.0, 503);
    let mut browser = Browser::new();
    let fixed = authorize_url(&sim, SCOPES, "", "st")
        .replace("/oauth/authorize", "/oauth/62515002/authorize");
    let page = browser.open(&fixed).await.unwrap();
    let consent = browser.sign_in(&page, "new@other.example").await.unwrap();
    assert_eq!(
        (consent.step.as_str(), consent.field("portal_id").as_deref()),
        ("consent", Some("62515002"))
    );
}
