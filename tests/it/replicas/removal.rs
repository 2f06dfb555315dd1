//! A portal's removal requested at a follower: the follower refuses the portal at once, the
//! leader takes it out and finishes the removal (tokens revoked, its data deleted), and both
//! replicas then mirror the other portal alone, which still answers at either.

use std::time::Duration;

use hubspot_gateway::kit::postgres::Cluster;
use hubspot_gateway::sim;
use serde_json::{json, Value};

use crate::connect::{portal, OTHER_PORTAL, PORTAL};
use crate::mirror::wait_until;
use crate::removal_crash::{config_file, connected_token, usable, user_of_both, Daemon};
use crate::support::Options;

/// What the leader logs when it has finished a removal.
const REMOVED: &str = "removed a portal from the deployment";

async fn leads(replica: &Daemon) -> bool {
    replica.status().await["replica"]["leader"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_requested_at_a_follower_is_finished_by_the_leader() {
    let url = Cluster::shared().fresh_database().await.unwrap();
    let sim = sim::start(portal(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let contacts = sim::ObjectType::Contacts;
    let control = sim.control();
    control
        .create_in(PORTAL, contacts, [("email", "leaving@first.example")])
        .unwrap();
    control
        .create_in(OTHER_PORTAL, contacts, [("email", "stays@other.example")])
        .unwrap();
    // Polling every second: the leader syncs a change without webhooks.
    let on_database = |options: Options| Options {
        database_url: Some(url.clone()),
        sync: options
            .sync
            .map(|sync| sync.replace("poll_interval_secs = 3600", "poll_interval_secs = 1")),
        ..options
    };
    let env = [("IT_DATABASE_URL", url.as_str())];
    let mut replicas = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let (config, base) = config_file(&sim, dir.path(), on_database);
        replicas.push(Daemon::start(&config, &base, &env).await);
        dirs.push(dir);
    }
    wait_until("a leader", Duration::from_secs(15), || async {
        leads(&replicas[0]).await || leads(&replicas[1]).await
    })
    .await;
    let leader = if leads(&replicas[0]).await { 0 } else { 1 };
    let follower = replicas.remove(1 - leader);
    let leader = replicas.remove(0);
    assert!(leads(&leader).await && !leads(&follower).await);

    // The first portal connected at the leader, the other at the follower; the leader syncs
    // both, and both replicas answer for both.
    let email = user_of_both(&sim);
    assert_eq!(leader.connect(&email, PORTAL).await.0, 200);
    leader.wait_for_backfill_of(PORTAL).await;
    assert_eq!(follower.connect(&email, OTHER_PORTAL).await.0, 200);
    leader.wait_for_backfill_of(OTHER_PORTAL).await;
    for replica in [&leader, &follower] {
        replica.wait_for_portals(&[PORTAL, OTHER_PORTAL]).await;
        let found = replica.contact_ids(PORTAL, "leaving@first.example").await;
        assert_eq!(found.len(), 1, "{}", replica.base);
        let found = replica.contact_ids(OTHER_PORTAL, "stays@other.example");
        assert_eq!(found.await.len(), 1, "{}", replica.base);
    }
    let token = connected_token(&sim, PORTAL);
    let other_token = connected_token(&sim, OTHER_PORTAL);

    // Requested at the follower: refused there at once.
    let answered = follower.remove(PORTAL).await;
    let accepted = json!({"portal_id": PORTAL, "state": "removing"});
    assert_eq!(answered, Some((202, accepted)));
    follower.refuses(PORTAL).await;

    // The leader takes the portal out and finishes; both replicas see it done.
    for replica in [&leader, &follower] {
        replica.wait_for_portals(&[OTHER_PORTAL]).await;
        replica.refuses(PORTAL).await;
    }
    assert!(!usable(&sim, &token), "its refresh token is revoked");
    assert!(usable(&sim, &other_token), "the other portal's is not");
    assert_eq!(
        leader.process.log_text().matches(REMOVED).count(),
        1,
        "finished by the leader: {}",
        leader.process.log_text()
    );
    assert!(
        !follower.process.log_text().contains(REMOVED),
        "not by the follower: {}",
        follower.process.log_text()
    );

    // The other portal still answers at both, and is still synced by the leader.
    for replica in [&leader, &follower] {
        let found = replica.contact_ids(OTHER_PORTAL, "stays@other.example");
        assert_eq!(found.await.len(), 1, "{}", replica.base);
    }
    let id = control
        .create_in(OTHER_PORTAL, contacts, [("email", "later@other.example")])
        .unwrap();
    for replica in [&leader, &follower] {
        wait_until("a new contact synced", Duration::from_secs(30), || async {
            let found = replica.contact_ids(OTHER_PORTAL, "later@other.example");
            found.await == [Value::String(id.clone())]
        })
        .await;
    }
    leader.stop().await;
    follower.stop().await;
    sim.shutdown().await;
}
