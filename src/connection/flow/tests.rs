//! The callback's second half against the simulator's OAuth server, over real sockets.

use super::*;
use crate::connection::{Connections, Settings, State};
use crate::sim::{self, browser::Browser, SimConfig};
use crate::store::Store;

/// A portal's site whose app is the simulator's, and a grant for its first user, made
/// through the simulator's consent pages and the code exchange (the callback's first half).
async fn granted(sim: &sim::SimHandle, dir: &tempfile::TempDir) -> (Connections, Granted) {
    let config = sim.config();
    let settings = Settings {
        api_base: url::Url::parse(&sim.base_url()).unwrap(),
        app_base: sim.base_url(),
        public_url: "http://127.0.0.1:9".into(),
        client_id: Some(config.client_id.clone()),
        client_secret: Some(Secret::new(config.client_secret.clone())),
        secrets_key: Some(Secret::new([3; 32])),
        service_scopes: crate::connection::Scopes {
            required: crate::hubspot::Requirements {
                read: vec![crate::object::ObjectType::Contacts],
                ..Default::default()
            },
            ..Default::default()
        },
        ..Settings::bare()
    };
    let connections = Connections::new(Store::open(dir.path()).unwrap(), settings);
    let url = connections.start(&Who::Service, "test").unwrap();
    let user = sim.control().users().remove(0);
    let portal = user.portal_ids[0];
    let back = Browser::new()
        .authorize(&url, &user.email, Some(portal))
        .await
        .unwrap();
    let query = url::Url::parse(&back).unwrap().query().map(str::to_owned);
    let granted = connections
        .grant(Callback::from_query(query.as_deref()))
        .await
        .unwrap();
    (connections, granted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_into_a_site_being_removed_is_refused_and_its_token_revoked() {
    let sim = sim::start(SimConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (connections, granted) = granted(&sim, &dir).await;
    let token = granted.refresh_token.expose().clone();
    let usable = || {
        let tokens = sim.control().refresh_tokens();
        tokens.iter().any(|t| t.token == token && t.usable)
    };
    assert!(usable(), "the grant's token works before the refusal");

    connections.hold();
    let refused = connections.accept(granted).await.unwrap_err();
    assert!(matches!(refused, Refusal::Removing), "{refused:?}");
    assert!(!usable(), "the refused grant's token is revoked");
    assert_eq!(connections.status().state, State::NotConnected);
    let stored = record::load_slot(&connections.inner.store, &connections.inner.names.service);
    assert!(stored.unwrap().is_none(), "nothing stored");
    sim.shutdown().await;
}
