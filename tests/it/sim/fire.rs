//! `fire` as a library: every signature version verifies; wrong secrets and redeliveries show.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use hubspot_gateway::sim::fire::{self, FireConfig};
use hubspot_gateway::webhook::signature::Version;

use super::receiver::{self, Received, SECRET};

#[tokio::test]
async fn fire_posts_signed_batches_for_every_signature_version() {
    let received = Arc::new(Received::default());
    let target = receiver::start(received.clone()).await;
    for (version, events) in [(Version::V3, 1_000), (Version::V1, 250), (Version::V2, 250)] {
        let config = FireConfig {
            target: target.clone(),
            client_secret: SECRET.to_string(),
            version,
            events,
            batch_size: 100,
            concurrency: 4,
            duplicate_rate: 0.0,
            portal_id: 7,
            app_id: 8,
            owner_changes: None,
        };
        let report = fire::run(config).await.expect("fire runs");
        assert!(report.ok(), "{}", report.human());
        assert_eq!(
            (report.events, report.statuses.get(&204).copied()),
            (events, Some(events.div_ceil(100)))
        );
    }
    assert_eq!(received.rejected.load(Ordering::SeqCst), 0);
    assert_eq!(received.events().len(), 1_500);
    let config = FireConfig {
        target,
        client_secret: "wrong".to_string(),
        version: Version::V3,
        events: 10,
        batch_size: 5,
        concurrency: 1,
        duplicate_rate: 1.0,
        portal_id: 7,
        app_id: 8,
        owner_changes: None,
    };
    let report = fire::run(config).await.expect("fire runs");
    assert_eq!(
        (report.statuses.get(&401).copied(), report.duplicate_events),
        (Some(4), 10)
    );
    assert!(!report.ok());
}
