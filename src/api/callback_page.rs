//! The page the browser lands on after HubSpot's consent (the `/oauth/callback` answer, also
//! served by `hubspot-gateway connect`): what was connected, or what was refused and what to
//! do. Self-contained: its one style block is allowed by its hash, nothing else loads.

use std::sync::LazyLock;

use base64::Engine as _;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::Full;
use sha2::{Digest as _, Sha256};

use super::connection::status_and_code;
use super::error::Response;
use crate::connection::{Connected, Refusal, Who, CONSOLE};

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;color:#1f2933;background:#f3f5f8;margin:0}\
main{max-width:40rem;margin:3rem auto;padding:1.5rem 2rem;background:#fff;border:1px solid #d9e2ec;border-radius:10px}\
h1{font-size:1.5rem;margin:0 0 1rem}a{color:#1a56a8;font-weight:600}";

/// The page's policy: no script, nothing loaded, only its own style block.
static POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    format!("default-src 'none'; style-src 'sha256-{hash}'")
});

/// The page the browser lands on after HubSpot's consent: what was connected, or what was
/// refused and what to do. Also served by `hubspot-gateway connect` without a daemon.
pub fn callback_page(outcome: &Result<Connected, Refusal>) -> Response {
    let (status, title, lines) = match outcome {
        Ok(connected) => (
            StatusCode::OK,
            connected_title(connected),
            connected_lines(connected),
        ),
        Err(refusal) => {
            let (status, _) = status_and_code(refusal);
            let next = match refusal {
                Refusal::HubSpot(_) | Refusal::Store(_) => "Nothing changed. Try again shortly.",
                _ => "Nothing changed.",
            };
            (
                status,
                "Not connected".to_owned(),
                vec![refusal.to_string(), next.to_owned()],
            )
        }
    };
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{0}</title>\
         <style>{STYLE}</style></head><body><main><h1>{0}</h1>",
        escape(&title)
    );
    for line in lines {
        html.push_str(&format!("<p>{}</p>", escape(&line)));
    }
    if let Ok(connected) = outcome {
        if connected.started_by == CONSOLE {
            let (page, name) = match connected.who {
                Who::Service => ("/admin/connection", "Connection"),
                Who::User(_) => ("/admin/users", "User mapping"),
            };
            html.push_str(&format!(
                "<p><a href=\"{page}\">Back to the console's {name} page</a></p>"
            ));
        }
    }
    html.push_str("</main></body></html>\n");
    // Invariant: static header names and ASCII values.
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(http::header::CACHE_CONTROL, "no-store")
        .header("referrer-policy", "no-referrer")
        .header("content-security-policy", POLICY.as_str())
        .header("x-content-type-options", "nosniff")
        .body(Full::new(Bytes::from(html)))
        .expect("static response parts are valid")
}

fn connected_title(connected: &Connected) -> String {
    match &connected.who {
        Who::Service => "Connected to HubSpot".to_owned(),
        Who::User(email) => format!("{email} is connected to HubSpot"),
    }
}

fn connected_lines(connected: &Connected) -> Vec<String> {
    let account = match &connected.hub_domain {
        Some(domain) => format!("HubSpot account {} ({domain})", connected.portal_id),
        None => format!("HubSpot account {}", connected.portal_id),
    };
    let user = connected.user.email.as_deref().unwrap_or("an unknown user");
    // From the console, the page links back to it instead.
    let close = if connected.started_by == CONSOLE {
        ""
    } else {
        " You can close this page."
    };
    let mut lines = match &connected.who {
        Who::Service => vec![
            format!(
                "hubspot-gateway is connected to {account} as {user}, the primary connected admin."
            ),
            format!("Sync starts now.{close}"),
        ],
        Who::User(email) => vec![format!(
            "Records {email} exports are now created as {user} in {account}.{close}"
        )],
    };
    if let Some(replaced) = &connected.replaced {
        lines.insert(1, format!("This replaces the connection of {replaced}."));
    }
    if !connected.missing_optional.is_empty() {
        lines.push(format!(
            "Not granted (optional; exports need them): {}.",
            connected.missing_optional.join(", ")
        ));
    }
    lines
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
