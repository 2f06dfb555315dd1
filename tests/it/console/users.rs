//! User mapping in the browser: auto-map users, see the one without an owner highlighted at
//! the top, map it with the owner picker (which never offers an archived owner).

use super::Setup;
use crate::support::ADMIN_TOKEN;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_map_highlights_the_unmapped_user_and_the_picker_maps_it() {
    let setup = Setup::start().await;
    let owners = setup.sim.control().owners();
    let active = owners.iter().find(|owner| !owner.archived).unwrap();
    let archived = owners
        .iter()
        .find(|owner| owner.archived)
        .expect("an archived owner");
    let browser = setup.browser().await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.open("/admin/users").await;
    assert_eq!(browser.heading().await, "User mapping");

    let newcomer = "new.seller@internal.example";
    browser
        .fill(
            "#emails",
            &format!("{}\n{newcomer}", active.email.to_uppercase()),
        )
        .await;
    browser
        .press("form[action='/admin/users/auto']", "Auto-map these users")
        .await;
    let flash = browser.text(".flash").await;
    assert!(
        flash.contains("Auto-mapped 2 users; 1 user found no owner"),
        "{flash}"
    );
    let first = browser.find("tbody tr").await;
    assert_eq!(
        first.attr("class").await.unwrap().as_deref(),
        Some("attention")
    );
    let first_text = first.text().await.unwrap();
    assert!(
        first_text.contains(newcomer) && first_text.contains("Unmapped"),
        "{first_text}"
    );
    let rows = browser.all("tbody tr").await;
    let second = rows[1].text().await.unwrap();
    assert!(
        second.contains(&active.email.to_lowercase()) && second.contains("Detected by email"),
        "{second}"
    );
    assert!(browser
        .text("main")
        .await
        .contains("1 user needs a mapping"));
    browser.screenshot("console-users").await;

    // The picker: active owners only, searchable; the choice is a manual mapping.
    browser.press("tbody tr.attention", "Choose owner").await;
    assert!(browser.text("h2").await.contains(newcomer));
    let listed = browser.text("#owner-list").await;
    assert!(listed.contains(&active.email), "{listed}");
    assert!(
        !listed.contains(&archived.email),
        "archived owners are never offered"
    );
    browser.fill("#q", &active.last_name).await;
    browser.press("form[role=search]", "Search").await;
    browser
        .click(&format!("input[name=owner_id][value='{}']", active.id))
        .await;
    browser.screenshot("console-users-picker").await;
    browser.press("main", "Save mapping").await;
    assert!(browser
        .text(".flash")
        .await
        .contains(&format!("{newcomer} is mapped")));
    assert!(
        browser.all("tbody tr.attention").await.is_empty(),
        "nobody needs a mapping now"
    );
    let rows = browser.text("tbody").await;
    assert!(rows.contains("Confirmed"), "{rows}");
    browser.close().await;
    setup.stop().await;
}
