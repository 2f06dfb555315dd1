//! The daemon's TOML configuration: types with their defaults, loading, and validation.
//!
//! Loading is two steps: [`load`] parses the file and resolves secret references (IO);
//! [`validate`] is pure and reports every problem with its key path.

mod load;
mod notify;
mod secret_ref;
mod validate;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use load::{load, load_str, Loaded, Problem, Secrets};
pub use notify::{signing_key, Email, Notify, Target as NotifyTarget, EVENTS as NOTIFY_EVENTS};
pub use secret_ref::SecretRef;
pub use validate::validate;

/// Where the config comes from when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/hubspot-gateway/config.toml";
pub const PATH_ENV: &str = "HUBSPOT_GATEWAY_CONFIG";

/// The object types the mirror knows, in backfill order.
pub const OBJECT_TYPES: [&str; 5] = ["owners", "contacts", "companies", "deals", "tasks"];

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: Server,
    pub hubspot: HubSpot,
    pub store: Store,
    pub sync: Sync,
    pub ownership: Ownership,
    pub export: Export,
    pub api: Api,
    pub notify: Notify,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: String,
    /// Optional second listener for the query API and `/metrics`; webhooks stay on `listen`.
    pub internal_listen: Option<String>,
    /// The base URL HubSpot posts to; v2/v3 signatures are computed over it.
    pub public_url: String,
    /// API request bodies.
    pub max_body_bytes: usize,
    /// Webhook request bodies (HubSpot sends at most 100 events per request).
    pub webhook_max_body_bytes: usize,
    /// A request body must arrive within this, else 408 and the connection closes.
    pub body_timeout_secs: u64,
    /// Request bodies held in memory at once, all connections together; past it 503.
    pub max_body_memory_bytes: usize,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Requests being handled at once; beyond it webhooks get 503 and API calls wait.
    pub max_in_flight: usize,
    pub max_connections: usize,
    /// Open connections per client address (an IPv6 client: per /64), on each listener.
    pub max_connections_per_ip: usize,
    /// How long shutdown waits for in-flight requests before closing them.
    pub shutdown_grace_secs: u64,
    /// Log filter (`info`, `hubspot_gateway=debug,warn`, ...); wins over `RUST_LOG`.
    pub log_level: Option<String>,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: "127.0.0.1:8080".into(),
            internal_listen: None,
            public_url: "https://hooks.example.com".into(),
            max_body_bytes: 1 << 20,
            webhook_max_body_bytes: 2 << 20,
            body_timeout_secs: 10,
            max_body_memory_bytes: 64 << 20,
            tls_cert: None,
            tls_key: None,
            max_in_flight: 512,
            max_connections: 4096,
            max_connections_per_ip: 256,
            shutdown_grace_secs: 10,
            log_level: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubSpot {
    pub api_base: String,
    /// Where HubSpot's authorize page lives (`/oauth/authorize`): the Connect flow's start.
    pub app_base: String,
    pub client_secret: Option<SecretRef>,
    pub access_token: Option<SecretRef>,
    pub client_id: Option<String>,
    pub refresh_token: Option<SecretRef>,
    pub signature_max_age_secs: u64,
    /// Accept v1/v2 signatures on requests that carry no v3 signature (no timestamp: their
    /// events must be younger than `store.inbox_retention_hours`, see `webhook::handler`).
    pub accept_legacy_signatures: bool,
    /// Total time one API call may spend on retries before its error is reported.
    pub max_retry_secs: u64,
    /// API requests in flight at once (the rate limit decides the pace).
    pub max_concurrency: usize,
    /// One HTTP request to HubSpot, answer included; a create that times out has an unknown
    /// outcome and is reconciled before it is sent again.
    pub request_timeout_secs: u64,
    /// A Connect of another portal's token adds that portal to the deployment (each with its
    /// own connection, sync and mirror) instead of being refused.
    pub multiple_portals: bool,
    /// `[hubspot.journal]`: pull events from HubSpot's Webhooks Journal.
    pub journal: Journal,
}

/// `[hubspot.journal]`: HubSpot's Webhooks Journal as an event source beside (or instead of)
/// webhooks, with the app's client credentials (`client_id` + `client_secret`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Journal {
    pub enabled: bool,
    /// How often to look for new entries while caught up (behind, it reads back to back).
    pub poll_interval_ms: u64,
}

impl Default for Journal {
    fn default() -> Self {
        Journal {
            enabled: false,
            poll_interval_ms: 1_000,
        }
    }
}

impl Default for HubSpot {
    fn default() -> Self {
        HubSpot {
            api_base: "https://api.hubapi.com".into(),
            app_base: "https://app.hubspot.com".into(),
            client_secret: None,
            access_token: None,
            client_id: None,
            refresh_token: None,
            signature_max_age_secs: 300,
            accept_legacy_signatures: false,
            max_retry_secs: 120,
            max_concurrency: 8,
            request_timeout_secs: 60,
            multiple_portals: false,
            journal: Journal::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    /// Where the gateway keeps its state: the embedded sled store in `path`, or a PostgreSQL
    /// database at `url` that several gateways share.
    pub backend: Backend,
    pub path: PathBuf,
    /// `backend = "postgres"`: the database's URL (`postgresql://user:password@host/db`),
    /// a secret reference as it may carry a password.
    pub url: Option<SecretRef>,
    /// Webhook events stored but not yet applied; past it webhooks get 503 `overloaded`.
    pub inbox_high_water: u64,
    /// Applied events are kept this long (for redelivery detection and inspection).
    pub inbox_retention_hours: u64,
    /// sled's page cache in MiB (sled's own default, 1 GiB, is most of the daemon's RSS).
    pub cache_mb: u64,
    /// 32 bytes (base64) that seal the HubSpot tokens a Connect stores; without it, no Connect.
    pub secrets_key: Option<SecretRef>,
    /// `backend = "postgres"` with `sslmode=require` in `url`: the certificates (PEM) the
    /// server's certificate must chain to; without it, Mozilla's roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            backend: Backend::Sled,
            path: "/var/lib/hubspot-gateway".into(),
            url: None,
            inbox_high_water: 1_000_000,
            inbox_retention_hours: 7 * 24,
            cache_mb: crate::store::DEFAULT_CACHE_MB,
            secrets_key: None,
            ca_file: None,
        }
    }
}

/// `store.backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sled,
    Postgres,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sync {
    pub enabled: bool,
    pub objects: Vec<String>,
    pub poll_interval_secs: u64,
    /// Each poll re-reads this window before its cursor (search indexes changes late).
    pub lookback_secs: u64,
    /// Owners, pipelines and property definitions (no webhooks) are re-read this often.
    pub reference_interval_secs: u64,
    /// Full reconciliation runs at most this often ...
    pub reconcile_interval_hours: u64,
    /// ... and only inside this daily UTC window, "HH:MM-HH:MM" (may wrap midnight).
    pub reconcile_window_utc: String,
}

impl Default for Sync {
    fn default() -> Self {
        Sync {
            enabled: true,
            objects: OBJECT_TYPES.iter().map(|name| name.to_string()).collect(),
            poll_interval_secs: 300,
            lookback_secs: 300,
            reference_interval_secs: 600,
            reconcile_interval_hours: 24,
            reconcile_window_utc: "02:00-05:00".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ownership {
    pub fallback_owner_id: Option<String>,
}

impl Ownership {
    /// `fallback_owner_id` as an owner id (validation refuses anything else).
    pub fn fallback_owner(&self) -> Option<i64> {
        self.fallback_owner_id.as_deref()?.parse().ok()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Export {
    pub enabled: bool,
    /// Finished jobs (whose rows name people) are pruned this many days after they end.
    pub retention_days: u32,
    pub companies: ExportType,
    pub contacts: ExportType,
}

impl Default for Export {
    fn default() -> Self {
        Export {
            enabled: true,
            retention_days: 30,
            companies: ExportType::default(),
            contacts: ExportType {
                associate_company: Some(true),
                ..ExportType::default()
            },
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportType {
    pub max_records: u64,
    pub create_new: bool,
    pub update_existing: bool,
    pub allow_duplicates: bool,
    pub on_duplicate: String,
    /// Contacts only: associate a created contact with the company of its email domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub associate_company: Option<bool>,
}

impl Default for ExportType {
    fn default() -> Self {
        ExportType {
            max_records: 100_000,
            create_new: true,
            update_existing: true,
            allow_duplicates: false,
            on_duplicate: "update".into(),
            associate_company: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Api {
    pub tokens: Vec<ApiToken>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    pub name: String,
    pub token: SecretRef,
    pub scope: Scope,
}

/// What an API token may do; each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Export,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Export => "export",
            Scope::Admin => "admin",
        }
    }
}
