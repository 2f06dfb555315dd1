//! Field mapping in the browser: a row with a problem is refused with the problem on that row,
//! fixed and saved; rows move to change a hierarchy; Test mapping shows what HubSpot stored.

use super::Setup;
use crate::support::ADMIN_TOKEN;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_row_shows_its_problem_then_the_fixed_mapping_saves_and_tests() {
    let setup = Setup::start().await;
    let browser = setup.browser().await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.open("/admin/mapping/contacts").await;
    assert_eq!(browser.heading().await, "Field mapping");
    let rows = browser.all("section.mapping-row").await.len();
    assert_eq!(rows, 8, "the default contact mapping");
    // Phone is a hierarchy: direct_phone first, then company_phone.
    assert!(browser
        .text("#row-6")
        .await
        .contains("choice 1 of 2 for phone"));

    // A new row with a property but no source.
    browser.press(".actions", "Add row").await;
    let new_row = format!("#row-{}", rows + 1);
    browser.find(&new_row).await;
    browser.mark_page().await;
    browser
        .find(&format!("#property-{rows}"))
        .await
        .select_by_value("website")
        .await
        .unwrap();
    browser.wait_for_new_page().await;
    // The select re-renders the form without saving (the script); then save.
    assert!(browser.text(".notice.info").await.contains("not saved yet"));
    browser.press(".actions", "Save mapping").await;
    let problems = browser.text(&format!("{new_row} .problems")).await;
    assert!(problems.contains("source is blank"), "{problems}");
    assert_eq!(
        browser
            .find(&new_row)
            .await
            .attr("class")
            .await
            .unwrap()
            .as_deref(),
        Some("mapping-row invalid")
    );
    assert!(browser
        .text(".notice.problem")
        .await
        .contains(&format!("Row {}", rows + 1)));
    for other in 1..=rows {
        assert!(
            browser
                .all(&format!("#row-{other} .problems"))
                .await
                .is_empty(),
            "row {other}"
        );
    }
    browser.screenshot("console-mapping-problem").await;

    // Fix it, move it to the top, save.
    browser.fill(&format!("#source-{rows}"), "homepage").await;
    for _ in 0..rows {
        let up = browser
            .all(&format!(
                "{} button[value^='up:']",
                new_row_at(&browser, "homepage").await
            ))
            .await;
        browser.mark_page().await;
        up[0].click().await.unwrap();
        browser.wait_for_new_page().await;
    }
    assert_eq!(
        browser
            .find("#source-0")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("homepage")
    );
    browser.press(".actions", "Save mapping").await;
    assert!(browser.text(".flash").await.contains("mapping is saved"));
    let (_, saved) = setup
        .gateway
        .get("/v1/export/mappings/contacts", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(saved["fields"][0]["source"], "homepage");
    assert_eq!(saved["fields"][0]["property"], "website");

    // Test mapping: the sample goes to HubSpot (the simulator) and comes back.
    browser
        .fill("#sample-homepage", "https://console-test.example")
        .await;
    browser
        .fill("#sample-email", "console.test@sample.example")
        .await;
    browser.fill("#sample-first_name", "Console").await;
    browser.press("#test", "Run test").await;
    let result = browser.text("#test").await;
    assert!(result.contains("HubSpot created record"), "{result}");
    assert!(result.contains("archived it again"), "{result}");
    assert!(result.contains("https://console-test.example"), "{result}");
    browser.screenshot("console-mapping-test").await;
    browser.close().await;
    setup.stop().await;
}

/// The CSS id of the row whose source field holds `source`.
async fn new_row_at(browser: &super::Browser, source: &str) -> String {
    for row in browser.all("section.mapping-row").await {
        let id = row.attr("id").await.unwrap().unwrap();
        let index: usize = id.trim_start_matches("row-").parse::<usize>().unwrap() - 1;
        let value = browser
            .find(&format!("#source-{index}"))
            .await
            .prop("value")
            .await
            .unwrap();
        if value.as_deref() == Some(source) {
            return format!("#{id}");
        }
    }
    panic!("no row with source {source}");
}
