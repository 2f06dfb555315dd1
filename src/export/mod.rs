//! Export into HubSpot: settings, field mappings, the pure plan per record, submitting a job
//! (the one rule the API and the CLI share), durable jobs, the writer that carries them out
//! exactly once, and what privacy asks of the jobs kept
//! (redaction of a deleted person, retention).

pub mod context;
pub mod file;
pub mod job;
pub mod mapping;
pub mod plan;
pub mod privacy;
pub mod retention;
pub mod sample;
pub mod settings;
pub mod submit;
pub mod writer;

pub use mapping::Mapping;
pub use settings::{OnDuplicate, Settings, TypeSettings};
pub use submit::{submit, Refusal, Request, Submitted};

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::Export;
use crate::store::{self, Store};

/// Where the leader publishes what `portal`'s jobs wait for (see [`Exporter::published`]).
const WAITING_META: &str = "export.waiting";

/// What the API and the worker share: the `[export]` config, the worker's wake-up and what
/// unfinished jobs are waiting for.
#[derive(Debug)]
pub struct Exporter {
    pub config: Export,
    pub wake: tokio::sync::Notify,
    waiting: watch::Sender<Option<Waiting>>,
}

/// Why unfinished jobs are not progressing: shown as `"waiting": {"code", "message"}` on
/// queued and running jobs (`sync_disabled`, `not_connected`; `retrying` on the job that hit
/// a transient failure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    pub code: Cow<'static, str>,
    pub message: String,
    /// `Some`: only this job is affected; `None`: every unfinished job.
    pub job: Option<u64>,
}

impl Waiting {
    /// Whether job `id` (queued or running) is held up by this.
    pub fn holds(&self, id: u64) -> bool {
        self.job.is_none_or(|job| job == id)
    }
}

impl Exporter {
    pub fn new(config: Export) -> Self {
        Exporter {
            config,
            wake: tokio::sync::Notify::new(),
            waiting: watch::Sender::new(None),
        }
    }

    pub fn set_waiting(&self, waiting: Option<Waiting>) {
        self.waiting.send_if_modified(|current| {
            let changed = *current != waiting;
            *current = waiting;
            changed
        });
    }

    /// What the jobs wait for, if anything, as the worker here knows it (see
    /// [`Waiting::holds`] for which jobs).
    pub fn waiting(&self) -> Option<Waiting> {
        self.waiting.borrow().clone()
    }

    /// What job `id` (queued or running) is waiting for, if anything, as the worker here
    /// knows it.
    pub fn waiting_for(&self, id: u64) -> Option<Waiting> {
        self.waiting().filter(|waiting| waiting.holds(id))
    }

    /// Changes when what the jobs wait for changes.
    pub fn subscribe(&self) -> watch::Receiver<Option<Waiting>> {
        self.waiting.subscribe()
    }

    /// Records what `portal`'s jobs wait for where replicas that follow read it (on
    /// PostgreSQL the worker runs on the leader only).
    pub fn publish(store: &Store, portal: i64, waiting: Option<&Waiting>) -> store::Result<()> {
        let name = waiting_name(store, portal)?;
        let Some(waiting) = waiting else {
            return store.remove_meta(&name);
        };
        // Invariant: a struct of strings and numbers serialises.
        let bytes = serde_json::to_vec(waiting).expect("Waiting serialises");
        store.set_meta(&name, &bytes)
    }

    /// What the leader last published about `portal`'s jobs (see [`Exporter::publish`]).
    pub fn published(store: &Store, portal: i64) -> store::Result<Option<Waiting>> {
        let stored = store
            .meta(&waiting_name(store, portal)?)?
            .unwrap_or_default();
        Ok(serde_json::from_slice::<Waiting>(&stored).ok())
    }
}

/// Where the leader publishes what `portal`'s jobs wait for.
fn waiting_name(store: &Store, portal: i64) -> store::Result<String> {
    crate::connection::portal::setting_name(store, WAITING_META, Some(portal))
}
