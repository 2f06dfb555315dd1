//! Connections to HubSpot as an app: the install flow (Connect), the primary connected admin,
//! Change user, Disconnect, preferences, and each user's own connection for exports.
//!
//! One rule, several faces: the JSON API, the CLI and the admin console call
//! [`Connections`]; none of them decides anything itself. The service connection is one of:
//! a private-app `access_token` in the config; a connection a Connect stored (its refresh
//! token sealed under `store.secrets_key`, see [`seal`]); or a `refresh_token` in the config.
//! The sync supervisor takes its client from [`Connections::service_client`] and restarts
//! whenever [`Connections::subscribe`] says the service connection changed.

mod events;
mod flow;
mod forget;
mod pending;
pub mod portal;
mod record;
pub mod seal;
mod service;
mod settings;
mod users;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use flow::{Callback, Connected, Granted, Who};
pub use pending::STATE_TTL_MS;
pub use portal::Portal;
pub use service::{ServiceClient, Unavailable};
pub use settings::{service_scopes, Scopes, Settings};
pub use users::{UserProblem, UserStatus};

use crate::hubspot::{self, TokenInfo};
use crate::store::{self, Store};

/// `started_by` of the flows the admin console starts: their callback page links back to it.
pub const CONSOLE: &str = "admin console";

/// Whether the gateway can act in HubSpot with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Connected,
    NotConnected,
    /// HubSpot refused the connection's refresh token (or it cannot be read): connect again.
    NeedsReconnect,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Connected => "connected",
            State::NotConnected => "not_connected",
            State::NeedsReconnect => "needs_reconnect",
        }
    }
}

/// How the service connection authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    OAuth,
    PrivateApp,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::OAuth => "oauth",
            Method::PrivateApp => "private_app",
        }
    }
}

/// Whose connection writes an export: the primary admin's (service) or the exporting user's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportConnection {
    #[default]
    Service,
    User,
}

impl ExportConnection {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportConnection::Service => "service",
            ExportConnection::User => "user",
        }
    }
}

/// The admin's choices (`PUT /v1/connection/preferences`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    pub export_connection: ExportConnection,
    /// `false` turns exports off for every user (403 `export_disabled`).
    pub exports_enabled: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            export_connection: ExportConnection::Service,
            exports_enabled: true,
        }
    }
}

/// A HubSpot user: the primary admin, or whoever consented to a user's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSpotUser {
    pub email: Option<String>,
    pub user_id: Option<i64>,
}

/// The service connection as `GET /v1/connection` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: State,
    pub method: Method,
    pub portal_id: Option<i64>,
    pub hub_domain: Option<String>,
    pub primary_admin: Option<HubSpotUser>,
    pub scopes: Vec<String>,
    /// Scopes the gateway asks for (required or optional) that the connection lacks.
    pub missing_scopes: Vec<String>,
    pub connected_at_ms: Option<i64>,
    pub preferences: Preferences,
    /// Why it is not connected, and what to do.
    pub reason: Option<String>,
}

/// Why a connection request was refused. Each has one HTTP status (in `api`) and a
/// sentence saying what to do.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the gateway is not set up as an OAuth app: set hubspot.client_id and hubspot.client_secret")]
    NoApp,
    #[error("Connect stores HubSpot's tokens encrypted and store.secrets_key is not set: set it to \
             \"credential:NAME\" naming 32 random bytes in base64 (`openssl rand -base64 32`) and restart")]
    NoSecretsKey,
    #[error("the config connects with a private-app token (hubspot.access_token); remove it to connect as an OAuth app")]
    PrivateApp,
    #[error("too many Connect flows are waiting for their callback; finish or let them expire (10 minutes)")]
    TooManyFlows,
    #[error("the callback carries no state: open the authorize link the gateway gave you")]
    MissingState,
    #[error(
        "this link was already used or was not issued by this gateway: start connecting again"
    )]
    UnknownState,
    #[error("this link expired (it is valid for 10 minutes): start connecting again")]
    ExpiredState,
    #[error("the connection was declined in HubSpot ({0})")]
    Denied(String),
    #[error("the callback carries no authorization code: start connecting again")]
    MissingCode,
    #[error("HubSpot refused the authorization code ({0}): start connecting again")]
    CodeRefused(String),
    #[error("the connection lacks required scopes: {}; connect again and grant them", .0.join(", "))]
    MissingScopes(Vec<String>),
    #[error(
        "this token belongs to HubSpot account {got}, but the gateway mirrors account {mirrored}; \
             to switch accounts, disconnect first (DELETE /v1/connection)"
    )]
    OtherPortal { mirrored: i64, got: i64 },
    #[error("the HubSpot user who consented is {got}, not {expected}: {expected} must sign in to HubSpot themselves")]
    OtherUser { expected: String, got: String },
    #[error("the HubSpot account connected here is being removed from this gateway; connect again in a few seconds")]
    Removing,
    #[error("connect the gateway itself first (POST /v1/connection/start): a user's connection must be for its HubSpot account")]
    NoService,
    #[error("{0:?} is not an email address")]
    BadEmail(String),
    #[error("{0} has no HubSpot connection")]
    NoUserConnection(String),
    #[error("HubSpot could not be reached or failed ({0}); try again")]
    HubSpot(hubspot::Error),
    #[error("the store is unavailable ({0}); try again")]
    Store(#[from] store::Error),
}

/// The gateway's connections; cheap to clone.
#[derive(Clone)]
pub struct Connections {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// Where this site's connections are stored.
    names: record::Names,
    settings: Settings,
    key: Option<seal::Key>,
    app: Option<hubspot::App>,
    /// Bumped when the service connection changes; the sync supervisor restarts on it.
    changes: watch::Sender<u64>,
    /// What the supervisor saw of the service connection (config credentials have no record).
    observed: RwLock<Observed>,
    /// Stored records are read, changed and written one at a time.
    write: Mutex<()>,
    /// Users' clients for exports, by email, with the id of the connection each was built from.
    users: Mutex<HashMap<String, (String, hubspot::Client)>>,
    /// Refresh tokens HubSpot refused, since start (a metric).
    refusals: AtomicU64,
    /// Set while the site's portal is being removed: the service connection is not used,
    /// though its record stays until the removal revokes its token.
    held: AtomicBool,
    /// Told when this process saves the preferences.
    preferences_saved: tokio::sync::Notify,
}

#[derive(Debug, Clone, Default)]
struct Observed {
    info: Option<TokenInfo>,
    /// Why the service connection cannot be used although its credentials exist.
    refused: Option<String>,
}

impl Connections {
    /// The connections of the first site: a gateway of one portal has only these; they alone
    /// may use credentials from the config (`hubspot.access_token`, `refresh_token`).
    pub fn new(store: Store, settings: Settings) -> Connections {
        let connections = Connections::with_names(store, settings, record::Names::first());
        if let Some(portal) = connections.portal() {
            // User mappings from before they carried a portal are the first portal's.
            let moved = connections
                .inner
                .store
                .ownership()
                .move_mappings(None, portal.hub_id);
            if let Err(error) = moved {
                tracing::warn!(%error, "cannot file the user mappings under their portal");
            }
        }
        connections
    }

    /// The connections of the site of `hub_id`, a portal added by a Connect.
    pub fn for_portal(&self, hub_id: i64) -> Connections {
        let settings = Settings {
            access_token: None,
            refresh_token: None,
            ..self.inner.settings.clone()
        };
        let names = record::Names::of_portal(hub_id);
        Connections::with_names(self.inner.store.clone(), settings, names)
    }

    /// The portals, besides the first site's, a Connect added (and their connections).
    pub fn added_portals(&self) -> store::Result<Vec<i64>> {
        record::added_portals(&self.inner.store)
    }

    /// Whether a Connect of another portal's token adds that portal (`[hubspot]
    /// multiple_portals`) instead of being refused.
    pub fn multiple_portals(&self) -> bool {
        self.inner.settings.multiple_portals
    }

    fn with_names(store: Store, settings: Settings, names: record::Names) -> Connections {
        let key = settings.secrets_key.as_ref().map(seal::Key::new);
        let app = settings.app();
        Connections {
            inner: Arc::new(Inner {
                store,
                names,
                settings,
                key,
                app,
                changes: watch::Sender::new(0),
                observed: RwLock::default(),
                write: Mutex::new(()),
                users: Mutex::default(),
                refusals: AtomicU64::new(0),
                held: AtomicBool::new(false),
                preferences_saved: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Changes whenever the service connection does (connect, change user, disconnect,
    /// refused).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    fn changed(&self) {
        self.inner
            .changes
            .send_modify(|generation| *generation += 1);
    }

    /// Refresh tokens HubSpot refused since start.
    pub fn refusals(&self) -> u64 {
        self.inner.refusals.load(Ordering::Relaxed)
    }

    pub fn preferences(&self) -> Preferences {
        record::preferences(&self.inner.store, &self.inner.names).unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read the connection preferences; using the defaults");
            Preferences::default()
        })
    }

    pub fn set_preferences(&self, preferences: Preferences) -> Result<Preferences, Refusal> {
        let _write = self.inner.write.lock();
        record::save_preferences(&self.inner.store, &self.inner.names, &preferences)?;
        self.inner.preferences_saved.notify_waiters();
        tracing::info!(
            export_connection = preferences.export_connection.as_str(),
            exports_enabled = preferences.exports_enabled,
            "connection preferences changed"
        );
        Ok(preferences)
    }

    /// Completes when this process next saves the preferences (another replica's change is
    /// only seen by reading them).
    pub fn preferences_saved(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.preferences_saved.notified()
    }

    /// The portal these connections connected to last (queries answer for it before HubSpot
    /// is reachable again; a Connect of another portal's token is refused).
    pub fn portal(&self) -> Option<Portal> {
        portal::stored(&self.inner.store, &self.inner.names.portal())
    }

    /// Remembers the portal the service connection connected to. The user mappings follow:
    /// those from before they carried a portal (the first site's), and a switched portal's
    /// (a reset then drops those whose owner the new portal lacks).
    pub fn save_portal(&self, connected: &Portal) -> store::Result<()> {
        let previous = self.portal().map(|portal| portal.hub_id);
        portal::save(&self.inner.store, &self.inner.names.portal(), connected)?;
        let ownership = self.inner.store.ownership();
        if self.inner.names.is_first() {
            ownership.move_mappings(None, connected.hub_id)?;
        }
        if let Some(previous) = previous {
            ownership.move_mappings(Some(previous), connected.hub_id)?;
        }
        Ok(())
    }

    /// Where a user starts their own connection (in `user_not_connected` messages).
    pub fn user_start_url(&self, email: &str) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
        format!(
            "{}/v1/users/{encoded}/connection/start",
            self.inner.settings.public_url.trim_end_matches('/')
        )
    }
}
