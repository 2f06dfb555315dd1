//! Stored connections: what a Connect learned about a connection, with its refresh token
//! sealed; the service slot (connected, or explicitly disconnected); users' connections;
//! preferences. Each write is committed before it returns.

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::seal::{Key, Unsealed};
use super::Preferences;
use crate::secret::Secret;
use crate::store::{self, Store};

const SERVICE: &str = "service";
const PREFERENCES: &str = "preferences";
const USER_PREFIX: &str = "user/";
/// Where the connections of every portal but the first live.
const PORTAL_PREFIX: &str = "portal/";

/// The store names of one site's connections: the first site's are plain (as a gateway of one
/// portal stores them), every other portal's under `portal/{id}/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Names {
    prefix: String,
    /// The service connection's.
    pub service: String,
}

impl Names {
    pub fn first() -> Names {
        Names::with_prefix(String::new())
    }

    pub fn of_portal(hub_id: i64) -> Names {
        Names::with_prefix(format!("{PORTAL_PREFIX}{hub_id}/"))
    }

    fn with_prefix(prefix: String) -> Names {
        Names {
            service: format!("{prefix}{SERVICE}"),
            prefix,
        }
    }

    pub fn is_first(&self) -> bool {
        self.prefix.is_empty()
    }

    /// `email`'s connection (`email` normalised by the caller).
    pub fn user(&self, email: &str) -> String {
        format!("{}{USER_PREFIX}{email}", self.prefix)
    }

    pub fn preferences(&self) -> String {
        format!("{}{PREFERENCES}", self.prefix)
    }

    /// The settings' name of the portal the site connected to last.
    pub fn portal(&self) -> String {
        format!("{}portal", self.prefix)
    }
}

/// The portals, besides the first site's, that have a service connection stored (or had:
/// a Disconnect keeps the slot).
pub(super) fn added_portals(store: &Store) -> store::Result<Vec<i64>> {
    let mut portals = Vec::new();
    for (name, _) in store.connections().list(PORTAL_PREFIX)? {
        let rest = &name[PORTAL_PREFIX.len()..];
        if let Some(id) = rest.strip_suffix(&format!("/{SERVICE}")) {
            portals.extend(id.parse::<i64>().ok());
        }
    }
    Ok(portals)
}

/// Whether `hub_id` is a portal a Connect added (its service slot is stored).
pub(super) fn is_added(store: &Store, hub_id: i64) -> store::Result<bool> {
    let name = Names::of_portal(hub_id).service;
    Ok(store.connections().get(&name)?.is_some())
}

/// One connection as a Connect recorded it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Record {
    /// A Connect makes a new one: rotations and refusals of a replaced connection's client
    /// must not touch its successor.
    pub id: String,
    pub portal_id: i64,
    pub hub_domain: Option<String>,
    pub hublet: String,
    /// The HubSpot user who consented (the primary admin, for the service connection).
    pub user_email: Option<String>,
    pub user_id: Option<i64>,
    pub scopes: Vec<String>,
    pub connected_at_ms: i64,
    /// Who started the Connect: the API token's name, `cli`, or the user.
    pub started_by: String,
    /// HubSpot refused the refresh token: why (until a Connect replaces the record).
    #[serde(default)]
    pub needs_reconnect: Option<String>,
    /// The connection switched portals: user mappings are reset once its owners are read.
    #[serde(default)]
    pub reset_user_mappings: bool,
    pub refresh_token: Sealed,
}

/// A sealed token as stored (base64); never printed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(super) struct Sealed(String);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[sealed]")
    }
}

impl Sealed {
    pub fn new(key: &Key, token: &Secret<String>, name: &str, id: &str) -> Sealed {
        let sealed = key.seal(token, context(name, id).as_bytes());
        Sealed(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    pub fn open(&self, key: &Key, name: &str, id: &str) -> Result<Secret<String>, Unsealed> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.0)
            .map_err(|_| Unsealed::Damaged)?;
        key.open(&bytes, context(name, id).as_bytes())
    }
}

/// A sealed token opens only where it was stored: under its name, in its connection.
fn context(name: &str, id: &str) -> String {
    format!("hubspot-gateway connection\n{name}\n{id}")
}

/// The service connection's slot.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(super) enum Slot {
    Connected {
        connection: Box<Record>,
    },
    /// An explicit Disconnect: the next Connect may be for any portal, and a config
    /// `refresh_token` is no longer used.
    Disconnected {
        at_ms: i64,
        portal_id: Option<i64>,
    },
}

pub(super) fn load_slot(store: &Store, name: &str) -> store::Result<Option<Slot>> {
    let Some(bytes) = store.connections().get(name)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| store::Error::Corrupt(format!("connection {name}: {error}")))
}

pub(super) fn load_record(store: &Store, name: &str) -> store::Result<Option<Record>> {
    Ok(match load_slot(store, name)? {
        Some(Slot::Connected { connection }) => Some(*connection),
        _ => None,
    })
}

/// Writes `slot` and makes it durable: one value, so a crash leaves the old or the new.
pub(super) fn save_slot(store: &Store, name: &str, slot: &Slot) -> store::Result<()> {
    // Invariant: a struct of plain fields serialises.
    let bytes = serde_json::to_vec(slot).expect("Slot serialises");
    store.connections().put(name, &bytes)?;
    store.commit()
}

pub(super) fn remove(store: &Store, name: &str) -> store::Result<Option<Slot>> {
    let old = load_slot(store, name)?;
    store.connections().take(name)?;
    store.commit()?;
    Ok(old)
}

pub(super) fn preferences(store: &Store, names: &Names) -> store::Result<Preferences> {
    let Some(bytes) = store.connections().get(&names.preferences())? else {
        return Ok(Preferences::default());
    };
    serde_json::from_slice(&bytes)
        .map_err(|error| store::Error::Corrupt(format!("connection preferences: {error}")))
}

pub(super) fn save_preferences(
    store: &Store,
    names: &Names,
    preferences: &Preferences,
) -> store::Result<()> {
    // Invariant: two plain fields serialise.
    let bytes = serde_json::to_vec(preferences).expect("Preferences serialise");
    store.connections().put(&names.preferences(), &bytes)?;
    store.commit()
}

/// A fresh random id (connections, Connect states).
pub(super) fn random_id() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
