//! The webhook inbox with group commit: requests hand their verified events to one committer,
//! which appends everything that arrived meanwhile (dedup checked, one chunk row per ~32 KiB)
//! and makes it durable with a single flush and fdatasync, then answers every waiting request
//! at once. The per-event dedup rows are written afterwards by an indexer thread, off the
//! acknowledgement path (see `store::InboxStore`).

use std::ops::Range;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::store::{self, AppendOutcome, NewEvent, Store};
use crate::time::now_ms;

/// How many requests, and events, one commit may cover at most: a bigger group amortises the
/// flush better but makes its first request wait longer.
const MAX_GROUP: usize = 256;
const MAX_GROUP_EVENTS: usize = 4_096;

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
        let pending = self.store.inbox().pending();
        if pending >= self.high_water {
            return Err(Refusal::Overloaded { pending });
        }
        let (reply, answer) = oneshot::channel();
        let job = Job::Append {
            body,
            events,
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

/// Above this many events without dedup rows (the indexer thread is behind), the committer
/// writes as many rows as its group had events before taking the next group: bounds the
/// memory they take without one long stall.
const MAX_UNINDEXED: usize = 32_768;
/// Dedup rows the indexer writes per pass; the committer's share waits for at most one pass.
const INDEX_PASS: usize = 2_048;

impl Committer {
    /// Commits groups of jobs until told to stop or every sender is gone, then makes the
    /// store durable once more. Blocking: run it off the async runtime. The dedup rows of
    /// committed events are written by an indexer thread it runs beside itself, after the
    /// commit and the answers (see `store::InboxStore::index_pending`).
    pub fn run(mut self) -> store::Result<()> {
        let store = self.store.clone();
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let indexer_store = &store;
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("inbox-indexer".into())
                .spawn_scoped(scope, move || {
                    while woken.recv().is_ok() {
                        loop {
                            match indexer_store.inbox().index_pending(INDEX_PASS) {
                                Ok(INDEX_PASS) => continue,
                                Ok(_) => break,
                                Err(error) => {
                                    tracing::error!(%error, "writing inbox dedup rows failed; retrying with the next group");
                                    break;
                                }
                            }
                        }
                    }
                })
                .map_err(|error| store::Error::Unavailable(error.to_string()))?;
            self.commit_groups(&wake);
            drop(wake);
            Ok::<(), store::Error>(())
        })?;
        self.jobs.close();
        let inbox = self.store.inbox();
        inbox.index_pending(usize::MAX)?;
        inbox.persist_counters()?;
        // The first commit makes the dedup rows durable, the second persists the watermark
        // that says so (a restart then re-indexes nothing).
        self.store.commit()?;
        self.store.commit()
    }

    fn commit_groups(&mut self, wake: &std::sync::mpsc::SyncSender<()>) {
        let mut stopping = false;
        while !stopping {
            let Some(first) = self.jobs.blocking_recv() else {
                break;
            };
            let mut group = Vec::new();
            let mut next = Some(first);
            while let Some(job) = next {
                match job {
                    Job::Stop => stopping = true,
                    Job::Append {
                        body,
                        events,
                        reply,
                    } => group.push((body, events, reply)),
                }
                let events: usize = group.iter().map(|(_, events, _)| events.len()).sum();
                let room = group.len() < MAX_GROUP && events < MAX_GROUP_EVENTS;
                next = room.then(|| self.jobs.try_recv().ok()).flatten();
            }
            if !group.is_empty() {
                let events = group.iter().map(|(_, events, _)| events.len()).sum();
                self.commit(group);
                let _ = wake.try_send(());
                if self.store.inbox().unindexed() > MAX_UNINDEXED {
                    if let Err(error) = self.store.inbox().index_pending(events) {
                        tracing::error!(%error, "writing inbox dedup rows failed");
                    }
                }
            }
        }
    }

    fn commit(&self, group: Vec<Appended>) {
        let received_at_ms = now_ms();
        let requests: Vec<Vec<NewEvent<'_>>> = group
            .iter()
            .map(|(body, events, _)| new_events(body, events).collect())
            .collect();
        let slices: Vec<&[NewEvent<'_>]> = requests.iter().map(Vec::as_slice).collect();
        let committed = self
            .store
            .inbox()
            .append_group(received_at_ms, &slices)
            .and_then(|outcomes| {
                self.store.inbox().persist_counters()?;
                self.store.commit()?;
                Ok(outcomes)
            });
        if let Err(error) = &committed {
            tracing::error!(%error, "inbox commit failed; answering 503 so HubSpot retries");
        }
        for (index, (_, _, reply)) in group.into_iter().enumerate() {
            let result = match &committed {
                Ok(outcomes) => Ok(outcomes[index]),
                Err(error) => Err(error.to_string()),
            };
            // The request may have gone (client hung up); its events are stored all the same.
            let _ = reply.send(result);
        }
    }
}

type Appended = (
    Bytes,
    Vec<Pending>,
    oneshot::Sender<Result<AppendOutcome, String>>,
);

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
