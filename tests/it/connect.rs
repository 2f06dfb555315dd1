//! Connect to HubSpot as an app, against the simulator over real sockets: the install flow
//! and its bad callbacks, tokens at rest and their refresh, Change user, Disconnect,
//! preferences, users' own connections for exports, and `kill -9` during the callback.

mod callbacks;
mod cli;
mod crash;
mod flow;
mod tokens;
mod users;

use std::time::Duration;

use hubspot_gateway::sim::browser::Browser;
use hubspot_gateway::sim::{self, SimConfig, SimHandle};
use reqwest::Method;
use serde_json::Value;

use crate::mirror::wait_until;
use crate::support::process::free_port;
use crate::support::{
    far_reconcile_window, webhooks_to, Gateway, Options, ADMIN_TOKEN, CLIENT_SECRET, READ_TOKEN,
};

/// The simulated portal, and the second account its first owner also belongs to.
pub const PORTAL: i64 = 62_515_001;
pub const OTHER_PORTAL: i64 = 62_515_002;

/// A small portal whose app shares the gateway's client secret.
pub fn portal() -> SimConfig {
    SimConfig {
        owners: 6,
        contacts: 60,
        companies: 30,
        deals: 20,
        tasks: 20,
        client_secret: CLIENT_SECRET.into(),
        rate_limit: Some(sim::RateLimit {
            max: 100_000,
            interval_ms: 10_000,
        }),
        ..SimConfig::default()
    }
}

/// A simulator and a gateway set up as an OAuth app with nothing connected yet.
pub struct Setup {
    pub sim: SimHandle,
    pub gateway: Gateway,
}

/// A gateway set up as an OAuth app of `sim` (nothing connected), `hubspot` lines added to
/// `[hubspot]`, its store's key from `key_env`, sync polling every `poll_secs`.
pub fn oauth_options(
    sim: &SimHandle,
    key_env: Option<&str>,
    hubspot: &str,
    poll_secs: u64,
) -> Options {
    Options {
        hubspot: format!(
            "api_base = \"{0}\"\napp_base = \"{0}\"\nmax_retry_secs = 3\n{hubspot}",
            sim.base_url()
        ),
        store: store_lines(key_env),
        sync: Some(format!(
            "poll_interval_secs = {poll_secs}\nlookback_secs = 5\n{}",
            far_reconcile_window()
        )),
        connect_client_id: Some(sim.config().client_id.clone()),
        ..Options::default()
    }
}

/// `store.secrets_key` from this variable of the test environment; `None`: no key.
pub fn store_lines(key_env: Option<&str>) -> String {
    key_env.map_or(String::new(), |name| {
        format!("secrets_key = \"env:{name}\"")
    })
}

impl Setup {
    pub async fn start(config: SimConfig) -> Setup {
        let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let gateway =
            Self::gateway(&sim, tempfile::tempdir().unwrap(), Some("IT_SECRETS_KEY")).await;
        Setup { sim, gateway }
    }

    /// A gateway for `sim` on the store in `dir` (on a new port), webhooks pointed at it.
    pub async fn gateway(
        sim: &SimHandle,
        dir: tempfile::TempDir,
        key_env: Option<&str>,
    ) -> Gateway {
        Self::gateway_at(sim, dir, key_env, free_port()).await
    }

    /// Like `gateway`, on `port`: a restarted daemon keeps its address (authorize links
    /// handed out before name it as their redirect URL).
    pub async fn gateway_at(
        sim: &SimHandle,
        dir: tempfile::TempDir,
        key_env: Option<&str>,
        port: u16,
    ) -> Gateway {
        Self::gateway_tuned(sim, dir, key_env, port, "", 1).await
    }

    /// Like `gateway_at`, with `hubspot` lines added to `[hubspot]` and sync polling every
    /// `poll_secs`.
    pub async fn gateway_tuned(
        sim: &SimHandle,
        dir: tempfile::TempDir,
        key_env: Option<&str>,
        port: u16,
        hubspot: &str,
        poll_secs: u64,
    ) -> Gateway {
        let public_url = format!("http://127.0.0.1:{port}");
        sim.control()
            .set_webhook_target(Some(webhooks_to(&public_url)));
        let options = oauth_options(sim, key_env, hubspot, poll_secs);
        Gateway::start_in(dir, &format!("127.0.0.1:{port}"), &public_url, &options).await
    }

    /// Stops the gateway and starts it again on the same store with `key_env`.
    pub async fn restart(self, key_env: Option<&str>) -> Setup {
        let port = self.gateway.addr.port();
        let dir = self.gateway.stop().await;
        let gateway = Self::gateway_at(&self.sim, dir, key_env, port).await;
        Setup {
            sim: self.sim,
            gateway,
        }
    }

    pub async fn connection(&self) -> Value {
        let (status, body) = self.gateway.get("/v1/connection", Some(ADMIN_TOKEN)).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `POST /v1/connection/start` → the authorize URL.
    pub async fn start_url(&self) -> String {
        start_url(&self.gateway).await
    }

    /// The whole flow: start, consent as `email` in `portal`, callback. The page's status
    /// and text.
    pub async fn connect_as(&self, email: &str, portal: i64) -> (u16, String) {
        connect_through(&self.gateway, email, portal).await
    }

    /// Waits until the mirror of every type is backfilled.
    pub async fn wait_for_backfill(&self) {
        wait_until("backfill", Duration::from_secs(60), || async {
            let (status, body) = self.gateway.get("/v1/status", Some(READ_TOKEN)).await;
            status == 200
                && ["contacts", "companies", "deals", "tasks"]
                    .iter()
                    .all(|kind| !body[kind]["last_full_sync"].is_null())
        })
        .await;
    }

    /// Creates a contact in HubSpot and waits until the mirror has it: sync runs.
    pub async fn sync_sees_a_new_contact(&self, email: &str) {
        let id = self
            .sim
            .control()
            .create(sim::ObjectType::Contacts, [("email", email)])
            .unwrap();
        let path = format!("/v1/objects/contacts/{id}");
        wait_until(
            "the new contact in the mirror",
            Duration::from_secs(30),
            || async { self.gateway.get(&path, Some(READ_TOKEN)).await.0 == 200 },
        )
        .await;
    }

    /// The email of a user of the simulated portal: 0 is its first owner (also a user of
    /// the other account), the others belong to the simulated portal only.
    pub fn user(&self, index: usize) -> (String, u64) {
        let users: Vec<_> = self
            .sim
            .control()
            .users()
            .into_iter()
            .filter(|user| user.portal_ids.contains(&PORTAL))
            .collect();
        (users[index].email.clone(), users[index].user_id)
    }

    /// Refresh tokens the simulator issued by code exchanges for `user_id` that still work.
    pub fn live_tokens(&self, user_id: u64) -> Vec<String> {
        let configured = &self.sim.config().refresh_token;
        self.sim
            .control()
            .refresh_tokens()
            .into_iter()
            .filter(|t| t.usable && t.user_id == Some(user_id) && t.token != *configured)
            .map(|t| t.token)
            .collect()
    }
}

/// `POST /v1/connection/start` at `gateway`: the status and answer.
pub async fn start(gateway: &Gateway) -> (u16, Value) {
    let path = "/v1/connection/start";
    gateway
        .send(Method::POST, path, ADMIN_TOKEN, &Value::Null)
        .await
}

/// `POST /v1/connection/start` at `gateway` → the authorize URL.
pub async fn start_url(gateway: &Gateway) -> String {
    let (status, body) = start(gateway).await;
    assert_eq!(status, 200, "{body}");
    body["authorize_url"].as_str().unwrap().to_owned()
}

/// The whole flow through `gateway` (the callback comes back to it): start, consent as
/// `email` in `portal`, callback. The page's status and text.
pub async fn connect_through(gateway: &Gateway, email: &str, portal: i64) -> (u16, String) {
    let url = start_url(gateway).await;
    follow(&consent(&url, email, portal).await).await
}

/// A person at HubSpot's pages: signs in as `email`, chooses `portal`, connects. The URL
/// the browser is sent back to.
pub async fn consent(url: &str, email: &str, portal: i64) -> String {
    Browser::new()
        .authorize(url, email, Some(portal))
        .await
        .unwrap()
}

/// GETs the callback URL as the browser would; the page's status and text.
pub async fn follow(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// `url` with its query parameter `name` replaced (or removed with `None`).
pub fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (key, v) in &pairs {
            query.append_pair(key, v);
        }
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    parsed.to_string()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
