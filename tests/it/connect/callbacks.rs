//! Callbacks that must change nothing: a forged, reused, expired or missing `state`; a
//! declined consent; a code HubSpot refuses. A flow in progress survives a restart.

use hubspot_gateway::sim::browser::Browser;
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
