//! HubSpot accounts (portals) and users. The simulated portal is one account; further
//! accounts (`SimConfig::other_accounts`) start as empty CRMs. A user is global (user id,
//! email); an owner is that user's seat in one account. So a user belongs to the accounts
//! where an active owner carries their user id, with a different owner id in each, as in HubSpot.

use parking_lot::Mutex;
use serde::Serialize;

use crate::sim::control::Shared;
use crate::sim::gen::owners::{self, Owner};
use crate::sim::portal::Portal;
use crate::sim::SimConfig;
use crate::time;

/// Another account the app's users may belong to.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherAccount {
    pub portal_id: i64,
    /// The first this many active owners of the simulated portal are users here too.
    pub shared_owners: usize,
    /// Users only in this account, by email (they get user ids of their own).
    pub own_users: Vec<String>,
}

impl OtherAccount {
    /// The default second account. The simulated portal's first owner (the configured refresh
    /// token's user) belongs to it too, so signing in as them shows the account chooser.
    pub fn second() -> OtherAccount {
        OtherAccount {
            portal_id: 62_515_002,
            shared_owners: 1,
            own_users: vec!["admin@othercorp.example".to_string()],
        }
    }
}

/// An account beside the simulated portal: its id and CRM.
pub struct Hub {
    pub portal_id: i64,
    pub portal: Mutex<Portal>,
    /// Its owner ids start here, apart from every other account's.
    owner_id_base: u64,
}

/// A HubSpot user and the accounts they are an active user of (the simulated portal first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub user_id: u64,
    pub email: String,
    pub portal_ids: Vec<i64>,
}

/// Users added to other accounts get ids from here up (generated owners' are far below).
const OWN_USER_IDS: u64 = 70_000_000;

/// The account's domain, `hub_domain` in token introspection.
pub fn hub_domain(portal_id: i64) -> String {
    format!("sim-{portal_id}.hubspot.example")
}

/// The other accounts of `config`, seated with their users.
pub fn build(config: &SimConfig, main_owners: &[Owner]) -> Vec<Hub> {
    // (lowercase email, user id) of every user so far: an email seen before is that user.
    let mut known: Vec<(String, u64)> = main_owners
        .iter()
        .map(|owner| (owner.email.to_lowercase(), owner.user_id))
        .collect();
    let mut next_user_id = OWN_USER_IDS;
    let mut accounts = Vec::new();
    for (index, other) in config.other_accounts.iter().enumerate() {
        let seed = config.seed ^ other.portal_id as u64;
        let mut portal = Portal::new(seed, [0; 4], 0, config.search_lag_ms);
        let owner_id_base = 3_000_000_000 + index as u64 * 10_000_000;
        let shared = main_owners.iter().filter(|owner| !owner.archived);
        let shared = shared
            .take(other.shared_owners)
            .map(|owner| owner.email.clone());
        for email in shared.chain(other.own_users.iter().cloned()) {
            let lower = email.to_lowercase();
            let user_id = match known.iter().find(|(known, _)| *known == lower) {
                Some((_, user_id)) => *user_id,
                None => {
                    next_user_id += 1;
                    known.push((lower, next_user_id - 1));
                    next_user_id - 1
                }
            };
            let owner_id = owner_id_base + portal.owners.len() as u64;
            seat(&mut portal, owner_id, user_id, &email);
        }
        accounts.push(Hub {
            portal_id: other.portal_id,
            portal: Mutex::new(portal),
            owner_id_base,
        });
    }
    accounts
}

/// Adds the user to `portal` as owner `owner_id`.
fn seat(portal: &mut Portal, owner_id: u64, user_id: u64, email: &str) {
    let local = email.split('@').next().unwrap_or(email);
    let mut first_name = local.to_string();
    if let Some(first) = first_name.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    let now = time::now_ms();
    let owner = Owner {
        id: owner_id,
        user_id,
        email: email.to_string(),
        first_name,
        last_name: String::new(),
        teams: Vec::new(),
        archived: false,
        created_ms: now,
        updated_ms: now,
    };
    portal.owners.push(owner);
}

impl Shared {
    /// Every account's id and portal, the simulated one first.
    pub fn portals(&self) -> impl Iterator<Item = (i64, &Mutex<Portal>)> {
        let others = self.accounts.iter();
        std::iter::once((self.config.portal_id, &self.portal))
            .chain(others.map(|account| (account.portal_id, &account.portal)))
    }

    pub fn portal_of(&self, portal_id: i64) -> Option<&Mutex<Portal>> {
        self.portals()
            .find(|(id, _)| *id == portal_id)
            .map(|(_, portal)| portal)
    }

    /// Every user, in order of first appearance (the simulated portal's owners first);
    /// deactivated everywhere means no `portal_ids`.
    pub fn users(&self) -> Vec<User> {
        let mut users: Vec<User> = Vec::new();
        for (portal_id, portal) in self.portals() {
            for owner in &portal.lock().owners {
                let index = match users.iter().position(|user| user.user_id == owner.user_id) {
                    Some(index) => index,
                    None => {
                        users.push(User {
                            user_id: owner.user_id,
                            email: owner.email.clone(),
                            portal_ids: Vec::new(),
                        });
                        users.len() - 1
                    }
                };
                if !owner.archived {
                    users[index].portal_ids.push(portal_id);
                }
            }
        }
        users
    }

    pub fn user_by_email(&self, email: &str) -> Option<User> {
        let users = self.users();
        users
            .into_iter()
            .find(|user| user.email.eq_ignore_ascii_case(email.trim()))
    }

    pub fn user_by_id(&self, user_id: u64) -> Option<User> {
        self.users()
            .into_iter()
            .find(|user| user.user_id == user_id)
    }

    /// Makes `email` an active user of `portal_id` (a known email keeps its user id);
    /// returns the user id.
    pub fn add_user(&self, email: &str, portal_id: i64) -> anyhow::Result<u64> {
        let Some(portal) = self.portal_of(portal_id) else {
            anyhow::bail!("no account {portal_id}");
        };
        let known = self.user_by_email(email);
        if let Some(user) = known
            .as_ref()
            .filter(|user| user.portal_ids.contains(&portal_id))
        {
            return Ok(user.user_id);
        }
        let user_id = match known {
            Some(user) => user.user_id,
            None => self
                .users()
                .iter()
                .map(|user| user.user_id + 1)
                .fold(OWN_USER_IDS, u64::max),
        };
        let other = self
            .accounts
            .iter()
            .find(|account| account.portal_id == portal_id);
        let mut portal = portal.lock();
        let seats = portal.owners.len() as u64;
        // The simulated portal numbers its owners as its generator does.
        let owner_id = other.map_or(owners::owner_id(seats), |account| {
            account.owner_id_base + seats
        });
        seat(&mut portal, owner_id, user_id, email);
        Ok(user_id)
    }
}
