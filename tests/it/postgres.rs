//! The PostgreSQL backend as an operator meets it from the command line: `migrate` against a
//! real server (a throw-away cluster, `kit::postgres`), the commands on the database.

mod tls;

use hubspot_gateway::kit::postgres::Cluster;

use crate::support::process::command;
use crate::support::{config_with, Options};

/// A config file in `dir` with `store_lines` in its `[store]` section (the database's URL,
/// when given, is read from `IT_DATABASE_URL`).
fn config_file(dir: &std::path::Path, store_lines: &str) -> std::path::PathBuf {
    let options = Options {
        store: store_lines.to_owned(),
        ..Options::default()
    };
    let path = dir.join("config.toml");
    let text = config_with("127.0.0.1:0", "https://h.example", dir, &options);
    std::fs::write(&path, text).unwrap();
    path
}

/// The binary run with `config`, its output captured.
fn gateway(config: &std::path::Path) -> std::process::Command {
    let mut gateway = command(config);
    gateway.stdout(std::process::Stdio::piped());
    gateway
}

fn output_of(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn migrate_creates_the_schema_then_finds_it_current() {
    let url = Cluster::shared().fresh_database().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        "backend = \"postgres\"\nurl = \"env:IT_DATABASE_URL\"",
    );
    let migrate = || {
        gateway(&config)
            .arg("migrate")
            .env("IT_DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    let first = migrate();
    assert_eq!(first.status.code(), Some(0), "{}", output_of(&first));
    let version = hubspot_gateway::store::postgres::SCHEMA_VERSION;
    assert!(
        output_of(&first).contains(&format!("schema upgraded from version 0 to {version}")),
        "{}",
        output_of(&first)
    );
    let again = migrate();
    assert_eq!(again.status.code(), Some(0));
    assert!(output_of(&again).contains(&format!("schema already at version {version}")));

    // With no daemon answering, `status` reads the database itself.
    let status = gateway(&config)
        .args(["status", "--json"])
        .env("IT_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(0), "{}", output_of(&status));
    let body: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(body["webhooks"]["received"], 0, "{body}");

    // `store verify` checks sled's files: it says so.
    let verify = gateway(&config)
        .args(["store", "verify"])
        .env("IT_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(2));
    assert!(
        output_of(&verify).contains("checks a sled store"),
        "{}",
        output_of(&verify)
    );
}

/// A command that writes what must happen once takes the lease; while a replica leads, it
/// refuses and says where to go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_needs_the_lease_refuses_while_another_gateway_leads() {
    use hubspot_gateway::store::postgres::{Candidate, Database, Role};
    let url = Cluster::shared().fresh_database().await.unwrap();
    let database = Database::new(&url, 1, None).unwrap();
    database.migrate().await.unwrap();
    let (role, mut roles) = tokio::sync::watch::channel(Role::Following);
    let stop = tokio_util::sync::CancellationToken::new();
    let leader = tokio::spawn(Candidate::new(database, "elsewhere").run(role, stop.clone()));
    roles
        .wait_for(|role| matches!(role, Role::Leading { .. }))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        "backend = \"postgres\"\nurl = \"env:IT_DATABASE_URL\"",
    );
    let mut sync = gateway(&config);
    sync.arg("sync").env("IT_DATABASE_URL", &url);
    let sync = tokio::task::spawn_blocking(move || sync.output().unwrap())
        .await
        .unwrap();
    assert_eq!(sync.status.code(), Some(1), "{}", output_of(&sync));
    assert!(
        output_of(&sync).contains("another gateway leads"),
        "{}",
        output_of(&sync)
    );
    stop.cancel();
    leader.await.unwrap();
}

#[test]
fn migrate_explains_a_database_it_cannot_reach_and_never_prints_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        "backend = \"postgres\"\nurl = \"env:IT_DATABASE_URL\"",
    );
    let port = hubspot_gateway::kit::free_port();
    let url = format!("postgresql://gateway:sw0rdfish-secret@127.0.0.1:{port}/gateway");
    let output = gateway(&config)
        .arg("migrate")
        .env("IT_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let said = output_of(&output);
    assert!(said.contains("unreachable"), "{said}");
    assert!(
        !said.contains("sw0rdfish"),
        "the password was printed: {said}"
    );
}

#[test]
fn the_backend_and_its_url_go_together() {
    let dir = tempfile::tempdir().unwrap();
    let without_url = config_file(dir.path(), "backend = \"postgres\"");
    let output = gateway(&without_url).arg("check-config").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output_of(&output).contains("store.url: backend = \"postgres\" needs"));

    let sled_with_url = config_file(dir.path(), "url = \"env:IT_DATABASE_URL\"");
    let output = gateway(&sled_with_url)
        .arg("check-config")
        .env("IT_DATABASE_URL", "postgresql://h/db")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output_of(&output).contains("store.url: is for backend = \"postgres\""));

    let migrate = gateway(&dir.path().join("config.toml"))
        .arg("migrate")
        .env("IT_DATABASE_URL", "postgresql://h/db")
        .output()
        .unwrap();
    assert_eq!(migrate.status.code(), Some(2), "{}", output_of(&migrate));

    let sled = config_file(dir.path(), "");
    let migrate = gateway(&sled).arg("migrate").output().unwrap();
    assert_eq!(migrate.status.code(), Some(2));
    assert!(output_of(&migrate).contains("`migrate` is for PostgreSQL"));
}
