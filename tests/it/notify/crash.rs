//! kill -9 at every step of a notification's life (`HUBSPOT_GATEWAY_NOTIFY_CRASH`, see
//! `notify::crash`: the real binary kills itself there, as `kill -9` would). Each run changes
//! owners while the target answers, then while it fails until those notifications are dead,
//! then asks for their redelivery; it is killed at one step and started again. Nothing may be
//! lost: every owner change arrives, in order per record, a repeat only under the same
//! `webhook-id`; exactly the failed ones are dead before the redelivery and all arrive after
//! it; the target's `delivered` count is the number of distinct ids that arrived. Last, a
//! daemon killed right after answering a redelivery still redelivers.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::time::Duration;

use hubspot_gateway::notify::crash::{self, Step};
use hubspot_gateway::sim::{self, ObjectType, SimHandle};
use serde_json::Value;

use super::receiver::{Answer, Receiver};
use super::{in_order, owner_chains, target, wait_for_finals};
use crate::support::process::Process;
use crate::support::{answer, ADMIN_TOKEN};

const WITHIN: Duration = Duration::from_secs(60);
const KILLED: &str = "the kill at the crash point";

/// Contacts changed while the target answers (twice each), then while it fails (once each).
const ANSWERED: usize = 10;
const FAILED: usize = 6;

/// The passage of each step to die at: past the first, where a step repeats.
fn crash_at(step: Step) -> String {
    let nth = match step {
        Step::Sending | Step::Answered | Step::Delivered => 3,
        Step::Queued
        | Step::Loaded
        | Step::RetryScheduled
        | Step::Dead
        | Step::Redelivering
        | Step::Redelivered => 1,
    };
    format!("{}:{nth}", step.name())
}

/// The daemon of one run, started again (unarmed) when it dies at its crash point.
struct Run {
    label: String,
    config: PathBuf,
    base: String,
    daemon: Process,
    crashed: bool,
}

impl Run {
    /// Waits until `check` holds; a daemon killed meanwhile is started again, once.
    async fn until<F, Fut>(&mut self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + WITHIN;
        let crashed = self.crashed;
        while !check().await {
            self.restart_if_killed().await;
            if what == KILLED && self.crashed != crashed {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: timed out waiting for {what}: {}",
                self.label,
                self.daemon.log_text()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the daemon was killed at its crash point and started again.
    async fn until_restarted(&mut self) {
        if self.crashed {
            return;
        }
        self.until(KILLED, || async { false }).await;
    }

    async fn restart_if_killed(&mut self) {
        let Some(exit) = self.daemon.child.try_wait().unwrap() else {
            return;
        };
        assert_eq!(
            exit.signal(),
            Some(libc::SIGKILL),
            "{}",
            self.daemon.log_text()
        );
        assert!(!self.crashed, "killed twice: {}", self.daemon.log_text());
        self.crashed = true;
        self.daemon = super::serve(&self.config, &[]);
        self.daemon.wait_ready(&self.base).await;
    }
}

/// An admin request's answer; `None` while the daemon is not answering.
async fn admin(method: reqwest::Method, url: String) -> Option<Value> {
    let request = reqwest::Client::new().request(method, url);
    let response = request.bearer_auth(ADMIN_TOKEN).send().await.ok()?;
    let (code, body) = answer(response).await;
    assert!(code == 200 || code == 503, "{code}: {body}");
    (code == 200).then_some(body)
}

/// The target's entry in `GET /v1/notifications`.
async fn status(base: &str) -> Option<Value> {
    let list = admin(reqwest::Method::GET, format!("{base}/v1/notifications")).await;
    list.map(|list| list["targets"][0].clone())
}

/// Moves `contacts` to the next owner, `rounds` times; their final owners, for those not
/// back with the one they started with (the mirror never saw them change hands).
fn reassign(sim: &SimHandle, contacts: &[String], rounds: usize) -> Vec<(String, String)> {
    let control = sim.control();
    let owners: Vec<String> = control.owners().iter().map(|o| o.id.to_string()).collect();
    let owner_of = |id: &str| {
        let record = control.record(ObjectType::Contacts, id).unwrap();
        record.properties.get("hubspot_owner_id").cloned()
    };
    let first: Vec<Option<String>> = contacts.iter().map(|id| owner_of(id)).collect();
    let mut finals = Vec::new();
    for round in 0..rounds {
        for (at, contact) in contacts.iter().enumerate() {
            let owner = &owners[(at + round + 1) % owners.len()];
            control
                .set_owner(ObjectType::Contacts, contact, owner)
                .unwrap();
            if round + 1 == rounds && first[at].as_ref() != Some(owner) {
                finals.push((contact.clone(), owner.clone()));
            }
        }
    }
    finals
}

/// Every arrival of one body carries one id, and the target counts each id once.
async fn assert_no_loss_nor_stray_repeat(receiver: &Receiver, status: &Value, label: &str) {
    let mut ids: HashMap<String, String> = HashMap::new();
    for arrival in &receiver.arrivals() {
        let id = ids
            .entry(arrival.body.to_string())
            .or_insert(arrival.id.clone());
        assert_eq!(
            *id, arrival.id,
            "{label}: twice under different ids: {}",
            arrival.body
        );
    }
    for (record, chain) in owner_chains(receiver) {
        assert!(
            in_order(&chain),
            "{label}: {record}: out of order {chain:?}"
        );
    }
    let distinct = ids.len() as u64;
    assert_eq!(
        status["delivered"].as_u64(),
        Some(distinct),
        "{label}: {status}"
    );
    assert_eq!(status["pending"], 0, "{label}: {status}");
    assert_eq!(status["dead"], 0, "{label}: {status}");
}

/// One run, killed at `step`, or by the test right after a redelivery's answer.
async fn run(step: Option<Step>) {
    let crash = step.map(crash_at);
    let crash = crash.as_deref();
    let label = crash.unwrap_or("kill -9 after the redelivery answer");
    let sim = sim::start(
        super::contacts_portal(6, 40),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let receiver = Receiver::start_any().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = "max_in_flight = 4\ndead_after_secs = 1";
    let section = super::notify_section(keys, &target("crash", &receiver.url, ""));
    let (config, base) = super::binary_config(&sim, dir.path(), &section);
    let mut daemon = super::serve(&config, &[(crash::VARIABLE, crash)]);
    daemon.wait_ready(&base).await;
    let mut run = Run {
        label: label.to_owned(),
        config,
        base: base.clone(),
        daemon,
        crashed: false,
    };
    run.until("the first full sync", || async {
        let status = admin(reqwest::Method::GET, format!("{base}/v1/status")).await;
        status.is_some_and(|status| !status["contacts"]["last_full_sync"].is_null())
    })
    .await;
    super::send_webhooks(&sim, &base);
    let contacts = sim
        .control()
        .ids(ObjectType::Contacts, "0", ANSWERED + FAILED);
    let (answered, failed) = contacts.split_at(ANSWERED);

    let finals = reassign(&sim, answered, 2);
    let arrived = |finals: Vec<(String, String)>| {
        let receiver = &receiver;
        async move {
            let chains = owner_chains(receiver);
            finals.iter().all(|(contact, owner)| {
                chains
                    .get(&format!("\"contacts\"/\"{contact}\""))
                    .and_then(|chain| chain.last())
                    .is_some_and(|(_, after)| after == owner.as_str())
            })
        }
    };
    run.until("the answered changes arrive", || arrived(finals.clone()))
        .await;
    let in_delivery = [
        Step::Queued,
        Step::Loaded,
        Step::Sending,
        Step::Answered,
        Step::Delivered,
    ];
    if step.is_some_and(|step| in_delivery.contains(&step)) {
        // Killed while they were delivered: all settled after the restart, before failing.
        run.until_restarted().await;
        let settled = || async { status(&base).await.is_some_and(|s| s["pending"] == 0) };
        run.until("the answered changes settled", settled).await;
    }

    receiver.script(&[], Answer::Status(503));
    let dying = reassign(&sim, failed, 1);
    run.until("exactly the failed notifications dead", || async {
        status(&base).await.is_some_and(|status| {
            status["pending"] == 0 && status["dead"].as_u64() == Some(dying.len() as u64)
        })
    })
    .await;
    assert!(
        !arrived(dying.clone()).await,
        "{label}: arrived while failing"
    );

    // Still failing: nothing redelivered arrives before the test's own kill.
    let redelivered = RefCell::new(None);
    run.until("a redelivery answered", || async {
        let url = format!("{base}/v1/notifications/crash/redeliver");
        let answered = admin(reqwest::Method::POST, url).await;
        let got = answered.is_some();
        *redelivered.borrow_mut() = answered;
        got
    })
    .await;
    if crash.is_none() {
        let redelivered = redelivered.take().unwrap();
        assert_eq!(redelivered["redelivered"], dying.len(), "{label}");
        run.daemon.signal(libc::SIGKILL);
    }
    receiver.script(&[], Answer::Ok);
    run.until("the redelivered changes arrive", || arrived(dying.clone()))
        .await;
    assert!(
        run.crashed,
        "{label}: never killed: {}",
        run.daemon.log_text()
    );
    wait_for_finals(&receiver, &finals, WITHIN).await;
    let settled = RefCell::new(None);
    run.until("the queue settled", || async {
        let status = status(&base).await.filter(|s| s["pending"] == 0);
        let got = status.is_some();
        *settled.borrow_mut() = status;
        got
    })
    .await;
    assert_no_loss_nor_stray_repeat(&receiver, &settled.take().unwrap(), label).await;
    run.daemon.signal(libc::SIGTERM);
    run.daemon.wait_exit().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_step_of_a_notification_loses_none() {
    for step in Step::ALL {
        run(Some(step)).await;
    }
    run(None).await;
}
