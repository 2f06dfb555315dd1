//! Connecting in the browser: Connect through the simulator's sign-in, account chooser and
//! consent pages back to the Connection page; Change user; the export preference and a user's
//! own connection on User mapping; Disconnect after its confirmation page (scripts off).

use super::Browser;
use crate::connect::{portal, Setup, PORTAL};
use crate::support::ADMIN_TOKEN;

/// On HubSpot's (the simulator's) pages: signs in as `email` unless already signed in as
/// them, picks `PORTAL` when asked, and consents; ends on the gateway's callback page.
async fn consent_as(browser: &Browser, email: &str) {
    consent_in(browser, email, PORTAL).await;
}

/// Like `consent_as`, choosing the account `portal`.
pub(super) async fn consent_in(browser: &Browser, email: &str, portal: i64) {
    let step = browser.wait_for("main[data-step]").await;
    let mut step = step.attr("data-step").await.unwrap().unwrap();
    let signed_in_as = browser.text("main").await;
    if step != "sign-in" && !signed_in_as.contains(email) {
        browser.press("main", "Use another HubSpot user").await;
        step = "sign-in".into();
    }
    if step == "sign-in" {
        browser.fill("#email", email).await;
        browser.press("main", "Sign in").await;
    }
    let chooser = format!("form:has(input[name=portal_id][value='{portal}']) button");
    if browser
        .text("main")
        .await
        .contains("Choose the HubSpot account")
    {
        browser.mark_page().await;
        browser.click(&chooser).await;
        browser.wait_for_new_page().await;
    }
    browser.wait_for("main[data-step=consent]").await;
    browser.press("main", "Connect app").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_change_user_prefer_user_accounts_and_disconnect() {
    let setup = Setup::start(portal()).await;
    let (admin, admin_id) = setup.user(0);
    let (other_admin, _) = setup.user(1);
    let (seller, _) = setup.user(2);
    let browser = Browser::start(&format!("http://{}", setup.gateway.addr)).await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.open("/admin/connection").await;
    assert_eq!(browser.heading().await, "Connection");
    let card = browser
        .text("section[aria-labelledby=portal-heading]")
        .await;
    assert!(card.contains("Not connected"), "{card}");
    assert!(browser.accessibility_gaps().await.is_empty());
    browser
        .screenshot("console-connection-oauth-not-connected")
        .await;

    // Connect: the console sends the browser to HubSpot; the account chooser, consent, and
    // the callback page, which leads back to the console.
    browser.press("main", "Connect to HubSpot").await;
    consent_as(&browser, &admin).await;
    assert_eq!(browser.heading().await, "Connected to HubSpot");
    browser.screenshot("console-connection-callback").await;
    browser
        .press("main", "Back to the console's Connection page")
        .await;
    let card = browser
        .text("section[aria-labelledby=portal-heading]")
        .await;
    assert!(
        card.contains("Connected") && card.contains(&PORTAL.to_string()),
        "{card}"
    );
    assert_eq!(
        browser.text("#primary-admin").await,
        format!("{admin} · user {admin_id}")
    );
    assert!(browser.text("main").await.contains("Nothing missing"));
    browser.screenshot("console-connection-connected").await;

    // Change user: another admin of the same account becomes the primary connected admin.
    browser.press("main", "Change user").await;
    consent_as(&browser, &other_admin).await;
    let replaced = browser.text("main").await;
    assert!(
        replaced.contains(&format!("This replaces the connection of {admin}")),
        "{replaced}"
    );
    browser
        .press("main", "Back to the console's Connection page")
        .await;
    assert!(browser
        .text("#primary-admin")
        .await
        .starts_with(&other_admin));

    // User accounts: User mapping shows each user's own connection, and connects one.
    browser.click("#export-user").await;
    browser.press("main", "Save export preference").await;
    assert!(browser.text(".flash").await.contains("each user's own"));
    browser.open("/admin/users").await;
    assert!(browser.text("thead").await.contains("Own connection"));
    browser.fill("#emails", &seller).await;
    browser.press("main", "Auto-map these users").await;
    let row = format!("tbody tr:has(button[aria-label='Connect the HubSpot account of {seller}'])");
    assert!(browser.text(&row).await.contains("Not connected"));
    browser.screenshot("console-users-connections").await;
    browser.press(&row, "Connect").await;
    consent_as(&browser, &seller).await;
    assert!(browser
        .heading()
        .await
        .contains(&format!("{seller} is connected")));
    browser
        .press("main", "Back to the console's User mapping page")
        .await;
    let row =
        format!("tbody tr:has(button[aria-label='Disconnect the HubSpot account of {seller}'])");
    assert!(browser.text(&row).await.contains("Connected"));
    // With the script, Disconnect asks in a dialog: cancelled, nothing happens.
    browser.press_only(&row, "Disconnect").await;
    let question = browser.client.get_alert_text().await.unwrap();
    assert!(question.contains(&seller), "{question}");
    browser.client.dismiss_alert().await.unwrap();
    assert!(browser.text(&row).await.contains("Connected"));
    browser.mark_page().await;
    browser.press_only(&row, "Disconnect").await;
    browser.client.accept_alert().await.unwrap();
    browser.wait_for_new_page().await;
    assert!(browser.text(".flash").await.contains("is disconnected"));
    assert!(browser.text("tbody").await.contains("Not connected"));

    // Disconnect without the script: the confirmation page asks first.
    browser.open("/admin/connection").await;
    browser.without_confirm_prompts().await;
    browser.press("main", "Disconnect").await;
    assert!(browser
        .text("main")
        .await
        .contains("Disconnect from HubSpot?"));
    browser
        .screenshot("console-connection-disconnect-confirm")
        .await;
    browser.press("main", "Disconnect").await;
    assert!(browser.text(".flash").await.contains("Disconnected"));
    let card = browser
        .text("section[aria-labelledby=portal-heading]")
        .await;
    assert!(card.contains("Not connected"), "{card}");
    assert_eq!(setup.connection().await["state"], "not_connected");
    browser.close().await;
    setup.gateway.stop().await;
    setup.sim.shutdown().await;
}
