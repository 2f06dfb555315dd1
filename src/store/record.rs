//! What the mirror stores: records, owners, pipelines and property definitions as plain
//! structs, and the index terms a record is found by. Encoded with postcard behind a
//! format byte, so a changed layout can be migrated on read.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Error, Result};

const VALUE_FORMAT: u8 = 1;

/// One mirrored CRM record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: i64,
    /// Every property that has a value (HubSpot sends all values as strings).
    pub properties: BTreeMap<String, String>,
    pub created_at_ms: Option<i64>,
    /// HubSpot's last-modified time of this version.
    pub updated_at_ms: i64,
    pub archived: bool,
    pub archived_at_ms: Option<i64>,
    /// Event time of the last deletion or restore applied; orders later events against it.
    pub state_changed_at_ms: i64,
    /// When this gateway last wrote the record.
    pub synced_at_ms: i64,
    /// Deals: the stages entered, oldest first.
    pub stage_history: Vec<StageEntry>,
}

impl Record {
    /// Archives the record (`Some(at)`: deleted in HubSpot at that time) or restores it
    /// (`None`); an archive's time also orders later events against it.
    pub(super) fn set_archived(&mut self, archived_at_ms: Option<i64>) {
        self.archived = archived_at_ms.is_some();
        self.archived_at_ms = archived_at_ms;
        if let Some(at_ms) = archived_at_ms {
            self.note_state_change(at_ms);
        }
    }

    /// Records that a deletion or restore happened at `at_ms` (the latest one counts).
    pub(super) fn note_state_change(&mut self, at_ms: i64) {
        self.state_changed_at_ms = self.state_changed_at_ms.max(at_ms);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageEntry {
    pub stage: String,
    pub pipeline: Option<String>,
    pub entered_at_ms: i64,
}

/// What a record can be looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TermKind {
    Domain,
    Email,
    Name,
    Owner,
}

impl TermKind {
    pub(super) fn code(self) -> u8 {
        match self {
            TermKind::Domain => b'd',
            TermKind::Email => b'e',
            TermKind::Name => b'n',
            TermKind::Owner => b'o',
        }
    }
}

/// A normalised lookup key of a record, e.g. (Domain, "acme.com").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Term {
    pub kind: TermKind,
    pub value: String,
}

impl Term {
    pub fn new(kind: TermKind, value: impl Into<String>) -> Self {
        Term {
            kind,
            value: value.into(),
        }
    }
}

/// A HubSpot owner (a user or queue that records can be assigned to).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub id: i64,
    pub user_id: Option<i64>,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub teams: Vec<Team>,
    pub archived: bool,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub primary: bool,
}

/// A deal pipeline and its stages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipeline {
    pub id: String,
    pub label: String,
    pub display_order: i64,
    pub archived: bool,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub id: String,
    pub label: String,
    pub display_order: i64,
    pub archived: bool,
    /// Stage metadata as HubSpot gives it (`probability`, `isClosed`).
    pub metadata: BTreeMap<String, String>,
}

/// A property definition, kept for validation and for requesting every property.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyDef {
    pub name: String,
    pub label: String,
    /// `string`, `number`, `bool`, `enumeration`, `date`, `datetime`, ...
    pub value_type: String,
    pub field_type: String,
    /// Internal values and labels of an enumeration, in display order.
    pub options: Vec<(String, String)>,
    pub calculated: bool,
    pub read_only_value: bool,
    pub has_unique_value: bool,
    pub hidden: bool,
    pub archived: bool,
}

/// The few fields of a record that lookups, indicators and filters need, kept beside the
/// record (tree `briefs.v1`, written in the same transaction) so that the request path never
/// decodes every property of a record. Derived by the caller (`ownership::brief`), which
/// knows the properties they come from; the store only keeps it in step with the record's
/// archived flag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brief {
    pub id: i64,
    /// The display name of an indicator (contacts: first + last name, else the email).
    pub name: String,
    /// The primary lookup field as stored: companies `domain`, contacts `email`, else empty.
    pub primary: String,
    /// `hubspot_owner_id` as stored (empty when unowned; not necessarily a number).
    pub owner: String,
    /// Companies: `type` (`PROSPECT`, `CUSTOMER`, ...), when set.
    pub company_type: Option<String>,
    /// Contacts: `hs_email_optout` is `true`.
    pub email_opt_out: bool,
    /// `createdate`, else HubSpot's creation time (deals: the recent-deal filter).
    pub created_at_ms: Option<i64>,
    pub updated_at_ms: i64,
    pub archived: bool,
}

impl Brief {
    /// The owner id, when `owner` is one.
    pub fn owner_id(&self) -> Option<i64> {
        self.owner.trim().parse().ok()
    }
}

/// The stored form of a record: the record and the terms it is indexed under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Stored {
    pub record: Record,
    pub terms: Vec<Term>,
}

/// [`Stored`] by reference: encodes to the same bytes without copying the record.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct StoredRef<'a> {
    pub record: &'a Record,
    pub terms: &'a [Term],
}

impl Stored {
    pub(super) fn as_ref(&self) -> StoredRef<'_> {
        StoredRef {
            record: &self.record,
            terms: &self.terms,
        }
    }
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Invariant: postcard serialises these plain structs into a Vec without failing.
    postcard::to_extend(value, vec![VALUE_FORMAT]).expect("stored value serialises")
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&VALUE_FORMAT, rest)) => postcard::from_bytes(rest)
            .map_err(|error| Error::Corrupt(format!("stored value: {error}"))),
        Some((format, _)) => Err(Error::Corrupt(format!("unknown value format {format}"))),
        None => Err(Error::Corrupt("empty stored value".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_by_reference_encodes_like_the_stored_record() {
        let stored = Stored {
            record: Record {
                id: 7,
                properties: [("email".to_string(), "a@b.example".to_string())].into(),
                updated_at_ms: 5,
                ..Record::default()
            },
            terms: vec![Term::new(TermKind::Email, "a@b.example")],
        };
        let bytes = encode(&stored.as_ref());
        assert_eq!(bytes, encode(&stored));
        assert_eq!(decode::<Stored>(&bytes).unwrap(), stored);
    }
}
