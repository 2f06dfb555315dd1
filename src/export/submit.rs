//! Starting an export: the one place that checks a request against the settings in effect and
//! either answers its dry run (writing nothing) or stores the job for the worker. The JSON API
//! and the admin console's upload both come through here.

use super::context::Context;
use super::file::Input;
use super::job::{self, Header, Outcome, Row};
use super::Exporter;
use crate::object::ObjectType;
use crate::ownership::{normalize, Fallback};
use crate::store::{self, Store};
use crate::webhook::inbox::now_ms;

/// An export as asked for: the records are already parsed into rows.
#[derive(Debug, Clone)]
pub struct Request {
    pub kind: ObjectType,
    pub user_email: String,
    pub rows: Vec<Row>,
    pub dry_run: bool,
}

/// What became of a request.
#[derive(Debug)]
pub enum Submitted {
    /// A dry run: the request's rows and the outcome each would get, in row order.
    Planned {
        rows: Vec<Row>,
        outcomes: Vec<Outcome>,
    },
    /// A stored job, queued for the worker.
    Queued(u64),
}

/// Why a request was refused as a whole (nothing was stored).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("user_email must be an email address")]
    BadUserEmail,
    #[error("exports are turned off for every user")]
    TurnedOff,
    #[error("export is disabled in the settings")]
    Disabled,
    #[error("at most {max} records per export")]
    TooManyRecords { max: u64 },
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Checks `request` against the settings and plans it (dry run) or queues it.
/// `exports_enabled`: the admin's switch for every user (the connection's preferences).
pub fn submit(
    store: &Store,
    exporter: &Exporter,
    portal: i64,
    fallback: &Fallback,
    exports_enabled: bool,
    request: Request,
) -> Result<Submitted, Refusal> {
    if !exports_enabled {
        return Err(Refusal::TurnedOff);
    }
    if normalize::email(&request.user_email).is_none() {
        return Err(Refusal::BadUserEmail);
    }
    let context = Context::load(store, portal, request.kind, &exporter.config)?;
    if !context.enabled {
        return Err(Refusal::Disabled);
    }
    let max = context.settings.max_records;
    if request.rows.len() as u64 > max {
        return Err(Refusal::TooManyRecords { max });
    }
    if request.dry_run {
        let outcomes = context.dry_run(store, &request.user_email, fallback, &request.rows)?;
        return Ok(Submitted::Planned {
            rows: request.rows,
            outcomes,
        });
    }
    let header = Header {
        kind: request.kind,
        user_email: request.user_email,
        state: "queued".into(),
        total: request.rows.len() as u32,
        created_at_ms: now_ms(),
        finished_at_ms: None,
        error: None,
        stalled: None,
    };
    let id = job::enqueue(store, portal, &header, &request.rows)?;
    exporter.wake.notify_one();
    Ok(Submitted::Queued(id))
}

/// The rows of an export file's records (`on_duplicate` checked, naming the record).
pub fn rows_of(inputs: &[Input]) -> Result<Vec<Row>, String> {
    inputs
        .iter()
        .map(|input| {
            Ok(Row {
                reference: input.reference.clone(),
                fields: input.fields.clone(),
                on_duplicate: input.on_duplicate,
                intent_at_ms: None,
                known_at_intent: Vec::new(),
                outcome: None,
            })
        })
        .collect()
}
