//! `hubspot-gateway journal subscribe` with no daemon running: it connects on the store
//! itself and creates the subscriptions the mirror needs.

use hubspot_gateway::sim;

use super::{hubspot_section, portal};
use crate::support::process::{command, free_port};
use crate::support::{config_with, far_reconcile_window, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_subscribe_creates_the_subscriptions_without_a_daemon() {
    let sim = sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        hubspot: hubspot_section(&sim.base_url(), &sim.config().client_id, 1000),
        sync: Some(far_reconcile_window()),
        ..Options::default()
    };
    let listen = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("config.toml");
    let text = config_with(
        &listen,
        "https://h.example",
        &dir.path().join("store"),
        &options,
    );
    std::fs::write(&config, text).unwrap();
    let mut subscribe = command(&config);
    subscribe
        .args(["journal", "subscribe"])
        .stdout(std::process::Stdio::piped());
    let output = tokio::task::spawn_blocking(move || subscribe.output())
        .await
        .unwrap()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{printed} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let subscriptions = sim.control().journal_subscriptions();
    assert!(subscriptions.len() >= 5, "{subscriptions:?}");
    assert_eq!(printed.lines().count(), subscriptions.len(), "{printed}");
    assert!(printed.contains("GDPR_PRIVACY_DELETION 0-1"), "{printed}");
    sim.shutdown().await;
}
