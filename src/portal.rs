//! The connected HubSpot portal: what token introspection said about it, remembered in the
//! store so that queries are answered with it before HubSpot is reachable again.

use serde::{Deserialize, Serialize};

use crate::object::ObjectType;
use crate::store::{self, Store};

/// The HubSpot portal this gateway mirrors, as token introspection described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portal {
    pub hub_id: i64,
    /// `https://app.hubspot.com`, or the EU hublet's host.
    pub ui_base: String,
    /// The HubSpot user who connected the token (the fallback owner's user).
    pub user_email: Option<String>,
    pub user_id: Option<i64>,
}

impl Portal {
    /// A link that opens the record in HubSpot; tasks have no record page, so their index.
    pub fn record_url(&self, kind: ObjectType, id: i64) -> String {
        match kind {
            ObjectType::Tasks => format!("{}/tasks/{}", self.ui_base, self.hub_id),
            _ => format!(
                "{}/contacts/{}/record/{}/{id}",
                self.ui_base,
                self.hub_id,
                kind.type_id()
            ),
        }
    }
}

/// The store's meta value holding the portal seen last (JSON).
const META: &str = "portal";

/// Remembers `portal` as the one connected, for the next start.
pub fn remember(store: &Store, portal: &Portal) -> store::Result<()> {
    // Invariant: serialising a struct of plain fields cannot fail.
    let bytes = serde_json::to_vec(portal).expect("Portal serialises");
    store.set_meta(META, &bytes)
}

/// The portal the store was last connected to, if any.
pub fn remembered(store: &Store) -> Option<Portal> {
    let bytes = store.meta(META).ok().flatten()?;
    serde_json::from_slice(&bytes).ok()
}
