//! The webhook inbox: the committer appends (through `Store::store_group`), the sync's
//! consumer reads [`Window`]s of unapplied events and marks them applied, the API and the
//! console read recent events and counters.
//!
//! On PostgreSQL each replica's counters are a row moved in its group commits (a rejected
//! request is counted with the next one), and status shows their sums; `pending` is the
//! shared table's count, read at most every [`PENDING_REFRESH`] and by one request at a
//! time: the committer asks it once per request, and it scans the unapplied events.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::super::inbox::{self as on_sled, InboxCounters, Position, StoredEvent, Tally};
use super::super::postgres::{self, Counting, Unapplied};
use super::super::{AppendOutcome, Appending, Result};
use super::Postgres;

/// How stale the count of pending events may be on PostgreSQL.
const PENDING_REFRESH: Duration = Duration::from_secs(1);

pub struct InboxStore {
    backend: Backend,
}

enum Backend {
    Sled(on_sled::InboxStore),
    Postgres {
        inbox: postgres::Inbox,
        pg: Postgres,
        /// Requests rejected since the last commit counted them.
        rejected: AtomicU64,
        /// The last count of pending events and when it was read.
        pending: Mutex<Option<(u64, Instant)>>,
        /// Set while a request counts them.
        counting: AtomicBool,
    },
}

/// Events the consumer reads together, oldest first, and what marks them applied.
pub struct Window {
    pub events: Vec<StoredEvent>,
    applied: Applied,
}

impl Window {
    /// Whether the window read nothing: the inbox is empty. (On PostgreSQL a window of
    /// redeliveries only has no events but is not empty: marking it applied drops them.)
    pub fn is_empty(&self) -> bool {
        match &self.applied {
            Applied::Before(_) => self.events.is_empty(),
            Applied::Postgres(window) => window.is_empty(),
        }
    }

    /// The events read: those to apply and, on PostgreSQL, the redeliveries dropped.
    pub fn read(&self) -> usize {
        match &self.applied {
            Applied::Before(_) => self.events.len(),
            Applied::Postgres(window) => window.events_read(),
        }
    }
}

/// What [`InboxStore::mark_applied`] records for a window.
enum Applied {
    /// sled: the consumer's cursor moves past the window's last event.
    Before(Position),
    /// PostgreSQL: these requests are marked and their events recorded for redelivery
    /// detection; replicas commit out of order, so there is no cursor.
    Postgres(postgres::Window),
}

impl InboxStore {
    pub(in crate::store) fn sled(inbox: on_sled::InboxStore) -> InboxStore {
        InboxStore {
            backend: Backend::Sled(inbox),
        }
    }

    pub(in crate::store) fn postgres(pg: &Postgres) -> InboxStore {
        InboxStore {
            backend: Backend::Postgres {
                inbox: postgres::Inbox::new(pg.database.clone()),
                pg: pg.clone(),
                rejected: AtomicU64::new(0),
                pending: Mutex::default(),
                counting: AtomicBool::new(false),
            },
        }
    }

    /// sled's inbox, for the store's group commit and its opening.
    pub(in crate::store) fn on_sled(&self) -> Option<&on_sled::InboxStore> {
        match &self.backend {
            Backend::Sled(inbox) => Some(inbox),
            Backend::Postgres { .. } => None,
        }
    }

    /// PostgreSQL's part of `Store::store_group`: one transaction, behind the fence when a
    /// journal request moves its cursor; durable when it returns.
    pub(in crate::store) fn append_postgres(
        &self,
        received_at_ms: i64,
        requests: &[Appending<'_>],
    ) -> Option<Result<Vec<AppendOutcome>>> {
        let Backend::Postgres {
            inbox,
            pg,
            rejected,
            pending,
            ..
        } = &self.backend
        else {
            return None;
        };
        let counting = Counting {
            replica: &pg.replica,
            rejected: rejected.swap(0, Ordering::Relaxed),
        };
        let appended = (|| {
            let moves_cursor = requests.iter().any(|request| request.cursor.is_some());
            let fence = if moves_cursor {
                Some(pg.fence()?)
            } else {
                None
            };
            pg.wait(inbox.append_group(received_at_ms, requests, fence, Some(counting)))
        })();
        match &appended {
            Ok(outcomes) => {
                if let Some((count, _)) = pending.lock().as_mut() {
                    *count += Tally::of(requests, outcomes).received;
                }
            }
            // Counted by a later commit.
            Err(_) => drop(rejected.fetch_add(counting.rejected, Ordering::Relaxed)),
        }
        Some(appended)
    }

    /// Writes what the counters hold beyond the last commit (the committer, when it stops).
    pub fn persist_counters(&self) -> Result<()> {
        match &self.backend {
            Backend::Sled(inbox) => inbox.persist_counters(),
            Backend::Postgres {
                inbox,
                pg,
                rejected,
                ..
            } => match rejected.swap(0, Ordering::Relaxed) {
                0 => Ok(()),
                count => pg.wait(inbox.count_rejected(&pg.replica, count)),
            },
        }
    }

    /// Counts a rejected request (stored with the next commit).
    pub fn note_rejected(&self) {
        match &self.backend {
            Backend::Sled(inbox) => inbox.note_rejected(),
            Backend::Postgres { rejected, .. } => drop(rejected.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// Events received and dropped as duplicates, requests rejected, the last webhook's
    /// arrival: on PostgreSQL every replica's, summed.
    pub fn counters(&self) -> Result<InboxCounters> {
        match &self.backend {
            Backend::Sled(inbox) => Ok(inbox.counters()),
            Backend::Postgres {
                inbox,
                pg,
                rejected,
                ..
            } => {
                let mut counters = pg.wait(inbox.counters())?;
                counters.rejected += rejected.load(Ordering::Relaxed);
                Ok(counters)
            }
        }
    }

    /// Events stored and not yet applied. On PostgreSQL a count at most [`PENDING_REFRESH`]
    /// old; the last one known while the database is away.
    pub fn pending(&self) -> u64 {
        match &self.backend {
            Backend::Sled(inbox) => inbox.pending(),
            Backend::Postgres {
                inbox,
                pg,
                pending,
                counting,
                ..
            } => {
                let now = Instant::now();
                let last = *pending.lock();
                let known = last.map_or(0, |(count, _)| count);
                match last {
                    Some((count, at)) if now.duration_since(at) < PENDING_REFRESH => count,
                    // One count at a time (it scans the unapplied events): the other
                    // requests answer with the last one meanwhile.
                    _ if counting.swap(true, Ordering::Acquire) => known,
                    _ => {
                        let counted = pg.wait(inbox.pending());
                        counting.store(false, Ordering::Release);
                        match counted {
                            Ok(count) => {
                                *pending.lock() = Some((count, now));
                                count
                            }
                            Err(_) => known,
                        }
                    }
                }
            }
        }
    }

    /// Up to `max` events not applied yet, oldest first.
    pub fn window(&self, max: usize) -> Result<Window> {
        match &self.backend {
            Backend::Sled(inbox) => {
                let cursor = inbox.cursor()?;
                let events = inbox.read_from(cursor, max)?;
                let next = events.last().map_or(cursor, |last| Position {
                    seq: last.position.seq,
                    index: last.position.index + 1,
                });
                Ok(Window {
                    events,
                    applied: Applied::Before(next),
                })
            }
            Backend::Postgres { inbox, pg, .. } => {
                let mut window = pg.wait(inbox.window(max))?;
                let events = std::mem::take(&mut window.events);
                Ok(Window {
                    events: events.into_iter().map(stored).collect(),
                    applied: Applied::Postgres(window),
                })
            }
        }
    }

    /// Records that the window's events are applied: they are not read again.
    pub fn mark_applied(&self, window: &Window) -> Result<()> {
        match (&self.backend, &window.applied) {
            (Backend::Sled(inbox), Applied::Before(next)) => inbox.ack(*next),
            (
                Backend::Postgres {
                    inbox, pg, pending, ..
                },
                Applied::Postgres(read),
            ) => {
                pg.wait(inbox.mark_applied(pg.fence()?, &pg.replica, read))?;
                if let Some((count, _)) = pending.lock().as_mut() {
                    *count = count.saturating_sub(read.events_read() as u64);
                }
                Ok(())
            }
            _ => unreachable!("a window of another backend"),
        }
    }

    /// The `limit` most recently stored events, newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<StoredEvent>> {
        match &self.backend {
            Backend::Sled(inbox) => inbox.recent(limit),
            Backend::Postgres { inbox, pg, .. } => Ok(pg
                .wait(inbox.recent(limit))?
                .into_iter()
                .map(stored)
                .collect()),
        }
    }

    /// Every stored, not erased event with this `eventId` (HubSpot does not keep them
    /// unique), oldest first.
    pub fn by_event_id(&self, event_id: i64) -> Result<Vec<StoredEvent>> {
        match &self.backend {
            Backend::Sled(inbox) => inbox.by_event_id(event_id),
            Backend::Postgres { inbox, pg, .. } => Ok(pg
                .wait(inbox.by_event_id(event_id))?
                .into_iter()
                .map(stored)
                .collect()),
        }
    }

    /// Deletes applied events received before `cutoff_ms`; returns how many went. The
    /// leader's on PostgreSQL.
    pub fn prune(&self, cutoff_ms: i64) -> Result<u64> {
        match &self.backend {
            Backend::Sled(inbox) => inbox.prune(cutoff_ms),
            Backend::Postgres { inbox, pg, .. } => pg.wait(inbox.prune(pg.fence()?, cutoff_ms)),
        }
    }

    /// Replaces every stored event for which `erase` is true by [`ERASED`](super::super::ERASED)
    /// (privacy deletions); returns the count. The leader's on PostgreSQL.
    pub fn erase(&self, erase: impl Fn(&str) -> bool + Send) -> Result<u64> {
        match &self.backend {
            Backend::Sled(inbox) => inbox.erase(erase),
            Backend::Postgres { inbox, pg, .. } => pg.wait(inbox.erase(pg.fence()?, erase)),
        }
    }
}

/// An event read from PostgreSQL in the inbox's common shape: its request and its place there
/// are its position.
fn stored(row: Unapplied) -> StoredEvent {
    StoredEvent {
        position: Position {
            seq: row.seq as u64,
            index: u16::try_from(row.index).unwrap_or(u16::MAX),
        },
        received_at_ms: row.received_at_ms,
        raw: row.raw,
    }
}
