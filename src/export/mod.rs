//! Export into HubSpot: settings, field mappings, the pure plan per record, durable jobs, the
//! writer that carries them out exactly once, and what privacy asks of the jobs kept
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

use crate::config::Export;

/// What the API and the worker share: the `[export]` config, the worker's wake-up and what
/// unfinished jobs are waiting for.
#[derive(Debug, Default)]
pub struct Exporter {
    pub config: Export,
    pub wake: tokio::sync::Notify,
    waiting: parking_lot::Mutex<Option<Waiting>>,
}

/// Why unfinished jobs are not progressing: shown as `"waiting": {"code", "message"}` on
/// queued and running jobs (`sync_disabled`, `not_connected`; `retrying` on the job that hit
/// a transient failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub code: &'static str,
    pub message: String,
    /// `Some`: only this job is affected; `None`: every unfinished job.
    pub job: Option<u64>,
}

impl Exporter {
    pub fn new(config: Export) -> Self {
        Exporter {
            config,
            ..Exporter::default()
        }
    }

    pub fn set_waiting(&self, waiting: Option<Waiting>) {
        *self.waiting.lock() = waiting;
    }

    /// What job `id` (queued or running) is waiting for, if anything.
    pub fn waiting_for(&self, id: u64) -> Option<Waiting> {
        self.waiting
            .lock()
            .clone()
            .filter(|waiting| waiting.job.is_none_or(|job| job == id))
    }
}
