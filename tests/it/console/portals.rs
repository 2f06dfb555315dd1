//! A deployment of several portals in the browser: the header's switcher says which HubSpot
//! account the pages show and changes it; each page then shows that account only.

use super::connection::consent_in;
use super::Browser;
use crate::connect::{portal, OTHER_PORTAL, PORTAL};
use crate::portals::{start, wait_for_backfill_of};
use crate::support::ADMIN_TOKEN;
use hubspot_gateway::sim;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_switcher_shows_one_account_at_a_time() {
    let setup = start(portal()).await;
    let contacts = sim::ObjectType::Contacts;
    for email in ["one@other.example", "two@other.example"] {
        setup
            .sim
            .control()
            .create_in(OTHER_PORTAL, contacts, [("email", email)])
            .unwrap();
    }
    let (email, _) = setup.user(0);
    assert_eq!(setup.connect_as(&email, PORTAL).await.0, 200);
    wait_for_backfill_of(&setup, PORTAL).await;

    // The second account is added from the Connection page, as an admin would.
    let browser = Browser::start(&format!("http://{}", setup.gateway.addr)).await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.open("/admin/connection").await;
    assert!(
        browser.all("#portal").await.is_empty(),
        "no switcher for one account"
    );
    browser.screenshot("console-portals-add").await;
    browser
        .press("main", "Connect another HubSpot account")
        .await;
    consent_in(&browser, &email, OTHER_PORTAL).await;
    assert_eq!(browser.heading().await, "Connected to HubSpot");
    assert!(browser
        .text("main")
        .await
        .contains(&OTHER_PORTAL.to_string()));
    wait_for_backfill_of(&setup, OTHER_PORTAL).await;

    browser.open("/admin/sync").await;
    assert_eq!(
        shown(&browser).await,
        PORTAL.to_string(),
        "the first by default"
    );
    let options: Vec<String> = {
        let mut texts = Vec::new();
        for option in browser.all("#portal option").await {
            texts.push(option.text().await.unwrap());
        }
        texts
    };
    assert_eq!(options, [PORTAL.to_string(), OTHER_PORTAL.to_string()]);
    assert_eq!(contacts_shown(&browser).await, "60", "the first account's");
    assert!(browser.accessibility_gaps().await.is_empty());
    browser.screenshot("console-portals-first").await;

    // Choosing the other account submits at once (the script) and comes back to the page.
    browser.mark_page().await;
    browser
        .find("#portal")
        .await
        .select_by_value(&OTHER_PORTAL.to_string())
        .await
        .unwrap();
    browser.wait_for_new_page().await;
    assert_eq!(browser.heading().await, "Sync and filtering");
    assert!(browser
        .text(".flash")
        .await
        .contains(&format!("Showing HubSpot account {OTHER_PORTAL}")));
    assert_eq!(shown(&browser).await, OTHER_PORTAL.to_string());
    assert_eq!(contacts_shown(&browser).await, "2", "the other account's");
    browser.screenshot("console-portals-other").await;

    // The reconciliation schedule saved here is the other account's only.
    browser
        .find("#frequency")
        .await
        .select_by_value("daily")
        .await
        .unwrap();
    browser
        .press("section[aria-labelledby=schedule-heading]", "Save schedule")
        .await;
    let card = browser
        .text("section[aria-labelledby=schedule-heading]")
        .await;
    assert!(card.contains("saved for this account"), "{card}");
    browser.screenshot("console-portals-schedule").await;
    for (portal, expected) in [(PORTAL, "interval"), (OTHER_PORTAL, "daily")] {
        let path = crate::portals::of("/v1/sync/schedule", portal);
        let (_, api) = setup.gateway.get(&path, Some(ADMIN_TOKEN)).await;
        assert_eq!(api["frequency"], expected, "{portal}: {api}");
    }

    // Every page shows the chosen account: the connection names it.
    browser.open("/admin/connection").await;
    let card = browser
        .text("section[aria-labelledby=portal-heading]")
        .await;
    assert!(card.contains(&OTHER_PORTAL.to_string()), "{card}");
    assert!(!card.contains(&PORTAL.to_string()), "{card}");
    browser.close().await;
}

/// The account the switcher shows as chosen.
async fn shown(browser: &Browser) -> String {
    let option = browser.find("#portal option:checked").await;
    option.text().await.unwrap()
}

/// The contacts the Sync page counts.
async fn contacts_shown(browser: &Browser) -> String {
    browser
        .text("section[aria-labelledby=sync-contacts] dd")
        .await
}
