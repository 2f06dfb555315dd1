//! A damaged store is refused, never started short: the real binary holds a store with 7
//! acknowledged webhook events and an export job; copies of it whose `db` was cut in half,
//! overwritten for 4 KiB in the middle, cut at its tail or cut to 100 bytes make `serve` exit 1
//! naming what is missing (and `store verify` too), while an undamaged copy starts and
//! verifies. Also: the files the store creates are not readable by other users.

use std::io::{Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use hubspot_gateway::sim::{self, SimConfig};
use serde_json::json;

use crate::support::process::{command, free_port, sim_config_file, Process};
use crate::support::signing::Signing;
use crate::support::{answer, batch, config_text, ADMIN_TOKEN, EXPORT_TOKEN};

const PUBLIC_URL: &str = "https://h.example";

/// Runs the stopped gateway's `store verify` (or any other command) on `config`.
fn run(config: &Path, args: &[&str]) -> Output {
    command(config)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap()
}

/// Builds a store through the real daemon: 7 webhook requests of one event each (one inbox
/// chunk each), answered 204, and one export job, answered 202; then SIGTERM.
async fn acknowledged_store(dir: &Path) -> PathBuf {
    let sim = sim::start(
        SimConfig {
            owners: 3,
            contacts: 20,
            companies: 5,
            deals: 0,
            tasks: 0,
            access_token: "pat-na1-it".into(),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let (config, port) = sim_config_file(dir, &sim.base_url(), &["owners", "contacts"]);
    let base = format!("http://127.0.0.1:{port}");
    let mut daemon = Process::serve(&config);
    daemon.wait_ready(&base).await;
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = http
            .get(format!("{base}/v1/status"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let (_, status) = answer(status).await;
        if !status["contacts"]["last_full_sync"].is_null() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no backfill: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for id in 1..=7 {
        let body = batch(id, 1, 0);
        let uri = format!("{PUBLIC_URL}/webhooks/hubspot");
        let mut request = http
            .post(format!("{base}/webhooks/hubspot"))
            .body(body.clone());
        for (name, value) in Signing::FRESH.headers(&uri, body.as_bytes()) {
            request = request.header(name, value);
        }
        let (status, answer) = answer(request.send().await.unwrap()).await;
        assert_eq!(status, 204, "{answer}");
    }
    let job = json!({"type": "contacts", "user_email": "seller@internal.example",
        "records": [{"ref": "r1", "fields": {"email": "d1@damage.example", "first_name": "D"}}]});
    let response = http
        .post(format!("{base}/v1/exports"))
        .bearer_auth(EXPORT_TOKEN)
        .json(&job)
        .send()
        .await
        .unwrap();
    let (status, started) = answer(response).await;
    assert_eq!((status, started["export_id"].as_str()), (202, Some("1")));
    daemon.signal(libc::SIGTERM);
    let exit = daemon.wait_exit().await;
    assert!(exit.success(), "{exit}: {}", daemon.log_text());
    sim.shutdown().await;
    dir.join("store")
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    None,
    CutInHalf,
    Overwritten4KiBInTheMiddle,
    TailCut,
    CutTo100Bytes,
}

impl Damage {
    fn apply(self, db: &Path) {
        let length = std::fs::metadata(db).unwrap().len();
        let file = || std::fs::OpenOptions::new().write(true).open(db).unwrap();
        match self {
            Damage::None => {}
            Damage::CutInHalf => file().set_len(length / 2).unwrap(),
            Damage::Overwritten4KiBInTheMiddle => {
                let mut file = file();
                file.seek(SeekFrom::Start(length / 2 / 4096 * 4096))
                    .unwrap();
                file.write_all(&[0xa5; 4096]).unwrap();
            }
            Damage::TailCut => file().set_len(length - 16 * 1024).unwrap(),
            Damage::CutTo100Bytes => file().set_len(100).unwrap(),
        }
    }
}

/// A copy of the store in `store`, damaged, with a config of its own (sync off: no HubSpot).
fn damaged_copy(store: &Path, damage: Damage, dir: &Path) -> (PathBuf, u16) {
    let copy = dir.join("store");
    copy_dir(store, &copy);
    damage.apply(&copy.join("db"));
    let port = free_port();
    let config = dir.join("config.toml");
    let text = config_text(&format!("127.0.0.1:{port}"), PUBLIC_URL, &copy, "");
    std::fs::write(&config, text).unwrap();
    (config, port)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_is_refused_and_an_intact_copy_starts() {
    let dir = tempfile::tempdir().unwrap();
    let store = acknowledged_store(dir.path()).await;

    let intact = tempfile::tempdir().unwrap();
    let (config, port) = damaged_copy(&store, Damage::None, intact.path());
    let verified = run(&config, &["store", "verify"]);
    let report = String::from_utf8_lossy(&verified.stdout);
    assert_eq!(verified.status.code(), Some(0), "{verified:?}");
    assert!(
        report.contains("inbox: 7 events stored through chunk 7; acknowledged 7 through chunk 7"),
        "{report}"
    );
    assert!(report.contains("acknowledged through 1"), "{report}");
    let mut daemon = Process::serve(&config);
    daemon.wait_ready(&format!("http://127.0.0.1:{port}")).await;
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit().await.success(), "{}", daemon.log_text());

    for damage in [
        Damage::CutInHalf,
        Damage::Overwritten4KiBInTheMiddle,
        Damage::TailCut,
        Damage::CutTo100Bytes,
    ] {
        let copy = tempfile::tempdir().unwrap();
        let (config, port) = damaged_copy(&store, damage, copy.path());
        let (exit, said) = refused(&config, port).await;
        assert_eq!(exit.code(), Some(1), "{damage:?}: {said}");
        assert!(
            said.contains("lacks data the gateway acknowledged")
                && said.contains("7 were acknowledged (through chunk 7)")
                && said.contains("job 1 was acknowledged")
                && said.contains("restore a copy of the whole store directory"),
            "{damage:?}: {said}"
        );
        let verified = run(&config, &["store", "verify"]);
        let verdict = String::from_utf8_lossy(&verified.stderr);
        assert_eq!(verified.status.code(), Some(1), "{damage:?}: {verified:?}");
        assert!(
            verdict.contains("7 were acknowledged (through chunk 7)"),
            "{damage:?}: {verdict}"
        );
    }
}

/// Runs `serve` on `config` until it exits; panics if it gets ready instead.
async fn refused(config: &Path, port: u16) -> (std::process::ExitStatus, String) {
    let mut daemon = Process::serve(config);
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(exit) = daemon.child.try_wait().unwrap() {
            return (exit, daemon.log_text());
        }
        let ready = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|answer| answer.status() == 200);
        assert!(!ready, "started ready: {}", daemon.log_text());
        assert!(
            tokio::time::Instant::now() < deadline,
            "neither ready nor gone"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Outside systemd (no `UMask=`), with a permissive umask: the store directory is the
/// gateway's alone and its files are not readable by others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_files_are_not_readable_by_other_users() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("var").join("store");
    let port = free_port();
    let config = dir.path().join("config.toml");
    let text = config_text(&format!("127.0.0.1:{port}"), PUBLIC_URL, &store, "");
    std::fs::write(&config, text).unwrap();
    let mut serve = command(&config);
    serve.arg("serve");
    // SAFETY: umask(2) between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut serve, || {
            libc::umask(0o022);
            Ok(())
        });
    }
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut daemon = Process {
        child: serve.stderr(log).spawn().unwrap(),
        log: dir.path().join("serve.log"),
    };
    daemon.wait_ready(&format!("http://127.0.0.1:{port}")).await;
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_exit().await.success(), "{}", daemon.log_text());
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&store), 0o700, "the store directory");
    let mut open_to_others = Vec::new();
    for entry in std::fs::read_dir(&store).unwrap() {
        let path = entry.unwrap().path();
        if mode(&path) & 0o077 != 0 {
            open_to_others.push(format!("{} {:o}", path.display(), mode(&path)));
        }
    }
    assert!(open_to_others.is_empty(), "{open_to_others:?}");
}
