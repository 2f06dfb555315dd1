//! Removing a HubSpot account in the browser: the Connection page's danger zone asks first
//! (the script's dialog, or a page without the script), then the account is removed as
//! `DELETE /v1/portals/{id}` removes it; the page falls back to the account that remains, and
//! with the last one gone to "not connected".

use std::time::Duration;

use serde_json::json;

use super::Browser;
use crate::connect::{portal, Setup, OTHER_PORTAL, PORTAL};
use crate::mirror::wait_until;
use crate::portals::{start, wait_for_backfill_of};
use crate::support::{ADMIN_TOKEN, READ_TOKEN};

const CARD: &str = "section[aria-labelledby=remove-heading]";
const ACCOUNT: &str = "section[aria-labelledby=portal-heading]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_removed_after_a_plain_question_and_the_pages_fall_back() {
    let setup = start(portal()).await;
    let (email, _) = setup.user(0);
    for portal in [PORTAL, OTHER_PORTAL] {
        assert_eq!(setup.connect_as(&email, portal).await.0, 200);
        wait_for_backfill_of(&setup, portal).await;
    }
    let browser = Browser::start(&format!("http://{}", setup.gateway.addr)).await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.open("/admin/connection").await;

    // Through the switcher to the other account and back: the session has chosen the first.
    for chosen in [OTHER_PORTAL, PORTAL] {
        choose(&browser, chosen).await;
        let card = browser.text(CARD).await;
        assert!(
            card.contains(&format!(
                "Removes HubSpot account {chosen} from this gateway"
            )),
            "{card}"
        );
    }
    let card = browser.text(CARD).await;
    for said in [
        "mirrored records, user mappings, settings and export history in this gateway",
        "Nothing is deleted in HubSpot",
        "This cannot be undone",
    ] {
        assert!(card.contains(said), "{said}: {card}");
    }
    assert!(
        !card.contains("It is the only account"),
        "another one stays: {card}"
    );
    assert!(browser.accessibility_gaps().await.is_empty());
    screenshots(&browser, "console-removal-card").await;

    // Without the script, a page asks; Cancel leads back and nothing is removed.
    browser.without_confirm_prompts().await;
    browser.press(CARD, "Remove this account").await;
    let asked = browser.text("main").await;
    assert!(
        asked.contains(&format!(
            "Remove HubSpot account {PORTAL} from this gateway?"
        )) && asked.contains("Nothing is deleted in HubSpot"),
        "{asked}"
    );
    browser.screenshot("console-removal-confirm").await;
    browser.press("main", "Cancel").await;
    assert_eq!(browser.heading().await, "Connection");
    assert_eq!(portals(&setup).await, json!([PORTAL, OTHER_PORTAL]));

    // With the script the dialog asks: dismissed, nothing happens.
    browser.press_only(CARD, "Remove this account").await;
    let question = browser.client.get_alert_text().await.unwrap();
    for said in [
        &format!("Remove HubSpot account {PORTAL} from this gateway?"),
        "Its mirrored records, user mappings, settings and export history in this gateway are deleted",
        "Nothing is deleted in HubSpot",
        "This cannot be undone",
    ] {
        assert!(question.contains(said), "{said}: {question}");
    }
    browser.client.dismiss_alert().await.unwrap();
    assert_eq!(portals(&setup).await, json!([PORTAL, OTHER_PORTAL]));

    // Accepted: the account chosen in the header goes; the page shows the one that stays.
    remove_shown(&browser).await;
    assert_eq!(browser.heading().await, "Connection");
    assert_eq!(
        browser.text(".flash").await,
        format!("HubSpot account {PORTAL} is no longer served by this gateway.")
    );
    assert!(
        browser.all("#portal").await.is_empty(),
        "one account left: no switcher"
    );
    let account = browser.text(ACCOUNT).await;
    assert!(
        account.contains(&OTHER_PORTAL.to_string()) && !account.contains(&PORTAL.to_string()),
        "{account}"
    );
    let card = browser.text(CARD).await;
    assert!(
        card.contains(&format!("Removes HubSpot account {OTHER_PORTAL}"))
            && card.contains("It is the only account here"),
        "{card}"
    );
    screenshots(&browser, "console-removal-done").await;
    wait_for_portals(&setup, json!([OTHER_PORTAL])).await;
    browser.open("/admin/sync").await;
    assert!(browser.all("#portal").await.is_empty());
    assert!(!browser.text("main").await.contains(&PORTAL.to_string()));

    // The last account: afterwards nothing is connected, and a Connect may start again.
    browser.open("/admin/connection").await;
    remove_shown(&browser).await;
    assert_eq!(
        browser.text(".flash").await,
        format!("HubSpot account {OTHER_PORTAL} is no longer served by this gateway.")
    );
    assert!(browser.all(CARD).await.is_empty(), "nothing left to remove");
    browser.screenshot("console-removal-last").await;
    wait_for_portals(&setup, json!([])).await;
    browser.open("/admin/connection").await;
    let account = browser.text(ACCOUNT).await;
    assert!(account.contains("Not connected"), "{account}");
    let main = browser.text("main").await;
    assert!(
        main.contains("Connect to HubSpot") && !main.contains("Removing HubSpot account"),
        "{main}"
    );
    assert!(browser.all(CARD).await.is_empty());
    browser.screenshot("console-removal-none").await;
    browser.close().await;
    setup.gateway.stop().await;
    setup.sim.shutdown().await;
}

/// Chooses `portal` in the header's switcher (the script submits it at once).
async fn choose(browser: &Browser, portal: i64) {
    browser.mark_page().await;
    browser
        .find("#portal")
        .await
        .select_by_value(&portal.to_string())
        .await
        .unwrap();
    browser.wait_for_new_page().await;
    let chosen = browser.find("#portal option:checked").await;
    assert_eq!(chosen.text().await.unwrap(), portal.to_string());
}

/// Presses "Remove this account" and accepts the script's dialog.
async fn remove_shown(browser: &Browser) {
    browser.mark_page().await;
    browser.press_only(CARD, "Remove this account").await;
    browser.client.accept_alert().await.unwrap();
    browser.wait_for_new_page().await;
}

/// The page at desktop and phone widths (it must not scroll sideways).
async fn screenshots(browser: &Browser, name: &str) {
    for (width, height, size) in [(390, 844, "phone"), (1280, 800, "desktop")] {
        browser.resize(width, height).await;
        assert!(
            !browser.overflows_sideways().await,
            "{name} scrolls sideways at {size}"
        );
        browser.screenshot(&format!("{name}-{size}")).await;
    }
}

async fn portals(setup: &Setup) -> serde_json::Value {
    let (_, body) = setup.gateway.get("/v1/status", Some(READ_TOKEN)).await;
    body["portals"].clone()
}

/// Waits until no removal is pending and the deployment mirrors exactly `portals`.
async fn wait_for_portals(setup: &Setup, portals: serde_json::Value) {
    let what = format!("portals {portals}, nothing being removed");
    wait_until(&what, Duration::from_secs(30), || async {
        let (_, body) = setup.gateway.get("/v1/status", Some(READ_TOKEN)).await;
        body["removing"] == json!([]) && body["portals"] == portals
    })
    .await;
}
