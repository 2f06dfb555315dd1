//! `hubspot-gateway connect`: a first connection from a terminal. Prints HubSpot's authorize
//! URL and waits for the callback: through the running daemon's API when one answers,
//! otherwise by serving `/oauth/callback` itself on `server.listen` until the callback came.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::commands::{running_daemon, sites, token_with};
use crate::api::Sites;
use crate::config::{Loaded, Scope};
use crate::connection::{Callback, Connected, Refusal, Who};

/// How long to wait for the callback: as long as the authorize link is valid.
const WAIT: Duration = Duration::from_millis(crate::connection::STATE_TTL_MS as u64);

pub async fn run(loaded: &Loaded) -> anyhow::Result<()> {
    match running_daemon(loaded).await {
        Some((base, http)) => through_daemon(loaded, &base, &http).await,
        None => serving_the_callback(loaded).await,
    }
}

fn announce(url: &str, redirect_uri: &str) {
    println!("Open this link in a browser, sign in to HubSpot, choose the account and connect:\n");
    println!("  {url}\n");
    println!("Waiting for HubSpot to send you back to {redirect_uri} (the link is valid for 10 minutes)…");
}

async fn through_daemon(loaded: &Loaded, base: &str, http: &reqwest::Client) -> anyhow::Result<()> {
    let token = token_with(loaded, Scope::Admin)?;
    let get = |path: String| {
        let request = http.get(format!("{base}{path}")).bearer_auth(&token);
        async move { anyhow::Ok(request.send().await?.json::<Value>().await?) }
    };
    // Every portal's connection (one unnamed while nothing is connected): the flow connected
    // when one of them changes or a portal is added (the account chosen at HubSpot decides).
    let connections = || async {
        let status = get("/v1/status".into()).await?;
        let ids = status["portals"].as_array().cloned().unwrap_or_default();
        let ids: Vec<i64> = ids.iter().filter_map(Value::as_i64).collect();
        let mut each = Vec::new();
        for id in ids.iter().map(Some).chain(ids.is_empty().then_some(None)) {
            let query = id.map_or(String::new(), |id| format!("?portal={id}"));
            each.push(get(format!("/v1/connection{query}")).await?);
        }
        anyhow::Ok(each)
    };
    let before = connections().await?;
    // With several portals a flow starts at one of them (the first).
    let first = before
        .first()
        .and_then(|connection| connection["portal_id"].as_i64());
    let request = http
        .post(format!("{base}/v1/connection/start"))
        .bearer_auth(&token);
    let answer = super::commands::about(request, first).send().await?;
    let status = answer.status();
    let body: Value = answer.json().await?;
    anyhow::ensure!(
        status.is_success(),
        "the daemon refused to start connecting: {}",
        body["error"]["message"].as_str().unwrap_or("?")
    );
    let url = body["authorize_url"].as_str().context("no authorize_url")?;
    announce(url, &redirect_uri(loaded));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = connections().await?;
        let new = now.iter().find(|connection| {
            connection["state"] == "connected"
                && !before.iter().any(|earlier| {
                    earlier["portal_id"] == connection["portal_id"]
                        && earlier["connected_at"] == connection["connected_at"]
                })
        });
        if let Some(connection) = new {
            println!(
                "Connected to HubSpot account {} as {}.",
                connection["portal_id"],
                connection["primary_admin"]["email"].as_str().unwrap_or("?")
            );
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no connection within 10 minutes (GET /v1/connection: {now:?})"
        );
    }
}

fn redirect_uri(loaded: &Loaded) -> String {
    let public_url = loaded.config.server.public_url.trim_end_matches('/');
    format!("{public_url}/oauth/callback")
}

/// No daemon: the store is ours, so this process answers the callback itself.
async fn serving_the_callback(loaded: &Loaded) -> anyhow::Result<()> {
    let config = &loaded.config;
    let opened = super::open_for_command(loaded, false).await?;
    let store = &opened.store;
    let sites = sites(loaded, store)?;
    let url = sites
        .first()
        .connections
        .start(&Who::Service, "cli")
        .map_err(|refusal| anyhow::anyhow!("{refusal}"))?;
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("binding server.listen {}", config.server.listen))?;
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => Some(super::tls::Tls::load(cert, key)?),
        _ => None,
    };
    announce(&url, &redirect_uri(loaded));
    let (done, mut outcome) = tokio::sync::mpsc::channel(1);
    let server = tokio::spawn(serve(listener, tls, sites, done));
    let result = tokio::time::timeout(WAIT, outcome.recv()).await;
    server.abort();
    match result {
        Ok(Some(connected)) => {
            println!(
                "Connected to HubSpot account {} as {}.",
                connected.portal_id,
                connected.user.email.as_deref().unwrap_or("?")
            );
            store.commit()?;
            Ok(())
        }
        Ok(None) => anyhow::bail!("the callback server stopped"),
        Err(_) => {
            anyhow::bail!("no callback within 10 minutes; run `hubspot-gateway connect` again")
        }
    }
}

/// Answers callbacks until one connects; refusals are shown on the page and printed. The
/// connection is reported only once its page has been written and the connection closed:
/// the command exits right after, which would otherwise cut the browser's answer short.
async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<super::tls::Tls>,
    sites: Sites,
    done: tokio::sync::mpsc::Sender<Connected>,
) {
    let sites = Arc::new(sites);
    while let Ok((stream, _)) = listener.accept().await {
        let (sites, done) = (sites.clone(), done.clone());
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        tokio::spawn(async move {
            let connected = Arc::new(parking_lot::Mutex::new(None));
            let slot = connected.clone();
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let (sites, slot) = (sites.clone(), slot.clone());
                async move {
                    let (response, outcome) = answer(&sites, request).await;
                    if outcome.is_some() {
                        *slot.lock() = outcome;
                    }
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            let builder = http1::Builder::new();
            let _ = match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => {
                        builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                    }
                    Err(_) => return,
                },
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
            };
            let connected = connected.lock().take();
            if let Some(connected) = connected {
                let _ = done.try_send(connected);
            }
        });
    }
}

/// The callback's page, and what it connected. The page of a connection closes its HTTP
/// connection (`Connection: close`), so the server knows when the browser has it.
async fn answer(
    sites: &Sites,
    request: http::Request<hyper::body::Incoming>,
) -> (crate::api::Response, Option<Connected>) {
    if request.uri().path() != "/oauth/callback" {
        let refusal = Refusal::MissingState;
        return (crate::api::callback_page(&Err(refusal)), None);
    }
    let callback = Callback::from_query(request.uri().query());
    // The daemon's rule: a token is stored for its portal (a new one with several portals).
    let outcome = sites.complete(callback).await;
    let mut page = crate::api::callback_page(&outcome);
    match outcome {
        Ok(connected) => {
            page.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
            (page, Some(connected))
        }
        Err(refusal) => {
            eprintln!("callback refused: {refusal}");
            (page, None)
        }
    }
}
