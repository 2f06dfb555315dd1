//! Indicators for a whole request at once: its companies' and contacts' queries, answered in
//! halves on two threads of the blocking pool once the request is large enough.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{indicate, Filter, Indication, Query};
use crate::object::ObjectType;
use crate::store::{self, Store};

/// Requests with at least this many items are answered by two threads.
const PARALLEL_FROM: usize = 16;

/// One type's share of a request: its kind and its queries, in order.
type Job = (ObjectType, Vec<Query>);

/// Answers each query of `batches` (in the same shape and order), under one `filter` and
/// `now_ms`. The items are independent: from [`PARALLEL_FROM`] items on, every type's list is
/// halved and the halves alternate between this thread and another thread of the runtime's
/// blocking pool (kept alive between requests; spawning an OS thread per request would cost
/// its stack's mmap/munmap and TLB shootdowns every time), so a large request takes about
/// half as long wherever there are two cores. Outside a runtime everything runs here.
pub fn indicate_batch(
    store: &Store,
    portal: i64,
    batches: Vec<Job>,
    filter: Filter,
    now_ms: i64,
) -> store::Result<Vec<Vec<Indication>>> {
    let total: usize = batches.iter().map(|(_, queries)| queries.len()).sum();
    let types = batches.len();
    let jobs: Vec<(usize, Job)> = batches
        .into_iter()
        .enumerate()
        .flat_map(|(at, (kind, queries))| {
            let size = if total >= PARALLEL_FROM {
                queries.len().div_ceil(2)
            } else {
                queries.len()
            };
            let chunks: Vec<Vec<Query>> =
                queries.chunks(size.max(1)).map(<[Query]>::to_vec).collect();
            chunks.into_iter().map(move |chunk| (at, (kind, chunk)))
        })
        .collect();
    let filter = Arc::new(filter);
    let run = move |store: &Store, filter: &Filter, (kind, chunk): &Job| {
        indicate(store, portal, *kind, chunk, filter, now_ms)
    };
    // Alternate jobs (first half of the companies, first half of the contacts) here, the
    // others on the helper; answers are put back in job order.
    let (mine, mut others): (Vec<_>, Vec<_>) = jobs
        .into_iter()
        .enumerate()
        .partition(|(index, _)| index % 2 == 0);
    let runtime = tokio::runtime::Handle::try_current().ok();
    let inline = match runtime {
        Some(_) => Vec::new(),
        None => std::mem::take(&mut others),
    };
    // Whoever claims `others` first runs them: the helper task, or this thread once its own
    // half is done and the helper has not started (all blocking threads busy): this thread
    // never waits for a task that has not started, so requests cannot deadlock the pool.
    let helper = runtime.filter(|_| !others.is_empty()).map(|runtime| {
        let others = Arc::new(others);
        let claimed = Arc::new(AtomicBool::new(false));
        let (store, filter) = (store.clone(), filter.clone());
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let (theirs, claim) = (others.clone(), claimed.clone());
        runtime.spawn_blocking(move || {
            if claim.swap(true, Ordering::AcqRel) {
                return;
            }
            let outcomes: Vec<_> = theirs
                .iter()
                .map(|(index, (at, job))| (*index, *at, run(&store, &filter, job)))
                .collect();
            // The receiver waits for this unless the request failed meanwhile.
            let _ = sender.send(outcomes);
        });
        (others, claimed, receiver)
    });
    let mut outcomes: Vec<_> = mine
        .iter()
        .chain(&inline)
        .map(|(index, (at, job))| (*index, *at, run(store, &filter, job)))
        .collect();
    if let Some((others, claimed, receiver)) = helper {
        if claimed.swap(true, Ordering::AcqRel) {
            // Invariant: `indicate` does not panic (if it did, the sender is dropped unsent
            // and this request fails as the helper did).
            let theirs = receiver
                .recv()
                .expect("the other half of an indicator request panicked");
            outcomes.extend(theirs);
        } else {
            outcomes.extend(
                others
                    .iter()
                    .map(|(index, (at, job))| (*index, *at, run(store, &filter, job))),
            );
        }
    }
    outcomes.sort_by_key(|(index, _, _)| *index);
    let mut answers: Vec<Vec<Indication>> = (0..types).map(|_| Vec::new()).collect();
    for (_, at, outcome) in outcomes {
        answers[at].extend(outcome?);
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` contacts, every third without a key (answered with an error in its place).
    fn contacts(count: usize) -> Job {
        let query = |at: usize| Query {
            email: (at % 3 != 0).then(|| format!("c{at}@x.io")),
            ..Query::default()
        };
        (ObjectType::Contacts, (0..count).map(query).collect())
    }

    fn check(store: &Store, count: usize) {
        let companies = (ObjectType::Companies, vec![Query::default(); count / 2]);
        let batches = vec![companies, contacts(count)];
        let answers = indicate_batch(store, 1, batches, Filter::default(), 0).unwrap();
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0].len(), count / 2);
        assert!(answers[0].iter().all(|answer| answer.error.is_some()));
        let keyless: Vec<bool> = answers[1].iter().map(|a| a.error.is_some()).collect();
        let expected: Vec<bool> = (0..count).map(|at| at % 3 == 0).collect();
        assert_eq!(keyless, expected, "{count} items");
    }

    /// Small and large requests, with and without a runtime, answer every item in its place.
    #[test]
    fn answers_every_item_in_its_place_on_one_thread_or_two() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        check(&store, 4);
        check(&store, 40);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        runtime.block_on(async move {
            tokio::task::spawn_blocking(move || {
                check(&store, 0);
                check(&store, 41);
            })
            .await
            .unwrap()
        });
    }
}
