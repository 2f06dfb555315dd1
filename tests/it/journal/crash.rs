//! The real binary killed (SIGKILL) at each step of a journal read — files downloaded but
//! not stored, events and cursor stored, a gap noted but not passed — then started again:
//! nothing is lost, nothing is stored twice (`HUBSPOT_GATEWAY_JOURNAL_CRASH`, see
//! `journal::crash`: the process kills itself there, as `kill -9` would).

use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::time::Duration;

use hubspot_gateway::journal::crash::{self, Step};
use hubspot_gateway::sim::{self, ObjectType};

use super::{converge, hubspot_section, journal, mutate, portal, start_gateway, Sources};
use crate::mirror::wait_until;
use crate::support::process::{command, free_port, Process};
use crate::support::{config_with, far_reconcile_window, Options, READ_TOKEN};

/// The binary on the store in `dir`, reading `sim`'s journal, armed to die at `step`.
fn binary(sim: &sim::SimHandle, dir: &Path, step: Step) -> (Process, String) {
    let port = free_port();
    let options = Options {
        hubspot: hubspot_section(&sim.base_url(), &sim.control().config().client_id, 100),
        sync: Some(far_reconcile_window()),
        ..Options::default()
    };
    let listen = format!("127.0.0.1:{port}");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        config_with(&listen, "https://h.example", &dir.join("store"), &options),
    )
    .unwrap();
    let mut command = command(&config);
    command.arg("serve").env(crash::VARIABLE, step.name());
    // Not waited for: it may die at its crash point before it answers `/readyz`.
    (Process::spawn(command, &config), format!("http://{listen}"))
}

/// Waits until the binary at `base` has backfilled and subscribed.
async fn wait_connected(base: &str) {
    let http = reqwest::Client::new();
    wait_until(
        "backfill and subscriptions",
        Duration::from_secs(60),
        || async {
            let Ok(answer) = http
                .get(format!("{base}/v1/status"))
                .bearer_auth(READ_TOKEN)
                .send()
                .await
            else {
                return false;
            };
            let status: serde_json::Value = answer.json().await.unwrap_or_default();
            ObjectType::ALL
                .iter()
                .all(|kind| !status[kind.name()]["last_full_sync"].is_null())
                && status["journal"]["subscriptions"]
                    .as_array()
                    .is_some_and(|subs| !subs.is_empty())
        },
    )
    .await;
}

async fn killed(process: &mut Process) {
    let exit = process.wait_exit().await;
    assert_eq!(exit.signal(), Some(libc::SIGKILL), "{}", process.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_download_and_commit_or_after_it_loses_and_repeats_nothing() {
    for step in [Step::Downloaded, Step::Committed] {
        let sim = sim::start(portal(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (mut process, base) = binary(&sim, dir.path(), step);
        wait_connected(&base).await;
        mutate(&sim, 0);
        sim.control().flush_journal();
        killed(&mut process).await;
        drop(process);
        let harness = start_gateway(sim, dir, Sources::JOURNAL_ONLY).await;
        converge(&harness).await;
        let status = journal(&harness.gateway).await;
        assert!(status["events"].as_u64().unwrap() > 0, "{step:?}: {status}");
        // The cursor moved in the commit of its events: nothing was read twice.
        assert_eq!(status["duplicates"], 0, "{step:?}: {status}");
        harness.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_noting_a_gap_reconciles_it_after_the_restart() {
    let harness = super::start(portal(), Sources::JOURNAL_ONLY).await;
    mutate(&harness.sim, 0);
    converge(&harness).await;
    let crate::mirror::Harness { sim, gateway } = harness;
    let dir = gateway.stop().await;
    mutate(&sim, 1);
    sim.control().flush_journal();
    sim.control().age_journal(Duration::from_secs(4 * 86_400));
    let (mut process, _) = binary(&sim, dir.path(), Step::GapNoted);
    killed(&mut process).await;
    drop(process);
    let harness = start_gateway(sim, dir, Sources::JOURNAL_ONLY).await;
    converge(&harness).await;
    wait_until(
        "the reconciliation done",
        Duration::from_secs(30),
        || async { journal(&harness.gateway).await["reconcile_pending"].is_null() },
    )
    .await;
    assert!(journal(&harness.gateway).await["gaps"].as_u64() >= Some(1));
    harness.stop().await;
}
