//! Exports in the browser: upload a CSV, review its dry run, confirm, watch the job finish,
//! filter its records and open a failed record's reason.

use std::time::Duration;

use super::Setup;
use crate::support::ADMIN_TOKEN;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_review_confirm_and_open_a_failed_record() {
    let setup = Setup::start().await;
    let snapshot = setup.sim.control().snapshot();
    // A contact without a mobile phone: exporting one fills it (fill_empty), an update.
    let existing = snapshot.objects[&hubspot_gateway::sim::ObjectType::Contacts]
        .iter()
        .filter(|record| !record.properties.contains_key("mobilephone"))
        .find_map(|record| record.properties.get("email").cloned())
        .unwrap();
    let user = setup
        .sim
        .control()
        .owners()
        .into_iter()
        .find(|o| !o.archived)
        .unwrap()
        .email;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prospects.csv");
    // A new contact, the same person again (updated), and a duplicate that may not be
    // created again (allow_duplicates is off): that one fails with not_allowed.
    let csv = format!(
        "ref,email,first_name,last_name,company,mobile_phone,on_duplicate\n\
         new-1,fresh.person@upload.example,Fresh,Person,Upload Inc,,\n\
         dup-1,{existing},Known,Person,,+1 555 0100,update\n\
         dup-2,{existing},Known,Again,,,create\n"
    );
    std::fs::write(&file, csv).unwrap();

    let browser = setup.browser().await;
    browser.sign_in(ADMIN_TOKEN).await;
    browser.open("/admin/exports").await;
    assert_eq!(browser.heading().await, "Exports");
    browser
        .find("#type")
        .await
        .select_by_value("contacts")
        .await
        .unwrap();
    browser.fill("#user_email", &user).await;
    browser
        .find("#file")
        .await
        .send_keys(&file.display().to_string())
        .await
        .unwrap();
    browser
        .press(
            "section[aria-labelledby=upload-heading]",
            "Upload and review",
        )
        .await;

    let review = browser.text("main").await;
    assert!(review.contains("Review: prospects.csv"), "{review}");
    assert!(review.contains("Nothing has been written yet"), "{review}");
    let stats = browser.text(".stats").await;
    assert!(
        stats.contains("1\nWould create")
            && stats.contains("1\nWould update")
            && stats.contains("1\nWould fail"),
        "{stats}"
    );
    assert!(browser.text("tr.failed").await.contains("not_allowed"));
    browser.screenshot("console-export-review").await;
    assert_eq!(
        setup.sim.control().snapshot().objects[&hubspot_gateway::sim::ObjectType::Contacts].len(),
        snapshot.objects[&hubspot_gateway::sim::ObjectType::Contacts].len(),
        "a dry run writes nothing"
    );

    browser
        .press("section[aria-labelledby=review-heading]", "Confirm export")
        .await;
    assert!(browser.text(".flash").await.contains("is queued"));
    // The page follows the job live (its script reloads it once the job is done).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !browser.text("#job-heading").await.contains("Done") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the export did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let summary = browser.text("nav[aria-label='Filter by action']").await;
    assert!(
        summary.contains("Created (1)")
            && summary.contains("Updated (1)")
            && summary.contains("Failed (1)"),
        "{summary}"
    );
    browser.screenshot("console-export-done").await;

    browser
        .press("nav[aria-label='Filter by action']", "Failed (1)")
        .await;
    let rows = browser.all("tbody tr").await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].text().await.unwrap().contains("dup-2"));
    browser.press("tbody tr", "Details").await;
    let detail = browser.text("main").await;
    assert!(
        detail.contains("Record 3 of export") && detail.contains("Failed:"),
        "{detail}"
    );
    assert!(detail.contains("not_allowed"), "{detail}");
    browser.screenshot("console-export-record").await;

    // The results as CSV.
    browser.client.back().await.unwrap();
    let href = browser
        .find("a[download]")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(href.ends_with("/results.csv"), "{href}");
    let (cookie, _) = super::security::session(&setup.base()).await;
    let response = setup
        .gateway
        .http
        .get(format!("{}{href}", setup.base()))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("row,ref,action,id,url"));
    assert!(
        lines[1].starts_with("1,new-1,created,") && lines[3].contains("not_allowed"),
        "{text}"
    );
    browser.close().await;
    setup.stop().await;
}
