//! Export jobs on both backends: one sequence of operations, every read compared; a deposed
//! leader's intent refused.

use super::tests::{depose, leading_database};
use super::Exports;
use crate::store::Store;

const PORTAL: i64 = 62515;

fn rows(rows: &[(u32, &str)]) -> Vec<(u32, Vec<u8>)> {
    rows.iter()
        .map(|(index, value)| (*index, value.as_bytes().to_vec()))
        .collect()
}

async fn observe_postgres(exports: &Exports) -> String {
    let mut seen = format!("seals {}\n", exports.seals().await.unwrap());
    for portal in [PORTAL, PORTAL + 1] {
        seen += &format!("headers {:?}\n", exports.headers(portal, 10).await.unwrap());
        for job in [1, 2] {
            seen += &format!(
                "job {job}: header {:?} rows {:?} sealed {:?}\n",
                exports.header(portal, job).await.unwrap(),
                exports.rows(portal, job).await.unwrap(),
                exports.sealed(portal, job).await.unwrap(),
            );
        }
    }
    seen
}

fn observe_sled(store: &Store) -> String {
    let exports = store.exports();
    let mut seen = format!("seals {}\n", exports.seals().unwrap());
    for portal in [PORTAL, PORTAL + 1] {
        seen += &format!("headers {:?}\n", exports.headers(portal, 10).unwrap());
        for job in [1, 2] {
            seen += &format!(
                "job {job}: header {:?} rows {:?} sealed {:?}\n",
                exports.header(portal, job).unwrap(),
                exports.rows(portal, job).unwrap(),
                exports.sealed(portal, job).unwrap(),
            );
        }
    }
    seen
}

#[tokio::test]
async fn sled_and_postgres_keep_export_jobs_alike() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let sled = store.exports();
    let (database, fence) = leading_database().await;
    let postgres = Exports::new(database);
    let compare = async |step: &str| {
        let (left, right) = (observe_sled(&store), observe_postgres(&postgres).await);
        assert_eq!(left, right, "the backends differ after {step}");
        right
    };

    let ids = (sled.next_id().unwrap(), sled.next_id().unwrap());
    assert_eq!(
        ids,
        (
            postgres.next_id().await.unwrap(),
            postgres.next_id().await.unwrap()
        )
    );
    let (first, second) = ids;
    let created = rows(&[(0, "a"), (1, "b"), (2, "c")]);
    sled.write(PORTAL, first, Some(b"h1"), &created).unwrap();
    postgres
        .write(PORTAL, first, Some(b"h1"), &created)
        .await
        .unwrap();
    sled.write(PORTAL, second, Some(b"h2"), &[]).unwrap();
    postgres
        .write(PORTAL, second, Some(b"h2"), &[])
        .await
        .unwrap();
    compare("creating the jobs").await;

    let intents = rows(&[(0, "a: sending"), (1, "b: sending")]);
    assert_eq!(sled.update_rows(PORTAL, first, &intents).unwrap(), 2);
    assert_eq!(
        postgres
            .update_rows(fence, PORTAL, first, &intents)
            .await
            .unwrap(),
        2
    );
    let redacted = rows(&[(1, "redacted")]);
    sled.seal_rows(PORTAL, first, &redacted).unwrap();
    postgres
        .seal_rows(fence, PORTAL, first, &redacted)
        .await
        .unwrap();
    let outcomes = rows(&[(1, "b: created"), (2, "c: created")]);
    assert_eq!(sled.update_rows(PORTAL, first, &outcomes).unwrap(), 1);
    assert_eq!(
        postgres
            .update_rows(fence, PORTAL, first, &outcomes)
            .await
            .unwrap(),
        1,
        "the sealed row is not written again"
    );
    let seen = compare("intents, a seal and outcomes").await;
    assert!(
        seen.contains("(1, [114, 101, 100, 97, 99, 116, 101, 100])"),
        "{seen}"
    );
    assert!(seen.contains("sealed [1]"));

    sled.remove(PORTAL, second).unwrap();
    postgres.remove(fence, PORTAL, second).await.unwrap();
    let seen = compare("removing a job").await;
    assert!(seen.contains("job 2: header None rows [] sealed []"));
}

#[tokio::test]
async fn a_deposed_leader_writes_no_intent() {
    let (database, fence) = leading_database().await;
    let exports = Exports::new(database.clone());
    let id = exports.next_id().await.unwrap();
    exports
        .write(PORTAL, id, Some(b"h"), &rows(&[(0, "a")]))
        .await
        .unwrap();
    depose(&database).await;
    let refused = exports
        .update_rows(fence, PORTAL, id, &rows(&[(0, "a: sending")]))
        .await;
    assert!(
        matches!(refused, Err(super::Error::Fenced { .. })),
        "{refused:?}"
    );
    assert_eq!(exports.rows(PORTAL, id).await.unwrap(), rows(&[(0, "a")]));
}

/// A new job is announced once, on commit, with its portal; a header written again is not;
/// a listener that (re)starts says it may have missed some.
#[tokio::test]
async fn a_new_job_is_announced_to_listeners() {
    use super::Heard;

    let (database, _) = leading_database().await;
    let mut heard = database.new_jobs();
    assert_eq!(next(&mut heard).await, Heard::MaybeMissed);

    // Another replica's handle stores the jobs.
    let exports = Exports::new(database.clone());
    let first = exports.next_id().await.unwrap();
    exports
        .write(PORTAL, first, None, &rows(&[(0, "a")]))
        .await
        .unwrap();
    exports
        .write(PORTAL, first, Some(b"queued"), &[])
        .await
        .unwrap();
    assert_eq!(next(&mut heard).await, Heard::NewJob(PORTAL));
    exports
        .write(PORTAL, first, Some(b"running"), &[])
        .await
        .unwrap();
    let second = exports.next_id().await.unwrap();
    exports
        .write(PORTAL + 1, second, Some(b"queued"), &[])
        .await
        .unwrap();
    assert_eq!(
        next(&mut heard).await,
        Heard::NewJob(PORTAL + 1),
        "the rewritten header was not announced"
    );

    // The listening session ends (a server restart, a network cut): it listens again.
    let ended: i64 = database
        .client()
        .await
        .unwrap()
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE query = $1 AND datname = current_database()",
            &[&format!("LISTEN {}", super::listen::NEW_JOBS)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(ended, 1);
    assert_eq!(next(&mut heard).await, Heard::MaybeMissed);
    let third = exports.next_id().await.unwrap();
    exports
        .write(PORTAL, third, Some(b"queued"), &[])
        .await
        .unwrap();
    assert_eq!(next(&mut heard).await, Heard::NewJob(PORTAL));
}

/// What a listener hears next (within 10 s).
async fn next(heard: &mut tokio::sync::mpsc::Receiver<super::Heard>) -> super::Heard {
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), heard.recv());
    next.await
        .expect("nothing heard")
        .expect("the listener ended")
}
