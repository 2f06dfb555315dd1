//! The demo's Connect: the gateway's authorize link, printed for a person to open; or, on
//! Enter or without any input, the same pages walked by the demo itself.

use std::time::Duration;

use anyhow::Context as _;

use crate::sim;

/// Connect: asks the gateway for HubSpot's authorize link and prints it; whoever opens it in
/// a browser signs in to the simulator and connects. Enter (or no input at all) lets the demo
/// walk the same pages itself, as that person would.
pub(super) async fn connect(
    simulator: &sim::SimHandle,
    base: &str,
    admin: &str,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let started: serde_json::Value = http
        .post(format!("{base}/v1/connection/start"))
        .bearer_auth(admin)
        .send()
        .await?
        .json()
        .await?;
    let url = started["authorize_url"]
        .as_str()
        .with_context(|| format!("the gateway did not start connecting: {started}"))?
        .to_owned();
    let admin_user = simulator
        .control()
        .users()
        .into_iter()
        .next()
        .context("the simulated portal has users")?;
    let portal_id = simulator.config().portal_id;
    println!("Connect the gateway to HubSpot (the simulated one), as an admin would:");
    println!("  open {url}");
    println!(
        "  sign in as {}, choose account {portal_id}, then \"Connect app\"",
        admin_user.email
    );
    println!("(waiting; press Enter to let the demo sign in and connect for you)\n");
    let (pressed, mut enter) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = pressed.send(());
    });
    let mut walked = false;
    loop {
        let connection: serde_json::Value = http
            .get(format!("{base}/v1/connection"))
            .bearer_auth(admin)
            .send()
            .await?
            .json()
            .await?;
        if connection["state"] == "connected" {
            println!(
                "connected to HubSpot account {} as {}, the primary connected admin\n",
                connection["portal_id"],
                connection["primary_admin"]["email"].as_str().unwrap_or("?")
            );
            return Ok(());
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = &mut enter, if !walked => {
                walked = true;
                let mut browser = sim::browser::Browser::new();
                let callback = browser.authorize(&url, &admin_user.email, Some(portal_id)).await?;
                let page = http.get(&callback).send().await?;
                let status = page.status();
                anyhow::ensure!(status.is_success(), "the callback answered {status}: {}", page.text().await?);
            }
        }
    }
}
