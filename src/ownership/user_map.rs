//! Internal users ↔ HubSpot owners, and the owner a record exported by a user must get:
//! the mapped owner, else an owner with the user's email (mapped automatically: "new user
//! detected"), else the fallback owner. Archived owners are never assigned.

use super::normalize;
use crate::store::{self, MappingSource, Owner, Store, UserMapping};

/// Why an owner was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Mapped,
    EmailMatch,
    Fallback,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Mapped => "mapped",
            Reason::EmailMatch => "email_match",
            Reason::Fallback => "fallback",
        }
    }
}

/// Where the fallback owner comes from: `[ownership] fallback_owner_id`, else the owner of the
/// HubSpot user who connected the token.
#[derive(Debug, Clone, Default)]
pub struct Fallback {
    pub owner_id: Option<i64>,
    pub connected_user_email: Option<String>,
    pub connected_user_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("{0:?} is not an email address")]
    BadEmail(String),
    #[error("owner {0} does not exist or is archived")]
    NoSuchOwner(i64),
    #[error("no owner can be assigned: the fallback owner is unset, unknown or archived")]
    NoFallback,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `store::Error` is not `Clone`; keep its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

impl From<store::Error> for MappingError {
    fn from(error: store::Error) -> Self {
        MappingError::Store(StoreError(error.to_string()))
    }
}

pub struct UserMap<'a> {
    pub store: &'a Store,
    pub portal: i64,
}

impl UserMap<'_> {
    fn active_owner(&self, id: i64) -> Result<Option<Owner>, MappingError> {
        Ok(self
            .store
            .reference()
            .owner(self.portal, id)?
            .filter(|owner| !owner.archived))
    }

    fn owner_with_email(&self, email: &str) -> Result<Option<Owner>, MappingError> {
        let owners = self.store.reference().owners(self.portal)?;
        Ok(owners
            .into_iter()
            .filter(|owner| !owner.archived)
            .find(|owner| normalize::email(&owner.email).as_deref() == Some(email)))
    }

    pub fn list(&self) -> Result<Vec<UserMapping>, MappingError> {
        Ok(self.store.ownership().mappings(self.portal)?)
    }

    /// A manual mapping; the owner must exist and be active.
    pub fn set(&self, email: &str, owner_id: i64) -> Result<UserMapping, MappingError> {
        let email = key(email)?;
        self.active_owner(owner_id)?
            .ok_or(MappingError::NoSuchOwner(owner_id))?;
        let mapping = UserMapping {
            email,
            owner_id: Some(owner_id),
            source: MappingSource::Manual,
        };
        self.store.ownership().set_mapping(self.portal, &mapping)?;
        Ok(mapping)
    }

    pub fn remove(&self, email: &str) -> Result<bool, MappingError> {
        Ok(self
            .store
            .ownership()
            .remove_mapping(self.portal, &key(email)?)?)
    }

    /// Maps each email to the active owner with the same email; manual mappings are kept.
    pub fn auto(&self, emails: &[String]) -> Result<Vec<UserMapping>, MappingError> {
        let mut result = Vec::with_capacity(emails.len());
        for email in emails {
            let email = key(email)?;
            if let Some(manual) = self
                .store
                .ownership()
                .mapping(self.portal, &email)?
                .filter(|m| m.source == MappingSource::Manual)
            {
                result.push(manual);
                continue;
            }
            let owner_id = self.owner_with_email(&email)?.map(|owner| owner.id);
            let mapping = UserMapping {
                email,
                owner_id,
                source: MappingSource::Auto,
            };
            self.store.ownership().set_mapping(self.portal, &mapping)?;
            result.push(mapping);
        }
        Ok(result)
    }

    /// After switching portals: drops mappings whose owner no longer exists, then auto-maps
    /// every known user again.
    pub fn reset(&self) -> Result<Vec<UserMapping>, MappingError> {
        let mut emails = Vec::new();
        for mapping in self.list()? {
            let gone = match mapping.owner_id {
                Some(id) => self.store.reference().owner(self.portal, id)?.is_none(),
                None => false,
            };
            if gone {
                self.store
                    .ownership()
                    .remove_mapping(self.portal, &mapping.email)?;
            }
            emails.push(mapping.email);
        }
        self.auto(&emails)
    }

    /// The owner a new record exported by `user_email` must get, and why. A user first seen
    /// here whose email matches an owner is mapped to that owner (stored as `auto`).
    pub fn resolve(
        &self,
        user_email: &str,
        fallback: &Fallback,
    ) -> Result<(i64, Reason), MappingError> {
        let (owner_id, reason, detected) = self.decide(user_email, fallback)?;
        if let Some(mapping) = detected {
            self.store.ownership().set_mapping(self.portal, &mapping)?;
            tracing::info!(owner = owner_id, "new user detected: mapped by email");
        }
        Ok((owner_id, reason))
    }

    /// What [`UserMap::resolve`] would answer, storing nothing (dry runs write nothing).
    pub fn preview(
        &self,
        user_email: &str,
        fallback: &Fallback,
    ) -> Result<(i64, Reason), MappingError> {
        let (owner_id, reason, _) = self.decide(user_email, fallback)?;
        Ok((owner_id, reason))
    }

    /// The owner, why, and the `auto` mapping to store for a newly detected user.
    fn decide(
        &self,
        user_email: &str,
        fallback: &Fallback,
    ) -> Result<(i64, Reason, Option<UserMapping>), MappingError> {
        let email = key(user_email)?;
        let stored = self.store.ownership().mapping(self.portal, &email)?;
        if let Some(owner_id) = stored.as_ref().and_then(|m| m.owner_id) {
            if self.active_owner(owner_id)?.is_some() {
                return Ok((owner_id, Reason::Mapped, None));
            }
        }
        if let Some(owner) = self.owner_with_email(&email)? {
            let manual = stored.is_some_and(|m| m.source == MappingSource::Manual);
            let detected = (!manual).then_some(UserMapping {
                email,
                owner_id: Some(owner.id),
                source: MappingSource::Auto,
            });
            return Ok((owner.id, Reason::EmailMatch, detected));
        }
        self.fallback_owner(fallback)
            .map(|id| (id, Reason::Fallback, None))
    }

    /// The owner records of unmapped users get (`[ownership]`, else the connected admin).
    pub fn fallback_owner(&self, fallback: &Fallback) -> Result<i64, MappingError> {
        if let Some(id) = fallback.owner_id {
            return self
                .active_owner(id)?
                .map(|owner| owner.id)
                .ok_or(MappingError::NoFallback);
        }
        let owners = self.store.reference().owners(self.portal)?;
        let connected = owners
            .into_iter()
            .filter(|owner| !owner.archived)
            .find(|owner| {
                fallback
                    .connected_user_id
                    .is_some_and(|id| owner.user_id == Some(id))
                    || fallback
                        .connected_user_email
                        .as_deref()
                        .and_then(normalize::email)
                        .is_some_and(|email| {
                            normalize::email(&owner.email).as_deref() == Some(email.as_str())
                        })
            });
        connected
            .map(|owner| owner.id)
            .ok_or(MappingError::NoFallback)
    }
}

fn key(email: &str) -> Result<String, MappingError> {
    normalize::email(email).ok_or_else(|| MappingError::BadEmail(email.to_owned()))
}
