//! Export jobs are kept `export.retention_days` after they finish (their rows name people),
//! then pruned: header, rows and seals together.

use super::job::{decode, Header};
use crate::store::{self, Store};
use crate::time::DAY_MS;

/// Removes the jobs of `portal` that finished more than `retention_days` before `now_ms`;
/// returns how many. A job finished before finish times were kept counts from its creation.
pub fn prune(store: &Store, portal: i64, retention_days: u32, now_ms: i64) -> store::Result<usize> {
    let cutoff = now_ms - i64::from(retention_days) * DAY_MS;
    let exports = store.exports();
    let mut pruned = 0;
    for (id, bytes) in exports.headers(portal, usize::MAX)? {
        let header: Header = decode(&bytes)?;
        if !header.state.is_finished() {
            continue;
        }
        if header.finished_at_ms.unwrap_or(header.created_at_ms) < cutoff {
            exports.remove(portal, id)?;
            pruned += 1;
        }
    }
    if pruned > 0 {
        store.commit()?;
        tracing::info!(pruned, retention_days, "pruned finished export jobs");
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::job::{self, Row, State};
    use crate::object::ObjectType;

    const PORTAL: i64 = 62515;
    const NOW: i64 = 1_800_000_000_000;

    fn job(store: &Store, state: State, finished: Option<i64>, created: i64) -> u64 {
        let header = Header {
            kind: ObjectType::Contacts,
            user_email: "seller@internal.example".into(),
            state,
            total: 1,
            created_at_ms: created,
            finished_at_ms: finished,
            error: None,
            stalled: None,
        };
        let row = Row {
            reference: "r-1".into(),
            fields: [("email".to_owned(), "bo@acme.example".to_owned())].into(),
            on_duplicate: None,
            intent_at_ms: None,
            known_at_intent: Vec::new(),
            outcome: None,
        };
        job::enqueue(store, PORTAL, &header, &[row]).unwrap()
    }

    #[test]
    fn finished_jobs_older_than_the_retention_are_pruned_with_their_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let old = job(
            &store,
            State::Done,
            Some(NOW - 31 * DAY_MS),
            NOW - 40 * DAY_MS,
        );
        let failed = job(
            &store,
            State::Failed,
            Some(NOW - 30 * DAY_MS - 1),
            NOW - 31 * DAY_MS,
        );
        let recent = job(
            &store,
            State::Done,
            Some(NOW - 29 * DAY_MS),
            NOW - 40 * DAY_MS,
        );
        let running = job(&store, State::Running, None, NOW - 90 * DAY_MS);
        let legacy = job(&store, State::Done, None, NOW - 31 * DAY_MS);
        assert_eq!(prune(&store, PORTAL, 30, NOW).unwrap(), 3);
        for gone in [old, failed, legacy] {
            assert!(job::header(&store, PORTAL, gone).unwrap().is_none());
            assert!(job::rows(&store, PORTAL, gone).unwrap().is_empty());
        }
        for kept in [recent, running] {
            assert!(job::header(&store, PORTAL, kept).unwrap().is_some());
            assert_eq!(job::rows(&store, PORTAL, kept).unwrap().len(), 1);
        }
        assert_eq!(prune(&store, PORTAL, 30, NOW).unwrap(), 0);
        assert_eq!(
            prune(&store, PORTAL, 1, NOW).unwrap(),
            1,
            "a shorter retention"
        );
    }
}
