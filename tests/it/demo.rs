//! `hubspot-gateway demo`: its printed connect link works in a browser (walked here as a
//! person would), it answers its own printed `curl` lines, its console sign-in link opens a
//! session once, and it stops cleanly on SIGINT.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::process::{free_port, lines_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_answers_its_own_examples_and_stops_on_sigint() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hubspot-gateway"))
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        // Kept open: the demo waits for the link to be used instead of connecting itself.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Read every line until the demo exits (a closed pipe would break its last words).
    let mut receiver = lines_of(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let connect = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = receiver.recv().await {
            let waiting = line.starts_with("(waiting;");
            lines.push(line);
            if waiting {
                return;
            }
        }
    });
    connect.await.expect("the demo printed its connect link");
    let link = lines
        .iter()
        .find_map(|line| line.trim_start().strip_prefix("open "))
        .expect("a link to open")
        .to_owned();
    let sign_in = lines
        .iter()
        .find_map(|line| line.trim_start().strip_prefix("sign in as "))
        .expect("who signs in");
    let (email, rest) = sign_in.split_once(", choose account ").unwrap();
    let account: i64 = rest
        .split_whitespace()
        .next()
        .unwrap()
        .trim_matches(',')
        .parse()
        .unwrap();
    let mut browser = hubspot_gateway::sim::browser::Browser::new();
    let callback = browser
        .authorize(&link, email, Some(account))
        .await
        .unwrap();
    let page = reqwest::get(&callback).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Connected to HubSpot") && html.contains(email),
        "{html}"
    );
    let ready = tokio::time::timeout(Duration::from_secs(240), async {
        while let Some(line) = receiver.recv().await {
            let done = line.starts_with("Press Ctrl-C");
            lines.push(line);
            if done {
                return;
            }
        }
    });
    ready.await.expect("the demo became ready");
    let examples: Vec<&String> = lines
        .iter()
        .filter(|line| line.trim_start().starts_with("curl "))
        .collect();
    assert!(examples.len() >= 5, "{lines:#?}");
    let http = reqwest::Client::new();
    for line in examples {
        // curl -s -H 'Authorization: Bearer T' [-H '...'] 'URL' [-d 'BODY']
        let quoted: Vec<&str> = line.split('\'').skip(1).step_by(2).collect();
        let token = quoted[0].strip_prefix("Authorization: Bearer ").unwrap();
        let url = quoted
            .iter()
            .find(|part| part.starts_with("http://"))
            .unwrap();
        let request = match line.contains(" -d ") {
            true => http
                .post(*url)
                .header("content-type", "application/json")
                .body(quoted.last().unwrap().to_string()),
            false => http.get(*url),
        };
        let response = request.bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), 200, "{line}");
        let body: serde_json::Value = response.json().await.unwrap();
        if url.contains("/lookup") {
            assert_eq!(body["in_crm"], true, "{line}: {body}");
        }
        if url.ends_with("/v1/indicators") {
            assert_eq!(
                (
                    body["companies"][0]["in_crm"].clone(),
                    body["companies"][1]["in_crm"].clone()
                ),
                (true.into(), false.into())
            );
        }
    }
    // The demo's receiver prints the notification of the contact it created, verified.
    let notified = |lines: &[String]| {
        lines.iter().any(|line| {
            line.starts_with("notification received, signature verified")
                && line.contains("record.created")
        })
    };
    if !notified(&lines) {
        let arrived = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = receiver.recv().await {
                lines.push(line);
                if notified(&lines) {
                    return;
                }
            }
        });
        arrived.await.expect("a verified notification was printed");
    }
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("connected to HubSpot account")),
        "{lines:#?}"
    );
    // The console: its URL, and a one-time sign-in link that opens a session once.
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("admin console: http://") && line.contains("/admin")),
        "{lines:#?}"
    );
    let link = lines
        .iter()
        .find_map(|line| {
            line.split_whitespace()
                .find(|word| word.contains("/admin/sign-in/"))
        })
        .expect("a sign-in link");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let opened = browser.get(link).send().await.unwrap();
    assert_eq!(opened.status(), 303);
    let session = opened
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("hg_session="))
        .and_then(|value| value.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let base = link.split("/admin/").next().unwrap();
    let page = browser
        .get(format!("{base}/admin/connection"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<h1>Connection</h1>"));
    assert_eq!(
        browser.get(link).send().await.unwrap().status(),
        400,
        "used once"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
