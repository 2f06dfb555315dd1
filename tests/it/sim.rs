//! hubspot-sim over real sockets: HubSpot's shapes, limits, auth, writes, webhooks, the
//! Webhooks Journal, `fire`.

mod accounts;
mod auth;
mod binary;
mod fire;
mod journal;
mod journal_app;
mod journal_faults;
mod limits;
mod oauth;
mod oauth_pages;
mod oauth_tokens;
mod reads;
mod receiver;
mod webhooks;
mod writes;

use hubspot_gateway::sim::{self, JournalConfig, SimConfig, SimHandle};
use serde_json::Value;

/// A started simulator and a client that sends its private-app token.
pub struct Sim {
    pub handle: SimHandle,
    pub http: reqwest::Client,
}

impl Sim {
    pub async fn start(config: SimConfig) -> Sim {
        // Invariant: binding port 0 on loopback succeeds in the test environment.
        let handle = sim::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .expect("simulator starts");
        Sim {
            handle,
            http: reqwest::Client::new(),
        }
    }

    /// No rate limits, so tests that are not about limits never meet one.
    pub async fn unlimited(config: SimConfig) -> Sim {
        Sim::start(SimConfig {
            rate_limit: None,
            search_rate_limit: None,
            journal: JournalConfig {
                rate_limit: None,
                ..config.journal.clone()
            },
            ..config
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    pub fn token(&self) -> String {
        self.handle.config().access_token.clone()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(self.token())
            .send()
            .await
            .expect("request");
        read(response).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(self.token())
            .json(&body)
            .send()
            .await
            .expect("request");
        read(response).await
    }
}

pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
