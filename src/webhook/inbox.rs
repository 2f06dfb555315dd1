//! The webhook inbox with group commit: requests hand their verified events to the committer,
//! which appends everything that arrived meanwhile and makes it durable at once, then answers
//! every waiting request. On sled: dedup checked, one chunk row per ~32 KiB, a single flush
//! and fdatasync and a record in the store's ledger (`Store::store_group`), one group after
//! another. On PostgreSQL: a transaction per group, two groups in flight, so that one is
//! stored while the other's commit waits for the WAL.

use std::ops::Range;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::store::{self, AppendOutcome, Appending, CursorMove, NewEvent, Store};
use crate::time::now_ms;

/// How many requests, and events, one commit may cover at most: a bigger group amortises the
/// flush better but makes its first request wait longer. A group takes only what is already
/// waiting; 16,384 events let one commit cover 64 connections' 100-event batches with room
/// (4,096 capped it at 40 and cost a sixth of the batch throughput in `scripts/bench`).
const MAX_GROUP: usize = 256;
const MAX_GROUP_EVENTS: usize = 16_384;

/// One event of a request, pointing into the request's body.
#[derive(Debug, Clone)]
pub struct Pending {
    pub event_id: i64,
    pub portal_id: i64,
    pub digest: [u8; 16],
    pub raw: Range<usize>,
}

enum Job {
    Append {
        body: Bytes,
        events: Vec<Pending>,
        /// A journal request's cursor, moved in the same commit.
        cursor: Option<CursorMove>,
        reply: oneshot::Sender<Result<AppendOutcome, String>>,
    },
    /// Sent once the server has drained: commit what is left and stop.
    Stop,
}

/// Why the inbox did not take a batch; both mean "try again later" to HubSpot (503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the inbox holds {pending} unapplied events, above its high-water mark")]
    Overloaded { pending: u64 },
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
}

/// The sending side, shared by request handlers.
#[derive(Clone)]
pub struct Inbox {
    jobs: mpsc::Sender<Job>,
    store: Store,
    high_water: u64,
}

/// The committing side; the daemon runs it on a blocking thread until every `Inbox` is gone.
pub struct Committer {
    jobs: mpsc::Receiver<Job>,
    store: Store,
}

/// Creates the inbox over `store`; `capacity` bounds the requests waiting for a commit.
pub fn inbox(store: Store, high_water: u64, capacity: usize) -> (Inbox, Committer) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let inbox = Inbox {
        jobs: sender,
        store: store.clone(),
        high_water,
    };
    (
        inbox,
        Committer {
            jobs: receiver,
            store,
        },
    )
}

impl Inbox {
    /// Stores the events durably (those not stored before); resolves after the commit.
    pub async fn submit(
        &self,
        body: Bytes,
        events: Vec<Pending>,
    ) -> Result<AppendOutcome, Refusal> {
        self.submit_with(body, events, None).await
    }

    /// Like [`Inbox::submit`] for another source: with `cursor`, the Webhooks Journal's
    /// cursor moves in the commit that stores these events (see `store::JournalCursors`).
    pub async fn submit_with(
        &self,
        body: Bytes,
        events: Vec<Pending>,
        cursor: Option<CursorMove>,
    ) -> Result<AppendOutcome, Refusal> {
        let pending = self.store.inbox().pending();
        if pending >= self.high_water {
            return Err(Refusal::Overloaded { pending });
        }
        let (reply, answer) = oneshot::channel();
        let job = Job::Append {
            body,
            events,
            cursor,
            reply,
        };
        let closed = || Refusal::StorageUnavailable("the inbox is shutting down".into());
        self.jobs.send(job).await.map_err(|_| closed())?;
        answer
            .await
            .map_err(|_| closed())?
            .map_err(Refusal::StorageUnavailable)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Asks the committer to finish: requests submitted after this are refused.
    pub async fn close(&self) {
        let _ = self.jobs.send(Job::Stop).await;
    }
}

/// Groups stored but not yet acknowledged, at most: past this the committer waits for the
/// acknowledger (which records every waiting group at once, so it rarely has more than one).
const MAX_UNACKNOWLEDGED: usize = 8;

type Reply = oneshot::Sender<Result<AppendOutcome, String>>;

/// A group of requests whose events are durable, waiting for the ledger to record them.
struct Stored {
    durable: store::Durable,
    replies: Vec<(Reply, AppendOutcome)>,
}

/// Groups in flight at once when commits are independent (PostgreSQL): while one waits for
/// its transaction to commit, the next is stored.
const INDEPENDENT_COMMITTERS: usize = 2;

impl Committer {
    /// Commits groups of jobs until told to stop or every sender is gone, then makes the
    /// store durable once more. Blocking: run it off the async runtime.
    pub fn run(self) -> store::Result<()> {
        if self.store.commits_independently() {
            self.run_independent()
        } else {
            self.run_in_order()
        }
    }

    /// sled: one group at a time. The acknowledger thread runs beside it: it records each
    /// durable group in the store's ledger and answers its requests, while the next group is
    /// stored (the two fdatasyncs overlap).
    fn run_in_order(mut self) -> store::Result<()> {
        let store = self.store.clone();
        let (stored, to_acknowledge) = std::sync::mpsc::sync_channel::<Stored>(MAX_UNACKNOWLEDGED);
        let store = &store;
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("inbox-acknowledger".into())
                .spawn_scoped(scope, move || acknowledge_groups(store, &to_acknowledge))
                .map_err(|error| store::Error::Unavailable(error.to_string()))?;
            self.commit_groups(&stored);
            drop(stored);
            Ok::<(), store::Error>(())
        })?;
        self.jobs.close();
        self.store.inbox().persist_counters()?;
        self.store.commit()
    }

    fn commit_groups(&mut self, acknowledger: &std::sync::mpsc::SyncSender<Stored>) {
        let mut stopping = false;
        while !stopping {
            let Some(group) = next_group(&mut self.jobs, &mut stopping) else {
                break;
            };
            if group.is_empty() {
                continue;
            }
            if let Some(stored) = commit(&self.store, group) {
                // Every group goes through the acknowledger, in order, even one of
                // duplicates only: their first copies may be in a group still being
                // acknowledged.
                let _ = acknowledger.send(stored);
            }
        }
    }

    /// PostgreSQL: [`INDEPENDENT_COMMITTERS`] threads take turns gathering a group and each
    /// commits its own, answering its requests once the transaction has committed.
    fn run_independent(self) -> store::Result<()> {
        let Committer { jobs, store } = self;
        let jobs = parking_lot::Mutex::new(jobs);
        let (jobs, shared) = (&jobs, &store);
        std::thread::scope(|scope| {
            for number in 0..INDEPENDENT_COMMITTERS {
                std::thread::Builder::new()
                    .name(format!("inbox-committer-{number}"))
                    .spawn_scoped(scope, move || loop {
                        let mut stopping = false;
                        let group = {
                            let mut jobs = jobs.lock();
                            let group = next_group(&mut jobs, &mut stopping);
                            if stopping {
                                // The others take what is left, then find the channel closed.
                                jobs.close();
                            }
                            group
                        };
                        let Some(group) = group else {
                            break;
                        };
                        if group.is_empty() {
                            continue;
                        }
                        if let Some(stored) = commit(shared, group) {
                            for (reply, outcome) in stored.replies {
                                let _ = reply.send(Ok(outcome));
                            }
                        }
                    })
                    .map_err(|error| store::Error::Unavailable(error.to_string()))?;
            }
            Ok::<(), store::Error>(())
        })?;
        store.inbox().persist_counters()?;
        store.commit()
    }
}

/// Stores the group durably; a failure is answered here.
fn commit(store: &Store, group: Vec<Appended>) -> Option<Stored> {
    let received_at_ms = now_ms();
    let requests: Vec<Vec<NewEvent<'_>>> = group
        .iter()
        .map(|(body, events, _, _)| new_events(body, events).collect())
        .collect();
    let appending: Vec<Appending<'_>> = requests
        .iter()
        .zip(&group)
        .map(|(events, (_, _, cursor, _))| Appending {
            events,
            cursor: cursor.as_ref(),
        })
        .collect();
    match store.store_group(received_at_ms, &appending) {
        Ok((outcomes, durable)) => {
            let replies = group.into_iter().map(|(_, _, _, reply)| reply);
            let replies = replies.zip(outcomes).collect();
            Some(Stored { durable, replies })
        }
        Err(error) => {
            tracing::error!(%error, "inbox commit failed; answering 503 so HubSpot retries");
            for (_, _, _, reply) in group {
                let _ = reply.send(Err(error.to_string()));
            }
            None
        }
    }
}

/// The next group: the first job waited for, then what is already waiting, up to the
/// group's limits. `None` once the channel is closed and empty; `stopping` once a stop came.
fn next_group(jobs: &mut mpsc::Receiver<Job>, stopping: &mut bool) -> Option<Vec<Appended>> {
    let first = jobs.blocking_recv()?;
    let mut group = Vec::new();
    let mut next = Some(first);
    while let Some(job) = next {
        match job {
            Job::Stop => *stopping = true,
            Job::Append {
                body,
                events,
                cursor,
                reply,
            } => group.push((body, events, cursor, reply)),
        }
        let events: usize = group.iter().map(|(_, events, _, _)| events.len()).sum();
        let room = group.len() < MAX_GROUP && events < MAX_GROUP_EVENTS;
        next = room.then(|| jobs.try_recv().ok()).flatten();
    }
    Some(group)
}

/// The acknowledger thread: records the durable groups in the ledger, all those waiting at
/// once (the last one's token covers the others), then answers their requests.
fn acknowledge_groups(store: &Store, stored: &std::sync::mpsc::Receiver<Stored>) {
    while let Ok(first) = stored.recv() {
        let mut groups = vec![first];
        groups.extend(stored.try_iter());
        let durable = groups[groups.len() - 1].durable;
        let acknowledged = store.acknowledge(durable).map_err(|error| {
            tracing::error!(%error, "recording acknowledged events failed; answering 503");
            error.to_string()
        });
        for (reply, outcome) in groups.into_iter().flat_map(|group| group.replies) {
            // The request may have gone (client hung up); its events are stored all the same.
            let _ = reply.send(acknowledged.clone().map(|()| outcome));
        }
    }
}

type Appended = (Bytes, Vec<Pending>, Option<CursorMove>, Reply);

fn new_events<'a>(body: &'a Bytes, events: &'a [Pending]) -> impl Iterator<Item = NewEvent<'a>> {
    // The handler checked the body is UTF-8 and built `raw` ranges from it.
    let text = std::str::from_utf8(body).unwrap_or("");
    events.iter().filter_map(move |event| {
        Some(NewEvent {
            event_id: event.event_id,
            portal_id: event.portal_id,
            digest: event.digest,
            raw: text.get(event.raw.clone())?,
        })
    })
}
