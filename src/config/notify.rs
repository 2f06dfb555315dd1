//! The `[notify]` section: signed notifications to internal services (`[[notify.targets]]`)
//! and the e-mail digest for people (`[notify.email]`), with their validation.

use serde::{Deserialize, Serialize};

use super::{Problem, SecretRef};

/// Event names a target may subscribe to (the contract's list).
pub const EVENTS: [&str; 6] = [
    "owner.changed",
    "record.created",
    "record.deleted",
    "record.merged",
    "owner.archived",
    "match.first",
];
/// What `types` may name: the record types, and `owners` (for `owner.archived`).
pub const TYPES: [&str; 5] = ["owners", "contacts", "companies", "deals", "tasks"];
/// A target's secret is at least this long (the HMAC key, after `whsec_` base64 decoding).
pub const MIN_SECRET_BYTES: usize = 24;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notify {
    /// Notifications waiting per target at most; past it new ones are dropped (counted, logged).
    pub high_water: u64,
    /// Deliveries in flight per target.
    pub max_in_flight: usize,
    /// A target must answer within this, else the attempt failed.
    pub timeout_secs: u64,
    /// The pause after a first failure; it doubles with each failure ...
    pub retry_initial_ms: u64,
    /// ... up to this.
    pub retry_max_ms: u64,
    /// A notification still failing this long after it was queued is dead.
    pub dead_after_secs: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
}

impl Default for Notify {
    fn default() -> Self {
        Notify {
            high_water: 100_000,
            max_in_flight: 16,
            timeout_secs: 10,
            retry_initial_ms: 1_000,
            retry_max_ms: 600_000,
            dead_after_secs: 86_400,
            targets: Vec::new(),
            email: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub name: String,
    pub url: String,
    /// The signing secret: `whsec_` + base64 (Standard Webhooks), or raw bytes.
    pub secret: SecretRef,
    #[serde(default = "all_events")]
    pub events: Vec<String>,
    /// Only these object types (`owners` for `owner.archived`); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
    /// Accept an `http://` URL outside loopback without a warning (a trusted network).
    #[serde(default)]
    pub allow_http: bool,
}

fn all_events() -> Vec<String> {
    EVENTS.iter().map(|name| name.to_string()).collect()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Email {
    /// `smtps://host[:465]` (TLS), `smtp://host[:587]?tls=required` (STARTTLS), or
    /// `smtp://host[:25]` (plain: a local relay). No credentials in it.
    pub smtp_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretRef>,
    pub from: String,
    pub to: Vec<String>,
    /// `weekly fri 09:00` or `daily 08:30` (UTC).
    #[serde(default = "weekly")]
    pub schedule: String,
}

fn weekly() -> String {
    "weekly fri 09:00".into()
}

/// Every problem of the `[notify]` section, with its key path.
pub(super) fn check(notify: &Notify) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |path: String, message: String| problems.push(Problem::new(path, message));
    if notify.high_water == 0 {
        problem("notify.high_water".into(), "must be at least 1".into());
    }
    if !(1..=1024).contains(&notify.max_in_flight) {
        problem(
            "notify.max_in_flight".into(),
            "must be between 1 and 1024".into(),
        );
    }
    if !(1..=300).contains(&notify.timeout_secs) {
        problem(
            "notify.timeout_secs".into(),
            "must be between 1 and 300".into(),
        );
    }
    if notify.retry_initial_ms == 0 || notify.retry_initial_ms > notify.retry_max_ms {
        problem(
            "notify.retry_initial_ms".into(),
            "must be at least 1 and at most notify.retry_max_ms".into(),
        );
    }
    if notify.dead_after_secs == 0 {
        problem("notify.dead_after_secs".into(), "must be at least 1".into());
    }
    let mut names = std::collections::HashSet::new();
    for (index, target) in notify.targets.iter().enumerate() {
        let at = |key: &str| format!("notify.targets[{index}].{key}");
        let name_ok = !target.name.is_empty()
            && target.name.len() <= 64
            && target
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            problem(
                at("name"),
                format!(
                    "{:?} must be 1 to 64 of a-z, 0-9, - and _ (it names the target in the API \
                     and metrics)",
                    target.name
                ),
            );
        } else if !names.insert(&target.name) {
            problem(at("name"), format!("{:?} is used twice", target.name));
        }
        if let Err(message) = target_url(&target.url) {
            problem(at("url"), message);
        }
        if target.events.is_empty() {
            problem(at("events"), "must name at least one event".into());
        }
        for (position, event) in target.events.iter().enumerate() {
            if !EVENTS.contains(&event.as_str()) {
                problem(
                    format!("notify.targets[{index}].events[{position}]"),
                    format!("unknown event {event:?}; expected one of {EVENTS:?}"),
                );
            }
        }
        for (position, kind) in target.types.iter().flatten().enumerate() {
            if !TYPES.contains(&kind.as_str()) {
                problem(
                    format!("notify.targets[{index}].types[{position}]"),
                    format!("unknown type {kind:?}; expected one of {TYPES:?}"),
                );
            }
        }
    }
    if let Some(email) = &notify.email {
        for (key, message) in check_email(email) {
            problem(format!("notify.email.{key}"), message);
        }
    }
    problems
}

/// A target URL: http or https with a host.
fn target_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|error| format!("{text:?} is not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("{text:?} must be an http or https URL"));
    }
    if url.password().is_some() || !url.username().is_empty() {
        return Err("must not carry credentials: the signature authenticates the gateway".into());
    }
    Ok(url)
}

/// Warnings about targets that work but should not: `http://` outside loopback.
pub(super) fn warnings(notify: &Notify) -> Vec<String> {
    let mut warnings = Vec::new();
    for (index, target) in notify.targets.iter().enumerate() {
        let Ok(url) = target_url(&target.url) else {
            continue;
        };
        if url.scheme() == "http" && !target.allow_http && !is_loopback(&url) {
            warnings.push(format!(
                "notify.targets[{index}].url is http:// outside loopback: notifications travel \
                 unencrypted (signed, so not forgeable, but readable). Use https, or set \
                 notify.targets[{index}].allow_http = true on a trusted network"
            ));
        }
    }
    warnings
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    }
}

fn check_email(email: &Email) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    match url::Url::parse(&email.smtp_url) {
        Ok(url) if !matches!(url.scheme(), "smtp" | "smtps") || url.host().is_none() => problems
            .push((
                "smtp_url",
                "must be smtps://HOST[:PORT] or smtp://HOST[:PORT][?tls=required]".into(),
            )),
        Ok(url) if url.password().is_some() || !url.username().is_empty() => problems.push((
            "smtp_url",
            "must not carry credentials: set notify.email.username and password (secret \
             references)"
                .into(),
        )),
        Ok(_) => {}
        // The URL is not echoed: a mistyped one may hold a password.
        Err(error) => problems.push(("smtp_url", format!("is not a URL: {error}"))),
    }
    if email.username.is_some() != email.password.is_some() {
        problems.push((
            "password",
            "username and password must be set together".into(),
        ));
    }
    if email.from.parse::<lettre::message::Mailbox>().is_err() {
        problems.push(("from", format!("{:?} is not an e-mail address", email.from)));
    }
    if email.to.is_empty() {
        problems.push(("to", "must name at least one address".into()));
    }
    for address in &email.to {
        if address.parse::<lettre::message::Mailbox>().is_err() {
            problems.push(("to", format!("{address:?} is not an e-mail address")));
        }
    }
    if crate::time::Recurrence::parse(&email.schedule).is_none() {
        problems.push((
            "schedule",
            format!(
                "{:?} is not \"weekly DAY HH:MM\" (DAY: mon..sun) or \"daily HH:MM\" (UTC)",
                email.schedule
            ),
        ));
    }
    problems
}

/// The HMAC key of a target secret: `whsec_` + base64 is decoded (Standard Webhooks
/// libraries expect that form), anything else is used as its bytes. At least
/// [`MIN_SECRET_BYTES`].
pub fn signing_key(secret: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let key = match secret.strip_prefix("whsec_") {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| "starts with whsec_ but the rest is not base64".to_string())?,
        None => secret.as_bytes().to_vec(),
    };
    if key.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "must be at least {MIN_SECRET_BYTES} bytes, found {}; make one with \
             `echo whsec_$(openssl rand -base64 32)`",
            key.len()
        ));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_keys_decode_whsec_and_need_24_bytes() {
        assert_eq!(
            signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .unwrap()
                .len(),
            24
        );
        assert_eq!(signing_key(&"k".repeat(24)).unwrap(), vec![b'k'; 24]);
        assert!(signing_key(&"k".repeat(23))
            .unwrap_err()
            .contains("found 23"));
        assert!(signing_key("whsec_c2hvcnQ=")
            .unwrap_err()
            .contains("found 5"));
        assert!(signing_key("whsec_???").is_err());
    }

    #[test]
    fn loopback_hosts() {
        for (url, loopback) in [
            ("http://127.0.0.1:9/x", true),
            ("http://localhost/x", true),
            ("http://[::1]:80/", true),
            ("http://10.0.0.1/", false),
            ("http://search.internal/", false),
        ] {
            assert_eq!(
                is_loopback(&url::Url::parse(url).unwrap()),
                loopback,
                "{url}"
            );
        }
    }
}
