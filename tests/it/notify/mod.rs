//! Notifications to internal services: the real daemon mirroring the simulator, with local
//! receivers as targets that verify every signature. Events end to end, the faults the issue
//! names (a target down then back, 500 / 410 / timeouts / slow answers, kill -9 with
//! notifications in flight, a short secret, an http URL, the high water) and the digest
//! against an SMTP server started in the test.

mod config;
mod crash;
mod digest;
mod events;
mod faults;
mod high_water;
pub mod receiver;
mod removed;
mod smtp;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hubspot_gateway::sim::{self, SimConfig, SimHandle};
use serde_json::Value;

use crate::mirror::wait_until;
use crate::support::process::{command, free_port, sim_config_file, Process};
use crate::support::{
    far_reconcile_window, webhooks_to, Gateway, Options, ADMIN_TOKEN, READ_TOKEN,
};
use receiver::Receiver;

/// A target secret as Standard Webhooks libraries hand them out, and its HMAC key.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub fn key() -> Vec<u8> {
    hubspot_gateway::config::signing_key(SECRET).unwrap()
}

/// A `[[notify.targets]]` entry for `url`, named `name`, with `extra` keys.
pub fn target(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[[notify.targets]]\nname = \"{name}\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n{extra}\n"
    )
}

/// `[notify]` with fast retries (tests cannot wait minutes), then `targets`.
pub fn notify_section(keys: &str, targets: &str) -> String {
    format!(
        "[notify]\ntimeout_secs = 1\nretry_initial_ms = 50\nretry_max_ms = 400\n{keys}\n{targets}"
    )
}

pub struct Harness {
    pub sim: SimHandle,
    pub gateway: Gateway,
}

impl Harness {
    /// A simulated portal whose webhooks reach a gateway configured with `sections`, after
    /// its first full sync.
    pub async fn start(config: SimConfig, sections: String) -> Harness {
        let mut config = config;
        let port = free_port();
        let public_url = format!("http://127.0.0.1:{port}");
        config.access_token = "pat-na1-it".into();
        config.rate_limit = Some(sim::RateLimit {
            max: 100_000,
            interval_ms: 10_000,
        });
        config.webhook = Some(webhooks_to(&public_url));
        let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let gateway = Self::gateway(&sim, dir, port, sections).await;
        let harness = Harness { sim, gateway };
        wait_until("the first full sync", Duration::from_secs(60), || async {
            let (_, status) = harness.gateway.get("/v1/status", Some(READ_TOKEN)).await;
            ["contacts", "companies", "deals", "tasks"]
                .iter()
                .all(|kind| !status[kind]["last_full_sync"].is_null())
        })
        .await;
        harness
    }

    /// A gateway on the store in `dir` listening on `port`, with `sections`.
    async fn gateway(
        sim: &SimHandle,
        dir: tempfile::TempDir,
        port: u16,
        sections: String,
    ) -> Gateway {
        let options = Options {
            hubspot: format!("api_base = \"{}\"\nmax_retry_secs = 10", sim.base_url()),
            sync: Some(format!(
                "poll_interval_secs = 1\nlookback_secs = 5\nreference_interval_secs = 1\n{}",
                far_reconcile_window()
            )),
            sections,
            ..Options::default()
        };
        let (listen, public_url) = (
            format!("127.0.0.1:{port}"),
            format!("http://127.0.0.1:{port}"),
        );
        Gateway::start_in(dir, &listen, &public_url, &options).await
    }

    /// Stops the gateway and starts it again on its store with `sections`; returns the
    /// store's directory's holder too.
    pub async fn restart(self, sections: String) -> Harness {
        let port = self.gateway.addr.port();
        let dir = self.gateway.stop().await;
        let gateway = Self::gateway(&self.sim, dir, port, sections).await;
        Harness {
            sim: self.sim,
            gateway,
        }
    }

    /// `GET /v1/notifications`' entry for target `name`.
    pub async fn status(&self, name: &str) -> Value {
        let (code, body) = self
            .gateway
            .get("/v1/notifications", Some(ADMIN_TOKEN))
            .await;
        assert_eq!(code, 200, "{body}");
        body["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|target| target["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no target {name} in {body}"))
    }

    pub async fn stop(self) {
        self.gateway.stop().await;
        self.sim.shutdown().await;
    }
}

/// Gives the record `id` of `kind` another owner in the simulated portal; its owner before
/// and after.
pub fn reassign(control: &sim::Control, kind: sim::ObjectType, id: &str) -> (String, String) {
    let before = control.record(kind, id).unwrap().properties["hubspot_owner_id"].clone();
    let owners: Vec<String> = control
        .owners()
        .iter()
        .map(|owner| owner.id.to_string())
        .collect();
    let after = owners
        .iter()
        .find(|owner| **owner != before)
        .unwrap()
        .clone();
    control.set_owner(kind, id, &after).unwrap();
    (before, after)
}

/// A portal of `owners` owners and `contacts` contacts, nothing else, for the real binary.
pub fn contacts_portal(owners: usize, contacts: usize) -> SimConfig {
    SimConfig {
        owners,
        contacts,
        companies: 0,
        deals: 0,
        tasks: 0,
        access_token: "pat-na1-it".into(),
        ..SimConfig::default()
    }
}

/// A config (in `dir`) for the real binary mirroring `sim`'s owners and contacts with
/// `section` (`[notify]`), and its base URL.
pub fn binary_config(sim: &SimHandle, dir: &Path, section: &str) -> (PathBuf, String) {
    let objects = ["owners", "contacts"];
    let (config, port) = sim_config_file(dir, &sim.base_url(), &objects);
    let base = format!("http://127.0.0.1:{port}");
    // Webhooks come straight from the simulator: they are signed for where they are sent.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "public_url = \"https://h.example\"",
        &format!("public_url = \"{base}\""),
    );
    std::fs::write(&config, text + "\n" + section).unwrap();
    (config, base)
}

/// `serve` on `config`, with `env` (a variable whose value is `None` is left out).
pub fn serve(config: &Path, env: &[(&str, Option<&str>)]) -> Process {
    let mut command = command(config);
    command.arg("serve");
    for (name, value) in env {
        if let Some(value) = value {
            command.env(name, value);
        }
    }
    Process::spawn(command, config)
}

/// From now on the simulator sends its webhooks to the gateway at `base`.
pub fn send_webhooks(sim: &SimHandle, base: &str) {
    sim.control().set_webhook_target(Some(webhooks_to(base)));
}

/// Waits until `receiver` holds `count` distinct notifications of `kind`; returns them.
pub async fn wait_for(
    receiver: &Receiver,
    kind: &str,
    count: usize,
    within: Duration,
) -> Vec<Value> {
    wait_until(&format!("{count} {kind} notifications"), within, || async {
        receiver.of(kind).len() >= count
    })
    .await;
    receiver.of(kind)
}

/// The owner changes of each record, in arrival order (repeats of a webhook-id removed), as
/// `(before, after)`.
pub fn owner_chains(
    receiver: &Receiver,
) -> std::collections::BTreeMap<String, Vec<(Value, Value)>> {
    let mut chains: std::collections::BTreeMap<String, Vec<(Value, Value)>> = Default::default();
    for body in receiver.of("owner.changed") {
        let data = &body["data"];
        chains
            .entry(format!("{}/{}", data["object_type"], data["id"]))
            .or_default()
            .push((data["owner_before"].clone(), data["owner_after"].clone()));
    }
    chains
}

/// Waits until the last owner change of each `(contact, owner)` in `finals` has arrived.
pub async fn wait_for_finals(receiver: &Receiver, finals: &[(String, String)], within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let chains = owner_chains(receiver);
        let missing: Vec<String> = finals
            .iter()
            .filter(|(contact, owner)| {
                !chains
                    .get(&format!("\"contacts\"/\"{contact}\""))
                    .and_then(|chain| chain.last())
                    .is_some_and(|(_, after)| after == owner.as_str())
            })
            .map(|(contact, owner)| {
                let chain = chains.get(&format!("\"contacts\"/\"{contact}\""));
                format!("{contact} → {owner}: arrived {chain:?}")
            })
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "last owner changes missing: {missing:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether each record's owner changes link up (each one's `before` is the previous
/// `after`): the order they were made in.
pub fn in_order(chain: &[(Value, Value)]) -> bool {
    chain.windows(2).all(|pair| pair[0].1 == pair[1].0)
}

impl Receiver {
    pub async fn start_any() -> Receiver {
        Receiver::start(&key(), 0).await
    }
}

/// `READ_TOKEN` for the modules' lookups.
pub const READ: &str = READ_TOKEN;
