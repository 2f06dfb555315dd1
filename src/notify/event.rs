//! The events internal services are told about, derived purely (no IO) from what the mirror
//! held before and the writes `sync::apply` decided, beside it. The syncer queues what this
//! returns in the writes' own transaction.

use std::collections::{BTreeMap, HashMap};

use crate::object::ObjectType;
use crate::store::{Owner, Record, Subject, Write};

/// The kinds of events, with their names on the wire and in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    OwnerChanged,
    RecordCreated,
    RecordDeleted,
    RecordMerged,
    OwnerArchived,
    MatchFirst,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::OwnerChanged,
        EventKind::RecordCreated,
        EventKind::RecordDeleted,
        EventKind::RecordMerged,
        EventKind::OwnerArchived,
        EventKind::MatchFirst,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::OwnerChanged => "owner.changed",
            EventKind::RecordCreated => "record.created",
            EventKind::RecordDeleted => "record.deleted",
            EventKind::RecordMerged => "record.merged",
            EventKind::OwnerArchived => "owner.archived",
            EventKind::MatchFirst => "match.first",
        }
    }

    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// One thing that happened to the mirror. Owner ids are `hubspot_owner_id` as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    OwnerChanged {
        kind: ObjectType,
        id: i64,
        before: Option<String>,
        after: Option<String>,
    },
    /// A record new to the mirror, or back from the recycle bin (`restored`).
    RecordCreated {
        kind: ObjectType,
        id: i64,
        owner: Option<String>,
        restored: bool,
    },
    /// Archived in HubSpot (`archived`), or forgotten (`None`: a privacy deletion, or deleted
    /// for good): then the notification carries the id alone.
    RecordDeleted {
        kind: ObjectType,
        id: i64,
        archived: Option<Archived>,
    },
    /// `id` was merged into `into`; requests for `id` now answer `into`.
    RecordMerged {
        kind: ObjectType,
        id: i64,
        into: i64,
    },
    /// An owner left (archived, or gone from HubSpot): the live records they still own.
    OwnerArchived {
        id: i64,
        records: BTreeMap<ObjectType, u64>,
    },
    /// A lookup matched the record for the first time.
    MatchFirst {
        kind: ObjectType,
        id: i64,
        matched_at_ms: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    pub owner: Option<String>,
    pub at_ms: i64,
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::OwnerChanged { .. } => EventKind::OwnerChanged,
            Event::RecordCreated { .. } => EventKind::RecordCreated,
            Event::RecordDeleted { .. } => EventKind::RecordDeleted,
            Event::RecordMerged { .. } => EventKind::RecordMerged,
            Event::OwnerArchived { .. } => EventKind::OwnerArchived,
            Event::MatchFirst { .. } => EventKind::MatchFirst,
        }
    }

    /// The record type, `None` for an owner.
    pub fn object_type(&self) -> Option<ObjectType> {
        match self {
            Event::OwnerChanged { kind, .. }
            | Event::RecordCreated { kind, .. }
            | Event::RecordDeleted { kind, .. }
            | Event::RecordMerged { kind, .. }
            | Event::MatchFirst { kind, .. } => Some(*kind),
            Event::OwnerArchived { .. } => None,
        }
    }

    /// What the event is about; deliveries of one subject keep their order.
    pub fn subject(&self) -> Subject {
        match self {
            Event::OwnerChanged { kind, id, .. }
            | Event::RecordCreated { kind, id, .. }
            | Event::RecordDeleted { kind, id, .. }
            | Event::RecordMerged { kind, id, .. }
            | Event::MatchFirst { kind, id, .. } => Subject::record(*kind, *id),
            Event::OwnerArchived { id, .. } => Subject::owner(*id),
        }
    }
}

/// What the mirror holds of a record, as far as events tell.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    archived: bool,
    owner: Option<String>,
}

impl Seen {
    fn of(record: &Record) -> Seen {
        Seen {
            archived: record.archived,
            owner: owner_of(record),
        }
    }
}

/// `hubspot_owner_id`, trimmed; `None` when unowned.
pub fn owner_of(record: &Record) -> Option<String> {
    record
        .properties
        .get("hubspot_owner_id")
        .map(|owner| owner.trim())
        .filter(|owner| !owner.is_empty())
        .map(str::to_owned)
}

/// The events `writes` to records of `kind` amount to, in order. `before` holds the records
/// the writes touch as stored before them (an id absent was not stored). `announce_created`
/// is false during the type's first full sync: a backfill does not flood subscribers.
pub fn derive(
    kind: ObjectType,
    writes: &[Write],
    before: &HashMap<i64, Record>,
    announce_created: bool,
) -> Vec<Event> {
    // Later writes in the list see what earlier ones did.
    let mut seen: HashMap<i64, Option<Seen>> = HashMap::new();
    let mut merged_into: HashMap<i64, i64> = HashMap::new();
    let mut events = Vec::new();
    for write in writes {
        let mut current = |id: i64| {
            seen.entry(id)
                .or_insert_with(|| before.get(&id).map(Seen::of))
                .clone()
        };
        match write {
            Write::Upsert { record, .. } => {
                let id = record.id;
                let after = Seen::of(record);
                match current(id) {
                    Some(was) if !was.archived && after.archived => {
                        events.push(deleted(kind, id, &was, record.archived_at_ms.unwrap_or(0)))
                    }
                    Some(was) if !was.archived && was.owner != after.owner => {
                        events.push(Event::OwnerChanged {
                            kind,
                            id,
                            before: was.owner,
                            after: after.owner.clone(),
                        })
                    }
                    Some(was) if !was.archived => {}
                    was if !after.archived && announce_created => {
                        events.push(Event::RecordCreated {
                            kind,
                            id,
                            owner: after.owner.clone(),
                            restored: was.is_some(),
                        })
                    }
                    _ => {}
                }
                seen.insert(id, Some(after));
            }
            Write::Archive { id, at_ms } => {
                if let Some(was) = current(*id).filter(|was| !was.archived) {
                    events.push(deleted(kind, *id, &was, *at_ms));
                    seen.insert(
                        *id,
                        Some(Seen {
                            archived: true,
                            ..was
                        }),
                    );
                }
            }
            Write::Restore { id, .. } => {
                if let Some(was) = current(*id).filter(|was| was.archived) {
                    if announce_created {
                        events.push(Event::RecordCreated {
                            kind,
                            id: *id,
                            owner: was.owner.clone(),
                            restored: true,
                        });
                    }
                    seen.insert(
                        *id,
                        Some(Seen {
                            archived: false,
                            ..was
                        }),
                    );
                }
            }
            Write::Alias { from, to } => {
                merged_into.insert(*from, *to);
            }
            Write::Remove { id } | Write::Purge { id } => {
                if current(*id).is_some() {
                    let purge = matches!(write, Write::Purge { .. });
                    events.push(match merged_into.get(id) {
                        Some(into) if !purge => Event::RecordMerged {
                            kind,
                            id: *id,
                            into: *into,
                        },
                        _ => Event::RecordDeleted {
                            kind,
                            id: *id,
                            archived: None,
                        },
                    });
                }
                seen.insert(*id, None);
            }
            Write::Associate { .. } | Write::ReplaceAssociations { .. } => {}
        }
    }
    events
}

fn deleted(kind: ObjectType, id: i64, was: &Seen, at_ms: i64) -> Event {
    Event::RecordDeleted {
        kind,
        id,
        archived: Some(Archived {
            owner: was.owner.clone(),
            at_ms,
        }),
    }
}

/// Owners who left between two lists of a portal's owners: active in `before`, archived or
/// absent in `after`. A first list (`before` empty) has nobody leaving.
pub fn owners_left(before: &[Owner], after: &[Owner]) -> Vec<i64> {
    let now: HashMap<i64, bool> = after
        .iter()
        .map(|owner| (owner.id, owner.archived))
        .collect();
    before
        .iter()
        .filter(|owner| !owner.archived && now.get(&owner.id).copied().unwrap_or(true))
        .map(|owner| owner.id)
        .collect()
}

#[cfg(test)]
mod tests;
