//! `hubspot-gateway demo`: the whole product on one machine in one command. It starts an
//! in-process `hubspot-sim` with a seeded portal and a gateway on a temporary store, connects
//! them as a HubSpot app would be connected (the printed link opens the simulator's sign-in
//! and consent pages in a browser; pressing Enter, or running without input, lets the demo
//! walk them itself), shows the backfill, sends a few signed webhooks through real mutations
//! (with `--no-webhooks`, none: the changes arrive through HubSpot's Webhooks Journal),
//! and prints the URLs, tokens and ready-to-paste `curl` lines, the admin console's URL and a
//! one-time sign-in link, then serves until Ctrl-C.

mod connect;
mod receiver;

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use rand::Rng as _;

use crate::config::{self, NotifyTarget, Scope, SecretRef, NOTIFY_EVENTS};
use crate::daemon;
use crate::kit::GatewayConfig;
use crate::object::ObjectType;
use crate::sim::{self, SimConfig, WebhookTarget};

const CLIENT_SECRET: &str = "demo-client-secret";

/// Runs the demo until SIGINT/SIGTERM.
/// `webhooks`: the simulator posts signed webhooks to the gateway; without them the gateway
/// reads the Webhooks Journal (it reads it with them too: both sources, each change once).
pub async fn run(listen: SocketAddr, webhooks: bool) -> anyhow::Result<()> {
    let sim_config = SimConfig {
        contacts: 2_000,
        companies: 600,
        deals: 400,
        tasks: 300,
        rate_limit: Some(sim::RateLimit {
            max: 2_000,
            interval_ms: 10_000,
        }),
        // One app: its secret signs webhooks and authenticates the OAuth calls.
        client_secret: CLIENT_SECRET.into(),
        ..SimConfig::default()
    };
    let simulator = sim::start(sim_config, "127.0.0.1:0".parse()?).await?;
    let dir = tempfile::tempdir()?;
    let read_token = token();
    let admin_token = token();
    // A local service that is told about changes: it prints each verified notification.
    let notify_key: [u8; 32] = rand::thread_rng().gen();
    let receiver = receiver::start(notify_key.to_vec()).await?;
    let text = demo_config(
        listen,
        &simulator.base_url(),
        &simulator.config().client_id,
        &dir.path().join("store"),
        webhooks,
        &receiver,
    );
    let secrets_key = {
        use base64::Engine as _;
        let key: [u8; 32] = rand::thread_rng().gen();
        base64::engine::general_purpose::STANDARD.encode(key)
    };
    let env = |name: &str| match name {
        "DEMO_READ_TOKEN" => Some(read_token.clone()),
        "DEMO_ADMIN_TOKEN" => Some(admin_token.clone()),
        "DEMO_SECRETS_KEY" => Some(secrets_key.clone()),
        "DEMO_NOTIFY_SECRET" => {
            use base64::Engine as _;
            let key = base64::engine::general_purpose::STANDARD.encode(notify_key);
            Some(format!("whsec_{key}"))
        }
        _ => None,
    };
    let loaded = config::load_str(&text, &env)
        .map_err(|problems| anyhow::anyhow!("demo config: {problems:?}"))?;
    let running = daemon::start(&loaded)
        .await
        .context("starting the gateway")?;
    let base = format!("http://{}", running.local_addr);
    if webhooks {
        let mut target = WebhookTarget::new(format!("{base}/webhooks/hubspot"), CLIENT_SECRET);
        target.retry_base_ms = 500;
        simulator.control().set_webhook_target(Some(target));
    }
    let shutdown = running.shutdown_token();
    let console = running.console.clone();
    let gateway = tokio::spawn(running.wait());

    println!(
        "hubspot-sim (a simulated HubSpot portal) at {}",
        simulator.base_url()
    );
    println!(
        "hubspot-gateway at {base}, store in {}\n",
        dir.path().display()
    );
    connect::connect(&simulator, &base, &admin_token).await?;
    show_backfill(&base, &read_token).await?;
    let examples = send_webhooks(&simulator, &base, &read_token, webhooks).await?;
    print_guide(&base, &read_token, &admin_token, &examples);
    println!("\nadmin console: {base}/admin (sign in with the admin token above)");
    println!(
        "one-time sign-in link (works once, for 15 minutes): {}",
        console.sign_in_link(&base)
    );
    println!("\nPress Ctrl-C to stop (the temporary store is deleted).");

    wait_for_signal().await;
    eprintln!("stopping…");
    shutdown.cancel();
    gateway.await??;
    simulator.shutdown().await;
    Ok(())
}

fn token() -> String {
    let bytes: [u8; 16] = rand::thread_rng().gen();
    hex::encode(bytes)
}

/// The demo gateway's config: the simulator as HubSpot, connected as an OAuth app (Connect),
/// the Webhooks Journal read when no webhooks are sent, and the receiver told about every event.
fn demo_config(
    listen: SocketAddr,
    sim_base: &str,
    client_id: &str,
    store: &std::path::Path,
    webhooks: bool,
    receiver: &str,
) -> String {
    let mut gateway = GatewayConfig::new(listen.to_string(), format!("http://{listen}"), store)
        .token("demo-read", "env:DEMO_READ_TOKEN", Scope::Read)
        .token("demo-admin", "env:DEMO_ADMIN_TOKEN", Scope::Admin);
    let config = &mut gateway.config;
    config.server.shutdown_grace_secs = 3;
    config.hubspot.api_base = sim_base.to_owned();
    config.hubspot.app_base = sim_base.to_owned();
    config.hubspot.client_secret = Some(SecretRef::new(CLIENT_SECRET));
    config.hubspot.client_id = Some(client_id.to_owned());
    if !webhooks {
        config.hubspot.journal.enabled = true;
        config.hubspot.journal.poll_interval_ms = 1000;
    }
    config.store.secrets_key = Some(SecretRef::new("env:DEMO_SECRETS_KEY"));
    config.sync.poll_interval_secs = 30;
    config.sync.lookback_secs = 30;
    config.notify.targets.push(NotifyTarget {
        name: "demo-receiver".into(),
        url: receiver.to_owned(),
        secret: SecretRef::new("env:DEMO_NOTIFY_SECRET"),
        events: NOTIFY_EVENTS
            .iter()
            .map(|event| event.to_string())
            .collect(),
        types: None,
        allow_http: false,
    });
    gateway.text()
}

/// Polls `/v1/status` until every type is backfilled, drawing progress on a terminal.
async fn show_backfill(base: &str, token: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let terminal = std::io::stdout().is_terminal();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let status: serde_json::Value = http
            .get(format!("{base}/v1/status"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        let line: Vec<String> = ObjectType::ALL
            .iter()
            .map(|kind| {
                let entry = &status[kind.name()];
                let done = if entry["last_full_sync"].is_null() {
                    ""
                } else {
                    " ✓"
                };
                format!(
                    "{} {}{done}",
                    kind.name(),
                    entry["count"].as_u64().unwrap_or(0)
                )
            })
            .collect();
        let finished = ObjectType::ALL
            .iter()
            .all(|kind| !status[kind.name()]["last_full_sync"].is_null());
        if terminal {
            print!("\rbackfill: {}   ", line.join(" · "));
            std::io::stdout().flush()?;
        }
        if finished {
            println!(
                "{}backfill complete: {}\n",
                if terminal { "\n" } else { "" },
                line.join(", ")
            );
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the backfill did not finish in 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Ids and keys the printed examples use.
struct Examples {
    domain: String,
    email: String,
    company_id: String,
}

/// Mutates the simulated portal; each change reaches the gateway as a signed webhook (or
/// through the journal); waits until the mirror shows the new contact.
async fn send_webhooks(
    simulator: &sim::SimHandle,
    base: &str,
    token: &str,
    webhooks: bool,
) -> anyhow::Result<Examples> {
    let control = simulator.control();
    let company_id = control
        .ids(sim::ObjectType::Companies, "0", 1)
        .pop()
        .context("the portal has companies")?;
    let company = control
        .record(sim::ObjectType::Companies, &company_id)
        .context("company")?;
    let domain = company
        .properties
        .get("domain")
        .cloned()
        .unwrap_or_default();
    control.update(
        sim::ObjectType::Companies,
        &company_id,
        [("city", "Lisbon"), ("phone", "+351 21 000 0000")],
    )?;
    let email = "demo.person@example.org".to_owned();
    let contact = control.create(
        sim::ObjectType::Contacts,
        [
            ("email", email.as_str()),
            ("firstname", "Demo"),
            ("lastname", "Person"),
        ],
    )?;
    control.associate(
        (sim::ObjectType::Contacts, &contact),
        (sim::ObjectType::Companies, &company_id),
        true,
    )?;
    let http = reqwest::Client::new();
    let lookup = format!("{base}/v1/contacts/lookup?email={email}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let answer: serde_json::Value = http
            .get(&lookup)
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        if answer["in_crm"] == true || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let how = match webhooks {
        true => "sent signed webhooks for",
        false => "the Webhooks Journal delivered (no webhooks)",
    };
    println!("{how} 3 changes in HubSpot: company {company_id} updated, contact {contact} created and associated\n");
    Ok(Examples {
        domain,
        email,
        company_id,
    })
}

fn print_guide(base: &str, read: &str, admin: &str, examples: &Examples) {
    let auth = |token: &str| format!("-H 'Authorization: Bearer {token}'");
    println!("tokens: read {read}   admin {admin}");
    println!("try:\n");
    let lines = [
        format!("curl -s {} '{base}/v1/status'", auth(read)),
        format!("curl -s {} '{base}/v1/companies/lookup?domain=https://www.{}/'", auth(read), examples.domain.to_lowercase().trim_start_matches("www.")),
        format!("curl -s {} '{base}/v1/contacts/lookup?email={}'", auth(read), examples.email),
        format!("curl -s {} '{base}/v1/objects/companies/{}'", auth(read), examples.company_id),
        format!(
            "curl -s {} -H 'Content-Type: application/json' '{base}/v1/indicators' -d '{{\"companies\":[{{\"ref\":\"c-1\",\"domain\":\"{}\"}},{{\"ref\":\"c-2\",\"domain\":\"unknown.example\"}}],\"contacts\":[{{\"ref\":\"p-1\",\"email\":\"{}\"}}],\"filter\":{{\"exclude_email_opt_out\":true}}}}'",
            auth(read),
            examples.domain,
            examples.email
        ),
        format!("curl -s {} '{base}/v1/owners'", auth(read)),
        format!("curl -s {} '{base}/v1/webhooks/events?limit=5'", auth(admin)),
        format!("curl -s {} '{base}/v1/connection'", auth(admin)),
    ];
    for line in lines {
        println!("  {line}");
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { terminate.as_mut()?.recv().await }, if terminate.is_some() => {}
    }
}
