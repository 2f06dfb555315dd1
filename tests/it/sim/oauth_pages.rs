//! The authorize pages' refusals: Cancel (access_denied), a bad client, redirect URI or
//! scope (an error page, never a redirect), scopes a user or account cannot grant.

use hubspot_gateway::sim::browser::Browser;
use hubspot_gateway::sim::{ScopeLimit, SimConfig};
use serde_json::json;

use super::oauth::{access, authorize_url, connect, get_with, param, REDIRECT, SCOPES};
use super::Sim;

#[tokio::test]
async fn cancel_redirects_with_access_denied_and_ends_the_request() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let user = sim.handle.control().users()[1].clone();
    assert_eq!(
        user.portal_ids.len(),
        1,
        "no chooser for a one-account user"
    );
    let mut browser = Browser::new();
    let page = browser
        .open(&authorize_url(&sim, SCOPES, "", "s2"))
        .await
        .unwrap();
    let consent = browser.sign_in(&page, &user.email).await.unwrap();
    assert_eq!(consent.step, "consent");
    let denied = browser.decide(&consent, false).await.unwrap();
    let location = denied.location.expect("Cancel redirects");
    assert!(location.starts_with(REDIRECT));
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    assert!(param(&location, "error_description").is_some_and(|text| !text.is_empty()));
    assert_eq!(
        (
            param(&location, "state").as_deref(),
            param(&location, "code")
        ),
        (Some("s2"), None)
    );
    let again = browser.decide(&consent, true).await.unwrap();
    assert_eq!(
        (again.status, again.step.as_str()),
        (400, "error"),
        "an answered request is over"
    );
    let unknown = browser
        .sign_in(&page, "nobody@nowhere.example")
        .await
        .unwrap();
    assert_eq!(unknown.status, 400, "the request it names is over too");
    let page = browser
        .open(&authorize_url(&sim, SCOPES, "", "s3"))
        .await
        .unwrap();
    assert_eq!(page.step, "consent", "still signed in");
    let signed_out = browser.post(&page, "sign-out", &[]).await.unwrap();
    let unknown = browser
        .sign_in(&signed_out, "nobody@nowhere.example")
        .await
        .unwrap();
    assert_eq!((unknown.status, unknown.step.as_str()), (401, "sign-in"));
    assert!(unknown.alert().unwrap().contains("nobody@nowhere.example"));
}

#[tokio::test]
async fn a_bad_client_redirect_or_scope_is_an_error_page_never_a_redirect() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let control = sim.handle.control();
    let mut browser = Browser::new();
    let good = authorize_url(&sim, SCOPES, "", "st");
    let cases = [
        good.replace("client_id=sim-client-id", "client_id=stranger"),
        good.replace("http%3A%2F%2F127.0.0.1%3A9", "http%3A%2F%2Fgateway.example"),
        good.replace("&scope=oauth+", "&scope=&junk="),
    ];
    for url in &cases {
        let page = browser.open(url).await.unwrap();
        assert_eq!(
            (page.status, page.step.as_str(), page.location.as_deref()),
            (400, "error", None),
            "{url}"
        );
    }
    control.set_redirect_uris(vec!["https://gw.example/oauth/callback".into()]);
    let page = browser.open(&good).await.unwrap();
    assert!(page
        .alert()
        .unwrap()
        .contains("doesn't match the app's registered redirect URL"));
    control.set_redirect_uris(Vec::new());
    control.limit_scopes(
        hubspot_gateway::sim::ScopeLimit::App,
        Some(vec!["oauth".into(), "crm.objects.contacts.read".into()]),
    );
    let page = browser.open(&good).await.unwrap();
    assert_eq!(page.status, 400);
    assert!(
        page.alert().unwrap().contains("crm.objects.contacts.write"),
        "{:?}",
        page.alert()
    );
    control.limit_scopes(hubspot_gateway::sim::ScopeLimit::App, None);
    assert_eq!(browser.open(&good).await.unwrap().step, "sign-in");
}

#[tokio::test]
async fn scopes_a_user_or_account_cannot_grant() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let (main, control) = (sim.handle.config().portal_id, sim.handle.control());
    let user = control.users()[1].clone();
    control.limit_scopes(
        ScopeLimit::User(user.email.clone()),
        Some(vec!["oauth".into(), "crm.objects.contacts.read".into()]),
    );
    let mut browser = Browser::new();
    let page = browser
        .open(&authorize_url(&sim, SCOPES, "", "st"))
        .await
        .unwrap();
    let refused = browser.sign_in(&page, &user.email).await.unwrap();
    assert_eq!(
        (
            refused.status,
            refused.step.as_str(),
            refused.location.as_deref()
        ),
        (403, "error", None)
    );
    assert!(refused
        .alert()
        .unwrap()
        .contains("crm.objects.contacts.write"));
    control.limit_scopes(ScopeLimit::User(user.email.clone()), None);
    control.limit_scopes(
        ScopeLimit::Portal(main),
        Some(vec![
            "oauth".into(),
            "crm.objects.contacts.read".into(),
            "crm.objects.contacts.write".into(),
        ]),
    );
    let tokens = connect(&sim, &user, main, SCOPES, "crm.objects.deals.read").await;
    assert!(
        !tokens["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("crm.objects.deals.read")),
        "an optional scope left out"
    );
    let (status, body) = get_with(&sim, &access(&tokens), "/crm/v3/objects/deals").await;
    assert_eq!(
        (status, body["category"].as_str()),
        (403, Some("MISSING_SCOPES"))
    );
    assert_eq!(
        get_with(&sim, &access(&tokens), "/crm/v3/objects/contacts")
            .await
            .0,
        200
    );
}
