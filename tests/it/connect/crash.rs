//! `kill -9` during the callback, with the real binary: at each step that waits on HubSpot
//! (the code exchange, the token introspection, and, on Change user, the revocation of the
//! replaced token after the new one is stored), the gateway is killed; after a restart it is
//! connected with working tokens or not connected at all, never half.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::{consent, follow, portal, store_lines, PORTAL};
use crate::mirror::wait_until;
use crate::support::gate::Gate;
use crate::support::process::{free_port, Process};
use crate::support::{answer, config_with, far_reconcile_window, Options, ADMIN_TOKEN, READ_TOKEN};

struct Daemon {
    process: Process,
    base: String,
    http: reqwest::Client,
}

impl Daemon {
    async fn start(config: &Path, port: u16) -> Daemon {
        let mut process = Process::serve(config);
        let base = format!("http://127.0.0.1:{port}");
        process.wait_ready(&base).await;
        Daemon {
            process,
            base,
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: Method, path: &str) -> (u16, Value) {
        let request = self.http.request(method, format!("{}{path}", self.base));
        answer(request.bearer_auth(ADMIN_TOKEN).send().await.unwrap()).await
    }

    async fn connection(&self) -> Value {
        self.call(Method::GET, "/v1/connection").await.1
    }

    async fn authorize_url(&self) -> String {
        let (status, body) = self.call(Method::POST, "/v1/connection/start").await;
        assert_eq!(status, 200, "{body}");
        body["authorize_url"].as_str().unwrap().to_owned()
    }

    /// Starts the callback, waits until the gate holds `needle`, then SIGKILLs the daemon.
    async fn kill_during(mut self, gate: &Gate, needle: &str, callback: String) {
        gate.hold(needle);
        let request = tokio::spawn(async move { reqwest::get(callback).await.map(|r| r.status()) });
        tokio::time::timeout(Duration::from_secs(20), gate.held())
            .await
            .unwrap_or_else(|_| panic!("no request with {needle:?}: {}", self.process.log_text()));
        self.process.child.kill().unwrap();
        self.process.wait_exit().await;
        assert!(
            request.await.unwrap().is_err(),
            "the callback never answered"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_each_step_of_the_callback_it_is_connected_or_not_never_half() {
    let sim = hubspot_gateway::sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let gate = Gate::start(sim.local_addr()).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let options = Options {
        hubspot: format!(
            "api_base = \"{}\"\napp_base = \"{}\"\nmax_retry_secs = 3",
            gate.url(),
            sim.base_url()
        ),
        store: store_lines(Some("IT_SECRETS_KEY")),
        sync: Some(format!(
            "poll_interval_secs = 1\n{}",
            far_reconcile_window()
        )),
        connect_client_id: Some(sim.config().client_id.clone()),
        ..Options::default()
    };
    let public_url = format!("http://127.0.0.1:{port}");
    let config = dir.path().join("config.toml");
    let text = config_with(
        &format!("127.0.0.1:{port}"),
        &public_url,
        &dir.path().join("store"),
        &options,
    );
    std::fs::write(&config, text).unwrap();
    let users: Vec<_> = sim
        .control()
        .users()
        .into_iter()
        .filter(|u| u.portal_ids.contains(&PORTAL))
        .collect();
    let (first, second) = (&users[1], &users[2]);

    // Before anything is stored: killed while exchanging the code, or introspecting.
    for needle in ["POST /oauth/v1/token", "GET /oauth/v1/access-tokens/"] {
        let daemon = Daemon::start(&config, port).await;
        let callback = consent(&daemon.authorize_url().await, &first.email, PORTAL).await;
        daemon.kill_during(&gate, needle, callback.clone()).await;
        let daemon = Daemon::start(&config, port).await;
        let connection = daemon.connection().await;
        assert_eq!(
            connection["state"], "not_connected",
            "killed at {needle}: {connection}"
        );
        assert!(connection["primary_admin"].is_null(), "{connection}");
        let (status, html) = follow(&callback).await;
        assert_eq!(status, 400, "the state was used up: {html}");
        daemon.process.signal(libc::SIGTERM);
        let mut process = daemon.process;
        process.wait_exit().await;
    }

    // Connected, then Change user killed after the new connection is stored, while the
    // replaced token is being revoked.
    let daemon = Daemon::start(&config, port).await;
    let (status, html) =
        follow(&consent(&daemon.authorize_url().await, &first.email, PORTAL).await).await;
    assert_eq!(status, 200, "{html}");
    let callback = consent(&daemon.authorize_url().await, &second.email, PORTAL).await;
    daemon
        .kill_during(&gate, "DELETE /oauth/v1/refresh-tokens/", callback)
        .await;
    let daemon = Daemon::start(&config, port).await;
    let connection = daemon.connection().await;
    assert_eq!(connection["state"], "connected", "{connection}");
    assert_eq!(connection["primary_admin"]["email"], second.email);
    // Its tokens work: the backfill runs on them.
    wait_until(
        "the backfill on the stored tokens",
        Duration::from_secs(60),
        || async {
            let request = daemon
                .http
                .get(format!("{}/v1/status", daemon.base))
                .bearer_auth(READ_TOKEN);
            let (_, status) = answer(request.send().await.unwrap()).await;
            ["contacts", "companies", "deals", "tasks"]
                .iter()
                .all(|kind| !status[kind]["last_full_sync"].is_null())
        },
    )
    .await;
    daemon.process.signal(libc::SIGTERM);
    let mut process = daemon.process;
    assert!(process.wait_exit().await.success());
}
