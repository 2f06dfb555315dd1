//! Starting an export: the one place that checks a request against the settings in effect and
//! either answers its dry run (writing nothing) or stores the job for the worker. The JSON API
//! and the admin console's upload both come through here.

use super::context::Context;
use super::file::Input;
use super::job::{self, Header, Outcome, Row, State};
use super::Exporter;
use crate::object::ObjectType;
use crate::ownership::{normalize, Fallback};
use crate::store::{self, Store};
use crate::time::now_ms;

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
        state: State::Queued,
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

/// The rows of an export file's records (already checked as the file was read).
pub fn rows_of(inputs: &[Input]) -> Vec<Row> {
    inputs
        .iter()
        .map(|input| {
            Row::new(
                input.reference.clone(),
                input.fields.clone(),
                input.on_duplicate,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Export;

    const PORTAL: i64 = 62515;

    fn rows(count: usize) -> Vec<Row> {
        (0..count)
            .map(|at| {
                let fields = [("name".to_owned(), format!("Acme {at}"))].into();
                Row::new(format!("r-{at}"), fields, None)
            })
            .collect()
    }

    fn request(user_email: &str, count: usize, dry_run: bool) -> Request {
        Request {
            kind: ObjectType::Companies,
            user_email: user_email.to_owned(),
            rows: rows(count),
            dry_run,
        }
    }

    #[test]
    fn refuses_what_the_settings_refuse_and_queues_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let fallback = Fallback::default();
        let mut config = Export::default();
        config.companies.max_records = 2;
        let exporter = Exporter::new(config);
        let submit =
            |enabled, request| submit(&store, &exporter, PORTAL, &fallback, enabled, request);
        let refused = submit(false, request("a@x.io", 1, false));
        assert!(matches!(refused, Err(Refusal::TurnedOff)), "{refused:?}");
        let refused = submit(true, request("not an email", 1, false));
        assert!(matches!(refused, Err(Refusal::BadUserEmail)), "{refused:?}");
        let refused = submit(true, request("a@x.io", 3, false));
        assert!(
            matches!(refused, Err(Refusal::TooManyRecords { max: 2 })),
            "{refused:?}"
        );
        let planned = submit(true, request("a@x.io", 2, true)).unwrap();
        assert!(matches!(planned, Submitted::Planned { ref outcomes, .. } if outcomes.len() == 2));
        assert_eq!(store.exports().headers(PORTAL, 10).unwrap().len(), 0);
        let Submitted::Queued(id) = submit(true, request("a@x.io", 2, false)).unwrap() else {
            panic!("not queued");
        };
        let header = job::header(&store, PORTAL, id).unwrap().unwrap();
        assert_eq!((header.state, header.total), (State::Queued, 2));
        assert_eq!(job::rows(&store, PORTAL, id).unwrap(), rows(2));

        let exporter = Exporter::new(Export {
            enabled: false,
            ..Export::default()
        });
        let refused = super::submit(
            &store,
            &exporter,
            PORTAL,
            &fallback,
            true,
            request("a@x.io", 1, true),
        );
        assert!(matches!(refused, Err(Refusal::Disabled)), "{refused:?}");
    }
}
