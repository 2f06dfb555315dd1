//! Submitting an export, the one rule behind `POST /v1/exports` and the CLI's direct path:
//! the request checked against the settings, then either planned (a dry run, which writes
//! nothing) or stored as a queued job for the writer.

use super::context::Context;
use super::job::{self, Header, Outcome, Row, State};
use super::Exporter;
use crate::object::ObjectType;
use crate::ownership::{normalize, Fallback};
use crate::store::{self, Store};
use crate::time::now_ms;

/// What is exported, for whom, and whether only as a dry run; the records are the rows.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub kind: ObjectType,
    /// The internal user the records are exported for (their owner follows from it).
    pub user_email: &'a str,
    pub dry_run: bool,
}

/// What a submitted export became.
#[derive(Debug)]
pub enum Submitted {
    /// A dry run: each row's outcome, in order.
    Planned(Vec<Outcome>),
    /// A job stored (durably) and queued; the writer has been woken.
    Queued(u64),
}

/// Why an export was not taken.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("user_email must be an email address")]
    UserEmail,
    #[error("export is disabled in the settings")]
    Disabled,
    #[error("at most {max} records per export")]
    TooManyRecords { max: u64 },
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Checks `request` against the settings in effect (the store's, else `exporter.config`) and
/// plans `rows` (a dry run) or stores them as a queued job of `portal` and wakes the writer.
pub fn submit(
    store: &Store,
    portal: i64,
    exporter: &Exporter,
    fallback: &Fallback,
    request: Request<'_>,
    rows: &[Row],
) -> Result<Submitted, Refusal> {
    if normalize::email(request.user_email).is_none() {
        return Err(Refusal::UserEmail);
    }
    let context = Context::load(store, portal, request.kind, &exporter.config)?;
    if !context.enabled {
        return Err(Refusal::Disabled);
    }
    let max = context.settings.max_records;
    if rows.len() as u64 > max {
        return Err(Refusal::TooManyRecords { max });
    }
    if request.dry_run {
        let outcomes = context.dry_run(store, request.user_email, fallback, rows)?;
        return Ok(Submitted::Planned(outcomes));
    }
    let header = Header {
        kind: request.kind,
        user_email: request.user_email.to_owned(),
        state: State::Queued,
        total: rows.len() as u32,
        created_at_ms: now_ms(),
        finished_at_ms: None,
        error: None,
        stalled: None,
    };
    let id = job::enqueue(store, portal, &header, rows)?;
    exporter.wake.notify_one();
    Ok(Submitted::Queued(id))
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

    fn request(user_email: &str, dry_run: bool) -> Request<'_> {
        Request {
            kind: ObjectType::Companies,
            user_email,
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
            |request, rows: &[Row]| submit(&store, PORTAL, &exporter, &fallback, request, rows);
        let refused = submit(request("not an email", false), &rows(1));
        assert!(matches!(refused, Err(Refusal::UserEmail)), "{refused:?}");
        let refused = submit(request("a@x.io", false), &rows(3));
        assert!(
            matches!(refused, Err(Refusal::TooManyRecords { max: 2 })),
            "{refused:?}"
        );
        let planned = submit(request("a@x.io", true), &rows(2)).unwrap();
        assert!(matches!(planned, Submitted::Planned(ref outcomes) if outcomes.len() == 2));
        assert_eq!(store.exports().headers(PORTAL, 10).unwrap().len(), 0);
        let Submitted::Queued(id) = submit(request("a@x.io", false), &rows(2)).unwrap() else {
            panic!("not queued");
        };
        let header = job::header(&store, PORTAL, id).unwrap().unwrap();
        assert_eq!((header.state, header.total), (State::Queued, 2));
        assert_eq!(job::rows(&store, PORTAL, id).unwrap(), rows(2));

        let mut disabled = Export::default();
        disabled.enabled = false;
        let exporter = Exporter::new(disabled);
        let refused = super::submit(
            &store,
            PORTAL,
            &exporter,
            &fallback,
            request("a@x.io", true),
            &rows(1),
        );
        assert!(matches!(refused, Err(Refusal::Disabled)), "{refused:?}");
    }
}
