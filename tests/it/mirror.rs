//! The mirror against the simulator over real sockets: backfill, then mutations with their
//! webhooks (also dropped, duplicated and shuffled), until the mirror equals the portal.

use std::time::Duration;

use hubspot_gateway::sim::{self, ObjectType, SimConfig, SimHandle, WebhookChaos};
use serde_json::Value;

use crate::support::process::free_port;
use crate::support::{
    far_reconcile_window, webhooks_to, Gateway, Options, ADMIN_TOKEN, CLIENT_SECRET, READ_TOKEN,
};

const TYPES: [ObjectType; 4] = [
    ObjectType::Contacts,
    ObjectType::Companies,
    ObjectType::Deals,
    ObjectType::Tasks,
];

pub struct Harness {
    pub sim: SimHandle,
    pub gateway: Gateway,
}

impl Harness {
    /// A simulator whose webhooks go to a gateway that mirrors it (polling every second).
    pub async fn start(config: SimConfig) -> Harness {
        Self::start_in(config, tempfile::tempdir().unwrap()).await
    }

    /// Like `start`, with the gateway's store in `dir`.
    pub async fn start_in(config: SimConfig, dir: tempfile::TempDir) -> Harness {
        Self::start_with(config, dir, false, "").await
    }

    /// Like `start`, the gateway connecting with OAuth (refresh token, expiring access
    /// tokens) instead of the simulator's private-app token.
    pub async fn start_oauth(config: SimConfig) -> Harness {
        Self::start_with(config, tempfile::tempdir().unwrap(), true, "").await
    }

    /// Like `start_in`, with `hubspot_extra` added to the gateway's `[hubspot]` section.
    pub async fn start_tuned(
        config: SimConfig,
        dir: tempfile::TempDir,
        hubspot_extra: &str,
    ) -> Harness {
        Self::start_with(config, dir, false, hubspot_extra).await
    }

    async fn start_with(
        mut config: SimConfig,
        dir: tempfile::TempDir,
        oauth: bool,
        hubspot_extra: &str,
    ) -> Harness {
        let port = free_port();
        let public_url = format!("http://127.0.0.1:{port}");
        config.access_token = "pat-na1-it".into();
        if oauth {
            // The app's client secret signs webhooks and authenticates the token refresh.
            config.client_secret = CLIENT_SECRET.into();
        }
        // A generous limit: the simulator then sends rate-limit headers and the client paces to them.
        config.rate_limit = Some(sim::RateLimit {
            max: 100_000,
            interval_ms: 10_000,
        });
        config.webhook = Some(webhooks_to(&public_url));
        let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let options = Options {
            hubspot: format!(
                "api_base = \"{}\"\nmax_retry_secs = 10\n{hubspot_extra}",
                sim.base_url()
            ),
            sync: Some(format!(
                "poll_interval_secs = 1\nlookback_secs = 5\n{}",
                far_reconcile_window()
            )),
            oauth_client_id: oauth.then(|| sim.control().config().client_id.clone()),
            ..Options::default()
        };
        let gateway =
            Gateway::start_in(dir, &format!("127.0.0.1:{port}"), &public_url, &options).await;
        let harness = Harness { sim, gateway };
        harness.wait_for_backfill().await;
        harness
    }

    async fn wait_for_backfill(&self) {
        wait_until("backfill", Duration::from_secs(60), || async {
            let (status, body) = self.gateway.get("/v1/status", Some(READ_TOKEN)).await;
            status == 200
                && TYPES
                    .iter()
                    .all(|kind| !body[kind.name()]["last_full_sync"].is_null())
        })
        .await;
    }

    /// Every difference between the mirror (through the API) and the simulator's portal.
    pub async fn differences(&self) -> Vec<String> {
        let snapshot = self.sim.control().snapshot();
        let mut differences = Vec::new();
        for (kind, records) in &snapshot.objects {
            for record in records {
                let (status, body) = self
                    .gateway
                    .get(
                        &format!("/v1/objects/{}/{}", kind.name(), record.id),
                        Some(READ_TOKEN),
                    )
                    .await;
                if status != 200 || body["archived"] != false {
                    differences.push(format!(
                        "{} {} missing ({status}: {body})",
                        kind.name(),
                        record.id
                    ));
                    continue;
                }
                let mirrored: std::collections::BTreeMap<String, String> =
                    serde_json::from_value(body["properties"].clone()).unwrap();
                if mirrored != record.properties {
                    let changed: Vec<&String> = record
                        .properties
                        .keys()
                        .chain(mirrored.keys())
                        .filter(|name| record.properties.get(*name) != mirrored.get(*name))
                        .collect();
                    differences.push(format!(
                        "{} {} differs in {changed:?}",
                        kind.name(),
                        record.id
                    ));
                }
            }
            let (_, status) = self.gateway.get("/v1/status", Some(READ_TOKEN)).await;
            let count = status[kind.name()]["count"].as_u64().unwrap_or(0);
            if count != records.len() as u64 {
                differences.push(format!(
                    "{} count {count} != {}",
                    kind.name(),
                    records.len()
                ));
            }
        }
        for (kind, ids) in &snapshot.archived {
            for id in ids {
                let (status, body) = self
                    .gateway
                    .get(
                        &format!("/v1/objects/{}/{id}", kind.name()),
                        Some(READ_TOKEN),
                    )
                    .await;
                if status == 200 && body["archived"] == false {
                    differences.push(format!(
                        "{} {id} is archived in HubSpot but live in the mirror",
                        kind.name()
                    ));
                }
            }
        }
        for (from, from_id, to, to_id) in snapshot.associations.iter().take(300) {
            let (_, body) = self
                .gateway
                .get(
                    &format!("/v1/objects/{}/{from_id}", from.name()),
                    Some(READ_TOKEN),
                )
                .await;
            let linked = body["associations"][to.name()]
                .as_array()
                .is_some_and(|ids| ids.contains(&Value::String(to_id.clone())));
            if !linked {
                differences.push(format!(
                    "association {} {from_id} → {} {to_id} missing",
                    from.name(),
                    to.name()
                ));
            }
        }
        differences
    }

    /// Waits until the mirror equals the portal (after the simulator's webhooks are out).
    pub async fn converge(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let differences = self.differences().await;
            if differences.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "mirror did not converge: {} differences, e.g. {:?}",
                differences.len(),
                &differences[..differences.len().min(5)]
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops both; the returned directory holds the gateway's store.
    pub async fn stop(self) -> tempfile::TempDir {
        let dir = self.gateway.stop().await;
        self.sim.shutdown().await;
        dir
    }
}

pub async fn wait_until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn small_portal() -> SimConfig {
    SimConfig {
        owners: 8,
        contacts: 300,
        companies: 120,
        deals: 80,
        tasks: 60,
        ..SimConfig::default()
    }
}

/// Mutations of every kind the simulator supports, each sending its webhooks.
pub(crate) fn mutate(sim: &SimHandle) {
    let control = sim.control();
    let contacts = control.ids(ObjectType::Contacts, "0", 10);
    let companies = control.ids(ObjectType::Companies, "0", 5);
    let deals = control.ids(ObjectType::Deals, "0", 3);
    let created = control
        .create(
            ObjectType::Contacts,
            [
                ("email", "new.person@example.org"),
                ("firstname", "New"),
                ("lastname", "Person"),
            ],
        )
        .unwrap();
    control
        .update(
            ObjectType::Companies,
            &companies[0],
            [("name", "Renamed Inc"), ("city", "Lyon")],
        )
        .unwrap();
    control.archive(ObjectType::Deals, &deals[0]).unwrap();
    control.archive(ObjectType::Deals, &deals[1]).unwrap();
    control.restore(ObjectType::Deals, &deals[1]).unwrap();
    control
        .merge(ObjectType::Contacts, &contacts[0], &contacts[1])
        .unwrap();
    control.privacy_delete(&contacts[2]).unwrap();
    control
        .associate(
            (ObjectType::Contacts, &created),
            (ObjectType::Companies, &companies[1]),
            true,
        )
        .unwrap();
    control
        .associate(
            (ObjectType::Contacts, &contacts[3]),
            (ObjectType::Companies, &companies[2]),
            true,
        )
        .unwrap();
    let linked = control
        .associations(ObjectType::Contacts, &contacts[5], ObjectType::Companies)
        .unwrap();
    if let Some(company) = linked.first() {
        control
            .associate(
                (ObjectType::Contacts, &contacts[5]),
                (ObjectType::Companies, company),
                false,
            )
            .unwrap();
    }
    let owner = control
        .owners()
        .into_iter()
        .find(|owner| !owner.archived)
        .unwrap();
    control
        .set_owner(ObjectType::Contacts, &contacts[4], &owner.id.to_string())
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_then_webhooks_keep_the_mirror_equal_to_the_portal() {
    let harness = Harness::start(small_portal()).await;
    harness.converge(Duration::from_secs(30)).await;
    mutate(&harness.sim);
    harness.converge(Duration::from_secs(30)).await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_catches_up_when_webhooks_are_dropped_duplicated_or_shuffled() {
    let harness = Harness::start(small_portal()).await;
    let chaos = WebhookChaos {
        drop_rate: 0.5,
        duplicate_rate: 0.3,
        shuffle: true,
    };
    harness.sim.control().set_webhook_chaos(chaos);
    mutate(&harness.sim);
    // Polling sees changes; deletions, merges and privacy deletions leave nothing to search
    // for, so a reconciliation ("Run Now", full) repairs them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for kind in TYPES {
        let url = harness
            .gateway
            .url(&format!("/v1/sync/{}?full=true", kind.name()));
        let response = harness
            .gateway
            .http
            .post(url)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    harness.converge(Duration::from_secs(45)).await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_privacy_deleted_contact_leaves_no_trace_in_any_tree() {
    let harness = Harness::start(small_portal()).await;
    let control = harness.sim.control();
    let company = control.ids(ObjectType::Companies, "0", 1).remove(0);
    let email = "erase.me@privacy.example";
    let id = control
        .create(
            ObjectType::Contacts,
            [
                ("email", email),
                ("firstname", "Erasmus"),
                ("lastname", "Forgotten"),
            ],
        )
        .unwrap();
    control
        .update(
            ObjectType::Contacts,
            &id,
            [("jobtitle", "Chief Secret Officer")],
        )
        .unwrap();
    control
        .associate(
            (ObjectType::Contacts, &id),
            (ObjectType::Companies, &company),
            true,
        )
        .unwrap();
    let path = format!("/v1/objects/contacts/{id}");
    wait_until(
        "the contact is mirrored",
        Duration::from_secs(20),
        || async {
            harness.gateway.get(&path, Some(READ_TOKEN)).await.1["properties"]["jobtitle"]
                == "Chief Secret Officer"
        },
    )
    .await;
    control.privacy_delete(&id).unwrap();
    wait_until("the contact is gone", Duration::from_secs(20), || async {
        harness.gateway.get(&path, Some(READ_TOKEN)).await.0 == 404
    })
    .await;
    let (_, company_record) = harness
        .gateway
        .get(
            &format!("/v1/objects/companies/{company}"),
            Some(READ_TOKEN),
        )
        .await;
    assert!(!company_record["associations"]["contacts"]
        .as_array()
        .is_some_and(|ids| ids.contains(&Value::String(id.clone()))));
    let dir = harness.stop().await;
    let store = crate::support::open_store(&dir.path().join("store")).await;
    for needle in [email, "Erasmus", "Forgotten", "Chief Secret Officer"] {
        assert_eq!(
            store.trees_containing(needle.as_bytes()).unwrap(),
            Vec::<String>::new(),
            "{needle:?} survived"
        );
    }
}
