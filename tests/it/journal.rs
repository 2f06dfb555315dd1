//! The Webhooks Journal as an event source, end to end: the real daemon reads the
//! simulator's journal (client-credentials token, subscriptions made on connect, files behind
//! expiring URLs) alone or beside webhooks, through gaps, damaged files, storms and crashes.

mod both;
mod cli;
mod connect;
mod crash;
mod demo;
mod faults;
mod gaps;
mod only;

use std::time::Duration;

use hubspot_gateway::sim::{self, ObjectType, SimConfig};
use serde_json::Value;

use crate::mirror::{small_portal, wait_until, Harness};
use crate::support::process::free_port;
use crate::support::{
    far_reconcile_window, webhooks_to, Gateway, Options, CLIENT_SECRET, READ_TOKEN,
};

/// How the gateway under test is fed.
#[derive(Debug, Clone, Copy)]
pub struct Sources {
    /// The simulator also posts signed webhooks to the gateway.
    pub webhooks: bool,
    pub poll_interval_ms: u64,
}

impl Sources {
    pub const JOURNAL_ONLY: Sources = Sources {
        webhooks: false,
        poll_interval_ms: 100,
    };
    pub const BOTH: Sources = Sources {
        webhooks: true,
        poll_interval_ms: 100,
    };
}

/// The simulator of these tests: a small portal whose app secret signs webhooks and grants
/// the journal's client-credentials tokens.
pub fn portal() -> SimConfig {
    SimConfig {
        client_secret: CLIENT_SECRET.into(),
        access_token: "pat-na1-it".into(),
        rate_limit: Some(sim::RateLimit {
            max: 100_000,
            interval_ms: 10_000,
        }),
        ..small_portal()
    }
}

/// `[hubspot]` lines of a gateway reading the journal of the simulator at `api_base`.
pub fn hubspot_section(api_base: &str, client_id: &str, poll_interval_ms: u64) -> String {
    format!(
        "api_base = \"{api_base}\"\nmax_retry_secs = 10\nclient_id = \"{client_id}\"\n\
         [hubspot.journal]\nenabled = true\npoll_interval_ms = {poll_interval_ms}\n"
    )
}

/// A simulator and a gateway reading its journal (and its webhooks with `sources.webhooks`),
/// the backfill done; the gateway's store in `dir`.
pub async fn start(config: SimConfig, sources: Sources) -> Harness {
    let sim = sim::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    start_gateway(sim, tempfile::tempdir().unwrap(), sources).await
}

/// A gateway on the store in `dir` for the running simulator `sim`.
pub async fn start_gateway(
    sim: sim::SimHandle,
    dir: tempfile::TempDir,
    sources: Sources,
) -> Harness {
    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    if sources.webhooks {
        sim.control()
            .set_webhook_target(Some(webhooks_to(&public_url)));
    }
    let options = Options {
        hubspot: hubspot_section(
            &sim.base_url(),
            &sim.control().config().client_id,
            sources.poll_interval_ms,
        ),
        sync: Some(format!(
            "poll_interval_secs = 1\nlookback_secs = 5\n{}",
            far_reconcile_window()
        )),
        ..Options::default()
    };
    let gateway = Gateway::start_in(dir, &format!("127.0.0.1:{port}"), &public_url, &options).await;
    let harness = Harness { sim, gateway };
    wait_until(
        "backfill and subscriptions",
        Duration::from_secs(60),
        || async {
            let status = status(&harness.gateway).await;
            ObjectType::ALL
                .iter()
                .all(|kind| !status[kind.name()]["last_full_sync"].is_null())
                && status["journal"]["subscriptions"]
                    .as_array()
                    .is_some_and(|subs| !subs.is_empty())
        },
    )
    .await;
    harness
}

pub async fn status(gateway: &Gateway) -> Value {
    let (code, body) = gateway.get("/v1/status", Some(READ_TOKEN)).await;
    assert_eq!(code, 200, "{body}");
    body
}

pub async fn journal(gateway: &Gateway) -> Value {
    status(gateway).await["journal"].clone()
}

/// A few changes of every kind the mirror follows: property updates, a creation with an
/// association, a deletion, a merge, a restore, a privacy deletion.
pub fn mutate(sim: &sim::SimHandle, round: usize) {
    let control = sim.control();
    let contacts = control.ids(ObjectType::Contacts, "0", 40);
    let companies = control.ids(ObjectType::Companies, "0", 10);
    let deals = control.ids(ObjectType::Deals, "0", 10);
    for (n, id) in contacts.iter().skip(round * 8).take(5).enumerate() {
        let title = format!("journal-{round}-{n}");
        control
            .update(ObjectType::Contacts, id, [("jobtitle", title.as_str())])
            .unwrap();
    }
    control
        .update(
            ObjectType::Companies,
            &companies[round % 10],
            [("city", format!("Town {round}").as_str())],
        )
        .unwrap();
    let email = format!("journal{round}@example.org");
    let created = control
        .create(
            ObjectType::Contacts,
            [("email", email.as_str()), ("firstname", "Jo")],
        )
        .unwrap();
    control
        .associate(
            (ObjectType::Contacts, &created),
            (ObjectType::Companies, &companies[(round + 1) % 10]),
            true,
        )
        .unwrap();
    control
        .archive(ObjectType::Deals, &deals[round % 10])
        .unwrap();
    let merged = &contacts[round * 8 + 6];
    control
        .merge(ObjectType::Contacts, &contacts[round * 8 + 5], merged)
        .unwrap();
    control.privacy_delete(&contacts[round * 8 + 7]).unwrap();
}

/// Waits until the journal has delivered everything the simulator wrote and the mirror
/// equals the portal.
pub async fn converge(harness: &Harness) {
    harness.sim.control().flush_journal();
    harness.converge(Duration::from_secs(60)).await;
}
