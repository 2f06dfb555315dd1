//! The real binary killed (SIGKILL) at every step of a portal's removal (the crash points of
//! `api::removal::crash`, `HUBSPOT_GATEWAY_REMOVAL_CRASH`), the first portal and an added one:
//! started again on the same store, it finishes the removal: nothing is being removed, the
//! other portal alone is mirrored and keeps everything, the removed portal's refresh token is
//! revoked, and connected again it starts from nothing (no record, user mapping or schedule
//! of before). Against the simulator's two accounts, over real sockets.

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hubspot_gateway::api::removal::crash::{self, Step};
use hubspot_gateway::sim::{self, SimHandle};
use reqwest::Method;
use serde_json::{json, Value};

use crate::connect::{consent, follow, oauth_options, portal, OTHER_PORTAL, PORTAL};
use crate::mirror::wait_until;
use crate::portals::{backfilled, of};
use crate::support::process::{command, free_port, Process};
use crate::support::{answer, config_with, Options, ADMIN_TOKEN, CLIENT_SECRET, READ_TOKEN};

const SCHEDULE: &str = "/v1/sync/schedule";
/// The contact of the removed portal that HubSpot deletes without the gateway being told.
const GONE: &str = "gone@removed.example";
/// The contact of the portal that stays.
const STAYS: &str = "stays@kept.example";
/// The user whose mapping each portal gets.
const MAPPED: &str = "dev@internal.example";

/// A `hubspot-gateway serve` process and its base URL.
pub(crate) struct Daemon {
    pub process: Process,
    pub base: String,
    http: reqwest::Client,
}

impl Daemon {
    /// `serve` with `config`, `env` added to its environment; waits until `base` is ready.
    pub async fn start(config: &Path, base: &str, env: &[(&str, &str)]) -> Daemon {
        let mut serve = command(config);
        serve.arg("serve");
        for (name, value) in env {
            serve.env(name, value);
        }
        let mut process = Process::spawn(serve, config);
        process.wait_ready(base).await;
        Daemon {
            process,
            base: base.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// A request with a bearer token (and a JSON body unless `Null`); `None`: no answer.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Option<(u16, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .timeout(Duration::from_secs(20));
        if !body.is_null() {
            request = request.json(body);
        }
        Some(answer(request.send().await.ok()?).await)
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> (u16, Value) {
        let answered = self.call(method, path, token, body).await;
        answered.unwrap_or_else(|| panic!("no answer to {path}: {}", self.process.log_text()))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send(Method::GET, path, token, &Value::Null).await
    }

    /// `GET /v1/status` (of the first portal).
    pub async fn status(&self) -> Value {
        let (status, body) = self.get("/v1/status", READ_TOKEN).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The whole Connect: start here, consent as `email` in `portal`, the callback back here.
    /// The page's status and text.
    pub async fn connect(&self, email: &str, portal: i64) -> (u16, String) {
        let path = "/v1/connection/start";
        let (status, body) = self
            .send(Method::POST, path, ADMIN_TOKEN, &Value::Null)
            .await;
        assert_eq!(status, 200, "{body}");
        let url = body["authorize_url"].as_str().unwrap();
        follow(&consent(url, email, portal).await).await
    }

    /// `DELETE /v1/portals/{portal}`; `None` when the daemon died before answering.
    pub async fn remove(&self, portal: i64) -> Option<(u16, Value)> {
        let path = format!("/v1/portals/{portal}");
        self.call(Method::DELETE, &path, ADMIN_TOKEN, &Value::Null)
            .await
    }

    /// Waits until every type of `portal` is backfilled.
    pub async fn wait_for_backfill_of(&self, portal: i64) {
        wait_until("the portal's backfill", Duration::from_secs(60), || async {
            let (status, body) = self.get(&of("/v1/status", portal), READ_TOKEN).await;
            status == 200 && backfilled(&body, portal)
        })
        .await;
    }

    /// Waits until no removal is pending and the deployment mirrors exactly `portals`.
    pub async fn wait_for_portals(&self, portals: &[i64]) {
        let what = format!(
            "portals {portals:?} at {}, nothing being removed",
            self.base
        );
        wait_until(&what, Duration::from_secs(30), || async {
            let body = self.status().await;
            body["removing"] == json!([]) && body["portals"] == json!(portals)
        })
        .await;
    }

    /// The ids of the contacts with `email` in `portal`'s mirror.
    pub async fn contact_ids(&self, portal: i64, email: &str) -> Vec<Value> {
        let path = of(&format!("/v1/contacts/lookup?email={email}"), portal);
        let (status, body) = self.get(&path, READ_TOKEN).await;
        assert_eq!(status, 200, "{path} at {}: {body}", self.base);
        let found = body["matches"].as_array().cloned().unwrap_or_default();
        found.iter().map(|found| found["id"].clone()).collect()
    }

    /// Asserts that a lookup naming `portal` is refused: no such portal in the deployment.
    pub async fn refuses(&self, portal: i64) {
        let path = of(&format!("/v1/contacts/lookup?email={GONE}"), portal);
        let (status, body) = self.get(&path, READ_TOKEN).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (404, &json!("unknown_portal")),
            "{path} at {}: {body}",
            self.base
        );
    }

    /// The owner `MAPPED` is mapped to in `portal` (`Null`: none).
    async fn mapping(&self, portal: i64) -> Value {
        let (_, body) = self
            .get(&of("/v1/user-mappings", portal), ADMIN_TOKEN)
            .await;
        let mappings = body["mappings"].as_array().cloned().unwrap_or_default();
        mappings
            .into_iter()
            .find(|mapping| mapping["email"] == MAPPED)
            .map_or(Value::Null, |mapping| mapping["owner_id"].clone())
    }

    /// Where `portal`'s sync schedule comes from (`config` or `override`).
    async fn schedule_source(&self, portal: i64) -> Value {
        let (status, body) = self.get(&of(SCHEDULE, portal), ADMIN_TOKEN).await;
        assert_eq!(status, 200, "{body}");
        body["source"].clone()
    }

    /// Gives `portal` settings of its own: `MAPPED` mapped to its first owner, a weekly
    /// schedule.
    async fn settle_in(&self, portal: i64) {
        let (_, owners) = self.get(&of("/v1/owners", portal), READ_TOKEN).await;
        let owner = owners["owners"][0]["id"].clone();
        assert!(!owner.is_null(), "{owners}");
        let path = of(&format!("/v1/user-mappings/{MAPPED}"), portal);
        let body = json!({"owner_id": owner});
        let (status, answer) = self.send(Method::PUT, &path, ADMIN_TOKEN, &body).await;
        assert_eq!(status, 200, "{answer}");
        let weekly = json!({"frequency": "weekly", "day": "tuesday"});
        let path = of(SCHEDULE, portal);
        let (status, answer) = self.send(Method::PUT, &path, ADMIN_TOKEN, &weekly).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(self.schedule_source(portal).await, "override");
    }

    /// SIGTERM, and waits for a clean exit.
    pub async fn stop(mut self) {
        self.process.signal(libc::SIGTERM);
        let status = self.process.wait_exit().await;
        assert!(status.success(), "{status}: {}", self.process.log_text());
    }
}

/// A gateway's config in `dir` for `sim` as an OAuth app taking several portals (nothing
/// connected), with `options` on top; the config's path and the base URL (also its public
/// URL: a Connect's callback comes back to it).
pub(crate) fn config_file(
    sim: &SimHandle,
    dir: &Path,
    edit: impl FnOnce(Options) -> Options,
) -> (PathBuf, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let options = edit(oauth_options(
        sim,
        Some("IT_SECRETS_KEY"),
        "multiple_portals = true",
        3600,
    ));
    let text = config_with(
        &format!("127.0.0.1:{port}"),
        &base,
        &dir.join("store"),
        &options,
    );
    let config = dir.join("config.toml");
    std::fs::write(&config, text).unwrap();
    (config, base)
}

/// A HubSpot user of both accounts.
pub(crate) fn user_of_both(sim: &SimHandle) -> String {
    let users = sim.control().users();
    let both = [PORTAL, OTHER_PORTAL];
    let user = users
        .iter()
        .find(|user| both.iter().all(|p| user.portal_ids.contains(p)));
    user.unwrap().email.clone()
}

/// The refresh token a Connect to `portal` got (not the simulator's configured one); there
/// must be exactly one that works.
pub(crate) fn connected_token(sim: &SimHandle, portal: i64) -> String {
    let configured = &sim.config().refresh_token;
    let tokens: Vec<String> = sim
        .control()
        .refresh_tokens()
        .into_iter()
        .filter(|token| token.portal_id == portal && token.usable && &token.token != configured)
        .map(|token| token.token)
        .collect();
    assert_eq!(tokens.len(), 1, "one Connect to {portal}: {tokens:?}");
    tokens[0].clone()
}

/// Whether HubSpot still takes `token`.
pub(crate) fn usable(sim: &SimHandle, token: &str) -> bool {
    let tokens = sim.control().refresh_tokens();
    tokens.iter().any(|t| t.token == token && t.usable)
}

/// Archives contact `id` at HubSpot through its API, as the app holding `refresh_token` (of
/// the account the contact is in). No webhook goes to the gateway (none is configured).
pub(crate) async fn archive_at_hubspot(sim: &SimHandle, refresh_token: &str, id: &str) {
    let http = reqwest::Client::new();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "refresh_token")
        .append_pair("client_id", &sim.config().client_id)
        .append_pair("client_secret", CLIENT_SECRET)
        .append_pair("refresh_token", refresh_token)
        .finish();
    let request = http
        .post(format!("{}/oauth/v1/token", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form);
    let (status, tokens) = answer(request.send().await.unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    let access_token = tokens["access_token"].as_str().unwrap();
    let url = format!("{}/crm/v3/objects/contacts/{id}", sim.base_url());
    let response = http.delete(&url).bearer_auth(access_token).send().await;
    let (status, body) = answer(response.unwrap()).await;
    assert_eq!(status, 204, "{body}");
    let response = http.get(&url).bearer_auth(access_token).send().await;
    let (status, body) = answer(response.unwrap()).await;
    assert_eq!(status, 404, "archived: {body}");
}

/// Two portals connected and backfilled, each with settings of its own; `removed`'s removal
/// killed at `step`; started again, the removal is finished and leaves nothing behind.
async fn killed_at(step: Step, removed: i64) {
    let kept = if removed == PORTAL {
        OTHER_PORTAL
    } else {
        PORTAL
    };
    let case = format!("{} removing {removed}", step.name());
    let sim = sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let control = sim.control();
    let contacts = sim::ObjectType::Contacts;
    let gone = control.create_in(removed, contacts, [("email", GONE)]);
    let gone = gone.unwrap();
    control
        .create_in(kept, contacts, [("email", STAYS)])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (config, base) = config_file(&sim, dir.path(), |options| options);
    let armed = [(crash::VARIABLE, step.name())];
    let mut daemon = Daemon::start(&config, &base, &armed).await;
    let email = user_of_both(&sim);
    for portal in [PORTAL, OTHER_PORTAL] {
        let (status, html) = daemon.connect(&email, portal).await;
        assert_eq!(status, 200, "{case}: {html}");
        daemon.wait_for_backfill_of(portal).await;
        daemon.settle_in(portal).await;
    }
    let kept_mapping = daemon.mapping(kept).await;
    assert!(!kept_mapping.is_null(), "{case}");
    let token = connected_token(&sim, removed);

    // HubSpot deletes a contact of the portal to be removed; nothing tells the gateway (no
    // webhooks, no polling soon), so its mirror keeps it, as a mirror kept across the
    // removal would after the portal is connected again (a backfill does not delete).
    assert_eq!(
        daemon.contact_ids(removed, GONE).await,
        [json!(gone)],
        "{case}"
    );
    archive_at_hubspot(&sim, &token, &gone).await;
    assert_eq!(
        daemon.contact_ids(removed, GONE).await,
        [json!(gone)],
        "{case}"
    );

    // The removal: the daemon kills itself at the step (at `marked` before it answers).
    let answered = daemon.remove(removed).await;
    let accepted = json!({"portal_id": removed, "state": "removing"});
    match (step, answered) {
        (Step::Marked, None) => {}
        (Step::Marked, Some(answered)) => panic!("{case}: answered {answered:?}"),
        // The removal goes on after the answer, which the kill may beat.
        (_, None) => {}
        (_, Some(answered)) => assert_eq!(answered, (202, accepted), "{case}"),
    }
    let exit = daemon.process.wait_exit().await;
    let log = daemon.process.log_text();
    assert_eq!(exit.signal(), Some(libc::SIGKILL), "{case}: {exit}: {log}");
    // Revoked by the last step before the crash point `forgotten`, not before.
    let revoked = step == Step::Forgotten;
    assert_eq!(usable(&sim, &token), !revoked, "{case}: {log}");
    drop(daemon);

    // Started again (unarmed) on the same store: the removal is finished.
    let daemon = Daemon::start(&config, &base, &[]).await;
    daemon.wait_for_portals(&[kept]).await;
    daemon.refuses(removed).await;
    assert!(
        !usable(&sim, &token),
        "{case}: its refresh token is revoked"
    );
    assert_eq!(daemon.contact_ids(kept, STAYS).await.len(), 1, "{case}");
    assert_eq!(daemon.mapping(kept).await, kept_mapping, "{case}");
    assert_eq!(daemon.schedule_source(kept).await, "override", "{case}");

    // Connected again, the removed portal starts from nothing.
    let (status, html) = daemon.connect(&email, removed).await;
    assert_eq!(status, 200, "{case}: {html}");
    daemon.wait_for_backfill_of(removed).await;
    assert_eq!(
        daemon.contact_ids(removed, GONE).await,
        [] as [Value; 0],
        "{case}: the mirror of before is gone"
    );
    assert!(
        daemon.mapping(removed).await.is_null(),
        "{case}: its user mapping went with it"
    );
    assert_eq!(daemon.schedule_source(removed).await, "config", "{case}");
    assert_eq!(daemon.schedule_source(kept).await, "override", "{case}");
    assert_eq!(daemon.contact_ids(kept, STAYS).await.len(), 1, "{case}");
    let mut portals = daemon.status().await["portals"].clone();
    let portals = portals.as_array_mut().unwrap();
    portals.sort_by_key(|portal| portal.as_i64());
    assert_eq!(*portals, [json!(PORTAL), json!(OTHER_PORTAL)], "{case}");
    daemon.stop().await;
    sim.shutdown().await;
}

/// Every step of `Step::ALL` for `removed`, the cases side by side; each failed case has
/// printed its panic, the steps that failed are named last.
async fn killed_at_every_step(removed: i64) {
    let cases: Vec<_> = Step::ALL
        .into_iter()
        .map(|step| (step, tokio::spawn(killed_at(step, removed))))
        .collect();
    let mut failed = Vec::new();
    for (step, case) in cases {
        if case.await.is_err() {
            failed.push(step.name());
        }
    }
    assert!(
        failed.is_empty(),
        "removing {removed}, killed at {failed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_portal_killed_at_each_step_of_its_removal_is_removed_after_a_restart() {
    killed_at_every_step(PORTAL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_portal_killed_at_each_step_of_its_removal_is_removed_after_a_restart() {
    killed_at_every_step(OTHER_PORTAL).await;
}
