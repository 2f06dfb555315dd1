//! `hubspot-gateway connect` and `status`, the real binary: without a daemon it answers the
//! callback itself on `server.listen`; with one it goes through its API.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::{consent, follow, portal, store_lines, OTHER_PORTAL, PORTAL};
use crate::support::process::{command, free_port, lines_of, Process};
use crate::support::{config_with, far_reconcile_window, Options};

/// Runs `connect`, consents as `email` to `account` with the printed link, and returns the
/// command's output and whether it succeeded.
async fn connect(config: &Path, email: &str, account: i64) -> (bool, Vec<String>) {
    let mut child = command(config)
        .arg("connect")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = lines_of(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let link = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.recv().await {
            seen.push(line.clone());
            if let Some(url) = line
                .trim()
                .strip_prefix("http")
                .map(|rest| format!("http{rest}"))
            {
                return url;
            }
        }
        panic!("no link printed: {seen:?}");
    })
    .await
    .expect("connect printed a link");
    let (status, html) = follow(&consent(&link, email, account).await).await;
    assert_eq!(status, 200, "{html}");
    let finished = tokio::task::spawn_blocking(move || child.wait().unwrap());
    let status = tokio::time::timeout(Duration::from_secs(30), finished)
        .await
        .expect("connect exits after the callback")
        .unwrap();
    // The rest of the output: the reader ends at the pipe's end, after the last line.
    let rest = async {
        while let Some(line) = lines.recv().await {
            seen.push(line);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), rest)
        .await
        .expect("the output ends when connect exits");
    (status.success(), seen)
}

fn status_text(config: &Path) -> String {
    run(config, &["status"]).1
}

/// Runs the command with `args`: whether it succeeded, its stdout and stderr.
fn run(config: &Path, args: &[&str]) -> (bool, String, String) {
    let output = command(config)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (
        output.status.success(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// `status --json` for `args` (e.g. `--portal ID`).
fn status_json(config: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["status", "--json"];
    all.extend_from_slice(args);
    let (ok, stdout, stderr) = run(config, &all);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// A gateway config for `sim` in `dir` (OAuth app, `hubspot_extra` in `[hubspot]`); its path
/// and the listen address.
fn write_config(
    sim: &hubspot_gateway::sim::SimHandle,
    dir: &Path,
    hubspot_extra: &str,
) -> (std::path::PathBuf, String) {
    let options = Options {
        hubspot: format!(
            "api_base = \"{0}\"\napp_base = \"{0}\"\n{hubspot_extra}",
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
    let listen = format!("127.0.0.1:{}", free_port());
    let config = dir.join("config.toml");
    let text = config_with(
        &listen,
        &format!("http://{listen}"),
        &dir.join("store"),
        &options,
    );
    std::fs::write(&config, text).unwrap();
    (config, listen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_answers_the_callback_itself_or_goes_through_the_daemon() {
    let sim = hubspot_gateway::sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (config, listen) = write_config(&sim, dir.path(), "");
    let users: Vec<_> = sim
        .control()
        .users()
        .into_iter()
        .filter(|u| u.portal_ids.contains(&PORTAL))
        .collect();

    let (ok, output) = connect(&config, &users[1].email, PORTAL).await;
    assert!(ok, "{output:#?}");
    assert!(
        output.iter().any(|l| l.contains(&format!(
            "Connected to HubSpot account {PORTAL} as {}",
            users[1].email
        ))),
        "{output:#?}"
    );
    let status = status_text(&config);
    assert!(status.contains("connection: connected (oauth)"), "{status}");

    let mut daemon = Process::serve(&config);
    daemon.wait_ready(&format!("http://{listen}")).await;
    let (ok, output) = connect(&config, &users[2].email, PORTAL).await;
    assert!(ok, "{output:#?}");
    assert!(
        output.iter().any(|l| l.contains(&users[2].email)),
        "{output:#?}"
    );
    let status = status_text(&config);
    assert!(
        status.contains("daemon: running") && status.contains("connection: connected (oauth)"),
        "{status}"
    );
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_several_portals_the_commands_add_accounts_and_name_their_portal() {
    // A third account, added through the daemon.
    const THIRD: i64 = 62_515_003;
    let mut accounts = portal();
    accounts
        .other_accounts
        .push(hubspot_gateway::sim::OtherAccount {
            portal_id: THIRD,
            shared_owners: 1,
            own_users: Vec::new(),
        });
    let sim = hubspot_gateway::sim::start(accounts, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (config, listen) = write_config(&sim, dir.path(), "multiple_portals = true");
    let both = |user: &hubspot_gateway::sim::User| {
        [PORTAL, OTHER_PORTAL, THIRD]
            .iter()
            .all(|id| user.portal_ids.contains(id))
    };
    let admin = sim.control().users().into_iter().find(both).unwrap();

    // Without a daemon: the second account is added, not refused as another portal.
    for account in [PORTAL, OTHER_PORTAL] {
        let (ok, output) = connect(&config, &admin.email, account).await;
        assert!(ok, "{output:#?}");
        let said = format!("Connected to HubSpot account {account} as {}", admin.email);
        assert!(output.iter().any(|l| l.contains(&said)), "{output:#?}");
    }
    assert_eq!(
        status_json(&config, &[])["portals"],
        serde_json::json!([PORTAL, OTHER_PORTAL])
    );
    let other = OTHER_PORTAL.to_string();
    assert_eq!(
        status_json(&config, &["--portal", &other])["portal_id"],
        OTHER_PORTAL
    );
    let (ok, _, stderr) = run(&config, &["sync", "--object", "contacts"]);
    assert!(!ok, "a sync must name its portal");
    assert!(
        stderr.contains("--portal") && stderr.contains(&PORTAL.to_string()),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&config, &["sync", "--object", "contacts", "--portal", "1"]);
    assert!(
        !ok && stderr.contains("does not mirror HubSpot portal 1"),
        "{stderr}"
    );
    // The other account starts empty: three contacts of its own.
    let contacts = hubspot_gateway::sim::ObjectType::Contacts;
    for n in 0..3 {
        let email = format!("cli-{n}@other.example");
        sim.control()
            .create_in(OTHER_PORTAL, contacts, [("email", email)])
            .unwrap();
    }
    let contacts_there = 3;
    let (ok, stdout, stderr) = run(
        &config,
        &["sync", "--object", "contacts", "--portal", &other],
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!("contacts: {contacts_there} listed")),
        "{stdout}"
    );
    let status = status_json(&config, &["--portal", &other]);
    assert_eq!(
        status["contacts"]["count"], contacts_there as u64,
        "{status}"
    );

    // Through the daemon: an account added there, and the same rule, the daemon's answer.
    let mut daemon = Process::serve(&config);
    daemon.wait_ready(&format!("http://{listen}")).await;
    let (ok, output) = connect(&config, &admin.email, THIRD).await;
    assert!(ok, "{output:#?}");
    let said = format!("Connected to HubSpot account {THIRD} as {}", admin.email);
    assert!(output.iter().any(|l| l.contains(&said)), "{output:#?}");
    let (ok, _, stderr) = run(&config, &["sync", "--object", "contacts"]);
    assert!(!ok && stderr.contains("portal_required"), "{stderr}");
    let (ok, stdout, stderr) = run(
        &config,
        &["sync", "--object", "contacts", "--portal", &other],
    );
    assert!(
        ok && stdout.contains("requested from the running daemon"),
        "{stderr}"
    );
    let status = status_json(&config, &["--portal", &other]);
    assert_eq!(status["portal_id"], OTHER_PORTAL, "{status}");
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit().await.success());
}
