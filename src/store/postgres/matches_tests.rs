//! First matches on both backends, every read compared; and the same first match stored by
//! two replicas at once, answered alike.

use super::tests::leading_database;
use super::Matches;
use crate::object::ObjectType::{Companies, Contacts};
use crate::store::Store;

const PORTAL: i64 = 62515;

fn observe_sled(store: &Store) -> String {
    let ownership = store.ownership();
    let mut seen = String::new();
    for kind in [Contacts, Companies] {
        seen += &format!(
            "{kind}: count {} all {:?} early {:?}\n",
            ownership.matched_count(PORTAL, kind).unwrap(),
            ownership.matched_between(PORTAL, kind, 0, 1_000).unwrap(),
            ownership.matched_between(PORTAL, kind, 100, 200).unwrap(),
        );
    }
    seen
}

async fn observe_postgres(matches: &Matches) -> String {
    let mut seen = String::new();
    for kind in [Contacts, Companies] {
        seen += &format!(
            "{kind}: count {} all {:?} early {:?}\n",
            matches.matched_count(PORTAL, kind).await.unwrap(),
            matches
                .matched_between(PORTAL, kind, 0, 1_000)
                .await
                .unwrap(),
            matches
                .matched_between(PORTAL, kind, 100, 200)
                .await
                .unwrap(),
        );
    }
    seen
}

#[tokio::test]
async fn sled_and_postgres_keep_first_matches_alike() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (database, _) = leading_database().await;
    let matches = Matches::new(database);

    let found = [
        (Contacts, 1, 100),
        (Contacts, 2, 200),
        (Companies, 5, 150),
        (Contacts, 3, 150),
    ];
    for (kind, id, at) in found {
        assert_eq!(
            store.ownership().matched_at(PORTAL, kind, id, at).unwrap(),
            at
        );
    }
    store.write_matches().unwrap();
    assert_eq!(
        matches.store(PORTAL, &found).await.unwrap(),
        [100, 200, 150, 150]
    );
    // A later lookup of a matched record keeps the first time.
    assert_eq!(
        store
            .ownership()
            .matched_at(PORTAL, Contacts, 1, 999)
            .unwrap(),
        100
    );
    assert_eq!(
        matches.store(PORTAL, &[(Contacts, 1, 999)]).await.unwrap(),
        [100]
    );
    assert_eq!(
        matches.matched_at(PORTAL, Contacts, 1).await.unwrap(),
        Some(100)
    );
    let (left, right) = (observe_sled(&store), observe_postgres(&matches).await);
    assert_eq!(left, right);
    assert!(
        right.contains(
            "contacts: count 3 all [(1, 100), (3, 150), (2, 200)] early [(1, 100), (3, 150)]"
        ),
        "{right}"
    );

    assert!(store.ownership().forget_match(PORTAL, Contacts, 2).unwrap());
    assert!(matches.forget(PORTAL, Contacts, 2).await.unwrap());
    assert!(!matches.forget(PORTAL, Contacts, 2).await.unwrap());
    assert_eq!(
        store.ownership().clear_matches(PORTAL, Companies).unwrap(),
        1
    );
    assert_eq!(matches.clear(PORTAL, Companies).await.unwrap(), 1);
    let (left, right) = (observe_sled(&store), observe_postgres(&matches).await);
    assert_eq!(left, right);
    assert!(right.contains("contacts: count 2 "), "{right}");
}

#[tokio::test]
async fn two_replicas_storing_one_first_match_answer_one_time() {
    let (database, _) = leading_database().await;
    let url = database
        .client()
        .await
        .unwrap()
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get::<_, String>(0);
    let other =
        super::Database::new(&crate::kit::postgres::Cluster::shared().url(&url), 2, None).unwrap();
    let (first, second) = (Matches::new(database), Matches::new(other));
    for id in 0..50 {
        let (early, late) = ([(Contacts, id, 1_000 + id)], [(Contacts, id, 5_000 + id)]);
        let (a, b) = tokio::join!(first.store(PORTAL, &early), second.store(PORTAL, &late));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a, b, "replicas answered two first-match times for {id}");
    }
    assert_eq!(first.matched_count(PORTAL, Contacts).await.unwrap(), 50);
}
