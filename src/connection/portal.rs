//! The HubSpot portal the gateway mirrors, as the connection's token introspection described
//! it; remembered in the store so queries work before HubSpot is reachable again, and so a
//! Connect can refuse a token of another portal.

use serde::{Deserialize, Serialize};

use crate::hubspot::TokenInfo;
use crate::object::ObjectType;
use crate::ownership::Fallback;
use crate::store::{self, Store};

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
    /// The portal a token's introspection describes.
    pub fn of(info: &TokenInfo) -> Portal {
        Portal {
            hub_id: info.hub_id,
            ui_base: info.ui_base(),
            user_email: info.user_email.clone(),
            user_id: info.user_id,
        }
    }

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

/// The portal the first site (a gateway of one portal has only it) connected to last.
pub fn first(store: &Store) -> Option<Portal> {
    stored(store, &super::record::Names::first().portal())
}

/// Every portal the deployment mirrors, the first site's first, then those a Connect added
/// (the order `api::Sites` lists them in).
pub fn mirrored(store: &Store) -> store::Result<Vec<i64>> {
    let mut ids: Vec<i64> = first(store)
        .map(|portal| portal.hub_id)
        .into_iter()
        .collect();
    for id in super::record::added_portals(store)? {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Where a setting kept per portal (`base`, e.g. `export.settings`) is stored for `portal`.
/// A portal a Connect added has its own name, carrying its id; the first site's portal (and
/// that of a gateway not connected yet) has the plain name, so what a store kept before
/// settings were per portal is its, and the first site's next portal starts from no
/// setting once a removal deleted them.
pub fn setting_name(store: &Store, base: &str, portal: Option<i64>) -> store::Result<String> {
    Ok(match portal {
        Some(portal) if super::record::is_added(store, portal)? => format!("{base}.{portal}"),
        _ => base.to_owned(),
    })
}

/// Remembers `first` as the first site's portal and `added` as portals a Connect added
/// (disconnected), as their Connects would (for the unit tests of per-portal settings).
#[cfg(test)]
pub fn remember_sites(store: &Store, first: i64, added: &[i64]) {
    use super::record::{save_slot, Names, Slot};
    let portal = |hub_id| Portal {
        hub_id,
        ui_base: "https://app.hubspot.com".into(),
        user_email: None,
        user_id: None,
    };
    save(store, &Names::first().portal(), &portal(first)).unwrap();
    for &hub_id in added {
        let names = Names::of_portal(hub_id);
        let slot = Slot::Disconnected {
            at_ms: 0,
            portal_id: Some(hub_id),
        };
        save_slot(store, &names.service, &slot).unwrap();
        save(store, &names.portal(), &portal(hub_id)).unwrap();
    }
}

/// The portal stored under the settings' name `name` (a site's, see `record::Names`).
pub(super) fn stored(store: &Store, name: &str) -> Option<Portal> {
    let bytes = store.meta(name).ok().flatten()?;
    serde_json::from_slice(&bytes).ok()
}

/// Remembers `portal` under `name`.
pub(super) fn save(store: &Store, name: &str, portal: &Portal) -> store::Result<()> {
    // Invariant: serialising a struct of plain fields cannot fail.
    let bytes = serde_json::to_vec(portal).expect("Portal serialises");
    store.set_meta(name, &bytes)
}

/// The owner records fall back to in a gateway connected to `portal` (`None`: not yet):
/// `owner_id` (`[ownership] fallback_owner_id`) when set, else the connecting user's owner.
pub fn fallback(owner_id: Option<i64>, portal: Option<&Portal>) -> Fallback {
    Fallback {
        owner_id,
        connected_user_email: portal.and_then(|portal| portal.user_email.clone()),
        connected_user_id: portal.and_then(|portal| portal.user_id),
    }
}
