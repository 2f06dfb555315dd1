//! A Webhooks Journal client for tests: a client-credentials token, the local journal's
//! calls, file downloads without auth, and "every event so far" by following `next`.

use std::time::Duration;

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
