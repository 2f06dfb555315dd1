//! hubspot-sim as a library: a HubSpot API simulator and signed-webhook load generator.
//!
//! # In-process API (stable: the HubSpot client and the tests are written against it)
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use hubspot_gateway::sim::{self, ObjectType, SimConfig};
//! let config = SimConfig { contacts: 1_000, ..SimConfig::default() };
//! let handle = sim::start(config, "127.0.0.1:0".parse()?).await?;
//! let base = handle.base_url();           // "http://127.0.0.1:PORT": use as the API base URL
//! let token = handle.config().access_token.clone(); // Bearer token of a private app
//! let id = handle.control().create(ObjectType::Contacts, [("email", "a@b.example")])?;
//! handle.control().force_429s(3);         // the next 3 API calls answer 429
//! println!("{:?}", handle.stats().rate_limited);
//! handle.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! - [`SimConfig`] (see its fields): portal size and seed, rate limits, faults, latency, tokens,
//!   scopes, search lag, webhook target. `Default` is a small portal with HubSpot's limits.
//! - [`start`] binds, generates the portal (lazily: start-up is O(owners), not O(records))
//!   and serves until [`SimHandle::shutdown`].
//! - [`Control`] (`handle.control()`) mutates the portal and switches faults at runtime; every
//!   mutation fires the webhooks HubSpot would send to the current target (`config.webhook`, or
//!   [`Control::set_webhook_target`] at runtime). Ids are strings, as in
//!   HubSpot's JSON. [`Control::snapshot`] returns the whole portal (use on small portals).
//! - [`Stats`] (`handle.stats()`): calls per endpoint, status counts, 429s, webhook delivery.
//!
//! # Credentials, accounts and OAuth (details: `http::oauth` and its `authorize` module)
//! - `access_token` is a static private-app token of the simulated portal: never expires,
//!   rate-limit answers carry the daily headers; writes with it record no user.
//! - HubSpot users are the portals' owners (same user id in every account they belong to);
//!   `other_accounts` adds accounts (default: [`OtherAccount::second`], an empty CRM shared with
//!   the first owner, so signing in as them shows the account chooser). [`Control::users`],
//!   [`Control::accounts`], [`Control::add_user`].
//! - The authorize pages ([`SimHandle::authorize_url`]): sign-in (email, cookie), account
//!   chooser, consent with "Connect app" / "Cancel"; [`browser::Browser`] walks them like a
//!   person. Codes live `code_ttl_secs` (default 60: HubSpot documents only a "short window";
//!   any client exchanges within a second, and a strict simulator catches slow ones), work once.
//! - `POST /oauth/v1/token` (and v3): `grant_type=authorization_code` or `refresh_token`;
//!   access tokens live `token_ttl_secs` and are bound to (account, user, scopes): API calls see
//!   only that account's CRM and writes set `hs_created_by_user_id` / `hs_updated_by_user_id`.
//!   The configured `refresh_token` belongs to the first owner and carries `scopes`.
//! - Token info and revocation: `GET /oauth/v1/access-tokens/{token}`,
//!   `GET`/`DELETE /oauth/v1/refresh-tokens/{token}`.
//! - Switches: [`Control::expire_tokens`], [`Control::expire_codes`],
//!   [`Control::set_refresh_rotation`], [`Control::set_token_endpoint_down`],
//!   [`Control::limit_scopes`], [`Control::set_redirect_uris`], [`Control::set_code_ttl`];
//!   [`Control::refresh_tokens`] lists refresh tokens, [`Control::revoke_refresh_token`]
//!   revokes one as an uninstall would.
//! - Client credentials: `POST /oauth/v1/token` (or `/oauth/2026-03/token`) with
//!   `grant_type=client_credentials`, `client_id`, `client_secret`, `scope` (space-separated:
//!   the `developer.webhooks_journal.*` scopes and any of `scopes`) → `{access_token,
//!   expires_in, token_type, token_use: "client_credentials"}`, no refresh token. Only these
//!   app tokens open the journal; they open nothing else.
//!
//! # HubSpot endpoints served
//! Owners, objects (list, get, batch read, search; create, PATCH, DELETE, batch
//! create/update/upsert/archive, contacts `gdpr-delete`) for `contacts`/`0-1`, `companies`/`0-2`,
//! `deals`/`0-3`, `tasks`/`0-27`; deal pipelines; property definitions; associations v4 batch
//! read; OAuth (authorize pages, code and refresh grants, token info, revocation). Shapes and
//! limits follow HubSpot's developer documentation (<https://developers.hubspot.com/docs>);
//! each module cites its pages.
//! Where HubSpot is undocumented the simulator is strict on purpose: `limit` above 100 (50 with
//! `propertiesWithHistory`) is a 400, search filters on unknown properties are a 400, batch
//! results come back in reverse input order, upsert exists only for contacts by email.
//!
//! # Webhooks Journal (details and every assumption in `journal/mod.rs`)
//! - Subscriptions `/webhooks-journal/subscriptions/2026-03`: `POST` create-or-update (OBJECT,
//!   ASSOCIATION, GDPR_PRIVACY_DELETION), `GET` list, `GET`/`DELETE /{id}`,
//!   `DELETE /portals/{portalId}`. Only changes a subscription of the portal wants are written.
//! - Reads on `/webhooks-journal/journal/2026-03` and `/webhooks-journal/journal-local/2026-03`
//!   (`?installPortalId=`): `earliest`, `latest`, `offset/{offset}/next` (204 when nothing is
//!   newer, 404 for an unknown or expired offset), `batch/earliest/{n}`, `batch/latest/{n}`,
//!   `batch/{offset}/next/{n}` (n ≤ 100), `POST batch/read` (207 for unreadable offsets).
//!   Entries `{currentOffset, expiresAt, url}`; the URL, fetched without `Authorization`,
//!   answers the file `{offset, publishedAt, journalEvents}` until `expiresAt`.
//! - A file closes [`JournalConfig::file_interval_ms`] (200 ms) after its first event, or at
//!   10 000 events / 5 MB; files are kept 3 days ([`Control::age_journal`] makes time pass).
//! - Faults: [`Control::journal_force_429s`], [`Control::journal_force_5xx`],
//!   [`Control::set_journal_rate_limit`] (default 100/s), [`Control::set_journal_url_ttl`],
//!   [`Control::corrupt_journal_files`], [`Control::corrupt_journal_entry`],
//!   [`Control::corrupt_journal_downloads`], [`Control::journal_foreign_event`]. Calls are
//!   counted per route in [`Stats::calls`]; downloads as `GET /journal-files/...`.
//!
//! # HTTP control surface (`/_sim/...`, no auth; for other processes: the demo, binary tests)
//! | route | body / answer |
//! | --- | --- |
//! | `GET /_sim/stats` | [`Stats`] as JSON |
//! | `GET /_sim/snapshot` | [`Snapshot`] as JSON |
//! | `GET /_sim/config` | portal id, hub domain, tokens, client id/secret, refresh token, scopes, authorize path, webhook target |
//! | `POST /_sim/objects/{type}` | `{"properties":{..}}` → `{"id"}` (creates, fires webhooks) |
//! | `PATCH /_sim/objects/{type}/{id}` | `{"properties":{..}}` → 204 |
//! | `DELETE /_sim/objects/{type}/{id}` | archive → 204 |
//! | `POST /_sim/objects/{type}/{id}/restore` | → 204 |
//! | `POST /_sim/objects/{type}/merge` | `{"primary","merged"}` → 204 |
//! | `POST /_sim/contacts/{id}/privacy-delete` | → 204 |
//! | `POST /_sim/associations` | `{"from_type","from_id","to_type","to_id","remove":bool}` → 204 |
//! | `POST /_sim/owners` | `{"email","first_name","last_name"}` → `{"id"}`; `DELETE /_sim/owners/{id}` archives |
//! | `POST /_sim/bulk-touch/{type}` | `{"count"}` → `{"modified_ms"}` |
//! | `POST /_sim/faults` | any of `{"fault_rate","latency_ms","force_429":N,"outage_ms":N,"rate_limit":{"max","interval_ms"}\|null,"search_rate_limit":..,"daily_limit":N\|null,"scopes":[..],"search_lag_ms":N,"stall_writes":N,"stall_ms":N}` → 204; `stall_writes`: the next N writes are applied, then answered after `stall_ms` (default 5000) |
//! | `POST /_sim/expire-tokens` | → 204 |
//! | `GET /_sim/accounts` | `{"accounts":[{"portal_id","hub_domain","user_ids"}],"users":[{"user_id","email","portal_ids"}]}` |
//! | `POST /_sim/users` | `{"email","portal_id"?}` → `{"user_id"}` (adds the user to the account; default the simulated portal) |
//! | `POST /_sim/oauth` | any of `{"code_ttl_ms","expire_codes":true,"refresh_rotation_grace_ms":N\|null,"token_endpoint_down":bool,"redirect_uris":[..],"app_scopes":[..]\|null,"portal_scopes":{"ID":[..]\|null},"user_scopes":{"EMAIL":[..]\|null}}` → 204 |
//! | `POST /_sim/webhooks/chaos` | [`WebhookChaos`] → 204 |
//! | `POST /_sim/webhooks/target` | `{"url","client_secret","app_id"?,"retry_base_ms"?}` → 204; `DELETE` stops webhooks |
//! | `POST /_sim/webhooks/flush` | waits (≤ 30 s) until the outbox is empty → `{"pending"}` |
//! | `POST /_sim/journal/subscribe-all` | subscribes the portal to every journaled change → 204 |
//! | `GET /_sim/journal/subscriptions` · `GET /_sim/journal/offsets` | `{"results"}` · `{"offsets"}` (oldest first) |
//! | `POST /_sim/journal/flush` | closes the open buffer into a file now → 204 |
//! | `POST /_sim/journal/age` | `{"ms"}`: the journal's content becomes that much older → 204 |
//! | `POST /_sim/journal/faults` | any of `{"force_429":N,"retry_after_secs":S,"force_5xx":N,"rate_limit":{..}\|null,"url_ttl_ms":N,"corrupt_files":{"count","kind"},"corrupt_downloads":{"count","kind"},"corrupt_entry":{"offset","kind"\|null},"foreign_portal_id":N}` (`kind`: `truncated`\|`not_json`) → 204 |

mod accounts;
mod auth;
pub mod browser;
mod control;
pub mod fire;
mod gen;
mod http;
mod journal;
pub mod kind;
mod limits;
mod portal;
mod schema;
mod stats;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

pub use accounts::{hub_domain, OtherAccount, User};
pub use auth::ScopeLimit;
pub use control::{Account, Control, RefreshToken, Snapshot, SnapshotRecord};
pub use gen::owners::Owner;
pub use journal::{
    Action as JournalAction, FileCorruption, JournalConfig, JournalStats,
    Subscription as JournalSubscription, SubscriptionType as JournalSubscriptionType,
};
pub use kind::ObjectType;
pub use stats::{Stats, WebhookStats};
pub use webhooks::WebhookChaos;

/// A request budget: at most `max` requests in any rolling `interval_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RateLimit {
    pub max: u32,
    pub interval_ms: u64,
}

/// Where webhooks go and how they are signed (v1 and v3 on every request).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    /// The exact URL: the v3 signature is computed over it as written here.
    pub url: String,
    pub client_secret: String,
    pub app_id: i64,
    /// Delay before the first retry; later ones grow ×2 with ±50 % jitter (HubSpot: about a
    /// minute, ten attempts over a day). Tests use a few ms.
    pub retry_base_ms: u64,
    /// A delivery slower than this counts as failed (HubSpot: 5 s).
    pub timeout_ms: u64,
    /// Concurrent deliveries (HubSpot: 10 per account).
    pub max_in_flight: usize,
}

impl WebhookTarget {
    /// The app id webhooks and token introspection report unless told otherwise.
    pub const DEFAULT_APP_ID: i64 = 4_242_424;

    pub fn new(url: impl Into<String>, client_secret: impl Into<String>) -> WebhookTarget {
        WebhookTarget {
            url: url.into(),
            client_secret: client_secret.into(),
            app_id: WebhookTarget::DEFAULT_APP_ID,
            retry_base_ms: 60_000,
            timeout_ms: 5_000,
            max_in_flight: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    pub owners: usize,
    pub contacts: usize,
    pub companies: usize,
    pub deals: usize,
    pub tasks: usize,
    /// The hub id: `portalId` in webhooks, `hub_id` in token introspection.
    pub portal_id: i64,
    /// Ten-secondly limit of non-search calls (default 190 per 10 000 ms); `None` = unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Search's own bucket (default 5 per 1000 ms).
    pub search_rate_limit: Option<RateLimit>,
    /// Daily budget (private-app tokens; `None` = no daily limit, the default).
    pub daily_limit: Option<u64>,
    /// Probability that an API call answers a random 502/503/504.
    pub fault_rate: f64,
    /// Added to every API response.
    pub latency_ms: u64,
    /// Lifetime of OAuth access tokens (default 1800).
    pub token_ttl_secs: u64,
    /// Static private-app token.
    pub access_token: String,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    /// Scopes of the private-app token and the configured refresh token (default: every read
    /// and write scope the gateway uses).
    pub scopes: Vec<String>,
    /// Lifetime of authorization codes (default 60; HubSpot documents only "short").
    pub code_ttl_secs: u64,
    /// The app's registered redirect URLs; empty (default): any https URL, or http on a
    /// loopback host, is accepted.
    pub redirect_uris: Vec<String>,
    /// `Some(grace)`: every refresh answers a new refresh token and the old one works `grace`
    /// seconds longer. `None` (default, HubSpot): the refresh token never changes.
    pub refresh_rotation_grace_secs: Option<u64>,
    /// Accounts beside the simulated portal (default: [`OtherAccount::second`]).
    pub other_accounts: Vec<OtherAccount>,
    /// How long a mutation stays invisible to search (HubSpot: a few seconds).
    pub search_lag_ms: u64,
    pub webhook: Option<WebhookTarget>,
    /// The Webhooks Journal's file interval, limits and retention.
    pub journal: JournalConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            owners: 20,
            contacts: 500,
            companies: 200,
            deals: 100,
            tasks: 100,
            portal_id: 62_515_001,
            rate_limit: Some(RateLimit {
                max: 190,
                interval_ms: 10_000,
            }),
            search_rate_limit: Some(RateLimit {
                max: 5,
                interval_ms: 1_000,
            }),
            daily_limit: None,
            fault_rate: 0.0,
            latency_ms: 0,
            token_ttl_secs: 1_800,
            access_token: "pat-na1-sim-0000-0000-0000".to_string(),
            client_id: "sim-client-id".to_string(),
            client_secret: "sim-client-secret".to_string(),
            refresh_token: "na1-sim-refresh-token".to_string(),
            scopes: kind::all_scopes(),
            code_ttl_secs: 60,
            redirect_uris: Vec::new(),
            refresh_rotation_grace_secs: None,
            other_accounts: vec![OtherAccount::second()],
            search_lag_ms: 0,
            webhook: None,
            journal: JournalConfig::default(),
        }
    }
}

/// A running simulator. Dropping it without `shutdown` leaves the server task running.
pub struct SimHandle {
    base_url: String,
    control: Control,
    server: http::Server,
}

/// Generates the portal, binds `listen` and starts serving and delivering webhooks.
pub async fn start(config: SimConfig, listen: SocketAddr) -> anyhow::Result<SimHandle> {
    let shared = Arc::new(control::Shared::new(config));
    let server = http::Server::bind(listen, shared.clone()).await?;
    let base_url = format!("http://{}", server.local_addr());
    webhooks::spawn_sender(shared.clone(), server.shutdown_signal());
    Ok(SimHandle {
        base_url,
        control: Control::new(shared),
        server,
    })
}

impl SimHandle {
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// HubSpot's authorize page here (the gateway's `hubspot.app_base` + `/oauth/authorize`).
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth/authorize", self.base_url)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn control(&self) -> &Control {
        &self.control
    }

    pub fn config(&self) -> &SimConfig {
        self.control.config()
    }

    pub fn stats(&self) -> Stats {
        self.control.stats()
    }

    /// Stops accepting, lets in-flight requests finish (≤ 5 s), stops webhook delivery.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
