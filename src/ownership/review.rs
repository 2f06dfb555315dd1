//! The user-mapping review: every internal user the gateway knows (mapped, auto-mapped, or
//! only seen exporting) with the state of their mapping, those that need an admin first.

use super::normalize;
use super::user_map::{MappingError, UserMap};
use crate::store::{MappingSource, Owner};

/// Where a user's mapping stands, in the order an admin should look at them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    /// Known (auto-mapping found no owner with the email, or only seen in exports): records
    /// they export get the fallback owner.
    Unmapped,
    /// Mapped to an owner that is archived in HubSpot (never assigned).
    OwnerArchived,
    /// Mapped to an owner the portal does not have (another portal's, or deleted).
    OwnerMissing,
    /// Mapped automatically by email (auto-map, or a new user detected on export): nobody
    /// has confirmed it.
    Detected,
    /// Mapped by an admin.
    Confirmed,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Unmapped => "unmapped",
            Standing::OwnerArchived => "owner_archived",
            Standing::OwnerMissing => "owner_missing",
            Standing::Detected => "detected",
            Standing::Confirmed => "confirmed",
        }
    }

    /// Whether records this user exports miss the owner the mapping meant.
    pub fn needs_attention(self) -> bool {
        self < Standing::Detected
    }
}

/// One internal user in the review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewed {
    pub email: String,
    pub owner: Option<Owner>,
    /// `None`: no mapping stored (only seen in exports).
    pub source: Option<MappingSource>,
    pub standing: Standing,
}

impl UserMap<'_> {
    /// Every stored mapping, plus the users in `seen` (e.g. export users) that have none;
    /// those needing attention first, then by email.
    pub fn review(&self, seen: &[String]) -> Result<Vec<Reviewed>, MappingError> {
        let owners = self.store.reference().owners(self.portal)?;
        let owner = |id: i64| owners.iter().find(|owner| owner.id == id).cloned();
        let mut reviewed: Vec<Reviewed> = self
            .list()?
            .into_iter()
            .map(|mapping| {
                let found = mapping.owner_id.and_then(owner);
                let standing = match (mapping.owner_id, &found, mapping.source) {
                    (None, _, _) => Standing::Unmapped,
                    (Some(_), None, _) => Standing::OwnerMissing,
                    (Some(_), Some(owner), _) if owner.archived => Standing::OwnerArchived,
                    (Some(_), Some(_), MappingSource::Auto) => Standing::Detected,
                    (Some(_), Some(_), MappingSource::Manual) => Standing::Confirmed,
                };
                Reviewed {
                    email: mapping.email,
                    owner: found,
                    source: Some(mapping.source),
                    standing,
                }
            })
            .collect();
        for email in seen.iter().filter_map(|email| normalize::email(email)) {
            if !reviewed.iter().any(|known| known.email == email) {
                reviewed.push(Reviewed {
                    email,
                    owner: None,
                    source: None,
                    standing: Standing::Unmapped,
                });
            }
        }
        reviewed.sort_by(|a, b| (a.standing, &a.email).cmp(&(b.standing, &b.email)));
        Ok(reviewed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, UserMapping};

    #[test]
    fn users_needing_attention_come_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let owner = |id: i64, email: &str, archived: bool| Owner {
            id,
            email: email.into(),
            archived,
            ..Owner::default()
        };
        store
            .reference()
            .replace_owners(
                7,
                &[owner(1, "ann@x.test", false), owner(2, "old@x.test", true)],
            )
            .unwrap();
        let map = |email: &str, owner_id: Option<i64>, source| UserMapping {
            email: email.into(),
            owner_id,
            source,
        };
        for mapping in [
            map("ann@x.test", Some(1), MappingSource::Auto),
            map("bo@x.test", Some(1), MappingSource::Manual),
            map("cy@x.test", None, MappingSource::Auto),
            map("old@x.test", Some(2), MappingSource::Manual),
            map("gone@x.test", Some(99), MappingSource::Auto),
        ] {
            store.ownership().set_mapping(7, &mapping).unwrap();
        }
        let users = UserMap {
            store: &store,
            portal: 7,
        };
        let seen = ["Dee@X.test".to_owned(), "ann@x.test".to_owned()];
        let review: Vec<(String, Standing)> = users
            .review(&seen)
            .unwrap()
            .into_iter()
            .map(|user| (user.email, user.standing))
            .collect();
        let expected = [
            ("cy@x.test", Standing::Unmapped),
            ("dee@x.test", Standing::Unmapped),
            ("old@x.test", Standing::OwnerArchived),
            ("gone@x.test", Standing::OwnerMissing),
            ("ann@x.test", Standing::Detected),
            ("bo@x.test", Standing::Confirmed),
        ];
        let expected: Vec<(String, Standing)> = expected
            .iter()
            .map(|(email, standing)| (email.to_string(), *standing))
            .collect();
        assert_eq!(review, expected);
        assert!(Standing::OwnerMissing.needs_attention() && !Standing::Detected.needs_attention());
    }
}
