//! Pure validation of a parsed config: every problem, each with its key path.

use std::collections::HashSet;
use std::net::SocketAddr;

use super::{Backend, Config, ExportType, Problem, Server, OBJECT_TYPES};

/// `store.cache_mb` bounds: below 16 MiB sled's cache thrashes; above 1 TiB is a typo.
const MIN_CACHE_MB: u64 = 16;
const MAX_CACHE_MB: u64 = 1 << 20;

/// HubSpot retries a delivery for 24 h; a legacy-signed retry must still be accepted.
const LEGACY_MIN_RETENTION_HOURS: u64 = 25;
/// Body limits: at least 1 KiB, at most 64 MiB.
const BODY_BYTES: std::ops::RangeInclusive<usize> = 1024..=64 << 20;

/// `[hubspot.journal]`: its bounds, and what reading the journal needs.
fn check_journal(config: &Config) -> Vec<(&'static str, String)> {
    let journal = &config.hubspot.journal;
    let mut problems = Vec::new();
    if !(100..=3_600_000).contains(&journal.poll_interval_ms) {
        problems.push((
            "poll_interval_ms",
            "must be between 100 and 3600000".to_owned(),
        ));
    }
    if journal.enabled && config.hubspot.client_id.is_none() {
        problems.push((
            "enabled",
            "the journal is read with the app's client credentials: set hubspot.client_id \
             (and hubspot.client_secret)"
                .to_owned(),
        ));
    }
    if journal.enabled && !config.sync.enabled {
        problems.push((
            "enabled",
            "the journal feeds the mirror: it needs sync.enabled = true".to_owned(),
        ));
    }
    problems
}

/// Checks everything that parsing cannot; returns every problem found (empty when valid).
pub fn validate(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |path: &str, message: String| problems.push(Problem::new(path, message));

    let server = &config.server;
    if server.listen.parse::<SocketAddr>().is_err() {
        problem(
            "server.listen",
            format!("{:?} is not an IP:port address", server.listen),
        );
    }
    if let Err(message) = check_public_url(&server.public_url) {
        problem("server.public_url", message);
    }
    if server.tls_cert.is_some() != server.tls_key.is_some() {
        problem(
            "server.tls_cert",
            "tls_cert and tls_key must be set together".into(),
        );
    }
    if server.max_in_flight == 0 {
        problem("server.max_in_flight", "must be at least 1".into());
    }
    if server.max_connections == 0 {
        problem("server.max_connections", "must be at least 1".into());
    }
    for (key, message) in check_admission(server) {
        problem(&format!("server.{key}"), message);
    }
    if let Some(level) = &server.log_level {
        if let Err(message) = check_log_level(level) {
            problem("server.log_level", message);
        }
    }

    let hubspot = &config.hubspot;
    if url::Url::parse(&hubspot.api_base).map(|u| u.scheme().starts_with("http")) != Ok(true) {
        problem(
            "hubspot.api_base",
            format!("{:?} is not an http(s) URL", hubspot.api_base),
        );
    }
    if hubspot.client_secret.is_none() {
        problem(
            "hubspot.client_secret",
            "required: webhook signatures are checked with the app's client secret".into(),
        );
    }
    if !(1..=86_400).contains(&hubspot.signature_max_age_secs) {
        problem(
            "hubspot.signature_max_age_secs",
            "must be between 1 and 86400".into(),
        );
    }
    if hubspot.accept_legacy_signatures
        && config.store.inbox_retention_hours < LEGACY_MIN_RETENTION_HOURS
    {
        problem(
            "store.inbox_retention_hours",
            format!(
                "must be at least {LEGACY_MIN_RETENTION_HOURS} with hubspot.accept_legacy_signatures: \
                 v1/v2 requests are refused once their events are older than this, and HubSpot \
                 retries for 24 h"
            ),
        );
    }
    if hubspot.refresh_token.is_some() && hubspot.client_id.is_none() {
        problem(
            "hubspot.refresh_token",
            "OAuth needs client_id, refresh_token and client_secret together".into(),
        );
    }
    if hubspot.refresh_token.is_some() && hubspot.access_token.is_some() {
        problem(
            "hubspot.access_token",
            "set either access_token (private app) or client_id + refresh_token (OAuth), not both"
                .into(),
        );
    }
    if hubspot.multiple_portals && (hubspot.client_id.is_none() || hubspot.access_token.is_some()) {
        problem(
            "hubspot.multiple_portals",
            "several portals connect as an OAuth app, one Connect each: set client_id and \
             client_secret, and no access_token"
                .into(),
        );
    }
    if config.sync.enabled && hubspot.client_id.is_none() && hubspot.access_token.is_none() {
        problem(
            "hubspot.access_token",
            "sync is enabled: set access_token (private app), or client_id to connect as an \
             OAuth app (`hubspot-gateway connect`)"
                .into(),
        );
    }
    for (key, message) in check_journal(config) {
        problem(&format!("hubspot.journal.{key}"), message);
    }
    if url::Url::parse(&hubspot.app_base).map(|u| u.scheme().starts_with("http")) != Ok(true) {
        problem(
            "hubspot.app_base",
            format!("{:?} is not an http(s) URL", hubspot.app_base),
        );
    }

    if config.store.path.as_os_str().is_empty() {
        problem("store.path", "must not be empty".into());
    }
    match (config.store.backend, &config.store.url) {
        (Backend::Postgres, None) => problem(
            "store.url",
            "backend = \"postgres\" needs the database's URL (e.g. \"env:DATABASE_URL\")".into(),
        ),
        (Backend::Sled, Some(_)) => problem(
            "store.url",
            "is for backend = \"postgres\"; the sled store lives in store.path".into(),
        ),
        _ => {}
    }
    if config.store.inbox_high_water == 0 {
        problem("store.inbox_high_water", "must be at least 1".into());
    }
    if !(MIN_CACHE_MB..=MAX_CACHE_MB).contains(&config.store.cache_mb) {
        problem(
            "store.cache_mb",
            format!("must be between {MIN_CACHE_MB} and {MAX_CACHE_MB} (MiB)"),
        );
    }

    let mut seen = HashSet::new();
    for (index, object) in config.sync.objects.iter().enumerate() {
        if !OBJECT_TYPES.contains(&object.as_str()) {
            problem(
                &format!("sync.objects[{index}]"),
                format!("unknown object type {object:?}; expected one of {OBJECT_TYPES:?}"),
            );
        } else if !seen.insert(object) {
            problem(
                &format!("sync.objects[{index}]"),
                format!("{object:?} is listed twice"),
            );
        }
    }
    if config.sync.poll_interval_secs < 1 {
        problem("sync.poll_interval_secs", "must be at least 1".into());
    }
    if config.sync.reference_interval_secs < 1 {
        problem("sync.reference_interval_secs", "must be at least 1".into());
    }
    if config.sync.reconcile_interval_hours < 1 {
        problem("sync.reconcile_interval_hours", "must be at least 1".into());
    }
    if crate::time::Window::parse(&config.sync.reconcile_window_utc).is_none() {
        problem(
            "sync.reconcile_window_utc",
            format!(
                "{:?} is not \"HH:MM-HH:MM\"",
                config.sync.reconcile_window_utc
            ),
        );
    }
    if !(1..=64).contains(&config.hubspot.max_concurrency) {
        problem("hubspot.max_concurrency", "must be between 1 and 64".into());
    }
    if !(1..=600).contains(&config.hubspot.request_timeout_secs) {
        problem(
            "hubspot.request_timeout_secs",
            "must be between 1 and 600".into(),
        );
    }

    if let Some(owner) = &config.ownership.fallback_owner_id {
        if owner.is_empty() || !owner.bytes().all(|b| b.is_ascii_digit()) {
            problem(
                "ownership.fallback_owner_id",
                format!("{owner:?} is not a HubSpot owner id"),
            );
        }
    }

    for (name, settings) in [
        ("companies", &config.export.companies),
        ("contacts", &config.export.contacts),
    ] {
        for (key, message) in check_export(settings) {
            problem(&format!("export.{name}.{key}"), message);
        }
    }
    if config.export.companies.associate_company.is_some() {
        problem(
            "export.companies.associate_company",
            "applies to contacts only".into(),
        );
    }
    if !(1..=3650).contains(&config.export.retention_days) {
        problem("export.retention_days", "must be between 1 and 3650".into());
    }

    let mut names = HashSet::new();
    for (index, token) in config.api.tokens.iter().enumerate() {
        if token.name.trim().is_empty() {
            problem(
                &format!("api.tokens[{index}].name"),
                "must not be empty".into(),
            );
        } else if !names.insert(&token.name) {
            problem(
                &format!("api.tokens[{index}].name"),
                format!("{:?} is used twice", token.name),
            );
        }
    }
    problems.extend(super::notify::check(&config.notify));
    problems
}

/// A filter such as `info` or `hubspot_gateway=debug,warn`. A bare word must be a level: a
/// typo like `degub` would otherwise parse as a target name and silence every other log.
fn check_log_level(filter: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    for directive in filter.split(',').map(str::trim) {
        let bare = !directive.contains(['=', '[', ':']);
        if bare && !LEVELS.contains(&directive.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "{directive:?} is not a level ({}); use LEVEL or TARGET=LEVEL",
                LEVELS.join(", ")
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|error| format!("{filter:?} is not a log filter: {error}"))
}

fn check_public_url(text: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|error| format!("{text:?} is not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text:?} must be an http or https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must be a base URL without query or fragment".into());
    }
    Ok(())
}

/// The keys that bound what clients may hold: bodies, their memory and time, connections.
fn check_admission(server: &Server) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    for (key, value) in [
        ("max_body_bytes", server.max_body_bytes),
        ("webhook_max_body_bytes", server.webhook_max_body_bytes),
    ] {
        if !BODY_BYTES.contains(&value) {
            let (low, high) = BODY_BYTES.into_inner();
            problems.push((key, format!("must be between {low} and {high}")));
        }
    }
    let largest = server.max_body_bytes.max(server.webhook_max_body_bytes);
    if server.max_body_memory_bytes < largest {
        problems.push((
            "max_body_memory_bytes",
            format!(
                "must hold at least one largest body ({largest} bytes, from max_body_bytes and \
                 webhook_max_body_bytes)"
            ),
        ));
    }
    if !(1..=3600).contains(&server.body_timeout_secs) {
        problems.push(("body_timeout_secs", "must be between 1 and 3600".into()));
    }
    if server.max_connections_per_ip == 0 {
        problems.push(("max_connections_per_ip", "must be at least 1".into()));
    }
    if let Some(internal) = &server.internal_listen {
        match internal.parse::<SocketAddr>() {
            Err(_) => problems.push((
                "internal_listen",
                format!("{internal:?} is not an IP:port address"),
            )),
            // Port 0 takes any free port, so two of them do not collide.
            Ok(address)
                if address.port() != 0 && server.listen.parse::<SocketAddr>() == Ok(address) =>
            {
                problems.push(("internal_listen", "must differ from server.listen".into()))
            }
            Ok(_) => {}
        }
    }
    problems
}

fn check_export(settings: &ExportType) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if !(1..=100_000).contains(&settings.max_records) {
        problems.push(("max_records", "must be between 1 and 100000".to_string()));
    }
    if !matches!(settings.on_duplicate.as_str(), "update" | "create" | "skip") {
        problems.push((
            "on_duplicate",
            format!(
                "{:?} must be one of update, create, skip",
                settings.on_duplicate
            ),
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::check_log_level;

    #[test]
    fn log_levels() {
        for good in [
            "info",
            "DEBUG",
            "hubspot_gateway=debug,info",
            "warn,hyper=off",
        ] {
            assert_eq!(check_log_level(good), Ok(()), "{good}");
        }
        for bad in [
            "degub",
            "info,loud",
            "hubspot_gateway=verbose",
            "warn, hyper=off",
        ] {
            assert!(check_log_level(bad).is_err(), "{bad}");
        }
    }
}
