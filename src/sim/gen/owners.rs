//! Generated owners: some archived (userId null, userIdIncludingInactive kept), some in teams.

use serde::Serialize;

use super::words::{FIRST_NAMES, LAST_NAMES, TEAMS};
use super::{mix, ANCHOR_MS};
use crate::time;

/// The simulator's owner record; `http::meta` renders HubSpot's JSON from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub id: u64,
    pub user_id: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// (team id, team name, primary)
    pub teams: Vec<(String, String, bool)>,
    pub archived: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Owner ids cross 2^31 after the first few dozen owners.
pub fn owner_id(index: u64) -> u64 {
    2_100_000_000 + index * 1_000_003
}

pub fn user_id(index: u64) -> u64 {
    9_100_000 + index * 17
}

/// The mailbox domain of the portal's users.
pub const USER_DOMAIN: &str = "sellerco.example";

pub fn generate(seed: u64, count: u64) -> Vec<Owner> {
    (0..count).map(|index| owner(seed, index)).collect()
}

pub fn owner(seed: u64, index: u64) -> Owner {
    let roll = mix(seed ^ mix(0x0_77e2 ^ index));
    let first = FIRST_NAMES[(roll % FIRST_NAMES.len() as u64) as usize];
    let last = LAST_NAMES[(roll / 97 % LAST_NAMES.len() as u64) as usize];
    let team = TEAMS[(roll / 13 % TEAMS.len() as u64) as usize];
    let mut teams = Vec::new();
    if roll % 5 != 0 {
        teams.push((team.1.to_string(), team.0.to_string(), true));
    }
    let created_ms = ANCHOR_MS - 900 * 86_400_000 + (roll % 400) as i64 * 86_400_000;
    Owner {
        id: owner_id(index),
        user_id: user_id(index),
        email: format!(
            "{}.{}{}@{USER_DOMAIN}",
            super::values::slug(first),
            super::values::slug(last),
            index
        ),
        first_name: first.to_string(),
        last_name: last.to_string(),
        teams,
        // One in six has left; the first owner (the token's user) stays active.
        archived: index % 6 == 5,
        created_ms,
        updated_ms: created_ms + (roll % 300) as i64 * 86_400_000,
    }
}

impl Owner {
    /// `/crm/v3/owners` JSON: `userId` is null for archived owners.
    /// HubSpot: <https://developers.hubspot.com/docs/api-reference/latest/crm/owners/guide>
    pub fn to_json(&self) -> serde_json::Value {
        let teams: Vec<_> = self
            .teams
            .iter()
            .map(|(id, name, primary)| serde_json::json!({"id": id, "name": name, "primary": primary}))
            .collect();
        serde_json::json!({
            "id": self.id.to_string(),
            "email": self.email,
            "type": "PERSON",
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": if self.archived { None } else { Some(self.user_id) },
            "userIdIncludingInactive": self.user_id,
            "createdAt": time::iso(self.created_ms),
            "updatedAt": time::iso(self.updated_ms),
            "archived": self.archived,
            "teams": teams,
        })
    }
}
