//! The Webhooks Journal: client-credentials tokens, subscriptions deciding what is written,
//! files closing on their own, offsets chaining through `next`, batch calls.

use std::time::Duration;

use hubspot_gateway::sim::{ObjectType, SimConfig};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use super::Sim;

pub const ALL_SCOPES: &str = "developer.webhooks_journal.read developer.webhooks_journal.subscriptions.read developer.webhooks_journal.subscriptions.write crm.objects.contacts.read crm.objects.companies.read crm.objects.deals.read";

/// An app holding a client-credentials token, calling the journal of the sim's portal.
pub struct App<'a> {
    pub sim: &'a Sim,
    pub token: String,
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

pub async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        bytes: response.bytes().await.expect("body").to_vec(),
    }
}

/// `POST {path}` with the client-credentials grant.
pub async fn grant(sim: &Sim, path: &str, secret: &str, scope: &str) -> Answer {
    let config = sim.handle.config();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", config.client_id.as_str()),
        ("client_secret", secret),
        ("scope", scope),
    ];
    answer(sim.http.post(sim.url(path)).form(&form)).await
}

impl<'a> App<'a> {
    pub async fn new(sim: &'a Sim, scope: &str) -> App<'a> {
        let secret = sim.handle.config().client_secret.clone();
        let granted = grant(sim, "/oauth/v1/token", &secret, scope).await.json();
        let token = granted["access_token"]
            .as_str()
            .expect("a token")
            .to_string();
        App { sim, token }
    }

    /// `rest` under the local journal, for the sim's portal.
    pub fn local(&self, rest: &str) -> String {
        let portal = self.sim.handle.config().portal_id;
        format!("/webhooks-journal/journal-local/2026-03/{rest}?installPortalId={portal}")
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .sim
            .http
            .request(method, self.sim.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn get_local(&self, rest: &str) -> Answer {
        self.get(&self.local(rest)).await
    }

    pub async fn batch_read(&self, inputs: Value) -> Answer {
        let body = json!({ "inputs": inputs });
        self.call(reqwest::Method::POST, &self.local("batch/read"), Some(body))
            .await
    }

    pub async fn subscribe(&self, body: Value) -> Answer {
        self.call(
            reqwest::Method::POST,
            "/webhooks-journal/subscriptions/2026-03",
            Some(body),
        )
        .await
    }

    /// Downloads an entry's file, without the token.
    pub async fn file(&self, entry: &Value) -> Answer {
        answer(self.sim.http.get(entry["url"].as_str().expect("a url"))).await
    }

    /// Every entry of the local journal, following `next` from `earliest` until 204.
    pub async fn entries(&self) -> Vec<Value> {
        let mut entries = Vec::new();
        let mut next = self.get(&self.local("earliest")).await;
        while next.status == 200 {
            let entry = next.json();
            let offset = entry["currentOffset"].as_str().unwrap().to_string();
            entries.push(entry);
            next = self
                .get(&self.local(&format!("offset/{offset}/next")))
                .await;
        }
        assert_eq!(
            (next.status, next.bytes.len()),
            (204, 0),
            "caught up: 204, empty body"
        );
        entries
    }

    /// Every event in the local journal, in order.
    pub async fn events(&self) -> Vec<Value> {
        let mut events = Vec::new();
        for entry in self.entries().await {
            let file = self.file(&entry).await;
            assert_eq!(file.status, 200);
            let file = file.json();
            assert_eq!(file["offset"], entry["currentOffset"]);
            events.extend(file["journalEvents"].as_array().unwrap().iter().cloned());
        }
        events
    }

    /// Waits (≤ 10 s) until the journal holds at least `count` events; returns them.
    pub async fn wait_events(&self, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let events = self.events().await;
            if events.len() >= count || tokio::time::Instant::now() > deadline {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

pub fn contact_subscription(portal_id: i64, properties: &[&str]) -> Value {
    json!({"subscriptionType": "OBJECT", "portalId": portal_id, "objectTypeId": "0-1",
           "actions": ["CREATE", "UPDATE"], "objectIds": [], "properties": properties})
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

#[tokio::test]
async fn subscriptions_decide_what_is_written() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let (app, control) = (App::new(&sim, ALL_SCOPES).await, sim.handle.control());
    let portal = sim.handle.config().portal_id;
    let bad = app
        .subscribe(
            json!({"subscriptionType": "OBJECT", "portalId": portal, "objectTypeId": "0-1",
                                   "actions": ["CREATE"], "objectIds": []}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.json()["category"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    assert_eq!(bad.json()["errors"][0]["in"], "properties");
    let created = app
        .subscribe(contact_subscription(portal, &["firstname"]))
        .await;
    assert_eq!(created.status, 200);
    let id = created.json()["id"].as_i64().unwrap();
    let listed = app
        .get("/webhooks-journal/subscriptions/2026-03")
        .await
        .json();
    assert_eq!(listed["results"][0]["properties"], json!(["firstname"]));
    let fetched = app
        .get(&format!("/webhooks-journal/subscriptions/2026-03/{id}"))
        .await
        .json();
    assert_eq!(
        (
            fetched["subscriptionType"].as_str(),
            fetched["portalId"].as_i64()
        ),
        (Some("OBJECT"), Some(portal))
    );
    let contact = control
        .create(
            ObjectType::Contacts,
            [("email", "j@x.example"), ("firstname", "Jo")],
        )
        .unwrap();
    control
        .update(
            ObjectType::Contacts,
            &contact,
            [("lastname", "Unsubscribed")],
        )
        .unwrap();
    control.archive(ObjectType::Contacts, &contact).unwrap();
    control
        .create(ObjectType::Deals, [("dealname", "Unsubscribed type")])
        .unwrap();
    let events = app.wait_events(2).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["CREATE", "UPDATE"], "{events:?}");
    assert_eq!(
        events[1]["propertyChanges"],
        json!({"firstname": "Jo"}),
        "only the subscribed property"
    );
    assert_eq!(events[0]["objectId"].to_string(), contact);
    assert_eq!(
        (events[0]["type"].as_str(), events[0]["portalId"].as_i64()),
        (Some("OBJECT"), Some(portal))
    );
    assert!(events[0]["occurredAt"].is_i64());
    let delete = app
        .call(
            reqwest::Method::DELETE,
            &format!("/webhooks-journal/subscriptions/2026-03/{id}"),
            None,
        )
        .await;
    assert_eq!(delete.status, 204);
    assert_eq!(
        app.get(&format!("/webhooks-journal/subscriptions/2026-03/{id}"))
            .await
            .status,
        404
    );
    app.subscribe(contact_subscription(portal, &["firstname"]))
        .await;
    let drop_portal = format!("/webhooks-journal/subscriptions/2026-03/portals/{portal}");
    assert_eq!(
        app.call(reqwest::Method::DELETE, &drop_portal, None)
            .await
            .status,
        204
    );
    assert!(control.journal_subscriptions().is_empty());
    control
        .create(ObjectType::Contacts, [("firstname", "After")])
        .unwrap();
    control.flush_journal();
    assert_eq!(
        app.events().await.len(),
        2,
        "nothing written without a subscription"
    );
}

#[tokio::test]
async fn offsets_chain_through_next_and_batches_read_them() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let (app, control) = (App::new(&sim, ALL_SCOPES).await, sim.handle.control());
    control.journal_subscribe_all();
    let first = control
        .create(ObjectType::Companies, [("name", "Acme")])
        .unwrap();
    // No flush: the file closes on its own within the interval.
    let events = app.wait_events(2).await;
    assert_eq!(events[0]["objectTypeId"], "0-2");
    for name in ["B", "C"] {
        control
            .update(ObjectType::Companies, &first, [("name", name)])
            .unwrap();
        control.flush_journal();
    }
    let entries = app.entries().await;
    assert_eq!(entries.len(), 3, "one file per flush after the first");
    let offsets: Vec<&str> = entries
        .iter()
        .map(|entry| entry["currentOffset"].as_str().unwrap())
        .collect();
    assert!(entries
        .iter()
        .all(|entry| entry["expiresAt"].as_str().unwrap().ends_with('Z')));
    assert_eq!(
        app.get(&app.local("latest")).await.json()["currentOffset"],
        offsets[2]
    );
    let listed = |answer: Answer| -> Vec<String> {
        assert_eq!(
            (answer.status, answer.json()["status"].as_str()),
            (200, Some("COMPLETE"))
        );
        answer.json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["currentOffset"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(listed(app.get_local("batch/earliest/100").await), offsets);
    assert_eq!(listed(app.get_local("batch/latest/2").await), offsets[1..]);
    assert_eq!(
        listed(app.get_local(&format!("batch/{}/next/1", offsets[0])).await),
        offsets[1..2]
    );
    assert!(listed(app.get_local(&format!("batch/{}/next/5", offsets[2])).await).is_empty());
    for count in ["0", "101", "x"] {
        assert_eq!(
            app.get_local(&format!("batch/earliest/{count}"))
                .await
                .status,
            400,
            "{count}"
        );
    }
    assert_eq!(
        app.get_local("offset/00000000-0000-4000-8000-000000000000/next")
            .await
            .status,
        404
    );
    assert_eq!(
        listed(app.batch_read(json!([offsets[1]])).await),
        offsets[1..2]
    );
    let partial = app.batch_read(json!([offsets[0], "unknown"])).await;
    let body = partial.json();
    assert_eq!(
        (
            partial.status,
            body["numErrors"].as_u64(),
            body["results"].as_array().unwrap().len()
        ),
        (207, Some(1), 1)
    );
    assert_eq!(body["errors"][0]["context"]["offsets"][0], "unknown");
    let global = app
        .get("/webhooks-journal/journal/2026-03/batch/earliest/10")
        .await;
    assert_eq!(
        listed(global),
        offsets,
        "the global journal holds the same files"
    );
    let elsewhere = app
        .get("/webhooks-journal/journal-local/2026-03/earliest?installPortalId=1")
        .await;
    assert_eq!(
        elsewhere.status, 204,
        "another portal's local journal is empty"
    );
    let calls = sim.handle.stats().calls;
    assert!(
        calls["GET /webhooks-journal/journal-local/2026-03/offset/{offset}/next"] >= 3,
        "{calls:?}"
    );
    assert_eq!(
        calls["POST /webhooks-journal/journal-local/2026-03/batch/read"],
        2
    );
    assert!(calls["GET /journal-files/{portalId}/{offset}.json"] >= 1);
    assert_eq!(sim.handle.stats().journal.files_written, 3);
}
