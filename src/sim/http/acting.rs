//! Who an API call acts as: the account and HubSpot user its bearer token is bound to. Reads
//! and writes see only that account's CRM; writes by a user's token record the user.

use parking_lot::Mutex;

use crate::sim::control::Shared;
use crate::sim::portal::{Change, Portal};

pub struct Acting<'a> {
    shared: &'a Shared,
    pub portal_id: i64,
    pub portal: &'a Mutex<Portal>,
    /// The OAuth token's user; `None` for private apps and app-level tokens (HubSpot then
    /// records the app, not a user, as the author).
    pub user_id: Option<u64>,
}

impl<'a> Acting<'a> {
    /// `None` if the account is unknown (cannot happen for tokens the simulator issued).
    pub fn new(shared: &'a Shared, portal_id: i64, user_id: Option<u64>) -> Option<Acting<'a>> {
        Some(Acting {
            shared,
            portal_id,
            portal: shared.portal_of(portal_id)?,
            user_id,
        })
    }

    /// Queues the webhooks for changes made by this call.
    pub fn announce(&self, changes: Vec<Change>) {
        self.shared.announce_in(self.portal_id, changes);
    }
}
