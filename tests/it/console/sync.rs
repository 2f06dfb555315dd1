//! Sync and filtering in the browser: Run Now changes the sync time, Clear matches asks first
//! and empties the match bar, the reconciliation schedule is edited with its errors in place.

use std::time::Duration;

use super::Setup;
use crate::support::{ADMIN_TOKEN, READ_TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_moves_the_sync_time_and_clear_matches_asks_first() {
    let setup = Setup::start().await;
    // Two lookups record matches.
    let snapshot = setup.sim.control().snapshot();
    let contacts = &snapshot.objects[&hubspot_gateway::sim::ObjectType::Contacts];
    for record in contacts
        .iter()
        .filter(|r| r.properties.contains_key("email"))
        .take(2)
    {
        let path = format!("/v1/contacts/lookup?email={}", record.properties["email"]);
        let (status, body) = setup.gateway.get(&path, Some(READ_TOKEN)).await;
        assert_eq!((status, &body["in_crm"]), (200, &true.into()), "{body}");
    }
    let browser = setup.browser().await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.open("/admin/sync").await;
    assert_eq!(browser.heading().await, "Sync and filtering");
    let card = "section[aria-labelledby=sync-contacts]";
    let matched = browser.text(&format!("{card} dl")).await;
    assert!(matched.contains("2 · "), "{matched}");
    let before = browser.text("dd[data-sync-time=contacts] time").await;
    browser.screenshot("console-sync").await;

    // Times are shown to the second: wait until a pass now would show another.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    browser.press(card, "Run Now").await;
    assert!(browser
        .text(".flash")
        .await
        .contains("A sync pass of contacts was requested"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = browser.text("dd[data-sync-time=contacts] time").await;
        if now != before {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sync time stayed {before}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        browser.client.refresh().await.unwrap();
    }

    // Clear matches: the browser asks; dismissing changes nothing, accepting clears.
    browser.mark_page().await;
    browser.press_only(card, "Clear matches").await;
    let question = browser.client.get_alert_text().await.unwrap();
    assert!(
        question.contains("Clear 2 recorded matches of contacts?"),
        "{question}"
    );
    browser.client.dismiss_alert().await.unwrap();
    assert!(browser.text(&format!("{card} dl")).await.contains("2 · "));
    browser.press_only(card, "Clear matches").await;
    browser.client.accept_alert().await.unwrap();
    browser.wait_for_new_page().await;
    let flash = browser.text(".flash").await;
    assert!(
        flash.contains("Cleared 2 recorded matches of contacts"),
        "{flash}"
    );
    assert!(browser
        .text(&format!("{card} dl"))
        .await
        .contains("0 · 0.0 %"));

    // The reconciliation schedule: an invalid window is shown at its field, then weekly saves.
    browser
        .find("#frequency")
        .await
        .select_by_value("weekly")
        .await
        .unwrap();
    browser
        .find("#day")
        .await
        .select_by_value("friday")
        .await
        .unwrap();
    browser
        .client
        .execute(
            "document.getElementById('window_utc').removeAttribute('pattern')",
            vec![],
        )
        .await
        .unwrap();
    browser.fill("#window_utc", "25:00-26:00").await;
    browser
        .press("section[aria-labelledby=schedule-heading]", "Save schedule")
        .await;
    assert!(browser
        .text("#window_utc-error")
        .await
        .contains("UTC window"));
    browser.fill("#window_utc", "01:00-03:00").await;
    browser
        .press("section[aria-labelledby=schedule-heading]", "Save schedule")
        .await;
    let schedule = browser
        .text("section[aria-labelledby=schedule-heading]")
        .await;
    assert!(
        schedule.contains("weekly on Friday, between 01:00-03:00 UTC"),
        "{schedule}"
    );
    let (_, api) = setup
        .gateway
        .get("/v1/sync/schedule", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(
        (&api["frequency"], &api["day"]),
        (&"weekly".into(), &"friday".into())
    );
    browser.screenshot("console-sync-schedule").await;
    browser.close().await;
    setup.stop().await;
}
