//! Callbacks that must change nothing: a forged, reused, expired or missing `state`; a
//! declined consent; a code HubSpot refuses; a Connect into a portal being removed. A flow
//! in progress survives a restart.

use std::time::Duration;

use hubspot_gateway::connection::{Callback, Connections, Refusal, Scopes, Settings, State, Who};
use hubspot_gateway::hubspot::Requirements;
use hubspot_gateway::object::ObjectType;
use hubspot_gateway::secret::Secret;
use hubspot_gateway::sim::browser::Browser;
use hubspot_gateway::sim::{self, SimConfig};
use hubspot_gateway::store::Store;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::{consent, follow, param, portal, with_param, Setup, PORTAL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_with_a_forged_reused_expired_or_missing_state_changes_nothing() {
    let setup = Setup::start(portal()).await;
    let (email, _) = setup.user(1);
    let callback = consent(&setup.start_url().await, &email, PORTAL).await;
    for (bad, says) in [
        (
            with_param(&callback, "state", Some("forged")),
            "not issued by this gateway",
        ),
        (with_param(&callback, "state", None), "carries no state"),
        (with_param(&callback, "state", Some("")), "carries no state"),
    ] {
        let (status, html) = follow(&bad).await;
        assert_eq!(status, 400, "{bad}: {html}");
        assert!(
            html.contains(says) && html.contains("Nothing changed"),
            "{html}"
        );
    }
    assert_eq!(setup.connection().await["state"], "not_connected");

    // The forged callbacks used nothing up: the real one connects, once.
    assert_eq!(follow(&callback).await.0, 200);
    let connected = setup.connection().await;
    let (status, html) = follow(&callback).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("already used"), "{html}");
    assert_eq!(
        setup.connection().await["connected_at"],
        connected["connected_at"]
    );

    // A flow in progress survives a restart, but not its 10 minutes.
    let kept = setup.start_url().await;
    let expired = setup.start_url().await;
    let Setup { sim, gateway } = setup;
    let port = gateway.addr.port();
    let dir = gateway.stop().await;
    {
        let store = crate::support::open_store(&dir.path().join("store")).await;
        let state = param(&expired, "state").unwrap();
        let name = format!("pending/{}", hex::encode(Sha256::digest(state.as_bytes())));
        let mut pending: Value =
            serde_json::from_slice(&store.connections().get(&name).unwrap().unwrap()).unwrap();
        pending["expires_at_ms"] = json!(1);
        store
            .connections()
            .put(&name, &serde_json::to_vec(&pending).unwrap())
            .unwrap();
        store.commit().unwrap();
    }
    let gateway = Setup::gateway_at(&sim, dir, Some("IT_SECRETS_KEY"), port).await;
    let setup = Setup { sim, gateway };
    let (status, html) = follow(&consent(&expired, &email, PORTAL).await).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("expired"), "{html}");
    let (status, html) = follow(&consent(&kept, &email, PORTAL).await).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(setup.connection().await["state"], "connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_consent_and_a_refused_code_store_nothing() {
    let setup = Setup::start(portal()).await;
    let (email, user_id) = setup.user(1);
    let mut browser = Browser::new();
    let page = browser.open(&setup.start_url().await).await.unwrap();
    let page = browser.sign_in(&page, &email).await.unwrap();
    assert_eq!(page.step, "consent");
    let page = browser.decide(&page, false).await.unwrap();
    let location = page.location.unwrap();
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    let (status, html) = follow(&location).await;
    assert_eq!(status, 403, "{html}");
    assert!(
        html.contains("declined") && html.contains("access_denied"),
        "{html}"
    );
    assert_eq!(follow(&location).await.0, 400, "the state is used up");

    let callback = consent(&setup.start_url().await, &email, PORTAL).await;
    setup.sim.control().expire_codes();
    let (status, html) = follow(&callback).await;
    assert_eq!(status, 400, "{html}");
    assert!(
        html.contains("HubSpot refused the authorization code"),
        "{html}"
    );
    assert_eq!(setup.connection().await["state"], "not_connected");
    assert!(setup.live_tokens(user_id).is_empty());
}

/// A Connect whose callback lands while the portal's removal holds its site (the first
/// site's place, until the removal has forgotten its connections): refused, nothing stored,
/// and the token HubSpot issued for it revoked. The connections are driven directly: the
/// window is too short to hit through a running daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_into_a_portal_being_removed_is_refused_and_its_token_revoked() {
    let sim = sim::start(SimConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let config = sim.config();
    let settings = Settings {
        api_base: sim.base_url().parse().unwrap(),
        app_base: sim.base_url(),
        public_url: "http://127.0.0.1:9".into(),
        client_id: Some(config.client_id.clone()),
        client_secret: Some(Secret::new(config.client_secret.clone())),
        access_token: None,
        refresh_token: None,
        secrets_key: Some(Secret::new([3; 32])),
        service_scopes: Scopes {
            required: Requirements {
                read: vec![ObjectType::Contacts],
                ..Requirements::default()
            },
            ..Scopes::default()
        },
        user_scopes: Scopes::default(),
        max_retry_secs: 0,
        max_concurrency: 1,
        request_timeout: Duration::from_secs(5),
        multiple_portals: false,
    };
    let dir = tempfile::tempdir().unwrap();
    let connections = Connections::new(Store::open(dir.path()).unwrap(), settings);
    let url = connections.start(&Who::Service, "test").unwrap();
    let user = sim.control().users().remove(0);
    let back = Browser::new()
        .authorize(&url, &user.email, Some(user.portal_ids[0]))
        .await
        .unwrap();
    let query = back.split_once('?').map(|(_, query)| query);
    let granted = connections
        .grant(Callback::from_query(query))
        .await
        .unwrap();
    let issued = |usable: bool| {
        let tokens = sim.control().refresh_tokens();
        let configured = &config.refresh_token;
        let issued = tokens.iter().filter(|t| t.token != *configured);
        issued.filter(|t| t.usable == usable).count()
    };
    assert_eq!(
        (issued(true), issued(false)),
        (1, 0),
        "the grant's token works"
    );

    connections.hold();
    let refused = connections.accept(granted).await.unwrap_err();
    assert!(matches!(refused, Refusal::Removing), "{refused:?}");
    assert_eq!(
        (issued(true), issued(false)),
        (0, 1),
        "its token is revoked"
    );
    let status = connections.status();
    assert_eq!(status.state, State::NotConnected);
    assert_eq!(status.portal_id, None, "nothing stored");
    sim.shutdown().await;
}
