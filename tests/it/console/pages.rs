//! Every console page at a desktop size (1280×800) and a phone's (390×844): its heading,
//! labelled fields, table headers, no sideways scrolling, and a screenshot of each.

use std::time::Duration;

use super::Setup;
use crate::mirror::wait_until;
use reqwest::Method;
use serde_json::json;

use crate::support::{ADMIN_TOKEN, EXPORT_TOKEN, READ_TOKEN};

const PAGES: [(&str, &str, &str); 10] = [
    ("/admin/connection", "Connection", "connection"),
    ("/admin/users", "User mapping", "users"),
    ("/admin/settings", "Export settings", "settings"),
    ("/admin/mapping/contacts", "Field mapping", "mapping"),
    ("/admin/sync", "Sync and filtering", "sync"),
    ("/admin/exports", "Exports", "exports"),
    ("/admin/exports/1", "Exports", "export-job"),
    (
        "/admin/mapping/companies",
        "Field mapping",
        "mapping-companies",
    ),
    ("/admin/webhooks", "Webhooks", "webhooks"),
    ("/admin/sign-in", "Sign in", "sign-in"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_reads_well_on_a_desktop_and_a_phone() {
    let setup = Setup::start().await;
    // A few changes in HubSpot arrive as webhooks: the chart has bars.
    let control = setup.sim.control();
    let id = control
        .ids(hubspot_gateway::sim::ObjectType::Companies, "0", 1)
        .pop()
        .unwrap();
    control
        .update(
            hubspot_gateway::sim::ObjectType::Companies,
            &id,
            [("city", "Porto")],
        )
        .unwrap();
    wait_until("a webhook", Duration::from_secs(20), || async {
        let (_, status) = setup.gateway.get("/v1/status", Some(READ_TOKEN)).await;
        status["webhooks"]["received"].as_u64().unwrap_or(0) > 0
    })
    .await;
    // Users and an export, so the tables have rows.
    let owner = control
        .owners()
        .into_iter()
        .find(|o| !o.archived)
        .unwrap()
        .email;
    let emails = json!({"emails": [owner.clone(), "someone.new@internal.example"]});
    let (status, _) = setup
        .gateway
        .send(Method::POST, "/v1/user-mappings/auto", ADMIN_TOKEN, &emails)
        .await;
    assert_eq!(status, 200);
    let export = json!({"type": "contacts", "user_email": owner, "records": [
        {"ref": "p-1", "fields": {"email": "page.one@pages.example", "first_name": "Page", "last_name": "One"}},
        {"ref": "p-2", "fields": {"email": "not an email", "last_name": "Two"}},
    ]});
    let (status, started) = setup
        .gateway
        .send(Method::POST, "/v1/exports", EXPORT_TOKEN, &export)
        .await;
    assert_eq!(status, 202, "{started}");
    let path = format!("/v1/exports/{}", started["export_id"].as_str().unwrap());
    wait_until("the export", Duration::from_secs(30), || async {
        setup.gateway.get(&path, Some(EXPORT_TOKEN)).await.1["state"] == "done"
    })
    .await;
    let browser = setup.browser().await;
    browser.sign_in(ADMIN_TOKEN).await;
    for (width, height, size) in [(1280, 800, "desktop"), (390, 844, "phone")] {
        browser.resize(width, height).await;
        for (path, heading, name) in PAGES {
            if name == "sign-in" {
                browser.press("header", "Sign out").await;
            }
            browser.open(path).await;
            assert_eq!(browser.heading().await, heading, "{path}");
            let gaps = browser.accessibility_gaps().await;
            assert!(gaps.is_empty(), "{path} at {size}: {gaps:?}");
            assert!(
                !browser.overflows_sideways().await,
                "{path} scrolls sideways at {size}"
            );
            browser.screenshot(&format!("console-{name}-{size}")).await;
            if name == "webhooks" {
                let bars = browser.all("figure.chart svg rect").await.len();
                assert_eq!(bars, 120, "a stored and a duplicate bar per minute");
                let summary = browser.text("figure.chart").await;
                assert!(summary.contains("stored"), "{summary}");
                assert!(browser
                    .text("tbody")
                    .await
                    .contains("company.propertyChange"));
            }
        }
        browser.sign_in(ADMIN_TOKEN).await;
    }
    // The navigation works from the keyboard: Tab reaches the skip link first.
    browser.resize(1280, 800).await;
    browser.open("/admin/sync").await;
    let focused = browser
        .client
        .execute(
            "document.body.focus(); return document.querySelector('a.skip').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(focused, "Skip to the page");
    browser.close().await;
    setup.stop().await;
}
